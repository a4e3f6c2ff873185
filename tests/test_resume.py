"""Going on with a report (``--resume``): what ``prepare`` keeps and refuses, which endpoints are
left, and the writer appending to the report. Reports are written by the real writer and read
back with ``parse_report``; the lists are real lists, loaded from YAML. No sockets."""

from __future__ import annotations

import dataclasses
import errno
import io
import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aiofiles
import anyio
import pytest
from records import REFUSED

from snisweep.core.record import COLUMNS, Record
from snisweep.errors import OutputError, UsageError
from snisweep.lists.load import EndpointList, load
from snisweep.model import Endpoint, Failure, FailureKind
from snisweep.report import writers
from snisweep.report.readers import Row, parse_report
from snisweep.report.resume import Resume, prepare
from snisweep.report.writers import (
    Appending,
    Format,
    ReportWriter,
    drain,
    encoder_for,
    writer_for,
)
from snisweep.run.scheduler import Scanner
from snisweep.testing import ScriptedProber, ScriptedResolver

TEXT_FORMATS = [Format.CSV, Format.JSONL]
HEADER = (",".join(COLUMNS) + "\r\n").encode()

LIST = """\
endpoints:
  - a.example.test
  - b.example.test
  - c.example.test:8443
  - d.example.test
  - host: e.example.test
    all_addresses: true
"""

BASE = dataclasses.replace(
    REFUSED,
    host="",
    address=None,
    sni=None,
    label='Billing, "SOAP"\nline two',  # a CSV row of two lines
    tags=("nightly",),
)


def lists(tmp_path: Path, text: str = LIST) -> EndpointList:
    path = tmp_path / "list.yaml"
    path.write_text(text, encoding="utf-8")
    return load([str(path)])


def row(endpoint: Endpoint, address: str | None = "192.0.2.1", **changes: Any) -> Record:
    """The row a scan writes for ``endpoint``, dialled at ``address``."""
    return dataclasses.replace(
        BASE, host=endpoint.host, port=endpoint.port, address=address, sni=endpoint.sni, **changes
    )


def write(
    path: Path,
    fmt: Format,
    records: Sequence[Record],
    *,
    excel: bool = False,
    appending: Appending | None = None,
) -> None:
    async def scan() -> None:
        writer = writer_for(str(path), fmt, excel=excel, appending=appending)
        try:  # closed after a failed open too, as a scan does
            await writer.open()
            if records:
                await writer.write(records)
        finally:
            await writer.close()

    anyio.run(scan)


def read_back(path: Path, fmt: Format) -> list[Record]:
    entries = list(parse_report(io.BytesIO(path.read_bytes()), fmt))
    assert all(isinstance(entry, Row) for entry in entries), entries
    return [entry.record for entry in entries if isinstance(entry, Row)]


def key(record: Record) -> tuple[str, int, str | None, str | None]:
    return record.host, record.port, record.address, record.sni


def resume_and_finish(path: Path, fmt: Format, endpoints: EndpointList) -> Resume:
    """What the CLI does with --resume: prepare, append a row for each endpoint left."""
    resume = prepare(str(path), fmt, endpoints)
    write(path, fmt, [row(e) for e in resume.remaining(endpoints)], appending=resume.appending)
    return resume


