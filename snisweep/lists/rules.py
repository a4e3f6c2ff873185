"""What an endpoint in a list is made of: the rules every list format shares. Pure: no I/O.

YAML strings, lines of a text list and the ``url`` column of a CSV list are all *endpoint
strings* (``host``, ``host:port``, ``[v6]:port`` or a URL of a TLS scheme), read by
``parse_endpoint_string`` and normalised by ``host_and_port``. The single values (a host name,
an address, a port, a timeout, a tag, a protocol, a TLS version, a yes or no) are checked here
too, whatever format wrote them: each function returns the normalised value or raises
``ValueError`` with a message for the user. Host names have their rules here and nowhere else:
a proxy URL's host is read with ``normalise_host`` too (``snisweep.lists.proxies``, which
imports this module; this one never imports that one).

Every endpoint is HTTPS unless something says it is plain TLS: the probe then sends
``GET <http_path> HTTP/1.1`` after each handshake. What decides, most specific first
(``http_path``): the endpoint's own ``protocol`` (``https`` or ``tls``), then the scheme of its
URL (``https://`` and ``wss://`` are HTTP, with the URL's path and query as the request target;
``ldaps://`` and the other TLS schemes are not), then the ``protocol`` of its file's
``defaults``, then the command line's. The path is untrusted text bound for a request line:
``url_target`` refuses spaces and control characters, so that it can never end the line or
start a header, and percent-encodes what a URL cannot hold as written.

The client's side of each probe is set per endpoint too: ``tls_min`` and ``tls_max``, the range
of TLS versions it offers (``check_tls_version``; a range whose minimum is above its maximum,
once the defaults are applied, is refused); ``proxy``, the HTTP CONNECT proxy both probes go
through (an ``http://`` URL, or ``direct`` for none: ``snisweep.lists.proxies.check_proxy``,
whose module also holds the environment's proxy and the rules of ``no_proxy``);
``all_addresses``, one row per address the name resolves to. For ``proxy``, most specific
first: the endpoint's own, its file's ``defaults``, the command line's, then the environment's
(``https_proxy`` and the like), which alone is subject to ``no_proxy`` (as in Python's
``urllib``: a proxy that is set explicitly is meant). ``direct`` at any level overrides every
level below it.

A list reader turns what it read into an ``Entry`` with ``make_entry``, the one place where the
settings an entry does not give come from its defaults and where an IP-literal host gets no
SNI: a plain tuple, because the validation pass needs only its key, and building an
``Endpoint`` costs more than reading the entry did. ``digest`` is the endpoint's identity in
de-duplication (host, port, address, SNI); the path, the protocol, the TLS range, the proxy and
``all_addresses`` are not part of it, so two entries that differ only in them are one endpoint
(the first one listed).

IP literals are kept in one form on every Python: ``ipaddress`` writes an IPv4-mapped IPv6
address (``::ffff:192.0.2.1``) in hexadecimal up to 3.12 and with the IPv4 part from 3.13, and
the normalised host is what de-duplication and the shard hash see, which must not depend on
the machine. It is the form of RFC 5952, section 5: ``::ffff:192.0.2.1``.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Final

import idna

from snisweep.model import Proxy, TLSVersion, endpoint_digest

__all__ = [
    "DIRECT",
    "FROM_DEFAULTS",
    "HTTPS",
    "LABEL_MAX",
    "PATH_MAX",
    "PORT_RANGE",
    "PROTOCOLS",
    "RETRIES_RANGE",
    "TIMEOUT_MAX",
    "TLS",
    "TLS_DEFAULT_PORTS",
    "Defaults",
    "Direct",
    "Entry",
    "ProtocolDefault",
    "a_labels",
    "check_flag",
    "check_integer",
    "check_label",
    "check_protocol",
    "check_seconds",
    "check_tag",
    "check_tls_range",
    "check_tls_version",
    "digest",
    "host_and_port",
    "host_name",
    "http_path",
    "ip_text",
    "lines",
    "make_entry",
    "normalise_address",
    "normalise_host",
    "parse_endpoint_string",
    "show",
    "sni_name",
    "string_entry",
    "template_variable",
    "union",
    "url_target",
]

#: URL schemes that speak TLS from the first byte, with their default ports.
TLS_DEFAULT_PORTS: Final[dict[str, int]] = {
    "https": 443,
    "wss": 443,
    "ldaps": 636,
    "smtps": 465,
    "imaps": 993,
    "pop3s": 995,
    "ftps": 990,
}
# The TLS schemes whose servers speak HTTP; for the others, what answers instead (messages).
_HTTP_SCHEMES: Final = frozenset({"https", "wss"})
_NOT_HTTP_SERVERS: Final = {
    "ldaps": "an LDAP server",
    "smtps": "a mail (SMTP) server",
    "imaps": "a mail (IMAP) server",
    "pop3s": "a mail (POP3) server",
    "ftps": "an FTP server",
}
# Plain-text schemes, each with the TLS scheme the user most likely meant.
_PLAINTEXT_SCHEMES: Final = {
    "http": "https",
    "ws": "wss",
    "ldap": "ldaps",
    "smtp": "smtps",
    "imap": "imaps",
    "pop3": "pop3s",
    "ftp": "ftps",
}

PORT_RANGE: Final = (1, 65535)
TIMEOUT_MAX: Final = 300.0  # seconds; beyond this a probe is surely a typo (ms for s)
RETRIES_RANGE: Final = (0, 10)
LABEL_MAX: Final = 1000  # characters: a label is a name for people, not a document
PATH_MAX: Final = 2048  # characters of a request target, encoded: what servers accept anywhere

#: The values of ``protocol``: an HTTPS endpoint gets the HTTP check, a plain TLS one does not.
HTTPS: Final = "https"
TLS: Final = "tls"
PROTOCOLS: Final = (HTTPS, TLS)


class Direct(Enum):
    """The ``proxy`` written as ``direct``: no proxy, whatever a level below would give."""

    DIRECT = "direct"


DIRECT: Final = Direct.DIRECT


@dataclass(frozen=True, slots=True)
class Defaults:
    """The settings an entry gets for what it does not set itself: the command line's, with
    the ``defaults`` of its YAML file applied."""

    port: int
    timeout: float
    retries: int
    tags: tuple[str, ...] = ()
    protocol: str = HTTPS  # HTTPS or TLS, for the entries that neither set it nor give a URL
    tls_min: TLSVersion | None = None  # None: whatever OpenSSL still allows
    tls_max: TLSVersion | None = None
    # DIRECT: no proxy; None: none set here nor above, so the environment's applies
    proxy: Proxy | Direct | None = None
    all_addresses: bool = False
    # The environment's proxy, for the entries whose host ``bypassed`` does not send around it
    environment_proxy: Proxy | None = None
    # ``no_proxy``'s rule (``snisweep.lists.proxies.bypassed``), None when it bypasses nothing:
    # given as a function because that module reads host names with this one's rules
    bypassed: Callable[[str], bool] | None = None


# One endpoint as a reader yields it, in the order of ``Endpoint``'s fields, with the line it
# starts on in its list: (host, port, address, sni, label, tags, timeout, retries, line,
# http_path, tls_min, tls_max, proxy, all_addresses). Made by ``make_entry`` only.
Entry = tuple[
    str,
    int,
    str | None,
    str | None,
    str,
    tuple[str, ...],
    float,
    int,
    int,
    str | None,
    TLSVersion | None,
    TLSVersion | None,
    Proxy | None,
    bool,
]


class ProtocolDefault(Enum):
    """The ``path`` of an entry that says nothing about its protocol (no own ``protocol``, no
    URL): the protocol of its defaults decides."""

    FROM_DEFAULTS = "from the defaults"


FROM_DEFAULTS: Final = ProtocolDefault.FROM_DEFAULTS


def make_entry(  # noqa: PLR0917 - keyword-only parameters cost a dict lookup each, per entry
    defaults: Defaults,
    line: int,
    host: str,
    is_ip: bool,
    port: int | None = None,
    address: str | None = None,
    sni: str | None = None,
    label: str = "",
    tags: tuple[str, ...] = (),
    timeout: float | None = None,
    retries: int | None = None,
    path: str | ProtocolDefault | None = FROM_DEFAULTS,
    tls_min: TLSVersion | None = None,
    tls_max: TLSVersion | None = None,
    proxy: Proxy | Direct | None = None,
    all_addresses: bool | None = None,
) -> Entry:
    """The entry of an endpoint listed at ``line``: what it sets itself (None, or no tags, when
    it sets nothing), and ``defaults`` for the rest. The parameters are in the order of an
    ``Entry``'s fields, so that the readers can pass them by position, which is quicker.

    ``host`` is normalised, ``is_ip`` says whether it is an IP literal: no client can send SNI
    for an IP address, so without its own ``sni`` an IP-literal endpoint has none, and a name
    is its own SNI. The entry's tags are the defaults' tags, then its own, each once. ``path``
    is the request target of the HTTP check, None for a plain TLS endpoint (what its own
    ``protocol`` or its URL says, see ``http_path``), or ``FROM_DEFAULTS`` when they say
    nothing: then the defaults' protocol decides, with the path ``/``. ``proxy`` is the
    entry's own, else the defaults', else the environment's unless ``defaults.bypassed`` says
    ``no_proxy`` sends the host around it; ``DIRECT`` at any of them is None in the entry.

    Raises ``ValueError`` when the entry's TLS range, with the defaults, is empty (its
    ``tls_min`` above its ``tls_max``): the one problem that only the entry and its defaults
    together make.
    """
    if path is FROM_DEFAULTS:
        path = "/" if defaults.protocol == HTTPS else None
    if tls_min is None:
        tls_min = defaults.tls_min
    if tls_max is None:
        tls_max = defaults.tls_max
    if tls_min is not None and tls_max is not None and tls_min > tls_max:
        raise ValueError(_inverted(tls_min, tls_max))
    if proxy is None:
        proxy = defaults.proxy
        # no_proxy is the environment's exception to the environment's proxy, nothing more
        if (
            proxy is None
            and defaults.environment_proxy is not None
            and not (defaults.bypassed is not None and defaults.bypassed(host))
        ):
            proxy = defaults.environment_proxy
    return (
        host,
        defaults.port if port is None else port,
        address,
        sni if sni is not None else None if is_ip else host,
        label,
        _joined(defaults.tags, tags) if tags else defaults.tags,
        defaults.timeout if timeout is None else timeout,
        defaults.retries if retries is None else retries,
        line,
        path,
        tls_min,
        tls_max,
        None if proxy is DIRECT else proxy,
        defaults.all_addresses if all_addresses is None else all_addresses,
    )


def _inverted(tls_min: TLSVersion, tls_max: TLSVersion) -> str:
    return f"tls_min {tls_min.value} is above tls_max {tls_max.value}"


@functools.lru_cache(maxsize=256)
def _joined(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    # Lists repeat a few tag lists over and over: each pair is joined once.
    return union(first, second) if first else second


def digest(entry: Entry) -> bytes:
    """An endpoint's identity in 128 bits (host, port, address, SNI): entries with the same
    digest are one endpoint, and two endpoints never have the same digest by chance.

    Hosts and names are never empty, hold no NUL and are lower case ('None' cannot be one).
    """
    return endpoint_digest(entry[0], entry[1], entry[2], entry[3])


def show(text: str, limit: int = 80) -> str:
    """Quote user text for a message, cut so that one bad entry cannot flood the terminal."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# --- lines ----------------------------------------------------------------------------------


def lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a text, each with its line end, from the chunks it is read in.

    A line ends at LF, CR LF or a lone CR, as for YAML and for the csv module (spreadsheets
    of old Macs end lines in CR); the last one may have no end. Linear in the length of the
    text, however long its lines are.
    """
    # One list of lines per chunk, chained in C: no Python frame runs for each line.
    return itertools.chain.from_iterable(_blocks(chunks))


def _blocks(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    pending: list[bytes] = []  # the start of a line that goes on in a later chunk
    for chunk in chunks:
        # after the last line end that no later byte can change: a LF, or a CR with a byte
        # after it (a CR at the end may be the first half of a CR LF)
        cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r", 0, len(chunk) - 1)) + 1
        if not cut:
            pending.append(chunk)
            continue
        if pending:
            pending.append(chunk[:cut])
            block = b"".join(pending)
        else:
            block = chunk if cut == len(chunk) else chunk[:cut]
        pending = [chunk[cut:]] if cut < len(chunk) else []
        yield block.splitlines(keepends=True)
    if pending:
        yield b"".join(pending).splitlines(keepends=True)


# --- endpoint strings -------------------------------------------------------------------------


def parse_endpoint_string(text: str) -> tuple[str, int | None]:
    """Split one endpoint written as a string into ``(host, port)``.

    Accepted: ``host``, ``host:port``, ``[ipv6]``, ``[ipv6]:port``, a bare IPv6 address (a string
    with more than one ``:`` is read as a whole as an IPv6 literal), and URLs of a TLS scheme
    (``https://host:port/path``; see ``TLS_DEFAULT_PORTS`` for the port when none is given; the
    user info, path, query and fragment are ignored).

    The host is returned as written, stripped and without brackets; it is not checked here (see
    ``normalise_host``). The port is ``None`` when the string names none. Raises ``ValueError``
    with a message for the user when the string cannot be an endpoint.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty host")
    if "://" in text:
        return _parse_url(text)
    return _split_host_port(text, text)


