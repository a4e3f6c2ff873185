"""How the benchmarks run snisweep: the command, the options this version has, what a scan
reports. Does process I/O.

snisweep runs as ``python -P -m snisweep`` with the interpreter that runs the benchmark: the
snisweep that interpreter imports (with ``pip install -e .``, this checkout) whatever the current
directory (``-P``: a ``snisweep/`` directory there is not put first, as with the installed
command), and the same one the benchmark itself imports. ``--workers`` and ``--no-http`` are
detected from ``snisweep scan --help``: older versions scan in one process and have no
``--workers``, and those before the HTTP check have no ``--no-http`` (they only make handshakes).
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
class Variant:
    """One way of running the scan as to the HTTP check."""

    name: str  # as the output prints it
    options: tuple[str, ...]  # added to the command line
    http: bool  # whether the probes send the HTTP check's request


@dataclass(frozen=True, slots=True)
class Capabilities:
    workers: bool  # whether `snisweep scan` has --workers
    default_workers: str  # as its help text says, or "1" without the option
    http: bool = False  # whether `snisweep scan` has the HTTP check (and --no-http to stop it)

    def variants(self) -> tuple[Variant, ...]:
        """The HTTP check (the default) and plain TLS (``--no-http``); only plain TLS for a
        snisweep without the HTTP check."""
        if not self.http:
            return (Variant("plain TLS (this snisweep has no HTTP check)", (), http=False),)
        return (
            Variant("HTTP check (default)", (), http=True),
            Variant("--no-http", ("--no-http",), http=False),
        )

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
    http = "--no-http" in helptext
    if "--workers" not in helptext:
        return Capabilities(workers=False, default_workers="1", http=http)
    # The option's help, up to the next option, usually says "(default N)" or "(default: ...)".
    section = re.split(r"\n\s+-", helptext.split("\n  --workers", 1)[-1], maxsplit=1)[0]
    found = re.search(r"\(default:? ([^)]*)\)", " ".join(section.split()))
    return Capabilities(workers=True, default_workers=found.group(1) if found else "?", http=http)


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


def count_statuses(report: Path) -> Counter[str] | None:
    """The HTTP statuses with and without SNI in a CSV report, as ``"200/-"`` strings (``-``:
    none), counted as a stream; None for a report without the columns (no HTTP check)."""
    statuses: Counter[str] = Counter()
    with report.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "sni_http_status" not in reader.fieldnames:
            return None
        for row in reader:
            statuses[f"{row['sni_http_status'] or '-'}/{row['nosni_http_status'] or '-'}"] += 1
    return statuses
