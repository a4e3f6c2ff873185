"""Report writers: CSV and JSONL, streamed row by row as endpoints finish. Does file I/O (aiofiles).
Workbooks (``.xlsx``) are ``snisweep.report.xlsx``'s; ``writer_for`` picks the writer of a format.

Rows are written and flushed as they arrive. To avoid one thread hop per row, the rows that are
already waiting are written together in one call; a batch is only ever whole rows, and a write is
shielded from cancellation so that an interrupted scan leaves a file of complete rows. A batch
that does not fit (a full disk, a file size limit) is cut back and written again row by row, so
that the report keeps every row that fits, and never half a row.

CSV is plain RFC 4180 with commas unless asked for a spreadsheet (``excel``): then it starts with a
UTF-8 byte order mark (without one, Excel reads UTF-8 as the legacy code page) and its cells are
separated by the list separator that Excel expects where the user is (``excel_delimiter``).

This module also holds the rules every report path follows, whoever writes or reads it: the one
table of file name suffixes and formats (``SUFFIXES``; ``snisweep.report.readers`` reads by it
too), the format a path is written in (``format_for``: its suffix, or ``--format``; any other
suffix is refused rather than guessed), and the refusal of a report path that is one of the
command's inputs (``refuse_overwriting``).

A report can also be gone on with (``--resume``, see ``snisweep.report.resume``): given an
``Appending``, the writer opens the existing file, cuts it back to its whole rows (a last row
cut short is dropped), and appends rows after them, with no second header (nor byte order
mark), in the cell separator the file was written with, as durably as a fresh report.
"""

from __future__ import annotations

import csv
import io
import json
import locale
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol

import aiofiles
import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from snisweep.core.record import COLUMNS, Cell, Record
from snisweep.errors import OutputError, UsageError, os_error_text
from snisweep.model import Verdict
from snisweep.report.xlsx import WorkbookWriter

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection). The
# apostrophe is the marker itself: text that starts with one gets a second, so that reading a
# cell back (``snisweep merge``) can always drop exactly one, and a spreadsheet shows the text.
_NEUTRALISED_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "'")


def csv_cell(value: Cell) -> str:
    """The text of one CSV cell. Text that a spreadsheet would run as a formula is neutralised
    with a leading apostrophe; our own numbers are written as numbers."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, tuple):
        text = ";".join(value)
    elif isinstance(value, bool):
        return "true" if value else "false"
    else:
        return str(value)
    if text.startswith(_NEUTRALISED_STARTS):
        return "'" + text
    return text


def json_value(value: Cell) -> str | int | bool | list[str] | None:
    """The JSON value of one cell: lists for tuples, ``null`` for empty."""
    if isinstance(value, tuple):
        return list(value)
    return value


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    XLSX = "xlsx"


#: The report formats by file name suffix (in any case), for writing and for reading back.
SUFFIXES: Final = {
    ".csv": Format.CSV,
    ".jsonl": Format.JSONL,
    ".ndjson": Format.JSONL,
    ".xlsx": Format.XLSX,
}


def format_by_name(path: str) -> Format | None:
    """The format that ``path``'s suffix names, or None."""
    return SUFFIXES.get(os.path.splitext(path)[1].lower())


def format_for(path: str, requested: Format | None) -> Format:
    """The format to write ``path`` in: ``requested`` if given, else the one its suffix names;
    CSV for standard output (``-``) and a name without a suffix. Raises ``UsageError`` for any
    other suffix (``report.json`` is a typo or a wish, and CSV under that name would be neither),
    and for a workbook on standard output (a workbook is not a stream)."""
    fmt = requested or format_by_name(path)
    suffix = os.path.splitext(path)[1]
    if fmt is None and suffix:
        raise UsageError(
            f"-o {path}: {suffix} is not a report format; name the file "
            f"{_one_of(list(SUFFIXES))}, or give --format ({_one_of(list(Format))})"
        )
    if fmt is Format.XLSX and path == "-":
        raise UsageError(
            "a workbook cannot be written to standard output: give -o FILE.xlsx, "
            "or another --format"
        )
    return fmt or Format.CSV


