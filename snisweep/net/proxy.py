"""HTTP CONNECT proxies on the wire: the CONNECT request, the reader of the proxy's answer, and
the failures of reaching the proxy. Pure: no I/O (the probe opens the connection, writes
``connect_request`` and feeds what comes back to a ``TunnelReader``, as h11 is used); nothing
here touches a socket. Which proxy an endpoint goes through, its URL and the environment's, is
``snisweep.lists.proxies``'s.

The tunnel (RFC 9110, section 9.3.6)
------------------------------------
Before its TLS handshake a probe through a proxy sends, on the TCP connection to the proxy::

    CONNECT <destination>:<port> HTTP/1.1
    Host: <destination>:<port>
    User-Agent: <user agent>
    Proxy-Authorization: Basic <base64(user:password)>      (only when the URL had credentials)

with the request target in authority form (RFC 9112, section 3.2.3; an IPv6 destination in
brackets). The answer decides (``TunnelReader``):

====================  =========================  ==============================================
answer                result                     why
====================  =========================  ==============================================
2xx                   ``Tunnel(leftover)``       the proxy switches to tunnel mode right after
                                                 the header block: what follows it is the
                                                 server's; ``Content-Length`` and
                                                 ``Transfer-Encoding`` are ignored (9.3.6)
407                   ``proxy-auth-required``    credentials missing, or refused when sent
                                                 (section 15.5.8); the schemes it offers in
                                                 ``Proxy-Authenticate`` are named
other 4xx             ``proxy-denied``           its policy will not tunnel there
5xx                   ``proxy-connect-failed``   it could not reach the destination (502, 504)
1xx, 3xx, other       ``proxy-bad-answer``       nothing a CONNECT client can act on (no
                                                 proxy sends an interim 1xx to CONNECT)
not HTTP, a header    ``proxy-bad-answer``       not an HTTP proxy, or not answering; bytes
block over 16 KiB                                that cannot start a status line fail at once
closed early          by the status line if any  a non-2xx status line said what it meant;
                      else ``proxy-bad-answer``  else the proxy hung up
====================  =========================  ==============================================

Every text the proxy sends (its reason phrase, the schemes it offers) is untrusted: it passes
through ``printable`` before it reaches a message. Bytes that cannot start a status line are
found as the HTTP check finds them (``snisweep.net.http.may_become_status``). Failures name the
proxy by its ``display`` (``host:port``), never with its credentials.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from typing import Final

from snisweep.core.certs import printable
from snisweep.model import Failure, FailureKind, Proxy
from snisweep.net.http import may_become_status

__all__ = [
    "MAX_HEAD",
    "Tunnel",
    "TunnelAnswer",
    "TunnelReader",
    "connect_request",
    "failure_reaching_proxy",
    "proxy_timeout",
    "unresolved_proxy",
]

#: Bytes of the proxy's answer head (status line and header block, final empty line included)
#: read at most: a proxy's answer to CONNECT is a few hundred bytes.
MAX_HEAD: Final = 16384

_REASON_LIMIT: Final = 100

# --- the tunnel -------------------------------------------------------------------------------


def connect_request(destination: str, port: int, proxy: Proxy, user_agent: str) -> bytes:
    """The ``CONNECT`` request that asks ``proxy`` for a tunnel to ``destination:port``.

    ``destination`` is a host name or an IP literal (IPv6 with or without brackets), already
    validated; characters that could end the request line or start a header are refused all
    the same (``ValueError``), and so are they in ``user_agent`` and the proxy's authorization.
    """
    if not _is_header_safe(destination) or " " in destination or not destination:
        raise ValueError(f"CONNECT destination {_show(destination)} is not a host")
    if not 1 <= port <= 65535:
        raise ValueError(f"CONNECT port {port} is out of range 1..65535")
    if not _is_header_safe(user_agent):
        raise ValueError(f"User-Agent {_show(user_agent)} holds a control character")
    if proxy.authorization is not None and not _is_header_safe(proxy.authorization):
        raise ValueError("the proxy's authorization holds a control character")  # never shown
    host = destination
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    authority = f"{host}:{port}"
    lines = [
        f"CONNECT {authority} HTTP/1.1",
        f"Host: {authority}",
        f"User-Agent: {user_agent}",
    ]
    if proxy.authorization is not None:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _is_header_safe(text: str) -> bool:
    return text.isascii() and all(" " <= char < "\x7f" for char in text)


def _show(text: str, limit: int = 100) -> str:
    """Quote text for a message, cut so that a long value cannot flood the terminal."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