# --- going on ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_the_endpoints_done_are_skipped_and_the_rest_appended(tmp_path: Path, fmt: Format) -> None:
    endpoints = lists(tmp_path)
    everything = list(endpoints)
    path = tmp_path / f"report.{fmt}"
    write(path, fmt, [row(e) for e in everything[:3]])
    resume = prepare(str(path), fmt, endpoints)
    assert (resume.rows, resume.endpoints, resume.dropped) == (3, 3, None)
    assert resume.keep_bytes == path.stat().st_size
    remaining = resume.remaining(endpoints)
    assert list(remaining) == everything[3:]
    assert (remaining.count, remaining.done, remaining.total) == (2, 3, 5)
    write(path, fmt, [row(e) for e in remaining], appending=resume.appending)
    assert read_back(path, fmt) == [row(e) for e in everything]  # each once, in order
    if fmt is Format.CSV:
        assert path.read_bytes().count(HEADER) == 1
        assert path.read_bytes().startswith(HEADER)


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_a_complete_report_leaves_nothing_to_scan(tmp_path: Path, fmt: Format) -> None:
    endpoints = lists(tmp_path)
    path = tmp_path / f"report.{fmt}"
    write(path, fmt, [row(e) for e in endpoints])
    before = path.read_bytes()
    resume = resume_and_finish(path, fmt, endpoints)
    assert resume.remaining(endpoints).count == 0
    assert list(resume.remaining(endpoints)) == []
    assert path.read_bytes() == before


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
@pytest.mark.parametrize("exists", [False, True])
def test_a_missing_or_empty_report_is_a_fresh_scan(
    tmp_path: Path, fmt: Format, exists: bool
) -> None:
    endpoints = lists(tmp_path)
    path = tmp_path / f"report.{fmt}"
    if exists:
        path.write_bytes(b"")
    resume = prepare(str(path), fmt, endpoints)
    assert resume == Resume.fresh()
    assert list(resume.remaining(endpoints)) == list(endpoints)
    assert resume.remaining(endpoints).count == endpoints.count
    resume_and_finish(path, fmt, endpoints)
    assert read_back(path, fmt) == [row(e) for e in endpoints]
    if fmt is Format.CSV:
        assert path.read_bytes().startswith(HEADER)


def test_a_header_alone_is_kept_and_not_written_again(tmp_path: Path) -> None:
    endpoints = lists(tmp_path)
    path = tmp_path / "report.csv"
    write(path, Format.CSV, [])
    resume = prepare(str(path), Format.CSV, endpoints)
    assert (resume.rows, resume.keep_bytes, resume.delimiter) == (0, len(HEADER), ",")
    resume_and_finish(path, Format.CSV, endpoints)
    assert path.read_bytes().count(HEADER) == 1
    assert read_back(path, Format.CSV) == [row(e) for e in endpoints]


def test_the_remaining_endpoints_are_the_same_on_every_iteration(tmp_path: Path) -> None:
    # Workers each take islice(endpoints, i, None, count) of their own iteration.
    endpoints = lists(tmp_path)
    everything = list(endpoints)
    path = tmp_path / "report.csv"
    write(path, Format.CSV, [row(everything[1]), row(everything[3])])
    remaining = prepare(str(path), Format.CSV, endpoints).remaining(endpoints)
    left = [everything[i] for i in (0, 2, 4)]
    assert list(remaining) == list(remaining) == left
    shares = [list(itertools.islice(remaining, i, None, 2)) for i in range(2)]
    assert shares == [[left[0], left[2]], [left[1]]]


# --- a last row cut short ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
@pytest.mark.parametrize("cut", [1, 2, 40])  # bytes cut off the end: the line end, more
def test_a_last_row_cut_short_is_dropped_and_scanned_again(
    tmp_path: Path, fmt: Format, cut: int
) -> None:
    endpoints = lists(tmp_path)
    everything = list(endpoints)
    path = tmp_path / f"report.{fmt}"
    write(path, fmt, [row(e) for e in everything[:2]])
    whole = path.stat().st_size
    write(path, fmt, [row(e) for e in everything[:3]])
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    resume = prepare(str(path), fmt, endpoints)
    assert resume.rows == 2
    assert resume.keep_bytes == whole
    assert resume.dropped == (6 if fmt is Format.CSV else 3)  # the row's first line
    assert list(resume.remaining(endpoints)) == everything[2:]
    write(path, fmt, [row(e) for e in resume.remaining(endpoints)], appending=resume.appending)
    assert read_back(path, fmt) == [row(e) for e in everything]


def test_a_csv_row_cut_inside_a_quoted_cell_at_its_line_end_is_dropped(tmp_path: Path) -> None:
    endpoints = lists(tmp_path)
    everything = list(endpoints)
    path = tmp_path / "report.csv"
    write(path, Format.CSV, [row(e) for e in everything[:2]])
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"\nline two")] + b"\n")  # ends in a line end
    resume = prepare(str(path), Format.CSV, endpoints)
    assert (resume.rows, resume.dropped) == (1, 4)
    assert list(resume.remaining(endpoints)) == everything[1:]
    resume_and_finish(path, Format.CSV, endpoints)
    assert read_back(path, Format.CSV) == [row(e) for e in everything]


