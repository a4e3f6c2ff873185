"""The probe: one TLS handshake to one address, with or without SNI. Does network I/O.

A probe never raises for network trouble: whatever happens becomes an observation, a
``Handshake`` or a ``Failure`` named by the phase that failed. Library exceptions are mapped to
failures in one place, ``failure_from``, at this edge.

The handshake runs over an ``ssl.MemoryBIO`` pair rather than through a TLS stream wrapper, so
that every way a server can say no stays distinct: a fatal alert (``ssl.SSLError`` with the alert
in its reason), a TCP reset (``ConnectionResetError``), a close (end of stream), bytes that are
not TLS, or silence (the timeout).

It is driven by the event loop's callbacks (an ``asyncio.Protocol`` on the loop anyio runs on,
uvloop when installed): each batch of bytes from the server is fed to OpenSSL and the answer
written back within the same callback, and the waiting task wakes once, when the probe has
settled. Handshakes are most of snisweep's work, so the probe must add as little as possible to
OpenSSL's own cost: no task, stream object or cancel scope per read.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import ssl
import warnings
from collections.abc import Iterator
from typing import Any, Protocol, cast

import anyio

from snisweep import __version__
from snisweep.core.certs import inspect
from snisweep.model import (
    Endpoint,
    Failure,
    FailureKind,
    Handshake,
    HttpAnswer,
    HttpOutcome,
    Observation,
    Proxy,
    Target,
    TLSVersion,
)
from snisweep.net.http import StatusReader
from snisweep.net.proxy import (
    TunnelReader,
    connect_request,
    failure_reaching_proxy,
    proxy_timeout,
)


class Prober(Protocol):
    """Anything that can make one probe; the scheduler takes one so that tests can script it.

    ``request`` is the HTTP check's request, sent after a completed handshake on the same
    connection (None: plain TLS, no request); the answer is the ``Handshake``'s ``http``. The
    target's endpoint gives the port, the timeout, the protocol range and the proxy.
    """

    async def __call__(
        self, target: Target, server_name: str | None, request: bytes | None
    ) -> Observation: ...


_VERSIONS: dict[TLSVersion, ssl.TLSVersion] = {
    TLSVersion.TLS1_0: ssl.TLSVersion.TLSv1,
    TLSVersion.TLS1_1: ssl.TLSVersion.TLSv1_1,
    TLSVersion.TLS1_2: ssl.TLSVersion.TLSv1_2,
    TLSVersion.TLS1_3: ssl.TLSVersion.TLSv1_3,
}


def client_context(
    tls_min: TLSVersion | None = None, tls_max: TLSVersion | None = None
) -> ssl.SSLContext:
    """The client context the probes of a scan share (one per protocol range).

    It verifies nothing: snisweep reports what a server presents and judges it itself, and a
    verifying client would stop at the very certificates it must describe. By default it
    accepts every protocol version and cipher OpenSSL still has, because the question is SNI,
    not the server's TLS hygiene, and old integration endpoints must still be reachable;
    ``tls_min``/``tls_max`` narrow the versions to those of the client being emulated.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with contextlib.suppress(ssl.SSLError):  # a TLS library without security levels
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        # Python deprecates TLS 1.0 and 1.1, but emulating a client that speaks them is the point.
        warnings.simplefilter("ignore", DeprecationWarning)
        if tls_min is not None:
            context.minimum_version = _VERSIONS[tls_min]
        if tls_max is not None:
            context.maximum_version = _VERSIONS[tls_max]
    # Servers without secure renegotiation (RFC 5746) still exist behind old integrations.
    context.options |= getattr(ssl, "OP_LEGACY_SERVER_CONNECT", 0x4)
    # A probe never resumes a session: a TLS 1.2 server need not make a ticket for it.
    context.options |= ssl.OP_NO_TICKET
    return context


