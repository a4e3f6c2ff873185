"""Records and their CSV/JSONL cells, including spreadsheet-formula neutralisation. No sockets."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from snisweep.core.classify import classify
from snisweep.core.record import COLUMNS, Record, build
from snisweep.model import Certificate, Endpoint, Failure, FailureKind, Handshake
from snisweep.report.writers import (
    CSVEncoder,
    Format,
    JSONLEncoder,
    csv_cell,
    format_for,
    json_value,
)

CONTRACT_COLUMNS = """host, port, address, sni, label, tags, verdict, reason, detail,
    sni_tls_version, sni_cipher, sni_cert_sha256, sni_cert_subject, sni_cert_issuer, sni_cert_sans,
    sni_cert_not_after, sni_cert_days_left, sni_cert_covers_host, sni_error,
    nosni_tls_version, nosni_cert_sha256, nosni_cert_subject, nosni_cert_sans,
    nosni_cert_covers_host, nosni_error, attempts, elapsed_ms, scanned_at"""

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


# Columns added since the contract was written; new ones go at the end, never in between:
# ``shard`` (0.1), then the contract's "Additions (0.2)" in their order, as far as they landed.
APPENDED_COLUMNS = (
    "shard",
    "sni_http_status",
    "nosni_http_status",
    "warnings",
    "sni_cert_trusted",
    "sni_trust_error",
    "proxy",
    "advice",
)


def test_columns_are_the_contract_in_order_then_the_appended_ones() -> None:
    contract = tuple(c.strip() for c in CONTRACT_COLUMNS.replace("\n", "").split(","))
    assert contract + APPENDED_COLUMNS == COLUMNS


def sample(subject: str = "CN=api.example.com", label: str = "") -> Record:
    endpoint = Endpoint(
        host="api.example.com",
        port=443,
        sni="api.example.com",
        label=label,
        tags=("nightly", "billing"),
        address="192.0.2.5",
    )
    cert = Certificate(
        sha256="ab" * 32,
        subject=subject,
        issuer="CN=Test CA",
        dns_names=("api.example.com", "www.example.com"),
        ip_addresses=("192.0.2.5",),
        not_after=NOW + timedelta(days=30, hours=5),
    )
    with_sni = Handshake("TLSv1.3", "TLS_AES_256_GCM_SHA384", cert)
    without_sni = Failure(FailureKind.ALERT, "fatal alert unrecognized_name", "unrecognized_name")
    return build(
        endpoint,
        "192.0.2.5",
        classify(endpoint, with_sni, without_sni),
        with_sni,
        without_sni,
        attempts=3,
        elapsed_ms=42,
        scanned_at=NOW,
    )


def test_build_fills_every_column() -> None:
    record = sample()
    assert record.verdict == "required"
    assert record.reason == "nosni-alert-unrecognized-name"
    assert record.sni_cert_days_left == 30
    assert record.sni_cert_not_after == "2026-12-27T17:00:00Z"
    assert record.sni_cert_covers_host is True
    assert record.nosni_cert_covers_host is None
    assert record.nosni_error == "alert-unrecognized-name: fatal alert unrecognized_name"
    assert record.scanned_at == "2026-11-27T12:00:00Z"
    assert record.label is None


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("CN=ok", "CN=ok"),
        ("", ""),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (-3, "-3"),
        (443, "443"),
        (("=a", "b"), "'=a;b"),
        (("a", "b"), "a;b"),
    ],
)
def test_csv_cell_neutralises_formulas(
    value: str | int | bool | tuple[str, ...] | None, cell: str
) -> None:
    assert csv_cell(value) == cell


def test_csv_rows_parse_back_and_never_start_a_formula() -> None:
    encoder = CSVEncoder()
    text = encoder.header() + encoder.rows(
        [sample(subject='=HYPERLINK("http://x","y")\r\n,"', label="@evil")]
    )
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(COLUMNS)
    assert len(rows) == 2
    row = dict(zip(COLUMNS, rows[1], strict=True))
    assert row["sni_cert_subject"].startswith("'=")
    assert row["label"] == "'@evil"
    assert row["tags"] == "nightly;billing"
    for cell in rows[1]:
        assert not cell.startswith(("=", "+", "@", "\t", "\r"))


def test_jsonl_has_json_types() -> None:
    line = JSONLEncoder().rows([sample()])
    assert line.endswith("\n")
    assert line.count("\n") == 1
    data = json.loads(line)
    assert list(data) == list(COLUMNS)
    assert data["port"] == 443
    assert data["tags"] == ["nightly", "billing"]
    assert data["sni_cert_sans"] == ["api.example.com", "www.example.com", "192.0.2.5"]
    assert data["sni_cert_covers_host"] is True
    assert data["nosni_cert_sans"] is None
    assert data["label"] is None


def test_json_value_lists() -> None:
    assert json_value(("a",)) == ["a"]
    assert json_value(None) is None


@pytest.mark.parametrize(
    ("path", "requested", "expected"),
    [
        ("r.csv", None, Format.CSV),
        ("r.JSONL", None, Format.JSONL),
        ("r.ndjson", None, Format.JSONL),
        ("-", None, Format.CSV),
        ("r", None, Format.CSV),
        ("r.txt", Format.CSV, Format.CSV),
        ("r.csv", Format.JSONL, Format.JSONL),
    ],
)
def test_format_for(path: str, requested: Format | None, expected: Format) -> None:
    assert format_for(path, requested) is expected
