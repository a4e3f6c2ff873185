"""Reading reports back: CSV and JSONL rows parsed into ``Record`` values again, the inverse of
``snisweep.report.writers`` (as h11 keeps ``_readers.py`` beside ``_writers.py``). Pure: takes
lines of bytes, yields rows or flaws; ``snisweep.report.merge`` does the file I/O.

Reading a CSV cell back is the inverse of ``writers.csv_cell``: ``""`` is ``None`` in a column
that may be empty, ``true``/``false`` are booleans, lists are split on ``;``, and the one
apostrophe that neutralised a formula-like text is removed, so that writing the record again
gives back the very same cell (and JSON gets the original text). Text that itself starts with
an apostrophe was written with a second one, so exactly one is always removed. The column types
come from ``Record``'s fields, so an appended column is read back as soon as it exists.
"""

from __future__ import annotations

import codecs
import csv
import functools
import itertools
import json
import re
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Final

from snisweep.core.certs import printable
from snisweep.core.record import COLUMNS, Record
from snisweep.errors import Problem, UsageError
from snisweep.report.writers import Format, csv_cell, format_by_name
from snisweep.run.shard import Shard, parse_shard

__all__ = ["Flaw", "Row", "detect_format", "parse_report", "shard_of", "show"]

# Columns whose presence says "this is a snisweep report", if of another version.
_SIGNATURE: Final = frozenset({"host", "port", "verdict", "reason"})
_WHOLE_NUMBER: Final = re.compile(r"-?[0-9]+")


@dataclass(frozen=True, slots=True)
class _Kind:
    """What a column holds, from the type of its ``Record`` field."""

    base: type
    optional: bool


def _kind_of(hint: object) -> _Kind:
    args = typing.get_args(hint)
    optional = type(None) in args
    base: object = hint
    if optional:
        (base,) = (arg for arg in args if arg is not type(None))
    if typing.get_origin(base) is tuple:
        base = tuple
    if base in (str, int, bool, tuple) or (isinstance(base, type) and issubclass(base, StrEnum)):
        return _Kind(typing.cast(type, base), optional)
    raise TypeError(f"merge cannot read back a column of type {hint}")


# Derived from ``Record`` rather than listed again, so that an appended column is read back as
# soon as it exists (and an unreadable type fails at import, in the tests).
_HINTS = typing.get_type_hints(Record)
_KINDS: Final = {column: _kind_of(_HINTS[column]) for column in COLUMNS}
_COLUMN_SET: Final = frozenset(COLUMNS)
if tuple(f.name for f in fields(Record)) != COLUMNS:
    raise TypeError("Record's fields are not COLUMNS: merge would read rows back wrongly")


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a report, read back, starting at ``line``."""

    line: int
    record: Record


@dataclass(frozen=True, slots=True)
class Flaw:
    """Why the row (or the whole file, when ``fatal``) at ``line`` cannot be merged."""

    line: int
    message: str
    fatal: bool = False


#: Problems of rows listed per report; the rest are counted in one more line.
ROWS_SHOWN_PER_REPORT: Final = 20


class Complaints:
    """The problems found in one report, for ``merge``, ``diff`` and ``--resume``: a fatal flaw
    always, row problems up to ``ROWS_SHOWN_PER_REPORT``, then a count of the rest (``close``)."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self._path = path
        self._problems = problems
        self._shown = self._hidden = 0

    def fatal(self, line: int | None, message: str) -> None:
        self._problems.append(Problem(self._path, line, message))

    def row(self, line: int, message: str) -> None:
        if self._shown < ROWS_SHOWN_PER_REPORT:
            self._problems.append(Problem(self._path, line, message))
            self._shown += 1
        else:
            self._hidden += 1

    def flaw(self, flaw: Flaw) -> None:
        if flaw.fatal:
            self.fatal(flaw.line, flaw.message)
        else:
            self.row(flaw.line, flaw.message)

    def close(self) -> None:
        if self._hidden:
            self.fatal(None, f"{self._hidden} more problem(s) in this report not shown")


