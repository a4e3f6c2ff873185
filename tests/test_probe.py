"""The probe against the embedded lab's real TLS servers on 127.0.0.1, and its pure helpers."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from snisweep.core.classify import classify
from snisweep.core.record import Record, build
from snisweep.lab import Lab, Scenario
from snisweep.model import (
    Endpoint,
    Failure,
    FailureKind,
    Handshake,
    HttpAnswer,
    HttpOutcome,
    Observation,
    Target,
    TLSVersion,
)
from snisweep.net.http import request
from snisweep.net.probe import TLSProber, _Cleartext, alert_name, failure_from
from snisweep.report.writers import CSVEncoder


async def dial(  # noqa: PLR0917 - the scheduler's order, for short calls
    prober: TLSProber,
    address: str,
    port: int,
    server_name: str | None,
    timeout: float,
    request: bytes | None = None,
    **settings: object,
) -> Observation:
    """One probe of ``address``, as the scheduler makes it for an endpoint with these settings."""
    endpoint = Endpoint(
        host=server_name or address,
        port=port,
        sni=server_name,
        timeout=timeout,
        **settings,  # type: ignore[arg-type]
    )
    return await prober(Target(endpoint, address), server_name, request)


pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


def scenario(lab: Lab, name: str) -> Scenario:
    return next(s for s in lab.scenarios if s.name == name)


@pytest.mark.parametrize(
    ("reason", "alert"),
    [
        ("TLSV1_UNRECOGNIZED_NAME", "unrecognized_name"),
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", "handshake_failure"),
        ("TLSV1_ALERT_INTERNAL_ERROR", "internal_error"),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "certificate_required"),
        ("TLSV1_ALERT_PROTOCOL_VERSION", "protocol_version"),
        ("WRONG_VERSION_NUMBER", None),
        ("TLSV1_SOMETHING_ELSE", None),
        (None, None),
    ],
)
def test_alert_name(reason: str | None, alert: str | None) -> None:
    assert alert_name(reason) == alert


def test_failure_from_walks_causes() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as exc:
            raise OSError("All connection attempts failed") from exc
    except OSError as outer:
        failure = failure_from(outer, connected=False)
    assert failure.kind is FailureKind.CONNECT_REFUSED


def test_failure_from_unknown_bug_is_internal() -> None:
    assert failure_from(ValueError("x"), connected=True).kind is FailureKind.INTERNAL


async def test_handshake_with_and_without_sni(lab: Lab) -> None:
    s = scenario(lab, "default-certificate")
    probe = TLSProber()
    with_sni = await dial(probe, "127.0.0.1", s.port, s.host, 2.0)
    without_sni = await dial(probe, "127.0.0.1", s.port, None, 2.0)
    assert isinstance(with_sni, Handshake)
    assert isinstance(without_sni, Handshake)
    assert with_sni.certificate is not None
    assert without_sni.certificate is not None
    assert s.host in with_sni.certificate.dns_names
    assert s.host not in without_sni.certificate.dns_names
    assert with_sni.tls_version.startswith("TLSv1.")
    assert with_sni.cipher


@pytest.mark.parametrize(
    ("name", "kind", "alert"),
    [
        ("strict-alert", FailureKind.ALERT, "unrecognized_name"),
        ("handshake-failure", FailureKind.ALERT, "handshake_failure"),
        ("reset", FailureKind.RESET, None),
        ("close", FailureKind.CLOSED, None),
        ("hang", FailureKind.HANDSHAKE_TIMEOUT, None),
        ("silent", FailureKind.HANDSHAKE_TIMEOUT, None),
        ("not-tls", FailureKind.NOT_TLS, None),
        ("refused", FailureKind.CONNECT_REFUSED, None),
    ],
)
async def test_failures_without_sni_are_named_precisely(
    lab: Lab, name: str, kind: FailureKind, alert: str | None
) -> None:
    s = scenario(lab, name)
    observation = await dial(TLSProber(), "127.0.0.1", s.port, None, 0.5)
    assert isinstance(observation, Failure), observation
    assert observation.kind is kind, observation
    assert observation.alert == alert


async def test_connect_timeout_on_a_listener_that_never_accepts() -> None:
    # A listening socket with a full, never-drained backlog: the SYN is never answered on some
    # kernels and accepted on others, so allow both timeouts; what matters is no exception.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        observation = await dial(TLSProber(), "127.0.0.1", port, "x.test", 0.3)
    assert isinstance(observation, Failure)
    assert observation.kind in (FailureKind.CONNECT_TIMEOUT, FailureKind.HANDSHAKE_TIMEOUT)


# --- the HTTP check against servers that answer anything ------------------------------------


Answer = Callable[[ssl.SSLSocket], None]


class _AnsweringServer:
    """A blocking TLS server in a thread (real alerts, real closes) that completes each
    handshake, reads the request, and then lets ``answer`` do whatever it likes."""

    def __init__(self, answer: Answer, context: ssl.SSLContext) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(5)
            with self._context.wrap_socket(conn, server_side=True) as tls:
                self.requests.append(tls.recv(65536))
                self.answer(tls)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(2)


@pytest.fixture(scope="module")
def server_context() -> ssl.SSLContext:
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("http.test").configure_cert(context)
    return context


@contextlib.contextmanager
def answering(answer: Answer, context: ssl.SSLContext) -> Iterator[_AnsweringServer]:
    server = _AnsweringServer(answer, context)
    try:
        yield server
    finally:
        server.close()


def send(data: bytes) -> Answer:
    def answer(tls: ssl.SSLSocket) -> None:
        tls.sendall(data)

    return answer


def drip(data: bytes, pause: float) -> Answer:
    def answer(tls: ssl.SSLSocket) -> None:
        for byte in data:
            tls.sendall(bytes([byte]))
            time.sleep(pause)

    return answer


def wait(seconds: float) -> Answer:
    def answer(tls: ssl.SSLSocket) -> None:
        time.sleep(seconds)

    return answer


def reset(tls: ssl.SSLSocket) -> None:
    tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def close_notify(tls: ssl.SSLSocket) -> None:
    tls.unwrap()


NOW = datetime(2026, 12, 1, tzinfo=UTC)
REQUEST = request("http.test", 8443, "/health?x=1", "test")
STATUS = HttpOutcome.STATUS


@pytest.mark.parametrize(
    ("answer", "outcome", "status"),
    [
        (send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), STATUS, 200),
        (send(b"HTTP/1.1 403 Forbidden\r\n\r\n"), STATUS, 403),
        (send(b"HTTP/1.1 421 Misdirected Request\r\n\r\n"), STATUS, 421),
        (send(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\n"), STATUS, 404),
        (drip(b"HTTP/1.1 302 Found\r\n", 0.01), STATUS, 302),
        (send(b"\x00\xff\x1b[31m=cmd|' /C calc'!A0\r\n"), HttpOutcome.NOT_HTTP, None),
        (send(b"HTTP/1.1 200 " + b"A" * 1_000_000), HttpOutcome.NOT_HTTP, None),
        (
            send(b"HTTP/1.1 100 Continue\r\n" + b"X-Never: ending\r\n" * 5000),
            HttpOutcome.NOT_HTTP,
            None,
        ),
        (send(b"220 smtp.example ESMTP ready\r\n"), HttpOutcome.NOT_HTTP, None),
        (wait(0), HttpOutcome.CLOSED, None),  # closes right after reading the request
        (reset, HttpOutcome.CLOSED, None),
        (close_notify, HttpOutcome.CLOSED, None),
        (wait(3), HttpOutcome.TIMEOUT, None),  # says nothing within the probe's timeout
        (drip(b"HTTP/1.1 200 OK" + b"A" * 1000, 0.01), HttpOutcome.TIMEOUT, None),
    ],
    ids=[
        "200",
        "403",
        "421",
        "interim-then-404",
        "slow-drip",
        "garbage",
        "huge-line",
        "never-ending-headers",
        "smtp-banner",
        "closed",
        "reset",
        "close-notify",
        "silent",
        "endless-drip",
    ],
)
async def test_http_check_reads_only_the_status_line_within_the_timeout(
    server_context: ssl.SSLContext, answer: Answer, outcome: HttpOutcome, status: int | None
) -> None:
    timeout = 1.0
    with answering(answer, server_context) as server:
        started = time.monotonic()
        observation = await dial(
            TLSProber(), "127.0.0.1", server.port, "http.test", timeout, REQUEST
        )
        elapsed = time.monotonic() - started
    assert isinstance(observation, Handshake), observation
    assert observation.http == HttpAnswer(outcome, status)
    assert observation.certificate is not None  # the handshake's facts are kept either way
    assert server.requests == [REQUEST]
    # Never stalled past the probe's own timeout (a generous bound: a hang, not a speed test).
    assert elapsed < timeout + 1.5


async def test_plain_tls_probe_sends_no_request(server_context: ssl.SSLContext) -> None:
    with answering(send(b"HTTP/1.1 200 OK\r\n\r\n"), server_context) as server:
        observation = await dial(TLSProber(), "127.0.0.1", server.port, "http.test", 1.0, None)
        assert isinstance(observation, Handshake)
        assert observation.http is None


@settings(max_examples=25, deadline=None)
@given(answer=st.binary(max_size=2000), cut=st.integers(0, 2000))
async def test_untrusted_answers_never_crash_a_probe_or_reach_a_cell_raw(
    server_context: ssl.SSLContext, answer: bytes, cut: int
) -> None:
    def script(tls: ssl.SSLSocket) -> None:
        tls.sendall(answer[:cut])
        time.sleep(0.01)
        tls.sendall(answer[cut:])

    endpoint = Endpoint(host="http.test", port=8443, sni="http.test")
    with answering(script, server_context) as server:
        observation = await dial(TLSProber(), "127.0.0.1", server.port, "http.test", 0.5, REQUEST)
    assert isinstance(observation, Handshake)
    assert observation.http is not None
    if observation.http.status is not None:
        assert 200 <= observation.http.status <= 599

    # Nothing of the answer but its status number reaches the row: the row equals the one built
    # without the HTTP check, except for the two status cells.
    def row(seen: Handshake) -> Record:
        return build(
            endpoint,
            "127.0.0.1",
            classify(endpoint, seen, seen),
            seen,
            seen,
            attempts=2,
            elapsed_ms=1,
            scanned_at=NOW,
        )

    with_answer, without = row(observation), row(dataclasses.replace(observation, http=None))
    assert dataclasses.replace(with_answer, sni_http_status=None, nosni_http_status=None) == without
    assert with_answer.sni_http_status == observation.http.status
    line = CSVEncoder().rows([with_answer])
    assert not any(ord(ch) < 0x20 and ch not in "\r\n" for ch in line)


# --- warning alerts in the clear ------------------------------------------------------------

ALERT = b"\x15\x03\x03\x00\x02\x01\x70"  # warning unrecognized_name
SERVER_HELLO = b"\x16\x03\x03\x00\x04\x02\x00\x00\x00"
CERTIFICATE = b"\x16\x03\x03\x01\x00" + b"\x0b" + b"\x00" * 255
CCS = b"\x14\x03\x03\x00\x01\x01"
FINISHED = b"\x16\x03\x03\x00\x02\x15\x01"  # after CCS: encrypted, never read as an alert


@given(st.lists(st.integers(0, 300), max_size=6))
def test_warning_alerts_are_read_from_records_however_they_are_split(cuts: list[int]) -> None:
    stream = ALERT + SERVER_HELLO + CERTIFICATE + CCS + FINISHED + ALERT
    cleartext = _Cleartext()
    position = 0
    for cut in [*sorted(cuts), len(stream)]:
        if cut > position:
            cleartext.feed(stream[position:cut])
            position = cut
    assert cleartext.warning_alerts() == ("unrecognized_name",)
    assert cleartext.encrypted


def test_fatal_alerts_and_tls13_records_are_not_warnings() -> None:
    cleartext = _Cleartext()
    cleartext.feed(b"\x15\x03\x03\x00\x02\x02\x28")  # fatal handshake_failure
    assert cleartext.warning_alerts() == ()
    cleartext.feed(SERVER_HELLO + b"\x17\x03\x03\x00\x02\x01\x70")  # application data
    assert cleartext.encrypted
    assert cleartext.warning_alerts() == ()


async def test_warning_alert_of_a_real_tls12_server_is_seen(lab: Lab) -> None:
    s = scenario(lab, "sni-warning-alert")
    with_sni = await dial(TLSProber(), "127.0.0.1", s.port, s.host, 2.0)
    without_sni = await dial(TLSProber(), "127.0.0.1", s.port, None, 2.0)
    assert isinstance(with_sni, Handshake)
    assert isinstance(without_sni, Handshake)
    assert with_sni.warning_alerts == ("unrecognized_name",)
    assert with_sni.tls_version == "TLSv1.2"
    assert without_sni.warning_alerts == ()


async def test_chain_length_is_what_the_server_sent(lab: Lab) -> None:
    long_chain = await dial(TLSProber(), "127.0.0.1", scenario(lab, "long-chain").port, None, 2.0)
    short = await dial(TLSProber(), "127.0.0.1", scenario(lab, "same-certificate").port, None, 2.0)
    assert isinstance(long_chain, Handshake)
    assert isinstance(short, Handshake)
    assert long_chain.chain_length is not None
    assert long_chain.chain_length > 10
    assert short.chain_length == 1


# --- the client's protocol range (tls_min / tls_max) ---------------------------------------------


async def test_tls_max_emulates_an_older_client(lab: Lab) -> None:
    s = scenario(lab, "same-certificate")  # TLS 1.2 and 1.3
    newest = await dial(TLSProber(), "127.0.0.1", s.port, s.host, 2.0)
    capped = await dial(TLSProber(), "127.0.0.1", s.port, s.host, 2.0, tls_max=TLSVersion.TLS1_2)
    assert isinstance(newest, Handshake)
    assert newest.tls_version == "TLSv1.3"
    assert isinstance(capped, Handshake)
    assert capped.tls_version == "TLSv1.2"


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("legacy-tls", {"tls_min": TLSVersion.TLS1_2}),  # a TLS 1.0 server, a 1.2+ client
        ("sni-warning-alert", {"tls_min": TLSVersion.TLS1_3}),  # a TLS 1.2 server, a 1.3 client
        ("same-certificate", {"tls_max": TLSVersion.TLS1_1}),  # a 1.2+ server, a 1.1 client
    ],
)
async def test_a_server_outside_the_range_is_a_version_failure(
    lab: Lab, name: str, settings: dict[str, object]
) -> None:
    s = scenario(lab, name)
    observation = await dial(TLSProber(), "127.0.0.1", s.port, s.host, 2.0, None, **settings)
    assert isinstance(observation, Failure), observation
    assert observation.kind is FailureKind.TLS_VERSION, observation


async def test_the_chain_is_kept_for_the_trust_check(lab: Lab) -> None:
    s = scenario(lab, "long-chain")
    kept = await dial(TLSProber(chain=True), "127.0.0.1", s.port, s.host, 2.0)
    plain = await dial(TLSProber(), "127.0.0.1", s.port, s.host, 2.0)
    assert isinstance(kept, Handshake)
    assert isinstance(plain, Handshake)
    assert kept.chain is not None
    assert len(kept.chain) == kept.chain_length
    assert kept.certificate is not None
    assert hashlib.sha256(kept.chain[0]).hexdigest() == kept.certificate.sha256
    assert plain.chain is None
