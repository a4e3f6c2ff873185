"""Endpoint lists: read YAML files into ``Endpoint`` values, or report every problem in them.

Reading the listed files (and standard input) is the only I/O here. The format is described in
the user contract, section "Endpoint lists (YAML)", and shown with every key in
``configs/example.yaml``::

    defaults: {port: 443, timeout: 5, retries: 1, tags: [nightly]}   # all optional
    endpoints:
      - api.example.com                       # host, default port
      - api.example.com:8443                  # host:port; [2001:db8::10]:443 for IPv6
      - https://hr.example.net:9443/ws/soap   # URL of a TLS scheme: host and port
      - host: billing.example.org             # mapping: host, port, address, sni, label,
        port: 8443                            #          tags, timeout, retries

A bare list at the top level is read as ``endpoints``. Each setting of an endpoint comes from,
in order of precedence: the endpoint's own key, the ``defaults`` of the file it is listed in
(they apply to that file only), then ``Settings`` (the command line). ``tags`` is the exception:
an endpoint gets the union of the defaults' tags and its own, the defaults' first, without
repeats. Entries with the same ``Endpoint.key`` are scanned once, the first one wins.

``load`` validates every file before it returns, and raises one ``ConfigError`` carrying each
problem of each file as ``FILE:LINE: message``. Only then does iterating the returned
``EndpointList`` read the files again and stream the endpoints. Lists with hundreds of thousands
of entries are expected, so the document is never built as a whole: the YAML event stream is read
and one small tree is built per entry. What grows with the list is one 128-bit digest per
endpoint, for de-duplication (and standard input or a pipe, kept in memory because it cannot be
read twice).
"""

from __future__ import annotations

import difflib
import hashlib
import io
import ipaddress
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO, Final, TextIO

import idna
import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from snisweep.errors import ConfigError, Problem
from snisweep.model import Endpoint

try:
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml: same events, slower
    from yaml import SafeLoader as _YamlLoader  # type: ignore[assignment]

__all__ = ["TLS_DEFAULT_PORTS", "EndpointList", "Settings", "load", "parse_endpoint_string"]

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

_ENDPOINT_KEYS: Final = ("host", "port", "address", "sni", "label", "tags", "timeout", "retries")
_ENDPOINT_KEY_SET: Final = frozenset(_ENDPOINT_KEYS)
_DEFAULTS_KEYS: Final = ("port", "timeout", "retries", "tags")
_TOP_KEYS: Final = ("defaults", "endpoints")
_EXPECTED_TOP: Final = "a mapping with an 'endpoints' list (and optional 'defaults'), or a list"


@dataclass(frozen=True, slots=True)
class Settings:
    """Command-line level defaults: the lowest precedence, below a file's ``defaults``.

    Invalid values raise ``ValueError``: they come from the program, not from a file.
    """

    port: int = 443
    timeout: float = 5.0
    retries: int = 1

    def __post_init__(self) -> None:
        for name, value, low, high in (
            ("port", self.port, *PORT_RANGE),
            ("retries", self.retries, *RETRIES_RANGE),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer {low}..{high}, not {value!r}")
        timeout = self.timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= TIMEOUT_MAX
        ):
            raise ValueError(f"timeout must be seconds in (0, {TIMEOUT_MAX:g}], not {timeout!r}")


_DEFAULT_SETTINGS: Final = Settings()


# --- the string forms -------------------------------------------------------------------------


def parse_endpoint_string(text: str) -> tuple[str, int | None]:
    """Split one endpoint written as a string into ``(host, port)``.

    Accepted: ``host``, ``host:port``, ``[ipv6]``, ``[ipv6]:port``, a bare IPv6 address (a string
    with more than one ``:`` is read as a whole as an IPv6 literal), and URLs of a TLS scheme
    (``https://host:port/path``; see ``TLS_DEFAULT_PORTS`` for the port when none is given; the
    user info, path, query and fragment are ignored).

    The host is returned as written, stripped and without brackets; it is not checked here (see
    the host rules in ``load``). The port is ``None`` when the string names none. Raises
    ``ValueError`` with a message for the user when the string cannot be an endpoint.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty host")
    if "://" in text:
        return _parse_url(text)
    return _split_host_port(text, text)


def _parse_url(text: str) -> tuple[str, int]:
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme in _PLAINTEXT_SCHEMES:
        secure = _PLAINTEXT_SCHEMES[scheme]
        raise ValueError(
            f"{scheme}:// is not TLS; use {secure}:// (default port "
            f"{TLS_DEFAULT_PORTS[secure]}) or host:port"
        )
    default_port = TLS_DEFAULT_PORTS.get(scheme)
    if default_port is None:
        known = ", ".join(TLS_DEFAULT_PORTS)
        raise ValueError(
            f"unsupported URL scheme {_show(scheme + '://')}; use one of {known}, or host:port"
        )
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host_port = authority.rpartition("@")[2]  # user info never matters for a handshake
    if not host_port.strip():
        raise ValueError(f"empty host in URL {_show(text)}")
    if not host_port.startswith("[") and host_port.count(":") > 1:
        raise ValueError(f"an IPv6 address in a URL needs brackets: {_show(text)}")
    host, port = _split_host_port(host_port, text)
    return host, default_port if port is None else port


def _split_host_port(text: str, whole: str) -> tuple[str, int | None]:
    port: int | None = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"missing ']' in {_show(whole)}")
        host, rest = text[1:end].strip(), text[end + 1 :]
        if not host:
            raise ValueError("empty host")
        if not _is_ipv6(host):
            raise ValueError(f"brackets are only for IPv6 addresses: {_show(whole)}")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"unexpected {_show(rest)} after ']' in {_show(whole)}")
            port = _parse_port(rest[1:], whole)
        return host, port
    colons = text.count(":")
    if colons > 1:
        if not _is_ipv6(text):
            raise ValueError(
                f"{_show(whole)} is neither host:port nor an IPv6 address "
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
        raise ValueError(f"missing port after ':' in {_show(whole)}")
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"invalid port {_show(text)} in {_show(whole)}")
    # the length test keeps int() away from absurdly long digit strings
    if len(text) > 5 or not PORT_RANGE[0] <= int(text) <= PORT_RANGE[1]:
        raise ValueError(f"port {text} is out of range 1..65535")
    return int(text)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _show(text: str, limit: int = 80) -> str:
    """Quote user text for a message, cut so that one bad entry cannot flood the terminal."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# --- host names and addresses -----------------------------------------------------------------

