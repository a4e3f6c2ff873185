"""Comparing two reports (``snisweep.report.diff``): what counts as a change, identity across
addresses, order independence, ``--fail-on``, the renderers, refused reports. No sockets: the
reports are written by the real writer."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

import snisweep.report.diff
from snisweep.core.record import Record
from snisweep.errors import ConfigError, SnisweepError, UsageError
from snisweep.model import Reason, Verdict
from snisweep.report.diff import (
    HEADER,
    Change,
    Diff,
    DiffFormat,
    Kind,
    became,
    diff,
    exit_code,
    output_format,
    render,
)
from snisweep.report.writers import Format, ReportWriter, format_for

SHA_A = "aa" * 32
SHA_B = "bb" * 32


def record(host: str = "api.example.com", **changes: Any) -> Record:
    """An optional endpoint with a certificate; ``changes`` override any column."""
    fields: dict[str, Any] = {
        "host": host,
        "port": 443,
        "address": "192.0.2.5",
        "sni": host,
        "label": "Billing",
        "tags": ("nightly",),
        "verdict": Verdict.OPTIONAL,
        "reason": Reason.SAME_CERTIFICATE,
        "detail": "both probes got the same certificate",
        "sni_tls_version": "TLSv1.3",
        "sni_cipher": "TLS_AES_256_GCM_SHA384",
        "sni_cert_sha256": SHA_A,
        "sni_cert_subject": "CN=api.example.com",
        "sni_cert_issuer": "CN=Test CA",
        "sni_cert_sans": (host,),
        "sni_cert_not_after": "2026-12-27T17:00:00Z",
        "sni_cert_days_left": 30,
        "sni_cert_covers_host": True,
        "sni_error": None,
        "nosni_tls_version": "TLSv1.3",
        "nosni_cert_sha256": SHA_A,
        "nosni_cert_subject": "CN=api.example.com",
        "nosni_cert_sans": (host,),
        "nosni_cert_covers_host": True,
        "nosni_error": None,
        "attempts": 2,
        "elapsed_ms": 17,
        "scanned_at": "2026-11-27T12:00:00Z",
    }
    fields.update(changes)
    return Record(**fields)


def required(host: str = "api.example.com", **changes: Any) -> Record:
    values: dict[str, Any] = {
        "verdict": Verdict.REQUIRED,
        "reason": Reason.NOSNI_RESET,
        "nosni_cert_sha256": None,
        "nosni_error": "reset: connection reset by peer",
    }
    return record(host, **(values | changes))


def failed(host: str = "api.example.com", **changes: Any) -> Record:
    """An endpoint whose handshake with SNI failed: no certificate."""
    values: dict[str, Any] = {
        "verdict": Verdict.ERROR,
        "reason": Reason.CONNECT_REFUSED,
        "sni_cert_sha256": None,
        "sni_cert_not_after": None,
        "nosni_cert_sha256": None,
        "sni_error": "connect-refused: connection refused",
    }
    return record(host, **(values | changes))


def write_report(path: Path, records: Sequence[Record], fmt: Format | None = None) -> Path:
    """A report as a scan writes it: the real writer and encoders."""

    async def write() -> None:
        writer = ReportWriter(str(path), format_for(str(path), fmt))
        await writer.open()
        await writer.write(records)
        await writer.close()

    anyio.run(write)
    return path


def compare(
    tmp_path: Path,
    old: Sequence[Record],
    new: Sequence[Record],
    names: tuple[str, str] = ("old.csv", "new.csv"),
) -> Diff:
    old_path = write_report(tmp_path / names[0], old)
    new_path = write_report(tmp_path / names[1], new)
    return diff(str(old_path), str(new_path))


def rendered(result: Diff, fmt: DiffFormat, columns: int | None = None) -> str:
    out = io.StringIO(newline="")
    render(result, fmt, out, columns=columns)
    return out.getvalue()


def only(result: Diff) -> Change:
    assert len(result.changes) == 1, result.changes
    return result.changes[0]


# --- what counts as a change ------------------------------------------------------------------


def test_a_verdict_change_carries_both_sides(tmp_path: Path) -> None:
    change = only(compare(tmp_path, [record()], [required()]))
    assert change.kinds == (Kind.VERDICT,)
    assert (change.host, change.port, change.sni, change.address) == (
        "api.example.com",
        443,
        "api.example.com",
        "192.0.2.5",
    )
    assert change.old is not None
    assert change.new is not None
    assert (change.old.verdict, change.old.reason) == (Verdict.OPTIONAL, Reason.SAME_CERTIFICATE)
    assert (change.new.verdict, change.new.reason) == (Verdict.REQUIRED, Reason.NOSNI_RESET)


def test_a_reason_change_with_the_same_verdict(tmp_path: Path) -> None:
    change = only(
        compare(tmp_path, [required()], [required(reason=Reason.NOSNI_ALERT_UNRECOGNIZED_NAME)])
    )
    assert change.kinds == (Kind.REASON,)


def test_new_and_removed_endpoints(tmp_path: Path) -> None:
    result = compare(
        tmp_path, [record("a.example.com"), record("b.example.com")], [record("b.example.com")]
    )
    change = only(result)
    assert (change.kinds, change.host, change.new) == ((Kind.REMOVED,), "a.example.com", None)
    result = compare(tmp_path, [record("b.example.com")], [record("a.example.com", port=8443)])
    assert [(c.kinds, c.host, c.port) for c in result.changes] == [
        ((Kind.ADDED,), "a.example.com", 8443),
        ((Kind.REMOVED,), "b.example.com", 443),
    ]
    assert result.changes[0].old is None


@pytest.mark.parametrize(
    "new",
    [
        record(sni_cert_sha256=SHA_B),
        record(sni_cert_not_after="2027-03-01T00:00:00Z"),
    ],
)
def test_a_certificate_change(tmp_path: Path, new: Record) -> None:
    assert only(compare(tmp_path, [record()], [new])).kinds == (Kind.CERTIFICATE,)


def test_a_verdict_and_a_certificate_change_together(tmp_path: Path) -> None:
    change = only(compare(tmp_path, [record()], [required(sni_cert_sha256=SHA_B)]))
    assert change.kinds == (Kind.VERDICT, Kind.CERTIFICATE)
    assert change.old is not None
    assert change.new is not None
    assert (change.old.cert_sha256, change.new.cert_sha256) == (SHA_A, SHA_B)


def test_a_certificate_that_comes_or_goes_is_no_certificate_change(tmp_path: Path) -> None:
    # The handshake failed on one night: the verdict says so, the certificate is no news.
    assert only(compare(tmp_path, [record()], [failed()])).kinds == (Kind.VERDICT,)
    assert only(compare(tmp_path, [failed()], [record()])).kinds == (Kind.VERDICT,)


def test_what_a_diff_ignores(tmp_path: Path) -> None:
    old = [record(), failed("down.example.com")]
    new = [
        record(
            detail="another sentence",
            elapsed_ms=99,
            scanned_at="2026-11-28T12:00:00Z",
            sni_cert_days_left=29,
            label="renamed",
            tags=(),
            nosni_cert_sha256=SHA_B,  # without SNI: the verdict and reason say what it means
            address="192.0.2.77",  # another night, another round-robin address
        ),
        failed("down.example.com", sni_error="connect-refused: another message"),
    ]
    result = compare(tmp_path, old, new)
    assert result.changes == ()
    assert (
        result.summary() == f"no changes; 2 row(s) in {tmp_path}/old.csv, 2 in {tmp_path}/new.csv"
    )
    assert rendered(result, DiffFormat.TABLE) == ""
    assert rendered(result, DiffFormat.CSV) == ",".join(HEADER) + "\r\n"
    assert rendered(result, DiffFormat.JSONL) == ""


def test_an_endpoint_is_host_port_and_sni(tmp_path: Path) -> None:
    base = record("a.example.com")
    result = compare(
        tmp_path,
        [base],
        [
            dataclasses.replace(base, port=8443),
            dataclasses.replace(base, sni="internal.example.com"),
            dataclasses.replace(base, sni=None),
        ],
    )
    assert [(c.kinds, c.port, c.sni) for c in result.changes] == [
        ((Kind.ADDED,), 443, None),  # no sni sorts first
        ((Kind.REMOVED,), 443, "a.example.com"),
        ((Kind.ADDED,), 443, "internal.example.com"),
        ((Kind.ADDED,), 8443, "a.example.com"),
    ]


# --- several addresses ------------------------------------------------------------------------


def test_all_addresses_rows_are_compared_address_by_address(tmp_path: Path) -> None:
    old = [record(address="192.0.2.1"), record(address="192.0.2.2")]
    new = [required(address="192.0.2.1"), record(address="192.0.2.3")]
    result = compare(tmp_path, old, new)
    assert [(c.kinds, c.address) for c in result.changes] == [
        ((Kind.VERDICT,), "192.0.2.1"),
        ((Kind.REMOVED,), "192.0.2.2"),
        ((Kind.ADDED,), "192.0.2.3"),
    ]


def test_one_row_against_several_is_paired_by_address(tmp_path: Path) -> None:
    # --all-addresses switched on: the address scanned before is compared, the others are new.
    old = [record(address="192.0.2.2")]
    new = [record(address="192.0.2.1"), required(address="192.0.2.2"), record(address="::1")]
    result = compare(tmp_path, old, new)
    assert [(c.kinds, c.address) for c in result.changes] == [
        ((Kind.ADDED,), "192.0.2.1"),
        ((Kind.VERDICT,), "192.0.2.2"),
        ((Kind.ADDED,), "::1"),
    ]
    # And switched off again, the other way round.
    result = compare(tmp_path, new, old)
    assert [(c.kinds, c.address) for c in result.changes] == [
        ((Kind.REMOVED,), "192.0.2.1"),
        ((Kind.VERDICT,), "192.0.2.2"),
        ((Kind.REMOVED,), "::1"),
    ]


def test_a_repeated_row_is_compared_once_whatever_the_order(tmp_path: Path) -> None:
    rows = [record(label="first"), required(label="second")]
    results = [compare(tmp_path, [record()], order) for order in (rows, rows[::-1])]
    assert results[0].changes == results[1].changes
    assert results[0].repeated == 1
    assert results[0].summary().endswith("; 1 repeated row(s) compared once")
    assert rendered(results[0], DiffFormat.CSV) == rendered(results[1], DiffFormat.CSV)


# --- order does not matter --------------------------------------------------------------------


def nightly_reports(count: int) -> tuple[list[Record], list[Record]]:
    """Two nights of ``count`` endpoints with every kind of change among them."""
    old: list[Record] = []
    new: list[Record] = []
    for number in range(count):
        host = f"h{number:04}.example.com"
        match number % 7:
            case 0:
                old.append(record(host))
                new.append(required(host))
            case 1:
                old.append(record(host))
            case 2:
                new.append(required(host, port=8443))
            case 3:
                old.append(record(host))
                new.append(record(host, sni_cert_sha256=SHA_B))
            case 4:
                for address in ("192.0.2.1", "192.0.2.2"):
                    old.append(record(host, address=address))
                    new.append(record(host, address=address, reason=Reason.COVERING_CERTIFICATE))
            case _:
                old.append(record(host))
                new.append(record(host, address="192.0.2.99"))
    return old, new


def test_the_order_of_the_rows_does_not_matter(tmp_path: Path) -> None:
    old, new = nightly_reports(70)
    outputs = []
    for seed in range(3):
        shuffle = random.Random(seed)
        old_rows, new_rows = old[:], new[:]
        shuffle.shuffle(old_rows)
        shuffle.shuffle(new_rows)
        result = compare(tmp_path, old_rows, new_rows)
        outputs.append([rendered(result, fmt, columns=100) for fmt in DiffFormat])
    assert outputs[0] == outputs[1] == outputs[2]
    result = compare(tmp_path, old, new)
    assert result.summary() == (
        f"10 verdict(s) changed, 20 reason(s) changed, 10 new, 10 removed, "
        f"10 certificate(s) changed; 70 row(s) in {tmp_path}/old.csv, 70 in {tmp_path}/new.csv"
    )
    keys = [(c.host, c.port, c.sni or "", c.address or "") for c in result.changes]
    assert keys == sorted(keys)


def test_csv_and_jsonl_mixed(tmp_path: Path) -> None:
    old, new = nightly_reports(21)
    old.append(record("formula.example.com", label="=cmd", sni_cert_sha256="+" + SHA_A[1:]))
    new.append(record("formula.example.com", label="=cmd", sni_cert_sha256="-" + SHA_A[1:]))
    old.append(failed("192.0.2.50", sni=None, address="192.0.2.50"))
    new.append(record("192.0.2.50", sni=None, address="192.0.2.50"))
    expected = compare(tmp_path, old, new)
    for names in [("old.csv", "new.jsonl"), ("old.jsonl", "new.csv"), ("old", "new.ndjson")]:
        result = compare(tmp_path, old, new, names)
        assert result.changes == expected.changes, names
    formula = next(c for c in expected.changes if c.host == "formula.example.com")
    assert formula.kinds == (Kind.CERTIFICATE,)
    assert formula.label == "=cmd"  # read back without the CSV's apostrophe
    # The same rows in both formats are no change at all.
    assert compare(tmp_path, new, new, ("a.csv", "b.jsonl")).changes == ()


# --- --fail-on --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ([record()], [required()], 1),  # became required
        ([], [required()], 1),  # new, and required
        ([required()], [required(reason=Reason.NOSNI_CLOSED)], 0),  # was required, stays
        ([required()], [required()], 0),
        ([required()], [], 0),  # removed
        ([required()], [record()], 0),  # no longer required
        ([record()], [record(verdict=Verdict.MISMATCHED, reason=Reason.DEFAULT_CERTIFICATE)], 0),
        # Another address of an --all-addresses endpoint that needs SNI.
        ([record(address="192.0.2.1")], [record(address="192.0.2.1"), required()], 1),
    ],
)
def test_fail_on_looks_at_what_became_required(
    tmp_path: Path, old: list[Record], new: list[Record], code: int
) -> None:
    result = compare(tmp_path, old, new)
    assert exit_code(result, {Verdict.REQUIRED}) == code
    assert exit_code(result, frozenset()) == 0
    assert len(became(result, {Verdict.REQUIRED})) == code


def test_became_lists_every_endpoint_that_became_one_of_the_verdicts(tmp_path: Path) -> None:
    old, new = nightly_reports(14)
    result = compare(tmp_path, old, new)
    hosts = [c.host for c in became(result, {Verdict.REQUIRED, Verdict.MISMATCHED})]
    assert hosts == [
        "h0000.example.com",  # became required
        "h0002.example.com",  # new, and required
        "h0007.example.com",
        "h0009.example.com",
    ]


# --- the renderers ----------------------------------------------------------------------------


def tricky(tmp_path: Path) -> Diff:
    label = 'Billing | "SOAP"\n=HYPERLINK("http://evil.example") *x* <b>`y`</b>\x1b[31m'
    return compare(
        tmp_path,
        [record(label=label), record("gone.example.com")],
        [required(label=label, sni_cert_sha256=SHA_B), record("b.example.com", sni=None)],
    )


def test_csv_has_the_header_and_neutralised_cells(tmp_path: Path) -> None:
    result = tricky(tmp_path)
    text = rendered(result, DiffFormat.CSV)
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == HEADER
    by_host = {row[1]: dict(zip(HEADER, row, strict=True)) for row in rows[1:]}
    changed = by_host["api.example.com"]
    assert changed["change"] == "verdict;certificate"
    assert changed["label"] == result.changes[0].label
    assert changed["old_verdict"] == "optional"
    assert changed["new_verdict"] == "required"
    assert changed["old_cert_sha256"] == SHA_A
    assert changed["new_cert_sha256"] == SHA_B
    assert changed["port"] == "443"
    assert by_host["b.example.com"]["sni"] == ""
    assert by_host["b.example.com"]["old_verdict"] == ""
    formula = compare(tmp_path, [record(label="=cmd|' /C calc'!A0")], [required(label="@SUM(1)")])
    row = list(csv.reader(io.StringIO(rendered(formula, DiffFormat.CSV), newline="")))[1]
    assert row[HEADER.index("label")] == "'@SUM(1)"


def test_jsonl_has_one_object_per_change(tmp_path: Path) -> None:
    result = tricky(tmp_path)
    lines = rendered(result, DiffFormat.JSONL).splitlines()
    objects = [json.loads(line) for line in lines]
    assert len(objects) == len(result.changes) == 3
    assert all(tuple(obj) == HEADER for obj in objects)
    added = next(obj for obj in objects if obj["change"] == ["added"])
    assert added["host"] == "b.example.com"
    assert added["port"] == 443
    assert added["sni"] is None
    assert added["old_verdict"] is None
    assert added["new_verdict"] == "optional"
    changed = next(obj for obj in objects if obj["host"] == "api.example.com")
    assert changed["change"] == ["verdict", "certificate"]
    assert changed["label"].startswith('Billing | "SOAP"\n=HYPERLINK')  # the data as it is


def markdown_cells(line: str) -> list[str]:
    """The cells of a markdown table row: split on the ``|`` no backslash escapes."""
    assert line.startswith("| ")
    assert line.endswith(" |")
    return re.split(r"(?<!\\) \| ", line[2:-2])


def test_markdown_escapes_what_would_break_the_table(tmp_path: Path) -> None:
    result = tricky(tmp_path)
    lines = rendered(result, DiffFormat.MARKDOWN).splitlines()
    assert lines[0] == "| change | endpoint | address | verdict | reason | cert | expires | label |"
    assert lines[1] == "|---|---|---|---|---|---|---|---|"
    assert len(lines) == 2 + len(result.changes)
    for line in lines[2:]:
        assert len(markdown_cells(line)) == 8, line
    changed = markdown_cells(next(line for line in lines if "api.example.com" in line))
    assert changed[:7] == [
        "verdict, certificate",
        "api.example.com:443",
        "192.0.2.5",
        "optional → required",
        "same-certificate → nosni-reset",
        "aaaaaaaaaaaa… → bbbbbbbbbbbb…",
        "2026-12-27",
    ]
    label = changed[7]
    assert "\n" not in label
    assert "\x1b" not in label
    for char in "|*<>`":
        assert char not in label.replace("\\" + char, ""), char
    assert label.startswith(r'Billing \| "SOAP"\\x0a=HYPERLINK("http://evil.example") \*x\* ')


def test_the_table_is_aligned_and_printable(tmp_path: Path) -> None:
    result = tricky(tmp_path)
    lines = rendered(result, DiffFormat.TABLE).splitlines()
    assert len(lines) == 1 + len(result.changes)  # no limit: one line per change
    assert lines[0].split() == [
        "CHANGE",
        "ENDPOINT",
        "ADDRESS",
        "VERDICT",
        "REASON",
        "CERT",
        "EXPIRES",
        "LABEL",
    ]
    assert "\x1b" not in "".join(lines)
    for title in ("ADDRESS", "VERDICT", "EXPIRES"):
        start = lines[0].index(title)
        assert all(line[start - 2 : start] == "  " for line in lines), title
        assert all(line[start] != " " for line in lines), title
    assert lines[1].split("  ")[0] == "verdict, certificate"
    assert "  optional → required  same-certificate → nosni-reset  " in lines[1]
    assert lines[2].split()[:3] == ["added", "b.example.com:443", "192.0.2.5"]
    assert lines[3].split()[:3] == ["removed", "gone.example.com:443", "192.0.2.5"]
    assert lines[3].endswith("  2026-12-27  Billing")


def non_space(text: str) -> Counter[str]:
    return Counter(text.replace(" ", "").replace("\n", ""))


@pytest.mark.parametrize("columns", [120, 100, 80, 60, 40, 20])
def test_a_table_too_wide_for_the_terminal_is_wrapped(tmp_path: Path, columns: int) -> None:
    result = tricky(tmp_path)
    wide = rendered(result, DiffFormat.TABLE)
    assert max(map(len, wide.splitlines())) > 120
    text = rendered(result, DiffFormat.TABLE, columns=columns)
    lines = text.splitlines()
    assert all(len(line) <= columns for line in lines), [len(line) for line in lines]
    if columns >= 80:
        assert lines[0].split() == ["CHANGE", "ENDPOINT", "ADDRESS", "VERDICT", "REASON"]
        assert lines[1].startswith("verdict,")
        under = [line.lstrip() for line in lines[2:4]]
        assert any(line.startswith("cert: aaaaaaaaaaaa… → bbbbbbbbbbbb…  ") for line in under)
    # The certificate, expiry and label go under each row, wrapped: nothing is cut.
    moved = non_space("cert:expires:label:" * len(result.changes))
    assert non_space(text) == non_space(wide) - non_space("CERTEXPIRESLABEL") + moved


def test_a_table_narrower_than_its_columns_gives_one_character_each(tmp_path: Path) -> None:
    lines = rendered(tricky(tmp_path), DiffFormat.TABLE, columns=5).splitlines()
    assert max(map(len, lines)) <= 5 + 4 * 2  # five columns of one character, with gaps


def test_an_ipv6_literal_is_shown_in_brackets(tmp_path: Path) -> None:
    result = compare(tmp_path, [], [record("2001:db8::1", sni=None, address="2001:db8::1")])
    assert "[2001:db8::1]:443" in rendered(result, DiffFormat.TABLE)


@pytest.mark.parametrize(
    ("path", "requested", "fmt"),
    [
        ("-", None, DiffFormat.TABLE),
        ("changes.txt", None, DiffFormat.TABLE),
        ("changes.csv", None, DiffFormat.CSV),
        ("changes.JSONL", None, DiffFormat.JSONL),
        ("changes.ndjson", None, DiffFormat.JSONL),
        ("changes.md", None, DiffFormat.MARKDOWN),
        ("changes.csv", DiffFormat.MARKDOWN, DiffFormat.MARKDOWN),
    ],
)
def test_output_format(path: str, requested: DiffFormat | None, fmt: DiffFormat) -> None:
    assert output_format(path, requested) is fmt


# --- refused reports --------------------------------------------------------------------------


def test_every_problem_of_both_reports_is_named(tmp_path: Path) -> None:
    good = write_report(tmp_path / "good.csv", [record()]).read_text(encoding="utf-8")
    header, row = good.splitlines(keepends=True)
    bad = tmp_path / "old.csv"
    bad.write_text(header + row + row.replace("optional", "maybe"), encoding="utf-8", newline="")
    with pytest.raises(ConfigError) as raised:
        diff(str(bad), str(tmp_path / "missing.jsonl"))
    assert [str(problem) for problem in raised.value.problems] == [
        f"{bad}:3: malformed row: verdict: not a known value: 'maybe'",
        f"{tmp_path}/missing.jsonl: cannot read: no such file or directory",
    ]
    with pytest.raises(ConfigError) as raised:
        diff(str(tmp_path), str(bad))
    assert str(raised.value.problems[0]) == f"{tmp_path}: cannot read: is a directory"


def test_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    good = write_report(tmp_path / "good.jsonl", [record()])
    other = tmp_path / "notes.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        diff(str(other), str(good))
    assert str(raised.value) == (
        f"{other}:1: not a snisweep report: the first line is not the report's CSV header"
    )


def test_a_lone_surrogate_is_a_malformed_row(tmp_path: Path) -> None:
    good = write_report(tmp_path / "good.jsonl", [record()])
    text = good.read_text(encoding="utf-8").replace('"api.example.com"', '"a\\ud800b"', 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        diff(str(good), str(bad))
    assert str(raised.value) == (
        f"{bad}:1: malformed row: host: text with a lone surrogate (\\ud800-\\udfff escape)"
    )


def test_standard_input_is_a_usage_error(tmp_path: Path) -> None:
    good = write_report(tmp_path / "good.csv", [record()])
    with pytest.raises(UsageError, match="cannot read standard input"):
        diff("-", str(good))


def test_a_report_that_changes_between_the_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = write_report(tmp_path / "old.csv", [record()])
    new = write_report(tmp_path / "new.csv", [required()])
    survey = snisweep.report.diff._survey

    def survey_then_change(path: str) -> Any:
        found = survey(path)
        if path == str(new):
            write_report(new, [required(), required("more.example.com")])
        return found

    monkeypatch.setattr(snisweep.report.diff, "_survey", survey_then_change)
    with pytest.raises(SnisweepError, match=r"new\.csv changed during the diff"):
        diff(str(old), str(new))


def test_the_same_file_on_both_sides_has_no_changes(tmp_path: Path) -> None:
    old, _ = nightly_reports(14)
    path = str(write_report(tmp_path / "a.csv", old))
    assert diff(path, path).changes == ()


# --- size -------------------------------------------------------------------------------------


def test_twenty_thousand_rows_a_side(tmp_path: Path) -> None:
    # Linear in the rows (no pairwise loops), and only changed rows are read a second time.
    count = 20_000
    base = record()
    old = [dataclasses.replace(base, host=f"h{n}.example.com") for n in range(count)]
    new = old[:]
    new[7] = dataclasses.replace(new[7], verdict=Verdict.REQUIRED, reason=Reason.NOSNI_RESET)
    new[count - 1] = dataclasses.replace(new[count - 1], sni_cert_sha256=SHA_B)
    del new[100]
    new.append(dataclasses.replace(base, host="late.example.com"))
    result = compare(tmp_path, old, new[::-1], ("old.csv", "new.jsonl"))
    assert [(c.kinds, c.host) for c in result.changes] == [
        ((Kind.REMOVED,), "h100.example.com"),
        ((Kind.CERTIFICATE,), f"h{count - 1}.example.com"),
        ((Kind.VERDICT,), "h7.example.com"),
        ((Kind.ADDED,), "late.example.com"),
    ]
    assert (result.old_rows, result.new_rows) == (count, count)
    assert exit_code(result, {Verdict.REQUIRED}) == 1