def test_a_stray_quote_that_takes_the_rows_after_it_is_refused(tmp_path: Path) -> None:
    endpoints = lists(tmp_path)
    path = tmp_path / "report.csv"
    write(path, Format.CSV, [row(e, label="plain") for e in endpoints])
    data = path.read_bytes()
    path.write_bytes(data.replace(b"b.example.test,443,", b'b.example.test,"443,', 1))
    with pytest.raises(UsageError, match=rf"^{path}:3: not readable as CSV: unexpected end"):
        prepare(str(path), Format.CSV, endpoints)


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_a_first_line_cut_short_is_started_afresh(tmp_path: Path, fmt: Format) -> None:
    endpoints = lists(tmp_path)
    path = tmp_path / f"report.{fmt}"
    write(path, fmt, [row(next(iter(endpoints)))])
    path.write_bytes(path.read_bytes()[:20])
    resume = prepare(str(path), fmt, endpoints)
    assert (resume.rows, resume.keep_bytes, resume.dropped) == (0, 0, 1)
    resume_and_finish(path, fmt, endpoints)
    assert read_back(path, fmt) == [row(e) for e in endpoints]
    if fmt is Format.CSV:
        assert path.read_bytes().count(HEADER) == 1


@pytest.mark.parametrize(("fmt", "text"), [(Format.CSV, b"hello"), (Format.JSONL, b'{"a": 1')])
def test_a_line_cut_short_that_starts_no_report_is_refused(
    tmp_path: Path, fmt: Format, text: bytes
) -> None:
    path = tmp_path / f"notes.{fmt}"
    path.write_bytes(text)
    message = rf"^{path}:1: not a snisweep report \(its one line, without a line end, is not"
    with pytest.raises(UsageError, match=message):
        prepare(str(path), fmt, lists(tmp_path))
    assert path.read_bytes() == text


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_a_report_of_another_version_is_refused(tmp_path: Path, fmt: Format) -> None:
    endpoints = lists(tmp_path)
    path = tmp_path / f"report.{fmt}"
    write(path, fmt, [row(e) for e in endpoints])
    if fmt is Format.CSV:
        lines = path.read_bytes().split(b"\r\n", 1)
        path.write_bytes(lines[0].removesuffix(b",advice") + b"\r\n" + lines[1])
    else:
        path.write_bytes(path.read_bytes().replace(b', "advice": ""}', b"}"))
    message = (
        f"{path}: a report of another snisweep version (its columns differ from this "
        "version's: missing advice); --resume appends only to a report of this version"
    )
    with pytest.raises(UsageError) as caught:
        prepare(str(path), fmt, endpoints)
    assert str(caught.value) == message


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_a_row_of_other_lists_is_refused(tmp_path: Path, fmt: Format) -> None:
    endpoints = lists(tmp_path)
    stranger = Endpoint("z.example.test", 443, sni="z.example.test")
    path = tmp_path / f"report.{fmt}"
    write(path, fmt, [row(next(iter(endpoints))), row(stranger)])
    line = 4 if fmt is Format.CSV else 2
    message = (
        f"{path}:{line}: z.example.test:443 at 192.0.2.1 is not in the endpoint lists: this "
        "report came from other lists; --resume needs the same lists (or another -o)"
    )
    with pytest.raises(UsageError) as caught:
        prepare(str(path), fmt, endpoints)
    assert str(caught.value) == message