# Underscores are not valid in host names, but internal DNS zones are full of them.
_ASCII_NAME: Final = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}")
# An IPv4 address as ipaddress writes it (no leading zeros): nothing to normalise.
_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4: Final = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
# A host written from an unrendered template: ${HOST}, {{ host }}, %HOST%, <host>.
_TEMPLATE_CHARS: Final = frozenset("${}%<>")


# host or host:port in its most common spelling, a lower-case ASCII name whose last label is not
# numeric: checked in one match. Anything else takes the general path, which agrees.
_SIMPLE_HOST_PORT: Final = re.compile(
    r"((?:[a-z0-9_-]{1,63}\.)*(?=[0-9]*[a-z_-])[a-z0-9_-]{1,63})(?::([1-9][0-9]{0,4}))?"
)


def _simple_host_port(text: str) -> tuple[str, int | None] | None:
    """What ``parse_endpoint_string`` and ``_normalise_host`` make of ``text``, when it is
    already a normalised name with or without a valid port; None when it takes a closer look."""
    match = _SIMPLE_HOST_PORT.fullmatch(text)
    if match is None:
        return None
    host, port = match.group(1, 2)
    if len(host) > 253 or "xn--" in host or (port is not None and int(port) > 65535):
        return None
    return host, None if port is None else int(port)


def _host_and_port(text: str) -> tuple[str, int | None, bool]:
    """An endpoint string read and normalised: (host, port or None, whether it is an IP)."""
    simple = _simple_host_port(text)
    if simple is not None:
        return simple[0], simple[1], False
    host, port = parse_endpoint_string(text)
    name, is_ip = _normalise_host(host)
    return name, port, is_ip


def _normalise_host(text: str, what: str = "host") -> tuple[str, bool]:
    """Return the normalised host and whether it is an IP literal, or raise ``ValueError``.

    Names: stripped, one trailing dot dropped, lower case, IDNA A-labels; labels of letters,
    digits, ``-`` and ``_`` of 1..63 characters, 253 at most in all. IP literals: the
    compressed form.
    """
    host = text.strip()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise ValueError(f"empty {what}")
    if not _TEMPLATE_CHARS.isdisjoint(host):
        raise ValueError(
            f"invalid {what} {_show(text)}: looks like an unfilled template placeholder"
        )
    name = host.lower()
    if not name.isascii():
        name = _to_a_labels(name, text, what)
    if ":" in name:
        try:
            return ipaddress.IPv6Address(name).compressed, True
        except ValueError:
            raise ValueError(
                f"invalid {what} {_show(text)}: not an IPv6 address, and ':' cannot be part of "
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
                f"invalid {what} {_show(text)}: not an IPv4 address, and a name cannot end "
                "with a numeric label"
            ) from None
    if len(name) > 253 or not _ASCII_NAME.fullmatch(name):
        raise ValueError(f"invalid {what} {_show(text)}: {_why_invalid_name(name)}")
    if "xn--" in name:
        for label in name.split("."):
            if label.startswith("xn--"):
                try:
                    idna.ulabel(label)
                except idna.IDNAError as exc:
                    raise ValueError(
                        f"invalid {what} {_show(text)}: label {label!r}: {exc}"
                    ) from None
    return name, False


def _to_a_labels(name: str, text: str, what: str) -> str:
    # Label by label, so that a name can mix Unicode labels and labels with underscores
    # (which IDNA itself refuses).
    try:
        mapped = idna.uts46_remap(name, std3_rules=False, transitional=False)
        if mapped.endswith("."):  # an ideographic full stop at the end, mapped to '.'
            mapped = mapped[:-1]
        return ".".join(
            label if label.isascii() else idna.encode(label, uts46=True).decode("ascii")
            for label in mapped.split(".")
        )
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"invalid {what} {_show(text)}: {exc}") from None


def _why_invalid_name(name: str) -> str:
    if len(name) > 253:
        return f"longer than 253 characters ({len(name)})"
    for label in name.split("."):
        if not label:
            return "empty label (two dots in a row, or a leading dot)"
        if len(label) > 63:
            return f"label {_show(label, 20)} is longer than 63 characters"
        for char in label:
            if not (char.isascii() and (char.isalnum() or char in "-_")):
                return f"{char!r} is not allowed (only letters, digits, '-' and '_')"
    return "not a valid host name"  # pragma: no cover - the regular expression agrees


def _normalise_address(text: str) -> str:
    if _CANONICAL_IPV4.fullmatch(text):
        return text
    address = text.strip()
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        raise ValueError(
            f"invalid address {_show(text)}: expected an IPv4 or IPv6 address (without port)"
        ) from None


# --- a tiny YAML tree, one entry at a time ----------------------------------------------------


@dataclass(slots=True)
class _Scalar:
    value: object  # the safe loader's value: str, int, float, bool, None, ...
    text: str  # as written, for messages and for labels written as numbers
    line: int


@dataclass(slots=True)
class _Seq:
    items: list[_Node]
    line: int


@dataclass(slots=True)
class _Map:
    # key -> (line of the key, value); merge keys already applied
    fields: dict[str, tuple[int, _Node]]
    line: int
    keys_ok: bool = True  # False when a key was not a string: 'missing host' would be noise


@dataclass(slots=True)
class _Invalid:
    """A node whose problem has been reported already; every check skips it quietly."""

    line: int


_Node = _Scalar | _Seq | _Map | _Invalid


class _MergeKey:
    """The YAML merge key ``<<``."""


