"""Merging reports: the shard reports of one scan (or reports of disjoint lists) into one report.
Reads the reports and writes the merged one (file I/O, through ``report.ReportWriter``); reading
a report's rows back (``parse_report``) and the checks are pure.

Theory of operation. A merge makes two passes over its inputs, so that it never holds the rows
(100k-row shard reports are normal):

1. *Check.* Every row of every report is parsed back into a ``Record`` and thrown away; what is
   kept is small: a 128-bit digest of each row's endpoint (host, port, sni, address) with the
   file and line it came from, and per report the shards it holds. Every problem found is
   collected and raised together as one ``ConfigError``; nothing has been written yet, so the
   output is neither created nor truncated.
2. *Write.* The reports are read again and their records written with the same encoders and
   ``ReportWriter`` as a scan. A report that changed in between is a runtime failure.

Reading a CSV cell back is the inverse of ``record.csv_cell``: ``""`` is ``None`` in a column
that may be empty, ``true``/``false`` are booleans, lists are split on ``;``, and the one
apostrophe that neutralised a formula-like text is removed, so that writing the record again
gives back the very same cell (and JSON gets the original text). Text that itself starts with
an apostrophe was written with a second one, so exactly one is always removed.

Refused (``FILE:LINE: message`` for each): a file that is not a snisweep report, one from a
version with other columns, malformed rows, a last line without its line end (a truncated
report), the same file twice, the same endpoint in two reports, and shards that do not fit
together: different shard counts, sharded rows with unsharded ones, one shard in two reports,
and shards missing from 1..N (unless ``allow_missing``).
"""

from __future__ import annotations

import codecs
import csv
import functools
import hashlib
import json
import os
import re
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Final

import anyio

from snisweep.certs import printable
from snisweep.errors import ConfigError, Problem, SnisweepError, UsageError
from snisweep.record import COLUMNS, Record, csv_cell
from snisweep.report import Format, ReportWriter, format_for

#: Problems about single rows shown per report; a report that is wrong throughout would
#: otherwise print one line per row. The rest are counted.
ROWS_SHOWN_PER_REPORT: Final = 20

_BATCH: Final = 1000
_READ_AS_JSONL: Final = (".jsonl", ".ndjson")
_READ_AS_CSV: Final = (".csv",)
# Columns whose presence says "this is a snisweep report", if of another version.
_SIGNATURE: Final = frozenset({"host", "port", "verdict", "reason"})
_WHOLE_NUMBER: Final = re.compile(r"-?[0-9]+")
_SHARD: Final = re.compile(r"([1-9][0-9]*)/([1-9][0-9]*)")
_Shard = tuple[int, int]  # (I, N): shard I of N


# --- reading rows back ------------------------------------------------------------------------


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


def detect_format(path: str, start: bytes) -> Format:
    """A report's format: by its extension, else JSONL when it starts with ``{``."""
    name = path.lower()
    if name.endswith(_READ_AS_JSONL):
        return Format.JSONL
    if name.endswith(_READ_AS_CSV):
        return Format.CSV
    return Format.JSONL if start.removeprefix(codecs.BOM_UTF8).startswith(b"{") else Format.CSV


def parse_report(lines: Iterable[bytes], fmt: Format) -> Iterator[Row | Flaw]:
    """The rows of a report given as its lines of bytes (a binary file), or the flaws of those
    that cannot be read back. After a fatal flaw nothing more is read."""
    source = _Lines(lines)
    if fmt is Format.CSV:
        yield from _parse_csv(source)
    else:
        yield from _parse_jsonl(source)


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
_NOT_TEXT: Final = "not UTF-8 text: not a snisweep report"


def _parse_csv(lines: _Lines) -> Iterator[Row | Flaw]:
    reader = csv.reader(lines, strict=True)
    start = 1
    try:
        for cells in reader:
            if not lines.terminated:
                yield Flaw(start, _TRUNCATED, fatal=True)
                return
            if start == 1:
                flaw = _check_header(cells)
                if flaw is not None:
                    yield Flaw(1, flaw, fatal=True)
                    return
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
        parts.append("unexpected " + ", ".join(_show(column, 40) for column in unexpected))
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
        raise ValueError(f"not true or false: {_show(text)}")
    return text == "true"