class TLSProber:
    """Probes over real TCP connections with the standard library's TLS (OpenSSL), directly or
    through an HTTP CONNECT proxy.

    ``chain=True`` keeps the certificates each server sent (``Handshake.chain``), for the
    trust check; without it only their number is read.
    """

    def __init__(self, context: ssl.SSLContext | None = None, *, chain: bool = False) -> None:
        self._contexts: dict[tuple[TLSVersion | None, TLSVersion | None], ssl.SSLContext] = {}
        self._contexts[None, None] = context if context is not None else client_context()
        self._chain = chain

    def _context(self, endpoint: Endpoint) -> ssl.SSLContext:
        key = (endpoint.tls_min, endpoint.tls_max)
        context = self._contexts.get(key)
        if context is None:
            context = self._contexts[key] = client_context(*key)
        return context

    async def __call__(
        self, target: Target, server_name: str | None, request: bytes | None = None
    ) -> Observation:
        endpoint = target.endpoint
        timeout = endpoint.timeout
        proxy, proxy_address = endpoint.proxy, target.proxy_address
        tunnel: _Connect | None = None
        if proxy is not None and proxy_address is not None:
            tunnel = _Connect(proxy, target.destination, endpoint.port)
            host, port = proxy_address, proxy.port
        else:
            proxy = None
            host, port = target.destination, endpoint.port
        loop = asyncio.get_running_loop()
        handshake = _Handshake(
            self._context(endpoint),
            server_name,
            request,
            loop.create_future(),
            tunnel=tunnel,
            # The trust check reads the chain sent with SNI (an IP literal's one probe has none
            # to send): the probe without SNI of a named endpoint need not copy its chain.
            chain=self._chain and (server_name is not None or endpoint.sni is None),
        )
        transport: asyncio.BaseTransport | None = None
        with anyio.move_on_after(timeout):
            try:
                transport, _ = await loop.create_connection(lambda: handshake, host, port)
            except OSError as exc:
                if proxy is not None:
                    return failure_reaching_proxy(proxy, exc)
                return failure_from(exc, connected=False)
            try:
                return await handshake.settled
            finally:
                transport.abort()
        if handshake.completed is not None:  # the deadline passed while waiting for HTTP
            return handshake.completed.with_http(HttpAnswer(HttpOutcome.TIMEOUT))
        if proxy is not None and (transport is None or handshake.tunnelling):
            return proxy_timeout(proxy, timeout, connected=transport is not None)
        if transport is not None:
            return Failure(FailureKind.HANDSHAKE_TIMEOUT, f"no handshake within {timeout:g} s")
        return Failure(FailureKind.CONNECT_TIMEOUT, f"no TCP connection within {timeout:g} s")


class _Connect:
    """The HTTP CONNECT dialogue that opens a probe's connection through a proxy."""

    __slots__ = ("reader", "request")

    def __init__(self, proxy: Proxy, destination: str, port: int) -> None:
        self.request = connect_request(destination, port, proxy, _USER_AGENT)
        shown = f"[{destination}]:{port}" if ":" in destination else f"{destination}:{port}"
        self.reader = TunnelReader(shown, sent_credentials=proxy.authorization is not None)


