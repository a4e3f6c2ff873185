"""Workbooks: rows written through the sink and read back with openpyxl (typed cells, no formula
from a server's text, the colours, the frozen header and the filter), and the workbook a stop, a
kill or a full disk leaves. No sockets."""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import anyio
import pytest
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream
from test_merge import record

import snisweep.report.xlsx
from snisweep.core.record import COLUMNS, Cell, Record
from snisweep.errors import OutputError, UsageError
from snisweep.model import Verdict, WarningCode
from snisweep.report.writers import Format, writer_for
from snisweep.report.xlsx import CELL_LIMIT, VERDICT_COLOURS, WorkbookWriter
from snisweep.run.session import rows_to_sink

# Text that XlsxWriter's constant-memory mode would copy into the sheet's XML as it is: a
# formula cell, and another cell, after the one written.
INJECTION = (
    '<r><t>x</t></r></is></c><c r="AK2"><f>HYPERLINK("http://evil.example","x")</f></c>'
    '<c r="AL2" t="inlineStr"><is><r><t>y</t></r>'
)
TIMES = ("sni_cert_not_after", "scanned_at")


@pytest.fixture
def openpyxl() -> ModuleType:
    pytest.importorskip("xlsxwriter")
    module: ModuleType = pytest.importorskip("openpyxl")
    return module


def records() -> list[Record]:
    """Rows with every kind of cell, and the texts a spreadsheet gets wrong."""
    return [
        record(),
        record(
            "b.example.com",
            verdict=Verdict.REQUIRED,
            label="@x\tcolumn\u00a0two, _x0041_ (Excel's escape, as text)",
            tags=(),
            sni_cert_subject=INJECTION,
            sni_cert_issuer="<r>unclosed",
            nosni_cert_sans=None,
            sni_cert_days_left=0,
            sni_cert_covers_host=False,
            sni_http_status=421,
            warnings=(WarningCode.CERT_EXPIRED, WarningCode.SNI_CERT_NOT_COVERING),
            sni_cert_trusted=True,
            proxy="proxy.example:3128",
        ),
        record(
            "c.example.com",
            verdict=Verdict.OPTIONAL,
            label="-" + "long label " * 100,
            detail="",
            sni_cert_not_after="1899-12-31T23:59:59Z",  # before Excel's dates: text
        ),
        record(
            "d.example.com",
            verdict=Verdict.ERROR,
            label=None,
            sni_tls_version=None,
            sni_cert_sans=(),
            sni_cert_days_left=None,
            sni_cert_covers_host=None,
            sni_error="connect-refused: connection refused",
            sni_cert_trusted=False,
            sni_trust_error="=1+1",
        ),
    ]


def write(path: Path, *batches: Sequence[Record], rows_per_sheet: int | None = None) -> None:
    """A report as a scan writes it: open, the batches, close."""
    options = {} if rows_per_sheet is None else {"rows_per_sheet": rows_per_sheet}
    writer = WorkbookWriter(str(path), **options)

    async def scan() -> None:
        await writer.open()
        try:
            for batch in batches:
                await writer.write(batch)
        finally:
            await writer.close()

    anyio.run(scan)


def expected(column: str, value: Cell) -> object:
    """What the workbook's cell holds for ``value`` (openpyxl's reading of it)."""
    if value in ("", ()) or value is None:
        return None
    if isinstance(value, tuple):
        return "; ".join(value)
    if column in TIMES and isinstance(value, str) and not value.startswith("18"):
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")  # Excel has no zones
    if isinstance(value, str):
        return str(value)  # a verdict, a reason: text
    return value


def unescaped(openpyxl: ModuleType, value: object) -> object:
    # Excel reads ``_xHHHH_`` as a character; XlsxWriter escapes text that looks like one, and
    # openpyxl shows the escape. This is Excel's reading.
    if isinstance(value, str):
        return openpyxl.utils.escape.unescape(value)
    return value