def test_a_row_of_another_shard_says_so(tmp_path: Path) -> None:
    path = tmp_path / "report.jsonl"
    stranger = Endpoint("z.example.test", 443, sni="z.example.test")
    write(path, Format.JSONL, [row(stranger, shard="2/3")])
    with pytest.raises(UsageError, match=r"other lists \(or another --shard: the row is of shard"):
        prepare(str(path), Format.JSONL, lists(tmp_path))


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_a_malformed_row_in_the_middle_is_refused_with_its_line(
    tmp_path: Path, fmt: Format
) -> None:
    endpoints = lists(tmp_path)
    path = tmp_path / f"report.{fmt}"
    write(path, fmt, [row(e) for e in endpoints])
    data = path.read_bytes()
    if fmt is Format.CSV:
        path.write_bytes(data.replace(b"b.example.test,443,", b"b.example.test,4x3,", 1))
        where = f"{path}:4: malformed row: port: not a whole number: '4x3'"
    else:
        first, second, rest = data.split(b"\n", 2)
        second = second.replace(b'"port": 443', b'"port": "443"')
        path.write_bytes(b"\n".join([first, second, rest]))
        where = f"{path}:2: malformed row: port: not a whole number: '443'"
    with pytest.raises(UsageError) as caught:
        prepare(str(path), fmt, endpoints)
    assert str(caught.value).startswith(where + "; --resume goes on only with a report whose")


def test_a_file_that_is_no_report_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_bytes(b"name,value\r\nx,1\r\n")
    with pytest.raises(UsageError, match=rf"^{path}:1: not a snisweep report: "):
        prepare(str(path), Format.CSV, lists(tmp_path))


@pytest.mark.parametrize(("written", "asked"), [(Format.JSONL, Format.CSV), (Format.CSV, "jsonl")])
def test_a_report_in_the_other_format_is_refused(
    tmp_path: Path, written: Format, asked: str
) -> None:
    endpoints = lists(tmp_path)
    path = tmp_path / "report"
    write(path, written, [row(e) for e in endpoints])
    message = f"^{path} holds {written}, and this scan writes {asked}: give the --format"
    with pytest.raises(UsageError, match=message):
        prepare(str(path), Format(asked), endpoints)


def test_a_workbook_and_standard_output_are_refused(tmp_path: Path) -> None:
    endpoints = lists(tmp_path)
    with pytest.raises(UsageError, match=r"^-o r\.xlsx: a workbook cannot be resumed"):
        prepare("r.xlsx", Format.XLSX, endpoints)
    with pytest.raises(UsageError, match=r"not standard output: give -o FILE$"):
        prepare("-", Format.CSV, endpoints)
    with pytest.raises(UsageError, match=r"^-o r\.xlsx: a workbook cannot be appended to"):
        writer_for("r.xlsx", Format.XLSX, appending=Appending(0, 0))
    with pytest.raises(UsageError, match=r"^standard output cannot be appended to"):
        writer_for("-", Format.CSV, appending=Appending(0, 0))


def test_a_report_that_cannot_be_read_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=rf"^cannot resume {tmp_path}: cannot read: is a dir"):
        prepare(str(tmp_path), Format.CSV, lists(tmp_path))


# --- matching rows to endpoints ---------------------------------------------------------------

ADDRESSES = """\
endpoints:
  - host: d.example.test
    address: 192.0.2.4
  - host: d.example.test
    address: 192.0.2.5
  - host: d.example.test
    address: 192.0.2.6
  - e.example.test
  - host: e.example.test
    address: 192.0.2.9
  - host: m.example.test
    all_addresses: true
"""


def hosts_left(tmp_path: Path, records: Sequence[Record]) -> list[tuple[str, str | None]]:
    endpoints = lists(tmp_path, ADDRESSES)
    path = tmp_path / "report.jsonl"
    write(path, Format.JSONL, records)
    resume = prepare(str(path), Format.JSONL, endpoints)
    remaining = resume.remaining(endpoints)
    left = [(e.host, e.address) for e in remaining]
    assert remaining.count == len(left)
    assert resume.endpoints == endpoints.count - len(left)
    return left


def test_an_endpoint_given_an_address_is_done_by_its_row(tmp_path: Path) -> None:
    d5 = list(lists(tmp_path, ADDRESSES))[1]
    assert hosts_left(tmp_path, [row(d5, "192.0.2.5")]) == [
        ("d.example.test", "192.0.2.4"),
        ("d.example.test", "192.0.2.6"),
        ("e.example.test", None),
        ("e.example.test", "192.0.2.9"),
        ("m.example.test", None),
    ]


