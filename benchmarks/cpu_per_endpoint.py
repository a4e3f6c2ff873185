"""Kept for existing links: the CPU and throughput sections of ``run.py``, nothing else.

    python3 benchmarks/cpu_per_endpoint.py [run.py options]

is ``python3 benchmarks/run.py --sections cpu,throughput [options]``; see ``README.md`` here.
"""

from __future__ import annotations

import sys

from run import main

if __name__ == "__main__":
    sys.exit(main(["--sections", "cpu,throughput", *sys.argv[1:]]))