def cells(sheet: Any) -> Iterator[Any]:
    for row in sheet.iter_rows():
        yield from row


def test_a_workbook_holds_the_rows_as_typed_cells(tmp_path: Path, openpyxl: ModuleType) -> None:
    rows = records()
    path = tmp_path / "report.xlsx"
    write(path, rows[:1], rows[1:])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["report"]
    sheet = book["report"]
    last = openpyxl.utils.get_column_letter(len(COLUMNS))
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{last}{len(rows) + 1}"
    assert (sheet.max_row, sheet.max_column) == (len(rows) + 1, len(COLUMNS))
    header = next(sheet.iter_rows(max_row=1))
    assert tuple(cell.value for cell in header) == COLUMNS
    assert all(cell.font.b for cell in header)
    widths = {  # XlsxWriter writes one span for neighbours of the same width
        number: dimension.width
        for dimension in sheet.column_dimensions.values()
        for number in range(dimension.min, dimension.max + 1)
    }
    for number, column in enumerate(COLUMNS, start=1):
        assert widths[number] >= len(column) + 3
    for number, row in enumerate(rows, start=2):
        got = [unescaped(openpyxl, cell.value) for cell in sheet[number]]
        want = [expected(c, v) for c, v in zip(COLUMNS, row.cells(), strict=True)]
        assert got == want
        assert all(type(g) is type(w) for g, w in zip(got, want, strict=True))  # True is not 1
    # The times are dates, shown as CSV writes them.
    assert sheet.cell(2, COLUMNS.index("scanned_at") + 1).number_format == (
        'yyyy-mm-dd"T"hh:mm:ss"Z"'
    )
    assert all(cell.data_type != "f" for cell in cells(sheet))


def test_no_text_becomes_markup_or_a_formula(tmp_path: Path, openpyxl: ModuleType) -> None:
    path = tmp_path / "report.xlsx"
    write(path, [record(sni_cert_subject=INJECTION, label="<r></r>", detail="<r>")])
    sheet = openpyxl.load_workbook(path)["report"]
    assert sheet.max_column == len(COLUMNS)  # no cell AK2, AL2
    assert [c.data_type for c in cells(sheet) if c.value is not None].count("f") == 0
    row = {column: cell.value for column, cell in zip(COLUMNS, sheet[2], strict=True)}
    assert (row["sni_cert_subject"], row["label"], row["detail"]) == (INJECTION, "<r></r>", "<r>")


def test_the_verdict_is_coloured(tmp_path: Path, openpyxl: ModuleType) -> None:
    path = tmp_path / "report.xlsx"
    rows = [record(f"{v}.example.com", verdict=v, label=str(v)) for v in Verdict]
    write(path, rows)
    sheet = openpyxl.load_workbook(path)["report"]
    column = COLUMNS.index("verdict") + 1
    for number, row in enumerate(rows, start=2):
        fill, font = VERDICT_COLOURS[row.verdict]
        cell = sheet.cell(number, column)
        assert cell.value == row.verdict
        assert cell.fill.fgColor.rgb == "FF" + fill[1:]
        assert cell.font.color.rgb == "FF" + font[1:]
        label = sheet.cell(number, COLUMNS.index("label") + 1)  # the same word: not coloured
        assert label.value == row.verdict
        assert label.fill.fgColor.rgb != "FF" + fill[1:]


