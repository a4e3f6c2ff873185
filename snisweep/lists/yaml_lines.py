"""Read the plain subset of YAML that machine-written endpoint lists use, line by line.

I/O: reads the binary stream it is given, nothing else.

Why it exists: through PyYAML, libyaml delivers a list of 100,000 mappings as over a million
event objects, each built in Python, which takes seconds before a single entry is checked.
Lists written by programs and by most people use a small, regular part of YAML, and repeat
most of their lines (``port: 443``, ``tags: [prod]``). This reader reads that part, one regular
expression a line and each distinct line once, and builds the same nodes
(``snisweep.lists.yaml_nodes``) as the event reader does from the same text; what the nodes mean is
decided in one place, ``snisweep.lists.yaml_list``, whichever reader built them.

It never guesses: at the first line outside the subset it raises ``Declined``, and the caller
reads the file again with libyaml, which reads (or reports) everything. So the subset is kept
to what is unambiguous, and ``tests/test_yaml_lines.py`` checks the reader against libyaml on
generated documents. The subset:

- UTF-8 (a BOM is skipped), LF or CRLF line ends, every line printable: no tab, no control
  character; blank lines and comment lines anywhere; ``---`` alone on the first line.
- At column 0, either a block sequence (a bare list) or the keys ``defaults`` and ``endpoints``,
  each at most once, with a value on the key's line or a block below it.
- Block sequences: ``- `` items at one indentation. An item is a scalar, a flow collection or a
  block mapping whose first key is on the item's line (``- host: a``).
- Block mappings: ``key: value`` lines at one indentation, keys ASCII identifiers, each once.
  A key with nothing after it takes the block sequence or mapping below it, else it is null.
- Scalars: plain ones on one line (not starting with an indicator, holding no ``: ``, not ending
  with ``:``); ``'single'`` without ``''``; ``"double"`` without ``\\``. A `` #`` after
  a value starts a comment. No anchors, aliases, tags, block scalars or complex keys.
- Flow collections on one line: ``[scalar, ...]`` and ``{key: scalar or [scalar, ...], ...}``;
  their plain scalars hold none of ``: , [ ] { } # ' "``.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Generator, Iterator
from typing import BinaryIO, Final, Literal

from snisweep.lists.yaml_nodes import Map, Node, Scalar, Seq, plain_scalar

__all__ = ["DEFAULTS", "ENDPOINTS", "ENTRY", "Declined", "Part", "read_parts"]

DEFAULTS: Final = "defaults"  # the value of the top-level 'defaults' key
ENDPOINTS: Final = "endpoints"  # the 'endpoints' key (or a bare list) starts: no node
ENTRY: Final = "entry"  # one item of the endpoints list
Part = tuple[Literal["defaults", "endpoints", "entry"], Node | None]


class Declined(Exception):
    """The document leaves the subset at ``line``; read it with libyaml instead."""

    def __init__(self, line: int) -> None:
        super().__init__(f"line {line} is outside the YAML subset read line by line")
        self.line = line


# Characters a plain scalar cannot start with here: YAML's indicators ('-', '?' and ':' may start
# one when a non-space follows, but such scalars are left to libyaml).
_INDICATORS: Final = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_PLAIN: Final = re.compile(r"[^-?:,\[\]{}#&*!|>'\"%@` ][^:,\[\]{}#'\"]*")
_BRACKETS: Final = re.compile(r"([\[\]])")
_EOF: Final = -1


_CHUNK: Final = 1 << 16  # bytes decoded at a time: enough to be fast; little, to stay flat
_CACHE_SIZE: Final = 4096  # distinct lines remembered; unique lines (hosts, labels) churn it

# What one line holds: (indentation, whether it is a '- ' item, the key of its 'key: value'
# (after the dash of an item), the node of its value on the line (None when nothing follows
# the key), the column of the key). Lists repeat their lines ('port: 443', 'tags: [prod]'), so
# each distinct line is read once and its record, nodes included, is shared: the nodes are never
# changed, and their lines serve only messages, which this reader never gives (it declines).
_Record = tuple[int, bool, str | None, Node | None, int]
_END: Final[_Record] = (_EOF, False, None, None, _EOF)
_UNREAD: Final[_Record] = (_EOF, True, None, None, _EOF)  # a line not in the cache yet


def _records(stream: BinaryIO) -> Iterator[tuple[int, _Record]]:
    """``(line number, record)`` of each line that is neither blank nor a comment."""
    # A chunk's records in a list, chained: the parser's next() then runs in C, and not through
    # a Python generator for each line.
    return itertools.chain.from_iterable(_chunks(stream))


def _chunks(stream: BinaryIO) -> Iterator[list[tuple[int, _Record]]]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    cache: dict[str, _Record | None] = {}
    number = 0
    start = True  # nothing decoded yet: a byte order mark may come
    pending: list[str] = []  # the start of a line that goes on in a later block
    carry = ""  # a CR at the end of the last block: the first half of a CR LF, maybe
    while True:
        data = stream.read(_CHUNK)
        try:
            text = carry + decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise Declined(number + 1) from None
        if start and text:
            start = False
            if text[0] == "\ufeff":
                text = text[1:]  # the byte order mark
        carry = ""
        if data and text[-1:] == "\r":
            text, carry = text[:-1], "\r"
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        # YAML refuses control characters (a lone CR too, here); Python's printable
        # characters are all YAML's. Each character is checked once, however long its line.
        lines = text.split("\n")
        if not "".join(lines).isprintable():
            raise Declined(number + 1)
        if data and len(lines) == 1:
            pending.append(text)
            continue
        if pending:
            pending.append(lines[0])
            lines[0] = "".join(pending)
            pending = []
        if data:
            pending.append(lines.pop())
        if number == 0 and lines and lines[0] == "---":
            lines[0] = ""  # the document start marker, alone on the first line
        records = []
        for line in lines:
            number += 1
            record = cache.get(line, _UNREAD)
            if record is _UNREAD:
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                record = cache[line] = _record(line, number)
            if record is not None:
                records.append((number, record))
        yield records
        if not data:
            return


# A line: indentation, the dash of an item, the key of a 'key: value' pair (an ASCII identifier,
# its colon followed by a space or the end), and the rest. Possessive: it never backtracks.
_LINE: Final = re.compile(r"( *+)(?:(-)(?: ++|$))?+(?:([A-Za-z_][A-Za-z0-9_]*+):(?: ++|$))?+(.*+)")


def _record(line: str, number: int) -> _Record | None:
    """The record of one line; None for a blank or comment line."""
    match = _LINE.fullmatch(line)
    assert match is not None  # every part of the pattern may be empty
    indent, dash, key, text = match.groups()
    if not text or text[0] == "#":  # nothing on the line but a dash or a key
        if key is not None:
            return len(indent), dash is not None, key, None, match.start(3)
        if dash is not None:
            raise Declined(number)  # an empty item; or its node starts on a later line
        return None
    if key is None and dash is None:
        raise Declined(number)  # a scalar alone on its line: a continuation, or no YAML
    key_indent = match.start(4) if key is None else match.start(3)
    return len(indent), dash is not None, key, _value(text, number), key_indent


# The lines as the parsing functions below pass them on: each takes the records and the line
# it starts at, and returns (with what it read) the first line that is not its own.
_Records = Iterator[tuple[int, _Record]]
_AT_END: Final = (0, _END)


def read_parts(stream: BinaryIO) -> Iterator[Part]:
    """The parts of a YAML endpoint list, in file order, each as soon as it is complete.

    Raises ``Declined`` where the document leaves the subset; the parts yielded before are
    what libyaml reads too, so a caller may go on from there.
    """
    records = _records(stream)
    number, record = next(records, _AT_END)
    if record[0] != 0:
        raise Declined(number)
    if record[1]:
        yield ENDPOINTS, None
        number, record = yield from _entries(records, number, record, 0)
    else:
        number, record = yield from _top_mapping(records, number, record)
    if record[0] != _EOF:
        raise Declined(number)


def _top_mapping(
    records: _Records, number: int, record: _Record
) -> Generator[Part, None, tuple[int, _Record]]:
    seen: set[str] = set()
    while record[0] == 0:
        _, item, key, node, _ = record
        if item or key is None or key in seen or key not in (DEFAULTS, ENDPOINTS):
            raise Declined(number)
        seen.add(key)
        key_number = number
        number, record = next(records, _AT_END)
        if key == ENDPOINTS:
            yield ENDPOINTS, None
            if node is not None:
                if record[0] > 0 or not isinstance(node, Seq):
                    raise Declined(key_number)
                for scalar in node.items:
                    yield ENTRY, _fresh(scalar, key_number)
            elif record[1]:
                number, record = yield from _entries(records, number, record, record[0])
            else:
                raise Declined(key_number)  # 'endpoints:' with nothing: libyaml says what
        else:
            if node is None:
                node, number, record = _below(records, 0, key_number, number, record)
            if record[0] > 0:
                raise Declined(number)
            yield DEFAULTS, node
    if ENDPOINTS not in seen:
        raise Declined(number)
    return number, record


def _entries(
    records: _Records, number: int, record: _Record, indent: int
) -> Generator[Part, None, tuple[int, _Record]]:
    """The items of the block sequence at ``indent``, each yielded once the next code line
    shows that it is complete (a plain scalar could go on in a deeper line)."""
    while record[0] == indent and record[1]:
        key, node, key_indent = record[2:]
        if key is None:
            assert node is not None
            if node.line != number:  # a repeated line: its shared record
                node = _fresh(node, number)
            number, record = next(records, _AT_END)
        else:
            node, number, record = _block_map(records, key_indent, number, record)
        if record[0] > indent:
            raise Declined(number)
        yield ENTRY, node
    return number, record


def _fresh(node: Node, number: int) -> Node:
    """A node of a shared record, as a node of its own that starts at line ``number``: the
    line of an entry is where the endpoint came from."""
    if isinstance(node, Scalar):
        return Scalar(node.value, node.text, number)
    if isinstance(node, Map):
        return Map(node.fields, number)
    if isinstance(node, Seq):
        return Seq(node.items, number)
    return node  # pragma: no cover - the line reader makes no Invalid node


def _block_map(
    records: _Records, indent: int, number: int, record: _Record
) -> tuple[Map, int, _Record]:
    """The block mapping at ``indent`` whose first key is on ``record``."""
    fields: dict[str, tuple[int, Node]] = {}
    line = number
    while True:
        key = record[2]
        node = record[3]
        if key is None or key in fields:
            raise Declined(number)
        key_number = number
        number, record = next(records, _AT_END)
        if node is None:
            node, number, record = _below(records, indent, key_number, number, record)
        fields[key] = (key_number, node)
        if record[0] != indent:
            if record[0] > indent:
                raise Declined(number)
            return Map(fields, line), number, record
        if record[1]:
            raise Declined(number)


def _below(
    records: _Records, indent: int, key_number: int, number: int, record: _Record
) -> tuple[Node, int, _Record]:
    """The value of a key at ``indent`` with nothing after it on its line ``key_number``."""
    next_indent, item = record[:2]
    if item and next_indent >= indent:
        line = number
        items: list[Node] = []
        parts = _entries(records, number, record, next_indent)
        while True:
            try:
                node = next(parts)[1]
            except StopIteration as stop:
                number, record = stop.value
                return Seq(items, line), number, record
            assert node is not None
            items.append(node)
    if next_indent > indent:
        return _block_map(records, next_indent, number, record)
    return Scalar(None, "", key_number), number, record


def _value(text: str, number: int) -> Node:
    """The node of a value that starts ``text`` and ends the line (but for a comment)."""
    first = text[0]
    if first not in _INDICATORS:  # a plain scalar
        comment = text.find(" #")
        if comment >= 0:
            text = text[:comment]
        text = text.rstrip(" ")
        if ": " in text or text[-1] == ":":
            raise Declined(number)  # a mapping; or no YAML
        try:
            return plain_scalar(text, number)
        except ValueError:
            raise Declined(number) from None
    if first == "[":
        end = text.find("]")
        if end < 0:
            raise Declined(number)
        _end_of_line(text[end + 1 :], number)
        return Seq(_flow_items(text[1:end], number), number)
    if first == "{":
        end = text.find("}")
        if end < 0:
            raise Declined(number)
        _end_of_line(text[end + 1 :], number)
        return _flow_map(text[1:end], number)
    if first in "'\"":
        end = text.find(first, 1)
        if end < 0 or (first == '"' and "\\" in text[:end]):
            raise Declined(number)
        _end_of_line(text[end + 1 :], number)
        return Scalar(text[1:end], text[1:end], number)
    raise Declined(number)


def _end_of_line(rest: str, number: int) -> None:
    """What follows a quoted scalar or a flow collection: nothing, or a comment."""
    if rest and (rest[0] != " " or rest.lstrip(" ")[:1] not in ("", "#")):
        raise Declined(number)


def _flow_items(text: str, number: int) -> list[Node]:
    """The scalars of a flow sequence ``text`` (between its brackets)."""
    if "[" in text or "{" in text:
        raise Declined(number)
    pieces = text.split(",")
    if len(pieces) > 1 and not pieces[-1].strip(" "):
        pieces.pop()  # a trailing comma
    elif len(pieces) == 1 and not pieces[0].strip(" "):
        return []
    return [_flow_scalar(piece.strip(" "), number) for piece in pieces]


def _flow_scalar(text: str, number: int) -> Scalar:
    if text[:1] in ("'", '"'):
        quote = text[0]
        inner = text[1:-1]
        if len(text) < 2 or text[-1] != quote or quote in inner or "\\" in inner:
            raise Declined(number)
        return Scalar(inner, inner, number)
    if not _FLOW_PLAIN.fullmatch(text):
        raise Declined(number)
    try:
        return plain_scalar(text, number)
    except ValueError:
        raise Declined(number) from None


def _flow_map(text: str, number: int) -> Map:
    """The flow mapping ``text`` (between its braces)."""
    if "{" in text:
        raise Declined(number)
    pieces = _pairs(text) if "[" in text else text.split(",")
    if len(pieces) > 1 and not pieces[-1].strip(" "):
        pieces.pop()  # a trailing comma
    elif len(pieces) == 1 and not pieces[0].strip(" "):
        return Map({}, number)
    fields: dict[str, tuple[int, Node]] = {}
    for piece in pieces:
        key, _, after = piece.partition(":")
        key = key.strip(" ")
        value = after.strip(" ")
        if (
            not (key.isidentifier() and key.isascii())
            or key in fields
            or after[:1] != " "
            or not value
        ):
            raise Declined(number)
        if value[0] == "[":
            if value[-1] != "]":
                raise Declined(number)
            fields[key] = (number, Seq(_flow_items(value[1:-1], number), number))
        else:
            fields[key] = (number, _flow_scalar(value, number))
    return Map(fields, number)


def _pairs(text: str) -> list[str]:
    """The pairs of the flow mapping ``text``: split at each comma that is not inside a flow
    sequence value, i.e. that has no ``]`` after it before the next ``[``. In one pass: a
    lookahead from each comma would read the rest of the line for every comma."""
    # text, bracket, text, bracket, ..., text: the bracket after a text decides for its commas
    parts = _BRACKETS.split(text)
    pairs: list[str] = []
    current: list[str] = []
    for index in range(0, len(parts), 2):
        bracket = parts[index + 1] if index + 1 < len(parts) else ""
        if bracket == "]":
            current.append(parts[index])
        else:
            first, *rest = parts[index].split(",")
            current.append(first)
            for piece in rest:
                pairs.append("".join(current))
                current = [piece]
        current.append(bracket)
    pairs.append("".join(current))
    return pairs
