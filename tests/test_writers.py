"""The report writer under faults, the one format table, the format a path is written in, CSV for
a spreadsheet, and the one "output is an input" check. No sockets; the file that fills up is a
double of aiofiles' file. Workbooks are ``test_xlsx.py``'s."""

from __future__ import annotations

import dataclasses
import errno
import io
import locale
import os
from pathlib import Path
from typing import Any

import aiofiles
import anyio
import pytest
from records import row

from snisweep.errors import OutputError, UsageError
from snisweep.report.readers import Row, parse_report
from snisweep.report.writers import (
    SUFFIXES,
    CSVEncoder,
    Format,
    JSONLEncoder,
    ReportWriter,
    encoder_for,
    excel_delimiter,
    format_by_name,
    format_for,
    refuse_overwriting,
    writer_for,
)

BASE = row(
    label='Billing, "SOAP"\nline two',  # a row of more than one line
    tags=("nightly",),
)
RECORDS = [dataclasses.replace(BASE, host=f"h{i}.example.test", elapsed_ms=i) for i in range(20)]
TEXT_FORMATS = [Format.CSV, Format.JSONL]


class FillingFile:
    """An unbuffered file on a device with ``room`` bytes, as the kernel does it under a file size
    limit: a write that crosses the limit writes what fits, the next one fails with EFBIG."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.data = bytearray()
        self.position = 0

    async def write(self, data: memoryview) -> int:
        free = self.room - self.position
        if free <= 0:
            raise OSError(errno.EFBIG, "File too large")
        chunk = bytes(data[:free])
        self.data[self.position : self.position + len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)

    async def truncate(self, size: int) -> None:
        del self.data[size:]

    async def seek(self, position: int) -> None:
        self.position = position

    async def close(self) -> None:
        pass


def write_all(monkeypatch: pytest.MonkeyPatch, fmt: Format, room: int) -> tuple[bytes, str]:
    file = FillingFile(room)

    async def fake_open(*args: Any, **kwargs: Any) -> FillingFile:
        return file

    monkeypatch.setattr(aiofiles, "open", fake_open)
    writer = ReportWriter("report", fmt)

    async def scan() -> str:
        try:
            await writer.open()
            await writer.write(RECORDS[:2])
            await writer.write(RECORDS[2:])  # one batch of 18 rows, a few of which fit
        except OutputError as exc:
            return str(exc)
        finally:
            await writer.close()
        return ""

    error = anyio.run(scan)
    return bytes(file.data), error


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_a_batch_that_does_not_fit_keeps_every_row_that_does(
    monkeypatch: pytest.MonkeyPatch, fmt: Format
) -> None:
    encoder = encoder_for(fmt)
    rows = [encoder.rows([record]).encode() for record in RECORDS]
    header = encoder.header().encode()
    room = len(header) + sum(len(row) for row in rows[:7]) + len(rows[7]) // 2
    data, error = write_all(monkeypatch, fmt, room)
    assert data == header + b"".join(rows[:7])  # seven whole rows, not half of the eighth
    assert error == "cannot write report: file too large (a file size limit, ulimit -f?)"


def test_a_header_that_does_not_fit_leaves_an_empty_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, _ = write_all(monkeypatch, Format.CSV, 10)
    assert data == b""


def test_a_report_that_fits_is_written_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    data, error = write_all(monkeypatch, Format.JSONL, 1 << 20)
    assert error == ""
    assert data == JSONLEncoder().rows(RECORDS).encode()


def test_a_device_that_cannot_be_cut_back_is_not_written_again(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    writer = ReportWriter("/dev/full", Format.JSONL)

    async def scan() -> None:
        await writer.open()
        try:
            await writer.write(RECORDS)
        finally:
            await writer.close()

    with pytest.raises(OutputError, match=r"^cannot write /dev/full: no space left on device$"):
        anyio.run(scan)


# --- one table of suffixes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("r.csv", Format.CSV),
        ("R.CSV", Format.CSV),
        ("r.jsonl", Format.JSONL),
        ("dir.d/r.NDJSON", Format.JSONL),
        ("r.xlsx", Format.XLSX),
        ("r.XLSX", Format.XLSX),
        ("r.txt", None),
        ("r.csv.gz", None),
        ("-", None),
        ("jsonl", None),
    ],
)
def test_format_by_name(path: str, fmt: Format | None) -> None:
    assert format_by_name(path) is fmt
    assert format_for(path, Format.JSONL) is Format.JSONL  # --format says, whatever the name


@pytest.mark.parametrize(
    ("path", "requested", "fmt"),
    [
        ("r.csv", None, Format.CSV),
        ("r.NDJSON", None, Format.JSONL),
        ("r.xlsx", None, Format.XLSX),
        ("-", None, Format.CSV),  # standard output, and a name without a suffix: CSV, as ever
        ("report", None, Format.CSV),
        ("dir.d/report", None, Format.CSV),
        (".report", None, Format.CSV),  # a hidden file's name, not a suffix
        ("/dev/stdout", None, Format.CSV),
        ("r.txt", Format.JSONL, Format.JSONL),
        ("r.json", Format.CSV, Format.CSV),
        ("r.csv", Format.XLSX, Format.XLSX),
        ("-", Format.JSONL, Format.JSONL),
    ],
)
def test_format_for(path: str, requested: Format | None, fmt: Format) -> None:
    assert format_for(path, requested) is fmt


@pytest.mark.parametrize(
    ("path", "suffix"),
    [("r.json", ".json"), ("r.TXT", ".TXT"), ("r.csv.gz", ".gz"), ("out/r.xml", ".xml")],
)
def test_an_unknown_suffix_is_refused_naming_the_choices(path: str, suffix: str) -> None:
    with pytest.raises(UsageError) as caught:
        format_for(path, None)
    assert str(caught.value) == (
        f"-o {path}: {suffix} is not a report format; name the file .csv, .jsonl, .ndjson or "
        ".xlsx, or give --format (csv, jsonl or xlsx)"
    )


def test_a_workbook_is_not_written_to_standard_output() -> None:
    with pytest.raises(UsageError, match=r"^a workbook cannot be written to standard output"):
        format_for("-", Format.XLSX)


def test_the_table_names_every_format() -> None:
    assert set(SUFFIXES.values()) == set(Format)
    assert all(suffix == suffix.lower() and suffix.startswith(".") for suffix in SUFFIXES)


def test_the_text_writer_writes_no_workbook() -> None:
    with pytest.raises(UsageError, match=r"^-o r.xlsx: this command writes CSV or JSONL"):
        ReportWriter("r.xlsx", Format.XLSX)
    with pytest.raises(ValueError, match="not a text format"):
        encoder_for(Format.XLSX)


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_the_writer_of_a_text_format(fmt: Format) -> None:
    writer = writer_for("r", fmt)
    assert isinstance(writer, ReportWriter)
    assert writer.name == "r"
    assert writer_for("-", fmt).name == "standard output"


# --- CSV for a spreadsheet ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decimal_point", "delimiter"),
    [(",", ";"), (".", ","), ("\u066b", ",")],  # de_DE, en_US, ar_EG (Arabic's own separator)
)
def test_excel_separates_cells_with_the_list_separator(decimal_point: str, delimiter: str) -> None:
    assert excel_delimiter(decimal_point) == delimiter


def test_the_locale_is_read_and_left_as_it_was() -> None:
    before = locale.setlocale(locale.LC_NUMERIC)
    assert excel_delimiter() in (",", ";")
    assert locale.setlocale(locale.LC_NUMERIC) == before


def test_csv_for_a_spreadsheet_starts_with_a_byte_order_mark() -> None:
    encoder = CSVEncoder(";", bom=True)
    header = encoder.header()
    assert header.startswith("\ufeffhost;port;address;")
    assert header.encode("utf-8").startswith(b"\xef\xbb\xbfhost;")
    row = encoder.rows([dataclasses.replace(BASE, tags=("a", "b"), sni_cert_issuer="=x")])
    assert row.startswith('api.example.test;443;192.0.2.5;api.example.test;"Billing, ')
    assert ';"a;b";error;' in row  # a list's own ';' is quoted
    assert ";'=x;" in row  # neutralised as ever
    assert "\ufeff" not in row
    assert CSVEncoder().header().startswith("host,port,")  # plain CSV stays plain


def test_csv_for_a_spreadsheet_is_written_in_the_locales_separator(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"

    async def write() -> None:
        writer = writer_for(str(path), Format.CSV, excel=True)
        await writer.open()
        await writer.write(RECORDS[:3])
        await writer.close()

    anyio.run(write)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfhost" + excel_delimiter().encode() + b"port")
    assert data.count(b"\xef\xbb\xbf") == 1
    if excel_delimiter() == ",":  # what merge and diff read back (not yet ';')
        rows = list(parse_report(io.BytesIO(data), Format.CSV))
        assert [row.record for row in rows if isinstance(row, Row)] == RECORDS[:3]


def test_csv_for_a_spreadsheet_is_csv() -> None:
    for fmt in (Format.JSONL, Format.XLSX):
        message = f"^-o r is written as {fmt}: CSV for Excel applies to CSV only$"
        with pytest.raises(UsageError, match=message):
            writer_for("r", fmt, excel=True)


# --- one "output is an input" check ------------------------------------------------------------


def test_a_report_over_an_input_is_refused_however_it_is_spelt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    listed = tmp_path / "list.yaml"
    listed.write_text("endpoints: []\n")
    (tmp_path / "link.yaml").symlink_to(listed)
    os.link(listed, tmp_path / "hard.yaml")
    for spelling in ("list.yaml", "./list.yaml", str(listed), "link.yaml", "hard.yaml"):
        with pytest.raises(UsageError) as caught:
            refuse_overwriting(spelling, ["-", "other.yaml", str(listed)], "the endpoint lists")
        assert (
            str(caught.value) == f"-o {spelling} is one of the endpoint lists; choose another file"
        )


def test_a_report_beside_the_inputs_is_not_refused(tmp_path: Path) -> None:
    listed = tmp_path / "list.yaml"
    listed.write_text("endpoints: []\n")
    existing = tmp_path / "old-report.csv"
    existing.write_text("")
    for output in ("-", str(existing), str(tmp_path / "new.csv")):
        refuse_overwriting(output, [str(listed), "-", str(tmp_path / "missing")], "the lists")