@dataclass(frozen=True, slots=True)
class Tunnel:
    """The proxy opened the tunnel (a 2xx answer to CONNECT).

    ``leftover`` are the bytes that came after the answer's header block in the same read:
    they are the destination's, the start of the TLS stream.
    """

    leftover: bytes = b""


TunnelAnswer = Tunnel | Failure

_TOKEN_CHARS: Final = frozenset(
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_MAX_OFFERED: Final = 4


class TunnelReader:
    """Reads the proxy's answer to ``CONNECT`` from the bytes given to ``feed``, chunk by chunk.

    ``feed`` returns None until the answer's head (status line and header block, up to the
    empty line) has arrived, then the ``TunnelAnswer`` (see the module docstring); bytes that
    cannot begin an HTTP status line fail at once. Lines may end in CRLF or a bare LF.
    ``closed`` is the answer of a connection that ended before the head was complete; called
    again, or after ``feed`` gave a failure, it gives that failure again (an event loop reports
    an end of file, then the lost connection). Feeding after an answer, or ``closed`` once the
    tunnel is open (the bytes are the TLS stream's), is a bug: ``RuntimeError``.

    ``destination`` is the tunnel's destination as messages show it (``host:port``);
    ``sent_credentials`` whether the request carried ``Proxy-Authorization``, which tells a
    407 that asks for credentials from one that refuses them.

    Work is linear in the bytes fed, however they are split: each byte is searched for a line
    end once (``scanned`` counts them, for the tests), each line is copied once, and nothing
    after the head is searched.
    """

    __slots__ = (
        "_answer",
        "_buffer",
        "_destination",
        "_line_start",
        "_offered",
        "_reason",
        "_scanned",
        "_searched",
        "_sent_credentials",
        "_status",
    )

    def __init__(self, destination: str, *, sent_credentials: bool) -> None:
        self._destination = destination
        self._sent_credentials = sent_credentials
        self._buffer = bytearray()
        self._line_start = 0  # where the line being read starts
        self._searched = 0  # no line end between _line_start and here
        self._scanned = 0
        self._status: int | None = None
        self._reason = ""
        self._offered: list[str] = []  # schemes of Proxy-Authenticate, for a 407
        self._answer: TunnelAnswer | None = None

    @property
    def scanned(self) -> int:
        """Bytes searched for a line end so far: never more than the bytes fed."""
        return self._scanned

    def feed(self, data: bytes) -> TunnelAnswer | None:
        if self._answer is not None:
            raise RuntimeError("TunnelReader.feed after the answer was known")
        self._buffer += data  # a bytearray: a proxy dripping single bytes costs linear time
        self._answer = self._read()
        return self._answer

    def closed(self) -> Failure:
        if self._answer is None:
            self._answer = self._closed()
        if isinstance(self._answer, Failure):
            return self._answer
        raise RuntimeError("TunnelReader.closed after the tunnel was open")

    def _closed(self) -> Failure:
        if self._status is not None and not 200 <= self._status <= 299:
            # Its status line said what it meant, even if the header block never ended.
            return self._failure()
        if self._status is not None:
            return Failure(
                FailureKind.PROXY_BAD_ANSWER,
                f"the proxy closed the connection before the end of its answer to CONNECT "
                f"({self._status_text()})",
            )
        if self._buffer:
            return Failure(
                FailureKind.PROXY_BAD_ANSWER,
                "the proxy closed the connection in the middle of its status line",
            )
        return Failure(
            FailureKind.PROXY_BAD_ANSWER, "the proxy closed the connection without an answer"
        )

    def _read(self) -> TunnelAnswer | None:
        buffer = self._buffer
        stop = min(len(buffer), MAX_HEAD)  # the head's last byte is at most at MAX_HEAD - 1
        while True:
            start = self._searched
            newline = buffer.find(b"\n", start, stop)
            self._scanned += (newline + 1 if newline >= 0 else stop) - start
            if newline < 0:
                self._searched = stop
                if self._status is None and not may_become_status(buffer):
                    return _not_http(buffer)
                if len(buffer) >= MAX_HEAD:
                    return Failure(
                        FailureKind.PROXY_BAD_ANSWER,
                        f"the proxy's answer to CONNECT has no end within {MAX_HEAD} bytes",
                    )
                return None
            line = bytes(buffer[self._line_start : newline]).removesuffix(b"\r")
            self._line_start = self._searched = newline + 1
            if self._status is None:
                if not self._read_status(line):
                    return _not_http(buffer)
            elif not line:
                if 200 <= (self._status or 0) <= 299:
                    return Tunnel(bytes(buffer[newline + 1 :]))
                return self._failure()
            elif self._status == 407:
                self._read_challenge(line)

    def _read_status(self, line: bytes) -> bool:
        # RFC 9112, section 4: HTTP-version SP 3DIGIT SP reason-phrase (the SP before an empty
        # phrase is often left out).
        if not (
            len(line) >= 12 and may_become_status(line) and (len(line) == 12 or line[12] == 0x20)
        ):
            return False
        self._status = int(line[9:12])
        self._reason = printable(
            line[13 : 13 + 4 * _REASON_LIMIT].decode("utf-8", "backslashreplace"),
            limit=_REASON_LIMIT,
        )
        return True

    def _read_challenge(self, line: bytes) -> None:
        name, colon, value = line.partition(b":")
        if not colon or name.strip().lower() != b"proxy-authenticate":
            return
        # The first challenge's scheme only: the rest of the value is parameters, and more
        # challenges on the same line cannot be told apart without parsing quoted strings.
        value = value.lstrip(b" \t")
        end = 0
        while end < min(len(value), 40) and value[end] in _TOKEN_CHARS:
            end += 1
        scheme = value[:end].decode("ascii")
        if scheme and scheme not in self._offered and len(self._offered) < _MAX_OFFERED:
            self._offered.append(scheme)

    def _status_text(self) -> str:
        return f"{self._status} {self._reason}" if self._reason else str(self._status)

    def _failure(self) -> Failure:
        status = self._status or 0
        shown = self._status_text()
        # tinyproxy answers credentials it refuses with 401 instead of 407.
        if status in (401, 407):
            if self._offered:
                shown += f"; it offers {', '.join(self._offered)}"
            if self._sent_credentials:
                return Failure(
                    FailureKind.PROXY_AUTH_REQUIRED, f"the proxy refused the credentials ({shown})"
                )
            return Failure(
                FailureKind.PROXY_AUTH_REQUIRED, f"the proxy requires authentication ({shown})"
            )
        if 400 <= status <= 499:
            return Failure(
                FailureKind.PROXY_DENIED,
                f"the proxy refused to tunnel to {self._destination} ({shown})",
            )
        if 500 <= status <= 599:
            return Failure(
                FailureKind.PROXY_CONNECT_FAILED,
                f"the proxy could not connect to {self._destination} ({shown})",
            )
        return Failure(
            FailureKind.PROXY_BAD_ANSWER,
            f"the proxy answered CONNECT with {shown}, not with a 2xx",
        )


def _not_http(data: bytearray) -> Failure:
    hint = ""
    first = data[0] if data else -1
    if first in (0x15, 0x16):  # a TLS alert or handshake record
        hint = " (TLS: is this port a TLS proxy, or the destination itself?)"
    elif first == 0x05:
        hint = " (SOCKS 5: snisweep speaks only HTTP CONNECT)"
    return Failure(FailureKind.PROXY_BAD_ANSWER, f"the proxy's answer to CONNECT is not HTTP{hint}")


# --- reaching the proxy -----------------------------------------------------------------------

_RESET_ERRNOS: Final = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})
_NO_ROUTE_ERRNOS: Final = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH})


