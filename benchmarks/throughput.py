"""Throughput: endpoints per second on a mixed fleet, against the manual method. Does I/O.

The fleet interleaves the three servers (required, mismatched, optional), so the scan meets
alerts and default certificates as well as successful handshakes. snisweep scans it with its
default workers and with ``--workers 1``, each with the HTTP check (its default: a ``GET /``
after every successful handshake, the status line read back) and with ``--no-http`` (handshakes
only); a snisweep without the HTTP check is scanned once per workers setting. The manual method
is what a shell loop does, an ``openssl s_client`` pair per endpoint (``-servername NAME``, then
``-noservername``; handshakes only, no request), one after the other. The manual method runs at
about ten endpoints per second, so it is timed on a sample of the same fleet and its rate
extrapolated to the whole fleet.

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
        rates: dict[bool, float] = {}
        for variant in caps.variants():
            how = f"{caps.describe(workers)}, {variant.name}"
            report = workdir / "mixed.csv"
            result = sweep.scan(
                endpoint_list, report, *caps.workers_option(workers), *tuning, *variant.options
            )
            run = result.run
            rate = endpoints / run.wall
            rates[variant.http] = rate
            own = f"{endpoints / result.elapsed:.0f}/s" if result.elapsed else "?"
            print(
                f"  snisweep, {how}: {run.wall:.2f} s wall = {rate:.0f} endpoints/s (the scan's"
                f" own time {result.elapsed} s, {own}); {run.cpu:.1f} s CPU;"
                f" {rate / manual_rate:.0f} x the manual method"
            )
            _check_report(report, expected, variant)
            figures.append(
                Figure(
                    SECTION,
                    f"mixed fleet of {endpoints}, {how}, whole process",
                    f"{rate:.0f} endpoints/s",
                    f"manual s_client pairs {manual_rate:.1f}/s ({manual} timed)",
                    f"{rate / manual_rate:.0f} x",
                )
            )
        if True in rates and False in rates:
            print(
                f"  the HTTP check, {caps.describe(workers)}: {rates[True]:.0f} against"
                f" {rates[False]:.0f} endpoints/s without it = {rates[True] / rates[False]:.2f} x"
            )
            figures.append(
                Figure(
                    SECTION,
                    f"with the HTTP check against --no-http, {caps.describe(workers)}",
                    f"{rates[True]:.0f} endpoints/s",
                    f"--no-http {rates[False]:.0f}/s",
                    f"{rates[True] / rates[False]:.2f} x",
                )
            )
    return figures


def _check_report(report: Path, expected: Counter[str], variant: sweep.Variant) -> None:
    """The fleet's verdicts; with the HTTP check, the statuses that came back (every successful
    handshake gets one), and none with ``--no-http``."""
    _, verdicts = sweep.count_rows(report)
    print(f"    rows: {', '.join(f'{name} {verdicts[name]}' for name in sweep.VERDICTS)}")
    if verdicts != expected:
        raise RuntimeError(f"the report does not have the fleet's verdicts: {dict(expected)}")
    statuses = sweep.count_statuses(report)
    if statuses is None:
        return  # a snisweep without the HTTP check
    shown = ", ".join(f"{pair} {count}" for pair, count in sorted(statuses.items()))
    print(f"    HTTP statuses with/without SNI: {shown}")
    sent = any(pair != "-/-" for pair in statuses)
    if sent != variant.http:
        raise RuntimeError(f"{variant.name}: unexpected HTTP statuses: {shown}")
