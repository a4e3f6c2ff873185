"""Proxy settings: the proxy URL, the environment's proxy for a destination, and the rules of
``no_proxy``. Pure: no I/O; nothing here reads the real environment (the caller hands in a
mapping). What goes over the wire to the proxy is ``snisweep.net.proxy``'s.

Proxy URLs (``parse_proxy``, ``check_proxy``)
---------------------------------------------
``http://[user[:password]@]host[:port][/]``, port 1080 by default as curl has it; a list's or
the command line's ``proxy`` may also be ``direct``, for none (``check_proxy``). The host
follows the rules of endpoint hosts, ``snisweep.lists.rules.normalise_host``: lower case, IDNA
A-labels, underscores allowed, a trailing dot dropped, IPv4 in its one form. An IPv6 address is
written in brackets, without a zone identifier, and kept without them in the form of
``snisweep.lists.rules.ip_text`` (``::ffff:192.0.2.1`` for an IPv4-mapped one).

Credentials are percent-decoded and sent as Basic (RFC 7617). They never appear in an error
message, a ``repr`` or the ``proxy`` column: messages show the URL with what precedes its last
``@`` replaced by ``***``; in a URL without ``@`` they hide the whole ``host:port`` when its
port is not a port number, since ``http://user:password`` (the ``@host`` forgotten) reads as a
host and a port, and then they never quote the host either. A URL without a scheme is refused,
where curl would take it for ``http://``: a proxy is named once, in a list or the environment,
and saying which protocol it speaks costs nothing.

The environment (``environment_proxy``, ``proxy_from_environment``)
-------------------------------------------------------------------
As curl and Python do for an ``https://`` URL, first set and non-empty wins::

    https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY

(a lower-case name before its upper-case twin, as curl reads them; a bare ``host:port`` is an
``http://`` proxy, as curl, Python and requests read it), unless the destination is bypassed by
``no_proxy`` (or, when that is unset or empty, ``NO_PROXY``). ``http_proxy`` is never read:
probes are TLS. Where the environment's proxy stands among the levels of a list
(``snisweep.lists.rules``): last, and alone subject to ``no_proxy``.

``no_proxy`` (``bypassed``)
---------------------------
curl's rules, a little more lenient:

* entries are separated by commas and/or white space; empty entries are skipped;
* ``*`` as an entry matches every host;
* a name matches itself and every name below it, with or without a leading dot:
  ``example.com`` and ``.example.com`` both match ``example.com`` and ``a.example.com``,
  never ``notexample.com``; ``*.example.com`` is read as ``.example.com``;
* names compare case-insensitively, a trailing dot ignored on either side; an entry in
  Unicode is compared in its IDNA A-label form, and so is a host in Unicode;
* an IP address entry matches that address, compared as addresses (``::1`` is ``0:0::1``); a
  CIDR entry (``10.0.0.0/8``, ``fd00::/8``) matches the addresses in it; an IP entry matches
  only a host that is an IP literal, a name entry only a host that is a name (no DNS is asked);
* ``:port`` after an entry is ignored (``example.com:8443``, ``[::1]:8443``): the entry
  applies to every port, where curl would never match it; IPv6 entries may be bracketed.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
from collections.abc import Mapping
from typing import Final
from urllib.parse import unquote_to_bytes

from snisweep.lists.rules import DIRECT, Direct, a_labels, ip_text, normalise_host, show
from snisweep.model import Proxy

__all__ = [
    "DEFAULT_PORT",
    "ENVIRONMENT_VARIABLES",
    "bypassed",
    "check_proxy",
    "environment_proxy",
    "parse_proxy",
    "proxy_from_environment",
]

#: The port of a proxy URL that names none (curl's default).
DEFAULT_PORT: Final = 1080

#: Where a proxy for a TLS destination comes from, first set and non-empty wins.
ENVIRONMENT_VARIABLES: Final = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
_NO_PROXY_VARIABLES: Final = ("no_proxy", "NO_PROXY")

# --- proxy URLs -------------------------------------------------------------------------------

_SCHEME_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."
)
_IPV6_CHARS: Final = frozenset("0123456789abcdefABCDEF:.")
_SOCKS: Final = frozenset({"socks", "socks4", "socks4a", "socks5", "socks5h"})
_KNOWN: Final = _SOCKS | {"http", "https"}


def check_proxy(text: str) -> Proxy | Direct:
    """A ``proxy`` value: ``direct`` in any case (no proxy), or an ``http://`` URL read by
    ``parse_proxy``; raises ``ValueError`` with a message that never holds the URL's
    credentials."""
    word = text.strip()
    if word.lower() == DIRECT.value:
        return DIRECT
    if "@" not in word and ":" not in word:  # no URL, and nothing in it to hide
        raise ValueError(f"proxy: expected direct or an http://host:port URL, found {show(word)}")
    return parse_proxy(word)


def parse_proxy(url: str) -> Proxy:
    """The proxy an ``http://[user[:password]@]host[:port][/]`` URL names; ``ValueError``
    with a one-line message (that never holds the credentials) for anything else.

    The host is normalised as endpoint hosts are (see the module docstring). Surrounding white
    space is ignored.
    """
    text = url.strip()
    if not text:
        raise ValueError("empty proxy URL")
    shown = f"proxy URL {show(_redacted(text), 100)}"
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
    # Without '@', 'name:' may be 'user:' with its '@host' forgotten: ``_redacted`` hides it,
    # and so must the message about it.
    quoted = bool(at) or not host_port.endswith(":")
    return Proxy(_proxy_host(host_text, shown, quoted=quoted), port, authorization)


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
        raise ValueError(f"{shown}: {_BRACKETS}")
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


_BRACKETS: Final = "an IPv6 address is written in brackets, as http://[2001:db8::1]:3128"


def _proxy_host(text: str, shown: str, *, quoted: bool) -> str:
    """The host of a proxy URL (``[v6]`` or a name or IPv4 address), normalised; ``quoted``
    whether messages may quote it (``shown`` does)."""
    if text.startswith("["):
        inner = text[1:-1]
        if "%" in inner:
            raise ValueError(f"{shown}: IPv6 zone identifiers are not supported")
        try:
            return ip_text(ipaddress.IPv6Address(inner))
        except ValueError:
            raise ValueError(f"{shown}: not an IPv6 address in the brackets") from None
    try:
        host, is_ip = normalise_host(text)
    except ValueError as exc:
        if not quoted:
            raise ValueError(
                f"{shown}: invalid host (not shown: without '@host' it may be a user name)"
            ) from None
        raise ValueError(f"{shown}: {exc}") from None
    if is_ip and ":" in host:  # an IPv6 address in full-width colons, which IDNA maps to ':'
        raise ValueError(f"{shown}: {_BRACKETS}")
    return host


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


# --- no_proxy ---------------------------------------------------------------------------------


def bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``no_proxy`` (a ``no_proxy`` variable's value) sends ``host`` around the proxy,
    by the rules of the module docstring.

    Work is linear in the length of ``no_proxy``: each entry is looked at once, and an entry too
    long to be a host name or an address is skipped without being parsed.
    """
    host = host.strip().removeprefix("[").removesuffix("]").removesuffix(".").lower()
    if not host.isascii():
        with contextlib.suppress(ValueError):  # else only '*' can match it
            host = a_labels(host)
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
            entry = a_labels(entry)
        except ValueError:
            return False
    if len(entry) > len(host):
        return False
    return host == entry or (host.endswith(entry) and host[-len(entry) - 1] == ".")
