"""DNS: distinct names behind a local name server with a fixed delay; and many names on one
address. Does process and network I/O; run as a script, it is that name server.

    python benchmarks/dns.py --delay-ms 200 [--address 127.0.0.1] [--zone bench.test]

**The name server** (this file run as a script, a process of its own so that its CPU is not the
scanner's; ``dnslib`` for the wire format: ``python -m pip install dnslib``) listens on UDP and
TCP port 53 of ``--address`` and answers every A query for a name under ``--zone`` with
``--answer`` (127.0.0.1), and every AAAA query with an empty NOERROR answer, each ``--delay-ms``
after it arrived: every query is held on its own timer, so a thousand queries at once are a
thousand answers one delay later, never a queue. Other names get NXDOMAIN at once. It prints
``ready`` on standard output once it listens (or ``error: ...`` and exits 1); each ``stats``
line on its standard input gets a JSON line back (queries by type, distinct names, the most
queries held at once since the last ``stats``); it stops at the end of its input or on SIGTERM.

**Pointing a scan at it** without touching the machine's resolver: the scan runs in a private
mount namespace (``unshare --mount``) where ``/etc/resolv.conf`` is a bind mount of a file that
says ``nameserver ADDRESS`` and ``options timeout:5 attempts:1``; glibc's resolver (nsswitch
``hosts: files dns``, and the names are not in ``/etc/hosts``) then asks this server, and only
that process sees the change. This needs root (mounting, and port 53) and ``unshare``: without
them, or without ``dnslib``, or when port 53 is taken, the section prints ``skipped: ...``.

**DNS** (``dns``). N distinct names of the optional server (``h{i}.optional.bench.test``, as in
the other sections but with no ``address:``), scanned with ``--workers 1 --concurrency C
--per-host 2C --retries 0`` (a timeout of 5 s, the default, which also bounds each lookup):
(a) through the name server, (b) the same list with ``address: 127.0.0.1`` pinned, no DNS.
Every name costs one lookup of one delay; a scanner that keeps C lookups in flight pays
ceil(N/C) delays on top of the pinned scan. Target: every endpoint resolves (no
``error/dns-failure`` row) and (a) <= 1.15 x ((b) + ceil(N/C) x delay), whole-process wall
times. The server's counts show how many lookups the scan kept in flight.

**Many names on one address** (``names``). N distinct names pinned to one address, behind the
delaying relay (``relay.py``) in front of the optional server, scanned with snisweep's defaults
(which limit the connections to one address, ``--per-host``) and with ``--per-host 200``; then
a table of ``--per-host`` 4, 8, 16, 32, 64 (the default's row reuses its scan). Target: the
default within 2 x the ``--per-host 200`` time (scan's own times), or else snisweep's summary
on stderr explains the limit (mentions ``per-host``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

import measure
import sweep
from latency import delaying_relay
from servers import LOOPBACK, Servers, Service
from summary import INFO, PASS, Figure, judge

DNS_SECTION = "DNS"
NAMES_SECTION = "Many names on one address"
DNS_TARGET = 1.15  # (a) <= DNS_TARGET x ((b) + ceil(N/C) x delay)
NAMES_TARGET = 2.0  # the default's time <= NAMES_TARGET x the --per-host 200 time
NAMES_PER_HOST = (4, 16, 64, 100, 128)
NAMES_UNLIMITED = 200
ZONE = "bench.test"  # the servers' domain: their certificates cover the names
_CANDIDATES = ("127.0.0.1", "127.53.0.1")  # where the name server may listen, in this order
_RCVBUF = 8 << 20  # the name server's UDP receive buffer, bytes
_DEADLINE = 90.0  # seconds: the scan through DNS is stopped after max(this, 5 x its target)
_TIMEOUT = 5.0  # per probe, and so per lookup: snisweep's default
_NAMES_TIMEOUT = 30.0  # far above a probe's time behind the relay, never reached


# ---------------------------------------------------------------------------------------------
# The name server (this file run as a script)


@dataclass
class _Counts:
    a: int = 0
    aaaa: int = 0
    other: int = 0  # other types in the zone, and names outside it
    held: int = 0  # queries waiting for their delay now
    peak: int = 0  # the most held at once since the last report
    names: set[str] | None = None

    def report(self) -> str:
        line = json.dumps(
            {
                "a": self.a,
                "aaaa": self.aaaa,
                "other": self.other,
                "names": len(self.names or ()),
                "peak": self.peak,
            }
        )
        self.peak = self.held
        return line


async def _serve(address: str, zone: str, delay: float, answer: str) -> None:
    dnslib: Any = importlib.import_module("dnslib")  # untyped; imported only where it is used
    loop = asyncio.get_running_loop()
    counts = _Counts(names=set())
    origin = dnslib.DNSLabel(zone)

    def respond(data: bytes) -> tuple[bytes, float] | None:
        """The packed answer to one query and how long to hold it (None: not a query)."""
        try:
            query = dnslib.DNSRecord.parse(data)
        except Exception:  # dnslib raises several kinds on garbage
            return None
        if query.header.qr or not query.questions:
            return None
        reply = query.reply()
        name, kind = query.q.qname, query.q.qtype
        if not name.matchSuffix(origin):
            counts.other += 1
            reply.header.rcode = dnslib.RCODE.NXDOMAIN
            return reply.pack(), 0.0
        assert counts.names is not None
        counts.names.add(str(name).lower())
        if kind == dnslib.QTYPE.A:
            counts.a += 1
            reply.add_answer(dnslib.RR(name, dnslib.QTYPE.A, rdata=dnslib.A(answer), ttl=60))
        elif kind == dnslib.QTYPE.AAAA:
            counts.aaaa += 1  # no answer, NOERROR: the name exists, with no IPv6 address
        else:
            counts.other += 1
        return reply.pack(), delay

    def hold() -> None:
        counts.held += 1
        counts.peak = max(counts.peak, counts.held)

    class Udp(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            # uvloop's UDP transport does not derive from asyncio's, but has its methods.
            self.transport = cast(asyncio.DatagramTransport, transport)

        def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
            answered = respond(data)
            if answered is None:
                return
            packed, after = answered
            hold()
            loop.call_later(after, self.send, packed, addr)

        def send(self, packed: bytes, addr: tuple[str | Any, int]) -> None:
            counts.held -= 1
            self.transport.sendto(packed, addr)

    async def tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def answer_one(packed: bytes, after: float) -> None:
            hold()
            try:
                await asyncio.sleep(after)
            finally:
                counts.held -= 1
            writer.write(len(packed).to_bytes(2, "big") + packed)

        pending: set[asyncio.Task[None]] = set()
        try:
            while True:  # queries on one connection are answered independently too
                size = int.from_bytes(await reader.readexactly(2), "big")
                answered = respond(await reader.readexactly(size))
                if answered is not None:
                    task = asyncio.create_task(answer_one(*answered))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            writer.close()

    try:
        udp, _ = await loop.create_datagram_endpoint(Udp, sock=_udp_socket(address))
        tcp_server = await asyncio.start_server(tcp, address, 53, backlog=1024)
    except OSError as exc:
        print(f"error: cannot listen on {address}:53: {exc.strerror or exc}", flush=True)
        sys.exit(1)
    stopped = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)

    async def control() -> None:
        while line := await commands.readline():
            if line.strip() == b"stats":
                sys.stdout.write(counts.report() + "\n")
                sys.stdout.flush()
        stopped.set()  # the benchmark is gone

    print("ready", flush=True)
    controller = asyncio.create_task(control())
    try:
        await stopped.wait()
    finally:
        controller.cancel()
        udp.close()
        tcp_server.close()


def _udp_socket(address: str) -> socket.socket:
    """Port 53 with a receive buffer for a burst of thousands of queries: with the default
    (about 200 KiB, some 300 small datagrams) the kernel would drop the rest of a burst."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if option is not None:
                with contextlib.suppress(OSError):  # FORCE needs CAP_NET_ADMIN
                    sock.setsockopt(socket.SOL_SOCKET, option, _RCVBUF)
                    break
        sock.bind((address, 53))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def udp_receive_errors() -> int | None:
    """The kernel's count of UDP datagrams dropped for a full receive buffer (this network
    namespace), from /proc/net/snmp."""
    lines = [
        line.split() for line in _read("/proc/net/snmp").splitlines() if line.startswith("Udp:")
    ]
    if len(lines) < 2 or "RcvbufErrors" not in lines[0]:
        return None
    return int(lines[1][lines[0].index("RcvbufErrors")])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--delay-ms", type=float, required=True, metavar="MS")
    parser.add_argument("--address", default=LOOPBACK, help="where to listen, port 53")
    parser.add_argument("--zone", default=ZONE, help="names answered (default %(default)s)")
    parser.add_argument("--answer", default=LOOPBACK, help="the A record's address")
    args = parser.parse_args()
    serve = _serve(args.address, args.zone, args.delay_ms / 1000, args.answer)
    try:  # optional, as for snisweep itself (and not installed where mypy runs in CI)
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        asyncio.run(serve)
    else:
        uvloop.run(serve)