_MERGE: Final = _MergeKey()

_TAG_PREFIX: Final = "tag:yaml.org,2002:"
_STR_TAG: Final = _TAG_PREFIX + "str"
_INT_TAG: Final = _TAG_PREFIX + "int"
_MERGE_TAG: Final = _TAG_PREFIX + "merge"
_VALUE_TAG: Final = _TAG_PREFIX + "value"  # a plain '=': nobody means PyYAML's 'value' type
_SEQ_TAGS: Final = frozenset({None, "!", _TAG_PREFIX + "seq"})
_MAP_TAGS: Final = frozenset({None, "!", _TAG_PREFIX + "map"})
# Only the scalar types of the safe loader; anything else (!!python/..., !!set on a scalar)
# is refused and never constructed.
_SCALAR_CONSTRUCTORS: Final[dict[str, Callable[[SafeConstructor, ScalarNode], Any]]] = {
    _TAG_PREFIX + name: SafeConstructor.yaml_constructors[_TAG_PREFIX + name]
    for name in ("null", "bool", "int", "float", "binary", "timestamp")
}
# The safe loader's implicit types, by first character, as its resolver looks them up.
_IMPLICIT: Final = {
    first: [*resolvers, *Resolver.yaml_implicit_resolvers.get(None, [])]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
    if first is not None
}


def _resolve_plain(text: str) -> str:
    """The tag of a plain (unquoted, untagged) scalar, as the safe loader resolves it."""
    resolvers = _IMPLICIT.get(text[:1])
    if resolvers is None:
        return _STR_TAG
    # Two shortcuts for host names and addresses: the only implicit types that start with a
    # letter are booleans and null (5 letters at most), and no number or date has two dots.
    if (len(text) > 5 and text[0].isalpha()) or text.count(".") > 1:
        return _STR_TAG
    for tag, pattern in resolvers:
        if pattern.match(text):
            return str(tag)
    return _STR_TAG


def _no_events() -> None:
    return None


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG_PREFIX) if tag.startswith(_TAG_PREFIX) else tag


@dataclass(slots=True)
class _Frame:
    """A sequence or mapping whose end event has not come yet."""

    start: SequenceStartEvent | MappingStartEvent
    line: int
    items: list[_Node] = field(default_factory=list)
    fields: dict[str, tuple[int, _Node]] = field(default_factory=dict)
    merge: tuple[int, _Node] | None = None  # the value of '<<', applied at the end
    key: tuple[int, str | _MergeKey | None] | None = None  # a key waiting for its value
    keys_ok: bool = True


# --- reading one file -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Defaults:
    """Settings with a file's ``defaults`` applied."""

    port: int
    timeout: float
    retries: int
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Source:
    """One endpoint list: a file read afresh on each pass, or bytes kept from a pipe or stdin."""

    name: str
    path: str | None = None
    data: bytes | None = None

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return open(self.path, "rb")


# One endpoint as a reader yields it: (host, port, address, sni, label, tags, timeout, retries,
# line). A plain tuple, because the validation pass needs only the key, and building a frozen
# dataclass costs more than reading the entry did.
_Entry = tuple[str, int, str | None, str | None, str, tuple[str, ...], float, int, int]


