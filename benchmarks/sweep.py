"""How the benchmarks run snisweep: the command, the options this version has, what a scan
reports. Does process I/O.

snisweep runs as ``python -P -m snisweep`` with the interpreter that runs the benchmark: the
snisweep that interpreter imports (with ``pip install -e .``, this checkout) whatever the current
directory (``-P``: a ``snisweep/`` directory there is not put first, as with the installed
command), and the same one the benchmark itself imports. ``--workers`` is detected from
``snisweep scan --help`` (older versions scan in one process and have no such option).
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import measure

COMMAND = (sys.executable, "-P", "-m", "snisweep")
VERDICTS = ("required", "mismatched", "optional", "error")


@dataclass(frozen=True, slots=True)
class Capabilities:
    workers: bool  # whether `snisweep scan` has --workers
    default_workers: str  # as its help text says, or "1" without the option

    def workers_option(self, count: int | None) -> tuple[str, ...]:
        """``--workers COUNT``, or nothing for the default (or when there is no such option)."""
        if count is None or not self.workers:
            return ()
        return ("--workers", str(count))

    def describe(self, count: int | None) -> str:
        if not self.workers:
            return "one process (this snisweep has no --workers)"
        if count is None:
            return "default workers"
        return f"--workers {count}"


def capabilities() -> Capabilities:
    helptext = subprocess.run(
        [*COMMAND, "scan", "--help"], capture_output=True, text=True, check=True
    ).stdout
    if "--workers" not in helptext:
        return Capabilities(workers=False, default_workers="1")
    # The option's help, up to the next option, usually says "(default N)" or "(default: ...)".
    section = re.split(r"\n\s+-", helptext.split("\n  --workers", 1)[-1], maxsplit=1)[0]
    found = re.search(r"\(default:? ([^)]*)\)", " ".join(section.split()))
    return Capabilities(workers=True, default_workers=found.group(1) if found else "?")


@dataclass(frozen=True, slots=True)
class Scan:
    """One finished ``snisweep scan`` process and what its summary line says."""

    run: measure.Run
    endpoints: int | None  # from the summary line on stderr
    elapsed: float | None  # the scan's own time, from the summary line (0.1 s resolution)
    verdicts: dict[str, int]


_SUMMARY = re.compile(r"snisweep: (\d+) endpoint\(s\) in ([\d.]+) s")


def scan(
    endpoint_list: Path,
    report: Path,
    *options: str,
    sample_tree: bool = False,
) -> Scan:
    """``snisweep scan LIST -o REPORT OPTIONS`` (no progress bar), measured."""
    run = measure.run(
        [*COMMAND, "scan", str(endpoint_list), "-o", str(report), "--no-progress", *options],
        sample_tree=sample_tree,
    )
    found = _SUMMARY.search(run.stderr)
    verdicts = {name: int(count) for name, count in re.findall(r"\b([a-z]+) (\d+)", run.stderr)}
    return Scan(
        run=run,
        endpoints=int(found.group(1)) if found else None,
        elapsed=float(found.group(2)) if found else None,
        verdicts={name: verdicts.get(name, 0) for name in VERDICTS},
    )


def report_rows(report: Path) -> list[dict[str, str]]:
    with report.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def count_rows(report: Path) -> tuple[int, Counter[str]]:
    """Rows in a CSV report (header excluded) and their verdicts, read as a stream."""
    verdicts: Counter[str] = Counter()
    with report.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            verdicts[row["verdict"]] += 1
    return verdicts.total(), verdicts
