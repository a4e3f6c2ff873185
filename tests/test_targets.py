"""Endpoints given among the paths (targets): `snisweep scan api.example.com lists/`.
snisweep.lists.load, no sockets."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from listfiles import problems_of, write

from snisweep.errors import ConfigError
from snisweep.lists.load import COMMAND_LINE, Settings, load
from snisweep.model import Endpoint


def test_targets_mix_with_files_in_their_order(tmp_path: Path) -> None:
    listed = write(tmp_path, "list.txt", "b.example.com\n")
    endpoints = load(["api.example.com:8443", listed, "https://hr.example.net:9443/ws?wsdl"])
    assert [(e.host, e.port, e.http_path) for e in endpoints] == [
        ("api.example.com", 8443, "/"),
        ("b.example.com", 443, "/"),
        ("hr.example.net", 9443, "/ws?wsdl"),
    ]
    # the files are those an output file must not overwrite: never a target
    assert endpoints.files == (listed,)
    assert (endpoints.targets, endpoints.count, endpoints.total) == (2, 3, 3)


def test_a_target_reads_as_a_line_of_a_text_list() -> None:
    forms = ["API.Example.com", "[2001:db8::10]:8443", "2001:db8::11", "ldaps://ldap.example.com"]
    assert list(load(forms)) == [
        Endpoint("api.example.com", 443, sni="api.example.com"),
        Endpoint("2001:db8::10", 8443),
        Endpoint("2001:db8::11", 443),
        Endpoint("ldap.example.com", 636, sni="ldap.example.com", http_path=None),
    ]


def test_a_target_takes_the_command_line_settings() -> None:
    settings = Settings(port=8443, timeout=2, retries=0, protocol="tls", all_addresses=True)
    (endpoint,) = load(["a.example.com"], settings)
    assert endpoint == Endpoint(
        "a.example.com", 8443, sni="a.example.com", timeout=2.0, retries=0, http_path=None,
        all_addresses=True,
    )  # fmt: skip


def test_targets_are_duplicates_as_entries_are(tmp_path: Path) -> None:
    listed = write(tmp_path, "list.yaml", "- a.example.com\n- b.example.com:8443\n")
    endpoints = load(["b.example.com:8443", listed, "a.example.com", "A.example.com:443"])
    assert [(e.host, e.port) for e in endpoints] == [
        ("b.example.com", 8443),
        ("a.example.com", 443),
    ]
    assert (endpoints.targets, endpoints.count, endpoints.duplicates) == (3, 2, 3)
    # iterated again: the same, as a list is
    assert [(e.host, e.port) for e in endpoints] == [
        ("b.example.com", 8443),
        ("a.example.com", 443),
    ]


def test_a_shard_selects_targets_too() -> None:
    endpoints = load(["a.example.com", "b.example.com"], select=lambda host, *_: host[0] == "b")
    assert [e.host for e in endpoints] == ["b.example.com"]
    assert (endpoints.count, endpoints.total, endpoints.targets) == (1, 2, 2)


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("api.example.com:99999", "port 99999 is out of range 1..65535"),
        (
            "http://a.example.com",
            "http:// is not TLS; use https:// (default port 443) or host:port",
        ),
        ("bad..example.com", "invalid host 'bad..example.com': empty label"),
        ("https://{{env}}.example.com/", "unresolved template variable '{{env}}'"),
    ],
)
def test_neither_a_file_nor_an_endpoint(argument: str, message: str) -> None:
    (problem,) = problems_of(["a.example.com", argument])
    assert (problem.file, problem.line) == (COMMAND_LINE, 2)  # its place among the paths
    assert str(problem).startswith(
        f"(command line):2: {argument}: neither a file nor an endpoint: {message}"
    )


def test_an_argument_that_cannot_be_shown_as_it_is() -> None:
    assert [str(p) for p in problems_of(["", "a\nb"])] == [
        "(command line):1: '': neither a file nor an endpoint: empty host",
        "(command line):2: 'a\\nb': neither a file nor an endpoint: invalid host 'a\\nb': '\\n' "
        "is not allowed (only letters, digits, '-' and '_')",
    ]


@pytest.mark.parametrize(
    "argument",
    ["nope.yaml", "nope.YML", "hosts.csv", "hosts.txt", "hosts.list", "lists/", "lists/a", "a\0/b"],
)
def test_a_mistyped_file_name_is_still_missing(tmp_path: Path, argument: str) -> None:
    path = str(tmp_path / argument) if "\0" not in argument else argument
    for name in (argument, path):
        assert [str(p) for p in problems_of([name])] == [f"{name}: no such file or directory"]


def test_a_dangling_link_is_missing_not_a_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "api.example.com").symlink_to(tmp_path / "gone")
    assert [str(p) for p in problems_of(["api.example.com"])] == [
        "api.example.com: no such file or directory"
    ]


def test_an_existing_file_wins_over_a_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "api.example.com", "- listed.example.com\n")
    endpoints = load(["api.example.com", "api.example.com:443"])
    assert [e.host for e in endpoints] == ["listed.example.com", "api.example.com"]
    assert (endpoints.files, endpoints.targets) == (("api.example.com",), 1)


def test_a_url_is_a_target_although_it_holds_slashes() -> None:
    assert [e.http_path for e in load(["https://a.example.com/x/y.yaml"])] == ["/x/y.yaml"]


def test_a_single_word_target_warns(tmp_path: Path) -> None:
    warnings: list[str] = []
    endpoints = load(["lsits", "localhost", "intranet:443", "a.example.com"], warn=warnings.append)
    assert [e.host for e in endpoints] == ["lsits", "localhost", "intranet", "a.example.com"]
    assert warnings == [
        "lsits: no such file or directory; read as the host lsits, port 443 "
        "(write lsits:443 if that is meant)"
    ]


def test_targets_and_standard_input_and_problems_together(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.yaml", "- a.example.com:0\n")
    with pytest.raises(ConfigError) as caught:
        load(
            ["x.example.com:0", "-", broken, "ok.example.com"],
            stdin=io.StringIO("endpoints: [y.example.com:0]\n"),
        )
    assert [(p.file, p.line) for p in caught.value.problems] == [
        (COMMAND_LINE, 1),
        ("-", 1),
        (broken, 1),
    ]