def describe(record: Record) -> str:
    """How a message names the endpoint of a row: ``host:port (sni NAME) at ADDRESS``."""
    text = f"{record.host}:{record.port}"
    if record.sni and record.sni != record.host:
        text += f" (sni {record.sni})"
    if record.address and record.address != record.host:
        text += f" at {record.address}"
    return printable(text, 120)


def detect_format(path: str, start: bytes) -> Format:
    """A report's format: by its extension (the writers' table), else JSONL when it starts
    with ``{``."""
    by_name = format_by_name(path)
    if by_name is not None:
        return by_name
    return Format.JSONL if start.removeprefix(codecs.BOM_UTF8).startswith(b"{") else Format.CSV


def parse_report(
    lines: Iterable[bytes], fmt: Format, *, earlier: bool = False
) -> Iterator[Row | Flaw]:
    """The rows of a report given as its lines of bytes (a binary file), or the flaws of those
    that cannot be read back. After a fatal flaw nothing more is read.

    ``earlier``: a report of an earlier version is read too. Columns are only ever appended
    (the contract), so such a report has this version's first columns, at least the contract's
    own; the columns it lacks read as empty (for ``merge``, ``diff``, ``show``: last night's
    report from before an upgrade still compares). ``--resume`` appends this version's rows,
    so it reads only reports of this version."""
    source = _Lines(lines)
    if fmt is Format.XLSX:
        yield Flaw(1, _WORKBOOK, fatal=True)
    elif fmt is Format.CSV:
        yield from _parse_csv(source, earlier=earlier)
    else:
        yield from _parse_jsonl(source, earlier=earlier)


#: The contract's own columns: an earlier report has at least these, first.
_CONTRACT_WIDTH: Final = COLUMNS.index("scanned_at") + 1
# What a column an earlier report lacks reads as, in JSON: empty.
_ABSENT: Final[dict[str, list[str] | str | None]] = {
    column: [] if kind.base is tuple else "" if kind.base is str and not kind.optional else None
    for column, kind in _KINDS.items()
}


def _earlier_width(columns: Sequence[str]) -> int | None:
    """How many of this version's columns a report of an earlier version has, or None."""
    width = len(columns)
    if _CONTRACT_WIDTH <= width < len(COLUMNS) and tuple(columns) == COLUMNS[:width]:
        return width
    return None


class _NotText(Exception):
    pass


