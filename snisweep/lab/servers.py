"""The embedded lab: real TLS servers on loopback, one for each way a server treats a client
that sends no SNI, and for each pitfall a real client meets besides. Does I/O: binds sockets,
runs threads, makes certificates with trustme.

Used by ``snisweep demo`` and ``snisweep lab`` and as the integration-test fixture, so every
server must answer a scanner exactly as the real thing would: fatal alerts are real TLS alerts
sent by OpenSSL from an SNI callback (nginx ``ssl_reject_handshake``, strict-SNI front ends),
resets are real TCP resets, and the SNI routers decide from the ClientHello before any TLS
library sees it (HAProxy ``req.ssl_sni``, SNI proxies).

Every TLS server answers an HTTP request after the handshake, with 200 unless its spec says
otherwise for a ClientHello without SNI (403 like Apache's ``SSLStrictSNIVHostCheck``, 421 like
Apache when the default virtual host's certificate also covers the name). Servers that need the
ClientHello for that, or to send a warning-level ``unrecognized_name`` alert for a name they do
not know (Python's ``ssl`` cannot send one from its SNI callback), peek at it first, like the
routers, and write that alert record themselves before OpenSSL's ServerHello, where OpenSSL's
``s_server`` and Apache put it. The pitfalls that are certificates (a chain of twelve, an
expired one, a placeholder default, one for another name) and an old protocol (TLS 1.0 only)
are data in the server specs.

asyncio's TLS server closes without sending the alert, so the lab uses the standard library's
``ssl`` sockets: one accept thread per listener and one daemon thread per connection, so that a
connection held open by the silent server never delays another. Each connection runs its socket
in non-blocking mode so that every wait also watches one shared wake-up socket, which is how
``Lab.close`` stops them all promptly.

The scenario table (``_SERVERS`` and ``_SCENARIOS``) is data: one entry per server, one row per
endpoint to scan, each with the verdict, reason and warnings the scanner must give.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import ipaddress
import json
import re
import selectors
import socket
import ssl
import struct
import textwrap
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self, TypeVar

import trustme
from cryptography import x509

from snisweep.core.trust import TrustStore
from snisweep.lab.clienthello import (
    MAX_RECORD_BODY,
    RECORD_HEADER_LENGTH,
    ClientHello,
    parse_client_hello,
    record_length,
)
from snisweep.model import Reason, Verdict, WarningCode

__all__ = ["Lab", "Scenario"]

_T = TypeVar("_T")

# How long a client may take over its ClientHello or TLS handshake, and stay idle afterwards,
# before the lab gives up on it (real servers have such limits too; hang and silent have none).
_HANDSHAKE_TIMEOUT = 10.0
_IDLE_TIMEOUT = 10.0
# After the plain-text answer, how long to read what the client still sends: closing with unread
# bytes would make the kernel send a reset, and the client could lose the answer.
_LINGER_TIMEOUT = 1.0
# A partial ClientHello keeps the socket readable, so waiting on readiness would spin.
_PEEK_POLL = 0.01
_JOIN_TIMEOUT = 5.0
_BACKLOG = 128
_CHUNK = 65536

_NOT_TLS_ANSWER = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_HTTP_REASONS = {200: "OK", 403: "Forbidden", 421: "Misdirected Request"}
# A plaintext alert record: type alert (21), TLS 1.2, length 2, level warning (1),
# unrecognized_name (112): what OpenSSL's s_server and Apache send for a name they do not know.
_WARNING_UNRECOGNIZED_NAME = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x70])

# Stands for the lab's own IP address in a certificate's names.
_LAB_ADDRESS = "<lab address>"
# Java rejects a chain of more than 10 certificates (jdk.tls.maxCertificateChainLength): the
# long chain is a leaf and this many intermediates, and the lab CA allows that depth below it.
_LONG_CHAIN_INTERMEDIATES = 11
_CURRENT_VERSIONS = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)


class _Mode(enum.Enum):
    """How a server treats a new connection."""

    TLS = "tls"  # TLS from the first byte; the SNI callback picks the certificate or an alert
    ROUTER = "router"  # peek the ClientHello, then TLS for known names, else the fallback
    SILENT = "silent"  # accept and never send a byte
    NOT_TLS = "not-tls"  # answer in plain-text HTTP
    ABSENT = "absent"  # nothing listens: the port refuses connections


class _Otherwise(enum.Enum):
    """What a server does with a ClientHello without SNI or with a name it does not know."""

    SERVE_DEFAULT = "serve-default"
    ALERT_UNRECOGNIZED_NAME = "alert-unrecognized-name"
    ALERT_HANDSHAKE_FAILURE = "alert-handshake-failure"
    RESET = "reset"
    CLOSE = "close"
    HANG = "hang"


_ALERTS = {
    _Otherwise.ALERT_UNRECOGNIZED_NAME: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME,
    _Otherwise.ALERT_HANDSHAKE_FAILURE: ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE,
}


@dataclass(frozen=True, slots=True)
class _CertSpec:
    """A leaf certificate of the lab, issued when the Lab is made."""

    names: tuple[str, ...]  # subjectAltName entries (``_LAB_ADDRESS``: the lab's IP address)
    common_name: str | None = None  # the subject CN; None: the first name
    organization: str | None = None
    expired: bool = False  # valid only for a span that ended 30 days ago
    intermediates: int = 0  # CAs between the lab CA and the leaf; the server sends them all


@dataclass(frozen=True, slots=True)
class _ServerSpec:
    key: str
    mode: _Mode
    routes: tuple[str, ...] = ()  # the names the server knows, each with a certificate of its own
    default: _CertSpec | None = None  # the certificate served otherwise, when there is one
    otherwise: _Otherwise = _Otherwise.SERVE_DEFAULT
    versions: tuple[ssl.TLSVersion, ssl.TLSVersion] = _CURRENT_VERSIONS  # minimum, maximum
    # Send a warning-level unrecognized_name alert for a server_name not in ``routes``.
    warn_unknown_name: bool = False
    # The HTTP status for a request on a connection whose ClientHello carried no SNI.
    nosni_status: int = 200

    @property
    def peeks(self) -> bool:
        """Whether the server reads the ClientHello before its TLS library does."""
        return self.mode is _Mode.ROUTER or self.warn_unknown_name or self.nosni_status != 200


@dataclass(frozen=True, slots=True)
class _ScenarioSpec:
    name: str
    server: str
    host: str | None  # None: the lab's IP address itself, an IP-literal endpoint
    verdict: Verdict
    reason: Reason
    description: str
    sni: str | None = None
    warnings: tuple[WarningCode, ...] = ()


_SERVERS = (
    _ServerSpec("same", _Mode.TLS, default=_CertSpec(("same.lab.test", _LAB_ADDRESS))),
    _ServerSpec(
        "default",
        _Mode.TLS,
        routes=("mismatch.lab.test",),
        default=_CertSpec(("default.lab.test",)),
    ),
    _ServerSpec(
        "covering",
        _Mode.TLS,
        routes=("covering.lab.test",),
        default=_CertSpec(("*.lab.test",)),
    ),
    _ServerSpec("wildcard", _Mode.TLS, default=_CertSpec(("*.wild.lab.test",))),
    _ServerSpec(
        "strict",
        _Mode.TLS,
        routes=("strict.lab.test",),
        otherwise=_Otherwise.ALERT_UNRECOGNIZED_NAME,
    ),
    _ServerSpec(
        "handshake-failure",
        _Mode.TLS,
        routes=("handshake-failure.lab.test",),
        otherwise=_Otherwise.ALERT_HANDSHAKE_FAILURE,
    ),
    _ServerSpec("reset", _Mode.ROUTER, routes=("reset.lab.test",), otherwise=_Otherwise.RESET),
    _ServerSpec("close", _Mode.ROUTER, routes=("close.lab.test",), otherwise=_Otherwise.CLOSE),
    _ServerSpec("hang", _Mode.ROUTER, routes=("hang.lab.test",), otherwise=_Otherwise.HANG),
    _ServerSpec("silent", _Mode.SILENT),
    _ServerSpec("not-tls", _Mode.NOT_TLS),
    _ServerSpec("refused", _Mode.ABSENT),
    _ServerSpec(
        "vhost-check",
        _Mode.TLS,
        default=_CertSpec(("vhost-check.lab.test",)),
        nosni_status=403,
    ),
    _ServerSpec(
        "misdirected",
        _Mode.TLS,
        routes=("misdirected.lab.test",),
        default=_CertSpec(("*.lab.test",)),
        nosni_status=421,
    ),
    _ServerSpec(
        "warning-alert",
        _Mode.TLS,
        routes=("warn.lab.test",),
        default=_CertSpec(("*.warn.lab.test",)),
        versions=(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2),
        warn_unknown_name=True,
    ),
    _ServerSpec(
        "long-chain",
        _Mode.TLS,
        default=_CertSpec(("chain.lab.test",), intermediates=_LONG_CHAIN_INTERMEDIATES),
    ),
    _ServerSpec(
        "tls10",
        _Mode.TLS,
        default=_CertSpec(("tls10.lab.test",)),
        versions=(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1),
    ),
    _ServerSpec(
        "placeholder",
        _Mode.TLS,
        routes=("ingress.lab.test",),
        # What ingress-nginx serves when no Ingress matches (it makes it at start, self-signed).
        default=_CertSpec(
            ("ingress.local",),
            common_name="Kubernetes Ingress Controller Fake Certificate",
            organization="Acme Co",
        ),
    ),
    _ServerSpec("expired", _Mode.TLS, default=_CertSpec(("expired.lab.test",), expired=True)),
    _ServerSpec("elsewhere", _Mode.TLS, default=_CertSpec(("elsewhere.lab.test",))),
)

_SCENARIOS = (
    _ScenarioSpec(
        "same-certificate",
        "same",
        "same.lab.test",
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
        "Serves one certificate, for same.lab.test and the lab's IP address, whatever the SNI.",
    ),
    _ScenarioSpec(
        "default-certificate",
        "default",
        "mismatch.lab.test",
        Verdict.MISMATCHED,
        Reason.DEFAULT_CERTIFICATE,
        "Serves mismatch.lab.test's certificate for that SNI and, without SNI, a default"
        " certificate for default.lab.test only.",
    ),
    _ScenarioSpec(
        "covering-default",
        "covering",
        "covering.lab.test",
        Verdict.OPTIONAL,
        Reason.COVERING_CERTIFICATE,
        "Serves covering.lab.test's certificate for that SNI and, without SNI, a different"
        " default certificate for *.lab.test that still covers the name.",
    ),
    _ScenarioSpec(
        "wildcard",
        "wildcard",
        "api.wild.lab.test",
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
        "Serves one certificate whose only name is *.wild.lab.test, whatever the SNI.",
    ),
    _ScenarioSpec(
        "strict-alert",
        "strict",
        "strict.lab.test",
        Verdict.REQUIRED,
        Reason.NOSNI_ALERT_UNRECOGNIZED_NAME,
        "Knows only strict.lab.test and answers no SNI or another name with a fatal"
        " unrecognized_name alert, like nginx's ssl_reject_handshake.",
    ),
    _ScenarioSpec(
        "sni-rejected",
        "strict",
        "other.lab.test",
        Verdict.ERROR,
        Reason.SNI_REJECTED,
        "The strict-alert server asked for other.lab.test, a name it does not know, so even"
        " the handshake with SNI ends in an unrecognized_name alert.",
    ),
    _ScenarioSpec(
        "handshake-failure",
        "handshake-failure",
        "handshake-failure.lab.test",
        Verdict.REQUIRED,
        Reason.NOSNI_ALERT_HANDSHAKE_FAILURE,
        "Knows only handshake-failure.lab.test and answers no SNI or another name with a"
        " fatal handshake_failure alert.",
    ),
    _ScenarioSpec(
        "reset",
        "reset",
        "reset.lab.test",
        Verdict.REQUIRED,
        Reason.NOSNI_RESET,
        "An SNI router that resets the TCP connection when the ClientHello has no SNI or an"
        " unknown name.",
    ),
    _ScenarioSpec(
        "close",
        "close",
        "close.lab.test",
        Verdict.REQUIRED,
        Reason.NOSNI_CLOSED,
        "An SNI router that closes the connection without sending a byte when the ClientHello"
        " has no SNI or an unknown name.",
    ),
    _ScenarioSpec(
        "hang",
        "hang",
        "hang.lab.test",
        Verdict.REQUIRED,
        Reason.NOSNI_TIMEOUT,
        "An SNI router that never answers a ClientHello without SNI or with an unknown name.",
    ),
    _ScenarioSpec(
        "silent",
        "silent",
        "silent.lab.test",
        Verdict.ERROR,
        Reason.HANDSHAKE_TIMEOUT,
        "Accepts the TCP connection and never sends a byte, whatever the client sends.",
    ),
    _ScenarioSpec(
        "not-tls",
        "not-tls",
        "not-tls.lab.test",
        Verdict.ERROR,
        Reason.NOT_TLS,
        "Answers any input with a plain-text HTTP 400 response and closes.",
    ),
    _ScenarioSpec(
        "ip-literal",
        "same",
        None,
        Verdict.OPTIONAL,
        Reason.IP_LITERAL,
        "The same-certificate server dialled by IP address, for which no client sends SNI.",
        warnings=(WarningCode.JAVA_SENDS_NO_SNI,),
    ),
    _ScenarioSpec(
        "refused",
        "refused",
        "refused.lab.test",
        Verdict.ERROR,
        Reason.CONNECT_REFUSED,
        "A port where nothing listens, so the connection is refused.",
    ),
    _ScenarioSpec(
        "http-refused",
        "vhost-check",
        "vhost-check.lab.test",
        Verdict.REQUIRED,
        Reason.NOSNI_HTTP_REFUSED,
        "Completes both handshakes with the same certificate but answers a request that came"
        " without SNI with 403 Forbidden, like Apache's SSLStrictSNIVHostCheck on.",
    ),
    _ScenarioSpec(
        "http-misdirected",
        "misdirected",
        "misdirected.lab.test",
        Verdict.REQUIRED,
        Reason.NOSNI_HTTP_MISDIRECTED,
        "Serves misdirected.lab.test's certificate for that SNI and, without SNI, a default"
        " for *.lab.test that covers the name, then answers 421 Misdirected Request, like"
        " Apache.",
    ),
    _ScenarioSpec(
        "sni-warning-alert",
        "warning-alert",
        "api.warn.lab.test",
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
        "A TLS 1.2 server that knows only warn.lab.test and, for any other SNI, sends a"
        " warning unrecognized_name alert before its default certificate for *.warn.lab.test,"
        " like Apache or openssl s_server -servername.",
        warnings=(WarningCode.SNI_WARNING_ALERT,),
    ),
    _ScenarioSpec(
        "long-chain",
        "long-chain",
        "chain.lab.test",
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
        "Sends a chain of 12 certificates (the leaf and 11 intermediates), more than Java's"
        " limit of 10, whatever the SNI.",
        warnings=(WarningCode.CHAIN_TOO_LONG,),
    ),
    _ScenarioSpec(
        "legacy-tls",
        "tls10",
        "tls10.lab.test",
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
        "Speaks TLS 1.0 only and serves one certificate whatever the SNI.",
        warnings=(WarningCode.LEGACY_TLS,),
    ),
    _ScenarioSpec(
        "ip-literal-rejected",
        "strict",
        None,
        Verdict.ERROR,
        Reason.IP_LITERAL_REJECTED,
        "The strict-alert server dialled by IP address: the handshake without SNI ends in a"
        " fatal unrecognized_name alert.",
        warnings=(WarningCode.JAVA_SENDS_NO_SNI,),
    ),
    _ScenarioSpec(
        "java-no-sni",
        "wildcard",
        "java_app.wild.lab.test",
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
        "The wildcard server under a name with an underscore, which Java never sends as SNI"
        " and whose host name check refuses it outright (public CAs no longer issue such"
        " names, so a wildcard is what covers them).",
        warnings=(WarningCode.JAVA_SENDS_NO_SNI,),
    ),
    _ScenarioSpec(
        "placeholder-default",
        "placeholder",
        "ingress.lab.test",
        Verdict.MISMATCHED,
        Reason.DEFAULT_CERTIFICATE,
        "Serves ingress.lab.test's certificate for that SNI and, without SNI, ingress-nginx's"
        ' "Kubernetes Ingress Controller Fake Certificate" for ingress.local.',
        warnings=(WarningCode.PLACEHOLDER_CERTIFICATE,),
    ),
    _ScenarioSpec(
        "expired",
        "expired",
        "expired.lab.test",
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
        "Serves one certificate for expired.lab.test, expired 30 days ago, whatever the SNI.",
        warnings=(WarningCode.CERT_EXPIRED,),
    ),
    _ScenarioSpec(
        "sni-cert-not-covering",
        "elsewhere",
        "wrong-name.lab.test",
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
        "Serves one certificate, for elsewhere.lab.test only, whatever the SNI, so not even"
        " the handshake with SNI gets one for wrong-name.lab.test.",
        warnings=(WarningCode.SNI_CERT_NOT_COVERING,),
    ),
    _ScenarioSpec(
        "ip-literal-no-ip-san",
        "wildcard",
        None,
        Verdict.OPTIONAL,
        Reason.IP_LITERAL,
        "The wildcard server dialled by IP address: its certificate names no IP address.",
        warnings=(WarningCode.JAVA_SENDS_NO_SNI, WarningCode.NO_IP_SAN),
    ),
)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One endpoint of the lab and what a scan of it must conclude."""

    name: str  # short id, e.g. "strict-alert"
    host: str  # the endpoint's host as it goes in the YAML
    port: int
    address: str | None  # the lab's address for name hosts (they never resolve); None for IPs
    sni: str | None  # an explicit ``sni:`` key for the endpoint, usually None
    verdict: Verdict
    reason: Reason
    description: str  # one sentence: what this server does
    warnings: tuple[WarningCode, ...] = ()  # the column ``warnings``, in its order


