"""Merging reports: reading rows back, the refusals, and the command end to end. No sockets."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snisweep.report.merge
import snisweep.report.readers
from snisweep.cli import main
from snisweep.core.record import COLUMNS, Record
from snisweep.model import Reason, Verdict
from snisweep.report.readers import ROWS_SHOWN_PER_REPORT, Flaw, Row, detect_format, parse_report
from snisweep.report.writers import CSVEncoder, Format, JSONLEncoder, ReportWriter, format_for

HEADER = ",".join(COLUMNS) + "\r\n"
T = TypeVar("T")


def record(host: str = "api.example.com", shard: str | None = None, **changes: Any) -> Record:
    """A row with every kind of cell: formula-like texts, tricky labels, lists, None, negative
    numbers, booleans."""
    fields: dict[str, object] = {
        "host": host,
        "port": 443,
        "address": "192.0.2.5",
        "sni": host,
        "label": 'Billing, "SOAP"\nline two',
        "tags": ("nightly", "-billing"),
        "verdict": Verdict.MISMATCHED,
        "reason": Reason.DEFAULT_CERTIFICATE,
        "detail": "-without SNI the server presents another certificate",
        "sni_tls_version": "TLSv1.3",
        "sni_cipher": "TLS_AES_256_GCM_SHA384",
        "sni_cert_sha256": "ab" * 32,
        "sni_cert_subject": '=HYPERLINK("http://evil.example","x")',
        "sni_cert_issuer": "+CN=Test CA",
        "sni_cert_sans": ("@api.example.com", "www.example.com"),
        "sni_cert_not_after": "2026-12-27T17:00:00Z",
        "sni_cert_days_left": -3,
        "sni_cert_covers_host": True,
        "sni_error": None,
        "nosni_tls_version": "TLSv1.2",
        "nosni_cert_sha256": "cd" * 32,
        "nosni_cert_subject": "\tCN=default.example.net",
        "nosni_cert_sans": ("default.example.net",),
        "nosni_cert_covers_host": False,
        "nosni_error": None,
        "attempts": 2,
        "elapsed_ms": 17,
        "scanned_at": "2026-11-27T12:00:00Z",
        "shard": shard,
    }
    fields.update(changes)
    return Record(**fields)  # type: ignore[arg-type]


def write_report(path: Path, records: Sequence[Record], fmt: Format | None = None) -> Path:
    """A report as a scan writes it: the real writer and encoders."""

    async def write() -> None:
        writer = ReportWriter(str(path), format_for(str(path), fmt))
        await writer.open()
        await writer.write(records)
        await writer.close()

    anyio.run(write)
    return path


def csv_text(records: Sequence[Record]) -> str:
    return CSVEncoder().header() + CSVEncoder().rows(records)


def jsonl_text(records: Sequence[Record]) -> str:
    return JSONLEncoder().rows(records)


def merge(*args: str | Path) -> int:
    return main(["merge", *map(str, args)])


# --- reading rows back --------------------------------------------------------------------------


def parse(text: str, fmt: Format) -> list[Record]:
    entries = list(parse_report(io.BytesIO(text.encode()), fmt))
    assert all(isinstance(entry, Row) for entry in entries), entries
    return [entry.record for entry in entries if isinstance(entry, Row)]


def test_a_neutralised_cell_loses_its_apostrophe_once() -> None:
    rows = [
        record(sni_cert_subject="=1+1", nosni_cert_subject="'=1+1", label="'quoted", sni=None),
        record("b.example.com", sni_cert_subject="'plain", label="-", tags=()),
    ]
    back = parse(csv_text(rows), Format.CSV)
    assert back[0].sni_cert_subject == "=1+1"
    # A text that starts with an apostrophe gets a second one, so "'=1+1" comes back as it was.
    assert back[0].nosni_cert_subject == "'=1+1"
    assert back[0].label == "'quoted"
    assert back[0].sni is None
    assert back[1].sni_cert_subject == "'plain"
    assert back[1].label == "-"
    assert back[1].tags == ()
    assert CSVEncoder().rows(back) == CSVEncoder().rows(rows)


def test_json_values_come_back_exactly() -> None:
    rows = [record(), record("b.example.com", sni_cert_sans=(), label="", shard="2/3")]
    assert parse(jsonl_text(rows), Format.JSONL) == rows


texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
lists = st.lists(texts, max_size=3).map(tuple)
numbers = st.integers(-(2**63), 2**63)


def optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


shards = st.integers(1, 50).flatmap(lambda n: st.integers(1, n).map(lambda i: f"{i}/{n}"))
records = st.builds(
    Record,
    host=texts,
    port=st.integers(1, 65535),
    address=optional(texts),
    sni=optional(texts),
    label=optional(texts),
    tags=lists,
    verdict=st.sampled_from(Verdict),
    reason=st.sampled_from(Reason),
    detail=texts,
    sni_tls_version=optional(texts),
    sni_cipher=optional(texts),
    sni_cert_sha256=optional(texts),
    sni_cert_subject=optional(texts),
    sni_cert_issuer=optional(texts),
    sni_cert_sans=optional(lists),
    sni_cert_not_after=optional(texts),
    sni_cert_days_left=optional(numbers),
    sni_cert_covers_host=optional(st.booleans()),
    sni_error=optional(texts),
    nosni_tls_version=optional(texts),
    nosni_cert_sha256=optional(texts),
    nosni_cert_subject=optional(texts),
    nosni_cert_sans=optional(lists),
    nosni_cert_covers_host=optional(st.booleans()),
    nosni_error=optional(texts),
    attempts=numbers,
    elapsed_ms=numbers,
    scanned_at=texts,
    shard=optional(shards),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(records, max_size=4))
def test_every_record_reads_back(rows: list[Record]) -> None:
    # JSON keeps every value; CSV keeps every cell (it cannot tell None from "" or (), nor
    # "'=x" from "=x"), also through a detour via JSON.
    assert parse(jsonl_text(rows), Format.JSONL) == rows
    csv_rows = CSVEncoder().rows(rows)
    back = parse(csv_text(rows), Format.CSV)
    assert CSVEncoder().rows(back) == csv_rows
    assert CSVEncoder().rows(parse(jsonl_text(back), Format.JSONL)) == csv_rows


def test_every_column_is_read_back() -> None:
    assert set(snisweep.report.readers._KINDS) == set(COLUMNS)


@pytest.mark.parametrize(
    ("path", "start", "fmt"),
    [
        ("a.csv", b"{", Format.CSV),
        ("a.JSONL", b"host", Format.JSONL),
        ("a.ndjson", b"", Format.JSONL),
        ("report", b'{"host"', Format.JSONL),
        ("report.txt", b"\xef\xbb\xbf{", Format.JSONL),
        ("report", b"host,port", Format.CSV),
        ("report", b"", Format.CSV),
    ],
)
def test_detect_format(path: str, start: bytes, fmt: Format) -> None:
    assert detect_format(path, start) is fmt


def test_a_byte_order_mark_is_accepted() -> None:
    text = "\ufeff" + csv_text([record()])
    assert parse(text, Format.CSV) == parse(csv_text([record()]), Format.CSV)


# --- merging ------------------------------------------------------------------------------------


def shard_reports(tmp_path: Path, count: int = 3, suffixes: str = "csv") -> list[Path]:
    """Shard I of ``count`` holds two endpoints, in CSV or JSONL by turns of ``suffixes``."""
    kinds = suffixes.split(",")
    return [
        write_report(
            tmp_path / f"shard-{i}.{kinds[(i - 1) % len(kinds)]}",
            [record(f"h{i}-{j}.example.com", shard=f"{i}/{count}") for j in (1, 2)],
        )
        for i in range(1, count + 1)
    ]


def all_records(count: int = 3) -> list[Record]:
    return [
        record(f"h{i}-{j}.example.com", shard=f"{i}/{count}")
        for i in range(1, count + 1)
        for j in (1, 2)
    ]


def test_csv_to_csv_keeps_every_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = shard_reports(tmp_path)
    out = tmp_path / "all.csv"
    assert merge(*reports, "-o", out) == 0
    assert out.read_bytes() == csv_text(all_records()).encode()
    assert capsys.readouterr().err == (
        f"snisweep merge: merged 3 report(s), 6 row(s) (shards 1-3 of 3) into {out}\n"
    )


def test_jsonl_and_csv_to_csv(tmp_path: Path) -> None:
    reports = shard_reports(tmp_path, suffixes="jsonl,csv")
    out = tmp_path / "all.csv"
    assert merge(*reports, "-o", out, "--quiet") == 0
    assert out.read_bytes() == csv_text(all_records()).encode()


def test_csv_to_jsonl_carries_the_original_values(tmp_path: Path) -> None:
    reports = shard_reports(tmp_path, suffixes="csv,ndjson")
    out = tmp_path / "all.jsonl"
    assert merge(*reports, "-o", out, "--quiet") == 0
    assert out.read_text(encoding="utf-8") == jsonl_text(all_records())
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["sni_cert_subject"] == '=HYPERLINK("http://evil.example","x")'
    assert first["sni_cert_sans"] == ["@api.example.com", "www.example.com"]
    assert first["sni_cert_days_left"] == -3
    assert first["sni_error"] is None


def test_format_option_overrides_the_extension(tmp_path: Path) -> None:
    reports = shard_reports(tmp_path)
    out = tmp_path / "all.csv"
    assert merge(*reports, "-o", out, "--format", "jsonl", "--quiet") == 0
    assert out.read_text(encoding="utf-8") == jsonl_text(all_records())


def test_merge_to_standard_output(tmp_path: Path) -> None:
    reports = shard_reports(tmp_path, suffixes="jsonl")
    result = subprocess.run(
        [sys.executable, "-m", "snisweep", "merge", *map(str, reports)],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == csv_text(all_records()).encode()
    assert b"(shards 1-3 of 3) into standard output" in result.stderr


def test_unsharded_reports_merge_when_they_do_not_overlap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_report(tmp_path / "a.csv", [record("a.example.com")])
    b = write_report(tmp_path / "b.jsonl", [record("b.example.com"), record("c.example.com")])
    # The same host at another port or address is another endpoint.
    c = write_report(tmp_path / "c.csv", [record("a.example.com", port=8443)])
    out = tmp_path / "all.csv"
    assert merge(a, b, c, "-o", out) == 0
    assert "merged 3 report(s), 4 row(s) into" in capsys.readouterr().err


def test_empty_reports_merge(tmp_path: Path) -> None:
    a = write_report(tmp_path / "a.csv", [])
    b = write_report(tmp_path / "b.jsonl", [])
    out = tmp_path / "all.csv"
    assert merge(a, b, "-o", out, "--quiet") == 0
    assert out.read_bytes() == HEADER.encode()


def test_a_merged_report_merges_with_the_rest(tmp_path: Path) -> None:
    one, two, three = shard_reports(tmp_path)
    first_two = tmp_path / "first-two.csv"
    assert merge(one, two, "-o", first_two, "--allow-missing", "--quiet") == 0
    out = tmp_path / "all.csv"
    assert merge(first_two, three, "-o", out, "--quiet") == 0
    assert out.read_bytes() == csv_text(all_records()).encode()


# --- refusals -----------------------------------------------------------------------------------


# A 0.1 report: no columns after ``shard``.
OLD_VERSION_HEADER = ",".join(COLUMNS[: COLUMNS.index("shard") + 1]) + "\r\n"


def csv_row(**changes: Any) -> str:
    return CSVEncoder().rows([record("bad.example.com", **changes)])


def replace_cell(row: str, column: str, cell: str) -> str:
    cells = row.rstrip("\r\n").split(",")
    cells[COLUMNS.index(column)] = cell
    return ",".join(cells) + "\r\n"


# No cell with a comma or a newline, so that ``replace_cell`` can split it on commas.
SIMPLE = CSVEncoder().rows(
    [record("bad.example.com", label="simple", detail="simple", sni_cert_subject="=CN=x")]
)
SIMPLE_JSON = json.loads(jsonl_text([record("bad.example.com")]))


def json_line(**changes: object) -> str:
    return json.dumps({**SIMPLE_JSON, **changes}) + "\n"


def without(key: str) -> str:
    return json.dumps({k: v for k, v in SIMPLE_JSON.items() if k != key}) + "\n"


BAD_FILES: list[tuple[str, str | bytes, str]] = [
    ("bad.csv", "", "bad.csv:1: empty file: not a snisweep report (it has no CSV header)"),
    ("bad.csv", "name,value\r\na,1\r\n", "bad.csv:1: not a snisweep report"),
    ("bad.csv", SIMPLE, "bad.csv:1: not a snisweep report: the first line is not"),
    (
        "bad.csv",
        # An earlier version's header reads (its missing columns empty), but not a row of
        # this version's width under it.
        OLD_VERSION_HEADER + SIMPLE,
        f"bad.csv:2: malformed row: {len(COLUMNS)} cells instead of {COLUMNS.index('shard') + 1}",
    ),
    (
        "bad.csv",
        ",".join(COLUMNS[: COLUMNS.index("scanned_at")]) + "\r\n" + SIMPLE,
        "bad.csv:1: a report of another snisweep version: its columns differ from this "
        "version's: missing scanned_at, shard",
    ),
    (
        "bad.csv",
        HEADER.replace("host,port", "port,host") + SIMPLE,
        "bad.csv:1: a report of another snisweep version: the same columns, in another order",
    ),
    (
        "bad.csv",
        HEADER.replace("\r\n", ",extra\r\n"),
        "bad.csv:1: a report of another snisweep version: its columns differ from this "
        "version's: unexpected 'extra'",
    ),
    (
        "bad.csv",
        HEADER + SIMPLE + replace_cell(SIMPLE, "verdict", "maybe"),
        "bad.csv:3: malformed row: verdict: not a known value: 'maybe'",
    ),
    (
        "bad.csv",
        HEADER + replace_cell(SIMPLE, "reason", "nosni-whatever"),
        "bad.csv:2: malformed row: reason: not a known value: 'nosni-whatever'",
    ),
    (
        "bad.csv",
        HEADER + SIMPLE.replace("\r\n", ",surplus\r\n"),
        f"bad.csv:2: malformed row: {len(COLUMNS) + 1} cells instead of {len(COLUMNS)}",
    ),
    (
        "bad.csv",
        HEADER + replace_cell(SIMPLE, "port", "https"),
        "bad.csv:2: malformed row: port: not a whole number: 'https'",
    ),
    (
        "bad.csv",
        HEADER + replace_cell(SIMPLE, "port", "70000"),
        "bad.csv:2: malformed row: port: out of range 1..65535: 70000",
    ),
    (
        "bad.csv",
        HEADER + replace_cell(SIMPLE, "shard", "4/3"),
        "bad.csv:2: malformed row: shard: not I/N with 1 <= I <= N: '4/3'",
    ),
    (
        "bad.csv",
        HEADER + replace_cell(SIMPLE, "sni_cert_covers_host", "yes"),
        "bad.csv:2: malformed row: sni_cert_covers_host: not true or false: 'yes'",
    ),
    ("bad.csv", HEADER + "\r\n", "bad.csv:2: an empty line: a snisweep report has none"),
    (
        "bad.csv",
        HEADER + SIMPLE + SIMPLE[:-30],
        "bad.csv:3: the last line has no line end: the report was cut short",
    ),
    ("bad.csv", HEADER[:-2], "bad.csv:1: the last line has no line end"),
    ("bad.csv", HEADER + csv_row()[:25], "bad.csv:2: the last line has no line end"),
    ("bad.csv", HEADER + '"unclosed\r\n', "bad.csv:2: not readable as CSV: unexpected end"),
    ("bad.csv", b"host,\xff\r\n", "bad.csv:1: not UTF-8 text"),
    ("bad.jsonl", "[]\n", "bad.jsonl:1: not a snisweep report: the first line is not a JSON"),
    ("bad.jsonl", "host,port\n", "bad.jsonl:1: not a snisweep report"),
    (
        "bad.jsonl",
        without("shard"),
        "bad.jsonl:1: a report of another snisweep version: its columns differ from this "
        "version's: missing shard",
    ),
    ("bad.jsonl", json_line() + "[1, 2]\n", "bad.jsonl:2: malformed row: not a JSON object"),
    ("bad.jsonl", json_line() + '{"host": \n', "bad.jsonl:2: malformed row: not JSON:"),
    (
        "bad.jsonl",
        json_line() + without("sni"),
        "bad.jsonl:2: malformed row: its columns differ from this version's: missing sni",
    ),
    (
        "bad.jsonl",
        json_line(verdict="Required"),
        "bad.jsonl:1: malformed row: verdict: not a known value: 'Required'",
    ),
    (
        "bad.jsonl",
        json_line(port="443", attempts=True, sni_cert_covers_host=1, tags="a;b"),
        "bad.jsonl:1: malformed row: port: not a whole number: '443'; tags: not a list of "
        "texts: 'a;b'; sni_cert_covers_host: not true or false or null: 1; attempts: not a "
        "whole number: true",
    ),
    ("bad.jsonl", json_line(host=None), "bad.jsonl:1: malformed row: host: not text: null"),
    ("bad.jsonl", json_line() + "\n", "bad.jsonl:2: malformed row: not JSON"),
    ("bad.jsonl", json_line()[:-1], "bad.jsonl:1: the last line has no line end"),
    (
        "bad.jsonl",
        json_line()[:-2] + ', "port": 1}\n',
        "bad.jsonl:1: not a snisweep report",  # a key twice
    ),
    ("bad.jsonl", json_line(elapsed_ms=float("nan")), "bad.jsonl:1: not a snisweep report"),
    ("bad", b"{\x00\xff}\n", "bad:1: not UTF-8 text"),
]


@pytest.fixture
def existing_output(tmp_path: Path) -> Path:
    out = tmp_path / "out.csv"
    out.write_text("what was there before\n", encoding="utf-8")
    return out


def refuse(capsys: pytest.CaptureFixture[str], *args: str | Path, exit_code: int = 2) -> list[str]:
    """Runs a merge that must be refused; returns the lines of standard error."""
    assert merge(*args) == exit_code
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


@pytest.mark.parametrize(("name", "text", "problem"), BAD_FILES)
def test_a_bad_report_is_refused_with_its_line(
    *,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    existing_output: Path,
    name: str,
    text: str | bytes,
    problem: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path(name).write_bytes(text if isinstance(text, bytes) else text.encode())
    new_output = tmp_path / "new.csv"
    for output in (existing_output, new_output):
        err = refuse(capsys, name, "-o", output)
        assert any(line.startswith(problem) for line in err), (problem, err)
        assert err[-1].endswith("problem(s) found; nothing was written")
    assert existing_output.read_text(encoding="utf-8") == "what was there before\n"
    assert not new_output.exists()


def test_every_problem_of_every_report_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.csv").write_text(
        HEADER + replace_cell(SIMPLE, "port", "x") + replace_cell(SIMPLE, "verdict", "y"),
        encoding="utf-8",
        newline="",
    )
    Path("b.jsonl").write_text(json_line(port=0), encoding="utf-8")
    err = refuse(capsys, "a.csv", "b.jsonl", "missing.csv", "-o", "out.csv")
    assert err == [
        "a.csv:2: malformed row: port: not a whole number: 'x'",
        "a.csv:3: malformed row: verdict: not a known value: 'y'",
        "b.jsonl:1: malformed row: port: out of range 1..65535: 0",
        "missing.csv: cannot read: no such file or directory",
        "snisweep: 4 problem(s) found; nothing was written",
    ]
    assert not Path("out.csv").exists()


def test_row_problems_are_capped_per_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = replace_cell(SIMPLE, "verdict", "maybe")
    Path("a.csv").write_text(HEADER + bad * (ROWS_SHOWN_PER_REPORT + 5), encoding="utf-8")
    err = refuse(capsys, "a.csv")
    assert len(err) == ROWS_SHOWN_PER_REPORT + 2
    assert err[-2] == "a.csv: 5 more problem(s) in this report not shown"


def test_overlapping_reports_are_refused_naming_both_places(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_report(Path("a.csv"), [record("a.example.com"), record("b.example.com")])
    write_report(
        Path("b.jsonl"),
        [record("c.example.com"), record("b.example.com", verdict=Verdict.OPTIONAL)],
    )
    assert refuse(capsys, "a.csv", "b.jsonl", "-o", "out.csv") == [
        "b.jsonl:2: b.example.com:443 at 192.0.2.5 is also in a.csv:4: the reports overlap",
        "snisweep: 1 problem(s) found; nothing was written",
    ]


def test_an_endpoint_is_host_port_sni_and_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    base = record("a.example.com")
    write_report(Path("a.csv"), [base])
    write_report(
        Path("b.csv"),
        [
            dataclasses.replace(base, port=8443),
            dataclasses.replace(base, sni="internal.example.com"),
            dataclasses.replace(base, address="192.0.2.6"),
            dataclasses.replace(base, address=None),
        ],
    )
    assert merge("a.csv", "b.csv", "-o", "out.csv", "--quiet") == 0
    write_report(Path("c.jsonl"), [dataclasses.replace(base, label="another label")])
    err = refuse(capsys, "a.csv", "c.jsonl")
    assert err[0] == "c.jsonl:1: a.example.com:443 at 192.0.2.5 is also in a.csv:2: the " + (
        "reports overlap"
    )


def test_the_same_file_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_report(Path("a.csv"), [record()])
    Path("link.csv").symlink_to("a.csv")
    assert refuse(capsys, "a.csv", "./a.csv", "link.csv", "-o", "out.csv") == [
        "./a.csv: the same file as a.csv, given twice",
        "link.csv: the same file as a.csv, given twice",
        "snisweep: 2 problem(s) found; nothing was written",
    ]


SHARD_CASES: list[tuple[list[tuple[str, list[Record]]], list[str]]] = [
    (  # shards of two scans with different counts
        [
            ("s1.csv", [record("a", "1/2")]),
            ("s2.csv", [record("b", "2/2")]),
            ("t3.csv", [record("c", "3/3")]),
        ],
        [
            "t3.csv:2: shard 3/3, but s1.csv:2 is shard 1/2: shards of scans with different "
            "shard counts cannot be merged"
        ],
    ),
    (  # sharded, then unsharded
        [("s1.csv", [record("a", "1/2")]), ("s2.csv", [record("b", "2/2"), record("c")])],
        [
            # Rows start on every other line: the label holds a line break.
            "s2.csv:4: an unsharded row (empty shard), but s1.csv:2 is shard 1/2: sharded and "
            "unsharded reports cannot be merged"
        ],
    ),
    (  # unsharded, then sharded
        [("all.csv", [record("a")]), ("s2.jsonl", [record("b", "2/2")])],
        [
            "s2.jsonl:1: a row of shard 2/2, but all.csv:2 is unsharded: sharded and unsharded "
            "reports cannot be merged"
        ],
    ),
    (  # one shard in two reports (a rerun, say)
        [
            ("s1.csv", [record("a", "1/2")]),
            ("s2.csv", [record("b", "2/2")]),
            ("s2-again.csv", [record("c", "2/2")]),
        ],
        ["s2-again.csv:2: shard 2/2 is also in s2.csv:2: each shard must come from one report"],
    ),
    (  # missing shards
        [("s2.csv", [record("b", "2/5")]), ("s4.jsonl", [record("d", "4/5")])],
        [
            "s2.csv:2: shard 2/5, but shard(s) 1, 3, 5 of 5 are in none of the reports; give "
            "every shard's report, or merge anyway with --allow-missing"
        ],
    ),
    (  # a missing shard, and an empty report that may be that shard, or not
        [
            ("s1.csv", [record("a", "1/3")]),
            ("s2.csv", []),
            ("s3.csv", [record("c", "3/3")]),
        ],
        [
            "s1.csv:2: shard 1/3, but shard(s) 2 of 3 are in none of the reports (1 report(s) "
            "have no rows, so their shard is unknown); give every shard's report, or merge "
            "anyway with --allow-missing"
        ],
    ),
]


@pytest.mark.parametrize(("reports", "problems"), SHARD_CASES)
def test_shards_that_do_not_fit_together_are_refused(
    *,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    existing_output: Path,
    reports: list[tuple[str, list[Record]]],
    problems: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, rows in reports:
        write_report(Path(name), rows)
    err = refuse(capsys, *(name for name, _ in reports), "-o", existing_output)
    assert err == [*problems, f"snisweep: {len(problems)} problem(s) found; nothing was written"]
    assert existing_output.read_text(encoding="utf-8") == "what was there before\n"


def test_allow_missing_merges_what_is_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_report(Path("s2.csv"), [record("b", "2/5")])
    write_report(Path("s4.jsonl"), [record("d", "4/5"), record("e", "4/5")])
    assert merge("s2.csv", "s4.jsonl", "-o", "out.csv", "--allow-missing") == 0
    assert capsys.readouterr().err == (
        "snisweep merge: merged 2 report(s), 3 row(s) (shards 2, 4 of 5; missing 1, 3, 5) "
        "into out.csv\n"
    )
    assert (
        Path("out.csv").read_bytes()
        == csv_text([record("b", "2/5"), record("d", "4/5"), record("e", "4/5")]).encode()
    )


def test_output_over_a_report_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    one, two, _ = shard_reports(tmp_path)
    before = two.read_bytes()
    err = refuse(capsys, one, two, "-o", f"./{two.name}")
    assert err == [f"snisweep: -o ./{two.name} is one of the reports to merge; choose another file"]
    assert two.read_bytes() == before


def test_standard_input_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = refuse(capsys, "-")
    assert err == [
        "snisweep: merge reads each report twice, so it cannot read standard input: save it to "
        "a file"
    ]


def test_a_report_that_changes_between_the_passes_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_report(Path("a.csv"), [record("a")])
    write_report(Path("b.csv"), [record("b")])
    survey: Callable[[Sequence[str]], object] = snisweep.report.merge._survey

    def survey_then_change(paths: Sequence[str]) -> object:
        result = survey(paths)
        with Path("b.csv").open("a", encoding="utf-8", newline="") as file:
            file.write(CSVEncoder().rows([record("c")]))
        return result

    monkeypatch.setattr(snisweep.report.merge, "_survey", survey_then_change)
    err = refuse(capsys, "a.csv", "b.csv", "-o", "out.csv", exit_code=3)
    assert err == [
        "snisweep: b.csv changed during the merge; out.csv holds only the rows written before that"
    ]
    assert Path("out.csv").read_bytes() == csv_text([record("a")]).encode()


def test_parse_report_stops_at_a_fatal_flaw() -> None:
    entries = list(parse_report(io.BytesIO(b"name\r\n" + csv_row().encode()), Format.CSV))
    assert entries == [
        Flaw(1, "not a snisweep report: the first line is not the report's CSV header", True)
    ]


def test_a_report_written_for_excel_reads_back() -> None:
    # --excel-csv: a byte order mark, and ';' between cells in comma-decimal locales.
    rows = [record("a.example.com"), record("b.example.com", label="x;y")]
    encoder = CSVEncoder(";", bom=True)
    text = (encoder.header() + encoder.rows(rows)).encode("utf-8")
    parsed = list(parse_report(io.BytesIO(text), Format.CSV))
    assert [item.record for item in parsed if isinstance(item, Row)] == rows


def test_a_workbook_is_refused_with_a_clear_flaw() -> None:
    (flaw,) = list(parse_report(io.BytesIO(b"PK\x03\x04"), Format.XLSX))
    assert isinstance(flaw, Flaw)
    assert flaw.fatal
    assert "a workbook (.xlsx)" in flaw.message


def test_a_lone_surrogate_in_a_jsonl_report_is_a_flaw_of_its_row(tmp_path: Path) -> None:
    good = JSONLEncoder().rows([record("a.example.com")])
    bad = good.replace('"host": "a.example.com"', '"host": "a\\ud800b"', 1)
    assert bad != good
    bad_tags = good.replace('"nightly"', '"night\\udfffly"', 1)
    for text in (bad, bad_tags):
        (flaw,) = list(parse_report(io.BytesIO(text.encode()), Format.JSONL))
        assert isinstance(flaw, Flaw)
        assert "lone surrogate" in flaw.message


@pytest.mark.parametrize("fmt", [Format.CSV, Format.JSONL])
def test_a_report_of_an_earlier_version_reads_with_empty_new_columns(fmt: Format) -> None:
    # Columns are only ever appended: a report from before `advice`, `proxy`, ... still reads
    # (merge, diff, show), the columns it lacks empty; --resume reads only this version's.
    rows = [record("a.example.com", warnings=(), advice="")]
    width = COLUMNS.index("sni_http_status")  # a report of 0.1: up to `shard`
    if fmt is Format.CSV:
        text = ",".join(COLUMNS[:width]) + "\r\n"
        text += CSVEncoder().rows(rows).split("\r\n")[0].rsplit(",", len(COLUMNS) - width)[0]
        text += "\r\n"
    else:
        full = json.loads(JSONLEncoder().rows(rows))
        text = json.dumps({column: full[column] for column in COLUMNS[:width]}) + "\n"
    data = text.encode()
    (item,) = list(parse_report(io.BytesIO(data), fmt, earlier=True))
    assert isinstance(item, Row), item
    assert item.record == dataclasses.replace(rows[0], sni_http_status=None, nosni_http_status=None)
    (strict,) = list(parse_report(io.BytesIO(data), fmt))
    assert isinstance(strict, Flaw)
    assert "another snisweep version" in strict.message
