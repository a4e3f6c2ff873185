"""HTTP CONNECT proxies: the proxy URL, the environment's proxy for a destination, the CONNECT
request, the reader of the proxy's answer, and the failures of reaching the proxy. Pure: no I/O
(the probe opens the connection, writes ``connect_request`` and feeds what comes back to a
``TunnelReader``, as h11 is used); nothing here touches a socket or the real environment.

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
through ``printable`` before it reaches a message.

Proxy URLs (``parse_proxy``)
----------------------------
``http://[user[:password]@]host[:port][/]``, port 1080 by default as curl has it. Credentials
are percent-decoded and sent as Basic (RFC 7617). They never appear in an error message, a
``repr`` or the ``proxy`` column: messages show the URL with what precedes its last ``@``
replaced by ``***``; in a URL without ``@`` they hide the whole ``host:port`` when its port is not
a port number, since ``http://user:password`` (the ``@host`` forgotten) reads as a host and a
port. A URL without a scheme is refused, where curl would take it for ``http://``: a proxy is
named once, in a list or the environment, and saying which protocol it speaks costs nothing.

The environment (``environment_proxy``, ``proxy_from_environment``, ``bypassed``)
-------------------------------------------------------------------------------
As curl and Python do for an ``https://`` URL, first set and non-empty wins::

    https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY

(a lower-case name before its upper-case twin, as curl reads them), unless the destination is
bypassed by ``no_proxy`` (or, when that is unset or empty, ``NO_PROXY``). ``http_proxy`` is
never read: probes are TLS. ``bypassed`` documents the ``no_proxy`` rules.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_to_bytes

import idna

from snisweep.core.certs import printable
from snisweep.model import Failure, FailureKind, Proxy

__all__ = [
    "DEFAULT_PORT",
    "ENVIRONMENT_VARIABLES",
    "MAX_HEAD",
    "Tunnel",
    "TunnelAnswer",
    "TunnelReader",
    "bypassed",
    "connect_request",
    "environment_proxy",
    "failure_reaching_proxy",
    "parse_proxy",
    "proxy_from_environment",
    "proxy_timeout",
    "unresolved_proxy",
]

#: The port of a proxy URL that names none (curl's default).
DEFAULT_PORT: Final = 1080

#: Where a proxy for a TLS destination comes from, first set and non-empty wins.
ENVIRONMENT_VARIABLES: Final = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
_NO_PROXY_VARIABLES: Final = ("no_proxy", "NO_PROXY")

#: Bytes of the proxy's answer head (status line and header block, final empty line included)
#: read at most: a proxy's answer to CONNECT is a few hundred bytes.
MAX_HEAD: Final = 16384

_REASON_LIMIT: Final = 100

# --- proxy URLs -------------------------------------------------------------------------------

_SCHEME_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."
)
_LABEL_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_IPV6_CHARS: Final = frozenset("0123456789abcdefABCDEF:.")
_SOCKS: Final = frozenset({"socks", "socks4", "socks4a", "socks5", "socks5h"})
_KNOWN: Final = _SOCKS | {"http", "https"}


def parse_proxy(url: str) -> Proxy:
    """The proxy an ``http://[user[:password]@]host[:port][/]`` URL names; ``ValueError``
    with a one-line message (that never holds the credentials) for anything else.

    The host is normalised as endpoint hosts are: lower case, IDNA A-labels for names, the
    compressed form for IPv6 (given in brackets, kept without). Surrounding white space is
    ignored.
    """
    text = url.strip()
    if not text:
        raise ValueError("empty proxy URL")
    shown = f"proxy URL {_show(_redacted(text))}"
    scheme, separator, rest = text.partition("://")
    if not separator or not _is_scheme(scheme):
        raise ValueError(f"{shown}: no scheme; write it as http://host:port")
    scheme = scheme.lower()
    if scheme == "https":
        raise ValueError(
            f"{shown}: TLS to the proxy is not supported; write it as http://host:port "
            "(the probe's own TLS runs inside the tunnel)"
        )
    if scheme in _SOCKS:
        raise ValueError(f"{shown}: SOCKS proxies are not supported, only HTTP CONNECT (http://)")
    if scheme != "http":
        raise ValueError(f"{shown}: only http:// proxies are supported")
    end = _authority_end(rest)
    authority, tail = rest[:end], rest[end:]
    if "@" in tail:
        raise ValueError(
            f"{shown}: a '/', '?' or '#' in the user name or password must be "
            "percent-encoded (%2F, %3F, %23)"
        )
    if tail not in ("", "/"):
        raise ValueError(f"{shown}: a proxy URL has no path, query or fragment")
    userinfo, at, host_port = authority.rpartition("@")
    authorization = _basic(userinfo, shown) if at else None
    host_text, port = _host_and_port(host_port, shown)
    return Proxy(_proxy_host(host_text, shown), port, authorization)


def _is_scheme(text: str) -> bool:
    # RFC 3986, section 3.1. A "scheme" with ':' or '@' in it is user information.
    return bool(text) and text[0].isalpha() and _SCHEME_CHARS.issuperset(text)


def _authority_end(text: str) -> int:
    ends = [i for i in (text.find("/"), text.find("?"), text.find("#")) if i >= 0]
    return min(ends, default=len(text))


def _basic(userinfo: str, shown: str) -> str | None:
    user_text, _, password_text = userinfo.partition(":")
    user = unquote_to_bytes(user_text)
    password = unquote_to_bytes(password_text)
    if b":" in user:
        # The proxy would split it at the colon (RFC 7617, section 2): it can never work.
        raise ValueError(f"{shown}: the user name cannot contain ':' (RFC 7617)")
    if not user and not password:
        return None
    return "Basic " + base64.b64encode(user + b":" + password).decode("ascii")


def _host_and_port(text: str, shown: str) -> tuple[str, int]:
    port_text: str | None
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise ValueError(f"{shown}: '[' without its ']'")
        host, after = text[: close + 1], text[close + 1 :]
        if after and not after.startswith(":"):
            raise ValueError(f"{shown}: only ':port' may follow ']'")
        port_text = after[1:] if after else None
    elif text.count(":") > 1:
        raise ValueError(
            f"{shown}: an IPv6 address is written in brackets, as http://[2001:db8::1]:3128"
        )
    else:
        host, colon, port_text = text.partition(":")
        if not colon:
            port_text = None
    if not port_text:  # none, or empty after ':' (RFC 3986, section 3.2.3: the default)
        return host, DEFAULT_PORT
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"{shown}: the port is not a number 1..65535")
    port = int(port_text) if len(port_text) <= 5 else 0  # int() never sees a huge number
    if not 1 <= port <= 65535:
        raise ValueError(f"{shown}: the port is out of range 1..65535")
    return host, port


def _proxy_host(text: str, shown: str) -> str:
    if text.startswith("["):
        inner = text[1:-1]
        if "%" in inner:
            raise ValueError(f"{shown}: IPv6 zone identifiers are not supported")
        try:
            address = ipaddress.IPv6Address(inner)
        except ValueError:
            raise ValueError(f"{shown}: not an IPv6 address in the brackets") from None
        mapped = address.ipv4_mapped
        # Written out, because Python 3.13 changed how ipaddress writes a mapped address.
        return f"::ffff:{mapped}" if mapped is not None else address.compressed
    name = text.removesuffix(".").lower()
    if not name:
        raise ValueError(f"{shown}: empty host")
    if not name.isascii():
        name = _a_labels(name, shown)
    last_label = name.rpartition(".")[2]
    if last_label.isdigit():
        # Resolvers read '10.1' or '010.0.0.1' as IPv4 in legacy notations: never a name.
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise ValueError(
                f"{shown}: not an IPv4 address, and a name cannot end with a numeric label"
            ) from None
    problem = _name_problem(name)
    if problem is not None:
        raise ValueError(f"{shown}: invalid host name: {problem}")
    return name


def _a_labels(name: str, shown: str) -> str:
    # Label by label, as the list readers do, so that a name can mix Unicode labels and labels
    # with underscores (which IDNA itself refuses).
    try:
        mapped = idna.uts46_remap(name, std3_rules=False, transitional=False).removesuffix(".")
        return ".".join(
            label if label.isascii() else idna.encode(label, uts46=True).decode("ascii")
            for label in mapped.split(".")
        )
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"{shown}: invalid host name: {exc}") from None


def _name_problem(name: str) -> str | None:
    if len(name) > 253:
        return f"longer than 253 characters ({len(name)})"
    for label in name.split("."):
        if not label:
            return "empty label (two dots in a row, or a leading dot)"
        if len(label) > 63:
            return "a label is longer than 63 characters"
        for char in label:
            if char not in _LABEL_CHARS:
                return f"{char!r} is not allowed (only letters, digits, '-' and '_')"
        if label.startswith("xn--"):
            try:
                idna.ulabel(label)
            except idna.IDNAError as exc:
                return f"label {label!r}: {exc}"
    return None


def _redacted(url: str) -> str:
    """``url`` as an error message may show it: what precedes the last ``@`` becomes ``***``.
    So does, when there is no ``@``, a ``host:port`` whose port is not a port number, and what
    follows it: it may be ``user:password`` without its ``@host``.
    """
    scheme, separator, rest = url.partition("://")
    # 'user://password@host' has a user that looks like a scheme: only known ones are shown.
    if separator and _is_scheme(scheme) and (scheme.lower() in _KNOWN or "@" not in rest):
        head = scheme + separator
    else:
        head, rest = "", url
    _, at, rest = rest.rpartition("@")
    if at:
        head += "***@"
    end = _authority_end(rest)
    authority = rest[:end]
    if authority.startswith("["):  # an IPv6 address: only what follows ']' may be a secret
        host, close, after = authority.partition("]")
        if not close and not at and not _IPV6_CHARS.issuperset(host[1:]):
            return head + "***"
        if close and after not in ("", ":") and not (after[0] == ":" and _is_port(after[1:])):
            authority = host + close + ":***"
    elif ":" in authority:
        host, _, port = authority.partition(":")
        if not at and not _is_port(port):
            return head + "***"
        if port and not _is_port(port):
            authority = host + ":***"
    return head + authority + rest[end:]


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5 and 1 <= int(text) <= 65535


def _show(text: str, limit: int = 100) -> str:
    """Quote user text for a message, cut so that a long value cannot flood the terminal."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# --- the environment --------------------------------------------------------------------------


