"""Property tests: whatever servers or users send, the functions that read it never crash and
never let a spreadsheet formula or a terminal control character through. No sockets."""

from __future__ import annotations

import hashlib
import re
import tempfile
import unicodedata
from pathlib import Path

from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from snisweep.core.certs import NOT_A_CERTIFICATE, covers, inspect, printable
from snisweep.errors import ConfigError
from snisweep.lab.clienthello import parse_client_hello, record_length
from snisweep.lists.load import load, parse_endpoint_string
from snisweep.model import Certificate
from snisweep.report.writers import csv_cell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


@given(st.text())
def test_csv_cells_never_start_a_formula(text: str) -> None:
    assert not csv_cell(text).startswith(FORMULA_STARTS)
    assert not csv_cell((text, "x")).startswith(FORMULA_STARTS)


@given(st.text(), st.integers(min_value=2, max_value=200))
def test_printable_escapes_every_control_character(text: str, limit: int) -> None:
    shown = printable(text, limit)
    assert len(shown) <= limit
    for ch in shown:
        assert unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"), repr(ch)


@settings(max_examples=300)
@given(st.binary(max_size=2048))
def test_inspect_never_raises_on_garbage(der: bytes) -> None:
    certificate = inspect(der)
    assert certificate.sha256 == hashlib.sha256(der).hexdigest()
    try:
        x509.load_der_x509_certificate(der)
    except ValueError:
        # What cryptography cannot load is named so, with no fact made up.
        assert certificate.parse_error == NOT_A_CERTIFICATE
        assert (certificate.subject, certificate.sans, certificate.not_after) == ("", (), None)


@given(
    st.lists(st.text(max_size=40), max_size=4),
    st.lists(st.text(max_size=20), max_size=2),
    st.text(max_size=60),
)
def test_covers_never_raises(dns_names: list[str], common_names: list[str], identity: str) -> None:
    certificate = Certificate(
        "00" * 32, dns_names=tuple(dns_names), common_names=tuple(common_names)
    )
    result = covers(certificate, identity)
    assert isinstance(result, bool)
    if result and identity.isascii():
        # Covered only by an entry that is the name, or a wildcard for its first label.
        name = identity.strip().lower().removesuffix(".")
        entries = [e.strip().lower().removesuffix(".") for e in dns_names or common_names]
        tail = name.partition(".")[2]
        assert any(e == name or (e.startswith("*.") and e[2:] == tail) for e in entries)
    if dns_names and dns_names[0].isascii():
        entry = dns_names[0].strip().lower()
        if re.fullmatch(r"[a-z](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z](?:[a-z0-9-]*[a-z0-9])?)+", entry):
            assert covers(certificate, entry) is True  # a plain name covers itself


@settings(max_examples=300)
@given(st.binary(max_size=1024))
def test_client_hello_parser_never_raises(data: bytes) -> None:
    parse_client_hello(data)
    assert record_length(data) >= 0


@given(st.text(max_size=120))
def test_endpoint_strings_fail_only_with_value_error(text: str) -> None:
    try:
        host, port = parse_endpoint_string(text)
    except ValueError:
        return
    assert host
    assert port is None or 1 <= port <= 65535


YAML_PIECES = st.sampled_from(
    [
        "endpoints:", "defaults:", "  - ", "host: ", "port: ", "tags: [", "]", "{", "}", ":",
        "a.example.com", "443", "-1", "&a ", "*a", "<<: ", "!!python/object ", "'", '"', "\n",
        "    ", "\t", "[::1]", "https://", "\x00", "\u202e", "~", "null", "yes", "1e9", "#",
    ]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(YAML_PIECES, max_size=40).map("".join))
def test_any_yaml_text_loads_or_reports_problems(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "list.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            endpoints = load([str(path)])
        except ConfigError as exc:
            problems = exc.problems
        else:
            assert len(list(endpoints)) == endpoints.count
            return
    assert problems
    assert all(str(problem).startswith(str(path)) for problem in problems)