def failure_reaching_proxy(proxy: Proxy, error: OSError, *, connected: bool = False) -> Failure:
    """What ``error``, raised by the connection to ``proxy`` before the tunnel was open, means.

    ``connected`` says whether the TCP connection to the proxy was up (the CONNECT was sent
    or being sent). A ``socket.gaierror`` is the proxy's name failing to resolve; a
    ``TimeoutError`` without an errno is a deadline, named without its length (prefer
    ``proxy_timeout``, which says it). The proxy is named by ``display``, never with its
    credentials.
    """
    shown = proxy.display
    if isinstance(error, socket.gaierror):
        # Its errno is an EAI_* code, which may collide with an errno: look at nothing else.
        return unresolved_proxy(proxy, error.strerror or None)
    code = error.errno
    if isinstance(error, TimeoutError) or code == errno.ETIMEDOUT:
        # The kernel's own deadline carries ETIMEDOUT; an event loop's may carry no errno.
        why = f"({_describe(error)})" if code else "in time"
        if connected:
            return Failure(FailureKind.PROXY_TIMEOUT, f"no answer from the proxy {shown} {why}")
        return Failure(FailureKind.PROXY_TIMEOUT, f"no connection to the proxy {shown} {why}")
    if connected:
        if code in _RESET_ERRNOS:
            return Failure(
                FailureKind.PROXY_BAD_ANSWER,
                f"the proxy {shown} reset the connection before answering CONNECT",
            )
        return Failure(
            FailureKind.PROXY_UNREACHABLE,
            f"the connection to the proxy {shown} broke ({_describe(error)})",
        )
    if code == errno.ECONNREFUSED:
        return Failure(FailureKind.PROXY_REFUSED, f"the proxy {shown} refused the connection")
    if code in _NO_ROUTE_ERRNOS:
        return Failure(
            FailureKind.PROXY_UNREACHABLE, f"no route to the proxy {shown} ({_describe(error)})"
        )
    return Failure(
        FailureKind.PROXY_UNREACHABLE, f"cannot connect to the proxy {shown} ({_describe(error)})"
    )


def proxy_timeout(proxy: Proxy, timeout: float, *, connected: bool) -> Failure:
    """The failure of a deadline of ``timeout`` seconds: before the TCP connection to the
    proxy was up, or (``connected``) before its answer to CONNECT was complete."""
    if connected:
        message = f"no answer from the proxy {proxy.display} within {timeout:g} s"
    else:
        message = f"no connection to the proxy {proxy.display} within {timeout:g} s"
    return Failure(FailureKind.PROXY_TIMEOUT, message)


def unresolved_proxy(proxy: Proxy, reason: str | None = None) -> Failure:
    """The failure of a proxy whose name does not resolve; ``reason`` is the resolver's, e.g.
    "Name or service not known"."""
    detail = f" ({reason})" if reason else ""
    return Failure(
        FailureKind.PROXY_UNREACHABLE, f"the proxy name {proxy.host} does not resolve{detail}"
    )


def _describe(error: OSError) -> str:
    # The errno's own text, not the exception's: event loops put addresses and call names
    # into their messages, which differ between loops.
    if error.errno:
        text = os.strerror(error.errno)
        return text[0].lower() + text[1:]
    return str(error) or type(error).__name__
