"""Report writers: CSV and JSONL, streamed row by row as endpoints finish. Does file I/O (aiofiles).

Rows are written and flushed as they arrive. To avoid one thread hop per row, the rows that are
already waiting are written together in one call; a batch is only ever whole rows, and a write is
shielded from cancellation so that an interrupted scan leaves a file of complete rows.
"""

from __future__ import annotations

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

from snisweep.errors import OutputError
from snisweep.model import Verdict
from snisweep.record import COLUMNS, Record, csv_cell, json_value


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


class ReportWriter:
    """Writes records to a path, or to standard output for ``-``."""

    def __init__(self, path: str, fmt: Format) -> None:
        self.path = path
        self._encoder = encoder_for(fmt)
        self._file: Any = None
        self._failed = False

    async def open(self) -> None:
        try:
            if self.path == "-":
                self._file = aiofiles.stdout
            else:
                self._file = await aiofiles.open(self.path, "w", encoding="utf-8", newline="")
            await self._write(self._encoder.header())
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    async def write(self, records: Sequence[Record]) -> None:
        await self._write(self._encoder.rows(records))

    async def _write(self, text: str) -> None:
        if not text:
            return
        with anyio.CancelScope(shield=True):
            try:
                await self._file.write(text)
                await self._file.flush()
            except OSError as exc:
                self._failed = True
                raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    async def close(self) -> None:
        file, self._file = self._file, None
        if file is None or self.path == "-":
            return
        with anyio.CancelScope(shield=True):
            try:
                await file.close()
            except OSError as exc:
                if not self._failed:  # after a failed write, that first error is the news
                    raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc


async def drain(
    receive: MemoryObjectReceiveStream[Record],
    consume: Callable[[Sequence[Record]], Awaitable[None]],
    *,
    batch: int = 256,
) -> None:
    """Pass every record from ``receive`` to ``consume`` until the stream closes, in batches of
    whatever is already waiting (one write and one flush per batch, not per row)."""
    async with receive:
        async for record in receive:
            records = [record]
            while len(records) < batch:
                try:
                    records.append(receive.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
            await consume(records)