def _csv_int(text: str) -> int:
    if not _WHOLE_NUMBER.fullmatch(text):
        raise ValueError(f"not a whole number: {_show(text)}")
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
    raise ValueError(f"not a known value: {_show(value)}")


def _parse_jsonl(lines: _Lines) -> Iterator[Row | Flaw]:
    try:
        for text in lines:
            if not lines.terminated:
                yield Flaw(lines.number, _TRUNCATED, fatal=True)
                return
            if lines.number == 1:
                flaw = _check_first_object(text)
                if flaw is not None:
                    yield Flaw(1, flaw, fatal=True)
                    return
            yield _row_from_json(lines.number, text)
    except _NotText:
        yield Flaw(lines.number, _NOT_TEXT, fatal=True)


def _check_first_object(text: str) -> str | None:
    """Whether a JSONL file's first line says it is a report of this version (its later lines
    then get messages about themselves)."""
    try:
        obj = _load_json(text)
    except ValueError:
        obj = None
    if not (isinstance(obj, dict) and obj.keys() >= _SIGNATURE):
        return "not a snisweep report: the first line is not a JSON object with the report's keys"
    if obj.keys() != _COLUMN_SET:
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


def _row_from_json(line: int, text: str) -> Row | Flaw:
    try:
        obj = _load_json(text)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        return Flaw(line, f"malformed row: not JSON: {exc}")
    if not isinstance(obj, dict):
        return Flaw(line, "malformed row: not a JSON object")
    if obj.keys() != _COLUMN_SET:
        return Flaw(line, "malformed row: " + _compare_columns(obj))
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
                return value
            raise ValueError(f"not {wanted}: {_show(value)}")

    elif base is tuple:
        read = _json_list
    else:
        read = functools.partial(_member, _members(base))
    if kind.optional:
        return lambda value: None if value is None else read(value)
    return read


def _json_list(value: object) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ValueError(f"not a list of texts: {_show(value)}")


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
    if shard is not None and _shard_of(shard) is None:
        errors.append(f"shard: not I/N with 1 <= I <= N: {_show(shard)}")
    return errors


def _shard_of(text: str | None) -> _Shard | None:
    match = _SHARD.fullmatch(text or "")
    if match is None:
        return None
    number, count = int(match[1]), int(match[2])
    return (number, count) if number <= count else None


def _show(value: object, limit: int = 60) -> str:
    """A value from a report, quoted for a message, cut so that it cannot flood the terminal."""
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[: limit - 3] + "...")
    text = json.dumps(value)  # a value from a JSONL report, shown as JSON
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- checking the reports ---------------------------------------------------------------------


@dataclass(slots=True)
class _Report:
    """What the first pass keeps of one report: small, whatever the number of rows."""

    path: str
    fmt: Format
    stamp: tuple[int, int]  # size and modification time: the report must not change
    rows: int = 0
    shards: dict[_Shard, int] = field(default_factory=dict)  # shard -> first line
    unsharded: int | None = None  # first line of a row without a shard


@dataclass(slots=True)
class _Survey:
    """What the first pass learns about all reports."""

    reports: list[_Report] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # endpoint digest -> (index of its report in ``reports``) << 32 | line; an int, not a tuple,
    # because a million rows are a million entries.
    endpoints: dict[bytes, int] = field(default_factory=dict)


def _endpoint_key(record: Record) -> bytes:
    key = json.dumps([record.host, record.port, record.sni or "", record.address or ""])
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


def _describe(record: Record) -> str:
    text = f"{record.host}:{record.port}"
    if record.sni and record.sni != record.host:
        text += f" (sni {record.sni})"
    if record.address and record.address != record.host:
        text += f" at {record.address}"
    return printable(text, 120)


def _survey(paths: Sequence[str]) -> _Survey:
    survey = _Survey()
    seen: dict[tuple[int, int], str] = {}
    for path in paths:
        try:
            file = open(path, "rb")  # noqa: SIM115 - closed by the with below, after the checks
        except OSError as exc:
            survey.problems.append(Problem(path, None, f"cannot read: {exc.strerror or exc}"))
            continue
        with file:
            status = os.fstat(file.fileno())
            identity = (status.st_dev, status.st_ino)
            if identity in seen:
                survey.problems.append(
                    Problem(path, None, f"the same file as {seen[identity]}, given twice")
                )
                continue
            seen[identity] = path
            fmt = detect_format(path, file.peek(4)[:4])
            report = _Report(path, fmt, (status.st_size, status.st_mtime_ns))
            _survey_report(survey, report, parse_report(file, fmt))
            survey.reports.append(report)
    return survey