def test_rows_without_an_address_do_the_first_endpoints_given_one(tmp_path: Path) -> None:
    # An unresolvable proxy: nothing was dialled, and the rows do not say which address.
    d4, d5, *_ = lists(tmp_path, ADDRESSES)
    left = hosts_left(tmp_path, [row(d5, "192.0.2.5"), row(d4, None)])
    assert left[:1] == [("d.example.test", "192.0.2.6")]
    assert len(left) == 4


def test_a_resolved_endpoint_and_one_given_the_address_it_dialled(tmp_path: Path) -> None:
    *_, e, e9, _ = lists(tmp_path, ADDRESSES)
    both = hosts_left(tmp_path, [row(e, "192.0.2.9"), row(e9, "192.0.2.9")])
    assert ("e.example.test", None) not in both
    assert ("e.example.test", "192.0.2.9") not in both
    one = hosts_left(tmp_path, [row(e, "192.0.2.9")])
    assert ("e.example.test", "192.0.2.9") not in one  # the one given it is taken first
    assert ("e.example.test", None) in one
    unresolved = hosts_left(tmp_path, [row(e, None)])
    assert ("e.example.test", None) not in unresolved
    assert ("e.example.test", "192.0.2.9") in unresolved


def test_an_endpoint_scanned_at_each_address_is_done_by_any_of_its_rows(tmp_path: Path) -> None:
    *_, m = lists(tmp_path, ADDRESSES)
    rows = [row(m, "192.0.2.20"), row(m, "2001:db8::20")]
    assert ("m.example.test", None) not in hosts_left(tmp_path, rows)


def test_a_row_held_twice_is_let_be(tmp_path: Path) -> None:
    d4, *_ = lists(tmp_path, ADDRESSES)
    left = hosts_left(tmp_path, [row(d4, "192.0.2.4"), row(d4, "192.0.2.4")])
    assert ("d.example.test", "192.0.2.4") not in left
    assert len(left) == 5


# --- appending --------------------------------------------------------------------------------


