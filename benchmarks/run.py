"""Every snisweep benchmark in one command, each against a baseline measured in the same run.

    python3 benchmarks/run.py [--quick] [--server auto|nginx|lab] [--sections cpu,latency,...]

Starts local TLS servers (nginx when installed, else the embedded lab) and prints, section by
section, the figures, their baseline, the ratio, the target and PASS or MISS:

- cpu: snisweep's CPU per endpoint, with the HTTP check and with ``--no-http``, against the C
  floor, ``openssl s_time -new`` x 2 (and the HTTP floor, ``s_time -new -www /`` x 2);
- throughput: endpoints/s on a mixed fleet, with the HTTP check and with ``--no-http``, against
  ``openssl s_client`` pairs in a shell loop;
- latency: N endpoints behind a delaying relay at concurrency C against ceil(N/C) latencies;
- biglist: time to the first probe and peak RSS for a 100,000-endpoint list;
- dns: N names behind a delaying local name server against the same scan pinned + ceil(N/C)
  delays (needs root, unshare and dnslib; skipped otherwise);
- names: many names on one address behind the relay, the defaults against --per-host 200;
- proxy: the mixed fleet through tinyproxy against direct, and the trust check against
  ``--no-trust``.

Then a summary table, and the same as Markdown with the machine, ready for the README.
Figures are printed, never asserted: benchmarks are not tests. Everything started (servers,
relay, scans) is stopped and the temporary directory removed, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import measure
import servers
import sweep
from biglist import measure_biglist
from cpu import measure_cpu
from dns import measure_dns, measure_names
from latency import measure_latency
from proxy import measure_proxy
from summary import Figure, machine, markdown, text_table
from throughput import measure_throughput

import snisweep

SECTIONS = ("cpu", "throughput", "latency", "biglist", "dns", "names", "proxy")
TITLES = {
    "cpu": "CPU per endpoint",
    "throughput": "Throughput",
    "latency": "Latency hiding",
    "biglist": "Big lists",
    "dns": "DNS",
    "names": "Many names on one address",
    "proxy": "Proxy and trust check",
}

# Each knob's value for a full run and for --quick; the command line overrides either.
_SIZES: dict[str, tuple[float, float]] = {
    "cpu_endpoints": (3000, 1000),
    "floor_seconds": (5, 2),
    "cpu_concurrency": (50, 50),
    "fleet_endpoints": (3000, 900),
    "manual": (30, 15),
    "latency_endpoints": (1000, 500),
    "latency_concurrency": (100, 50),
    "delay_ms": (500, 250),
    "biglist_endpoints": (100_000, 20_000),
    "dns_endpoints": (2000, 600),
    "dns_concurrency": (200, 200),
    "dns_delay_ms": (200, 200),
    "names_endpoints": (520, 260),
    "names_delay_ms": (50, 50),
    "proxy_endpoints": (3000, 900),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes (about a minute); see each knob"
    )
    parser.add_argument(
        "--server",
        choices=("auto", "nginx", "lab"),
        default="auto",
        help="auto (default): nginx when installed, else the embedded lab",
    )
    parser.add_argument(
        "--sections",
        type=_sections,
        default=SECTIONS,
        metavar="NAME,...",
        help=f"which sections to run (default: all), from {','.join(SECTIONS)}",
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write the Markdown here"
    )
    knobs = parser.add_argument_group("sizes (full run / --quick)")

    def knob(name: str, help_text: str, kind: type[int] | type[float] = int) -> None:
        full, quick = _SIZES[name]
        knobs.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            metavar="N",
            help=f"{help_text} ({full:g} / {quick:g})",
        )

    knob("cpu_endpoints", "cpu: endpoints scanned")
    knob("floor_seconds", "cpu: length of each openssl s_time run, s", float)
    knob("cpu_concurrency", "cpu: --concurrency of the scan (--per-host is twice that)")
    knob("fleet_endpoints", "throughput: endpoints in the mixed fleet")
    knob("manual", "throughput: endpoints timed with the manual s_client pairs")
    knob("latency_endpoints", "latency: N, endpoints behind the relay")
    knob("latency_concurrency", "latency: C, the scan's --concurrency")
    knob("delay_ms", "latency: the relay's delay per chunk in each direction, ms", float)
    knob("biglist_endpoints", "biglist: endpoints in the YAML list")
    knob("dns_endpoints", "dns: N, distinct names behind the name server")
    knob("dns_concurrency", "dns: C, the scan's --concurrency (--per-host is twice that)")
    knob("dns_delay_ms", "dns: the name server's delay per query, ms", float)
    knob("names_endpoints", "names: distinct names on one address")
    knob("names_delay_ms", "names: the relay's delay per chunk in each direction, ms", float)
    knob("proxy_endpoints", "proxy: endpoints in the mixed fleet")
    return parser


def _sections(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {','.join(SECTIONS)}")
    return names


def _size(args: argparse.Namespace, name: str) -> float:
    given: float | None = getattr(args, name)
    if given is not None:
        return given
    full, quick = _SIZES[name]
    return quick if args.quick else full


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Ctrl-C, and SIGTERM (a CI timeout, `kill`), clean up: also when started in the background
    # of a shell, which would have the process ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        figures, facts = _run(args)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, temporary files removed", file=sys.stderr)
        return 130
    print("\n== Summary ==")
    print(text_table(figures))
    table = markdown(figures, facts)
    print(f"\n== Markdown (for the README) ==\n{table}")
    if args.markdown is not None:
        args.markdown.write_text(table + "\n")
    one, five, _ = os.getloadavg()
    print(
        f"\n(total {time.monotonic() - started:.0f} s;"
        f" load average at the end {one:.2f} {five:.2f} (1, 5 min))"
    )
    return 1 if any(figure.verdict == "FAILED" for figure in figures) else 0


def _run(args: argparse.Namespace) -> tuple[list[Figure], list[tuple[str, str]]]:
    def size(name: str) -> int:
        return int(_size(args, name))

    caps = sweep.capabilities()
    figures: list[Figure] = []
    with (
        tempfile.TemporaryDirectory(prefix="snisweep-bench-") as tmp,
        servers.start(Path(tmp), args.server) as fleet,
    ):
        workdir = Path(tmp)
        facts = machine(fleet.description)
        for name, value in facts:
            print(f"{name + ':':9} {value}")
        workers = f"default {caps.default_workers}" if caps.workers else "absent"
        http = "on by default, --no-http to stop it" if caps.http else "absent"
        print(
            f"snisweep: {snisweep.__version__} from {Path(snisweep.__file__).parent}, run as"
            f" {' '.join(sweep.COMMAND)}; --workers: {workers}; HTTP check: {http}"
        )
        print(f"the {os.cpu_count()} cores are shared by the client, the servers and the relay")
        sections: dict[str, Callable[[], list[Figure]]] = {
            "cpu": lambda: measure_cpu(
                fleet,
                workdir,
                caps,
                endpoints=size("cpu_endpoints"),
                seconds=_size(args, "floor_seconds"),
                concurrency=size("cpu_concurrency"),
            ),
            "throughput": lambda: measure_throughput(
                fleet,
                workdir,
                caps,
                endpoints=size("fleet_endpoints"),
                manual=size("manual"),
            ),
            "latency": lambda: measure_latency(
                fleet,
                workdir,
                caps,
                endpoints=size("latency_endpoints"),
                concurrency=size("latency_concurrency"),
                delay_ms=_size(args, "delay_ms"),
            ),
            "biglist": lambda: measure_biglist(workdir, caps, endpoints=size("biglist_endpoints")),
            "dns": lambda: measure_dns(
                fleet,
                workdir,
                caps,
                endpoints=size("dns_endpoints"),
                concurrency=size("dns_concurrency"),
                delay_ms=_size(args, "dns_delay_ms"),
            ),
            "names": lambda: measure_names(
                fleet,
                workdir,
                caps,
                endpoints=size("names_endpoints"),
                delay_ms=_size(args, "names_delay_ms"),
            ),
            "proxy": lambda: measure_proxy(fleet, workdir, caps, endpoints=size("proxy_endpoints")),
        }
        for name in args.sections:
            print(f"\n== {TITLES[name]} ==", flush=True)
            section_started = time.monotonic()
            try:
                figures += sections[name]()
            except (measure.CommandFailed, RuntimeError, OSError) as exc:
                # One broken section (a snisweep that fails, a server that would not start)
                # must not cost the others' figures.
                print(f"  FAILED: {exc}")
                first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                figures.append(
                    Figure(TITLES[name], "the section failed", first_line[:60], verdict="FAILED")
                )
            print(f"  ({time.monotonic() - section_started:.0f} s)", flush=True)
    return figures, facts


if __name__ == "__main__":
    sys.exit(main())