def environment_proxy(environ: Mapping[str, str], host: str) -> tuple[Proxy | None, str | None]:
    """The proxy ``environ`` gives for a TLS connection to ``host``, and the variable it came
    from; ``(None, None)`` when none is set or ``host`` is bypassed (see the module docstring).

    A value that is not a proxy URL raises ``ValueError`` naming the variable, whatever the
    host: a mistake in the environment must not depend on which endpoints a list holds.
    """
    proxy, name, no_proxy = _environment(environ)
    if proxy is None or bypassed(host, no_proxy):
        return None, None
    return proxy, name


def proxy_from_environment(environ: Mapping[str, str]) -> tuple[Proxy | None, str]:
    """The environment's proxy for TLS connections, whatever the host, and the ``no_proxy``
    value whose hosts go around it (``bypassed``; empty when unset): what
    ``environment_proxy`` decides, read once for a whole list. ``ValueError`` as there.
    """
    proxy, _, no_proxy = _environment(environ)
    return proxy, no_proxy


def _environment(environ: Mapping[str, str]) -> tuple[Proxy | None, str | None, str]:
    name, value = _first_set(environ, ENVIRONMENT_VARIABLES)
    if name is None:
        return None, None, ""
    if "://" not in value:
        # curl, Python and requests read a bare "host:port" in the environment as http://.
        value = "http://" + value
    try:
        proxy = parse_proxy(value)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}: {exc}") from None
    return proxy, name, _first_set(environ, _NO_PROXY_VARIABLES)[1]