def host_and_port(text: str) -> tuple[str, int | None, bool]:
    """An endpoint string read and normalised: ``(host, port or None, whether it is an IP)``.

    Raises ``ValueError``; when the string holds a template variable that was never filled
    (``https://{{env}}.example.com/``, ``${HOST}:443``), the message says so.
    """
    # Most endpoint strings are a name as it is kept, with or without a port: one match says
    # so. (Not a name that ends with a digit, or holds an A-label: see normalise_host.)
    match = _NORMAL_NAME_PORT.fullmatch(text)
    if match is not None:
        name, port = match.groups()
        if len(name) <= 253 and not name[-1].isdigit() and "xn--" not in name:
            if port is None:
                return name, None, False
            number = int(port)
            if number <= 65535:
                return name, number, False
    return _host_and_port(text)


def _host_and_port(text: str) -> tuple[str, int | None, bool]:
    try:
        host, port = parse_endpoint_string(text)
        name, is_ip = normalise_host(host)
    except ValueError:
        # What is left of a template is often no valid host or port in some other way first:
        # name the template, the real cause.
        scheme, sep, rest = text.partition("://")
        authority = scheme + sep + re.split(r"[/?#]", rest, maxsplit=1)[0] if sep else text
        variable = template_variable(authority)
        if variable is None:
            raise
        raise ValueError(
            f"unresolved template variable {show(variable, 40)} in {show(text)}"
        ) from None
    return name, port, is_ip