class _Handshake(asyncio.Protocol):
    """One client handshake, then the HTTP check when there is a request, fed by the event
    loop (after the proxy's CONNECT, when there is a tunnel); ``settled`` gets its
    observation, ``completed`` holds the handshake once done."""

    __slots__ = (
        "_chain",
        "_cleartext",
        "_incoming",
        "_outgoing",
        "_reader",
        "_request",
        "_tls",
        "_transport",
        "_tunnel",
        "completed",
        "settled",
    )

    def __init__(
        self,
        context: ssl.SSLContext,
        server_name: str | None,
        request: bytes | None,
        settled: asyncio.Future[Observation],
        *,
        tunnel: _Connect | None = None,
        chain: bool = False,
    ) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        # server_hostname=None is what sends no SNI at all; a name sends it (never verified here).
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_name)
        self._transport: asyncio.Transport | None = None
        self._cleartext = _Cleartext()
        self._request = request
        self._reader: StatusReader | None = None
        self._tunnel = tunnel
        self._chain = chain
        self.completed: Handshake | None = None
        self.settled = settled

    @property
    def tunnelling(self) -> bool:
        """True while the proxy has not answered the CONNECT request."""
        return self._tunnel is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's, but they have the same methods.
        self._transport = cast("asyncio.Transport", transport)
        if self._tunnel is not None:
            self._transport.write(self._tunnel.request)
        else:
            self._step()  # the ClientHello

    def data_received(self, data: bytes) -> None:
        if self._tunnel is not None:
            answer = self._tunnel.reader.feed(data)
            if answer is None:
                return
            self._tunnel = None
            if isinstance(answer, Failure):
                self._settle(answer)
                return
            self._step()  # the tunnel is open: the ClientHello
            data = answer.leftover
            if not data:
                return
        cleartext = self._cleartext
        if not cleartext.encrypted:
            cleartext.feed(data)
        self._incoming.write(data)
        if self._reader is not None:
            self._read_answer()
        else:
            self._step()

    def eof_received(self) -> bool:
        if self._tunnel is not None:
            self._settle(self._tunnel.reader.closed())
            return False
        self._incoming.write_eof()
        if self._reader is not None:
            self._read_answer()
        else:
            self._step()  # OpenSSL names the close: an EOF in the middle of a handshake
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._tunnel is not None:
            self._settle(self._tunnel.reader.closed())
        elif self.completed is not None:
            self._settle(self.completed.with_http(StatusReader.closed()))
        elif exc is None:
            self._settle(Failure(FailureKind.CLOSED, "the server closed the connection"))
        else:
            self._settle(failure_from(exc, connected=True))

    def _step(self) -> None:
        if self.settled.done():
            return
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except Exception as exc:  # every TLS failure becomes an observation
            self._settle(failure_from(exc, connected=True))
            return
        try:
            observation = self._observe()
        except Exception as exc:  # a bug here must settle the probe, not leave it waiting
            self._flush()
            self._settle(failure_from(exc, connected=True))
            return
        if self._request is None:
            # Send our last flight (the client Finished) so that the server sees a completed
            # handshake and does not log a failed one for every probe.
            self._flush()
            self._settle(observation)
            return
        self.completed = observation
        self._reader = StatusReader()
        try:
            self._tls.write(self._request)
        except ssl.SSLError:
            self._settle(observation.with_http(StatusReader.closed()))
            return
        self._flush()  # the client Finished and the request, in one write
        self._read_answer()  # the server may have sent more than its handshake already

    def _observe(self) -> Handshake:
        tls = self._tls
        der = tls.getpeercert(binary_form=True)
        cipher = tls.cipher()
        chain = _chain(tls)
        return Handshake(
            tls_version=tls.version() or "",
            cipher=cipher[0] if cipher else "",
            certificate=inspect(der) if der else None,
            chain_length=len(chain) if chain is not None else None,
            warning_alerts=self._cleartext.warning_alerts(),
            chain=_der_chain(chain) if self._chain and chain is not None else None,
        )

    def _read_answer(self) -> None:
        reader, completed = self._reader, self.completed
        if self.settled.done() or reader is None or completed is None:
            return
        while True:
            try:
                chunk = self._tls.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                self._flush()  # a TLS 1.3 key update, say
                return
            except (ssl.SSLError, OSError):
                # close_notify, an EOF, an alert after the handshake: no answer came back.
                self._settle(completed.with_http(StatusReader.closed()))
                return
            if not chunk:
                self._settle(completed.with_http(StatusReader.closed()))
                return
            answer = reader.feed(chunk)
            if answer is not None:
                self._settle(completed.with_http(answer))
                return

    def _flush(self) -> None:
        if self._outgoing.pending and self._transport is not None:
            # A failed write is reported by the loop through connection_lost.
            self._transport.write(self._outgoing.read())

    def _settle(self, observation: Observation) -> None:
        if not self.settled.done():
            self.settled.set_result(observation)


_READ_SIZE = 4096

_USER_AGENT = f"snisweep/{__version__}"

# The chain the server sent: public from Python 3.13 (DER bytes); 3.11 and 3.12 have it on the
# object that SSLObject wraps (certificate objects). Where neither exists, the chain is unknown
# (None): ``chain-too-long`` is never reported and the trust columns stay empty. Which one is
# chosen once, here: this runs for every probe.
if hasattr(ssl.SSLObject, "get_unverified_chain"):

    def _chain(tls: ssl.SSLObject) -> list[Any] | None:
        chain: list[Any] | None = tls.get_unverified_chain()  # type: ignore[attr-defined,unused-ignore]
        return chain

else:

    def _chain(tls: ssl.SSLObject) -> list[Any] | None:
        get_chain = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
        if get_chain is None:
            return None
        chain: list[Any] | None = get_chain()
        return chain