class _Stopped(Exception):
    """The lab is stopping: the connection ends here."""


class _Expired(Exception):
    """A connection's deadline passed."""


class _Runtime:
    """What one start of the lab shares between its threads: the stop signal and the threads."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        # Never drained once written: from then on it is readable for every waiting thread.
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._lock = threading.Lock()
        self._connections: set[threading.Thread] = set()
        self.listeners: list[threading.Thread] = []

    def wait(self, sock: socket.socket, events: int, deadline: float | None) -> None:
        """Block until ``sock`` is ready for ``events``; raise on stop or at the deadline."""
        timeout = None if deadline is None else deadline - time.monotonic()
        if timeout is not None and timeout <= 0:
            raise _Expired
        with selectors.DefaultSelector() as selector:
            selector.register(sock, events)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            ready = selector.select(timeout)
        if self.stopping.is_set():
            raise _Stopped
        if not ready:
            raise _Expired

    def pause(self, seconds: float, deadline: float | None = None) -> None:
        """Sleep, waking early when the lab stops; raise at the deadline."""
        now = time.monotonic()
        if deadline is not None:
            if deadline <= now:
                raise _Expired
            seconds = min(seconds, deadline - now)
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_reader, selectors.EVENT_READ)
            selector.select(seconds)
        if self.stopping.is_set():
            raise _Stopped

    def spawn(self, name: str, target: Callable[[], None]) -> None:
        """Run ``target`` in a daemon thread that ``shutdown`` joins."""
        thread = threading.Thread(target=self._run, args=(target,), name=name, daemon=True)
        with self._lock:
            self._connections.add(thread)
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._connections.discard(thread)
            raise

    def _run(self, target: Callable[[], None]) -> None:
        try:
            target()
        finally:
            with self._lock:
                self._connections.discard(threading.current_thread())

    def shutdown(self) -> None:
        """Stop every thread, wait for them (bounded) and close the wake-up pair."""
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")
        deadline = time.monotonic() + _JOIN_TIMEOUT
        # Listeners first: once they are gone no new connection thread can appear.
        for thread in self.listeners:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            connections = list(self._connections)
        for thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._wake_writer.close()
        self._wake_reader.close()


def _retry(
    runtime: _Runtime,
    sock: socket.socket,
    operation: Callable[[], _T],
    deadline: float | None,
    *,
    write: bool = False,
) -> _T:
    """Run a non-blocking socket ``operation`` until it no longer needs to wait."""
    while True:
        try:
            return operation()
        except ssl.SSLWantReadError:
            runtime.wait(sock, selectors.EVENT_READ, deadline)
        except ssl.SSLWantWriteError:
            runtime.wait(sock, selectors.EVENT_WRITE, deadline)
        except BlockingIOError:
            events = selectors.EVENT_WRITE if write else selectors.EVENT_READ
            runtime.wait(sock, events, deadline)


def _send_all(runtime: _Runtime, sock: socket.socket, data: bytes, deadline: float | None) -> None:
    view = memoryview(data)
    while view:
        sent = _retry(runtime, sock, functools.partial(sock.send, view), deadline, write=True)
        view = view[sent:]


class _Server:
    """One listener of the lab and the connections it accepts."""

    def __init__(
        self,
        spec: _ServerSpec,
        runtime: _Runtime,
        host: str,
        context: ssl.SSLContext | None,
    ) -> None:
        self.spec = spec
        self._runtime = runtime
        self._context = context
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.listener.bind((host, 0))
            self.listener.listen(_BACKLOG)
            self.listener.setblocking(False)
        except BaseException:
            self.listener.close()
            raise
        self.port: int = self.listener.getsockname()[1]

    def accept_loop(self) -> None:
        # _accept_one copes with every failure a client can cause; this ends the loop when the
        # lab stops (_Stopped) and keeps anything else out of threading.excepthook.
        with contextlib.suppress(Exception):
            while True:
                self._accept_one()

    def _accept_one(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            self._runtime.wait(self.listener, selectors.EVENT_READ, None)
            return
        except OSError:
            # Out of descriptors, or the client left before accept: keep serving the others.
            self._runtime.pause(0.05)
            return
        try:
            conn.setblocking(False)
            self._runtime.spawn(
                f"snisweep-lab-{self.spec.key}-connection", lambda: self._connection(conn)
            )
        except Exception:
            conn.close()
            self._runtime.pause(0.05)

    def _connection(self, conn: socket.socket) -> None:
        # A lab server must outlive any client: whatever one connection does ends it, silently.
        with contextlib.suppress(Exception), conn:
            mode = self.spec.mode
            if mode is _Mode.TLS:
                self._serve_tls(conn, self._peek_client_hello(conn) if self.spec.peeks else None)
            elif mode is _Mode.ROUTER:
                self._route(conn)
            elif mode is _Mode.SILENT:
                self._hold(conn)
            elif mode is _Mode.NOT_TLS:
                self._answer_plain_text(conn)

    def _route(self, conn: socket.socket) -> None:
        hello = self._peek_client_hello(conn)
        if hello is not None and hello.server_name in self.spec.routes:
            self._serve_tls(conn, hello)
        elif self.spec.otherwise is _Otherwise.RESET:
            # A zero linger timeout makes close() send RST instead of FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif self.spec.otherwise is _Otherwise.CLOSE:
            # Closing with the ClientHello still unread would send a reset, not a clean FIN.
            self._drain_available(conn)
        elif self.spec.otherwise is _Otherwise.HANG:
            self._hold(conn)

    def _peek_client_hello(self, conn: socket.socket) -> ClientHello | None:
        """Peek (without consuming) until the first record is complete, bounded in time."""
        deadline = time.monotonic() + _HANDSHAKE_TIMEOUT
        data = b""
        while True:
            try:
                data = conn.recv(RECORD_HEADER_LENGTH + MAX_RECORD_BODY, socket.MSG_PEEK)
            except BlockingIOError:
                try:
                    self._runtime.wait(conn, selectors.EVENT_READ, deadline)
                except _Expired:
                    return parse_client_hello(data)
                continue
            if not data:
                raise ConnectionError("the client left before its ClientHello")
            wanted = record_length(data)
            if wanted == 0 or len(data) >= wanted:
                return parse_client_hello(data)
            try:
                self._runtime.pause(_PEEK_POLL, deadline)
            except _Expired:
                return parse_client_hello(data)

    def _drain_available(self, conn: socket.socket) -> None:
        with contextlib.suppress(BlockingIOError):
            while conn.recv(_CHUNK):
                pass

    def _hold(self, conn: socket.socket) -> None:
        """Keep the connection open, reading and ignoring, until the client goes."""
        while _retry(self._runtime, conn, lambda: conn.recv(_CHUNK), None):
            pass

    def _answer_plain_text(self, conn: socket.socket) -> None:
        deadline = time.monotonic() + _IDLE_TIMEOUT
        if not _retry(self._runtime, conn, lambda: conn.recv(_CHUNK), deadline):
            return
        _send_all(self._runtime, conn, _NOT_TLS_ANSWER, deadline)
        conn.shutdown(socket.SHUT_WR)
        linger = time.monotonic() + _LINGER_TIMEOUT
        with contextlib.suppress(_Expired):
            while _retry(self._runtime, conn, lambda: conn.recv(_CHUNK), linger):
                pass

    def _serve_tls(self, conn: socket.socket, hello: ClientHello | None) -> None:
        """The TLS handshake, then one HTTP answer. ``hello`` is the peeked ClientHello, or
        None when the server did not peek (or what it peeked was no ClientHello)."""
        assert self._context is not None, "a TLS server has a context"
        spec = self.spec
        sent_name = None if hello is None else hello.server_name
        deadline = time.monotonic() + _HANDSHAKE_TIMEOUT
        if spec.warn_unknown_name and sent_name is not None and sent_name not in spec.routes:
            # Still in the clear and before the ServerHello, where OpenSSL's SNI callback would
            # have put it; OpenSSL then reads the ClientHello the peek left in the socket.
            _send_all(self._runtime, conn, _WARNING_UNRECOGNIZED_NAME, deadline)
        tls = self._context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        with tls:
            _retry(self._runtime, tls, tls.do_handshake, deadline)
            # Behave like a web server for anyone who checks by hand (curl --resolve) and for
            # the scanner's HTTP check; a client that sends nothing and leaves gets nothing.
            deadline = time.monotonic() + _IDLE_TIMEOUT
            if not _retry(self._runtime, tls, lambda: tls.recv(_CHUNK), deadline):
                return
            status = 200 if sent_name is not None else spec.nosni_status
            body = f"snisweep lab: {spec.key}\n".encode()
            head = (
                f"HTTP/1.1 {status} {_HTTP_REASONS[status]}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            _send_all(self._runtime, tls, head + body, deadline)


def _tls_context(
    leaf: trustme.LeafCert, versions: tuple[ssl.TLSVersion, ssl.TLSVersion]
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    minimum, maximum = versions
    # Python deprecates naming TLS 1.0 and 1.1 at all; the legacy server must, on purpose.
    with warnings.catch_warnings(action="ignore", category=DeprecationWarning):
        context.minimum_version = minimum
        context.maximum_version = maximum
    if minimum < ssl.TLSVersion.TLSv1_2:
        # OpenSSL 3 refuses TLS 1.0 and 1.1 above security level 0 (their signatures use SHA-1).
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    # A client that hangs up without close_notify (most do, the scanner's plain-TLS probe too)
    # would otherwise get a decode_error alert from OpenSSL 3; a web server just closes.
    context.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    leaf.configure_cert(context)
    return context


class _SniCallback:
    """Pick the certificate by SNI, or answer with the server's fallback alert."""

    def __init__(self, spec: _ServerSpec, routes: dict[str, ssl.SSLContext]) -> None:
        self._routes = routes
        self._alert = _ALERTS.get(spec.otherwise)

    def __call__(
        self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext
    ) -> int | None:
        # An exception here would be printed by CPython and abort the handshake: never raise.
        try:
            route = self._routes.get(name.lower()) if name else None
            if route is not None:
                sock.context = route
                return None
        except Exception:
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        return self._alert


