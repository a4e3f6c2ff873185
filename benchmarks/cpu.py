"""CPU per endpoint: one ``snisweep scan`` process against the C floor. Does process I/O.

The C floor is what OpenSSL's own C client spends: the CPU (user + sys) of ``openssl s_time
-new`` per full handshake, times two, because snisweep makes two full handshakes per endpoint.
It is measured against the same server right before and right after snisweep, and the mean is
used, so that the figures share the machine's state (the spread between the two is printed).
That floor, handshakes only, is the target's reference.

snisweep scans the same list twice: with the HTTP check (its default: after each handshake a
``GET /`` on the same connection, and the status line read back) and with ``--no-http``
(handshakes only, the same work as the C floor). For the HTTP check a second floor is measured
the same way, ``openssl s_time -new -www /`` (each connection sends a ``GET /`` and reads the
page), so that snisweep with the HTTP check has a C client doing the same work next to it, and
the HTTP check's extra CPU (with minus without) has the C client's extra next to it. Each
variant is scanned twice, in the order A B B A, and the mean is used (the spread is printed),
so that a machine that drifts weighs on both alike. A snisweep without the HTTP check (an older
version) is scanned twice, plain TLS.

snisweep runs with ``--workers 1`` (when it has the option) so that the figure is one process;
its CPU is the whole process, interpreter start-up and imports included, divided by the number
of endpoints. The fixed cost, an empty scan's CPU, is also subtracted to show both figures.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import measure
import sweep
from servers import LOOPBACK, Servers, write_list
from summary import Figure, judge

TARGET = 0.75  # snisweep's CPU per endpoint, as a multiple of the C floor
SECTION = "CPU per endpoint"
_PAGE = "/"  # what ``s_time -www`` fetches, as the HTTP check does


@dataclass(frozen=True, slots=True)
class Floor:
    per_handshake: float  # CPU seconds (with -www: handshake, request and page)
    handshakes: int
    bytes_read: int | None  # what s_time says it read in all (pages, with -www)


@dataclass(frozen=True, slots=True)
class Pair:
    """A floor measured before and after the scans, per endpoint (two handshakes)."""

    before: Floor
    after: Floor

    @property
    def per_endpoint(self) -> float:
        return 2 * statistics.mean((self.before.per_handshake, self.after.per_handshake))

    @property
    def spread(self) -> float:
        """How much before and after differ, as a fraction of their mean."""
        return abs(self.before.per_handshake - self.after.per_handshake) / (self.per_endpoint / 2)


def c_floor(port: int, seconds: float, www: str | None = None) -> Floor:
    """CPU per handshake of ``openssl s_time -new`` against ``port`` for ``seconds``; with
    ``www``, ``-www PAGE``: each connection also sends a GET of that page and reads it."""
    command = ["openssl", "s_time", "-connect", f"{LOOPBACK}:{port}", "-new"]
    if www is not None:
        command += ["-www", www]
    run = measure.run([*command, "-time", f"{seconds:g}"])
    found = re.search(r"(\d+) connections in [\d.]+s", run.stdout)
    if found is None or int(found.group(1)) == 0:
        raise RuntimeError(f"cannot read openssl s_time's output:\n{run.stdout}")
    read = re.search(r"bytes read (\d+)", run.stdout)
    return Floor(
        run.cpu / int(found.group(1)), int(found.group(1)), int(read.group(1)) if read else None
    )


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


@dataclass(frozen=True, slots=True)
class _Measured:
    """One variant's scans (two, run in the order A B B A with the other variant)."""

    variant: sweep.Variant
    scans: list[sweep.Scan]
    rows: list[list[dict[str, str]]]  # each scan's report

    @property
    def cpu(self) -> float:
        return statistics.mean(scan.run.cpu for scan in self.scans)

    @property
    def spread(self) -> float:
        """How much the two scans' CPU differ, as a fraction of their mean."""
        cpus = [scan.run.cpu for scan in self.scans]
        return (max(cpus) - min(cpus)) / statistics.mean(cpus)


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
    # Every endpoint dials 127.0.0.1 twice at once, so --per-host must not be what limits.
    tuning = (
        *("--concurrency", str(concurrency), "--per-host", str(2 * concurrency)),
        *("--retries", "0", "--timeout", "10"),
    )
    options = (*caps.workers_option(1), *tuning)
    variants = caps.variants()
    with_http = any(variant.http for variant in variants)
    # A B B A: a machine that drifts during the scans weighs on both variants alike.
    order = [*variants, *reversed(variants)]
    print(
        f"  {endpoints} endpoints on the {service.kind} server, two full handshakes each; snisweep"
        f" {caps.describe(1)}, {' '.join(tuning)}; scanned"
        f" {', then '.join(variant.name for variant in order)}"
    )
    # First: it also warms the page cache for snisweep's imports.
    startup, startup_how = fixed_cost(workdir, endpoint_list, options)
    # The floors before the scans, and after them in the reverse order, so that each floor's
    # mean is centred on the scans.
    before = c_floor(service.port, seconds)
    print(_floor_line("C floor before", before, seconds))
    before_www = c_floor(service.port, seconds, _PAGE) if with_http else None
    if before_www is not None:
        print(_floor_line("HTTP floor before", before_www, seconds, _PAGE))
    measured = {variant: _Measured(variant, [], []) for variant in variants}
    for number, variant in enumerate(order):
        report = workdir / f"cpu-{number}.csv"
        result = sweep.scan(endpoint_list, report, *options, *variant.options)
        run = result.run
        print(
            f"  snisweep, {variant.name}: {run.cpu:.2f} s CPU (user {run.user:.2f} + sys"
            f" {run.system:.2f}) in {run.wall:.2f} s wall = {run.cpu / endpoints * 1e3:.3f} ms"
            " per endpoint"
        )
        measured[variant].scans.append(result)
        measured[variant].rows.append(sweep.report_rows(report))
    after_www = c_floor(service.port, seconds, _PAGE) if with_http else None
    if after_www is not None:
        print(_floor_line("HTTP floor after", after_www, seconds, _PAGE))
    after = c_floor(service.port, seconds)
    print(_floor_line("C floor after", after, seconds))
    for one in measured.values():
        for number, rows in enumerate(one.rows):
            _check_rows(one.variant, rows, endpoints, show=number == 0)
    floors = Pair(before, after)
    floor = floors.per_endpoint
    print(
        f"  C floor (the target's reference): 2 x mean({before.per_handshake * 1e3:.3f},"
        f" {after.per_handshake * 1e3:.3f}) = {floor * 1e3:.3f} ms CPU per endpoint"
        f" (before/after differ by {floors.spread:.0%})"
    )
    http_floors = Pair(before_www, after_www) if before_www and after_www else None
    if http_floors is not None:
        print(
            f"  HTTP floor (s_time -new -www {_PAGE}): 2 x"
            f" mean({http_floors.before.per_handshake * 1e3:.3f},"
            f" {http_floors.after.per_handshake * 1e3:.3f}) ="
            f" {http_floors.per_endpoint * 1e3:.3f} ms CPU per endpoint (before/after differ by"
            f" {http_floors.spread:.0%}); the C client's GET and page cost"
            f" {(http_floors.per_endpoint - floor) * 1e3:.3f} ms per endpoint"
        )
    print(
        f"  fixed cost ({startup_how}, median of 3): {startup * 1e3:.0f} ms CPU,"
        f" {startup / endpoints * 1e3:.3f} ms per endpoint at {endpoints} endpoints"
    )
    baseline = f"C floor {floor * 1e3:.2f} ms (+/-{floors.spread / 2:.0%} before/after)"
    figures: list[Figure] = []
    per_variant: dict[bool, float] = {}
    for one in measured.values():
        name = one.variant.name
        per_endpoint = one.cpu / endpoints
        per_variant[one.variant.http] = per_endpoint
        net = (one.cpu - startup) / endpoints
        ratio, net_ratio = per_endpoint / floor, net / floor
        verdict = judge(ratio, TARGET)
        print(
            f"  snisweep per endpoint, {name} (mean of {len(one.scans)} scans, they differ by"
            f" {one.spread:.0%}), whole process: {per_endpoint * 1e3:.3f} ms = {ratio:.2f} x the"
            f" C floor (target <= {TARGET}): {verdict}; start-up subtracted:"
            f" {net * 1e3:.3f} ms = {net_ratio:.2f} x"
        )
        figures += [
            Figure(
                SECTION,
                f"snisweep CPU/endpoint, whole process, {caps.describe(1)}, {name}",
                f"{per_endpoint * 1e3:.2f} ms (+/-{one.spread / 2:.0%})",
                baseline,
                f"{ratio:.2f}",
                f"<= {TARGET} x floor",
                verdict,
            ),
            Figure(
                SECTION,
                f"same, start-up subtracted, {name}",
                f"{net * 1e3:.2f} ms",
                baseline,
                f"{net_ratio:.2f}",
            ),
        ]
    if http_floors is not None and True in per_variant:
        http_floor = http_floors.per_endpoint
        http_baseline = (
            f"HTTP floor (s_time -new -www {_PAGE} x 2) {http_floor * 1e3:.2f} ms"
            f" (+/-{http_floors.spread / 2:.0%} before/after)"
        )
        with_check = per_variant[True]
        print(
            f"  snisweep per endpoint, HTTP check, against the HTTP floor:"
            f" {with_check * 1e3:.3f} ms = {with_check / http_floor:.2f} x (no target: the"
            " target is judged against the C floor)"
        )
        figures.append(
            Figure(
                SECTION,
                "snisweep CPU/endpoint, whole process, HTTP check, against the HTTP floor",
                f"{with_check * 1e3:.2f} ms",
                http_baseline,
                f"{with_check / http_floor:.2f}",
            )
        )
        if False in per_variant:
            plain = per_variant[False]
            extra = with_check - plain
            c_extra = http_floor - floor
            print(
                f"  the HTTP check's extra CPU per endpoint: snisweep {extra * 1e3:.3f} ms"
                f" ({extra / plain:+.0%} over --no-http), the C client {c_extra * 1e3:.3f} ms"
            )
            figures.append(
                Figure(
                    SECTION,
                    "the HTTP check's extra CPU/endpoint (HTTP check - --no-http)",
                    f"{extra * 1e3:.2f} ms ({extra / plain:+.0%})",
                    f"C client's GET and page (HTTP floor - C floor) {c_extra * 1e3:.2f} ms",
                    f"{extra / c_extra:.2f}" if c_extra > 0 else "-",
                )
            )
    first_rows = next(iter(measured.values())).rows[0]
    first = first_rows[0] if first_rows else {}
    print(
        f"  negotiated: snisweep {first.get('sni_tls_version', '?')}"
        f" {first.get('sni_cipher', '?')}; openssl {openssl_handshake(service.port)}"
    )
    return figures


