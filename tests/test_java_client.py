"""Integration: does a real Java client agree with snisweep's row for the same endpoint?

The user's question is "will my Java client work against this endpoint?": typically an
integration platform on Java 17 with SNI switched off, host name verification on, that sends an
HTTP request after the handshake. ``tests/java/SniClient.java`` is that client (stock JSSE, only
the lab's CA trusted); it runs once, in one JVM, for every lab scenario with SNI off and with SNI
on, and for a set of names against a server that records the SNI it receives. The rules:

- SNI off: Java works (handshake, host name verification, an HTTP status other than 400, 403,
  421) exactly when snisweep says ``optional`` (scenarios whose verdict is not ``error``), unless
  a warning says that the connection Java gets without SNI fails too (``expected_without_sni``:
  a long chain, an old protocol, or the very certificate that has expired or does not cover
  the name);
- SNI on: Java fails when the verdict is ``error`` or a warning says it will
  (``JAVA_FAILS_WITH_SNI``), and otherwise works; where snisweep warns ``java-sends-no-sni``,
  Java with SNI "on" sends none and must behave as it does with SNI off;
- the names Java puts in its SNI, and the names its host name verification accepts at all, are
  pinned, and snisweep's ``java-sends-no-sni`` must follow them.

The Java client is the judge: a disagreement is snisweep's bug (or the lab's) until shown
otherwise. Skipped where ``java`` is not on the PATH.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
import trustme

from snisweep.core.pitfalls import java_accepts_name, java_sends_sni
from snisweep.core.record import Record
from snisweep.core.trust import TrustChecker, TrustStore
from snisweep.lab import Lab, Scenario
from snisweep.lists.load import load
from snisweep.lists.rules import normalise_host
from snisweep.model import Reason, Verdict
from snisweep.net.probe import TLSProber
from snisweep.run.scheduler import Limits, Scanner

JAVA = shutil.which("java")
CLIENT = Path(__file__).parent / "java" / "SniClient.java"

pytestmark = [
    pytest.mark.skipif(JAVA is None, reason="no java on the PATH"),
    pytest.mark.timeout(120),
]

# Java's own timeouts, connect and read (the handshake and the status line), per check.
JAVA_TIMEOUT_MS = 3000
# The whole JVM run: compiling the source file, starting, and every check (in parallel).
JVM_TIMEOUT = 90.0
# Statuses that refuse the request (contract: nosni-http-refused / nosni-http-misdirected).
REFUSING_STATUSES = frozenset({400, 403, 421})
# Warning codes that say a Java client with SNI on fails at this endpoint.
# (no-ip-san too: "every verifying client fails, SNI or not", and Java does.)
JAVA_FAILS_WITH_SNI = frozenset(
    {
        "sni-warning-alert",
        "chain-too-long",
        "legacy-tls",
        "cert-expired",
        "sni-cert-not-covering",
        "no-ip-san",
    }
)
# Warning codes that say Java fails without SNI too, on an ``optional`` row: the server's
# protocol, and IP literals (whose one probe is made without SNI).
JAVA_FAILS_ANYWAY = frozenset({"legacy-tls", "no-ip-san"})
# ... and those about the certificate or chain with SNI, which Java also gets without SNI when
# the reason says it is the same one.
JAVA_FAILS_ON_SAME_CERTIFICATE = frozenset(
    {"chain-too-long", "cert-expired", "sni-cert-not-covering"}
)
JAVA_SENDS_NO_SNI = "java-sends-no-sni"


@dataclass(frozen=True, slots=True)
class NameCase:
    """What a stock Java 17 does with one host name given to ``createSocket``."""

    sni: str | None  # the server_name it sends with SNI on (None: no SNI extension at all)
    verifies_on: bool  # whether its host name verification accepts the name, SNI on
    verifies_off: bool  # ... and with SNI off (the certificate covers the name either way)


# The rules these pin (JDK 17.0.15; the same code in JDK 25):
# - SNI: ``sun.security.ssl.Utilities.rawToSNIHostName`` drops one trailing dot, then sends the
#   name only when it has a dot that is not its first character, is no IP literal, and
#   ``new SNIHostName(name)`` accepts it, that is ``IDN.toASCII(name, USE_STD3_ASCII_RULES)``:
#   letters, digits and hyphens, no hyphen at either end of a label. Anything else is silently
#   sent without SNI. A U-label goes out as its A-label, ASCII labels keep their case.
# - Host name verification: ``sun.security.util.HostnameChecker.matchDNS`` first checks
#   ``new SNIHostName(name)`` too and fails with "Illegal given domain name" otherwise, whatever
#   the certificate: a verifying Java client can never connect by a name with an underscore or
#   an edge hyphen, SNI or not. A trailing dot is dropped before (``X509TrustManagerImpl``
#   verifies the SNI name when one was sent, else the host without its trailing dot).
# JDK-8065422 brought both trailing-dot strips (JDK 19, backported to 17u in 17.0.7, and to 11u
# and 8u); older builds send no SNI for "a.example." and fail to verify it.
NAME_CASES: Mapping[str, NameCase] = {
    "a.example": NameCase("a.example", True, True),
    "intranet": NameCase(None, True, True),  # no dot: no SNI, but a valid name
    "my_app.example": NameCase(None, False, False),  # underscore
    "-bad.example": NameCase(None, False, False),  # leading hyphen
    "bad-.example": NameCase(None, False, False),  # trailing hyphen
    "a.example.": NameCase("a.example", True, True),  # trailing dot dropped (JDK-8065422)
    "127.0.0.1": NameCase(None, True, True),  # IP literal: verified against IP SANs
    "xn--bcher-kva.example": NameCase("xn--bcher-kva.example", True, True),
    "B\u00fccher.Example": NameCase("xn--bcher-kva.Example", True, True),
}
# Outcomes that depend on the JDK update, with every value accepted.
JDK_DEPENDENT: Mapping[str, frozenset[NameCase]] = {
    "a.example.": frozenset({NameCase("a.example", True, True), NameCase(None, False, False)}),
}
# What the recording server's certificate covers: every name above, as far as a certificate
# can (trustme refuses underscores and edge hyphens; ``*.example`` covers them, RFC 6125).
RECORDER_NAMES = ("*.example", "intranet", "127.0.0.1")


# --- the Java client ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    address: str
    port: int
    host: str
    sni: bool
    path: str = "/"  # "-": no HTTP request

    def line(self) -> str:
        return "\t".join(
            (
                self.id,
                self.address,
                str(self.port),
                self.host,
                "on" if self.sni else "off",
                self.path,
            )
        )


@dataclass(frozen=True, slots=True)
class JavaOutcome:
    outcome: str  # "ok 200", "tls-ok", "no-status closed", "fail javax.net.ssl....: ..."
    protocol: str  # "TLSv1.3", or "-" when no handshake completed
    sent_sni: str  # the server names Java configured for its ClientHello, "-" for none

    @property
    def status(self) -> int | None:
        if self.outcome.startswith("ok "):
            return int(self.outcome.removeprefix("ok "))
        return None

    @property
    def handshake_done(self) -> bool:
        return not self.outcome.startswith("fail ")

    @property
    def works(self) -> bool:
        """Handshake, host name verification, and a status that does not refuse the request."""
        if self.outcome == "tls-ok":
            return True
        return self.status is not None and self.status not in REFUSING_STATUSES

    def __str__(self) -> str:
        return f"{self.outcome} [{self.protocol}]"


@dataclass(frozen=True, slots=True)
class JavaRun:
    outcomes: Mapping[str, JavaOutcome]
    stderr: str
    command: str


def java_environment() -> dict[str, str]:
    """The environment without the variables that would make it anything but a stock JVM."""
    env = dict(os.environ)
    for name in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "CLASSPATH"):
        env.pop(name, None)
    return env


def run_java(ca_pem: Path, checks: Sequence[Check]) -> JavaRun:
    """One JVM for every check. JVM flags only make the start faster; no TLS setting is set."""
    assert JAVA is not None
    command = [
        JAVA,
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        str(CLIENT),
        "--ca",
        str(ca_pem),
        "--timeout-ms",
        str(JAVA_TIMEOUT_MS),
        "--threads",
        str(max(1, len(checks))),
    ]
    shown = " ".join(command)
    try:
        done = subprocess.run(
            command,
            input="".join(check.line() + "\n" for check in checks),
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=JVM_TIMEOUT,
            env=java_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        pytest.fail(f"{shown} ran for more than {JVM_TIMEOUT:g} s; stderr:\n{err}")
    if done.returncode != 0:
        pytest.fail(
            f"{shown} exited with {done.returncode}; stderr:\n{done.stderr}\nstdout:\n{done.stdout}"
        )
    outcomes: dict[str, JavaOutcome] = {}
    for line in done.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) == 4:
            outcomes[fields[0]] = JavaOutcome(fields[1], fields[2], fields[3])
    missing = [check.id for check in checks if check.id not in outcomes]
    if missing:
        pytest.fail(
            f"{shown}: no result for {missing}; stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return JavaRun(outcomes, done.stderr, shown)


# --- a server that records the SNI it receives ----------------------------------------------


class SniRecorder:
    """One TLS listener per name (so that parallel checks cannot be mixed up) on 127.0.0.1,
    recording the server_name of every ClientHello (None: no SNI). Its certificate covers
    ``RECORDER_NAMES``."""

    def __init__(self, ca: trustme.CA, keys: Sequence[str]) -> None:
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(*RECORDER_NAMES).configure_cert(self._context)
        self._context.sni_callback = self._record
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._listeners: dict[str, socket.socket] = {}
        self._seen: dict[int, list[str | None]] = {}
        self.ports: dict[str, int] = {}
        try:
            for key in keys:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._listeners[key] = listener
                listener.bind(("127.0.0.1", 0))
                listener.listen(8)
                listener.settimeout(0.1)
                port: int = listener.getsockname()[1]
                self.ports[key] = port
                self._seen[port] = []
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> SniRecorder:
        for listener in self._listeners.values():
            self._spawn(self._accept_loop, listener)
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def seen(self, key: str) -> list[str | None]:
        with self._lock:
            return list(self._seen[self.ports[key]])

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5.0)
        for listener in self._listeners.values():
            listener.close()

    def _spawn(self, target: Callable[[socket.socket], None], sock: socket.socket) -> None:
        thread = threading.Thread(target=target, args=(sock,), daemon=True)
        self._threads.append(thread)
        thread.start()

    def _record(self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: object) -> None:
        if isinstance(sock, ssl.SSLSocket):  # always, for wrap_socket
            with contextlib.suppress(Exception), self._lock:
                self._seen[sock.getsockname()[1]].append(name)

    def _accept_loop(self, listener: socket.socket) -> None:
        handlers: list[threading.Thread] = []
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            handler = threading.Thread(target=self._handshake, args=(conn,), daemon=True)
            handlers.append(handler)
            handler.start()
        for handler in handlers:
            handler.join(5.0)

    def _handshake(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(Exception):
            conn.settimeout(5.0)
            with self._context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)  # the client closes (or aborts, when it refuses the name)


# --- snisweep's rows ------------------------------------------------------------------------


def name_entry(name: str, port: int, address: str) -> str:
    """One endpoint mapping (JSON-quoted scalars are valid YAML) labelled ``name:NAME``."""
    return (
        f"  - host: {json.dumps(name)}\n    port: {port}\n    address: {address}\n"
        f"    label: {json.dumps('name:' + name)}\n"
    )


async def scan(config_yaml: str, trust: TrustStore) -> list[Record]:
    """The scanner as tests/test_lab_scan.py runs it: config, Scanner, TLSProber, in-process,
    trusting what the Java client trusts (the lab's CA)."""
    endpoints = load(["-"], stdin=io.StringIO(config_yaml))
    send, receive = anyio.create_memory_object_stream[Record](100)
    records: list[Record] = []
    scanner = Scanner(TLSProber(chain=True), limits=Limits(), trust=TrustChecker(trust))
    async with anyio.create_task_group() as group:
        group.start_soon(scanner.run, endpoints, send)
        async with receive:
            async for record in receive:
                records.append(record)
    return records


def warnings_of(record: Record) -> tuple[str, ...] | None:
    """The row's warning codes; None while records have no ``warnings`` field."""
    found: object = getattr(record, "warnings", None)
    if found is None:
        return None
    assert isinstance(found, tuple | list), f"warnings is {found!r}"
    return tuple(str(code) for code in found)


def describe_row(record: Record) -> str:
    warnings = warnings_of(record)
    shown = "(no warnings field)" if warnings is None else "[" + ",".join(warnings) + "]"
    text = f"{record.verdict}/{record.reason} {shown}"
    statuses = (
        getattr(record, "sni_http_status", None),
        getattr(record, "nosni_http_status", None),
    )
    if statuses != (None, None):
        text += f" http sni={statuses[0]} nosni={statuses[1]}"
    return text


# --- the session: lab, scan, recorder and one JVM -------------------------------------------


@dataclass(frozen=True, slots=True)
class Session:
    scenarios: tuple[Scenario, ...]
    rows: Mapping[str, Record]  # by scenario name
    name_rows: Mapping[str, Record]  # by name, for NAME_CASES (when snisweep took it)
    off: Mapping[str, JavaOutcome]  # by scenario name
    on: Mapping[str, JavaOutcome]
    names_on: Mapping[str, JavaOutcome]  # by name, for NAME_CASES
    names_off: Mapping[str, JavaOutcome]
    seen_on: Mapping[str, list[str | None]]  # the SNI the recorder got, by name
    seen_off: Mapping[str, list[str | None]]
    java: JavaRun

    def table(self) -> str:
        width = max(len(s.name) for s in self.scenarios)
        lines = [f"{'scenario':<{width}}  snisweep | java sni off | java sni on"]
        for scenario in self.scenarios:
            row = self.rows.get(scenario.name)
            lines.append(
                f"{scenario.name:<{width}}  {describe_row(row) if row else '(no row)'}"
                f" | {self.off[scenario.name]} | {self.on[scenario.name]}"
            )
        lines.append("")
        lines.append(
            "name  Java's SNI on the wire | Java sni on | Java sni off | snisweep row for the name"
        )
        for name in NAME_CASES:
            row = self.name_rows.get(name)
            shown = f"{row.host}: {describe_row(row)}" if row else "(scanned as another entry)"
            lines.append(
                f"{name!r}  {self.seen_on[name]} | {self.names_on[name]}"
                f" | {self.names_off[name]} | {shown}"
            )
        return "\n".join(lines)

    def context(self) -> str:
        return f"{self.table()}\n\n{self.java.command}\nJVM stderr:\n{self.java.stderr or '-'}"


def identity(scenario: Scenario) -> str:
    """The name a client verifies (and sends as SNI): the ``sni`` key, else the host."""
    return scenario.sni if scenario.sni is not None else scenario.host


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    ca_pem = tmp_path_factory.mktemp("java") / "lab-ca.pem"
    with Lab() as lab:
        lab.ca.cert_pem.write_to_path(str(ca_pem))
        keys = [f"{mode}:{name}" for name in NAME_CASES for mode in ("on", "off")]
        with SniRecorder(lab.ca, keys) as recorder:
            config = lab.config_yaml(timeout=1.0, retries=1)
            # The same names through snisweep, at the lab's one-certificate server: only the
            # java-sends-no-sni warning of these rows is looked at.
            same = lab.scenario("same-certificate")
            for name in NAME_CASES:
                if name != "127.0.0.1":
                    config += name_entry(name, same.port, lab.host)
            records = anyio.run(scan, config, lab.trust_store())
            rows = {r.label: r for r in records if r.label}
            checks: list[Check] = []
            for scenario in lab.scenarios:
                address = scenario.address if scenario.address is not None else scenario.host
                for sni in (False, True):
                    checks.append(
                        Check(
                            f"{'on' if sni else 'off'}:{scenario.name}",
                            address,
                            scenario.port,
                            identity(scenario),
                            sni,
                        )
                    )
            # Ids stay ASCII: the JVM's standard output need not be UTF-8.
            ids = {key: f"name{i}:{key[:3]}" for i, key in enumerate(keys)}
            for name in NAME_CASES:
                for mode in ("on", "off"):
                    key = f"{mode}:{name}"
                    port = recorder.ports[key]
                    checks.append(Check(ids[key], "127.0.0.1", port, name, mode == "on", "-"))
            java = run_java(ca_pem, checks)
            seen = {key: recorder.seen(key) for key in keys}
        scenarios = lab.scenarios
    result = Session(
        scenarios=scenarios,
        rows={s.name: rows[s.name] for s in scenarios if s.name in rows},
        name_rows={n: rows[f"name:{n}"] for n in NAME_CASES if f"name:{n}" in rows},
        off={s.name: java.outcomes[f"off:{s.name}"] for s in scenarios},
        on={s.name: java.outcomes[f"on:{s.name}"] for s in scenarios},
        names_on={n: java.outcomes[ids[f"on:{n}"]] for n in NAME_CASES},
        names_off={n: java.outcomes[ids[f"off:{n}"]] for n in NAME_CASES},
        seen_on={n: seen[f"on:{n}"] for n in NAME_CASES},
        seen_off={n: seen[f"off:{n}"] for n in NAME_CASES},
        java=java,
    )
    print("\n" + result.table())  # shown with -s or -rP: the table is the point of this test
    return result


# --- the agreement rules --------------------------------------------------------------------


def test_every_scenario_has_a_row(session: Session) -> None:
    missing = [s.name for s in session.scenarios if s.name not in session.rows]
    assert not missing, f"snisweep wrote no row for {missing}\n\n{session.context()}"


@dataclass(frozen=True, slots=True)
class Claim:
    """What a row says about an endpoint, or what the lab expects it to say."""

    verdict: Verdict
    reason: Reason
    warnings: tuple[str, ...]
    named: bool  # a name endpoint (False: an IP literal, for which no client sends SNI)
    name: str = ""  # the name sent as SNI (empty for an IP literal)

    @classmethod
    def of_row(cls, row: Record) -> Claim:
        return cls(row.verdict, row.reason, warnings_of(row) or (), bool(row.sni), row.sni or "")

    @classmethod
    def of_scenario(cls, scenario: Scenario) -> Claim:
        warnings = tuple(str(code) for code in getattr(scenario, "warnings", ()))
        named = scenario.address is not None
        name = (scenario.sni or scenario.host) if named else ""
        return cls(scenario.verdict, scenario.reason, warnings, named, name)

    def __str__(self) -> str:
        return f"{self.verdict}/{self.reason} [{','.join(self.warnings)}]"


def expected_without_sni(claim: Claim) -> tuple[bool | None, str]:
    """Whether Java without SNI should work by ``claim`` (None: it says nothing), and the rule
    that says so."""
    if claim.verdict is Verdict.ERROR:
        return None, "verdict error: no statement about SNI"
    if claim.verdict is not Verdict.OPTIONAL:
        return False, f"verdict {claim.verdict}"
    if JAVA_SENDS_NO_SNI in claim.warnings and claim.named and not java_accepts_name(claim.name):
        # The README's java-sends-no-sni: a name with "_" or an edge hyphen is refused by
        # Java's host name check itself (java_accepts_name), whatever the server does.
        return False, f"optional, but {JAVA_SENDS_NO_SNI} on a name Java refuses outright"
    fatal = sorted(JAVA_FAILS_ANYWAY.intersection(claim.warnings))
    if fatal:
        return False, "optional, but warning " + ",".join(fatal)
    fatal = sorted(JAVA_FAILS_ON_SAME_CERTIFICATE.intersection(claim.warnings))
    if fatal and claim.reason in (Reason.SAME_CERTIFICATE, Reason.IP_LITERAL):
        return False, f"optional/{claim.reason}, but warning " + ",".join(fatal)
    if fatal and "sni-cert-not-covering" not in fatal:
        # Another certificate without SNI: whether it too has expired, or came in a long chain,
        # the row does not say.
        return None, f"optional/{claim.reason} with warning " + ",".join(fatal)
    return True, f"optional/{claim.reason}"


def expected_with_sni(claim: Claim) -> tuple[bool | None, str]:
    """Whether Java with SNI on should work by ``claim``, and the rule that says so."""
    if claim.verdict is Verdict.ERROR:
        return False, "verdict error"
    fatal = sorted(JAVA_FAILS_WITH_SNI.intersection(claim.warnings))
    if fatal:
        return False, "warning " + ",".join(fatal)
    if JAVA_SENDS_NO_SNI in claim.warnings and claim.named:
        # Java sends no SNI for this name even when asked: it meets the server as without SNI.
        expected, rule = expected_without_sni(claim)
        return expected, f"{JAVA_SENDS_NO_SNI}, so as without SNI: {rule}"
    return True, "no warning that Java fails"


Rule = Callable[[Claim], tuple[bool | None, str]]


def hint(java: JavaOutcome) -> str:
    if "Illegal given domain name" in java.outcome:
        return (
            "; Java's host name verification refuses this name outright, SNI or not"
            " (pitfalls.java_accepts_name should say so)"
        )
    return ""


def disagreements(session: Session, mode: str, rule: Rule) -> list[str]:
    """One line per scenario where Java contradicts snisweep's row, saying whether the lab's
    own expectation agrees with Java (then snisweep is wrong) or not (then both are)."""
    outcomes = session.on if mode == "on" else session.off
    found = []
    for scenario in session.scenarios:
        row = session.rows.get(scenario.name)
        if row is None:
            continue
        java = outcomes[scenario.name]
        expected, why = rule(Claim.of_row(row))
        if expected is None or java.works == expected:
            continue
        lab = Claim.of_scenario(scenario)
        lab_expected, lab_why = rule(lab)
        if lab_expected == java.works:
            judgement = f"The lab expects {lab} ({lab_why}), as Java shows: snisweep is wrong"
        else:
            judgement = f"The lab expects {lab} too: the lab's expectation is wrong as well"
        found.append(
            f"{scenario.name}: snisweep says {describe_row(row)} ({why}), but Java with SNI"
            f" {mode} {'works' if java.works else 'fails'}: {java}. {judgement}{hint(java)}"
        )
    return found


def test_java_without_sni_works_exactly_when_snisweep_says_optional(session: Session) -> None:
    found = disagreements(session, "off", expected_without_sni)
    assert not found, "\n".join(found) + "\n\n" + session.context()


def test_java_with_sni_fails_exactly_where_snisweep_warns(session: Session) -> None:
    found = disagreements(session, "on", expected_with_sni)
    assert not found, "\n".join(found) + "\n\n" + session.context()


def test_the_names_java_sends_as_sni_and_verifies(session: Session) -> None:
    problems = []
    for name, expected in NAME_CASES.items():
        on, off = session.seen_on[name], session.seen_off[name]
        if len(on) != 1 or len(off) != 1:
            problems.append(f"{name!r}: the recorder saw {on} with SNI on, {off} with SNI off")
            continue
        got = NameCase(
            on[0], session.names_on[name].handshake_done, session.names_off[name].handshake_done
        )
        if got not in JDK_DEPENDENT.get(name, frozenset({expected})):
            problems.append(
                f"{name!r}: Java did {got}, expected {expected}"
                f" (sni on: {session.names_on[name]}; sni off: {session.names_off[name]})"
            )
        if off[0] is not None:
            problems.append(f"{name!r}: Java with SNI off sent SNI {off[0]!r}")
        configured = session.names_on[name].sent_sni
        if (None if configured == "-" else configured) != on[0]:
            problems.append(
                f"{name!r}: SSLParameters.getServerNames() said {configured!r}, the wire {on[0]!r}"
            )
    assert not problems, "\n".join(problems) + f"\n\n{session.context()}"


def test_snisweep_warns_java_sends_no_sni_exactly_where_java_sends_none(
    session: Session,
) -> None:
    found = []
    for name in NAME_CASES:
        seen = session.seen_on[name]
        row = session.name_rows.get(name)
        if row is None or len(seen) != 1:
            continue
        warnings = warnings_of(row)
        warned = warnings is not None and JAVA_SENDS_NO_SNI in warnings
        if warned != (seen[0] is None):
            found.append(
                f"{name!r} (snisweep host {row.host!r}): Java sent SNI {seen[0]!r}, snisweep's"
                f" row {describe_row(row)}"
            )
    assert not found, "\n".join(found)


def test_snisweep_java_sni_rule_matches_the_jdk(session: Session) -> None:
    found = []
    for name in NAME_CASES:
        seen = session.seen_on[name]
        if len(seen) != 1:
            continue
        host, is_ip = normalise_host(name)  # snisweep asks the rule about normalised hosts
        predicted = not is_ip and java_sends_sni(host)
        if predicted != (seen[0] is not None):
            found.append(f"java_sends_sni({name!r}) is {predicted}, but Java sent SNI {seen[0]!r}")
        # Where Java's host name check refuses the name itself, no handshake is ever completed
        # (names_off verifies with SNI off; the recorder's certificate covers every name).
        accepted = is_ip or java_accepts_name(host)
        if accepted != session.names_off[name].handshake_done:
            found.append(
                f"java_accepts_name({name!r}) is {accepted}, but Java without SNI did"
                f" {session.names_off[name]}"
            )
    assert not found, "\n".join(found)


# Warnings under which Java with SNI on fails before, or whatever, its trust decision: a
# warning alert, an old protocol; and a name Java sends no SNI for (it meets another server).
JAVA_FAILS_BEFORE_TRUST = frozenset({"sni-warning-alert", "legacy-tls", JAVA_SENDS_NO_SNI})


def test_java_trusts_exactly_the_chains_snisweep_calls_trusted(session: Session) -> None:
    # Java trusts the lab's CA only, and so did the scan: sni_cert_trusted must say whether
    # Java with SNI on gets through its trust manager and host name check.
    found = []
    compared = 0
    for scenario in session.scenarios:
        row = session.rows.get(scenario.name)
        if row is None or row.sni_cert_trusted is None:
            continue
        if JAVA_FAILS_BEFORE_TRUST.intersection(warnings_of(row) or ()):
            continue
        compared += 1
        java = session.on[scenario.name]
        if java.handshake_done != row.sni_cert_trusted:
            found.append(
                f"{scenario.name}: snisweep says sni_cert_trusted={row.sni_cert_trusted}"
                f" ({row.sni_trust_error}), but Java with SNI on: {java}"
            )
    assert compared >= 10
    assert not found, "\n".join(found) + "\n\n" + session.context()