def _survey_report(survey: _Survey, report: _Report, entries: Iterable[Row | Flaw]) -> None:
    index = len(survey.reports)
    shown = hidden = 0

    def complain(line: int, message: str) -> None:
        nonlocal shown, hidden
        if shown < ROWS_SHOWN_PER_REPORT:
            survey.problems.append(Problem(report.path, line, message))
            shown += 1
        else:
            hidden += 1

    for entry in entries:
        match entry:
            case Flaw(line=line, message=message, fatal=True):
                survey.problems.append(Problem(report.path, line, message))
            case Flaw(line=line, message=message):
                complain(line, message)
            case Row(line=line, record=record):
                report.rows += 1
                shard = _shard_of(record.shard)
                if shard is None:
                    if report.unsharded is None:
                        report.unsharded = line
                else:
                    report.shards.setdefault(shard, line)
                place = survey.endpoints.setdefault(_endpoint_key(record), index << 32 | line)
                # The same endpoint twice in one report is the scanner's business (two list
                # entries may meet at one address); across reports it is an overlap.
                if place >> 32 != index:
                    other = survey.reports[place >> 32].path
                    complain(
                        line,
                        f"{_describe(record)} is also in {other}:{place & 0xFFFFFFFF}: "
                        "the reports overlap",
                    )
    if hidden:
        survey.problems.append(
            Problem(report.path, None, f"{hidden} more problem(s) in this report not shown")
        )


@dataclass(frozen=True, slots=True)
class _Coverage:
    """The shards a merge holds: ``count`` 0 when the reports are not sharded."""

    present: tuple[int, ...] = ()
    missing: tuple[int, ...] = ()
    count: int = 0

    def __str__(self) -> str:
        if not self.count:
            return ""
        text = f"shards {_ranges(self.present)} of {self.count}"
        return text + (f"; missing {_ranges(self.missing)}" if self.missing else "")


def _check_shards(
    reports: Sequence[_Report], *, allow_missing: bool
) -> tuple[_Coverage, list[Problem]]:
    """Whether the reports' shards fit together: the shards of one scan, each in one report, all
    of them (unless ``allow_missing``), and no unsharded rows among them. The first row of the
    first report with rows sets what the others must match."""
    problems: list[Problem] = []
    reference = next(filter(None, (_first_row(report) for report in reports)), None)
    if reference is None:
        return _Coverage(), problems
    first_line, first_shard = reference
    first = next(report for report in reports if report.rows)
    where = f"{first.path}:{first_line}"
    if first_shard is None:
        for report in reports:
            if report.shards:
                shard, line = min(report.shards.items(), key=lambda item: item[1])
                problems.append(
                    Problem(
                        report.path,
                        line,
                        f"a row of shard {_spell(shard)}, but {where} is unsharded: sharded and "
                        "unsharded reports cannot be merged",
                    )
                )
        return _Coverage(), problems

    count = first_shard[1]
    owners: dict[_Shard, str] = {}
    for report in reports:
        if report.unsharded is not None:
            problems.append(
                Problem(
                    report.path,
                    report.unsharded,
                    f"an unsharded row (empty shard), but {where} is shard {_spell(first_shard)}"
                    ": sharded and unsharded reports cannot be merged",
                )
            )
        other_counts: dict[int, tuple[int, _Shard]] = {}
        for shard, line in sorted(report.shards.items(), key=lambda item: item[1]):
            if shard[1] != count:
                other_counts.setdefault(shard[1], (line, shard))
            elif shard in owners:
                problems.append(
                    Problem(
                        report.path,
                        line,
                        f"shard {_spell(shard)} is also in {owners[shard]}: each shard must "
                        "come from one report",
                    )
                )
            else:
                owners[shard] = f"{report.path}:{line}"
        problems.extend(
            Problem(
                report.path,
                line,
                f"shard {_spell(shard)}, but {where} is shard {_spell(first_shard)}: "
                "shards of scans with different shard counts cannot be merged",
            )
            for line, shard in other_counts.values()
        )
    present = tuple(sorted(number for number, _ in owners))
    missing = tuple(sorted(set(range(1, count + 1)) - set(present)))
    if missing and not allow_missing:
        empty = sum(1 for report in reports if not report.rows)
        # A shard can be empty (shards are cut by a hash), and a report without rows has no
        # shard column to show: the user has to say that the missing ones are those.
        why = f" ({empty} report(s) have no rows, so their shard is unknown)" if empty else ""
        problems.append(
            Problem(
                first.path,
                first_line,
                f"shard {_spell(first_shard)}, but shard(s) {_ranges(missing)} of {count} are in "
                f"none of the reports{why}; give every shard's report, or merge anyway with "
                "--allow-missing",
            )
        )
    return _Coverage(present, missing, count), problems