def string_entry(text: str, line: int, defaults: Defaults) -> Entry:
    """The entry an endpoint string makes, with ``defaults``; raises ``ValueError``."""
    if "://" in text:  # the scheme decides the path, not the defaults
        host, port, is_ip, path = _read_url(text)
        return make_entry(defaults, line, host, is_ip, port, path=path)
    host, port, is_ip = host_and_port(text)
    return make_entry(defaults, line, host, is_ip, port)


def _read_url(text: str) -> tuple[str, int | None, bool, str | None]:
    """``host_and_port`` and ``url_target`` of a URL, in one match for most URLs of a list."""
    match = _NORMAL_URL.fullmatch(text)
    if match is not None:
        name, port, target = match.groups()
        if target[:1] != "/":
            target = "/" + target  # an empty path, and maybe a query
        number = 443 if port is None else int(port)
        if (
            number <= 65535
            and len(name) <= 253
            and not name[-1].isdigit()
            and "xn--" not in name
            and len(target) <= 2048  # PATH_MAX
        ):
            return name, number, False, target
    host, port, is_ip = host_and_port(text)
    return host, port, is_ip, url_target(text)


def http_path(protocol: str | None, url: str | None = None) -> str | ProtocolDefault | None:
    """The ``path`` of an endpoint for ``make_entry``: its own ``protocol`` (None when it sets
    none) decides, else the scheme of ``url`` (the endpoint string it was written as, None when
    none; it may be no URL), else nothing does: ``FROM_DEFAULTS``. Raises ``ValueError`` for a
    URL whose path ``url_target`` refuses, and for ``protocol: https`` on a URL of a scheme
    that is not HTTP.
    """
    target: str | None = "/"
    if url is not None and "://" in url:
        # checked even where protocol: tls makes it unused: the list is wrong either way
        target = url_target(url)
        if protocol is None:
            return target
        if target is None and protocol == HTTPS:
            scheme = url.strip().partition("://")[0].lower()
            raise ValueError(
                f"protocol https does not fit this {scheme}:// URL: "
                f"{_NOT_HTTP_SERVERS.get(scheme, 'its server')} does not answer HTTP; "
                "write protocol tls, or no protocol"
            )
    elif protocol is None:
        return FROM_DEFAULTS
    return target if protocol == HTTPS else None


def _parse_url(text: str) -> tuple[str, int]:
    scheme, rest = _scheme_and_rest(text)
    default_port = TLS_DEFAULT_PORTS[scheme]
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    host_port = authority.rpartition("@")[2]  # user info never matters for a handshake
    if not host_port.strip():
        raise ValueError(f"empty host in URL {show(text)}")
    if not host_port.startswith("[") and host_port.count(":") > 1:
        raise ValueError(f"an IPv6 address in a URL needs brackets: {show(text)}")
    host, port = _split_host_port(host_port, text)
    return host, default_port if port is None else port


