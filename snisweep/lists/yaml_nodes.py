"""The small YAML tree that both YAML readers build, one endpoint entry at a time. Pure: no I/O.

``yaml_list`` builds it from libyaml's events (all of YAML), ``yaml_lines`` from the lines of
the plain subset that machine-written lists use. What a node means for an
endpoint is decided once, in ``yaml_list``, whichever reader built it; so the scalars' types are
decided once too, here, as PyYAML's safe loader decides them (without constructing anything that
is not a plain value: ``!!python/...`` tags are refused, never run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from snisweep.lists.rules import show

__all__ = [
    "MERGE",
    "STR_TAG",
    "Invalid",
    "Map",
    "MergeKey",
    "Node",
    "Scalar",
    "Seq",
    "UnsupportedTag",
    "construct",
    "describe",
    "plain_scalar",
    "resolve_plain",
    "short_tag",
]


@dataclass(slots=True)
class Scalar:
    value: object  # the safe loader's value: str, int, float, bool, None, ...
    text: str  # as written, for messages and for labels written as numbers
    line: int
    # (key, what the value means for it) once checked without a problem: a node shared by many
    # entries (an alias; a repeated line for the line reader) is checked once
    checked: tuple[str, object] | None = None


@dataclass(slots=True)
class Seq:
    items: list[Node]
    line: int
    checked: tuple[str, object] | None = None  # as for Scalar


@dataclass(slots=True)
class Map:
    # key -> (line of the key, value); merge keys already applied
    fields: dict[str, tuple[int, Node]]
    line: int
    keys_ok: bool = True  # False when a key was not a string: 'missing host' would be noise
    checked: tuple[str, object] | None = None  # never set: a mapping is no value of a key


@dataclass(slots=True)
class Invalid:
    """A node whose problem has been reported already; every check skips it quietly."""

    line: int
    checked: tuple[str, object] | None = None  # never set


Node = Scalar | Seq | Map | Invalid


class MergeKey:
    """The YAML merge key ``<<``."""


MERGE: Final = MergeKey()


class UnsupportedTag(LookupError):
    """A scalar tag that is not one of the safe loader's plain types."""


_TAG_PREFIX: Final = "tag:yaml.org,2002:"
STR_TAG: Final = _TAG_PREFIX + "str"
_INT_TAG: Final = _TAG_PREFIX + "int"
_MERGE_TAG: Final = _TAG_PREFIX + "merge"
_VALUE_TAG: Final = _TAG_PREFIX + "value"  # a plain '=': nobody means PyYAML's 'value' type
# Only the scalar types of the safe loader; anything else (!!python/..., !!set on a scalar)
# is refused and never constructed.
_SCALAR_CONSTRUCTORS: Final[dict[str, Callable[[SafeConstructor, ScalarNode], Any]]] = {
    _TAG_PREFIX + name: SafeConstructor.yaml_constructors[_TAG_PREFIX + name]
    for name in ("null", "bool", "int", "float", "binary", "timestamp")
}
_CONSTRUCTOR: Final = SafeConstructor()
# The safe loader's implicit types, by first character, as its resolver looks them up.
_IMPLICIT: Final = {
    first: [*resolvers, *Resolver.yaml_implicit_resolvers.get(None, [])]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
    if first is not None
}


# The first characters of plain scalars that may be of another type than string.
_TYPED_FIRST: Final = frozenset(_IMPLICIT)


def resolve_plain(text: str) -> str:
    """The tag of a plain (unquoted, untagged) scalar, as the safe loader resolves it."""
    resolvers = _IMPLICIT.get(text[:1])
    if resolvers is None:
        return STR_TAG
    # Two shortcuts for host names and addresses: the only implicit types that start with a
    # letter are booleans and null (5 letters at most), and no number or date has two dots.
    if (len(text) > 5 and text[0].isalpha()) or text.count(".") > 1:
        return STR_TAG
    for tag, pattern in resolvers:
        if pattern.match(text):
            return str(tag)
    return STR_TAG


def construct(tag: str, text: str) -> object:
    """The value of a scalar of ``tag`` written as ``text``, as the safe loader makes it.

    Raises ``UnsupportedTag`` for a tag that is not a plain type, and ``ValueError`` when the
    text is no value of its type (``!!int abc``).
    """
    if tag in (STR_TAG, _VALUE_TAG):
        return text
    if tag == _INT_TAG and text.isascii() and text.isdigit() and text[:1] != "0":
        return int(text)  # the common decimal case, without the constructor's detour
    if tag == _MERGE_TAG:
        return MERGE
    constructor = _SCALAR_CONSTRUCTORS.get(tag)
    if constructor is None:
        raise UnsupportedTag(tag)
    try:
        return constructor(_CONSTRUCTOR, ScalarNode(tag, text))
    except Exception as exc:  # e.g. '!!int abc': whatever fails, the file is at fault
        raise ValueError(f"invalid {short_tag(tag)} value {show(text)}") from exc


def plain_scalar(text: str, line: int) -> Scalar:
    """The node of a plain scalar (neither quoted nor tagged): its type from its text.

    Raises ``ValueError`` for the few texts that match a type's pattern but are no value of
    it (``0x_``), as the safe loader does.
    """
    if text[:1] not in _TYPED_FIRST:
        return Scalar(text, text, line)
    if text.isdigit() and text.isascii() and text[0] != "0":
        return Scalar(int(text), text, line)
    tag = resolve_plain(text)
    if tag == STR_TAG:
        return Scalar(text, text, line)
    return Scalar(construct(tag, text), text, line)


def short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG_PREFIX) if tag.startswith(_TAG_PREFIX) else tag


def describe(node: Node) -> str:
    """What a node is, for a message: "a list", "an integer (443)", ..."""
    if isinstance(node, Seq):
        return "a list"
    if isinstance(node, Map):
        return "a mapping"
    if isinstance(node, Invalid):
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
        return f"a string ({show(node.text)})"
    if isinstance(value, bytes):
        return "binary data"
    if isinstance(value, date):
        return f"a date ({node.text})"
    return type(value).__name__  # pragma: no cover - the safe scalar types are all above
