"""YAML endpoint lists: read one file into entries, or report every problem in it with its line.

I/O: reads the file it is handed (through the opener it is given), nothing else.

The format is described in the user contract, section "Endpoint lists (YAML)", and shown with
every key in ``configs/example.yaml``::

    defaults:                                 # optional; every key may also be set per
      port: 443                               #   endpoint
      timeout: 5
      retries: 1
      tags: [nightly]
      protocol: https                         # https or tls
      tls_min: 1.2                            # 1.0, 1.1, 1.2, 1.3 (also "TLSv1.2", "tls1.2")
      tls_max: 1.3
      proxy: http://proxy.example.net:3128    # HTTP CONNECT proxy, or direct for none
      all_addresses: false                    # true: one row per address of the name
    endpoints:
      - api.example.com                       # host, default port
      - api.example.com:8443                  # host:port; [2001:db8::10]:443 for IPv6
      - https://hr.example.net:9443/ws/soap   # URL of a TLS scheme: host, port (and path)
      - host: billing.example.org             # mapping: host, port, address, sni, label,
        port: 8443                            #   tags, timeout, retries, protocol, tls_min,
        proxy: direct                         #   tls_max, proxy, all_addresses

A bare list at the top level is read as ``endpoints``. Each setting of an endpoint comes from,
in order of precedence: the endpoint's own key, the ``defaults`` of the file it is listed in
(they apply to that file only), then the command line. ``tags`` is the exception: an endpoint
gets the union of the defaults' tags and its own, the defaults' first, without repeats. For
``protocol`` a string entry's URL scheme comes before the defaults (an ``https://`` URL with a
path keeps it under ``defaults: {protocol: tls}``); a mapping's ``host`` is never a URL, so a
mapping's path is always ``/`` (``snisweep.lists.rules.http_path``). For ``proxy`` the
environment's (``https_proxy``, unless ``no_proxy`` bypasses the host) comes after the command
line, and ``direct`` at any level means no proxy, whatever the levels below say. A range with
``tls_min`` above ``tls_max`` is a problem: in ``defaults`` (with the command line's) at the
key, in an endpoint (with the defaults) at the endpoint. Endpoints that differ only in these
settings (or in ``label``, ``tags``, ``timeout``, ``retries``, ``protocol``) are one endpoint,
as first listed: only host, port, address and sni tell endpoints apart.

A proxy URL may hold a password: no message shows it (``snisweep.lists.proxies.parse_proxy``).

Scalars are typed as YAML 1.1 types them (PyYAML, libyaml), but a port, a timeout or a retry
count that YAML 1.1 reads unlike the people who write lists is refused, saying what YAML made
of it: a leading 0 is octal there (``015001`` is 6657), colons make base 60 (``1:30`` is 90).

Lists with hundreds of thousands of entries are expected, so the document is never built as a
whole: one small tree (``snisweep.lists.yaml_nodes``) is built per entry, checked, and dropped. Two
readers build those trees: ``snisweep.lists.yaml_lines`` for the plain subset of YAML that generated
lists use (for lists of mappings about twice as fast), and libyaml's event stream for all of
YAML. A file is read with the first; where it declines, the file is read again with the second,
which skips the entries already yielded. What a tree means for an endpoint is decided here,
once, for both; a value node shared by many entries (a repeated line, an alias) keeps what it
was found to mean, and is checked once.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

import yaml
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

from snisweep.errors import ListChangedError, Problem, cannot_read
from snisweep.lists.proxies import check_proxy
from snisweep.lists.rules import (
    FROM_DEFAULTS,
    PORT_RANGE,
    PROTOCOLS,
    RETRIES_RANGE,
    Defaults,
    Direct,
    Entry,
    check_integer,
    check_label,
    check_protocol,
    check_seconds,
    check_tag,
    check_tls_range,
    check_tls_version,
    host_name,
    http_path,
    make_entry,
    normalise_address,
    show,
    sni_name,
    string_entry,
    union,
)
from snisweep.lists.yaml_lines import DEFAULTS, ENDPOINTS, ENTRY, Declined, read_parts
from snisweep.lists.yaml_nodes import (
    MERGE,
    STR_TAG,
    Invalid,
    Map,
    MergeKey,
    Node,
    Scalar,
    Seq,
    UnsupportedTag,
    construct,
    describe,
    plain_scalar,
    resolve_plain,
    short_tag,
)
from snisweep.model import Proxy, TLSVersion

try:
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml: same events, slower
    from yaml import SafeLoader as _YamlLoader  # type: ignore[assignment]

__all__ = ["YamlReader", "top_level_keys"]

_ENDPOINT_KEYS: Final = (
    "host",
    "port",
    "address",
    "sni",
    "label",
    "tags",
    "timeout",
    "retries",
    "protocol",
    "tls_min",
    "tls_max",
    "proxy",
    "all_addresses",
)
_ENDPOINT_KEY_SET: Final = frozenset(_ENDPOINT_KEYS)
_DEFAULTS_KEYS: Final = (
    "port",
    "timeout",
    "retries",
    "tags",
    "protocol",
    "tls_min",
    "tls_max",
    "proxy",
    "all_addresses",
)
_TOP_KEYS: Final = ("defaults", "endpoints")
_EXPECTED_TOP: Final = "a mapping with an 'endpoints' list (and optional 'defaults'), or a list"
_TAG_PREFIX: Final = "tag:yaml.org,2002:"
_SEQ_TAGS: Final = frozenset({None, "!", _TAG_PREFIX + "seq"})
_MAP_TAGS: Final = frozenset({None, "!", _TAG_PREFIX + "map"})
_SIGNED_ZERO: Final = frozenset("+-0")  # how a number YAML 1.1 reads as octal may start
_OCTAL: Final = frozenset("01234567_")


@dataclass(slots=True)
class _Frame:
    """A sequence or mapping whose end event has not come yet."""

    start: SequenceStartEvent | MappingStartEvent
    line: int
    is_seq: bool
    items: list[Node]  # of a sequence
    fields: dict[str, tuple[int, Node]]  # of a mapping
    merge: tuple[int, Node] | None = None  # the value of '<<', applied at the end
    key: tuple[int, str | MergeKey | None] | None = None  # a key waiting for its value
    keys_ok: bool = True


class YamlReader:
    """One pass over one YAML list: iterating yields its valid entries and fills ``problems``.

    ``base`` holds the command line's settings. ``known`` is the file's defaults found by an
    earlier pass; without it the endpoints use the defaults seen so far, and ``again`` tells
    whether that gave them the wrong key, because ``defaults`` followed ``endpoints`` and set
    another port. ``read_by_lines`` tells, after a whole pass, that the line reader read all of
    it; with ``by_lines=False`` it is not tried.
    """

    def __init__(
        self,
        name: str,
        open_stream: Callable[[], BinaryIO],
        base: Defaults,
        known: Defaults | None = None,
        *,
        by_lines: bool = True,
    ) -> None:
        self.name = name
        self.base = base
        self.known = known
        self.by_lines = by_lines
        self.read_by_lines = False
        self._open = open_stream
        self._start()

    def again(self) -> YamlReader | None:
        """After a whole pass: a reader for one more, with the defaults this one found, when
        ``defaults`` came after ``endpoints`` and changed what the entries it yielded were
        checked with: their port (so their keys were wrong), or their TLS range (an entry's
        own ``tls_min`` may be above the defaults' ``tls_max``); else None."""
        found, base = self.defaults, self.base
        if not self.defaults_came_late or (
            found.port == base.port
            and found.tls_min == base.tls_min
            and found.tls_max == base.tls_max
        ):
            return None
        return YamlReader(
            self.name, self._open, self.base, self.defaults, by_lines=self.read_by_lines
        )

    def _start(self) -> None:
        self.defaults = self.base
        self.defaults_came_late = False
        self.problems: list[Problem] = []
        self._endpoints_read = False
        self._anchors: dict[str, Node] = {}
        self._skipped_anchors: set[str] = set()
        self._get: Callable[[], Any] = _no_events

    def _problem(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.name, line, message))

    def __iter__(self) -> Iterator[Entry]:
        yielded = 0
        if self.by_lines:
            try:
                for entry in self.read_lines():
                    yield entry
                    yielded += 1
            except ListChangedError:  # the file is not what was validated: nothing to read
                raise
            except Exception:  # Declined, or whatever else it trips on: libyaml reads it all
                self._start()
            else:
                self.read_by_lines = True
                return
        # The entries before the line reader declined are the same for libyaml.
        for entry in self._read_events():
            if yielded:
                yielded -= 1
            else:
                yield entry
        self.problems.sort(key=lambda p: -1 if p.line is None else p.line)

    # -- the plain subset, line by line

    def read_lines(self) -> Iterator[Entry]:
        """One pass with the line reader alone, without libyaml to fall back on: raises
        ``Declined`` (or whatever a bug in it raises) where iterating would read the file with
        libyaml instead. The tests hold it to libyaml with this."""
        defaults = self.defaults
        with self._open() as stream:
            for kind, node in read_parts(stream):
                assert node is not None or kind == ENDPOINTS
                if kind == ENTRY and node is not None:
                    entry = self._endpoint(node, defaults)
                    if entry is None:
                        raise Declined(node.line)  # libyaml reports it, with every other one
                    yield entry
                elif kind == ENDPOINTS:
                    self._endpoints_read = True
                    defaults = self.defaults if self.known is None else self.known
                elif kind == DEFAULTS and node is not None:
                    self._read_defaults(node)
                    if self.problems:
                        raise Declined(node.line)

    # -- all of YAML, from libyaml's events

    def _read_events(self) -> Iterator[Entry]:
        try:
            with self._open() as stream:
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
            self._problem(None, cannot_read(exc))
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
        except ListChangedError:
            raise
        except Exception as exc:  # untrusted input must never crash the program
            # (not "cannot read: ...", the wording of the environment's errors)
            self._problem(None, f"YAML: {type(exc).__name__}: {show(str(exc))}")

    def _line_at(self, offset: int) -> int | None:
        """The line of a byte offset, for the decoder's errors that come without a line."""
        try:
            with self._open() as stream:
                return stream.read(max(offset, 0)).count(b"\n") + 1
        except OSError:
            return None

    def _document(self) -> Iterator[Entry]:
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
            if isinstance(node, Scalar) and node.value is None:
                self._problem(node.line, f"the document is empty; expected {_EXPECTED_TOP}")
            elif not isinstance(node, Invalid):
                self._problem(node.line, f"expected {_EXPECTED_TOP}; found {describe(node)}")
        _next(get)  # DocumentEndEvent
        event = get()
        if isinstance(event, DocumentStartEvent):
            self._problem(
                _line(event),
                "a second YAML document ('---'); put every endpoint in one document",
            )

    def _top_mapping(self, start: MappingStartEvent) -> Iterator[Entry]:
        if start.tag not in _MAP_TAGS:
            self._problem(_line(start), f"unsupported YAML tag {short_tag(start.tag or '')!r}")
        seen: dict[str, int] = {}
        while not isinstance(event := _next(self._get), MappingEndEvent):
            key = self._build(event)
            name = self._key_name(key)
            value_event = _next(self._get)
            if not isinstance(name, str):
                if name is MERGE:
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

    def _endpoints(self, event: Event) -> Iterator[Entry]:
        self._endpoints_read = True
        defaults = self.defaults if self.known is None else self.known
        if not isinstance(event, SequenceStartEvent):
            node = self._build(event)
            if isinstance(node, Seq):  # an alias of a list
                for member in node.items:
                    if (aliased := self._endpoint(member, defaults)) is not None:
                        yield aliased
            elif isinstance(node, Scalar) and node.value is None:
                self._problem(node.line, "endpoints: empty; write 'endpoints: []' for no endpoints")
            elif not isinstance(node, Invalid):
                self._problem(node.line, f"endpoints: expected a list, found {describe(node)}")
            return
        if event.tag not in _SEQ_TAGS:
            self._problem(_line(event), f"unsupported YAML tag {short_tag(event.tag or '')!r}")
        if event.anchor is not None:  # the whole list is never kept, so it cannot be aliased
            self._skipped_anchors.add(event.anchor)
        while not isinstance(item := _next(self._get), SequenceEndEvent):
            entry = self._endpoint(self._build(item), defaults)
            if entry is not None:
                yield entry

    # -- what the nodes mean, whichever reader built them

    def _read_defaults(self, node: Node) -> None:
        if self._endpoints_read and self.known is None:
            self.defaults_came_late = True
        if isinstance(node, Invalid) or (isinstance(node, Scalar) and node.value is None):
            return  # 'defaults:' with every line commented out means no defaults
        if not isinstance(node, Map):
            self._problem(node.line, f"defaults: expected a mapping, found {describe(node)}")
            return
        before = len(self.problems)
        base = self.base
        # The value each key sets, None for those it does not set (or sets wrong: reported).
        found: dict[str, Any] = {}
        range_line = 0  # the line of the last TLS bound set
        for key, (key_line, value) in node.fields.items():
            check = _DEFAULTS_CHECKS.get(key)
            if check is None:
                where = "in defaults (it is set per endpoint)" if key in _ENDPOINT_KEYS else ""
                self._problem(key_line, _unknown_key(key, _DEFAULTS_KEYS, where or "in defaults"))
                continue
            found[key] = check(self, value)
            if key in ("tls_min", "tls_max"):
                range_line = key_line
        if len(self.problems) > before:
            return
        tls_min = found.get("tls_min") or base.tls_min
        tls_max = found.get("tls_max") or base.tls_max
        if range_line:
            try:
                check_tls_range(tls_min, tls_max)
            except ValueError as exc:
                # Here, once, rather than at every endpoint that would inherit it.
                other = "tls_max" if "tls_max" not in found else "tls_min"
                given = "" if other in found else f" (the command line's {other})"
                self._problem(range_line, f"{exc}{given}")
                return
        proxy = found.get("proxy")
        all_addresses = found.get("all_addresses")
        self.defaults = dataclasses.replace(
            base,
            port=found.get("port") or base.port,
            timeout=found.get("timeout") or base.timeout,
            retries=base.retries if found.get("retries") is None else found["retries"],
            tags=found.get("tags") or (),
            protocol=found.get("protocol") or base.protocol,
            tls_min=tls_min,
            tls_max=tls_max,
            proxy=base.proxy if proxy is None else proxy,
            all_addresses=base.all_addresses if all_addresses is None else all_addresses,
        )

    def _endpoint(self, node: Node, defaults: Defaults) -> Entry | None:
        if isinstance(node, Map):
            return self._endpoint_from_mapping(node, defaults)
        if isinstance(node, Scalar):
            if isinstance(node.value, str):
                try:
                    return string_entry(node.value, node.line, defaults)
                except ValueError as exc:
                    self._problem(node.line, str(exc))
                    return None
            if node.value is None:
                self._problem(node.line, "empty entry; expected a host, host:port, URL or mapping")
                return None
        if not isinstance(node, Invalid):
            hint = ""
            if isinstance(node, Scalar) and isinstance(node.value, int | float):
                hint = " (YAML reads it as a number: quote a host)"
            self._problem(
                node.line,
                f"expected a host, host:port, URL or mapping; found {describe(node)}{hint}",
            )
        return None

    def _endpoint_from_mapping(self, node: Map, defaults: Defaults) -> Entry | None:
        if len(node.fields) == 1:
            (name, (_, value)), *_ = node.fields.items()
            if name not in _ENDPOINT_KEY_SET and isinstance(value, Scalar) and value.value is None:
                # '- api.example.com:' is a mapping for YAML: a forgotten port, most likely
                self._problem(
                    node.line,
                    f"{show(name + ':')} ends with ':' but has no port after it "
                    "(YAML reads it as a mapping)",
                )
                return None
        before = len(self.problems)
        checked: dict[str, Any] = {}
        for key, (key_line, value) in node.fields.items():
            memo = value.checked
            if memo is not None and memo[0] == key:
                checked[key] = memo[1]
                continue
            check = _FIELD_CHECKS.get(key)
            if check is None:
                self._problem(key_line, _unknown_key(key, _ENDPOINT_KEYS, "in an endpoint"))
                continue
            problems = len(self.problems)
            checked[key] = found = check(self, value)
            if len(self.problems) == problems and isinstance(value, Scalar | Seq):
                # A pure function of the key and the node's content: a shared node is
                # checked once.
                value.checked = (key, found)
        if "host" not in node.fields and node.keys_ok:
            self._problem(node.line, "missing 'host' in an endpoint")
        host: tuple[str, bool] | None = checked.get("host")
        if len(self.problems) > before or host is None:
            return None
        name, is_ip = host
        protocol = checked.get("protocol")
        try:
            # by position, in the order of an Entry: keyword arguments cost more than the call
            return make_entry(
                defaults,
                node.line,
                name,
                is_ip,
                checked.get("port"),
                checked.get("address"),
                checked.get("sni"),
                checked.get("label") or "",
                checked.get("tags") or (),
                checked.get("timeout"),
                checked.get("retries"),
                FROM_DEFAULTS if protocol is None else http_path(protocol),
                checked.get("tls_min"),
                checked.get("tls_max"),
                checked.get("proxy"),
                checked.get("all_addresses"),
            )
        except ValueError as exc:  # its TLS range, with the defaults', is empty
            self._problem(node.line, str(exc))
            return None

    # -- the values of keys; each returns None when wrong (and reports it)

    def _host(self, node: Node) -> tuple[str, bool] | None:
        if node.__class__ is Scalar and node.value.__class__ is str:  # as nearly always
            try:
                return host_name(node.value)
            except ValueError as exc:
                self._problem(node.line, str(exc))
                return None
        return self._name(node, "host")

    def _port(self, node: Node) -> int | None:
        return self._integer(node, "port", *PORT_RANGE)

    def _retries(self, node: Node) -> int | None:
        return self._integer(node, "retries", *RETRIES_RANGE)

    def _label(self, node: Node) -> str | None:
        if node.__class__ is Scalar and node.value.__class__ is str:  # as nearly always
            try:
                return check_label(node.value)
            except ValueError as exc:
                self._problem(node.line, str(exc))
                return None
        return self._text(node, "label")

    def _name(self, node: Node, key: str) -> tuple[str, bool] | None:
        text = self._host_text(node, key)
        if text is None:
            return None
        try:
            return host_name(text, key)
        except ValueError as exc:
            self._problem(node.line, str(exc))
            return None

    def _sni(self, node: Node) -> str | None:
        text = self._host_text(node, "sni")
        if text is None:
            return None
        try:
            return sni_name(text)
        except ValueError as exc:
            self._problem(node.line, str(exc))
            return None

    def _host_text(self, node: Node, key: str) -> str | None:
        if isinstance(node, Invalid):
            return None
        if isinstance(node, Scalar) and node.value is None:
            self._problem(node.line, f"empty {key}")
            return None
        if not (isinstance(node, Scalar) and isinstance(node.value, str)):
            self._problem(
                node.line, f"{key}: expected a host name or IP address, found {describe(node)}"
            )
            return None
        return node.value

    def _address(self, node: Node) -> str | None:
        scalar = self._value(node, "address", str, "an IPv4 or IPv6 address")
        if scalar is None:
            return None
        try:
            return normalise_address(str(scalar.value))
        except ValueError as exc:
            self._problem(scalar.line, str(exc))
            return None

    def _integer(self, node: Node, key: str, low: int, high: int) -> int | None:
        scalar = self._value(node, key, int, f"an integer {low}..{high}")
        if scalar is None or self._misread(scalar, key):
            return None
        assert isinstance(scalar.value, int)
        try:
            return check_integer(scalar.value, scalar.text, key, low, high)
        except ValueError as exc:
            self._problem(scalar.line, str(exc))
            return None

    def _seconds(self, node: Node) -> float | None:
        scalar = self._value(node, "timeout", (int, float), "a number of seconds")
        if scalar is None or self._misread(scalar, "timeout"):
            return None
        assert isinstance(scalar.value, int | float)
        try:
            return check_seconds(scalar.value, scalar.text)
        except ValueError as exc:
            self._problem(scalar.line, str(exc))
            return None

    def _misread(self, scalar: Scalar, key: str) -> bool:
        """Whether YAML 1.1 read the number ``scalar`` unlike the people who write lists
        (reported): with a leading 0 as octal (``015001`` is 6657), with colons in base 60
        (``1:30`` is 90). Both are silent in YAML, and wrong in a port, a timeout or a count
        (but ``00`` to ``07``, the same in octal). Hexadecimal and binary numbers say what
        they are (``0x1BB``)."""
        text = scalar.text
        if text[:1] not in _SIGNED_ZERO and ":" not in text:  # as nearly always
            return False
        digits = text.lstrip("+-")
        value = scalar.value
        assert isinstance(value, int | float)
        if isinstance(value, float):
            shown = f"{value:g}"
        else:  # an octal number of thousands of digits is a number all the same
            shown = str(value) if value.bit_length() < 200 else "a number far too large"
        if ":" in digits:
            what = f"the base-60 number {shown}"
            meant = ""
        elif isinstance(value, int) and digits[1:2] in _OCTAL and digits[:1] == "0":
            decimal = digits.replace("_", "").lstrip("0") or "0"
            if len(decimal) < 20 and abs(value) == int(decimal):
                return False  # 01 to 07: the same number either way
            what = f"the octal number {shown} (a leading 0 means octal)"
            meant = f", else {decimal}"
        else:
            return False
        self._problem(
            scalar.line,
            f"{key}: YAML 1.1 reads {show(text, 40)} as {what}; "
            f"write {shown} if that is meant{meant}",
        )
        return True

    def _protocol(self, node: Node) -> str | None:
        if isinstance(node, Invalid):
            return None
        if not (isinstance(node, Scalar) and isinstance(node.value, str)):
            allowed = " or ".join(PROTOCOLS)
            self._problem(node.line, f"protocol: expected {allowed}, found {describe(node)}")
            return None
        try:
            return check_protocol(node.value)
        except ValueError as exc:
            self._problem(node.line, str(exc))
            return None

    def _tls_min(self, node: Node) -> TLSVersion | None:
        return self._tls_version(node, "tls_min")

    def _tls_max(self, node: Node) -> TLSVersion | None:
        return self._tls_version(node, "tls_max")

    def _tls_version(self, node: Node, key: str) -> TLSVersion | None:
        if isinstance(node, Invalid):
            return None
        if not (isinstance(node, Scalar) and isinstance(node.value, str | float)):
            self._problem(
                node.line, f"{key}: expected 1.0, 1.1, 1.2 or 1.3, found {describe(node)}"
            )
            return None
        try:
            if isinstance(node.value, str):
                return check_tls_version(node.value, key)
            # 1.2 is a number for YAML: its text is the version (1.20 is none)
            return check_tls_version(node.text, key)
        except ValueError as exc:
            message = str(exc)
            if not isinstance(node.value, str):
                message = f"{key}: expected 1.0, 1.1, 1.2 or 1.3, found {describe(node)}"
            self._problem(node.line, message)
            return None

    def _proxy(self, node: Node) -> Proxy | Direct | None:
        if isinstance(node, Invalid):
            return None
        if not (isinstance(node, Scalar) and isinstance(node.value, str)):
            # (not a string: describe() quotes strings, and a proxy URL may hold a password)
            self._problem(
                node.line,
                f"proxy: expected direct or an http://host:port URL, found {describe(node)}",
            )
            return None
        try:
            return check_proxy(node.value)
        except ValueError as exc:
            self._problem(node.line, str(exc))
            return None

    def _all_addresses(self, node: Node) -> bool | None:
        if isinstance(node, Invalid):
            return None
        if isinstance(node, Scalar) and isinstance(node.value, bool):
            return node.value
        self._problem(node.line, f"all_addresses: expected true or false, found {describe(node)}")
        return None

    def _text(self, node: Node, key: str) -> str | None:
        scalar = self._value(node, key, (str, int, float), "a string")
        if scalar is None:
            return None
        # A label written as 1.10 means "1.10", not the float 1.1.
        text = scalar.value if isinstance(scalar.value, str) else scalar.text
        try:
            return check_label(text, key)
        except ValueError as exc:
            self._problem(scalar.line, str(exc))
            return None

    def _tags(self, node: Node) -> tuple[str, ...] | None:
        if isinstance(node, Invalid):
            return None
        if not isinstance(node, Seq):
            hint = f" (write [{node.value}])" if isinstance(node, Scalar) and node.value else ""
            self._problem(
                node.line, f"tags: expected a list of strings, found {describe(node)}{hint}"
            )
            return None
        tags: list[str] = []
        for item in node.items:
            if isinstance(item, Invalid):
                continue
            if not (
                isinstance(item, Scalar)
                and isinstance(item.value, str | int | float)
                and not isinstance(item.value, bool)
            ):
                self._problem(item.line, f"tags: expected a string, found {describe(item)}")
                continue
            try:
                tags.append(check_tag(item.value if isinstance(item.value, str) else item.text))
            except ValueError as exc:
                self._problem(item.line, str(exc))
        return union((), tags)

    def _value(
        self, node: Node, key: str, types: type | tuple[type, ...], expected: str
    ) -> Scalar | None:
        """The node when it is a scalar of one of ``types``; YAML booleans are no integers."""
        if isinstance(node, Invalid):
            return None
        if (
            isinstance(node, Scalar)
            and isinstance(node.value, types)
            and not isinstance(node.value, bool)
        ):
            return node
        self._problem(node.line, f"{key}: expected {expected}, found {describe(node)}")
        return None

    # -- building nodes from events

    def _build(self, event: Event) -> Node:
        """The node that starts with ``event``, reading the events of its children."""
        # A loop, not recursion: the nesting depth of a file is the user's to choose.
        stack: list[_Frame] = []
        get = self._get
        while True:
            node: Node
            kind = event.__class__
            if kind is ScalarEvent:
                node = self._scalar(event)  # type: ignore[arg-type]
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                is_seq = kind is SequenceStartEvent
                stack.append(_Frame(event, _line(event), is_seq, [], {}))  # type: ignore[arg-type]
                event = get()
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                node = self._finish(stack.pop())
            elif isinstance(event, AliasEvent):
                node = self._alias(event)
            else:  # pragma: no cover - the parser sends no other event inside a node
                raise yaml.YAMLError(f"unexpected {type(event).__name__} in a node")
            if not stack:
                return node
            self._add(stack[-1], node)
            event = get()  # never None inside a node: the parser raises first

    def _scalar(self, event: ScalarEvent) -> Node:
        line = _line(event)
        text = event.value
        tag = event.tag
        if tag is None and event.anchor is None:  # as nearly always
            if not event.implicit[0]:  # quoted
                return Scalar(text, text, line)
            try:
                return plain_scalar(text, line)  # what the safe loader's resolver says
            except ValueError as exc:
                self._problem(line, str(exc))
                return Invalid(line)
        if tag is None:
            tag = resolve_plain(text) if event.implicit[0] else STR_TAG
        elif tag == "!":  # the non-specific tag: a string
            tag = STR_TAG
        try:
            value = construct(tag, text)
        except UnsupportedTag:
            self._problem(line, f"unsupported YAML tag {short_tag(tag)!r}")
            return self._anchor(event.anchor, Invalid(line))
        except ValueError as exc:
            self._problem(line, str(exc))
            return self._anchor(event.anchor, Invalid(line))
        return self._anchor(event.anchor, Scalar(value, text, line))

    def _anchor(self, anchor: str | None, node: Node) -> Node:
        if anchor is not None:
            self._anchors[anchor] = node
        return node

    def _alias(self, event: AliasEvent) -> Node:
        line = _line(event)
        anchor = event.anchor or ""
        node = self._anchors.get(anchor)
        if node is None:
            if anchor in self._skipped_anchors:
                self._problem(line, f"alias '*{anchor}' refers to a part that is not read")
            else:
                self._problem(line, f"alias '*{anchor}' has no anchor '&{anchor}' before it")
            return Invalid(line)
        if isinstance(node, Scalar):  # report a bad value where it is used
            return Scalar(node.value, node.text, line)
        return node

    def _add(self, frame: _Frame, node: Node) -> None:
        if frame.is_seq:
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
        if name is MERGE:
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

    def _finish(self, frame: _Frame) -> Node:
        start = frame.start
        node: Node
        if isinstance(start, SequenceStartEvent):
            if start.tag not in _SEQ_TAGS:
                self._problem(frame.line, f"unsupported YAML tag {short_tag(start.tag or '')!r}")
                node = Invalid(frame.line)
            else:
                node = Seq(frame.items, frame.line)
            return self._anchor(start.anchor, node)
        fields = frame.fields
        if frame.merge is not None:
            line, merged = frame.merge
            for source in merged.items if isinstance(merged, Seq) else [merged]:
                if isinstance(source, Map):
                    for key, value in source.fields.items():
                        # keys written in the mapping win, then earlier merged mappings
                        fields.setdefault(key, value)
                elif not isinstance(source, Invalid):
                    self._problem(line, f"'<<' merges mappings; found {describe(source)}")
        if start.tag not in _MAP_TAGS:
            self._problem(frame.line, f"unsupported YAML tag {short_tag(start.tag or '')!r}")
            node = Invalid(frame.line)
        else:
            node = Map(fields, frame.line, frame.keys_ok)
        return self._anchor(start.anchor, node)

    def _key_name(self, key: Node) -> str | MergeKey | None:
        """The name of a mapping key; None (reported) when it cannot be a name."""
        if isinstance(key, Scalar):
            if key.value is MERGE:
                return MERGE
            return key.value if isinstance(key.value, str) else key.text
        if isinstance(key, Map):
            self._problem(
                key.line,
                "a mapping as a key: is this an unfilled '{{ template }}'? Quote it, or fill it",
            )
        elif isinstance(key, Seq):
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