# ---------------------------------------------------------------------------------------------
# The benchmark's side


class NameServer:
    """The running name server: where it listens, and its counts."""

    def __init__(self, process: subprocess.Popen[str], address: str) -> None:
        self.process = process
        self.address = address

    def stats(self) -> dict[str, int]:
        """The counts so far; starts a new count of the most queries held at once."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the name server stopped")
        counts: dict[str, int] = json.loads(line)
        return counts


@contextmanager
def name_server(delay_ms: float) -> Iterator[NameServer | str]:
    """Start the name server on the first free candidate address; yields it, or why not."""
    why: list[str] = []
    for address in _CANDIDATES:
        process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__)),
                *("--delay-ms", f"{delay_ms:g}", "--address", address),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if line == "ready":
                yield NameServer(process, address)
                return
            why.append(line.removeprefix("error: ") or f"it exited with {process.poll()}")
        finally:
            _close(process.stdin)  # end of its input: it stops by itself
            stop_quietly(process)
            _close(process.stdout)
    yield "; ".join(why)


def stop_quietly(process: subprocess.Popen[str]) -> None:
    """Wait for the server to stop at the end of its input; SIGTERM, then SIGKILL if not."""
    for ask in (None, process.terminate, process.kill):
        if ask is not None:
            with contextlib.suppress(ProcessLookupError):
                ask()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            continue
        return


def _close(stream: IO[str] | None) -> None:
    if stream is not None:
        with contextlib.suppress(OSError):
            stream.close()


def unavailable() -> str | None:
    """Why a scan cannot be pointed at a local name server here, or None."""
    if os.geteuid() != 0:
        return "not root (the private mount namespace and port 53 need root)"
    if shutil.which("unshare") is None:
        return "no unshare on the PATH (util-linux)"
    if importlib.util.find_spec("dnslib") is None:
        return f"dnslib is not installed ({sys.executable} -m pip install dnslib)"
    return None


def resolv_conf(workdir: Path, address: str) -> Path:
    path = workdir / "resolv.conf"
    path.write_text(f"nameserver {address}\noptions timeout:5 attempts:1\n")
    return path


def in_namespace(conf: Path, command: Sequence[str]) -> list[str]:
    """``command`` in a private mount namespace whose /etc/resolv.conf is ``conf``; ``unshare``
    and ``sh`` exec in turn, so the process measured is the command's own."""
    script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        str(conf),
        *command,
    ]