class _Lines:
    """Decodes a report's lines one by one, counting them and noting whether the last one read
    ended with a line end (a report cut short does not)."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self._lines = iter(lines)
        self.number = 0
        self.terminated = True

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        raw = next(self._lines)
        self.number += 1
        self.terminated = raw.endswith(b"\n")
        if self.number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)  # a spreadsheet may have saved it so
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _NotText from None


_TRUNCATED: Final = "the last line has no line end: the report was cut short"
_WORKBOOK: Final = (
    "a workbook (.xlsx): reports are read back from CSV or JSONL; scan to one of those too"
)
_NOT_TEXT: Final = "not UTF-8 text: not a snisweep report"


def _parse_csv(lines: _Lines, *, earlier: bool = False) -> Iterator[Row | Flaw]:
    try:
        first = next(lines, None)
    except _NotText:
        yield Flaw(1, _NOT_TEXT, fatal=True)
        return
    # --excel-csv writes ';' between cells where the locale's decimal separator is ','.
    delimiter = ";" if first is not None and first.startswith("host;") else ","
    head = [first] if first is not None else []
    reader = csv.reader(itertools.chain(head, lines), delimiter=delimiter, strict=True)
    start = 1
    try:
        for cells in reader:
            if not lines.terminated:
                yield Flaw(start, _TRUNCATED, fatal=True)
                return
            if start == 1:
                width = _earlier_width(cells) if earlier else None
                flaw = _check_header(cells) if width is None else None
                if flaw is not None:
                    yield Flaw(1, flaw, fatal=True)
                    return
                padding = [""] * (len(COLUMNS) - width) if width is not None else []
            elif padding:  # a report of an earlier version: its own width, then empty
                if len(cells) != width:
                    yield Flaw(start, f"malformed row: {len(cells)} cells instead of {width}")
                else:
                    yield _row_from_csv(start, [*cells, *padding])
            else:
                yield _row_from_csv(start, cells)
            start = lines.number + 1
    except _NotText:
        yield Flaw(lines.number, _NOT_TEXT, fatal=True)
        return
    except csv.Error as exc:
        message = _TRUNCATED if not lines.terminated else f"not readable as CSV: {exc}"
        yield Flaw(start, message, fatal=True)
        return
    if start == 1:
        yield Flaw(1, "empty file: not a snisweep report (it has no CSV header)", fatal=True)


def _check_header(cells: Sequence[str]) -> str | None:
    if tuple(cells) == COLUMNS:
        return None
    if not set(cells) >= _SIGNATURE:
        return "not a snisweep report: the first line is not the report's CSV header"
    return "a report of another snisweep version: " + _compare_columns(cells)


def _compare_columns(found: Iterable[str]) -> str:
    found = list(found)
    missing = [column for column in COLUMNS if column not in found]
    unexpected = [column for column in found if column not in COLUMNS]
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if unexpected:
        parts.append("unexpected " + ", ".join(show(column, 40) for column in unexpected))
    if not parts:
        return "the same columns, in another order"
    return "its columns differ from this version's: " + "; ".join(parts)


def _row_from_csv(line: int, cells: Sequence[str]) -> Row | Flaw:
    if not cells:
        return Flaw(line, "an empty line: a snisweep report has none")
    if len(cells) != len(COLUMNS):
        return Flaw(line, f"malformed row: {len(cells)} cells instead of {len(COLUMNS)}")
    values: dict[str, Any] = {}
    errors: list[str] = []
    for (column, read), text in zip(_CSV_READERS, cells, strict=True):
        try:
            values[column] = read(text)
        except ValueError as exc:
            errors.append(f"{column}: {exc}")
    return _row(line, values, errors)


def _csv_reader(kind: _Kind) -> Callable[[str], Any]:
    """How to read a cell of this kind back: the inverse of ``record.csv_cell``."""
    read: Callable[[str], Any]
    if kind.base is bool:
        read = _csv_bool
    elif kind.base is int:
        read = _csv_int
    elif kind.base is tuple:
        read = _csv_list
    elif kind.base is str:
        read = _unneutralise
    else:
        read = functools.partial(_member, _members(kind.base))
    if kind.optional:
        return lambda text: None if text == "" else read(text)
    return read


def _csv_bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"not true or false: {show(text)}")
    return text == "true"


def _csv_int(text: str) -> int:
    if not _WHOLE_NUMBER.fullmatch(text):
        raise ValueError(f"not a whole number: {show(text)}")
    return int(text)


def _csv_list(text: str) -> tuple[str, ...]:
    text = _unneutralise(text)
    return tuple(text.split(";")) if text else ()


def _unneutralise(cell: str) -> str:
    # The apostrophe was added exactly when writing the text without it gives this cell back.
    if cell.startswith("'") and csv_cell(cell[1:]) == cell:
        return cell[1:]
    return cell


def _members(enum: type) -> dict[str, Any]:
    return {member.value: member for member in typing.cast(Iterable[StrEnum], enum)}


def _member(members: dict[str, Any], value: object) -> Any:
    if isinstance(value, str) and value in members:
        return members[value]
    raise ValueError(f"not a known value: {show(value)}")


def _parse_jsonl(lines: _Lines, *, earlier: bool = False) -> Iterator[Row | Flaw]:
    try:
        for text in lines:
            if not lines.terminated:
                yield Flaw(lines.number, _TRUNCATED, fatal=True)
                return
            if lines.number == 1:
                flaw = _check_first_object(text, earlier=earlier)
                if flaw is not None:
                    yield Flaw(1, flaw, fatal=True)
                    return
            yield _row_from_json(lines.number, text, earlier=earlier)
    except _NotText:
        yield Flaw(lines.number, _NOT_TEXT, fatal=True)


def _check_first_object(text: str, *, earlier: bool = False) -> str | None:
    """Whether a JSONL file's first line says it is a report of this version (its later lines
    then get messages about themselves)."""
    try:
        obj = _load_json(text)
    except ValueError:
        obj = None
    if not (isinstance(obj, dict) and obj.keys() >= _SIGNATURE):
        return "not a snisweep report: the first line is not a JSON object with the report's keys"
    if obj.keys() != _COLUMN_SET and not (earlier and _earlier_width(list(obj)) is not None):
        return "a report of another snisweep version: " + _compare_columns(obj)
    return None


def _load_json(text: str) -> object:
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("a key appears twice")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _row_from_json(line: int, text: str, *, earlier: bool = False) -> Row | Flaw:
    try:
        obj = _load_json(text)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        return Flaw(line, f"malformed row: not JSON: {exc}")
    if not isinstance(obj, dict):
        return Flaw(line, "malformed row: not a JSON object")
    if obj.keys() != _COLUMN_SET:
        width = _earlier_width(list(obj)) if earlier else None
        if width is None:
            return Flaw(line, "malformed row: " + _compare_columns(obj))
        obj.update((column, _ABSENT[column]) for column in COLUMNS[width:])
    values: dict[str, Any] = {}
    errors: list[str] = []
    for column, read in _JSON_READERS:
        try:
            values[column] = read(obj[column])
        except ValueError as exc:
            errors.append(f"{column}: {exc}")
    return _row(line, values, errors)


def _json_reader(kind: _Kind) -> Callable[[object], Any]:
    """How to read a JSON value of this kind back: the inverse of ``record.json_value``."""
    read: Callable[[object], Any]
    base = kind.base
    if base in (str, int, bool):
        wanted = {str: "text", int: "a whole number", bool: "true or false"}[base]
        wanted += " or null" if kind.optional else ""

        def read(value: object) -> Any:
            # ``type() is``, not ``isinstance``: in Python, true is also the number 1.
            if type(value) is base:
                if base is str and not _is_utf8(value):
                    raise ValueError("text with a lone surrogate (\\ud800-\\udfff escape)")
                return value
            raise ValueError(f"not {wanted}: {show(value)}")

    elif base is tuple:
        read = _json_list
    else:
        read = functools.partial(_member, _members(base))
    if kind.optional:
        return lambda value: None if value is None else read(value)
    return read


def _is_utf8(value: object) -> bool:
    # JSON may escape a lone surrogate ("\ud800"), which no UTF-8 text (no CSV, no row that a
    # scan writes) can hold: such a cell is a flaw of its row, not a crash later.
    try:
        str(value).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_list(value: object) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        if not all(map(_is_utf8, value)):
            raise ValueError("text with a lone surrogate (\\ud800-\\udfff escape)")
        return tuple(value)
    raise ValueError(f"not a list of texts: {show(value)}")


# One reader per column, in ``COLUMNS`` order, chosen once rather than per cell.
_CSV_READERS: Final = tuple((column, _csv_reader(_KINDS[column])) for column in COLUMNS)
_JSON_READERS: Final = tuple((column, _json_reader(_KINDS[column])) for column in COLUMNS)


def _row(line: int, values: dict[str, Any], errors: list[str]) -> Row | Flaw:
    if not errors:
        errors = _check_values(values)
    if errors:
        return Flaw(line, "malformed row: " + "; ".join(errors))
    return Row(line, Record(**values))


def _check_values(values: dict[str, Any]) -> list[str]:
    errors = []
    if not 1 <= values["port"] <= 65535:
        errors.append(f"port: out of range 1..65535: {values['port']}")
    shard = values["shard"]
    if shard is not None and shard_of(shard) is None:
        errors.append(f"shard: not I/N with 1 <= I <= N: {show(shard)}")
    return errors


def shard_of(text: str | None) -> Shard | None:
    """The shard a row's ``shard`` cell names, or None when it names none: ``--shard``'s parser
    (``snisweep.run.shard``), in the one spelling a scan writes (``2/3``, not ``02/3``)."""
    if not text:
        return None
    try:
        shard = parse_shard(text)
    except UsageError:
        return None
    return shard if str(shard) == text else None


def show(value: object, limit: int = 60) -> str:
    """A value from a report, quoted for a message, cut so that it cannot flood the terminal."""
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[: limit - 3] + "...")
    text = json.dumps(value)  # a value from a JSONL report, shown as JSON
    return text if len(text) <= limit else text[: limit - 3] + "..."
