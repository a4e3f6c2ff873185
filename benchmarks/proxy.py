"""Through an HTTP CONNECT proxy, and the trust check's cost: the mixed fleet, each figure next to
the same scan without it. Does process I/O.

**Through tinyproxy.** The mixed fleet of the throughput section (required, mismatched and
optional endpoints interleaved, ``--retries 0``, ``--per-host`` twice the concurrency) is scanned
direct (``--proxy direct``, so that a proxy in the environment does not count) and through
tinyproxy (``--proxy http://127.0.0.1:PORT``: both probes of every endpoint open a tunnel with
``CONNECT 127.0.0.1:PORT``), with the default workers and with ``--workers 1``, each in the
order direct, proxied, proxied, direct (a drifting machine weighs on both alike; the figures are
the means, +/- half the difference of the two scans). tinyproxy is started by the section on a
free port of 127.0.0.1, in the foreground (``-d``), with ``MaxClients`` 2 x the concurrency + 10
(each endpoint in flight holds two connections), the least logging (``LogLevel Critical``), and
stopped at the end, on Ctrl-C too. The proxied report must have the direct one's verdict counts,
and every row's ``proxy`` column must be the proxy's ``host:port`` (empty in the direct report).
The proxy is a process of its own that shares the cores with the scan and the server: its CPU
is printed.

**The trust check.** The same fleet, ``--workers 1``, with the trust check (the default: every
chain sent with SNI is verified against the system trust store, once per distinct chain) and with
``--no-trust``, in the order on, off, off, on, the figures the means as above: endpoints/s and
CPU seconds (user + sys, from ``wait4``), both whole process (start-up, where the trust store is
read, included). With the check every row has an ``sni_cert_trusted`` value, with
``--no-trust`` none. A snisweep without ``--no-trust`` (or without ``--proxy``, or a machine
without tinyproxy) gets ``skipped: ...`` for that part.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import measure
import sweep
from measure import stop
from servers import LOOPBACK, Servers, free_port, mixed_entries, wait_for, write_list
from summary import INFO, Figure

from snisweep.run.scheduler import Limits

SECTION = "Proxy and trust check"
_SPARE_CLIENTS = 10  # tinyproxy's MaxClients beyond two connections per endpoint in flight
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Options:
    """The options of ``snisweep scan`` this section needs."""

    proxy: bool  # --proxy URL
    no_trust: bool  # --no-trust (the trust check is on by default)


def options() -> Options:
    helptext = subprocess.run(
        [*sweep.COMMAND, "scan", "--help"], capture_output=True, text=True, check=True
    ).stdout
    return Options(proxy="--proxy" in helptext, no_trust="--no-trust" in helptext)


@dataclass(frozen=True, slots=True)
class Tinyproxy:
    port: int
    pid: int

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def cpu(self) -> float:
        """tinyproxy's CPU so far (user + sys, all its threads), seconds."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime


def tinyproxy_version(binary: str) -> str:
    found = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (found.stdout or found.stderr).strip() or "tinyproxy ?"


