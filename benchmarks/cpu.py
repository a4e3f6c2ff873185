"""CPU per endpoint: one ``snisweep scan`` process against the C floor. Does process I/O.

The C floor is what OpenSSL's own C client spends: the CPU (user + sys) of ``openssl s_time
-new`` per full handshake, times two, because snisweep makes two full handshakes per endpoint.
It is measured against the same server right before and right after snisweep, and the mean is
used, so that the figures share the machine's state (the spread between the two is printed).

snisweep runs with ``--workers 1`` (when it has the option) so that the figure is one process;
its CPU is the whole process, interpreter start-up and imports included, divided by the number
of endpoints. The fixed cost, an empty scan's CPU, is also subtracted to show both figures.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import measure
import sweep
from servers import LOOPBACK, Servers, write_list
from summary import Figure, judge

TARGET = 0.75  # snisweep's CPU per endpoint, as a multiple of the C floor
SECTION = "CPU per endpoint"


@dataclass(frozen=True, slots=True)
class Floor:
    per_handshake: float  # CPU seconds
    handshakes: int


def c_floor(port: int, seconds: float) -> Floor:
    """CPU per handshake of ``openssl s_time -new`` against ``port`` for ``seconds``."""
    run = measure.run(
        ["openssl", "s_time", "-connect", f"{LOOPBACK}:{port}", "-new", "-time", f"{seconds:g}"]
    )
    found = re.search(r"(\d+) connections in [\d.]+s", run.stdout)
    if found is None or int(found.group(1)) == 0:
        raise RuntimeError(f"cannot read openssl s_time's output:\n{run.stdout}")
    return Floor(run.cpu / int(found.group(1)), int(found.group(1)))


def openssl_handshake(port: int) -> str:
    """Protocol, cipher and key exchange ``openssl s_client`` negotiates with the server."""
    output = subprocess.run(
        ["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", "-brief"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    ).stderr
    facts = dict(
        re.findall(r"^(Protocol version|Ciphersuite|Server Temp Key): (.+)$", output, re.M)
    )
    return ", ".join(
        facts.get(k, "?") for k in ("Protocol version", "Ciphersuite", "Server Temp Key")
    )


def measure_cpu(
    servers: Servers,
    workdir: Path,
    caps: sweep.Capabilities,
    *,
    endpoints: int,
    seconds: float,
    concurrency: int,
) -> list[Figure]:
    service = servers.optional
    endpoint_list = write_list(
        workdir / "cpu.yaml", (service.entry(i) for i in range(endpoints)), timeout=10, retries=0
    )
    report = workdir / "cpu.csv"
    # Every endpoint dials 127.0.0.1 twice at once, so --per-host must not be what limits.
    tuning = (
        *("--concurrency", str(concurrency), "--per-host", str(2 * concurrency)),
        *("--retries", "0", "--timeout", "10"),
    )
    options = (*caps.workers_option(1), *tuning)
    print(
        f"  {endpoints} endpoints on the {service.kind} server, two full handshakes each; snisweep"
        f" {caps.describe(1)}, {' '.join(tuning)}"
    )
    # First: it also warms the page cache for snisweep's imports.
    startup, startup_how = fixed_cost(workdir, endpoint_list, options)
    before = c_floor(service.port, seconds)
    print(_floor_line("C floor before", before, seconds))
    result = sweep.scan(endpoint_list, report, *options)
    after = c_floor(service.port, seconds)
    run = result.run
    per_endpoint = run.cpu / endpoints
    print(
        f"  snisweep: {run.cpu:.2f} s CPU (user {run.user:.2f} + sys {run.system:.2f}) in"
        f" {run.wall:.2f} s wall = {per_endpoint * 1e3:.3f} ms per endpoint"
    )
    print(_floor_line("C floor after", after, seconds))
    rows = sweep.report_rows(report)
    verdicts = {row["verdict"] for row in rows}
    if len(rows) != endpoints or verdicts != {"optional"}:
        raise RuntimeError(
            f"expected {endpoints} optional rows, got {len(rows)} with verdicts {verdicts}:"
            " the figures above are not two handshakes per endpoint"
        )
    mean = statistics.mean((before.per_handshake, after.per_handshake))
    floor = 2 * mean  # two handshakes per endpoint
    spread = abs(before.per_handshake - after.per_handshake) / mean
    print(
        f"  C floor: 2 x mean({before.per_handshake * 1e3:.3f}, {after.per_handshake * 1e3:.3f})"
        f" = {floor * 1e3:.3f} ms CPU per endpoint (before/after differ by {spread:.0%})"
    )
    net = (run.cpu - startup) / endpoints
    print(
        f"  fixed cost ({startup_how}, median of 3): {startup * 1e3:.0f} ms CPU,"
        f" {startup / endpoints * 1e3:.3f} ms per endpoint at {endpoints} endpoints"
    )
    ratio, net_ratio = per_endpoint / floor, net / floor
    verdict = judge(ratio, TARGET)
    print(
        f"  snisweep per endpoint, whole process: {per_endpoint * 1e3:.3f} ms ="
        f" {ratio:.2f} x the C floor (target <= {TARGET}): {verdict}"
    )
    print(
        f"  snisweep per endpoint, start-up subtracted: {net * 1e3:.3f} ms ="
        f" {net_ratio:.2f} x the C floor"
    )
    first = rows[0] if rows else {}
    print(
        f"  negotiated: snisweep {first.get('sni_tls_version', '?')}"
        f" {first.get('sni_cipher', '?')}; openssl {openssl_handshake(service.port)}"
    )
    baseline = f"C floor {floor * 1e3:.2f} ms (+/-{spread / 2:.0%} before/after)"
    return [
        Figure(
            SECTION,
            f"snisweep CPU/endpoint, whole process, {caps.describe(1)}",
            f"{per_endpoint * 1e3:.2f} ms",
            baseline,
            f"{ratio:.2f}",
            f"<= {TARGET} x floor",
            verdict,
        ),
        Figure(
            SECTION,
            "same, start-up subtracted",
            f"{net * 1e3:.2f} ms",
            baseline,
            f"{net_ratio:.2f}",
        ),
    ]


def fixed_cost(workdir: Path, endpoint_list: Path, options: Sequence[str]) -> tuple[float, str]:
    """CPU of a scan with nothing to do: interpreter start-up, imports, event loop, report.

    Should this snisweep fail on an empty list, ``snisweep validate`` of the real list stands
    in (start-up, imports and one pass over the list), and the output says so.
    """
    empty = workdir / "empty.yaml"
    empty.write_text("endpoints: []\n")
    try:
        runs = [sweep.scan(empty, workdir / "empty.csv", *options).run for _ in range(3)]
    except measure.CommandFailed as exc:
        last = exc.run.stderr.strip().splitlines()[-1:] or ["?"]
        print(f"  WARNING: an empty scan fails (exit {exc.run.returncode}: {last[0]})")
        command = [*sweep.COMMAND, "validate", str(endpoint_list)]
        runs = [measure.run(command) for _ in range(3)]
        return statistics.median(r.cpu for r in runs), "snisweep validate of the list"
    return statistics.median(r.cpu for r in runs), "an empty scan"


def _floor_line(name: str, floor: Floor, seconds: float) -> str:
    return (
        f"  {name}: openssl s_time -new for {seconds:g} s, {floor.handshakes} handshakes,"
        f" {floor.per_handshake * 1e3:.3f} ms CPU per handshake"
    )