def test_a_text_longer_than_a_cell_is_cut_to_it(tmp_path: Path, openpyxl: ModuleType) -> None:
    path = tmp_path / "report.xlsx"
    wide = "\N{GRINNING FACE}"  # two UTF-16 code units: never cut in half
    write(
        path, [record(label="x" * 40_000, detail=wide * 20_000, sni_cert_subject=INJECTION * 400)]
    )
    sheet = openpyxl.load_workbook(path)["report"]
    row = {column: cell.value for column, cell in zip(COLUMNS, sheet[2], strict=True)}
    assert row["label"] == "x" * CELL_LIMIT
    assert row["detail"] == wide * (CELL_LIMIT // 2)
    assert row["sni_cert_subject"] == (INJECTION * 400)[:CELL_LIMIT]


def test_rows_beyond_a_sheet_go_on_to_the_next(tmp_path: Path, openpyxl: ModuleType) -> None:
    path = tmp_path / "report.xlsx"
    rows = [record(f"h{i}.example.com") for i in range(7)]
    write(path, rows[:2], rows[2:], rows_per_sheet=3)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["report", "report 2", "report 3"]
    last = openpyxl.utils.get_column_letter(len(COLUMNS))
    hosts = []
    for sheet, count in zip(book, (3, 3, 1), strict=True):
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:{last}{count + 1}"
        assert tuple(c.value for c in sheet[1]) == COLUMNS
        hosts += [sheet.cell(n, 1).value for n in range(2, count + 2)]
    assert hosts == [r.host for r in rows]


# --- the workbook that a stop, a kill or a failure leaves ------------------------------------


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


def test_a_report_closed_without_rows_is_a_workbook_of_the_header(
    tmp_path: Path, openpyxl: ModuleType
) -> None:
    path = tmp_path / "report.xlsx"
    write(path)
    sheet = openpyxl.load_workbook(path)["report"]
    assert tuple(c.value for c in sheet[1]) == COLUMNS
    assert sheet.max_row == 1
    assert sheet.freeze_panes == "A2"
    assert leftovers(tmp_path) == []


def test_until_it_is_closed_the_name_holds_the_header_alone(
    tmp_path: Path, openpyxl: ModuleType
) -> None:
    path = tmp_path / "report.xlsx"
    path.write_text("yesterday's report")
    writer = WorkbookWriter(str(path))

    async def scan() -> None:
        await writer.open()
        try:
            await writer.write([record()])
            # What a SIGKILL here leaves: a workbook of the header, the rows in the directory.
            assert openpyxl.load_workbook(path)["report"].max_row == 1
            assert len(leftovers(tmp_path)) == 1
        finally:
            await writer.close()

    anyio.run(scan)
    assert openpyxl.load_workbook(path)["report"].max_row == 2
    assert leftovers(tmp_path) == []


def test_a_link_to_the_report_is_written_through(tmp_path: Path, openpyxl: ModuleType) -> None:
    target = tmp_path / "reports" / "today.xlsx"
    target.parent.mkdir()
    link = tmp_path / "latest.xlsx"
    link.symlink_to(target)
    write(link, [record()])
    assert link.is_symlink()
    assert openpyxl.load_workbook(target)["report"].max_row == 2


@pytest.fixture
def received() -> Iterator[list[int]]:
    """SIGTERM recorded, not acted on, for the test's length (a test that signals itself)."""
    caught: list[int] = []

    def catch(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {signum: signal.signal(signum, catch) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield caught
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_a_scan_stopped_by_a_signal_leaves_a_workbook_of_its_rows(
    tmp_path: Path, openpyxl: ModuleType, received: list[int]
) -> None:
    path = tmp_path / "report.xlsx"
    rows = [record(f"h{i}.example.com") for i in range(300)]

    async def scan() -> bool:
        stop = anyio.CancelScope()

        def produce(group: TaskGroup, send: MemoryObjectSendStream[Record]) -> None:
            async def scanner() -> None:
                async with send:
                    for row in rows:
                        await send.send(row)
                    os.kill(os.getpid(), signal.SIGTERM)
                    with stop:
                        await anyio.sleep_forever()  # endpoints still in flight

            group.start_soon(scanner)

        sink = WorkbookWriter(str(path))
        outcome = await rows_to_sink(produce, stop.cancel, sink, None, buffer=8)
        return outcome.interrupted

    assert anyio.run(scan)
    sheet = openpyxl.load_workbook(path)["report"]
    assert [sheet.cell(n, 1).value for n in range(2, sheet.max_row + 1)] == [r.host for r in rows]
    assert leftovers(tmp_path) == []


def test_a_stop_between_batches_keeps_the_batches_written(
    tmp_path: Path, openpyxl: ModuleType
) -> None:
    path = tmp_path / "report.xlsx"
    rows = [record(f"h{i}.example.com") for i in range(10)]
    writer = WorkbookWriter(str(path))

    async def scan() -> None:
        await writer.open()
        try:
            with anyio.CancelScope() as scope:
                await writer.write(rows[:4])
                scope.cancel()  # the second Ctrl-C, say
                await writer.write(rows[4:7])  # shielded: written whole
                await anyio.sleep(1)
                await writer.write(rows[7:])  # not reached
        finally:
            await writer.close()

    anyio.run(scan)
    sheet = openpyxl.load_workbook(path)["report"]
    assert [sheet.cell(n, 1).value for n in range(2, sheet.max_row + 1)] == [
        r.host for r in rows[:7]
    ]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/report.xlsx", "no such file or directory"),
        ("a-directory", "is a directory"),
    ],
)
def test_a_report_that_cannot_be_written_fails_when_opened(
    tmp_path: Path, openpyxl: ModuleType, where: str, message: str
) -> None:
    (tmp_path / "a-directory").mkdir()
    path = str(tmp_path / where)
    with pytest.raises(OutputError) as caught:
        write(Path(path), [record()])
    assert str(caught.value) == f"cannot write {path}: {message}"
    assert leftovers(tmp_path) == []


def full_disk(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_write_that_fails_leaves_the_header(
    tmp_path: Path, openpyxl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.xlsx"
    writer = WorkbookWriter(str(path))

    async def scan() -> None:
        await writer.open()
        try:
            await writer.write([record("a.example.com")])
            monkeypatch.setattr(writer._library.worksheet.Worksheet, "write_number", full_disk)
            await writer.write([record("b.example.com")])
        finally:
            await writer.close()  # the first error is the news: this one is quiet

    with pytest.raises(OutputError) as caught:
        anyio.run(scan)
    assert str(caught.value) == (
        f"cannot write {path}: no space left on device; it holds the header row only"
    )
    assert openpyxl.load_workbook(path)["report"].max_row == 1
    assert leftovers(tmp_path) == []


def test_a_workbook_that_cannot_be_completed_leaves_the_header(
    tmp_path: Path, openpyxl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.xlsx"
    writer = WorkbookWriter(str(path))

    async def scan() -> None:
        await writer.open()
        try:
            await writer.write([record()])
        finally:
            monkeypatch.setattr(writer._library.Workbook, "_store_workbook", full_disk)
            await writer.close()

    with pytest.raises(OutputError) as caught:
        anyio.run(scan)
    assert str(caught.value) == (
        f"cannot write {path}: no space left on device; it holds the header row only"
    )
    assert openpyxl.load_workbook(path)["report"].max_row == 1
    assert leftovers(tmp_path) == []


# --- the optional extra ------------------------------------------------------------------------


def test_a_workbook_without_xlsxwriter_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snisweep.report.xlsx, "_LIBRARY", "snisweep_tests_no_such_module")
    path = str(tmp_path / "report.xlsx")
    with pytest.raises(UsageError) as caught:
        writer_for(path, Format.XLSX)
    assert str(caught.value) == (
        f"-o {path}: writing a workbook needs XlsxWriter, an optional extra: "
        "pip install 'snisweep[xlsx]'"
    )
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_writer_of_a_workbook(tmp_path: Path, openpyxl: ModuleType) -> None:
    assert isinstance(writer_for(str(tmp_path / "r.xlsx"), Format.XLSX), WorkbookWriter)
    with pytest.raises(ValueError, match="not to standard output"):
        WorkbookWriter("-")
