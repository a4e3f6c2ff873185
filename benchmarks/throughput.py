"""Throughput: endpoints per second on a mixed fleet, against the manual method. Does I/O.

The fleet interleaves the three servers (required, mismatched, optional), so the scan meets
alerts and default certificates as well as successful handshakes. snisweep scans it with its
default workers and with ``--workers 1``; the manual method is what a shell loop does, an
``openssl s_client`` pair per endpoint (``-servername NAME``, then ``-noservername``), one after
the other. The manual method runs at about ten endpoints per second, so it is timed on a sample
of the same fleet and its rate extrapolated to the whole fleet.

Both sides make two handshakes per endpoint and never retry (``--retries 0``). All endpoints
share 127.0.0.1, so ``--per-host`` is raised to twice the concurrency: a real fleet spreads over
many addresses, and the per-address limit is not what this section measures.
"""

from __future__ import annotations

import shlex
import shutil
from collections import Counter
from pathlib import Path

import measure
import sweep
from servers import LOOPBACK, Servers, mixed_entries, write_list
from summary import Figure

from snisweep.run.scheduler import Limits

SECTION = "Throughput"


def manual_script(servers: Servers, count: int, path: Path) -> Path:
    """The manual method as a shell script: an s_client pair for each of ``count`` endpoints."""
    lines = ["# The manual check, one endpoint after the other, as a shell loop would run it."]
    for index in range(count):
        service = servers.mixed[index % 3]
        connect = f"openssl s_client -connect {LOOPBACK}:{service.port}"
        name = shlex.quote(service.server_name(index))
        lines.append(f"{connect} -servername {name} </dev/null >/dev/null 2>&1")
        lines.append(f"{connect} -noservername </dev/null >/dev/null 2>&1")
    path.write_text("\n".join(lines) + "\n")
    return path


def measure_throughput(
    servers: Servers,
    workdir: Path,
    caps: sweep.Capabilities,
    *,
    endpoints: int,
    manual: int,
) -> list[Figure]:
    endpoint_list = write_list(
        workdir / "mixed.yaml", mixed_entries(servers, endpoints), timeout=5, retries=0
    )
    expected = Counter(servers.mixed[index % 3].kind for index in range(endpoints))
    concurrency = Limits().concurrency
    tuning = ("--per-host", str(2 * concurrency), "--retries", "0")
    print(
        f"  mixed fleet: {endpoints} endpoints, a third each required / mismatched / optional;"
        f" snisweep {' '.join(tuning)} (default concurrency {concurrency})"
    )
    script = manual_script(servers, manual, workdir / "manual.sh")
    shell = shutil.which("bash") or "sh"
    by_hand = measure.run([shell, str(script)])
    manual_rate = manual / by_hand.wall
    print(
        f"  manual s_client pairs: {manual} endpoints in {by_hand.wall:.2f} s ="
        f" {manual_rate:.1f} endpoints/s (timed on {manual}; the whole fleet would take"
        f" ~{endpoints / manual_rate:.0f} s, extrapolated)"
    )
    figures = []
    for workers in (None, 1) if caps.workers else (1,):
        report = workdir / "mixed.csv"
        result = sweep.scan(endpoint_list, report, *caps.workers_option(workers), *tuning)
        run = result.run
        rate = endpoints / run.wall
        own = f"{endpoints / result.elapsed:.0f}/s" if result.elapsed else "?"
        print(
            f"  snisweep, {caps.describe(workers)}: {run.wall:.2f} s wall = {rate:.0f} endpoints/s"
            f" (the scan's own time {result.elapsed} s, {own}); {run.cpu:.1f} s CPU;"
            f" {rate / manual_rate:.0f} x the manual method"
        )
        _, verdicts = sweep.count_rows(report)
        print(f"    rows: {', '.join(f'{name} {verdicts[name]}' for name in sweep.VERDICTS)}")
        if verdicts != expected:
            raise RuntimeError(f"the report does not have the fleet's verdicts: {dict(expected)}")
        figures.append(
            Figure(
                SECTION,
                f"mixed fleet of {endpoints}, {caps.describe(workers)}, whole process",
                f"{rate:.0f} endpoints/s",
                f"manual s_client pairs {manual_rate:.1f}/s ({manual} timed)",
                f"{rate / manual_rate:.0f} x",
            )
        )
    return figures