class _FileReader:
    """One pass over one file: iterating yields its valid entries and fills ``problems``.

    ``known`` is the file's defaults found by an earlier pass; without it the endpoints use the
    defaults seen so far, and ``defaults_came_late`` tells when ``defaults`` followed
    ``endpoints`` (so that the caller can count again with the right port).
    """

    def __init__(self, source: _Source, base: _Defaults, known: _Defaults | None = None) -> None:
        self.source = source
        self.name = source.name
        self.base = base
        self.known = known
        self.defaults = base
        self.defaults_came_late = False
        self.problems: list[Problem] = []
        self._endpoints_read = False
        self._anchors: dict[str, _Node] = {}
        self._skipped_anchors: set[str] = set()
        self._constructor = SafeConstructor()
        self._get: Callable[[], Any] = _no_events

    def _problem(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.name, line, message))

    def __iter__(self) -> Iterator[_Entry]:
        try:
            with self.source.open() as stream:
                loader = _YamlLoader(stream)
                try:
                    # get_event() rather than yaml.parse(): one call per event instead of three
                    self._get = loader.get_event
                    yield from self._document()
                finally:
                    self._get = _no_events
                    loader.dispose()
        except FileNotFoundError:
            self._problem(None, "no such file or directory")
        except OSError as exc:
            self._problem(None, f"cannot read: {(exc.strerror or str(exc)).lower()}")
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            what = exc.problem or exc.context or "invalid YAML"
            context = f" ({exc.context})" if exc.problem and exc.context else ""
            self._problem(None if mark is None else mark.line + 1, f"YAML: {what}{context}")
        except yaml.reader.ReaderError as exc:
            self._problem(self._line_at(exc.position), _reader_message(exc))
        except yaml.YAMLError as exc:
            self._problem(None, f"YAML: {exc}")
        except RecursionError:
            self._problem(None, "YAML: nested too deeply")
        except Exception as exc:  # untrusted input must never crash the program
            self._problem(None, f"cannot read: {type(exc).__name__}: {exc}")
        self.problems.sort(key=lambda p: -1 if p.line is None else p.line)

    def _line_at(self, offset: int) -> int | None:
        """The line of a byte offset, for the decoder's errors that come without a line."""
        try:
            with self.source.open() as stream:
                return stream.read(max(offset, 0)).count(b"\n") + 1
        except OSError:
            return None

    # -- the document's shape

    def _document(self) -> Iterator[_Entry]:
        get = self._get
        get()  # StreamStartEvent
        event = get()
        if event is None or isinstance(event, StreamEndEvent):
            self._problem(1, f"the file is empty; expected {_EXPECTED_TOP} of endpoints")
            return
        root = _next(get)  # after DocumentStartEvent
        if isinstance(root, MappingStartEvent):
            yield from self._top_mapping(root)
        elif isinstance(root, SequenceStartEvent):
            yield from self._endpoints(root)
        else:
            node = self._build(root)
            if isinstance(node, _Scalar) and node.value is None:
                self._problem(node.line, f"the document is empty; expected {_EXPECTED_TOP}")
            elif not isinstance(node, _Invalid):
                self._problem(node.line, f"expected {_EXPECTED_TOP}; found {_describe(node)}")
        _next(get)  # DocumentEndEvent
        event = get()
        if isinstance(event, DocumentStartEvent):
            self._problem(
                _line(event),
                "a second YAML document ('---'); put every endpoint in one document",
            )

    def _top_mapping(self, start: MappingStartEvent) -> Iterator[_Entry]:
        if start.tag not in _MAP_TAGS:
            self._problem(_line(start), f"unsupported YAML tag {_short_tag(start.tag or '')!r}")
        seen: dict[str, int] = {}
        while not isinstance(event := _next(self._get), MappingEndEvent):
            key = self._build(event)
            name = self._key_name(key)
            value_event = _next(self._get)
            if not isinstance(name, str):
                if name is _MERGE:
                    self._problem(key.line, "merge keys ('<<') are not allowed at the top level")
                self._skip(value_event)
            elif name in seen:
                self._problem(key.line, f"duplicate key {name!r} (first at line {seen[name]})")
                self._skip(value_event)
            elif name == "defaults":
                seen[name] = key.line
                self._read_defaults(self._build(value_event))
            elif name == "endpoints":
                seen[name] = key.line
                yield from self._endpoints(value_event)
            else:
                seen[name] = key.line
                self._problem(key.line, _unknown_key(name, _TOP_KEYS, "at the top level"))
                self._skip(value_event)
        if "endpoints" not in seen:
            self._problem(_line(start), "missing 'endpoints' (the list of endpoints)")

    def _read_defaults(self, node: _Node) -> None:
        if self._endpoints_read and self.known is None:
            self.defaults_came_late = True
        if isinstance(node, _Invalid) or (isinstance(node, _Scalar) and node.value is None):
            return  # 'defaults:' with every line commented out means no defaults
        if not isinstance(node, _Map):
            self._problem(node.line, f"defaults: expected a mapping, found {_describe(node)}")
            return
        before = len(self.problems)
        port, timeout, retries = self.base.port, self.base.timeout, self.base.retries
        tags: tuple[str, ...] = ()
        for key, (key_line, value) in node.fields.items():
            if key == "port":
                port = self._integer(value, key, *PORT_RANGE) or port
            elif key == "timeout":
                timeout = self._seconds(value) or timeout
            elif key == "retries":
                found = self._integer(value, key, *RETRIES_RANGE)
                retries = retries if found is None else found
            elif key == "tags":
                tags = self._tags(value) or tags
            else:
                where = "in defaults (it is set per endpoint)" if key in _ENDPOINT_KEYS else ""
                self._problem(key_line, _unknown_key(key, _DEFAULTS_KEYS, where or "in defaults"))
        if len(self.problems) == before:
            self.defaults = _Defaults(port, timeout, retries, tags)

    def _endpoints(self, event: Event) -> Iterator[_Entry]:
        self._endpoints_read = True
        defaults = self.defaults if self.known is None else self.known
        if not isinstance(event, SequenceStartEvent):
            node = self._build(event)
            if isinstance(node, _Seq):  # an alias of a list
                for member in node.items:
                    if (aliased := self._endpoint(member, defaults)) is not None:
                        yield aliased
            elif isinstance(node, _Scalar) and node.value is None:
                self._problem(node.line, "endpoints: empty; write 'endpoints: []' for no endpoints")
            elif not isinstance(node, _Invalid):
                self._problem(node.line, f"endpoints: expected a list, found {_describe(node)}")
            return
        if event.tag not in _SEQ_TAGS:
            self._problem(_line(event), f"unsupported YAML tag {_short_tag(event.tag or '')!r}")
        if event.anchor is not None:  # the whole list is never kept, so it cannot be aliased
            self._skipped_anchors.add(event.anchor)
        # The hot loop of the whole module: one turn per endpoint, hence the fast paths for a
        # string without tag or anchor, and for a mapping whose keys are plain endpoint keys.
        get = self._get
        string_entry = self._string_entry
        while True:
            item = get()  # Any: the events of the hot loops are read without type narrowing
            kind = item.__class__
            entry: _Entry | None
            if kind is ScalarEvent and item.tag is None and item.anchor is None:
                text = item.value
                if not item.implicit[0] or _resolve_plain(text) == _STR_TAG:
                    entry = string_entry(text, item.start_mark.line + 1, defaults)
                else:
                    entry = self._endpoint(self._scalar(item), defaults)
            elif kind is MappingStartEvent and item.tag is None and item.anchor is None:
                entry = self._endpoint(self._flat_mapping(item), defaults)
            elif kind is SequenceEndEvent:
                return
            else:
                entry = self._endpoint(self._build(item), defaults)
            if entry is not None:
                yield entry

    # -- one endpoint

    def _endpoint(self, node: _Node, defaults: _Defaults) -> _Entry | None:
        if isinstance(node, _Map):
            return self._endpoint_from_mapping(node, defaults)
        if isinstance(node, _Scalar):
            if isinstance(node.value, str):
                return self._string_entry(node.value, node.line, defaults)
            if node.value is None:
                self._problem(node.line, "empty entry; expected a host, host:port, URL or mapping")
                return None
        if not isinstance(node, _Invalid):
            hint = ""
            if isinstance(node, _Scalar) and isinstance(node.value, int | float):
                hint = " (YAML reads it as a number: quote a host)"
            self._problem(
                node.line,
                f"expected a host, host:port, URL or mapping; found {_describe(node)}{hint}",
            )
        return None

    def _string_entry(self, text: str, line: int, defaults: _Defaults) -> _Entry | None:
        try:
            host, port, is_ip = _host_and_port(text)
        except ValueError as exc:
            self._problem(line, str(exc))
            return None
        return (
            host,
            defaults.port if port is None else port,
            None,
            None if is_ip else host,
            "",
            defaults.tags,
            defaults.timeout,
            defaults.retries,
            line,
        )

    def _endpoint_from_mapping(self, node: _Map, defaults: _Defaults) -> _Entry | None:
        if len(node.fields) == 1:
            (name, (_, value)), *_ = node.fields.items()
            if name not in _ENDPOINT_KEY_SET and isinstance(value, _Scalar) and value.value is None:
                # '- api.example.com:' is a mapping for YAML: a forgotten port, most likely
                self._problem(
                    node.line,
                    f"{_show(name + ':')} ends with ':' but has no port after it "
                    "(YAML reads it as a mapping)",
                )
                return None
        before = len(self.problems)
        host: tuple[str, bool] | None = None
        sni = address = None
        label = ""
        port, timeout, retries, tags = defaults.port, defaults.timeout, defaults.retries, None
        for key, (key_line, value) in node.fields.items():
            # host and port first, each with a shortcut for the common valid value
            if key == "host":
                simple = None
                if value.__class__ is _Scalar and value.value.__class__ is str:
                    simple = _simple_host_port(value.value)
                if simple is not None and simple[1] is None:
                    host = (simple[0], False)
                else:
                    host = self._name(value, key)
            elif key == "port":
                number = value.value if value.__class__ is _Scalar else None
                if number.__class__ is int and 0 < number <= 65535:
                    port = number
                else:
                    port = self._integer(value, key, *PORT_RANGE) or port
            elif key == "address":
                address = self._address(value)
            elif key == "sni":
                sni = self._name(value, key)
                if sni is not None and sni[1]:
                    self._problem(
                        value.line,
                        f"sni must be a DNS name, not an IP address ({sni[0]}); "
                        "use 'address' to connect to an IP address",
                    )
            elif key == "label":
                label = self._text(value, key) or ""
            elif key == "tags":
                tags = self._tags(value)
            elif key == "timeout":
                timeout = self._seconds(value) or timeout
            elif key == "retries":
                found = self._integer(value, key, *RETRIES_RANGE)
                retries = retries if found is None else found
            else:
                self._problem(key_line, _unknown_key(key, _ENDPOINT_KEYS, "in an endpoint"))
        if "host" not in node.fields and node.keys_ok:
            self._problem(node.line, "missing 'host' in an endpoint")
        if len(self.problems) > before or host is None:
            return None
        name, is_ip = host
        return (
            name,
            port,
            address,
            sni[0] if sni is not None else None if is_ip else name,
            label,
            _union(defaults.tags, tags) if tags else defaults.tags,
            timeout,
            retries,
            node.line,
        )

    # -- the values of keys; each returns None when wrong (and reports it)

    def _name(self, node: _Node, key: str) -> tuple[str, bool] | None:
        if isinstance(node, _Invalid):
            return None
        if isinstance(node, _Scalar) and node.value is None:
            self._problem(node.line, f"empty {key}")
            return None
        if not (isinstance(node, _Scalar) and isinstance(node.value, str)):
            self._problem(
                node.line, f"{key}: expected a host name or IP address, found {_describe(node)}"
            )
            return None
        text = node.value
        if not text.strip():
            self._problem(node.line, f"empty {key}")
            return None
        if "://" in text:
            self._problem(
                node.line,
                f"{key}: {_show(text)} is a URL; give only the name here, and the port in 'port'",
            )
            return None
        simple = _simple_host_port(text)
        if simple is not None and simple[1] is None:
            return simple[0], False
        try:
            host, port = parse_endpoint_string(text)
        except ValueError as exc:
            self._problem(node.line, f"{key}: {exc}")
            return None
        if port is not None:
            self._problem(node.line, f"{key}: {_show(text)} includes a port; use the 'port' key")
            return None
        try:
            return _normalise_host(host, key)
        except ValueError as exc:
            self._problem(node.line, str(exc))
            return None

    def _address(self, node: _Node) -> str | None:
        scalar = self._value(node, "address", str, "an IPv4 or IPv6 address")
        if scalar is None:
            return None
        try:
            return _normalise_address(str(scalar.value))
        except ValueError as exc:
            self._problem(scalar.line, str(exc))
            return None

    def _integer(self, node: _Node, key: str, low: int, high: int) -> int | None:
        scalar = self._value(node, key, int, f"an integer {low}..{high}")
        if scalar is None:
            return None
        value = scalar.value
        assert isinstance(value, int)
        if not low <= value <= high:
            self._problem(scalar.line, f"{key} {scalar.text} is out of range {low}..{high}")
            return None
        return value

    def _seconds(self, node: _Node) -> float | None:
        scalar = self._value(node, "timeout", (int, float), "a number of seconds")
        if scalar is None:
            return None
        assert isinstance(scalar.value, int | float)
        value = float(scalar.value)
        if not 0 < value <= TIMEOUT_MAX:  # also refuses .nan
            self._problem(
                scalar.line, f"timeout {scalar.text} is out of range: more than 0, 300 at most"
            )
            return None
        return value

    def _text(self, node: _Node, key: str) -> str | None:
        scalar = self._value(node, key, (str, int, float), "a string")
        if scalar is None:
            return None
        # A label written as 1.10 means "1.10", not the float 1.1.
        text = scalar.value if isinstance(scalar.value, str) else scalar.text
        if len(text) > LABEL_MAX:
            self._problem(scalar.line, f"{key}: {len(text)} characters; {LABEL_MAX} at most")
            return None
        return text

    def _tags(self, node: _Node) -> tuple[str, ...] | None:
        if isinstance(node, _Invalid):
            return None
        if not isinstance(node, _Seq):
            hint = f" (write [{node.value}])" if isinstance(node, _Scalar) and node.value else ""
            self._problem(
                node.line, f"tags: expected a list of strings, found {_describe(node)}{hint}"
            )
            return None
        tags: list[str] = []
        for item in node.items:
            if isinstance(item, _Invalid):
                continue
            if not (
                isinstance(item, _Scalar)
                and isinstance(item.value, str | int | float)
                and not isinstance(item.value, bool)
            ):
                self._problem(item.line, f"tags: expected a string, found {_describe(item)}")
                continue
            tag = item.value.strip() if isinstance(item.value, str) else item.text
            if not tag:
                self._problem(item.line, "tags: empty tag")
                continue
            if ";" in tag or not tag.isprintable():
                # The CSV report joins tags with ';', and a tag is a word, not a text.
                self._problem(item.line, f"tags: {tag!r} holds ';' or a control character")
                continue
            tags.append(tag)
        return _union((), tags)

    def _value(
        self, node: _Node, key: str, types: type | tuple[type, ...], expected: str
    ) -> _Scalar | None:
        """The node when it is a scalar of one of ``types``; YAML booleans are no integers."""
        if isinstance(node, _Invalid):
            return None
        if (
            isinstance(node, _Scalar)
            and isinstance(node.value, types)
            and not isinstance(node.value, bool)
        ):
            return node
        self._problem(node.line, f"{key}: expected {expected}, found {_describe(node)}")
        return None

    # -- building nodes from events

    def _flat_mapping(self, start: MappingStartEvent) -> _Node:
        """A mapping, read fast while its keys are plain endpoint keys, each once, and its values
        plain scalars or lists of them; at anything else the general builder takes over."""
        get = self._get
        line = _line(start)
        fields: dict[str, tuple[int, _Node]] = {}
        while True:
            key = get()  # Any, as in _endpoints
            kind = key.__class__
            if kind is MappingEndEvent:
                return _Map(fields, line)
            if (
                kind is not ScalarEvent
                or key.tag is not None
                or key.anchor is not None
                or key.value not in _ENDPOINT_KEY_SET
                or key.value in fields
            ):
                return self._build(key, [_Frame(start, line, fields=fields)])
            key_line = key.start_mark.line + 1
            value = get()
            kind = value.__class__
            node: _Node
            if kind is ScalarEvent and value.tag is None and value.anchor is None:
                node = self._plain_scalar(value)
            elif kind is SequenceStartEvent and value.tag is None and value.anchor is None:
                items: list[_Node] = []
                while (item := get()).__class__ is not SequenceEndEvent:
                    if item.__class__ is not ScalarEvent or item.tag or item.anchor:
                        stack = [
                            _Frame(start, line, fields=fields, key=(key_line, key.value)),
                            _Frame(value, value.start_mark.line + 1, items=items),
                        ]
                        return self._build(item, stack)
                    items.append(self._plain_scalar(item))
                node = _Seq(items, value.start_mark.line + 1)
            else:
                node = self._build(value)
            fields[key.value] = (key_line, node)

    def _plain_scalar(self, event: Any) -> _Node:
        """``_scalar`` for a scalar without tag or anchor, faster for strings and decimals."""
        text = event.value
        if not event.implicit[0]:  # quoted
            return _Scalar(text, text, event.start_mark.line + 1)
        if text.isdigit() and text.isascii() and text[0] != "0":
            return _Scalar(int(text), text, event.start_mark.line + 1)
        if _resolve_plain(text) == _STR_TAG:
            return _Scalar(text, text, event.start_mark.line + 1)
        return self._scalar(event)

    def _build(self, event: Event, stack: list[_Frame] | None = None) -> _Node:
        """The node that starts with ``event``, reading the events of its children.

        With ``stack``, carry on building those unfinished nodes, ``event`` being the next.
        """
        # A loop, not recursion: the nesting depth of a file is the user's to choose.
        stack = [] if stack is None else stack
        get = self._get
        while True:
            node: _Node
            if isinstance(event, ScalarEvent):
                node = self._scalar(event)
            elif isinstance(event, MappingStartEvent | SequenceStartEvent):
                stack.append(_Frame(event, _line(event)))
                event = get()
                continue
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                node = self._finish(stack.pop())
            elif isinstance(event, AliasEvent):
                node = self._alias(event)
            else:  # pragma: no cover - the parser sends no other event inside a node
                raise yaml.YAMLError(f"unexpected {type(event).__name__} in a node")
            if not stack:
                return node
            self._add(stack[-1], node)
            event = get()  # never None inside a node: the parser raises first

    def _scalar(self, event: ScalarEvent) -> _Node:
        line = _line(event)
        text = event.value
        tag = event.tag
        if tag is None:
            # what the safe loader's resolver says, without its detours
            tag = _resolve_plain(text) if event.implicit[0] else _STR_TAG
        elif tag == "!":  # the non-specific tag: a string
            tag = _STR_TAG
        value: object
        if tag in (_STR_TAG, _VALUE_TAG):
            value = text
        elif tag == _INT_TAG and text.isascii() and text.isdigit() and text[:1] != "0":
            value = int(text)  # the common decimal case, without the constructor's detour
        elif tag == _MERGE_TAG:
            value = _MERGE
        elif (construct := _SCALAR_CONSTRUCTORS.get(tag)) is None:
            self._problem(line, f"unsupported YAML tag {_short_tag(tag)!r}")
            return self._anchor(event.anchor, _Invalid(line))
        else:
            try:
                value = construct(self._constructor, ScalarNode(tag, text))
            except Exception:  # e.g. '!!int abc': whatever fails, the file is at fault
                self._problem(line, f"invalid {_short_tag(tag)} value {_show(text)}")
                return self._anchor(event.anchor, _Invalid(line))
        node = _Scalar(value, text, line)
        if event.anchor is not None:
            self._anchors[event.anchor] = node
        return node

    def _anchor(self, anchor: str | None, node: _Node) -> _Node:
        if anchor is not None:
            self._anchors[anchor] = node
        return node

    def _alias(self, event: AliasEvent) -> _Node:
        line = _line(event)
        anchor = event.anchor or ""
        node = self._anchors.get(anchor)
        if node is None:
            if anchor in self._skipped_anchors:
                self._problem(line, f"alias '*{anchor}' refers to a part that is not read")
            else:
                self._problem(line, f"alias '*{anchor}' has no anchor '&{anchor}' before it")
            return _Invalid(line)
        if isinstance(node, _Scalar):  # report a bad value where it is used
            return _Scalar(node.value, node.text, line)
        return node

    def _add(self, frame: _Frame, node: _Node) -> None:
        if isinstance(frame.start, SequenceStartEvent):
            frame.items.append(node)
            return
        if frame.key is None:
            frame.key = (node.line, self._key_name(node))
            if frame.key[1] is None:
                frame.keys_ok = False
            return
        line, name = frame.key
        frame.key = None
        if name is None:
            return
        if name is _MERGE:
            if frame.merge is not None:
                self._problem(line, f"duplicate key '<<' (first at line {frame.merge[0]})")
            else:
                frame.merge = (line, node)
            return
        assert isinstance(name, str)
        if name in frame.fields:
            first = frame.fields[name][0]
            self._problem(line, f"duplicate key {name!r} (first at line {first})")
            return
        frame.fields[name] = (line, node)

    def _finish(self, frame: _Frame) -> _Node:
        start = frame.start
        node: _Node
        if isinstance(start, SequenceStartEvent):
            if start.tag not in _SEQ_TAGS:
                self._problem(frame.line, f"unsupported YAML tag {_short_tag(start.tag or '')!r}")
                node = _Invalid(frame.line)
            else:
                node = _Seq(frame.items, frame.line)
            return self._anchor(start.anchor, node)
        fields = frame.fields
        if frame.merge is not None:
            line, merged = frame.merge
            for source in merged.items if isinstance(merged, _Seq) else [merged]:
                if isinstance(source, _Map):
                    for key, value in source.fields.items():
                        # keys written in the mapping win, then earlier merged mappings
                        fields.setdefault(key, value)
                elif not isinstance(source, _Invalid):
                    self._problem(line, f"'<<' merges mappings; found {_describe(source)}")
        if start.tag not in _MAP_TAGS:
            self._problem(frame.line, f"unsupported YAML tag {_short_tag(start.tag or '')!r}")
            node = _Invalid(frame.line)
        else:
            node = _Map(fields, frame.line, frame.keys_ok)
        return self._anchor(start.anchor, node)

    def _key_name(self, key: _Node) -> str | _MergeKey | None:
        """The name of a mapping key; None (reported) when it cannot be a name."""
        if isinstance(key, _Scalar):
            if key.value is _MERGE:
                return _MERGE
            return key.value if isinstance(key.value, str) else key.text
        if isinstance(key, _Map):
            self._problem(
                key.line,
                "a mapping as a key: is this an unfilled '{{ template }}'? Quote it, or fill it",
            )
        elif isinstance(key, _Seq):
            self._problem(key.line, "a list as a key; keys are strings")
        return None

    def _skip(self, event: Event) -> None:
        """Read past one node without building it (the value of a key that is not read)."""
        depth = 0
        while True:
            if (
                isinstance(event, ScalarEvent | MappingStartEvent | SequenceStartEvent)
                and event.anchor is not None
            ):
                self._skipped_anchors.add(event.anchor)
            if isinstance(event, MappingStartEvent | SequenceStartEvent):
                depth += 1
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                depth -= 1
            if depth == 0:
                return
            event = _next(self._get)