def _der_chain(chain: list[Any]) -> tuple[bytes, ...]:
    return tuple(
        item if isinstance(item, bytes) else item.public_bytes(_ENCODING_DER) for item in chain
    )


_ENCODING_DER = 2  # _ssl.ENCODING_DER, for the certificate objects of Python 3.11 and 3.12


# TLS record content types (RFC 8446 section 5.1).
_CHANGE_CIPHER_SPEC, _ALERT, _APPLICATION_DATA = 20, 21, 23
_ENCRYPTED_FROM_HERE = (_CHANGE_CIPHER_SPEC, _APPLICATION_DATA)
_WARNING = 1  # alert level

# Alert descriptions by number (RFC 8446 section 6, RFC 5246 section 7.2, RFC 6066), as OpenSSL
# names them; an unknown number is kept as "alert-N".
_ALERT_NAMES: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_cancelled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    111: "certificate_unobtainable",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    114: "bad_certificate_hash_value",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}


class _Cleartext:
    """Watches the records a server sends until they are encrypted, for warning alerts.

    OpenSSL swallows warning-level alerts, but Java aborts on some (a warning
    ``unrecognized_name`` ends every Java handshake with SNI). Before the ChangeCipherSpec
    (TLS 1.2; TLS 1.3 encrypts everything after the ServerHello, which its ChangeCipherSpec or
    first encrypted record marks) a record's header and an alert's two bytes are in the clear.
    Only record headers are read, each chunk once: the certificates in between are skipped.
    """

    __slots__ = ("_alerts", "_head", "_skip", "encrypted")

    def __init__(self) -> None:
        self._head = b""  # the start of a record whose header (or alert body) is incomplete
        self._skip = 0  # bytes of the current record's body still to come
        self._alerts: list[int] = []
        self.encrypted = False

    def feed(self, data: bytes) -> None:
        if self.encrypted:
            return
        skip = self._skip
        if skip >= len(data):
            self._skip = skip - len(data)
            return
        buffer = self._head + data[skip:] if self._head else data[skip:]
        self._skip = 0
        position, size = 0, len(buffer)
        while size - position >= 5:
            kind = buffer[position]
            if kind in _ENCRYPTED_FROM_HERE:
                self.encrypted = True
                self._head = b""
                return
            if kind == _ALERT:
                if size - position < 7:
                    break
                if buffer[position + 5] == _WARNING:
                    self._alerts.append(buffer[position + 6])
            end = position + 5 + ((buffer[position + 3] << 8) | buffer[position + 4])
            if end > size:
                self._skip = end - size
                self._head = b""
                return
            position = end
        self._head = buffer[position:]

    def warning_alerts(self) -> tuple[str, ...]:
        return tuple(_ALERT_NAMES.get(code, f"alert-{code}") for code in self._alerts)


# OpenSSL's reason codes for answers that are not TLS at all (an HTTP server, an SSH banner...).
_NOT_TLS_REASONS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "HTTP_REQUEST",
        "HTTPS_PROXY_REQUEST",
        "PACKET_LENGTH_TOO_LONG",
        "WRONG_SSL_VERSION",
    }
)

# OpenSSL's reason codes for a server that chose a version outside the client's range.
_VERSION_REASONS = frozenset(
    {"UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE", "VERSION_TOO_LOW", "VERSION_TOO_HIGH"}
)

# OpenSSL names a received alert SSLV3_ALERT_*, TLSV1_ALERT_*, TLSV13_ALERT_* or, for a few
# alerts added by TLS extensions, TLSV1_* without ALERT_. These are the alert descriptions of
# RFC 8446 section 6 (and older ones), as OpenSSL spells them after that prefix.
_ALERTS = frozenset(
    {
        "unexpected_message",
        "bad_record_mac",
        "decryption_failed",
        "record_overflow",
        "decompression_failure",
        "handshake_failure",
        "no_certificate",
        "bad_certificate",
        "unsupported_certificate",
        "certificate_revoked",
        "certificate_expired",
        "certificate_unknown",
        "illegal_parameter",
        "unknown_ca",
        "access_denied",
        "decode_error",
        "decrypt_error",
        "export_restriction",
        "protocol_version",
        "insufficient_security",
        "internal_error",
        "inappropriate_fallback",
        "user_cancelled",
        "no_renegotiation",
        "missing_extension",
        "unsupported_extension",
        "certificate_unobtainable",
        "unrecognized_name",
        "bad_certificate_status_response",
        "bad_certificate_hash_value",
        "unknown_psk_identity",
        "certificate_required",
        "no_application_protocol",
    }
)
_ALERT_PREFIXES = ("SSLV3_ALERT_", "TLSV1_ALERT_", "TLSV13_ALERT_", "TLSV1_")

