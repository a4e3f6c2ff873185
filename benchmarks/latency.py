"""Latency hiding: N slow endpoints at concurrency C, against ceil(N/C) x one endpoint's latency.
Does process I/O.

A delaying relay (``relay.py``, in a process of its own) sits in front of the optional server
and delays every chunk by a fixed one-way delay in each direction, so one endpoint (two TLS 1.3
handshakes, made at the same time) takes about two delays. One endpoint's latency is the median
``elapsed_ms`` of a few endpoints scanned one at a time (``--concurrency 1``). Then N endpoints
are scanned at concurrency C: a scheduler that always keeps C endpoints in flight finishes in
ceil(N/C) latencies, the ideal. The scan's own time comes from its summary line on stderr;
the whole process's wall time (start-up and reading the list included) is printed too.

This measures the scheduler, not the CPU, only while C endpoints' CPU fits well within one
latency: the client and the servers share the machine's cores, and at a few ms of CPU per
endpoint, C = 100 with a 50 ms delay would need more CPU per latency than two cores have. The
default delay is chosen so that it fits; the section prints how busy snisweep's process was.
snisweep runs with ``--workers 1``, so that C is the concurrency of one scheduler, then with
the default workers, where C is shared out among them.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sweep
from measure import stop
from servers import Servers, write_list
from summary import Figure, judge

TARGET = 1.10  # wall time as a multiple of the ideal
SECTION = "Latency hiding"
_TIMEOUT = 30.0  # seconds per probe: far above the latency, never reached


@contextmanager
def delaying_relay(upstream: int, delay_ms: float) -> Iterator[int]:
    """Run ``relay.py`` in front of ``upstream``; yields the relay's port."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("relay.py")),
            *("--upstream", str(upstream), "--delay-ms", f"{delay_ms:g}"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError("the relay did not start")
        yield int(line)
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()


def measure_latency(
    servers: Servers,
    workdir: Path,
    caps: sweep.Capabilities,
    *,
    endpoints: int,
    concurrency: int,
    delay_ms: float,
    samples: int = 9,
) -> list[Figure]:
    service = servers.optional
    workers = caps.workers_option(1)
    print(
        f"  relay: +{delay_ms:g} ms per chunk in each direction, in front of the {service.kind}"
        " server; --retries 0"
    )
    with delaying_relay(service.port, delay_ms) as port:
        one_list = write_list(
            workdir / "one.yaml",
            (service.entry(i, port=port) for i in range(samples)),
            timeout=_TIMEOUT,
            retries=0,
        )
        one = sweep.scan(
            one_list,
            workdir / "one.csv",
            *workers,
            *("--concurrency", "1", "--per-host", "2", "--retries", "0"),
        )
        singles = [int(row["elapsed_ms"]) / 1000 for row in _rows(workdir / "one.csv", samples)]
        latency = statistics.median(singles)
        print(
            f"  one endpoint: median elapsed_ms of {len(singles)} scanned one at a time ="
            f" {latency * 1e3:.0f} ms (min {min(singles) * 1e3:.0f}, max {max(singles) * 1e3:.0f});"
            f" {one.run.cpu / len(singles) * 1e3:.1f} ms CPU per endpoint, start-up included"
        )
        many_list = write_list(
            workdir / "many.yaml",
            (service.entry(i, port=port) for i in range(endpoints)),
            timeout=_TIMEOUT,
            retries=0,
        )
        tuning = ("--concurrency", str(concurrency), "--per-host", str(2 * concurrency))
        figures: list[Figure] = []
        for count in (1, None):
            many = sweep.scan(
                many_list,
                workdir / "many.csv",
                *caps.workers_option(count),
                *tuning,
                "--retries",
                "0",
            )
            figures += _judge(
                many,
                workdir,
                caps.describe(count),
                endpoints=endpoints,
                concurrency=concurrency,
                latency=latency,
            )
    return figures


def _judge(
    many: sweep.Scan,
    workdir: Path,
    described: str,
    *,
    endpoints: int,
    concurrency: int,
    latency: float,
) -> list[Figure]:
    rows = _rows(workdir / "many.csv", endpoints)
    waves = math.ceil(endpoints / concurrency)
    ideal = waves * latency
    run = many.run
    elapsed = many.elapsed if many.elapsed is not None else run.wall
    ratio, process_ratio = elapsed / ideal, run.wall / ideal
    verdict = judge(ratio, TARGET)
    each = sorted(int(row["elapsed_ms"]) for row in rows)
    # How well the scheduler keeps C endpoints in flight, apart from how much slower each
    # endpoint got under load (CPU bursts of a whole wave, on cores the servers share).
    loaded = waves * statistics.median(each) / 1e3
    print(
        f"  {endpoints} endpoints, --concurrency {concurrency}, {described}: ideal ="
        f" ceil({endpoints}/{concurrency}) x {latency * 1e3:.0f} ms = {ideal:.2f} s"
    )
    print(
        f"  scan's own time {elapsed:.1f} s = {ratio:.2f} x ideal (target <= {TARGET}): {verdict};"
        f" whole process {run.wall:.2f} s = {process_ratio:.2f} x ideal"
    )
    print(
        f"  per endpoint in that scan: min {each[0]}, median {statistics.median(each):.0f}, p90"
        f" {each[int(len(each) * 0.9)]}, max {each[-1]} ms; snisweep used"
        f" {run.cpu / run.wall:.0%} of one core ({run.cpu / endpoints * 1e3:.1f} ms CPU per"
        " endpoint)"
    )
    return [
        Figure(
            SECTION,
            f"{endpoints} endpoints at C={concurrency}, {described}, scan's own time",
            f"{elapsed:.1f} s",
            f"ideal {ideal:.2f} s ({waves} x {latency * 1e3:.0f} ms)",
            f"{ratio:.2f}",
            f"<= {TARGET} x ideal",
            verdict,
        ),
        Figure(
            SECTION,
            f"same, against ceil(N/C) x the median latency in that scan, {described}",
            f"{elapsed:.1f} s",
            f"{loaded:.2f} s",
            f"{elapsed / loaded:.2f}",
        ),
        Figure(
            SECTION,
            f"same, {described}, whole process (start-up, list)",
            f"{run.wall:.2f} s",
            f"ideal {ideal:.2f} s",
            f"{process_ratio:.2f}",
        ),
    ]


def _rows(report: Path, endpoints: int) -> list[dict[str, str]]:
    rows = sweep.report_rows(report)
    verdicts = {row["verdict"] for row in rows}
    if len(rows) != endpoints or verdicts != {"optional"}:
        raise RuntimeError(f"expected {endpoints} optional rows, got {len(rows)}: {verdicts}")
    return rows