def _first_set(environ: Mapping[str, str], names: tuple[str, ...]) -> tuple[str | None, str]:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return name, value
    return None, ""


def bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``no_proxy`` (a ``no_proxy`` variable's value) sends ``host`` around the proxy.

    curl's rules, a little more lenient:

    * entries are separated by commas and/or white space; empty entries are skipped;
    * ``*`` as an entry matches every host;
    * a name matches itself and every name below it, with or without a leading dot:
      ``example.com`` and ``.example.com`` both match ``example.com`` and ``a.example.com``,
      never ``notexample.com``; ``*.example.com`` is read as ``.example.com``;
    * names compare case-insensitively, a trailing dot ignored on either side; an entry in
      Unicode is compared in its IDNA A-label form, and so is a host in Unicode;
    * an IP address entry matches that address, compared as addresses (``::1`` is
      ``0:0::1``); a CIDR entry (``10.0.0.0/8``, ``fd00::/8``) matches the addresses in it; an
      IP entry matches only a host that is an IP literal, a name entry only a host that is a
      name (no DNS is asked);
    * ``:port`` after an entry is ignored (``example.com:8443``, ``[::1]:8443``): the entry
      applies to every port, where curl would never match it; IPv6 entries may be bracketed.

    Work is linear in the length of ``no_proxy``: each entry is looked at once, and an entry too
    long to be a host name or an address is skipped without being parsed.
    """
    host = host.strip().removeprefix("[").removesuffix("]").removesuffix(".").lower()
    if not host.isascii():
        with contextlib.suppress(ValueError):  # else only '*' can match it
            host = _a_labels(host, "")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.replace(",", " ").split():
        if raw == "*":
            return True
        if len(raw) > 300:  # longer than any name (253) or address with a port
            continue
        entry = _entry_host(raw)
        if address is not None:
            if _address_matches(address, entry):
                return True
        elif _name_matches(host, entry):
            return True
    return False


def _entry_host(entry: str) -> str:
    """The host (or network) of a ``no_proxy`` entry, its brackets and ``:port`` dropped."""
    if entry.startswith("["):
        inner, _, after = entry[1:].partition("]")
        # "[fd00::]/8" is "fd00::/8"; what follows otherwise is a port.
        return inner + after.partition(":")[0] if after.startswith("/") else inner
    if entry.count(":") == 1:
        return entry.partition(":")[0]
    return entry


def _address_matches(address: ipaddress.IPv4Address | ipaddress.IPv6Address, entry: str) -> bool:
    try:
        if "/" in entry:
            return address in ipaddress.ip_network(entry, strict=False)
        return address == ipaddress.ip_address(entry)
    except ValueError:
        return False


def _name_matches(host: str, entry: str) -> bool:
    if entry.startswith("*."):
        entry = entry[1:]
    entry = entry.removeprefix(".").removesuffix(".").lower()
    if not entry or len(entry) > 253:
        return False
    if not entry.isascii():
        try:
            entry = _a_labels(entry, "")
        except ValueError:
            return False
    if len(entry) > len(host):
        return False
    return host == entry or (host.endswith(entry) and host[-len(entry) - 1] == ".")


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


@dataclass(frozen=True, slots=True)
class Tunnel:
    """The proxy opened the tunnel (a 2xx answer to CONNECT).

    ``leftover`` are the bytes that came after the answer's header block in the same read:
    they are the destination's, the start of the TLS stream.
    """

    leftover: bytes = b""


TunnelAnswer = Tunnel | Failure

# What a status line starts with: "9" stands for a digit.
_TEMPLATE: Final = b"HTTP/9.9 999"
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
                if self._status is None and not _may_become_status(buffer):
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
            len(line) >= 12 and _may_become_status(line) and (len(line) == 12 or line[12] == 0x20)
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


def _may_become_status(data: bytes | bytearray) -> bool:
    """Whether ``data`` starts as a status line does, as far as it goes (12 bytes at most)."""
    for got, want in zip(data[: len(_TEMPLATE)], _TEMPLATE, strict=False):
        if want == 0x39:  # "9"
            if not 0x30 <= got <= 0x39:
                return False
        elif got != want:
            return False
    return True


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