# What each key of an endpoint means: a check of its value, None when wrong (and reported).
_FIELD_CHECKS: Final[dict[str, Callable[[YamlReader, Node], object]]] = {
    "host": YamlReader._host,
    "port": YamlReader._port,
    "address": YamlReader._address,
    "sni": YamlReader._sni,
    "label": YamlReader._label,
    "tags": YamlReader._tags,
    "timeout": YamlReader._seconds,
    "retries": YamlReader._retries,
    "protocol": YamlReader._protocol,
    "tls_min": YamlReader._tls_min,
    "tls_max": YamlReader._tls_max,
    "proxy": YamlReader._proxy,
    "all_addresses": YamlReader._all_addresses,
}
# What each key of ``defaults`` means, checked as in an endpoint.
_DEFAULTS_CHECKS: Final[dict[str, Callable[[YamlReader, Node], object]]] = {
    key: _FIELD_CHECKS[key] for key in _DEFAULTS_KEYS
}


def top_level_keys(open_stream: Callable[[], BinaryIO]) -> tuple[str, ...] | None:
    """The keys of the first YAML document, in order, when it is a mapping; None when it is
    anything else, or cannot be read or parsed that far.

    ``load`` asks this of a file found in a directory that failed as a list, to tell a file
    that is no endpoint list at all (a Kubernetes manifest) from a list with mistakes. Only
    the first document is parsed (a manifest may hold several), with the values of its keys
    skipped as events: linear in its size, and nothing built.
    """
    keys: list[str] = []
    try:
        with open_stream() as stream:
            loader = _YamlLoader(stream)
            try:
                get = loader.get_event
                get()  # StreamStartEvent
                if not isinstance(get(), DocumentStartEvent):
                    return None
                if not isinstance(get(), MappingStartEvent):
                    return None
                while not isinstance(event := _next(get), MappingEndEvent):
                    if isinstance(event, ScalarEvent):
                        keys.append(event.value)
                    else:  # a complex key, an alias: no name to show
                        _skip_events(event, get)
                    _skip_events(_next(get), get)
            finally:
                loader.dispose()
    except Exception:  # an OSError, a YAML error, untrusted input: the answer is "unknown"
        return None
    return tuple(keys)


def _skip_events(event: Event, get: Callable[[], Event | None]) -> None:
    """Read past the node that starts with ``event``."""
    depth = 0
    while True:
        if isinstance(event, MappingStartEvent | SequenceStartEvent):
            depth += 1
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            depth -= 1
        if depth == 0:
            return
        event = _next(get)


def _no_events() -> None:
    return None


def _next(next_event: Callable[[], Event | None]) -> Event:
    event = next_event()
    if event is None:  # pragma: no cover - the parser raises before it runs dry
        raise yaml.YAMLError("unexpected end of the YAML stream")
    return event


def _line(event: Event) -> int:
    mark = event.start_mark
    return 1 if mark is None else int(mark.line) + 1


def _unknown_key(name: str, allowed: Sequence[str], where: str) -> str:
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {show(name)} {where}{hint} (allowed: {', '.join(allowed)})"


def _reader_message(exc: yaml.reader.ReaderError) -> str:
    reason = str(exc.reason)
    if "UTF-8" in reason or "octet" in reason or exc.encoding not in ("?", "unicode"):
        return f"not valid UTF-8 text ({reason})"
    return f"character #x{exc.character:04x} is not allowed in YAML ({reason})"