@contextmanager
def tinyproxy(binary: str, workdir: Path, max_clients: int) -> Iterator[Tinyproxy]:
    """tinyproxy in the foreground on a free port of 127.0.0.1; stopped on the way out."""
    port = free_port()
    conf = workdir / "tinyproxy.conf"
    log = workdir / "tinyproxy.log"
    conf.write_text(
        "\n".join(
            [
                f"Port {port}",
                f"Listen {LOOPBACK}",
                "Timeout 30",
                f"MaxClients {max_clients}",
                "LogLevel Critical",
                f'LogFile "{log}"',
                f'PidFile "{workdir / "tinyproxy.pid"}"',
            ]
        )
        + "\n"
    )
    process = subprocess.Popen(
        [binary, "-d", "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        try:
            wait_for(port, process)
        except RuntimeError as exc:
            logged = log.read_text(errors="replace").strip() if log.exists() else ""
            raise RuntimeError(f"tinyproxy did not start: {exc} {logged[-300:]}") from exc
        yield Tinyproxy(port, process.pid)
    finally:
        stop(process)


@dataclass(frozen=True, slots=True)
class _Fleet:
    """The list both parts scan, what its report must hold, and the options every scan gets."""

    endpoint_list: Path
    report: Path
    endpoints: int
    expected: Counter[str]  # verdicts
    tuning: tuple[str, ...]

    def scan(self, *options: str) -> sweep.Scan:
        return sweep.scan(self.endpoint_list, self.report, *self.tuning, *options)


def measure_proxy(
    servers: Servers,
    workdir: Path,
    caps: sweep.Capabilities,
    *,
    endpoints: int,
) -> list[Figure]:
    has = options()
    endpoint_list = write_list(
        workdir / "proxy.yaml", mixed_entries(servers, endpoints), timeout=5, retries=0
    )
    expected = Counter(servers.mixed[index % 3].kind for index in range(endpoints))
    concurrency = Limits().concurrency
    tuning = ("--per-host", str(2 * concurrency), "--retries", "0")
    direct = ("--proxy", "direct") if has.proxy else ()
    print(
        f"  mixed fleet: {endpoints} endpoints, a third each required / mismatched / optional;"
        f" snisweep {' '.join(tuning)} (default concurrency {concurrency}), snisweep's"
        " defaults otherwise (so with the HTTP check)"
    )
    fleet = _Fleet(endpoint_list, workdir / "proxy.csv", endpoints, expected, tuning)
    return _through_proxy(fleet, caps, has, workdir) + _trust_cost(fleet, caps, has, direct)


def _through_proxy(
    fleet: _Fleet, caps: sweep.Capabilities, has: Options, workdir: Path
) -> list[Figure]:
    binary = shutil.which("tinyproxy")
    if not has.proxy:
        return _skipped("through a proxy: this snisweep has no --proxy")
    if binary is None:
        return _skipped("through a proxy: tinyproxy is not installed")
    max_clients = 2 * Limits().concurrency + _SPARE_CLIENTS
    figures: list[Figure] = []
    with tinyproxy(binary, workdir, max_clients) as proxy:
        url = f"http://{proxy.address}"
        print(
            f"  {tinyproxy_version(binary)} on {proxy.address} (MaxClients {max_clients},"
            f" LogLevel Critical), a process of its own; proxied scans: --proxy {url}"
        )
        for workers in (None, 1) if caps.workers else (1,):
            how = caps.describe(workers)
            runs: dict[bool, list[measure.Run]] = {True: [], False: []}
            proxy_cpu = 0.0
            for proxied in _ABBA:
                before = proxy.cpu()
                result = fleet.scan(
                    *caps.workers_option(workers), "--proxy", url if proxied else "direct"
                )
                spent = proxy.cpu() - before
                proxy_cpu += spent if proxied else 0.0
                runs[proxied].append(result.run)
                where = "through tinyproxy" if proxied else "direct"
                print(
                    f"  snisweep, {how}, {where}: {_shown(fleet, result)}"
                    + (f"; tinyproxy {spent:.1f} s CPU" if proxied else "")
                )
                _check_rows(fleet, proxy.address if proxied else "")
            rate = _mean_rate(fleet, runs)
            cpu = _mean_cpu(runs)
            ratio = rate[True][0] / rate[False][0]
            print(
                f"  through tinyproxy / direct, {how}: {_pm(rate[True])} against"
                f" {_pm(rate[False])} endpoints/s = {ratio:.2f} x; snisweep's CPU"
                f" {_pm(cpu[True], 2)} against {_pm(cpu[False], 2)} s ="
                f" {cpu[True][0] / cpu[False][0]:.2f} x, and tinyproxy's"
                f" {proxy_cpu / len(runs[True]):.2f} s per proxied scan"
            )
            figures.append(
                Figure(
                    SECTION,
                    f"mixed fleet of {fleet.endpoints}, {how}, through tinyproxy, whole process,"
                    " mean of 2",
                    f"{_pm(rate[True])} endpoints/s",
                    f"direct {_pm(rate[False])}/s",
                    f"{ratio:.2f} x",
                )
            )
    return figures


def _trust_cost(
    fleet: _Fleet, caps: sweep.Capabilities, has: Options, direct: tuple[str, ...]
) -> list[Figure]:
    if not has.no_trust:
        return _skipped("the trust check's cost: this snisweep has no --no-trust")
    how = caps.describe(1)
    runs: dict[bool, list[measure.Run]] = {True: [], False: []}
    for trust in _ABBA_ON_FIRST:
        result = fleet.scan(*caps.workers_option(1), *direct, *(() if trust else ("--no-trust",)))
        runs[trust].append(result.run)
        name = "trust check (default)" if trust else "--no-trust"
        print(f"  snisweep, {how}, {name}: {_shown(fleet, result, cpu_digits=2)}")
        _check_trusted(fleet, trust)
    rate = _mean_rate(fleet, runs)
    cpu = _mean_cpu(runs)
    extra_ms = (cpu[True][0] - cpu[False][0]) / fleet.endpoints * 1e3
    print(
        f"  the trust check, {how}: {_pm(rate[True])} against {_pm(rate[False])} endpoints/s"
        f" without it = {rate[True][0] / rate[False][0]:.2f} x; CPU {_pm(cpu[True], 2)} against"
        f" {_pm(cpu[False], 2)} s = {cpu[True][0] / cpu[False][0]:.3f} x,"
        f" {extra_ms:+.3f} ms CPU per endpoint (start-up's reading of the trust store included)"
    )
    return [
        Figure(
            SECTION,
            f"mixed fleet of {fleet.endpoints}, {how}, trust check (default), whole process,"
            " mean of 2",
            f"{_pm(rate[True])} endpoints/s",
            f"--no-trust {_pm(rate[False])}/s",
            f"{rate[True][0] / rate[False][0]:.2f} x",
        ),
        Figure(
            SECTION,
            "same, CPU (user + sys)",
            f"{_pm(cpu[True], 2)} s",
            f"--no-trust {_pm(cpu[False], 2)} s",
            f"{cpu[True][0] / cpu[False][0]:.3f} x",
        ),
    ]


# Each pair of scans runs in the order A B B A, so that a machine that drifts weighs on both
# alike; a figure is the mean of its two scans, +/- half their difference.
_ABBA = (False, True, True, False)  # direct, proxied, proxied, direct
_ABBA_ON_FIRST = (True, False, False, True)  # trust check on, off, off, on


def _mean_rate(
    fleet: _Fleet, runs: dict[bool, list[measure.Run]]
) -> dict[bool, tuple[float, float]]:
    return {key: _mean_spread([fleet.endpoints / r.wall for r in got]) for key, got in runs.items()}


def _mean_cpu(runs: dict[bool, list[measure.Run]]) -> dict[bool, tuple[float, float]]:
    return {key: _mean_spread([r.cpu for r in got]) for key, got in runs.items()}


def _mean_spread(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (max(values) - min(values)) / 2


def _pm(figure: tuple[float, float], digits: int = 0) -> str:
    mean, spread = figure
    return f"{mean:.{digits}f} +/- {spread:.{digits}f}"


def _shown(fleet: _Fleet, result: sweep.Scan, cpu_digits: int = 1) -> str:
    run = result.run
    own = f", {fleet.endpoints / result.elapsed:.0f}/s" if result.elapsed else ""
    return (
        f"{run.wall:.2f} s wall = {fleet.endpoints / run.wall:.0f} endpoints/s (the scan's own"
        f" time {result.elapsed} s{own}); {run.cpu:.{cpu_digits}f} s CPU"
    )


def _check_rows(fleet: _Fleet, proxy: str) -> None:
    """The fleet's verdicts, and ``proxy`` (``host:port``, or empty) in every row's column."""
    _, verdicts = sweep.count_rows(fleet.report)
    print(f"    rows: {', '.join(f'{name} {verdicts[name]}' for name in sweep.VERDICTS)}")
    if verdicts != fleet.expected:
        raise RuntimeError(f"the report does not have the fleet's verdicts: {dict(fleet.expected)}")
    columns = Counter(row.get("proxy") or "" for row in sweep.report_rows(fleet.report))
    if set(columns) != {proxy}:
        shown = ", ".join(f"{value or '(empty)'} {count}" for value, count in columns.items())
        raise RuntimeError(f"the proxy column should be {proxy or 'empty'} in every row: {shown}")
    print(f"    proxy column: {proxy or '(empty)'} in all {columns.total()} rows")


def _check_trusted(fleet: _Fleet, trust: bool) -> None:
    """The fleet's verdicts; ``sni_cert_trusted`` in every row with the check, in none without."""
    _, verdicts = sweep.count_rows(fleet.report)
    if verdicts != fleet.expected:
        raise RuntimeError(f"the report does not have the fleet's verdicts: {dict(verdicts)}")
    values = Counter(row.get("sni_cert_trusted") or "" for row in sweep.report_rows(fleet.report))
    shown = ", ".join(f"{value or '(empty)'} {count}" for value, count in sorted(values.items()))
    print(f"    sni_cert_trusted: {shown}")
    if ("" in values) if trust else set(values) != {""}:
        raise RuntimeError(f"sni_cert_trusted, trust check {'on' if trust else 'off'}: {shown}")


def _skipped(why: str) -> list[Figure]:
    print(f"  skipped: {why}")
    return [Figure(SECTION, f"skipped: {why}", "skipped", verdict=INFO)]