def _next(next_event: Callable[[], Event | None]) -> Event:
    event = next_event()
    if event is None:  # pragma: no cover - the parser raises before it runs dry
        raise yaml.YAMLError("unexpected end of the YAML stream")
    return event


def _line(event: Event) -> int:
    mark = event.start_mark
    return 1 if mark is None else int(mark.line) + 1


def _describe(node: _Node) -> str:
    if isinstance(node, _Seq):
        return "a list"
    if isinstance(node, _Map):
        return "a mapping"
    if isinstance(node, _Invalid):
        return "an invalid value"
    value = node.value
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"a boolean ({node.text})"
    if isinstance(value, int):
        return f"an integer ({node.text})"
    if isinstance(value, float):
        return f"a number ({node.text})"
    if isinstance(value, str):
        return f"a string ({_show(node.text)})"
    if isinstance(value, bytes):
        return "binary data"
    if isinstance(value, date):
        return f"a date ({node.text})"
    return type(value).__name__  # pragma: no cover - the safe scalar types are all above


def _unknown_key(name: str, allowed: Sequence[str], where: str) -> str:
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {_show(name)} {where}{hint} (allowed: {', '.join(allowed)})"


def _union(first: tuple[str, ...], second: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *second)))


def _reader_message(exc: yaml.reader.ReaderError) -> str:
    reason = str(exc.reason)
    if "UTF-8" in reason or "octet" in reason or exc.encoding not in ("?", "unicode"):
        return f"not valid UTF-8 text ({reason})"
    return f"character #x{exc.character:04x} is not allowed in YAML ({reason})"