def _scheme_and_rest(text: str) -> tuple[str, str]:
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme in _PLAINTEXT_SCHEMES:
        secure = _PLAINTEXT_SCHEMES[scheme]
        raise ValueError(
            f"{scheme}:// is not TLS; use {secure}:// (default port "
            f"{TLS_DEFAULT_PORTS[secure]}) or host:port"
        )
    if scheme not in TLS_DEFAULT_PORTS:
        known = ", ".join(TLS_DEFAULT_PORTS)
        raise ValueError(
            f"unsupported URL scheme {show(scheme + '://')}; use one of {known}, or host:port"
        )
    return scheme, rest


_AUTHORITY_END: Final = re.compile(r"[/?#]")
# A request target that needs nothing done: RFC 3986's path and query characters, and '%' only
# as the start of an escape. (Most paths of a list are like that.)
_CLEAN_TARGET: Final = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*+")
# What a request target cannot hold as written: a '%' that starts no escape, characters that
# RFC 3986 leaves out ('"', '<', '[', '{', '|', ...), and all that is not ASCII.
_TO_ENCODE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]")
# Templates that no URL can hold as written (braces and angle brackets), unlike $NAME or
# %NAME%, which are also legitimate text in a query ('?$filter=', '%41%').
# (No scan from an opening brace goes past the next one, so that a text full of them is read in
# linear time.)
_PATH_TEMPLATE: Final = re.compile(
    r"\{\{[^{]*?\}\}|\$\{[^{}]*\}|<[A-Za-z_][^<>]*>|\{[A-Za-z_][A-Za-z0-9_.-]*\}"
)


def url_target(text: str) -> str | None:
    """The request target of the HTTP check for the URL ``text``: its path and query
    (``/`` when it has no path: ``https://h?x=1`` is ``/?x=1``), without the fragment; None
    for a scheme that is not HTTP (``ldaps://``, ...).

    The target goes into a request line, so it must not be able to end it: a space or a
    control character (any character Python does not call printable: CR, LF, NUL, NEL,
    U+2028, ...) raises ``ValueError``, and so do a target longer than ``PATH_MAX`` once
    encoded and an unfilled template (``{{path}}``, ``${P}``, ``{id}``, ``<path>``). What a URL
    cannot hold as written is percent-encoded (non-ASCII as UTF-8, ``"<>[\\]^`{|}``, and a
    ``%`` that starts no escape); ``%XX`` escapes are kept as written. Messages quote the path
    and query, never the user info. The authority is not checked here (see ``host_and_port``).
    """
    scheme, rest = _scheme_and_rest(text.strip())
    if scheme not in _HTTP_SCHEMES:
        return None
    match = _AUTHORITY_END.search(rest)
    if match is None:
        return "/"
    target = rest[match.start() :].partition("#")[0]
    if target[:1] != "/":
        target = "/" + target  # an empty path, and maybe a query
    if len(target) <= PATH_MAX and _CLEAN_TARGET.fullmatch(target):
        return target
    return _encode_target(target)


def _encode_target(target: str) -> str:
    # First, so that nothing below reads more than that; encoding only makes it longer.
    if len(target) > PATH_MAX:
        raise ValueError(
            f"the URL's path and query are {len(target)} characters long; {PATH_MAX} at most"
        )
    # the unfilled template is the news, if there is one (its spaces are no typo)
    if "{" in target or "<" in target:
        template = _PATH_TEMPLATE.search(target)
        if template is not None:
            raise ValueError(
                f"unresolved template variable {show(template.group(), 40)} in the URL's "
                f"path or query {show(target)}"
            )
    if not target.isprintable() or " " in target:
        char = next(c for c in target if c == " " or not c.isprintable())
        if char == " ":
            raise ValueError(f"a space in the URL's path or query {show(target)}; write %20")
        what = "a space" if unicodedata.category(char)[0] == "Z" else "a control character"
        raise ValueError(f"{what} (U+{ord(char):04X}) in the URL's path or query {show(target)}")
    encoded = _TO_ENCODE.sub(lambda m: urllib.parse.quote(m.group(), safe=""), target)
    if len(encoded) > PATH_MAX:
        raise ValueError(
            f"the URL's path and query are {len(encoded)} characters long once "
            f"percent-encoded; {PATH_MAX} at most"
        )
    return encoded


def _split_host_port(text: str, whole: str) -> tuple[str, int | None]:
    port: int | None = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"missing ']' in {show(whole)}")
        host, rest = text[1:end].strip(), text[end + 1 :]
        if not host:
            raise ValueError("empty host")
        if not _is_ipv6(host):
            raise ValueError(f"brackets are only for IPv6 addresses: {show(whole)}")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"unexpected {show(rest)} after ']' in {show(whole)}")
            port = _parse_port(rest[1:], whole)
        return host, port
    colons = text.count(":")
    if colons > 1:
        if not _is_ipv6(text):
            raise ValueError(
                f"{show(whole)} is neither host:port nor an IPv6 address "
                "(an IPv6 address with a port is written [address]:port)"
            )
        return text, None
    host = text
    if colons == 1:
        host, _, port_text = text.partition(":")
        port = _parse_port(port_text, whole)
    host = host.strip()
    if not host:
        raise ValueError("empty host")
    return host, port