def _yaml_scalar(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
        return value
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def _expectation(scenario: Scenario) -> str:
    text = f"{scenario.verdict} / {scenario.reason}"
    if scenario.warnings:
        text += ", warnings: " + ", ".join(scenario.warnings)
    return text


class Lab:
    """The embedded lab: start it, scan ``scenarios`` (or ``config_yaml()``), close it.

    Every server listens on ``host`` at an ephemeral port. A Lab may be started again after
    ``close()``; it then gets new ports but keeps its CA and certificates.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = str(ipaddress.ip_address(host))
        # The long chain's intermediates hang below this CA, deeper than trustme's default allows.
        self.ca = trustme.CA(path_length=_LONG_CHAIN_INTERMEDIATES)
        self.scenarios: tuple[Scenario, ...] = ()
        self._contexts: dict[str, ssl.SSLContext] | None = None
        self._runtime: _Runtime | None = None
        self._servers: list[_Server] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._runtime is not None

    def trust_store(self) -> TrustStore:
        """The lab's CA as the trust check's only anchor: what ``--ca-file`` with its PEM
        gives (``snisweep demo`` scans with it)."""
        anchor = x509.load_pem_x509_certificate(self.ca.cert_pem.bytes())
        return TrustStore([anchor], "the lab's CA")

    def scenario(self, name: str) -> Scenario:
        """The scenario called ``name``; ``KeyError`` when there is none (or before start)."""
        for scenario in self.scenarios:
            if scenario.name == name:
                return scenario
        raise KeyError(name)

    def start(self) -> None:
        """Bind every listener and start serving; returns once every listener accepts."""
        with self._lock:
            if self._runtime is not None:
                raise RuntimeError("the lab is already running")
            contexts = self._make_contexts()
            runtime = self._runtime = _Runtime()
            try:
                ports: dict[str, int] = {}
                for spec in _SERVERS:
                    if spec.mode is _Mode.ABSENT:
                        continue
                    server = _Server(spec, runtime, self.host, contexts.get(spec.key))
                    self._servers.append(server)
                    ports[spec.key] = server.port
                # Bound last, so that none of the lab's own listeners can get this port.
                for spec in _SERVERS:
                    if spec.mode is _Mode.ABSENT:
                        ports[spec.key] = self._unused_port()
                for server in self._servers:
                    thread = threading.Thread(
                        target=server.accept_loop,
                        name=f"snisweep-lab-{server.spec.key}",
                        daemon=True,
                    )
                    runtime.listeners.append(thread)
                    thread.start()
                self.scenarios = tuple(self._scenario(spec, ports) for spec in _SCENARIOS)
            except BaseException:
                self._stop()
                raise

    def close(self) -> None:
        """Stop every server, join their threads (bounded) and close every socket."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.shutdown()
        servers, self._servers = self._servers, []
        for server in servers:
            server.listener.close()

    def config_yaml(self, *, timeout: float = 1.0, retries: int = 1) -> str:
        """A ready-to-scan endpoint list for the running lab, with the expected verdicts."""
        if not self.scenarios:
            raise RuntimeError("start the lab before asking for its endpoint list")
        lines = [
            "# The snisweep lab: TLS servers on this machine that treat clients without SNI in",
            "# every way a scan must recognise. Names under lab.test never resolve: each",
            "# endpoint dials its `address`. The ports last as long as the lab runs.",
            "defaults:",
            f"  timeout: {timeout:g}",
            f"  retries: {retries:d}",
            "  tags: [lab]",
            "endpoints:",
        ]
        for scenario in self.scenarios:
            lines.extend(f"  # {line}" for line in textwrap.wrap(scenario.description, 94))
            lines.append(f"  # Expected: {_expectation(scenario)}")
            lines.append(f"  - host: {_yaml_scalar(scenario.host)}")
            lines.append(f"    port: {scenario.port}")
            if scenario.address is not None:
                lines.append(f"    address: {_yaml_scalar(scenario.address)}")
            if scenario.sni is not None:
                lines.append(f"    sni: {_yaml_scalar(scenario.sni)}")
            lines.append(f"    label: {_yaml_scalar(scenario.name)}")
        return "\n".join(lines) + "\n"

    def _scenario(self, spec: _ScenarioSpec, ports: dict[str, int]) -> Scenario:
        return Scenario(
            name=spec.name,
            host=self.host if spec.host is None else spec.host,
            port=ports[spec.server],
            address=None if spec.host is None else self.host,
            sni=spec.sni,
            verdict=spec.verdict,
            reason=spec.reason,
            description=spec.description,
            warnings=spec.warnings,
        )

    def _unused_port(self) -> int:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((self.host, 0))
            port: int = probe.getsockname()[1]
        return port

    def _make_contexts(self) -> dict[str, ssl.SSLContext]:
        """One server context per TLS server (made once per Lab: certificates are slow)."""
        if self._contexts is not None:
            return self._contexts
        contexts: dict[str, ssl.SSLContext] = {}
        for spec in _SERVERS:
            if spec.mode not in (_Mode.TLS, _Mode.ROUTER):
                continue
            routes = {
                name: _tls_context(self._issue(_CertSpec((name,))), spec.versions)
                for name in spec.routes
            }
            # Without a default, the first route's certificate is never served (the callback
            # answers with an alert or switches to a route), but OpenSSL wants a certificate
            # on the context that starts the handshake.
            leaf = self._issue(spec.default or _CertSpec((spec.routes[0],)))
            initial = _tls_context(leaf, spec.versions)
            initial.sni_callback = _SniCallback(spec, routes)
            contexts[spec.key] = initial
        self._contexts = contexts
        return contexts

    def _issue(self, cert: _CertSpec) -> trustme.LeafCert:
        identities = [self.host if name == _LAB_ADDRESS else name for name in cert.names]
        issuer = self.ca
        for _ in range(cert.intermediates):
            issuer = issuer.create_child_ca()
        not_before = not_after = None
        if cert.expired:
            now = datetime.now(UTC)
            not_before, not_after = now - timedelta(days=120), now - timedelta(days=30)
        return issuer.issue_cert(
            *identities,
            common_name=cert.common_name or identities[0],
            organization_name=cert.organization,
            not_before=not_before,
            not_after=not_after,
        )