# --- the files --------------------------------------------------------------------------------


def _sources(path: str) -> Iterator[_Source | Problem]:
    """The endpoint lists a command-line path names, or the problem that it names none."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        yield Problem(path, None, "no such file or directory")
        return
    except OSError as exc:
        yield Problem(path, None, f"cannot read: {(exc.strerror or str(exc)).lower()}")
        return
    except ValueError:  # a NUL byte in the path
        yield Problem(path, None, "no such file or directory")
        return
    if not stat.S_ISDIR(mode):
        yield _file_source(path, mode)
        return
    errors: list[OSError] = []
    found: list[str] = []
    for directory, subdirectories, files in os.walk(path, onerror=errors.append):
        # hidden entries are editors' lock files, VCS data and the like, never endpoint lists
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        found.extend(
            os.path.join(directory, name)
            for name in files
            if not name.startswith(".") and name.lower().endswith((".yaml", ".yml"))
        )
    for error in errors:
        where = str(error.filename or path)
        yield Problem(where, None, f"cannot read: {(error.strerror or str(error)).lower()}")
    if not found and not errors:
        yield Problem(path, None, "no *.yaml or *.yml file in this directory")
    for name in sorted(found, key=lambda name: name.split(os.sep)):
        try:
            yield _file_source(name, os.stat(name).st_mode)
        except OSError:  # a dangling symbolic link
            yield Problem(name, None, "no such file or directory")


def _file_source(path: str, mode: int) -> _Source | Problem:
    if stat.S_ISREG(mode):
        return _Source(path, path=path)
    # A pipe such as bash's <(command) can be read only once, and there are two passes.
    try:
        with open(path, "rb") as stream:
            return _Source(path, data=stream.read())
    except OSError as exc:
        return Problem(path, None, f"cannot read: {(exc.strerror or str(exc)).lower()}")


def _stdin_source(stdin: TextIO | None) -> _Source | Problem:
    if stdin is None:
        return Problem("-", None, "standard input is not available")
    try:
        # Bytes when there are any, so that the file's encoding does not depend on the locale.
        binary = getattr(stdin, "buffer", None)
        text: str | bytes = binary.read() if binary is not None else stdin.read()
        data = text.encode("utf-8") if isinstance(text, str) else text
    except UnicodeError:
        return Problem("-", None, "not valid UTF-8 text")
    except OSError as exc:
        return Problem("-", None, f"cannot read: {(exc.strerror or str(exc)).lower()}")
    return _Source("-", data=data)


def _digest(entry: _Entry) -> int:
    """A 128-bit stand-in for ``Endpoint.key``: smaller than the key, never equal by chance.

    Hosts and names are never empty, hold no NUL and are lower case ('None' cannot be one).
    """
    raw = f"{entry[0]}\0{entry[1]}\0{entry[2]}\0{entry[3]}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=16).digest(), "big")


class EndpointList:
    """The endpoints of validated lists, read from the files again each time it is iterated.

    Iteration streams the endpoints in file order, without the duplicates. Should a file change
    for the worse between ``load`` and an iteration, the iteration raises ``ConfigError``.
    """

    __slots__ = ("_count", "_defaults", "_duplicates", "_settings", "_sources")

    def __init__(
        self,
        sources: tuple[_Source, ...],
        defaults: tuple[_Defaults, ...],
        settings: _Defaults,
        count: int,
        duplicates: int,
    ) -> None:
        self._sources = sources
        self._defaults = defaults
        self._settings = settings
        self._count = count
        self._duplicates = duplicates

    @property
    def files(self) -> tuple[str, ...]:
        """Display names of the files read, in order ("-" for standard input)."""
        return tuple(source.name for source in self._sources)

    @property
    def count(self) -> int:
        """How many unique endpoints the lists hold."""
        return self._count

    @property
    def duplicates(self) -> int:
        """How many entries were skipped because an earlier entry had the same key."""
        return self._duplicates

    def __iter__(self) -> Iterator[Endpoint]:
        seen: set[int] = set()
        for source, defaults in zip(self._sources, self._defaults, strict=True):
            reader = _FileReader(source, self._settings, defaults)
            name = source.name
            for entry in reader:
                digest = _digest(entry)
                if digest not in seen:
                    seen.add(digest)
                    host, port, address, sni, label, tags, timeout, retries, line = entry
                    yield Endpoint(
                        host, port, address, sni, label, tags, timeout, retries, f"{name}:{line}"
                    )
            if reader.problems:
                raise ConfigError(reader.problems)

    def __repr__(self) -> str:
        return (
            f"EndpointList(files={self.files!r}, count={self._count}, "
            f"duplicates={self._duplicates})"
        )


def load(
    paths: Sequence[str], settings: Settings = _DEFAULT_SETTINGS, *, stdin: TextIO | None = None
) -> EndpointList:
    """Validate the endpoint lists at ``paths``, all of them, and return them for iteration.

    A path is a file, a directory (every ``*.yaml``/``*.yml`` below it, recursively, sorted,
    hidden entries left out) or ``-`` for ``stdin`` (``sys.stdin`` by default), read once and
    kept in memory. Raises ``ConfigError`` with every problem of every file, in file order.
    """
    if isinstance(paths, str):
        raise TypeError("load() takes a sequence of paths, not one string")
    base = _Defaults(settings.port, float(settings.timeout), settings.retries)
    problems: list[Problem] = []
    sources: list[_Source] = []
    file_defaults: list[_Defaults] = []
    seen: set[int] = set()
    count = duplicates = 0
    stdin_source: _Source | Problem | None = None
    for path in paths:
        if path == "-":
            if stdin_source is None:
                stdin_source = _stdin_source(sys.stdin if stdin is None else stdin)
            found: Iterator[_Source | Problem] = iter([stdin_source])
        else:
            found = _sources(path)
        for source in found:
            if isinstance(source, Problem):
                problems.append(source)
                continue
            reader = _FileReader(source, base)
            # Staged apart from `seen`: should the file's defaults come after its endpoints
            # and change the port, these keys were wrong and are counted again.
            fresh, repeated = _count(reader, seen)
            if reader.problems:
                problems.extend(reader.problems)
                continue
            if reader.defaults_came_late and reader.defaults.port != base.port:
                fresh, repeated = _count(_FileReader(source, base, reader.defaults), seen)
            count += len(fresh)
            duplicates += repeated
            if len(fresh) > len(seen):  # merge the smaller set into the larger one
                fresh, seen = seen, fresh
            seen |= fresh
            sources.append(source)
            file_defaults.append(reader.defaults)
    if problems:
        raise ConfigError(problems)
    return EndpointList(tuple(sources), tuple(file_defaults), base, count, duplicates)


def _count(reader: _FileReader, seen: set[int]) -> tuple[set[int], int]:
    """The digests of the endpoints new to ``seen``, and how many entries repeated one."""
    fresh: set[int] = set()
    repeated = 0
    for entry in reader:
        digest = _digest(entry)
        if digest in seen or digest in fresh:
            repeated += 1
        else:
            fresh.add(digest)
    return fresh, repeated