def _parse_port(text: str, whole: str) -> int:
    if not text:
        raise ValueError(f"missing port after ':' in {show(whole)}")
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"invalid port {show(text)} in {show(whole)}")
    # the length test keeps int() away from absurdly long digit strings
    port = int(text) if len(text) <= 5 else 0
    if not PORT_RANGE[0] <= port <= PORT_RANGE[1]:
        raise ValueError(f"port {text} is out of range 1..65535")
    return port


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


# --- template variables -----------------------------------------------------------------------

# The characters that give a template away; none of them can be part of a host name.
_TEMPLATE_CHARS: Final = frozenset("${}%<>")
# Jinja/Helm/Go {{ x }}, shell and Ansible ${X} and $X, Windows %X%, and <host> placeholders.
# No scan from an opening brace goes past the next one: linear time for any text.
_TEMPLATE_VARIABLE: Final = re.compile(
    r"\{\{[^{]*?\}\}|\$\{[^{}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_.-]*%"
    r"|<[A-Za-z_][^<>]*>|\{[A-Za-z_][A-Za-z0-9_.-]*\}"
)


def template_variable(text: str) -> str | None:
    """The first unfilled template variable in ``text`` (``{{env}}``, ``${HOST}``, ``%HOST%``,
    ``$HOST``, ``<host>``, ``{host}``), or None."""
    if _TEMPLATE_CHARS.isdisjoint(text):
        return None
    match = _TEMPLATE_VARIABLE.search(text)
    return None if match is None else match.group()


# --- host names and addresses -----------------------------------------------------------------

# Underscores are not valid in host names, but internal DNS zones are full of them.
_ASCII_NAME: Final = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}")
# An IPv4 address as ipaddress writes it (no leading zeros): nothing to normalise.
_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4: Final = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
_NORMAL_NAME: Final = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*+")
_NORMAL_NAME_PORT: Final = re.compile(
    r"([a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*+)(?::([1-9][0-9]{0,4}))?"
)
# An https:// or wss:// URL (port 443 by default) of such a name, without user info, whose
# path and query need nothing done (see _CLEAN_TARGET); any fragment.
_NORMAL_URL: Final = re.compile(
    r"(?:https|wss)://([a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*+)(?::([1-9][0-9]{0,4}))?+"
    r"((?:[/?](?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*+)?+)(?:#.*)?"
)


def normalise_host(text: str, what: str = "host") -> tuple[str, bool]:
    """Return the normalised host and whether it is an IP literal, or raise ``ValueError``.

    Names: stripped, one trailing dot dropped, lower case, IDNA A-labels; labels of letters,
    digits, ``-`` and ``_`` of 1..63 characters, 253 at most in all. IP literals: the form of
    ``ip_text``. ``what`` names the value in messages (``host``, ``sni``).
    """
    # Most names are written as they are kept: one match says so. (Not a name that ends with a
    # digit, which may be an IPv4 address, nor one with an A-label, which must be decoded.)
    if (
        len(text) <= 253
        and not text[-1:].isdigit()
        and "xn--" not in text
        and _NORMAL_NAME.fullmatch(text)
    ):
        return text, False
    return _normalise_host(text, what)


def _normalise_host(text: str, what: str) -> tuple[str, bool]:
    host = text.strip()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise ValueError(f"empty {what}")
    if not _TEMPLATE_CHARS.isdisjoint(host):
        variable = template_variable(host)
        if variable is not None:
            raise ValueError(
                f"invalid {what} {show(text)}: unresolved template variable {show(variable, 40)}"
            )
    name = host.lower()
    if not name.isascii():
        name = _to_a_labels(name, text, what)
    if ":" in name:
        try:
            return ip_text(ipaddress.IPv6Address(name)), True
        except ValueError:
            raise ValueError(
                f"invalid {what} {show(text)}: not an IPv6 address, and ':' cannot be part of "
                "a name"
            ) from None
    last_label = name.rpartition(".")[2]
    if last_label.isdigit():
        # Resolvers read '10.1' or '1.2.3.010' as IPv4 in legacy notations: never a name.
        if _CANONICAL_IPV4.fullmatch(name):
            return name, True
        try:
            return ipaddress.IPv4Address(name).compressed, True
        except ValueError:
            raise ValueError(
                f"invalid {what} {show(text)}: not an IPv4 address, and a name cannot end "
                "with a numeric label"
            ) from None
    if len(name) > 253 or not _ASCII_NAME.fullmatch(name):
        raise ValueError(f"invalid {what} {show(text)}: {_why_invalid_name(name)}")
    if "xn--" in name:
        for label in name.split("."):
            if label.startswith("xn--"):
                try:
                    idna.ulabel(label)
                except idna.IDNAError as exc:
                    raise ValueError(
                        f"invalid {what} {show(text)}: label {label!r}: {exc}"
                    ) from None
    return name, False


