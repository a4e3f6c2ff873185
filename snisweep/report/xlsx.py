"""Workbooks: a report as an Excel workbook (``.xlsx``), written with XlsxWriter (an optional
extra) in its constant-memory mode, which holds one row in memory whatever the number of rows.
Does file I/O, in a worker thread: XlsxWriter is synchronous, and a batch of rows is milliseconds
of work that the event loop (the probes, the workers' channels) should not wait for.

What the workbook holds:

- a sheet ``report`` with the header row bold and frozen, and an autofilter over every column
  and row; beyond Excel's 1,048,575 rows a sheet, ``report 2``, ``report 3``... alike;
- typed cells: whole numbers as numbers, ``true``/``false`` as booleans, the two times
  (``sni_cert_not_after``, ``scanned_at``) as date-times in UTC, shown as in CSV
  (``2026-11-27T12:00:00Z``) but sorted and filtered as dates; lists joined with ``"; "``;
  empty cells empty;
- text always as text (``write_string``; XlsxWriter's guessing of formulas, URLs and numbers is
  off): a certificate field that starts with ``=`` is shown, never run, and needs no apostrophe.
  A text that starts with ``<r>`` is written as a rich string of one font, because XlsxWriter's
  constant-memory mode copies such text into the sheet's XML unescaped (it takes it for its own
  rich-string markup): a server's certificate could write formula cells. A text longer than a
  cell holds (32,767 characters) is cut to that;
- the verdict cell coloured: required red, mismatched orange, optional green, error grey.

A workbook can be read only once it is complete. So it is made in a private directory beside the
report (``.NAME.XXXX.partial``, on the report's file system) and renamed over the report's name
when closed: that name only ever holds a complete workbook. ``open`` puts one of the header row
alone there at once, as CSV writes its header (so that a path that cannot be written fails before
the scan, and an older report under that name is not mistaken for this one); ``close``, which
the session calls after a stop too, replaces it with every row written. A process killed outright
(SIGKILL, the OOM killer, a power cut) leaves the header-only workbook, and the private directory
with the rows' XML: unlike CSV, none of the rows. A failure to write (a full disk) leaves the
header-only workbook too: rows are only ever published all together.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Final

import anyio
import anyio.to_thread

from snisweep.core.record import COLUMNS, Cell, Record
from snisweep.errors import OutputError, UsageError, os_error_text
from snisweep.model import Verdict

#: Rows a sheet holds below its header: Excel's 1,048,576 less one.
ROWS_PER_SHEET: Final = 1_048_575
#: What a cell holds: 32,767 UTF-16 code units, Excel's limit.
CELL_LIMIT: Final = 32_767

_LIBRARY = "xlsxwriter"  # imported when a workbook is asked for; a name a test can change
_OPTIONS: Final = {
    "constant_memory": True,
    # Only ``write()`` guesses, and it is never called; off all the same.
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
_VERDICT: Final = COLUMNS.index("verdict")
_TIMES: Final = frozenset(COLUMNS.index(c) for c in ("sni_cert_not_after", "scanned_at"))
_TIME_FORMAT: Final = 'yyyy-mm-dd"T"hh:mm:ss"Z"'  # the text of CSV's cells, as a number format
#: Fill and font: Excel's own "Bad" and "Good" styles for required and optional.
VERDICT_COLOURS: Final = {
    Verdict.REQUIRED: ("#FFC7CE", "#9C0006"),
    Verdict.MISMATCHED: ("#F8CBAD", "#833C0B"),
    Verdict.OPTIONAL: ("#C6EFCE", "#006100"),
    Verdict.ERROR: ("#D9D9D9", "#3F3F3F"),
}
# Column widths, in characters, for a typical value; at least the header and its filter button.
_WIDTHS: Final = {
    "host": 32,
    "address": 16,
    "sni": 32,
    "label": 30,
    "tags": 16,
    "verdict": 12,
    "reason": 26,
    "detail": 60,
    "sni_cipher": 30,
    "sni_cert_sha256": 20,
    "sni_cert_subject": 40,
    "sni_cert_issuer": 40,
    "sni_cert_sans": 40,
    "sni_cert_not_after": 21,
    "sni_error": 40,
    "nosni_cert_sha256": 20,
    "nosni_cert_subject": 40,
    "nosni_cert_sans": 40,
    "nosni_error": 40,
    "scanned_at": 21,
    "warnings": 30,
    "sni_trust_error": 40,
    "proxy": 22,
    "advice": 60,
}


def _width(column: str) -> int:
    return max(_WIDTHS.get(column, 0), len(column) + 3)


def _import_library(path: str) -> ModuleType:
    try:
        return importlib.import_module(_LIBRARY)
    except ImportError:
        raise UsageError(
            f"-o {path}: writing a workbook needs XlsxWriter, an optional extra: "
            "pip install 'snisweep[xlsx]'"
        ) from None


class WorkbookWriter:
    """Writes records to an Excel workbook at ``path`` (a file: a workbook is not a stream).
    Raises ``UsageError`` at once when XlsxWriter is not installed. ``rows_per_sheet`` is
    Excel's limit (smaller in tests)."""

    def __init__(self, path: str, *, rows_per_sheet: int = ROWS_PER_SHEET) -> None:
        if path == "-":
            raise ValueError("a workbook is written to a file, not to standard output")
        self.path = path
        self._library = _import_library(path)
        self._rows_per_sheet = rows_per_sheet
        self._scratch: str | None = None  # the private directory, while open
        self._target = ""  # the path, with symbolic links resolved
        self._book: _Book | None = None
        self._published = False  # the header-only workbook is under the report's name
        self._failed = False

    @property
    def name(self) -> str:
        return self.path

    async def open(self) -> None:
        await self._in_thread(self._open)

    async def write(self, records: Sequence[Record]) -> None:
        if self._book is None:
            raise RuntimeError("write before open")
        await self._in_thread(self._book.add, records)

    async def close(self) -> None:
        book, self._book = self._book, None
        scratch, self._scratch = self._scratch, None
        if scratch is not None:
            await self._in_thread(self._close, book, scratch)

    def _open(self) -> None:
        # A symbolic link is written through, as CSV's open() does, not replaced.
        self._target = os.path.realpath(self.path)
        directory, name = os.path.split(self._target)
        # Named after the report (cut, so that a long name still leaves room for the rest).
        scratch = tempfile.mkdtemp(prefix=f".{name[:100]}.", suffix=".partial", dir=directory)
        try:
            header = _Book(self._library, os.path.join(scratch, "header.xlsx"), scratch, 1)
            header.finish()
            _publish(header.file, self._target)
            self._published = True
            rows = os.path.join(scratch, "rows.xlsx")
            book = _Book(self._library, rows, scratch, self._rows_per_sheet)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        self._scratch, self._book = scratch, book

    def _close(self, book: _Book | None, scratch: str) -> None:
        try:
            if book is not None and self._failed:
                book.discard()
            elif book is not None:
                book.finish()
                _publish(book.file, self._target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    async def _in_thread(self, function: Callable[..., None], *args: Any) -> None:
        # Shielded: a stop (the second Ctrl-C) never leaves XlsxWriter halfway through a call.
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(function, *args)
            except Exception as exc:
                reason = self._reason(exc)
                if reason is None:
                    raise
                failed, self._failed = self._failed, True
                if failed:  # after a failed write, that first error is the news
                    return
                kept = "; it holds the header row only" if self._published else ""
                raise OutputError(f"cannot write {self.path}: {reason}{kept}") from exc

    def _reason(self, exc: Exception) -> str | None:
        """What an exception of the file system, or XlsxWriter's wrapping of one, means; None
        for any other (a bug)."""
        errors = self._library.exceptions
        if isinstance(exc, errors.FileCreateError) and exc.args:
            exc = exc.args[0]  # XlsxWriter's ``close`` wraps the OSError
        if isinstance(exc, OSError):
            return os_error_text(exc)
        if isinstance(exc, errors.FileSizeError):
            return "a workbook larger than 4 GB (write CSV or JSONL)"
        return None


def _publish(file: str, target: str) -> None:
    """Put the complete workbook ``file`` under the report's name in one step, on disk first:
    a power cut after the rename must not leave an empty file there."""
    descriptor = os.open(file, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(file, target)


class _Book:
    """One workbook being written to ``file``, XlsxWriter's temporary files in ``scratch``:
    synchronous, the calls into XlsxWriter."""

    def __init__(self, library: ModuleType, file: str, scratch: str, rows_per_sheet: int) -> None:
        self.file = file
        self._workbook: Any = library.Workbook(file, {**_OPTIONS, "tmpdir": scratch})
        add_format = self._workbook.add_format
        self._header = add_format({"bold": True, "bottom": 1})
        self._time = add_format({"num_format": _TIME_FORMAT})
        self._plain = add_format()
        self._verdicts: dict[str, Any] = {
            verdict: add_format({"bg_color": fill, "font_color": font})
            for verdict, (fill, font) in VERDICT_COLOURS.items()
        }
        self._rows_per_sheet = rows_per_sheet
        self._full: list[tuple[Any, int]] = []  # full sheets and their last rows
        self._sheet: Any = None
        self._row = 0  # the next row of ``_sheet``
        self._add_sheet()

    def _add_sheet(self) -> None:
        if self._sheet is not None:
            self._full.append((self._sheet, self._row - 1))
        number = len(self._full) + 1
        sheet = self._workbook.add_worksheet("report" if number == 1 else f"report {number}")
        for col, column in enumerate(COLUMNS):
            sheet.set_column(col, col, _width(column))
            sheet.write_string(0, col, column, self._header)
        sheet.freeze_panes(1, 0)
        self._sheet, self._row = sheet, 1

    def add(self, records: Sequence[Record]) -> None:
        for record in records:
            if self._row > self._rows_per_sheet:
                self._add_sheet()
            self._write_row(record.cells())
            self._row += 1

    def _write_row(self, cells: Sequence[Cell]) -> None:
        sheet, row = self._sheet, self._row
        for col, value in enumerate(cells):
            if isinstance(value, bool):
                sheet.write_boolean(row, col, value)
            elif isinstance(value, int):
                sheet.write_number(row, col, value)
            elif not value:
                continue  # None, "" and (): an empty cell
            elif isinstance(value, tuple):
                self._write_text(row, col, "; ".join(value))
            elif col in _TIMES and (moment := _moment(value)) is not None:
                sheet.write_datetime(row, col, moment, self._time)
            elif col == _VERDICT:
                self._write_text(row, col, value, self._verdicts.get(value))
            else:
                self._write_text(row, col, value)

    def _write_text(self, row: int, col: int, text: str, cell_format: Any = None) -> None:
        text = _fit(text)
        formats = () if cell_format is None else (cell_format,)
        if text.startswith("<r>"):
            # Two fragments, each escaped by XlsxWriter: never markup of the sender's.
            self._sheet.write_rich_string(row, col, text[:1], self._plain, text[1:], *formats)
        else:
            self._sheet.write_string(row, col, text, *formats)

    def finish(self) -> None:
        """Write the workbook: the autofilters (over the rows there are), then the file."""
        try:
            for sheet, last in (*self._full, (self._sheet, self._row - 1)):
                sheet.autofilter(0, 0, last, len(COLUMNS) - 1)
            self._workbook.close()
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Close the temporary files without writing the workbook (after a failure)."""
        for sheet in self._workbook.worksheets():
            handle = getattr(sheet, "row_data_fh", None)
            if handle is not None:
                with contextlib.suppress(OSError):  # a full disk may refuse the last flush
                    handle.close()


def _fit(text: str) -> str:
    """``text``, cut to what a cell holds."""
    if len(text) <= CELL_LIMIT // 2:  # however many code units each character takes
        return text
    units = text.encode("utf-16-le")
    if len(units) <= 2 * CELL_LIMIT:
        return text
    return units[: 2 * CELL_LIMIT].decode("utf-16-le", errors="ignore")  # no half a pair


@functools.lru_cache(maxsize=1024)
def _moment(text: str) -> datetime | None:
    """A report's time (``2026-11-27T12:00:00Z``) as Excel takes one: without a zone, in UTC;
    None for one that Excel cannot show (before 1900), or not a time."""
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return moment if moment.year >= 1900 else None