_CONNECT_ERRNOS = {
    errno.ECONNREFUSED: FailureKind.CONNECT_REFUSED,
    errno.ETIMEDOUT: FailureKind.CONNECT_TIMEOUT,
}


def alert_name(reason: str | None) -> str | None:
    """The TLS alert description in an OpenSSL reason code, or None if it names no alert."""
    if not reason:
        return None
    for prefix in _ALERT_PREFIXES:
        if reason.startswith(prefix):
            name = reason.removeprefix(prefix).lower()
            return name if name in _ALERTS else None
    return None


def failure_from(exc: BaseException, *, connected: bool) -> Failure:
    """Map an exception raised while probing to the failure it means.

    ``connected`` says whether the TCP connection was up, which decides the phase. The causes
    are searched, since event loops and libraries may wrap the OS error in another exception.
    """
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLError):
            return _tls_failure(cause)
        if isinstance(cause, OSError) and cause.errno is not None:
            return _os_failure(cause, connected=connected)
    if isinstance(exc, OSError):
        kind = FailureKind.RESET if connected else FailureKind.CONNECT_FAILED
        return Failure(kind, _describe(exc))
    return Failure(FailureKind.INTERNAL, f"{type(exc).__name__}: {exc}")


def _tls_failure(exc: ssl.SSLError) -> Failure:
    reason = getattr(exc, "reason", None)
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError) or reason in (
        "UNEXPECTED_EOF_WHILE_READING",
        "EOF_WHILE_READING",
    ):
        return Failure(FailureKind.CLOSED, "the server closed the connection during the handshake")
    if isinstance(exc, ssl.SSLSyscallError):
        return Failure(FailureKind.RESET, "the connection broke during the handshake")
    alert = alert_name(reason)
    if alert == "protocol_version":
        return Failure(
            FailureKind.TLS_VERSION,
            "fatal alert protocol_version: no TLS version in common",
            alert=alert,
        )
    if alert is not None:
        return Failure(FailureKind.ALERT, f"fatal alert {alert}", alert=alert)
    if reason in _VERSION_REASONS:
        return Failure(FailureKind.TLS_VERSION, f"no TLS version in common, OpenSSL says {reason}")
    if reason in _NOT_TLS_REASONS:
        return Failure(FailureKind.NOT_TLS, f"the answer is not TLS, OpenSSL says {reason}")
    if reason:
        return Failure(FailureKind.TLS_FAILURE, f"TLS error {reason}")
    # OpenSSL names no reason for an alert it has no name for (a number from a newer RFC).
    return Failure(FailureKind.TLS_FAILURE, "TLS error without a reason (an unknown alert?)")


def _os_failure(exc: OSError, *, connected: bool) -> Failure:
    if not connected:
        kind = _CONNECT_ERRNOS.get(exc.errno or 0, FailureKind.CONNECT_FAILED)
        return Failure(kind, _describe(exc))
    if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
        return Failure(FailureKind.RESET, "the connection was reset")
    if exc.errno == errno.ETIMEDOUT:  # the kernel gave up on an unanswered connection
        return Failure(FailureKind.HANDSHAKE_TIMEOUT, _describe(exc))
    # The network itself failed under an established connection (unreachable, ...): nothing
    # the server decided about SNI, so it is named like a connect failure.
    return Failure(FailureKind.CONNECT_FAILED, _describe(exc))


def _describe(exc: BaseException) -> str:
    # The errno's own text, not the exception's: event loops put addresses and call names into
    # their messages ("connect call failed ('127.0.0.1', 443)"), which differ between loops.
    if isinstance(exc, OSError) and exc.errno:
        text = os.strerror(exc.errno)
        return text[0].lower() + text[1:]
    return str(exc) or type(exc).__name__


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it, outermost first, exception groups flattened."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