def ip_text(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The one form of an IP address, whatever Python runs: IPv4 dotted, without leading
    zeros; IPv6 as RFC 5952 writes it (lower case, no leading zeros, the longest run of two
    or more zero groups, the first of equally long ones, as ``::``), an IPv4-mapped address
    as ``::ffff:192.0.2.1`` (section 5), a scope kept as ``%scope``."""
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    scope = f"%{address.scope_id}" if address.scope_id else ""
    mapped = address.ipv4_mapped
    if mapped is not None:
        return f"::ffff:{mapped}{scope}"
    # Written here rather than by ipaddress, whose form of some addresses changed in 3.13.
    value = int(address)
    groups = [f"{(value >> shift) & 0xFFFF:x}" for shift in range(112, -1, -16)]
    start, length = -1, 1  # the run of zero groups to write as '::'
    run = 0
    for index, group in enumerate(groups):
        run = run + 1 if group == "0" else 0
        if run > length:
            start, length = index - run + 1, run
    if start < 0:
        return ":".join(groups) + scope
    head, tail = ":".join(groups[:start]), ":".join(groups[start + length :])
    return f"{head}::{tail}{scope}"


def a_labels(name: str) -> str:
    """``name`` with each label that is not ASCII in its IDNA A-label form, the others as they
    are, and a trailing dot (once UTS 46 has mapped it) dropped; ``ValueError`` with the idna
    package's message for a label IDNA refuses. Nothing else of a host name is checked here."""
    # Label by label, so that a name can mix Unicode labels and labels with underscores
    # (which IDNA itself refuses).
    mapped = idna.uts46_remap(name, std3_rules=False, transitional=False)
    if mapped.endswith("."):  # an ideographic full stop at the end, mapped to '.'
        mapped = mapped[:-1]
    return ".".join(
        label if label.isascii() else idna.encode(label, uts46=True).decode("ascii")
        for label in mapped.split(".")
    )


def _to_a_labels(name: str, text: str, what: str) -> str:
    try:
        return a_labels(name)
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"invalid {what} {show(text)}: {exc}") from None


def _why_invalid_name(name: str) -> str:
    if len(name) > 253:
        return f"longer than 253 characters ({len(name)})"
    for label in name.split("."):
        if not label:
            return "empty label (two dots in a row, or a leading dot)"
        if len(label) > 63:
            return f"label {show(label, 20)} is longer than 63 characters"
        for char in label:
            if not (char.isascii() and (char.isalnum() or char in "-_")):
                return f"{char!r} is not allowed (only letters, digits, '-' and '_')"
    return "not a valid host name"  # pragma: no cover - the regular expression agrees


def host_name(text: str, key: str = "host") -> tuple[str, bool]:
    """A host written on its own, as the ``host`` and ``sni`` of a YAML mapping or a CSV row:
    a name or an IP address (brackets allowed), no port, no URL. Returns what
    ``normalise_host`` returns; raises ``ValueError``. ``key`` names the value in messages.
    """
    if not text.strip():
        raise ValueError(f"empty {key}")
    if "://" in text:
        variable = template_variable(text)  # the unfilled template is the news, if there is one
        if variable is not None:
            raise ValueError(
                f"{key}: unresolved template variable {show(variable, 40)} in {show(text)}"
            )
        raise ValueError(
            f"{key}: {show(text)} is a URL; give only the name here, and the port in 'port'"
        )
    host = text
    if ":" in text or "[" in text:  # else there is no port and there are no brackets to drop
        try:
            host, port = parse_endpoint_string(text)
        except ValueError as exc:
            variable = template_variable(text)
            if variable is None:
                raise ValueError(f"{key}: {exc}") from None
            raise ValueError(
                f"{key}: unresolved template variable {show(variable, 40)} in {show(text)}"
            ) from None
        if port is not None:
            raise ValueError(f"{key}: {show(text)} includes a port; use the 'port' key")
    return normalise_host(host, key)