def _one_of(choices: Sequence[str]) -> str:
    return ", ".join(choices[:-1]) + " or " + choices[-1]


def excel_delimiter(decimal_point: str | None = None) -> str:
    """The cell separator Excel expects in a CSV file where the user is: ``;`` where the decimal
    separator is a comma (as in de_DE, fr_FR), else ``,``; Excel's list separator follows that
    rule unless changed by hand. ``decimal_point`` is the locale's (by default, from the
    environment's LC_ALL, LC_NUMERIC or LANG)."""
    if decimal_point is None:
        decimal_point = _decimal_point()
    return ";" if decimal_point == "," else ","


def _decimal_point() -> str:
    # Python leaves LC_NUMERIC at "C" whatever the environment says (so that float formatting
    # never changes under us): the user's locale is taken up for a moment, and put back. Called
    # before a scan starts its threads, so no other thread sees the moment.
    saved = locale.setlocale(locale.LC_NUMERIC)
    try:
        locale.setlocale(locale.LC_NUMERIC, "")
    except locale.Error:  # a locale the system does not have
        return "."
    try:
        return locale.localeconv()["decimal_point"]
    finally:
        locale.setlocale(locale.LC_NUMERIC, saved)


def refuse_overwriting(output: str, inputs: Iterable[str], what: str) -> None:
    """Raise ``UsageError`` when the report path ``output`` is one of ``inputs`` (the same file,
    however spelt), which writing the report would destroy; ``what`` names them in the message
    (``the endpoint lists``). An input that cannot be examined is left to whoever reads it."""
    if output == "-" or not os.path.exists(output):
        return
    for path in inputs:
        if path == "-":
            continue
        try:
            same = os.path.samefile(path, output)
        except OSError:
            continue
        if same:
            raise UsageError(f"-o {output} is one of {what}; choose another file")


class Encoder(Protocol):
    def header(self) -> str: ...
    def rows(self, records: Sequence[Record]) -> str: ...


class CSVEncoder:
    """RFC 4180 CSV with the contract's header; formula-like cells neutralised. ``delimiter``
    and ``bom`` are for a spreadsheet (``excel_delimiter``); lists are joined with ``;`` either
    way (the cell is quoted when that is also the delimiter)."""

    def __init__(self, delimiter: str = ",", *, bom: bool = False) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, delimiter=delimiter, lineterminator="\r\n")
        self._bom = "\ufeff" if bom else ""

    def header(self) -> str:
        return self._bom + self._encode([COLUMNS])

    def rows(self, records: Sequence[Record]) -> str:
        return self._encode([[csv_cell(cell) for cell in record.cells()] for record in records])

    def _encode(self, rows: Sequence[Sequence[str]]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerows(rows)
        return self._buffer.getvalue()


class JSONLEncoder:
    """One JSON object per line, with the contract's columns as keys."""

    def header(self) -> str:
        return ""

    def rows(self, records: Sequence[Record]) -> str:
        return "".join(
            json.dumps(
                {c: json_value(v) for c, v in zip(COLUMNS, record.cells(), strict=True)},
                ensure_ascii=False,
            )
            + "\n"
            for record in records
        )


def encoder_for(fmt: Format, *, excel: bool = False) -> Encoder:
    """The encoder of a text format; ``excel``: CSV for a spreadsheet where the user is."""
    if fmt is Format.CSV:
        return CSVEncoder(excel_delimiter(), bom=True) if excel else CSVEncoder()
    if fmt is Format.JSONL:
        return JSONLEncoder()
    raise ValueError(f"{fmt} is not a text format")


@dataclass
class Tally:
    """What the summary line reports."""

    verdicts: Counter[Verdict] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.verdicts.values())

    def add(self, records: Sequence[Record]) -> None:
        self.verdicts.update(record.verdict for record in records)