def _check_rows(
    variant: sweep.Variant, rows: list[dict[str, str]], endpoints: int, *, show: bool
) -> None:
    """Every endpoint optional (two successful handshakes); with the HTTP check, a status with
    and without SNI on every row, and none with ``--no-http``."""
    verdicts = {row["verdict"] for row in rows}
    if len(rows) != endpoints or verdicts != {"optional"}:
        raise RuntimeError(
            f"{variant.name}: expected {endpoints} optional rows, got {len(rows)} with"
            f" verdicts {verdicts}: the figures above are not two handshakes per endpoint"
        )
    if rows and "sni_http_status" not in rows[0]:
        return  # a snisweep without the HTTP check
    statuses = Counter(
        (row["sni_http_status"] or "-", row["nosni_http_status"] or "-") for row in rows
    )
    shown = ", ".join(f"{sni}/{nosni} x {count}" for (sni, nosni), count in statuses.items())
    if show:
        print(f"  HTTP statuses (with/without SNI), {variant.name}: {shown}")
    if variant.http and any("-" in pair for pair in statuses):
        raise RuntimeError(f"{variant.name}: some probes got no HTTP status: {shown}")
    if not variant.http and set(statuses) != {("-", "-")}:
        raise RuntimeError(f"{variant.name}: probes sent an HTTP request: {shown}")


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


def _floor_line(name: str, floor: Floor, seconds: float, www: str | None = None) -> str:
    how = f"-new -www {www}" if www is not None else "-new"
    read = ""
    if www is not None and floor.bytes_read is not None:
        read = f" ({floor.bytes_read / floor.handshakes:.0f} bytes read per connection)"
    return (
        f"  {name}: openssl s_time {how} for {seconds:g} s, {floor.handshakes} handshakes,"
        f" {floor.per_handshake * 1e3:.3f} ms CPU per handshake{read}"
    )