def sni_name(text: str) -> str:
    """The name to send as SNI: a DNS name, never an IP address; raises ``ValueError``."""
    name, is_ip = host_name(text, "sni")
    if is_ip:
        raise ValueError(
            f"sni must be a DNS name, not an IP address ({name}); "
            "use 'address' to connect to an IP address"
        )
    return name


def normalise_address(text: str) -> str:
    """An IPv4 or IPv6 address (brackets allowed) in the form of ``ip_text``; raises
    ``ValueError``."""
    if _CANONICAL_IPV4.fullmatch(text):
        return text
    address = text.strip()
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    try:
        return ip_text(ipaddress.ip_address(address))
    except ValueError:
        variable = template_variable(address)
        if variable is not None:
            raise ValueError(
                f"invalid address {show(text)}: unresolved template variable {show(variable, 40)}"
            ) from None
        raise ValueError(
            f"invalid address {show(text)}: expected an IPv4 or IPv6 address (without port)"
        ) from None


# --- the other values -------------------------------------------------------------------------


def check_integer(value: int, text: str, key: str, low: int, high: int) -> int:
    """``value`` (written as ``text``) when it is in ``low..high``; else ``ValueError``."""
    if not low <= value <= high:
        raise ValueError(f"{key} {text} is out of range {low}..{high}")
    return value


def check_seconds(value: float, text: str) -> float:
    """A timeout in seconds (written as ``text``) as a float; ``ValueError`` when out of range."""
    seconds = float(value)
    if not 0 < seconds <= TIMEOUT_MAX:  # also refuses nan
        raise ValueError(f"timeout {text} is out of range: more than 0, {TIMEOUT_MAX:g} at most")
    return seconds


def check_tag(tag: str) -> str:
    """A tag, stripped; raises ``ValueError`` for an empty one or one a report cannot carry."""
    tag = tag.strip()
    if not tag:
        raise ValueError("tags: empty tag")
    if ";" in tag or not tag.isprintable():
        # The CSV report joins tags with ';', and a tag is a word, not a text.
        raise ValueError(f"tags: {tag!r} holds ';' or a control character")
    return tag


def union(first: tuple[str, ...], second: Iterable[str]) -> tuple[str, ...]:
    """The tags of ``first``, then those of ``second``, each once."""
    return tuple(dict.fromkeys((*first, *second)))


def check_protocol(text: str) -> str:
    """A ``protocol`` value, ``https`` or ``tls`` in any case, as ``HTTPS`` or ``TLS``; raises
    ``ValueError`` for anything else."""
    protocol = text.strip().lower()
    if protocol == HTTPS:
        return HTTPS
    if protocol == TLS:
        return TLS
    raise ValueError(f"protocol: expected https or tls, found {show(text)}")


# "1.2", "TLSv1.2", "tls1.2", in any case, as openssl, curl and Java write the versions.
_TLS_VERSION: Final = re.compile(r"(?:tlsv?)?(1\.[0-3])", re.IGNORECASE)


def check_tls_version(text: str, key: str = "TLS version") -> TLSVersion:
    """A ``tls_min`` or ``tls_max`` value, ``1.0`` to ``1.3``, also written ``TLSv1.2`` or
    ``tls1.2`` in any case; raises ``ValueError`` for anything else, naming ``key``."""
    match = _TLS_VERSION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{key}: expected 1.0, 1.1, 1.2 or 1.3, found {show(text)}")
    return TLSVersion(match.group(1))


def check_tls_range(tls_min: TLSVersion | None, tls_max: TLSVersion | None) -> None:
    """Raise ``ValueError`` when ``tls_min`` is above ``tls_max`` (None is no bound)."""
    if tls_min is not None and tls_max is not None and tls_min > tls_max:
        raise ValueError(_inverted(tls_min, tls_max))


_FLAGS: Final = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def check_flag(text: str, key: str) -> bool:
    """A yes-or-no value written as text (a CSV cell): ``true``, ``yes``, ``1``, ``false``,
    ``no``, ``0``, in any case; raises ``ValueError`` for anything else, naming ``key``."""
    flag = _FLAGS.get(text.strip().lower())
    if flag is None:
        raise ValueError(f"{key}: expected true or false (or yes, no, 1, 0), found {show(text)}")
    return flag


def check_label(label: str, key: str = "label") -> str:
    """A label as written; raises ``ValueError`` when it is too long for a report."""
    if len(label) > LABEL_MAX:
        raise ValueError(f"{key}: {len(label)} characters; {LABEL_MAX} at most")
    return label