class RecordSink(Protocol):
    """Where a scan's records go: a ``ReportSink``, or a worker's channel to its parent."""

    async def open(self) -> None: ...
    async def write(self, records: Sequence[Record]) -> None: ...
    async def close(self) -> None: ...


class ReportSink(RecordSink, Protocol):
    """A report the user asked for: a ``ReportWriter`` or a ``WorkbookWriter``. Once closed,
    it holds every row written (or, after an ``OutputError``, what that error says)."""

    @property
    def name(self) -> str:
        """How messages call it: its path, or ``standard output``."""
        ...


@dataclass(frozen=True, slots=True)
class Appending:
    """Where and how rows are appended to an existing report (``--resume``): its whole rows
    end at byte ``at`` (whatever follows, a last row cut short, is cut off); ``size`` is how
    long the file was when it was read, so that a file changed since is not written over;
    ``delimiter`` is the CSV cell separator of the rows kept (None: no CSV header was kept, so
    the writer's own). ``at`` 0 is a report started afresh: its header is written."""

    at: int
    size: int
    delimiter: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.at <= self.size:
            raise ValueError(f"appending at {self.at} of a file of {self.size} bytes")


def writer_for(
    path: str, fmt: Format, *, excel: bool = False, appending: Appending | None = None
) -> ReportSink:
    """The writer of a report in ``fmt`` at ``path`` (``-``: standard output, not for a
    workbook). ``excel``: CSV for a spreadsheet (a byte order mark, the user's list separator).
    ``appending``: go on with the report already at ``path`` (``ReportWriter``). Raises
    ``UsageError`` when ``excel`` is asked for another format, when writing a workbook needs
    XlsxWriter and it is not installed, and for appending to a workbook or standard output."""
    if excel and fmt is not Format.CSV:
        raise UsageError(f"-o {path} is written as {fmt}: CSV for Excel applies to CSV only")
    if appending is not None and fmt is Format.XLSX:
        raise UsageError(f"-o {path}: a workbook cannot be appended to; resume into CSV or JSONL")
    if fmt is Format.XLSX:
        return WorkbookWriter(path)
    return ReportWriter(path, fmt, excel=excel, appending=appending)