def _check_namespace(server: NameServer, conf: Path) -> str | None:
    """Resolve one name of the zone as a scan would; why that failed, or None."""
    name = f"probe.dns.{ZONE}"
    lookup = (
        "import socket, sys;"
        " print(socket.getaddrinfo(sys.argv[1], 443, type=socket.SOCK_STREAM)[0][4][0])"
    )
    before = server.stats()["a"]
    try:
        found = subprocess.run(
            in_namespace(conf, [sys.executable, "-c", lookup, name]),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the lookup in a private mount namespace failed ({exc})"
    if found.returncode != 0:
        last = (found.stderr.strip().splitlines() or [f"exit {found.returncode}"])[-1]
        return f"a lookup in a private mount namespace failed: {last}"
    if server.stats()["a"] == before:
        return f"{name} resolved without asking the name server (nsswitch, /etc/hosts?)"
    if found.stdout.strip() != LOOPBACK:
        return f"{name} resolved to {found.stdout.strip()!r}, not {LOOPBACK}"
    return None


_SUMMARY = re.compile(r"snisweep: (\d+) endpoint\(s\) in ([\d.]+) s")


def _scan(
    endpoint_list: Path,
    report: Path,
    *options: str,
    prefix: Sequence[str] = (),
    deadline: float | None = None,
    sample_tree: bool = False,
) -> sweep.Scan:
    """``sweep.scan``, with the command run under ``prefix`` (the mount namespace) and, with a
    ``deadline``, stopped by SIGTERM after that many seconds (``timeout``'s exit code 124)."""
    command = [*sweep.COMMAND, "scan", str(endpoint_list), "-o", str(report), "--no-progress"]
    command += options
    if deadline is not None:
        command = ["timeout", "--kill-after=10", f"{deadline:g}", *prefix, *command]
    else:
        command = [*prefix, *command]
    run = measure.run(command, check=False, sample_tree=sample_tree)
    if run.returncode != 0 and not (deadline is not None and run.returncode in (124, 137)):
        raise measure.CommandFailed(run)
    found = _SUMMARY.search(run.stderr)
    verdicts = {name: int(count) for name, count in re.findall(r"\b([a-z]+) (\d+)", run.stderr)}
    return sweep.Scan(
        run=run,
        endpoints=int(found.group(1)) if found else None,
        elapsed=float(found.group(2)) if found else None,
        verdicts={name: verdicts.get(name, 0) for name in sweep.VERDICTS},
    )


def _entry(service: Service, index: int, *, address: str | None, port: int | None = None) -> str:
    pinned = f", address: {address}" if address else ""
    sni = f", sni: {service.sni}" if service.sni else ""
    return f"  - {{host: {service.host(index)}{pinned}, port: {port or service.port}{sni}}}\n"


def _write(path: Path, entries: Iterator[str], defaults: str = "") -> Path:
    with path.open("w") as f:
        if defaults:
            f.write(f"defaults: {{{defaults}}}\n")
        f.write("endpoints:\n")
        f.writelines(entries)
    return path


def _outcomes(report: Path) -> dict[str, int]:
    """Rows by ``verdict/reason``."""
    found: dict[str, int] = {}
    for row in sweep.report_rows(report):
        key = f"{row['verdict']}/{row['reason']}"
        found[key] = found.get(key, 0) + 1
    return found


def _shown(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{key} {count}" for key, count in sorted(outcomes.items()))


def _skipped(section: str, why: str) -> list[Figure]:
    print(f"  skipped: {why}")
    return [Figure(section, f"skipped: {why}", "skipped", verdict=INFO)]


def measure_dns(
    servers: Servers,
    workdir: Path,
    caps: sweep.Capabilities,
    *,
    endpoints: int,
    concurrency: int,
    delay_ms: float,
) -> list[Figure]:
    why = unavailable()
    if why is not None:
        return _skipped(DNS_SECTION, why)
    with name_server(delay_ms) as server:
        if isinstance(server, str):
            return _skipped(DNS_SECTION, f"no name server: {server}")
        conf = resolv_conf(workdir, server.address)
        why = _check_namespace(server, conf)
        if why is not None:
            return _skipped(DNS_SECTION, why)
        return _dns_scans(
            server,
            conf,
            servers.optional,
            workdir,
            caps,
            endpoints=endpoints,
            concurrency=concurrency,
            delay=delay_ms / 1000,
        )


def _dns_scans(
    server: NameServer,
    conf: Path,
    service: Service,
    workdir: Path,
    caps: sweep.Capabilities,
    *,
    endpoints: int,
    concurrency: int,
    delay: float,
) -> list[Figure]:
    hosts = Path("/etc/hosts").read_text(errors="replace") if Path("/etc/hosts").exists() else ""
    nsswitch = next(
        (
            " ".join(line.split())
            for line in _read("/etc/nsswitch.conf").splitlines()
            if line.startswith("hosts:")
        ),
        "hosts: ? (no /etc/nsswitch.conf)",
    )
    if f".{ZONE}" in hosts:
        raise RuntimeError(f"/etc/hosts names *.{ZONE}: the scan would not ask the name server")
    print(
        f"  name server on {server.address}:53 (UDP and TCP), +{delay * 1e3:g} ms on every A and"
        f" AAAA query under {ZONE}, each query on its own timer; the scans run in a private mount"
        f" namespace with /etc/resolv.conf = nameserver {server.address}, options timeout:5"
        f" attempts:1 ({nsswitch}); the machine's resolver is untouched"
    )
    defaults = f"timeout: {_TIMEOUT:g}, retries: 0"
    resolved = _write(
        workdir / "dns.yaml",
        (_entry(service, i, address=None) for i in range(endpoints)),
        defaults,
    )
    pinned = _write(
        workdir / "pinned.yaml",
        (_entry(service, i, address=LOOPBACK) for i in range(endpoints)),
        defaults,
    )
    options = (
        *caps.workers_option(1),
        *("--concurrency", str(concurrency), "--per-host", str(2 * concurrency)),
        *("--retries", "0"),
    )
    described = f"{caps.describe(1)}, --concurrency {concurrency}, --per-host {2 * concurrency}"
    print(f"  {endpoints} distinct names of the {service.kind} server; {described}")

    report = workdir / "dns.csv"
    namespace = in_namespace(conf, ())  # for both scans, so that both pay for it
    base = _scan(pinned, report, *options, prefix=namespace)
    base_rows = _outcomes(report)
    if sum(base_rows.values()) != endpoints or any(
        not key.startswith("optional/") for key in base_rows
    ):
        raise RuntimeError(f"the pinned scan: expected {endpoints} rows, got {_shown(base_rows)}")
    print(
        f"  (b) addresses pinned (address: {LOOPBACK}, no DNS): {base.run.wall:.2f} s wall"
        f" (the scan's own time {base.elapsed} s); rows: {_shown(base_rows)}"
    )

    waves = math.ceil(endpoints / concurrency)
    ideal = base.run.wall + waves * delay
    limit = DNS_TARGET * ideal
    # A resolver that serialises lookups would take N x delay / its threads, minutes: the scan
    # is stopped well after the target, so that the section stays short; the figure is then a
    # lower bound.
    deadline = max(_DEADLINE, 5 * limit) if shutil.which("timeout") else None

    server.stats()  # a new count of the queries held at once
    before, dropped = server.stats(), udp_receive_errors()
    through = _scan(resolved, report, *options, prefix=namespace, deadline=deadline)
    after, dropped_after = server.stats(), udp_receive_errors()
    stopped = through.run.returncode != 0
    rows = _outcomes(report)
    total = sum(rows.values())
    if total != endpoints and not stopped:
        raise RuntimeError(f"the scan through DNS: expected {endpoints} rows, got {total}")
    failures = rows.get("error/dns-failure", 0)
    missing = endpoints - total
    resolved_rows = total - failures
    queries_a, queries_aaaa = after["a"] - before["a"], after["aaaa"] - before["aaaa"]
    names_asked = after["names"] - before["names"]
    details = _dns_failure_details(report)
    if stopped:
        print(
            f"  (a) through the name server: STOPPED at the deadline, {deadline:g} s (SIGTERM);"
            f" {total} rows written, {missing} endpoints not reported; the wall time is a lower"
            " bound"
        )
    print(
        f"  (a) through the name server: {through.run.wall:.2f} s wall (the scan's own time"
        f" {through.elapsed} s); rows: {_shown(rows)}"
    )
    for line in _tail(through.run.stderr):
        print(f"      | {line}")
    if through.elapsed is None and (span := _rows_span(report)) is not None:
        print(
            f"      no summary line; the rows span {span:.1f} s (the first endpoint's start to"
            " the last one's end, from scanned_at and elapsed_ms)"
        )
    if through.elapsed is not None and base.elapsed is not None:
        print(
            f"      whole process - the scan's own time: {through.run.wall - through.elapsed:.1f} s"
            f" (pinned: {base.run.wall - base.elapsed:.1f} s): start-up, and the time from the"
            " summary line to the exit"
        )
    print(
        f"      the server saw {queries_a} A and {queries_aaaa} AAAA queries for {names_asked} new"
        f" names, at most {after['peak']} held at once (a lookup is an A and an AAAA query at"
        f" once: about {after['peak'] / 2:.0f} lookups in flight, of C = {concurrency})"
    )
    if dropped is not None and dropped_after is not None:
        print(
            f"      UDP datagrams the kernel dropped for a full receive buffer meanwhile (any"
            f" socket, /proc/net/snmp RcvbufErrors): {dropped_after - dropped}"
        )
    for detail, count in details:
        print(f"      dns-failure x{count}: {detail}")

    ratio = through.run.wall / ideal
    verdict = judge(through.run.wall, limit) if failures == 0 and not stopped else "MISS"
    print(
        f"  (c) target: every endpoint resolves ({resolved_rows}/{endpoints}) and (a) <="
        f" {DNS_TARGET} x ((b) {base.run.wall:.2f} s + ceil({endpoints}/{concurrency}) x"
        f" {delay * 1e3:g} ms) = {DNS_TARGET} x {ideal:.2f} s = {limit:.2f} s; (a) ="
        f" {through.run.wall:.2f} s = {ratio:.2f} x: {verdict}"
    )
    size_note = "" if endpoints == 2000 and concurrency == 200 else " (target judged at 2000/200)"
    return [
        Figure(
            DNS_SECTION,
            f"{endpoints} names at +{delay * 1e3:g} ms, C={concurrency}, {caps.describe(1)},"
            " through DNS, whole process",
            f"{'>= ' if stopped else ''}{through.run.wall:.2f} s, {failures} dns-failure"
            + (f", {missing} unreported (stopped)" if stopped else ""),
            f"pinned {base.run.wall:.2f} s + {waves} x {delay * 1e3:g} ms = {ideal:.2f} s",
            f"{ratio:.2f}",
            f"<= {DNS_TARGET} x, 0 dns-failure{size_note}",
            verdict if not size_note else INFO,
        ),
        Figure(
            DNS_SECTION,
            "lookups in flight at once (A+AAAA held by the server / 2)",
            f"{after['peak'] / 2:.0f}",
            f"C = {concurrency}",
            f"{after['peak'] / 2 / concurrency:.2f}",
        ),
    ]


def _tail(stderr: str, lines: int = 3) -> list[str]:
    """The last lines of a scan's standard error: its summary, and any note after it."""
    found = [line for line in stderr.strip().splitlines() if line.strip()][-lines:]
    return found or ["(nothing on standard error)"]


def _rows_span(report: Path) -> float | None:
    """Seconds from the first endpoint's start to the last one's end, from the report."""
    starts, ends = [], []
    for row in sweep.report_rows(report):
        with contextlib.suppress(KeyError, ValueError):
            started = datetime.fromisoformat(row["scanned_at"]).timestamp()
            starts.append(started)
            ends.append(started + int(row["elapsed_ms"]) / 1000)
    return max(ends) - min(starts) if starts else None


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _dns_failure_details(report: Path) -> list[tuple[str, int]]:
    """The distinct ``detail`` texts of the dns-failure rows (names replaced by ``NAME``)."""
    found: dict[str, int] = {}
    for row in sweep.report_rows(report):
        if row["reason"] == "dns-failure":
            detail = row["detail"].replace(row["host"], "NAME")
            found[detail] = found.get(detail, 0) + 1
    return sorted(found.items(), key=lambda item: -item[1])[:3]


def default_per_host() -> int | None:
    """``--per-host``'s default, from ``snisweep scan --help``."""
    helptext = subprocess.run(
        [*sweep.COMMAND, "scan", "--help"], capture_output=True, text=True, check=True
    ).stdout
    section = helptext.split("\n  --per-host", 1)[-1].split("\n  --", 1)[0]
    found = re.search(r"\(default:? (\d+)\)", " ".join(section.split()))
    return int(found.group(1)) if found else None


def measure_names(
    servers: Servers,
    workdir: Path,
    caps: sweep.Capabilities,
    *,
    endpoints: int,
    delay_ms: float,
) -> list[Figure]:
    service = servers.optional
    default = default_per_host()
    print(
        f"  {endpoints} distinct names, all address: {LOOPBACK}, behind the relay (+{delay_ms:g}"
        f" ms per chunk in each direction) in front of the {service.kind} server; snisweep's"
        f" defaults (--per-host {default if default is not None else '?'}, default workers),"
        " then --per-host P"
    )
    report = workdir / "names.csv"
    with delaying_relay(service.port, delay_ms) as port:
        names = _write(
            workdir / "names.yaml",
            (_entry(service, i, address=LOOPBACK, port=port) for i in range(endpoints)),
            f"timeout: {_NAMES_TIMEOUT:g}",
        )

        def scan(*options: str, sample_tree: bool = False) -> tuple[sweep.Scan, float]:
            result = _scan(names, report, *options, sample_tree=sample_tree)
            rows = _outcomes(report)
            if sum(rows.values()) != endpoints or any(
                not key.startswith("optional/") for key in rows
            ):
                raise RuntimeError(f"expected {endpoints} optional rows, got {_shown(rows)}")
            own = result.elapsed if result.elapsed is not None else result.run.wall
            return result, own

        plain, plain_own = scan(sample_tree=True)
        print(
            f"  defaults: {plain_own:.1f} s (whole process {plain.run.wall:.2f} s;"
            f" {plain.run.tree_processes} process(es) at once: the parent and its workers)"
        )
        print("  the default scan's summary (last lines of its stderr):")
        for line in _tail(plain.run.stderr):
            print(f"    | {line}")
        unlimited, unlimited_own = scan("--per-host", str(NAMES_UNLIMITED))
        print(
            f"  --per-host {NAMES_UNLIMITED}: {unlimited_own:.1f} s (whole process"
            f" {unlimited.run.wall:.2f} s)"
        )
        table: list[tuple[int, sweep.Scan, float]] = []
        for per_host in NAMES_PER_HOST:
            if per_host == default:
                table.append((per_host, plain, plain_own))
                continue
            result, own = scan("--per-host", str(per_host))
            table.append((per_host, result, own))
    table.append((NAMES_UNLIMITED, unlimited, unlimited_own))

    print("  --per-host   scan's own time   whole process   x the --per-host 200 time")
    for per_host, result, own in table:
        mark = " (the default's scan)" if per_host == default else ""
        print(
            f"  {per_host:>10}   {own:>13.1f} s   {result.run.wall:>11.2f} s  "
            f" {own / unlimited_own:>6.2f}{mark}"
        )
    ratio = plain_own / unlimited_own
    explained = [line for line in plain.run.stderr.splitlines() if "per-host" in line]
    if ratio <= NAMES_TARGET:
        verdict, why = PASS, "within the target"
    elif explained:
        verdict, why = PASS, "over the target, and the summary explains the limit"
    else:
        verdict, why = "MISS", "over the target, and the summary does not mention --per-host"
    print(
        f"  defaults {plain_own:.1f} s against --per-host {NAMES_UNLIMITED} {unlimited_own:.1f} s"
        f" = {ratio:.2f} x (target <= {NAMES_TARGET} x, or the summary explains): {verdict}"
        f" ({why})"
    )
    figures = [
        Figure(
            NAMES_SECTION,
            f"{endpoints} names on one address, +{delay_ms:g} ms, defaults, scan's own time",
            f"{plain_own:.1f} s",
            f"--per-host {NAMES_UNLIMITED} {unlimited_own:.1f} s",
            f"{ratio:.2f}",
            f"<= {NAMES_TARGET} x, or explained",
            verdict,
        )
    ]
    figures += [
        Figure(
            NAMES_SECTION,
            f"same, --per-host {per_host}" + (" (the default)" if per_host == default else ""),
            f"{own:.1f} s",
            f"--per-host {NAMES_UNLIMITED} {unlimited_own:.1f} s",
            f"{own / unlimited_own:.2f}",
        )
        for per_host, _result, own in table[:-1]
    ]
    return figures


if __name__ == "__main__":
    main()
