"""Shards: which endpoints one scan takes; and how many workers it may use. No sockets."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snisweep.errors import UsageError
from snisweep.lists.load import ListFormat, load
from snisweep.run.shard import (
    COUNT_VARIABLE,
    INDEX_VARIABLE,
    Shard,
    endpoint_hash,
    from_environment,
    parse_shard,
)
from snisweep.run.workers import available_cores

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}\.(example\.com|test)", fullmatch=True)
ports = st.integers(1, 65535)
addresses = st.none() | st.sampled_from(["192.0.2.1", "2001:db8::1", "127.0.0.1"])
keys = st.tuples(hosts, ports, addresses)


def test_the_hash_is_pinned() -> None:
    # Shards must be the same on every machine and every Python, and within a release: a
    # changed hash would move endpoints between the shards of a running nightly job. It changed
    # once, in 0.2, when the endpoint's identity got one home (model.endpoint_digest); merge
    # refuses to mix reports of 0.1 and 0.2 anyway (their columns differ).
    assert endpoint_hash("api.example.com", 443, None) == 0x05A31912A87C1E83
    assert endpoint_hash("api.example.com", 443, "192.0.2.1") != endpoint_hash(
        "api.example.com", 443, None
    )


@pytest.mark.parametrize(("text", "shard"), [("1/4", Shard(1, 4)), (" 4/4 ", Shard(4, 4))])
def test_parse_shard(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard
    assert str(shard) == text.strip()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/4", "counts from 1 to 4"),
        ("5/4", "counts from 1 to 4"),
        ("1/0", "between 1 and"),
        ("1", "takes I/N"),
        ("a/4", "not a whole number"),
        ("-1/4", "not a whole number"),
        ("1/\uff14", "not a whole number"),  # a full-width digit
    ],
)
def test_bad_shards_say_why(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_shard(text)


def test_shard_from_a_kubernetes_indexed_job() -> None:
    assert from_environment({}) is None
    assert from_environment({INDEX_VARIABLE: "0", COUNT_VARIABLE: "3"}) == Shard(1, 3)
    assert from_environment({INDEX_VARIABLE: "2", COUNT_VARIABLE: "3"}) == Shard(3, 3)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({INDEX_VARIABLE: "0"}, f"{COUNT_VARIABLE} is not"),
        ({COUNT_VARIABLE: "3"}, f"{INDEX_VARIABLE} is not"),
        ({INDEX_VARIABLE: "3", COUNT_VARIABLE: "3"}, "not below"),
        ({INDEX_VARIABLE: "x", COUNT_VARIABLE: "3"}, "not a whole number"),
        ({INDEX_VARIABLE: "0", COUNT_VARIABLE: "0"}, "at least 1"),
    ],
)
def test_a_half_set_environment_is_an_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        from_environment(environ)


@settings(max_examples=200)
@given(key=keys, count=st.integers(1, 50))
def test_every_endpoint_is_in_exactly_one_shard(
    key: tuple[str, int, str | None], count: int
) -> None:
    holders = [n for n in range(1, count + 1) if Shard(n, count).holds(*key)]
    assert len(holders) == 1


def test_shards_of_a_list_cover_it_exactly_once() -> None:
    text = "\n".join(f"h{i}.example.com:{443 + i % 3}" for i in range(500)) + "\n"
    whole = list(load(["-"], stdin=io.StringIO(text), stdin_format=ListFormat.TEXT))
    seen: list[str] = []
    total = 0
    for number in range(1, 5):
        shard = Shard(number, 4)
        part = load(
            ["-"], stdin=io.StringIO(text), stdin_format=ListFormat.TEXT, select=shard.holds
        )
        endpoints = list(part)
        assert part.count == len(endpoints)
        seen.extend(f"{e.host}:{e.port}" for e in endpoints)
        total += part.count
    assert total == len(whole) == 500
    assert sorted(seen) == sorted(f"{e.host}:{e.port}" for e in whole)


@pytest.mark.parametrize(
    ("cpu_max", "cores"),
    [("max 100000\n", None), ("200000 100000\n", 2), ("150000 100000", 2), ("50000 100000", 1)],
)
def test_workers_fit_a_containers_cpu_limit(
    tmp_path: Path, cpu_max: str, cores: int | None
) -> None:
    limit = tmp_path / "cpu.max"
    limit.write_text(cpu_max)
    mine = available_cores(str(tmp_path / "missing"))
    assert available_cores(str(limit)) == (mine if cores is None else min(mine, cores))