def test_excel_csv_is_appended_to_in_its_own_separator_without_a_second_bom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = lists(tmp_path)
    everything = list(endpoints)
    path = tmp_path / "report.csv"
    with monkeypatch.context() as where:  # written where the decimal separator is a comma
        where.setattr(writers, "excel_delimiter", lambda: ";")
        write(path, Format.CSV, [row(e) for e in everything[:2]], excel=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfhost;port;")
    for excel in (True, False):  # resumed with or without --excel-csv, in a ',' locale
        resume = prepare(str(path), Format.CSV, endpoints)
        assert resume.delimiter == ";"
        write(path, Format.CSV, [], excel=excel, appending=resume.appending)
    resume = prepare(str(path), Format.CSV, endpoints)
    records = [row(e) for e in resume.remaining(endpoints)]
    write(path, Format.CSV, records, excel=True, appending=resume.appending)
    data = path.read_bytes()
    assert data.count(b"\xef\xbb\xbf") == 1
    assert data.count(b"host;port;") == 1
    assert b"c.example.test;8443;" in data
    assert read_back(path, Format.CSV) == [row(e) for e in everything]


def test_a_fresh_excel_csv_gets_its_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    resume = prepare(str(path), Format.CSV, lists(tmp_path))
    write(path, Format.CSV, [], excel=True, appending=resume.appending)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfhost")


def test_a_report_changed_since_it_was_read_is_not_written_over(tmp_path: Path) -> None:
    endpoints = lists(tmp_path)
    path = tmp_path / "report.jsonl"
    write(path, Format.JSONL, [row(next(iter(endpoints)))])
    resume = prepare(str(path), Format.JSONL, endpoints)
    with path.open("ab") as file:
        file.write(b"{}\n")
    before = path.read_bytes()
    with pytest.raises(OutputError, match=r"it changed since it was read \(\d+ bytes then"):
        write(path, Format.JSONL, [row(e) for e in endpoints], appending=resume.appending)
    assert path.read_bytes() == before


def test_appending_is_refused_beyond_the_end() -> None:
    with pytest.raises(ValueError, match="appending at 5 of a file of 4 bytes"):
        Appending(5, 4)


class FillingAppendedFile:
    """A file opened for appending that already holds ``data``, on a device with ``room``
    bytes: a write that crosses it writes what fits, the next one fails with ENOSPC."""

    def __init__(self, data: bytes, room: int) -> None:
        self.data = bytearray(data)
        self.room = room

    async def seek(self, offset: int, whence: int = 0) -> int:
        return len(self.data)

    async def truncate(self, size: int) -> None:
        del self.data[size:]

    async def write(self, data: memoryview) -> int:
        free = self.room - len(self.data)
        if free <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.data += bytes(data[:free])
        return min(free, len(data))

    async def close(self) -> None:
        pass


def test_an_append_that_does_not_fit_keeps_the_old_rows_and_the_new_whole_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoder = encoder_for(Format.CSV)
    endpoints = [Endpoint(f"h{i}.example.test", 443) for i in range(6)]
    old = (encoder.header() + encoder.rows([row(e) for e in endpoints[:2]])).encode()
    new = [encoder.rows([row(e)]).encode() for e in endpoints[2:]]
    cut_short = old + b"h2.exa"  # the last row was cut short: cut back, and written again
    file = FillingAppendedFile(cut_short, len(old) + len(new[0]) + len(new[1]) + 5)

    async def fake_open(*args: Any, **kwargs: Any) -> FillingAppendedFile:
        assert args[1] == "ab"
        return file

    monkeypatch.setattr(aiofiles, "open", fake_open)
    writer = ReportWriter("report.csv", Format.CSV, appending=Appending(len(old), len(cut_short)))

    async def scan() -> None:
        await writer.open()
        try:
            await writer.write([row(e) for e in endpoints[2:]])
        finally:
            await writer.close()

    with pytest.raises(OutputError, match=r"^cannot write report\.csv: no space left on device$"):
        anyio.run(scan)
    assert bytes(file.data) == old + new[0] + new[1]


# --- with the scheduler -----------------------------------------------------------------------


async def scan_into(
    path: Path, endpoints: Iterable[Endpoint], appending: Appending | None = None
) -> None:
    """Scan ``endpoints`` into the CSV report at ``path``, as a scan does, with scripted
    answers: every connection refused, e.example.test at two addresses."""
    refused = Failure(FailureKind.CONNECT_REFUSED, "connection refused")
    resolver = ScriptedResolver({"e.example.test": ("192.0.2.20", "192.0.2.21")})
    scanner = Scanner(ScriptedProber(refused), resolver)
    writer = writer_for(str(path), Format.CSV, appending=appending)
    send, receive = anyio.create_memory_object_stream[Record](16)
    try:
        await writer.open()
        async with anyio.create_task_group() as group:
            group.start_soon(scanner.run, endpoints, send)
            await drain(receive, writer.write)
    finally:
        await writer.close()


def test_a_scan_stopped_and_resumed_holds_each_row_once(tmp_path: Path) -> None:
    endpoints = lists(tmp_path)
    whole, path = tmp_path / "whole.csv", tmp_path / "report.csv"
    anyio.run(scan_into, whole, endpoints)
    anyio.run(scan_into, path, list(endpoints)[:3])  # a scan stopped after three endpoints
    path.write_bytes(path.read_bytes()[:-7])  # and the last row cut short
    resume = prepare(str(path), Format.CSV, endpoints)
    assert (resume.rows, resume.dropped) == (2, 4)
    remaining = resume.remaining(endpoints)
    assert (remaining.count, remaining.done, remaining.total) == (3, 2, 5)
    anyio.run(scan_into, path, remaining, resume.appending)
    rows = read_back(path, Format.CSV)
    assert len(rows) == 6  # e.example.test at both of its addresses
    assert sorted(map(key, rows)) == sorted(map(key, read_back(whole, Format.CSV)))
    assert path.read_bytes().count(HEADER) == 1