class ReportWriter:
    """Writes records as CSV or JSONL to a path, or to standard output for ``-``, always in
    UTF-8; ``excel``: CSV for a spreadsheet (``encoder_for``).

    A file is written unbuffered, so that one batch is one ``write`` (one thread hop) and the
    file size after it is exactly the whole rows so far. Should a write fail midway (disk full,
    file size limit), the file is cut back to that size, and the batch is written again row by
    row, up to the first row that does not fit: the report keeps every whole row that fits, and
    never ends in half a row. (Standard output cannot be cut back: a pipe's reader has what it
    has read.)

    With ``appending`` the file is not created afresh: it is opened for appending (created if
    missing), checked to be as long as when it was read, cut back to ``appending.at`` (its
    whole rows), and the rows follow, in the cell separator of those kept; the header (with
    its byte order mark, for ``excel``) is written only when nothing was kept. A failed write
    cuts it back to its whole rows, old and new, as in a fresh report.
    """

    def __init__(
        self, path: str, fmt: Format, *, excel: bool = False, appending: Appending | None = None
    ) -> None:
        if fmt is Format.XLSX:
            # Until every caller asks ``writer_for``: a message, not JSON under a .xlsx name.
            raise UsageError(f"-o {path}: this command writes CSV or JSONL, not a workbook")
        if appending is not None and path == "-":
            raise UsageError("standard output cannot be appended to: give -o FILE")
        self.path = path
        delimiter = appending.delimiter if appending is not None else None
        self._encoder: Encoder
        if fmt is Format.CSV and delimiter is not None:
            self._encoder = CSVEncoder(delimiter, bom=excel)
        else:
            self._encoder = encoder_for(fmt, excel=excel)
        self._appending = appending
        self._file: Any = None
        self._complete = 0  # bytes of whole rows written so far
        self._failed = False

    @property
    def name(self) -> str:
        return "standard output" if self.path == "-" else self.path

    async def open(self) -> None:
        appending = self._appending
        try:
            if self.path == "-":
                self._file = aiofiles.stdout_bytes
            elif appending is not None:
                self._file = await aiofiles.open(self.path, "ab", buffering=0)
            else:
                self._file = await aiofiles.open(self.path, "wb", buffering=0)
        except OSError as exc:
            raise self._failure(exc) from exc
        try:
            if appending is not None:
                await self._cut_back_to(appending)
            if not self._complete:
                await self._write(self._encoder.header())
        except OSError as exc:
            raise self._failure(exc) from exc

    async def _cut_back_to(self, appending: Appending) -> None:
        """Drop what follows the whole rows kept; writes go to the end (the file is opened
        for appending), which is then where they end."""
        size = await self._file.seek(0, os.SEEK_END)
        if size != appending.size:
            self._failed = True
            raise OutputError(
                f"cannot append to {self.name}: it changed since it was read ({appending.size} "
                f"bytes then, {size} now); nothing was written to it"
            )
        if size != appending.at:
            await self._file.truncate(appending.at)
        self._complete = appending.at

    async def write(self, records: Sequence[Record]) -> None:
        try:
            await self._write(self._encoder.rows(records))
        except _CutBack as exc:
            if len(records) == 1:
                raise self._failure(exc) from exc
            # The batch did not fit: every row of it that does is kept, one write each.
            for record in records:
                try:
                    await self._write(self._encoder.rows([record]))
                except OSError as row_exc:
                    raise self._failure(row_exc) from row_exc
        except OSError as exc:
            raise self._failure(exc) from exc

    async def _write(self, text: str) -> None:
        """Write ``text`` (whole rows) in full, or raise: ``_CutBack`` when the file could be cut
        back to the whole rows written before, else the ``OSError``."""
        if not text:
            return
        encoded = text.encode("utf-8", errors="backslashreplace")
        data = memoryview(encoded)
        with anyio.CancelScope(shield=True):
            try:
                while data:
                    written = await self._file.write(data)
                    data = data[written if written is not None else len(data) :]
                if self.path == "-":
                    await self._file.flush()
            except OSError as exc:
                if self.path == "-":
                    raise
                try:
                    await self._file.truncate(self._complete)
                    await self._file.seek(self._complete)  # truncate leaves the position
                except OSError:
                    raise exc from None  # not a file that can be cut (a FIFO, a device)
                raise _CutBack(exc.errno, exc.strerror) from exc
        self._complete += len(encoded)

    async def close(self) -> None:
        file, self._file = self._file, None
        if file is None or self.path == "-":
            return
        with anyio.CancelScope(shield=True):
            try:
                await file.close()
            except OSError as exc:
                if not self._failed:  # after a failed write, that first error is the news
                    raise self._error(exc) from exc

    def _failure(self, exc: OSError) -> OutputError:
        self._failed = True
        return self._error(exc)

    def _error(self, exc: OSError) -> OutputError:
        return OutputError(f"cannot write {self.name}: {os_error_text(exc)}")


class _CutBack(OSError):
    """A write failed, and the file was cut back to the whole rows written before it."""


async def drain(
    receive: MemoryObjectReceiveStream[Record],
    consume: Callable[[Sequence[Record]], Awaitable[None]],
    *,
    batch: int = 256,
    linger: float = 0.02,
) -> None:
    """Pass every record from ``receive`` to ``consume`` until the stream closes, in batches:
    ``linger`` seconds after the first record of a batch, all those waiting join it (one write,
    one flush and one thread hop per batch, not per row, at no visible cost in latency)."""
    async with receive:
        async for record in receive:
            records = [record]
            if linger:
                await anyio.sleep(linger)
            while len(records) < batch:
                try:
                    records.append(receive.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
            await consume(records)