def _first_row(report: _Report) -> tuple[int, _Shard | None] | None:
    """The line and shard of a report's first row, or None when it has no rows."""
    places: list[tuple[int, _Shard | None]] = [(ln, shard) for shard, ln in report.shards.items()]
    if report.unsharded is not None:
        places.append((report.unsharded, None))
    return min(places, key=lambda place: place[0]) if places else None


def _spell(shard: _Shard) -> str:
    return f"{shard[0]}/{shard[1]}"


def _ranges(numbers: Sequence[int]) -> str:
    """``1-3, 5`` for 1, 2, 3, 5."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


# --- the merge --------------------------------------------------------------------------------


def merge(
    reports: Sequence[str], output: str, fmt: Format | None, *, allow_missing: bool = False
) -> str:
    """Combine ``reports`` into ``output`` (a path, or ``-`` for standard output) and return a
    one-line summary. Raises ``ConfigError`` with every problem found before writing anything,
    ``UsageError`` when ``output`` is one of the reports."""
    if "-" in reports:
        raise UsageError(
            "merge reads each report twice, so it cannot read standard input: save it to a file"
        )
    _refuse_output_over_a_report(output, reports)
    survey = _survey(reports)
    coverage, shard_problems = _check_shards(survey.reports, allow_missing=allow_missing)
    problems = survey.problems + shard_problems
    if problems:
        raise ConfigError(problems)
    survey.endpoints.clear()  # not needed for writing: a large merge gives the memory back
    writer = ReportWriter(output, format_for(output, fmt))
    anyio.run(_write, writer, _batches(survey.reports, writer.name))
    rows = sum(report.rows for report in survey.reports)
    shards = f" ({coverage})" if coverage.count else ""
    return f"merged {len(reports)} report(s), {rows} row(s){shards} into {writer.name}"


def _refuse_output_over_a_report(output: str, reports: Sequence[str]) -> None:
    if output == "-" or not os.path.exists(output):
        return
    for path in reports:
        try:
            same = os.path.samefile(path, output)
        except OSError:
            continue  # a report that cannot be read is a problem the survey names
        if same:
            raise UsageError(f"-o {output} is one of the reports to merge; choose another file")


def _batches(reports: Sequence[_Report], output: str) -> Iterator[list[Record]]:
    """The records of the checked reports, read again, in batches."""
    for report in reports:
        with open(report.path, "rb") as file:
            status = os.fstat(file.fileno())
            if (status.st_size, status.st_mtime_ns) != report.stamp:
                raise _changed(report.path, output)
            batch: list[Record] = []
            rows = 0
            for entry in parse_report(file, report.fmt):
                if isinstance(entry, Flaw):
                    raise _changed(f"{report.path}:{entry.line}", output)
                batch.append(entry.record)
                rows += 1
                if len(batch) >= _BATCH:
                    yield batch
                    batch = []
            if rows != report.rows:
                raise _changed(report.path, output)
            if batch:
                yield batch


def _changed(where: str, output: str) -> SnisweepError:
    return SnisweepError(
        f"{where} changed during the merge; {output} holds only the rows written before that"
    )


async def _write(writer: ReportWriter, batches: Iterable[Sequence[Record]]) -> None:
    await writer.open()
    try:
        for batch in batches:
            await writer.write(batch)
    finally:
        await writer.close()
