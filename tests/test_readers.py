"""Reading reports back: the rules the readers share with the rest (the shard parser, the format
table). Pure: no files, no sockets. The rows themselves are read back in ``test_merge.py``."""

from __future__ import annotations

import pytest

from snisweep.report.readers import detect_format, shard_of
from snisweep.report.writers import SUFFIXES, Format
from snisweep.run.shard import SHARDS_MAX, Shard, parse_shard


@pytest.mark.parametrize(
    ("cell", "shard"),
    [
        ("1/1", Shard(1, 1)),
        ("2/3", Shard(2, 3)),
        (f"{SHARDS_MAX}/{SHARDS_MAX}", Shard(SHARDS_MAX, SHARDS_MAX)),
        (None, None),
        ("", None),
        ("0/3", None),  # shards count from 1
        ("4/3", None),
        ("1/0", None),
        (f"1/{SHARDS_MAX + 1}", None),  # more shards than --shard accepts
        ("02/3", None),  # --shard takes it, but a scan never writes it so
        (" 2/3", None),
        ("2/3 ", None),
        ("2", None),
        ("2/3/4", None),
        ("-1/3", None),
        ("²/3", None),
    ],
)
def test_a_shard_cell_is_read_by_the_shard_parser_in_the_one_spelling(
    cell: str | None, shard: Shard | None
) -> None:
    assert shard_of(cell) == shard
    if shard is not None:
        assert parse_shard(cell or "") == shard
        assert str(shard) == cell


@pytest.mark.parametrize(("suffix", "fmt"), sorted(SUFFIXES.items()))
def test_a_report_is_read_in_the_format_its_name_is_written_in(suffix: str, fmt: Format) -> None:
    for start in (b"{", b"host,", b""):
        assert detect_format(f"report{suffix}", start) is fmt
        assert detect_format(f"REPORT{suffix.upper()}", start) is fmt


@pytest.mark.parametrize(
    ("start", "fmt"),
    [
        (b"{", Format.JSONL),
        (b"\xef\xbb\xbf{", Format.JSONL),
        (b"host", Format.CSV),
        (b"", Format.CSV),
    ],
)
def test_a_report_without_a_known_suffix_is_read_by_its_content(start: bytes, fmt: Format) -> None:
    assert detect_format("report.txt", start) is fmt
    assert detect_format("report", start) is fmt
