"""Report writers: CSV and JSONL, streamed row by row as endpoints finish. Does file I/O (aiofiles).

Rows are written and flushed as they arrive. To avoid one thread hop per row, the rows that are
already waiting are written together in one call; a batch is only ever whole rows, and a write is
shielded from cancellation so that an interrupted scan leaves a file of complete rows.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import aiofiles
import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from snisweep.core.record import COLUMNS, Cell, Record
from snisweep.errors import OutputError
from snisweep.model import Verdict

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


_EXTENSIONS = {".csv": Format.CSV, ".jsonl": Format.JSONL, ".ndjson": Format.JSONL}


def format_for(path: str, requested: Format | None) -> Format:
    """The format to write: ``requested`` if given, else by the file's extension, else CSV."""
    if requested is not None:
        return requested
    for extension, fmt in _EXTENSIONS.items():
        if path.lower().endswith(extension):
            return fmt
    return Format.CSV


class Encoder(Protocol):
    def header(self) -> str: ...
    def rows(self, records: Sequence[Record]) -> str: ...


class CSVEncoder:
    """RFC 4180 CSV with the contract's header; formula-like cells neutralised."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def header(self) -> str:
        return self._encode([COLUMNS])

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


def encoder_for(fmt: Format) -> Encoder:
    return CSVEncoder() if fmt is Format.CSV else JSONLEncoder()


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
    """Where a scan's records go: a ``ReportWriter``, or a worker's channel to its parent."""

    async def open(self) -> None: ...
    async def write(self, records: Sequence[Record]) -> None: ...
    async def close(self) -> None: ...


class ReportWriter:
    """Writes records to a path, or to standard output for ``-``, always in UTF-8.

    A file is written unbuffered, so that one batch is one ``write`` (one thread hop) and the
    file size after it is exactly the whole rows so far. Should a write fail midway (disk full,
    file size limit), the file is cut back to that size: the report never ends in half a row.
    """

    def __init__(self, path: str, fmt: Format) -> None:
        self.path = path
        self._encoder = encoder_for(fmt)
        self._file: Any = None
        self._complete = 0  # bytes of whole rows written so far
        self._failed = False

    @property
    def name(self) -> str:
        return "standard output" if self.path == "-" else self.path

    async def open(self) -> None:
        try:
            if self.path == "-":
                self._file = aiofiles.stdout_bytes
            else:
                self._file = await aiofiles.open(self.path, "wb", buffering=0)
        except OSError as exc:
            raise self._error(exc) from exc
        await self._write(self._encoder.header())

    async def write(self, records: Sequence[Record]) -> None:
        await self._write(self._encoder.rows(records))

    async def _write(self, text: str) -> None:
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
                self._complete += len(encoded)
            except OSError as exc:
                self._failed = True
                if self.path != "-":
                    with contextlib.suppress(OSError):
                        await self._file.truncate(self._complete)
                raise self._error(exc) from exc

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

    def _error(self, exc: OSError) -> OutputError:
        return OutputError(f"cannot write {self.name}: {exc.strerror or exc}")


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
