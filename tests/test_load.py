"""Finding, validating and streaming endpoint lists (snisweep.lists.load): paths,
directories, standard input, formats, duplicates, selection, lists that change. No sockets."""

from __future__ import annotations

import dataclasses
import errno
import io
import itertools
import math
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from listfiles import EXAMPLE, problems_of, write

from snisweep.errors import ConfigError, ListChangedError
from snisweep.lists.csv_list import CsvReader
from snisweep.lists.load import (
    DIRECT,
    ListFormat,
    Settings,
    _glob,
    check_exclude,
    detect_format,
    format_of,
    load,
)
from snisweep.lists.rules import Defaults
from snisweep.lists.text_list import TextReader
from snisweep.lists.yaml_list import YamlReader
from snisweep.model import Endpoint, Proxy, TLSVersion

# --- settings and formats ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"port": 0}, "port"),
        ({"port": True}, "port"),
        ({"retries": 11}, "retries"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": math.nan}, "timeout"),
        ({"protocol": "http"}, "protocol must be one of https, tls, not 'http'"),
        ({"protocol": ""}, "protocol"),
        ({"protocol": None}, "protocol"),
        ({"tls_min": "1.4"}, "tls_min: expected 1.0, 1.1, 1.2 or 1.3, found '1.4'"),
        ({"tls_max": 1.2}, "tls_max must be a TLS version 1.0..1.3, not 1.2"),
        (
            {"tls_min": TLSVersion.TLS1_3, "tls_max": TLSVersion.TLS1_2},
            "tls_min 1.3 is above tls_max 1.2",
        ),
        ({"proxy": "http://proxy.example.net:3128"}, "proxy must be a Proxy, DIRECT or None"),
        ({"proxy": "direct"}, "proxy must be a Proxy, DIRECT or None"),
        ({"environment_proxy": DIRECT}, "environment_proxy must be a Proxy or None"),
        ({"all_addresses": 1}, "all_addresses must be a bool, not 1"),
        ({"no_proxy": None}, "no_proxy must be a string, not None"),
    ],
)
def test_settings_refuse_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings(**kwargs)  # type: ignore[arg-type]


def test_settings_tls_versions_are_read_as_in_a_list() -> None:
    settings = Settings(tls_min="TLSv1.1", tls_max=" 1.3 ")  # type: ignore[arg-type]
    assert (settings.tls_min, settings.tls_max) == (TLSVersion.TLS1_1, TLSVersion.TLS1_3)
    assert settings == Settings(tls_min=TLSVersion.TLS1_1, tls_max=TLSVersion.TLS1_3)
    assert Settings(tls_min=TLSVersion.TLS1_2, tls_max=TLSVersion.TLS1_2).tls_min is (
        TLSVersion.TLS1_2
    )


def test_settings_without_the_client_settings() -> None:
    settings = Settings()
    assert (settings.tls_min, settings.tls_max, settings.proxy, settings.all_addresses) == (
        None, None, None, False
    )  # fmt: skip
    assert (settings.environment_proxy, settings.no_proxy) == (None, "")


def test_settings_protocol_is_kept_in_lower_case() -> None:
    assert Settings().protocol == "https"
    assert Settings(protocol="TLS").protocol == "tls"
    assert Settings(protocol=" Https ") == Settings()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("list.yaml", ListFormat.YAML),
        ("list.YML", ListFormat.YAML),
        ("list", ListFormat.YAML),
        ("list.conf", ListFormat.YAML),
        ("hosts.txt", ListFormat.TEXT),
        ("hosts.LIST", ListFormat.TEXT),
        ("cmdb.csv", ListFormat.CSV),
        ("dir.csv/list.yaml", ListFormat.YAML),
    ],
)
def test_format_of(name: str, expected: ListFormat) -> None:
    assert format_of(name) is expected


# --- several files, directories, standard input -----------------------------------------------


def test_several_files_keep_their_own_defaults(tmp_path: Path) -> None:
    first = write(tmp_path, "first.yaml", "defaults: {port: 8443}\nendpoints: [a.example.com]\n")
    second = write(tmp_path, "second.yaml", "endpoints: [b.example.com]\n")
    endpoints = load([first, second])
    assert endpoints.files == (first, second)
    assert [(e.host, e.port) for e in endpoints] == [
        ("a.example.com", 8443),
        ("b.example.com", 443),
    ]


def test_a_directory_is_read_recursively_and_sorted(tmp_path: Path) -> None:
    root = tmp_path / "lists"
    write(root, "b.yaml", "- b.example.com\n")
    write(root, "a.yml", "- a.example.com\n")
    write(root, "sub/c.YAML", "- c.example.com\n")
    write(root, "a/z.yaml", "- z.example.com\n")
    write(root, "notes.txt", "- not.example.com\n")
    write(root, ".hidden.yaml", "- hidden.example.com\n")
    write(root, ".git/x.yaml", "- git.example.com\n")
    endpoints = load([str(root)])
    assert [e.host for e in endpoints] == [
        "z.example.com",
        "a.example.com",
        "b.example.com",
        "c.example.com",
    ]
    assert endpoints.files == tuple(
        str(root / name) for name in ("a/z.yaml", "a.yml", "b.yaml", "sub/c.YAML")
    )


def test_a_directory_holds_only_yaml_lists(tmp_path: Path) -> None:
    write(tmp_path, "list.yaml", "- a.example.com\n")
    write(tmp_path, "report.csv", "host,verdict\nb.example.com,required\n")
    write(tmp_path, "notes.txt", "not an endpoint at all\n")
    assert [e.host for e in load([str(tmp_path)])] == ["a.example.com"]


def test_a_directory_warns_about_the_lists_it_skips(tmp_path: Path) -> None:
    write(tmp_path, "list.yaml", "- a.example.com\n")
    write(tmp_path, "report.csv", "host,verdict\nb.example.com,required\n")
    write(tmp_path, "sub/hosts.list", "c.example.com\n")
    write(tmp_path, "notes.txt", "not an endpoint at all\n")
    write(tmp_path, "Dockerfile", "FROM python\n")  # no list by its name: not a word
    write(tmp_path, "README.md", "# lists\n")
    write(tmp_path, ".hidden.csv", "host\nd.example.com\n")
    warnings: list[str] = []
    endpoints = load([str(tmp_path)], warn=warnings.append)
    assert [e.host for e in endpoints] == ["a.example.com"]
    assert endpoints.files == (str(tmp_path / "list.yaml"),)
    only = "skipped: a directory stands for its *.yaml/*.yml files only"
    assert warnings == [  # in the order of the files
        f"{tmp_path / 'notes.txt'}: {only}; name it on the command line to read it",
        f"{tmp_path / 'report.csv'}: {only}, as a CSV report would read as a list; name it on "
        "the command line to read it",
        f"{tmp_path / 'sub' / 'hosts.list'}: {only}; name it on the command line to read it",
    ]
    # named, they are read
    named = load([str(tmp_path / "sub" / "hosts.list"), str(tmp_path / "report.csv")])
    assert [e.host for e in named] == ["c.example.com", "b.example.com"]


MANIFEST = """\
# a Kubernetes manifest next to the lists
apiVersion: batch/v1
kind: Job
metadata:
  name: scan
spec:
  template: {spec: {containers: [{name: snisweep, args: [scan, /lists]}]}}
---
apiVersion: v1
kind: ConfigMap
"""


def test_a_directory_skips_the_yaml_that_is_no_endpoint_list(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "- a.example.com\n")
    write(tmp_path, "job.yaml", MANIFEST)
    write(tmp_path, "many.yml", "".join(f"key{n}: {n}\n" for n in range(6)))
    write(tmp_path, "z.yaml", "- z.example.com\n")
    warnings: list[str] = []
    endpoints = load([str(tmp_path)], warn=warnings.append)
    assert [e.host for e in endpoints] == ["a.example.com", "z.example.com"]
    assert endpoints.files == (str(tmp_path / "a.yaml"), str(tmp_path / "z.yaml"))
    assert warnings == [
        f"{tmp_path / 'job.yaml'}: skipped: not an endpoint list "
        "(it has apiVersion, kind, metadata, spec)",
        f"{tmp_path / 'many.yml'}: skipped: not an endpoint list "
        "(it has key0, key1, key2, key3, ...)",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "endpoints:\n  - a.example.com:0\n",  # a list with a mistake
        "defaults: {port: 8443}\n",  # no endpoints, but a list's defaults
        "endpoint:\n  - a.example.com\n",  # a mistyped key: a list all the same
        "Endpoints: [a.example.com]\n",
        "defualts: {port: 1}\nendpionts: []\n",
        "- a.example.com\n- [x]\n",  # a list, wrong
        "",  # empty
        "{}\n",
        "apiVersion: v1\nkind: [\n",  # broken YAML: no telling what it is
        "just text\n",
    ],
)
def test_a_directory_keeps_the_problems_of_what_may_be_a_list(tmp_path: Path, text: str) -> None:
    write(tmp_path, "a.yaml", "- a.example.com\n")
    bad = write(tmp_path, "b.yaml", text)
    warnings: list[str] = []
    with pytest.raises(ConfigError) as caught:
        load([str(tmp_path)], warn=warnings.append)
    assert caught.value.problems
    assert {p.file for p in caught.value.problems} == {bad}
    assert warnings == []


def test_a_file_named_is_never_skipped(tmp_path: Path) -> None:
    job = write(tmp_path, "job.yaml", MANIFEST)
    warnings: list[str] = []
    problems = problems_of([job]) + problems_of([job, str(tmp_path)])
    assert {p.file for p in problems} == {job, str(tmp_path)}
    assert [str(p) for p in problems if p.file == str(tmp_path)] == [
        f"{tmp_path}: no endpoint list in this directory: none of its *.yaml/*.yml files (1) is one"
    ]
    with pytest.raises(ConfigError):
        load([job], warn=warnings.append)
    assert warnings == []


def test_the_configs_of_this_repository_as_a_directory() -> None:
    configs = EXAMPLE.parent
    warnings: list[str] = []
    endpoints = load([str(configs)], warn=warnings.append)
    assert endpoints.files == (str(EXAMPLE),)
    assert list(endpoints) == list(load([str(EXAMPLE)]))
    skipped = [warning.partition(": skipped: ") for warning in warnings]
    assert [name for name, _, _ in skipped] == [
        str(configs / "example.csv"),
        str(configs / "example.txt"),
        *sorted(str(path) for path in (configs / "kubernetes").glob("*.yaml")),
    ]
    assert all(why.startswith("a directory stands for") for _, _, why in skipped[:2])
    assert all(
        why.startswith("not an endpoint list (it has apiVersion, kind, metadata, ")
        for _, _, why in skipped[2:]
    )
    assert len(skipped) > 3
    # and the Kubernetes directory alone holds no list
    (problem,) = problems_of([str(configs / "kubernetes")])
    assert problem.message.startswith("no endpoint list in this directory")


# --- --exclude --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.yaml", "a.yaml", True),
        ("*.yaml", "sub/a.yaml", False),  # '*' stays in one directory: the name matches it
        ("*", "a/b", False),
        ("a?.yaml", "ab.yaml", True),
        ("a?.yaml", "a/.yaml", False),
        ("**", "a/b/c.yaml", True),
        ("**/c.yaml", "c.yaml", True),
        ("**/c.yaml", "a/b/c.yaml", True),
        ("a/**", "a/b/c.yaml", True),
        ("a/**", "ab/c.yaml", False),
        ("a/**/c.yaml", "a/c.yaml", True),
        ("a/**/c.yaml", "a/x/y/c.yaml", True),
        ("a**b", "axxb", True),  # not a whole component: as '*'
        ("a**b", "ax/xb", False),
        ("[ab].yaml", "b.yaml", True),
        ("[!ab].yaml", "b.yaml", False),
        ("[!ab].yaml", "c.yaml", True),
        ("[]].yaml", "].yaml", True),
        ("[a-c]", "b", True),
        ("[^a]", "^", True),  # '!' negates, '^' is a character, as in fnmatch
        ("[\\]", "\\", True),
        ("[x", "[x", True),  # no class
        ("./kubernetes/", "kubernetes", True),
        ("a.yaml", "A.yaml", False),  # case matters, as in the file system
        ("(x)+.yaml", "(x)+.yaml", True),
        ("(x)+.yaml", "xx.yaml", False),
    ],
)
def test_glob(pattern: str, path: str, matches: bool) -> None:
    assert bool(_glob(pattern).fullmatch(path)) is matches


def exclusion_tree(root: Path) -> None:
    write(root, "a.yaml", "- a.example.com\n")
    write(root, "old-b.yaml", "- b.example.com\n")
    write(root, "kubernetes/job.yaml", MANIFEST)
    write(root, "team/c.yaml", "- c.example.com\n")
    write(root, "team/old/d.yaml", "- d.example.com\n")
    write(root, "team/report.csv", "host\nx.example.com\n")


@pytest.mark.parametrize(
    ("exclude", "hosts", "warned"),
    [
        ((), ["a", "b", "c", "d"], ["job.yaml", "report.csv"]),
        (["old-*"], ["a", "c", "d"], ["job.yaml", "report.csv"]),
        (["kubernetes", "*.csv"], ["a", "b", "c", "d"], []),  # a directory's name leaves it out
        (["old"], ["a", "b", "c"], ["job.yaml", "report.csv"]),
        (["team/**"], ["a", "b"], ["job.yaml"]),
        (["team"], ["a", "b"], ["job.yaml"]),
        (["**/old/*.yaml", "kubernetes/job.yaml"], ["a", "b", "c"], ["report.csv"]),
        (["lists/team/c.yaml"], ["a", "b", "d"], ["job.yaml", "report.csv"]),  # the path shown
        (["c.yaml", "d.yaml", "a.yaml"], ["b"], ["job.yaml", "report.csv"]),
    ],
)
def test_exclude_leaves_files_out_of_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exclude: list[str], hosts: list[str],
    warned: list[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    exclusion_tree(tmp_path / "lists")
    warnings: list[str] = []
    endpoints = load(["lists"], exclude=exclude, warn=warnings.append)
    assert [e.host.partition(".")[0] for e in endpoints] == hosts
    assert [w.partition(": skipped")[0].rpartition("/")[2] for w in warnings] == warned
    # as "./lists/" too
    assert [e.host for e in load(["./lists/"], exclude=exclude)] == [e.host for e in endpoints]


def test_exclude_never_leaves_out_a_file_named(tmp_path: Path) -> None:
    named = write(tmp_path, "old-a.yaml", "- a.example.com\n")
    warnings: list[str] = []
    endpoints = load([named, "b.example.com"], exclude=["x", "old-*"], warn=warnings.append)
    assert [e.host for e in endpoints] == ["a.example.com", "b.example.com"]
    assert warnings == [
        f"{named}: read although --exclude old-* matches it: a file named on the command line "
        "is always read"
    ]


def test_a_directory_left_empty_by_exclude(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "- a.example.com\n")
    with pytest.raises(ConfigError) as caught:
        load([str(tmp_path)], exclude=["*.yaml"])
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path}: no *.yaml or *.yml file in this directory that --exclude leaves in"
    ]


@pytest.mark.parametrize("pattern", ["", "/", "//"])
def test_an_empty_exclude_pattern_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="--exclude: empty pattern"):
        check_exclude(pattern)
    with pytest.raises(ValueError, match="--exclude: empty pattern"):
        load(["a.example.com"], exclude=[pattern])


def test_exclude_is_a_sequence_of_patterns() -> None:
    with pytest.raises(TypeError):
        load(["a.example.com"], exclude="*.csv")
    with pytest.raises(TypeError):
        load(["a.example.com"], exclude=[None])  # type: ignore[list-item]


def test_standard_input(tmp_path: Path) -> None:
    stdin = io.StringIO("endpoints:\n  - a.example.com\n  - bücher.example\n")
    file = write(tmp_path, "x.yaml", "- x.example.com\n")
    endpoints = load(["-", file, "-"], stdin=stdin)
    assert endpoints.files == ("-", file, "-")
    assert (endpoints.count, endpoints.duplicates) == (3, 2)
    # standard input is read once, and iterating twice reads it from memory
    assert (
        [e.host for e in endpoints]
        == [e.host for e in endpoints]
        == [
            "a.example.com",
            "xn--bcher-kva.example",
            "x.example.com",
        ]
    )


def test_standard_input_as_bytes(tmp_path: Path) -> None:
    raw = io.TextIOWrapper(io.BytesIO("- bücher.example\n".encode()), encoding="ascii")
    assert [e.host for e in load(["-"], stdin=raw)] == ["xn--bcher-kva.example"]


def test_problems_on_standard_input_name_it() -> None:
    stdin = io.StringIO("endpoints:\n  - http://a.example.com\n")
    with pytest.raises(ConfigError) as caught:
        load(["-"], stdin=stdin)
    assert [str(p) for p in caught.value.problems] == [
        "-:2: http:// is not TLS; use https:// (default port 443) or host:port"
    ]


@pytest.mark.parametrize(
    ("list_format", "text"),
    [
        (None, "- a.example.com\n- b.example.com:8443\n"),
        (ListFormat.YAML, "endpoints: [a.example.com, 'b.example.com:8443']\n"),
        (ListFormat.TEXT, "a.example.com\nb.example.com:8443  # comment\n"),
        (ListFormat.CSV, "host,port\na.example.com,\nb.example.com,8443\n"),
    ],
)
def test_standard_input_in_each_format(list_format: ListFormat | None, text: str) -> None:
    endpoints = load(["-"], stdin=io.StringIO(text), stdin_format=list_format)
    assert [(e.host, e.port) for e in endpoints] == [
        ("a.example.com", 443),
        ("b.example.com", 8443),
    ]


@pytest.mark.parametrize(
    ("text", "list_format", "sure"),
    [
        ("- a.example.com\n", ListFormat.YAML, True),
        ("-\n  host: a.example.com\n", ListFormat.YAML, True),
        ("# exported\n\nendpoints:\n  - a.example.com\n", ListFormat.YAML, True),
        ("defaults: {port: 8443}\nendpoints: [a.example.com]\n", ListFormat.YAML, True),
        ("'endpoints' : []\n", ListFormat.YAML, True),
        ("---\n- a.example.com\n", ListFormat.YAML, True),
        ("%YAML 1.1\n---\n[]\n", ListFormat.YAML, True),
        ("[a.example.com, b.example.com]\n", ListFormat.YAML, True),
        ("{endpoints: []}\n", ListFormat.YAML, True),
        ("apiVersion: v1\nkind: ConfigMap\n", ListFormat.YAML, False),
        ("a.example.com:\n", ListFormat.YAML, False),  # a host with no port, for YAML a key
        ("", ListFormat.YAML, False),
        ("\n# nothing yet\n", ListFormat.YAML, False),
        ("host,port\na.example.com,8443\n", ListFormat.CSV, True),
        ("\ufeff\n  Host ; Port\n", ListFormat.CSV, True),
        ("owner\tURL\n", ListFormat.CSV, True),
        ('"Label","Host"\n', ListFormat.CSV, True),
        ("host\na.example.com\n", ListFormat.CSV, True),  # one column
        ("# host,port\na.example.com\n", ListFormat.TEXT, False),  # CSV has no comments
        ("hostname,port\n", ListFormat.TEXT, False),
        ("a.example.com\n", ListFormat.TEXT, False),
        ("# CMDB\r\n\r\napi.example.com:8443  # comment\r\n- x\n", ListFormat.TEXT, False),
        ("https://a.example.com/x: y\n", ListFormat.TEXT, False),
        ("[2001:db8::10]:443\n", ListFormat.TEXT, False),
        ("[2001:db8::10]\n", ListFormat.TEXT, False),
        ("[2001:db8::10]:99999  # a bad port\n", ListFormat.TEXT, False),
        ("2001:db8::10\nfe80::\n", ListFormat.TEXT, False),
        ("{{host}}.example.com\n", ListFormat.TEXT, False),  # a template, not YAML
        ("%HOST%.example.com\n", ListFormat.TEXT, False),
        ("${HOST}:443\n", ListFormat.TEXT, False),
        ("\xff\xfe\n", ListFormat.TEXT, False),
    ],
)
def test_detect_format(text: str, list_format: ListFormat, sure: bool) -> None:
    data = text.encode("latin-1") if text.startswith("\xff") else text.encode()
    detected, why, certain = detect_format(data)
    assert (detected, certain) == (list_format, sure), why
    assert why


def test_detect_format_knows_the_examples() -> None:
    for name in ("example.yaml", "example.txt", "example.csv"):
        path = EXAMPLE.parent / name
        assert detect_format(path.read_bytes())[0] is format_of(str(path))


def test_detect_format_reads_only_the_first_lines() -> None:
    # whatever follows the line that decides is never looked at
    assert detect_format(b"a.example.com\n" + b"\x00\xff" * 100_000)[0] is ListFormat.TEXT


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("a.example.com\nb.example.com:0\n", "text (it starts like neither YAML nor a CSV header "
         "naming host or url)"),
        ("apiVersion: v1\n", "yaml (it starts with a YAML mapping key)"),
        ("", "yaml (it holds no endpoint)"),
    ],
)  # fmt: skip
def test_standard_input_read_as_a_guess_names_the_option(text: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(["-"], stdin=io.StringIO(text))
    *_, last = caught.value.problems
    assert str(last) == f"-: standard input read as {hint}; say --stdin-format yaml|text|csv"
    # told the format, there is nothing to say
    with pytest.raises(ConfigError) as told:
        load(["-"], stdin=io.StringIO(text), stdin_format=ListFormat.YAML)
    assert "--stdin-format" not in str(told.value)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("- a.example.com:0\n", 1),
        ("endpoints: [a.example.com:0]\n", 1),
        ("host,port\na.example.com,0\n", 2),
    ],
)
def test_standard_input_of_a_sure_format_says_nothing_more(text: str, line: int) -> None:
    with pytest.raises(ConfigError) as caught:
        load(["-"], stdin=io.StringIO(text))
    assert [(p.file, p.line) for p in caught.value.problems] == [("-", line)]
    assert "port 0 is out of range" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "a.example.com\n# a comment\nb.example.com:8443\n",
        "- a.example.com\n- b.example.com:8443\n",
        "endpoints:\n  - a.example.com\n  - host: b.example.com\n    port: 8443\n",
        "Host;Port\na.example.com;\nb.example.com;8443\n",
        "url\na.example.com\nhttps://b.example.com:8443/\n",
    ],
)
def test_standard_input_in_a_format_detected(text: str) -> None:
    endpoints = load(["-"], stdin=io.StringIO(text))
    assert [(e.host, e.port) for e in endpoints] == [
        ("a.example.com", 443),
        ("b.example.com", 8443),
    ]


def test_standard_input_problems_in_another_format() -> None:
    with pytest.raises(ConfigError) as caught:
        load(["-"], stdin=io.StringIO("a.example.com\nhttp://b\n"), stdin_format=ListFormat.TEXT)
    assert [str(p) for p in caught.value.problems] == [
        "-:2: http:// is not TLS; use https:// (default port 443) or host:port"
    ]


# --- duplicates -------------------------------------------------------------------------------


def test_duplicates_are_counted_and_skipped(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "first.yaml",
        """\
- a.example.com
- A.EXAMPLE.COM.
- a.example.com:443
- https://a.example.com/other
- a.example.com:8443
- {host: a.example.com, sni: other.example.com}
- {host: a.example.com, address: 192.0.2.1}
- {host: a.example.com, label: same key, tags: [different]}
""",
    )
    second = write(tmp_path, "second.yaml", "- a.example.com\n- '[2001:db8::1]'\n- 2001:db8:0::1\n")
    endpoints = load([first, second])
    assert (endpoints.count, endpoints.duplicates) == (5, 6)
    listed = list(endpoints)
    assert len(listed) == endpoints.count
    assert len({(e.host, e.port, e.address, e.sni) for e in listed}) == endpoints.count
    assert listed[0].http_path == "/"  # the first one wins, not line 4's /other
    assert list(endpoints) == listed  # and iterating again gives the same


def test_a_file_given_twice_is_all_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "- a.example.com\n- b.example.com\n")
    endpoints = load([path, path])
    assert (endpoints.count, endpoints.duplicates, len(list(endpoints))) == (2, 2, 2)


def test_entries_that_differ_only_in_path_or_protocol_are_one_endpoint(tmp_path: Path) -> None:
    text = """\
- https://a.example.com/first
- https://a.example.com/second
- a.example.com
- {host: a.example.com, protocol: tls}
- {host: b.example.com, protocol: tls}
- https://b.example.com/
"""
    endpoints = load([write(tmp_path, "list.yaml", text)])
    assert (endpoints.count, endpoints.duplicates) == (2, 4)
    assert [(e.host, e.http_path) for e in endpoints] == [
        ("a.example.com", "/first"),  # the first one wins
        ("b.example.com", None),
    ]


def test_entries_that_differ_only_in_their_client_settings_are_one_endpoint(
    tmp_path: Path,
) -> None:
    text = """\
- {host: a.example.com, tls_min: 1.3, proxy: direct, all_addresses: true}
- {host: a.example.com, tls_min: 1.0, tls_max: 1.2, proxy: 'http://proxy.example.net:3128'}
- a.example.com
- {host: b.example.com, all_addresses: false}
- {host: b.example.com, all_addresses: true}
"""
    csv_list = write(tmp_path, "c.csv", "host,proxy,tls_max\nb.example.com,direct,1.2\n")
    endpoints = load([write(tmp_path, "list.yaml", text), csv_list])
    assert (endpoints.count, endpoints.duplicates) == (2, 4)
    assert [(e.host, e.tls_min, e.tls_max, e.proxy, e.all_addresses) for e in endpoints] == [
        ("a.example.com", TLSVersion.TLS1_3, None, None, True),  # the first one wins
        ("b.example.com", None, None, None, False),
    ]


def test_an_environment_proxy_changes_no_identity(tmp_path: Path) -> None:
    text = "- a.example.com\n- b.example.com\n- {host: a.example.com, proxy: direct}\n"
    path = write(tmp_path, "list.yaml", text)
    proxy = Proxy("env.example.net", 3128)
    settings = Settings(environment_proxy=proxy, no_proxy="b.example.com")
    endpoints = load([path], settings)
    assert (endpoints.count, endpoints.duplicates) == (2, 1)
    assert [(e.host, e.proxy) for e in endpoints] == [
        ("a.example.com", proxy),
        ("b.example.com", None),
    ]


def test_formats_mix_and_duplicates_are_scanned_once(tmp_path: Path) -> None:
    yaml_list = write(tmp_path, "a.yaml", "- a.example.com\n- {host: b.example.com, port: 8443}\n")
    text_list = write(tmp_path, "b.txt", "A.example.com:443\nc.example.com\n")
    csv_list = write(
        tmp_path, "c.csv", "url,label\nhttps://b.example.com:8443/,B\nd.example.com,D\n"
    )
    endpoints = load([yaml_list, text_list, csv_list])
    assert (endpoints.count, endpoints.total, endpoints.duplicates) == (4, 4, 2)
    assert endpoints.files == (yaml_list, text_list, csv_list)
    assert [(e.host, e.port, e.label) for e in endpoints] == [
        ("a.example.com", 443, ""),
        ("b.example.com", 8443, ""),  # the YAML entry, first
        ("c.example.com", 443, ""),
        ("d.example.com", 443, "D"),
    ]


# --- iteration --------------------------------------------------------------------------------


def test_a_large_list(tmp_path: Path) -> None:
    lines = ["defaults:", "  tags: [bulk]", "endpoints:"]
    for number in range(20_000):
        if number % 3 == 0:
            lines.append(f"  - host{number}.example.com:{1 + number % 65535}")
        elif number % 3 == 1:
            lines.append(
                f"  - host: host{number}.example.net\n    port: 8443\n    tags: [t{number}]"
            )
        else:
            lines.append(f"  - https://host{number % 1000}.example.org/")  # 1,000 distinct
    path = write(tmp_path, "large.yaml", "\n".join(lines) + "\n")
    endpoints = load([path])
    assert endpoints.count == 20_000 - 6_666 + 1_000
    assert endpoints.duplicates == 6_666 - 1_000
    count = 0
    for endpoint in endpoints:
        assert endpoint.tags[0] == "bulk"
        count += 1
    assert count == endpoints.count


def test_iteration_may_stop_early(tmp_path: Path) -> None:
    endpoints = load([write(tmp_path, "list.yaml", "- a.example.com\n- b.example.com\n")])
    first = next(iter(endpoints))  # the abandoned reader closes its file (-W error would tell)
    assert first.host == "a.example.com"
    assert [e.host for e in endpoints] == ["a.example.com", "b.example.com"]


# --- problems ---------------------------------------------------------------------------------


def test_a_missing_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert [str(p) for p in problems_of([missing])] == [f"{missing}: no such file or directory"]


LOOP = "too many levels of symbolic links (a symbolic link loop?)"


def test_a_symbolic_link_loop(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    loop = str(tmp_path / "a.yaml")
    # named on the command line, and found in a directory: the same words, never "no such file"
    assert [str(p) for p in problems_of([loop])] == [f"{loop}: cannot read: {LOOP}"]
    assert [str(p) for p in problems_of([str(tmp_path)])] == [
        f"{tmp_path / 'a.yaml'}: cannot read: {LOOP}",
        f"{tmp_path / 'b.yaml'}: cannot read: {LOOP}",
        f"{tmp_path / 'gone.yaml'}: no such file or directory",  # a dangling link
    ]


@pytest.mark.parametrize("reader", [YamlReader, TextReader, CsvReader])
@pytest.mark.parametrize(
    ("error", "message"),
    [
        (OSError(errno.EIO, "Input/output error"), "cannot read: input/output error"),
        (OSError(errno.ELOOP, "Too many levels"), f"cannot read: {LOOP}"),
        (PermissionError(errno.EACCES, "Permission denied"), "cannot read: permission denied"),
        (FileNotFoundError(errno.ENOENT, "No such file"), "no such file or directory"),
    ],
)
def test_every_reader_words_a_read_error_alike(
    reader: type[YamlReader | TextReader | CsvReader], error: OSError, message: str
) -> None:
    def fail() -> BinaryIO:
        raise error

    instance = reader("list", fail, Defaults(443, 5.0, 1))
    assert list(instance) == []
    assert [str(p) for p in instance.problems] == [f"list: {message}"]


def test_a_directory_without_lists(tmp_path: Path) -> None:
    write(tmp_path, "readme.txt", "nothing\n")
    (problem,) = problems_of([str(tmp_path)])
    assert str(problem) == f"{tmp_path}: no *.yaml or *.yml file in this directory"


def test_every_problem_of_every_file_together(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "first.yaml",
        "endpoints:\n  - a.example.com:0\n  - host: b.example.com\n    port: yes\n",
    )
    good = write(tmp_path, "good.yaml", "- c.example.com\n")
    second = write(tmp_path, "second.yaml", "defaults:\n  colour: red\nendpoints: [http://d]\n")
    missing = str(tmp_path / "missing.yaml")
    broken = write(tmp_path, "broken.yaml", "endpoints:\n  - [e.example.com\n")
    problems = problems_of([first, good, second, missing, broken])
    assert [(p.file, p.line) for p in problems] == [
        (first, 2),
        (first, 4),
        (second, 2),
        (second, 3),
        (missing, None),
        (broken, 3),
    ]


def test_every_problem_of_every_format_is_reported(tmp_path: Path) -> None:
    yaml_list = write(tmp_path, "a.yaml", "- a.example.com:0\n")
    text_list = write(tmp_path, "b.txt", "ok.example.com\nhttps://{{env}}.example.com/api\n")
    csv_list = write(tmp_path, "c.csv", "host,port\nok.example.com,1\nbad..example.com,x\n")
    problems = problems_of([yaml_list, text_list, csv_list])
    assert [(p.file, p.line) for p in problems] == [
        (yaml_list, 1),
        (text_list, 2),
        (csv_list, 3),
        (csv_list, 3),
    ]


def test_paths_must_be_a_sequence_of_strings() -> None:
    with pytest.raises(TypeError):
        load("list.yaml")


# --- lists that change after they were validated ---------------------------------------------
# The scan reads the lists again while it runs (to keep memory flat): it must scan exactly what
# was validated, or stop with ListChangedError, never end as if it had scanned it all.

FORMATS = {
    "list.yaml": ("endpoints:\n", "  - h{}.example.com\n"),
    "list.txt": ("# hosts\n", "h{}.example.com\n"),
    "list.csv": ("host,label\n", "h{},label {}\n"),
    "map.yaml": ("endpoints:\n", "  - host: h{}.example.com\n    label: '#{}'\n"),
}


def listing(name: str, numbers: range) -> str:
    head, line = FORMATS[name]
    if name == "list.csv":
        return head + "".join(line.format(f"{n}.example.com", n) for n in numbers)
    return head + "".join(line.format(n, n) for n in numbers)


CHANGES: dict[str, tuple[Callable[[str], str], str]] = {
    "truncated": (lambda name: listing(name, range(3)), "it was cut short: it ends at byte "),
    "emptied": (lambda name: "", "it was cut short: it ends at byte 0 now, at byte "),
    "overwritten": (lambda name: listing(name, range(10, 15)), "it was rewritten: its bytes"),
    "appended": (lambda name: listing(name, range(6)), "it grew: it goes on past byte "),
    "reordered": (lambda name: listing(name, range(4, -1, -1)), "it was rewritten: "),
    "relabelled": (
        lambda name: listing(name, range(5)).replace("label ", "LABEL ").replace("'#", "'!"),
        "it was rewritten: its bytes from byte 0 on are not the ones validated",
    ),
}


@pytest.mark.parametrize(
    ("name", "change"),
    [
        (name, change)
        for name in sorted(FORMATS)
        for change in sorted(CHANGES)
        if change != "relabelled" or name in ("list.csv", "map.yaml")  # the ones with labels
    ],
)
def test_a_list_changed_after_load_stops_the_iteration(
    tmp_path: Path, name: str, change: str
) -> None:
    path = write(tmp_path, name, listing(name, range(5)))
    endpoints = load([path])
    validated = list(endpoints)
    assert len(validated) == 5
    rewrite, message = CHANGES[change]
    Path(path).write_text(rewrite(name), encoding="utf-8")
    yielded: list[Endpoint] = []
    with pytest.raises(ListChangedError) as caught:
        yielded.extend(endpoints)
    # the reader never saw a byte that changed: nothing is yielded of a list this short, and
    # the message names the file and what changed
    assert yielded == []
    text = str(caught.value)
    assert text.startswith(f"{path} changed during the scan: "), text
    assert message in text, text
    assert "\n" not in text


def test_a_line_appended_is_refused_before_it_is_scanned(tmp_path: Path) -> None:
    path = write(tmp_path, "list.txt", "a.example.com\nb.example.com\n")
    endpoints = load([path])
    with open(path, "a", encoding="utf-8") as stream:
        stream.write("new.example.com\n")
    with pytest.raises(ListChangedError) as caught:
        next(iter(endpoints))  # the list is read a block at a time: this one grew
    assert str(caught.value) == (
        f"{path} changed during the scan: it grew: it goes on past byte 28, its end then; "
        "the scan stops here"
    )


def test_a_list_that_turns_bad_after_load(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "- a.example.com\n")
    endpoints = load([path])
    Path(path).write_text("- a.example.com:0\n", encoding="utf-8")
    with pytest.raises(ListChangedError) as caught:
        list(endpoints)
    assert str(caught.value) == (
        f"{path} changed during the scan: it was rewritten: its bytes from byte 0 on are not the "
        "ones validated; the scan stops here"
    )


def test_a_list_deleted_after_load(tmp_path: Path) -> None:
    first = write(tmp_path, "first.txt", "a.example.com\n")
    second = write(tmp_path, "second.txt", "b.example.com\n")
    endpoints = load([first, second])
    Path(second).unlink()
    with pytest.raises(ListChangedError, match="no such file or directory"):
        list(endpoints)


BIG = {  # more than the reader reads at once, in each reader
    "list.txt": "".join(f"h{n}.example.com\n" for n in range(20_000)),
    "list.csv": "host,port\n" + "".join(f"h{n}.example.com,1\n" for n in range(20_000)),
    "lines.yaml": "endpoints:\n" + "".join(f"  - h{n}.example.com\n" for n in range(20_000)),
    # an anchor: libyaml reads this one
    "events.yaml": "endpoints:\n  - &a h0.example.com\n"
    + "".join(f"  - h{n}.example.com\n" for n in range(1, 20_000)),
}


@pytest.mark.parametrize("name", sorted(BIG))
@pytest.mark.parametrize("cut", ["truncate", "rewrite"])
def test_a_list_changed_behind_the_reader(tmp_path: Path, name: str, cut: str) -> None:
    # The reader is still in the file when the file changes.
    path = write(tmp_path, name, BIG[name])
    endpoints = load([path])
    iterator = iter(endpoints)
    assert next(iterator).host == "h0.example.com"
    with open(path, "r+b") as stream:
        if cut == "truncate":
            stream.truncate(0)
        else:
            stream.seek(100_000)
            stream.write(b"  - {host: [unclosed\n" * 1000)
    scanned: list[Endpoint] = []
    with pytest.raises(ListChangedError) as caught:
        scanned.extend(iterator)
    assert all(e.host.endswith(".example.com") for e in scanned)  # never half a line
    size = len(BIG[name])
    expected = (
        f"it was cut short: it ends at byte 65536 now, at byte {size} when it was validated"
        if cut == "truncate"
        else "it was rewritten: its bytes from byte 65536 on are not the ones validated"
    )
    assert str(caught.value) == f"{path} changed during the scan: {expected}; the scan stops here"


def test_a_list_that_grew_after_the_end_was_read_is_scanned_as_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "list.txt", "a.example.com\nb.example.com\n")
    endpoints = load([path])
    iterator = iter(endpoints)
    assert next(iterator).host == "a.example.com"  # the reader has read to the end
    with open(path, "a", encoding="utf-8") as stream:
        stream.write("new.example.com\n")
    assert [e.host for e in iterator] == ["b.example.com"]  # what was validated, no more


def test_a_list_that_did_not_change_is_scanned_again_in_full(tmp_path: Path) -> None:
    text = "- a.example.com\n- b.example.com\n- a.example.com\n"
    path = write(tmp_path, "list.yaml", text)
    endpoints = load([path])
    first = list(endpoints)
    Path(path).write_text(text, encoding="utf-8")  # written again, the same bytes
    assert list(endpoints) == first == list(endpoints)
    assert [e.host for e in first] == ["a.example.com", "b.example.com"]


@pytest.mark.parametrize("workers", [2, 3])
def test_each_worker_checks_the_whole_list(tmp_path: Path, workers: int) -> None:
    # Each forked worker iterates the whole list and takes every N-th endpoint of it.
    path = write(tmp_path, "list.txt", "".join(f"h{n}.example.com\n" for n in range(10)))
    endpoints = load([path])
    parts = [list(itertools.islice(endpoints, i, None, workers)) for i in range(workers)]
    assert sorted(e.host for part in parts for e in part) == sorted(e.host for e in endpoints)
    Path(path).write_text("".join(f"h{n}.example.com\n" for n in range(9)), encoding="utf-8")
    for index in range(workers):
        with pytest.raises(ListChangedError, match="it was cut short: it ends at byte 135 now"):
            list(itertools.islice(endpoints, index, None, workers))


def test_a_shard_is_checked_too(tmp_path: Path) -> None:
    path = write(tmp_path, "list.txt", "a.example.com\nb.example.com\n")
    endpoints = load([path], select=lambda host, port, address: host == "a.example.com")
    assert [e.host for e in endpoints] == ["a.example.com"]
    Path(path).write_text("a.example.com\nc.example.com\n", encoding="utf-8")
    # c is not in this shard, and would not be scanned here: the list changed all the same
    with pytest.raises(ListChangedError, match="it was rewritten: its bytes from byte 0 on"):
        list(endpoints)


def test_standard_input_is_kept_and_cannot_change() -> None:
    endpoints = load(["-"], stdin=io.StringIO("- a.example.com\n"))
    assert [e.host for e in endpoints] == [e.host for e in endpoints] == ["a.example.com"]


# --- selection --------------------------------------------------------------------------------


def test_select_chooses_the_endpoints_of_a_shard(tmp_path: Path) -> None:
    text = (
        "- a.example.com\n- b.example.com\n- a.example.com\n"
        "- {host: c.example.com, address: 192.0.2.1}\n"
    )
    path = write(tmp_path, "list.yaml", text)
    calls: list[tuple[str, int, str | None]] = []

    def select(host: str, port: int, address: str | None) -> bool:
        calls.append((host, port, address))
        return host != "b.example.com"

    endpoints = load([path], select=select)
    assert (endpoints.count, endpoints.total, endpoints.duplicates) == (2, 3, 1)
    assert sorted(set(calls)) == [
        ("a.example.com", 443, None),
        ("b.example.com", 443, None),
        ("c.example.com", 443, "192.0.2.1"),
    ]
    assert [(e.host, e.address) for e in endpoints] == [
        ("a.example.com", None),
        ("c.example.com", "192.0.2.1"),
    ]
    assert len(list(endpoints)) == endpoints.count
    everything = load([path])
    assert (everything.count, everything.total) == (3, 3)


def test_shards_cover_the_list_once(tmp_path: Path) -> None:
    import zlib

    lines = [f"- host{i}.example.com:{1 + i % 3}\n" for i in range(200)]
    path = write(tmp_path, "list.yaml", "".join(lines + lines[:10]))

    def shard(number: int) -> Callable[[str, int, str | None], bool]:
        return lambda host, port, address: zlib.crc32(f"{host}:{port}".encode()) % 3 == number

    shards = [load([path], select=shard(n)) for n in range(3)]
    hosts = [(e.host, e.port) for endpoints in shards for e in endpoints]
    assert len(hosts) == len(set(hosts)) == 200
    assert sum(endpoints.count for endpoints in shards) == 200
    assert all(endpoints.total == 200 for endpoints in shards)


# --- every format -----------------------------------------------------------------------------


ENTRY_HOSTS = st.sampled_from(
    [
        "a.example.com",
        "API.Example.com.",
        "10.0.0.1",
        "2001:db8::1",
        "bücher.example",
        "svc_x.example",
    ]
)


CLIENT_SETTINGS = st.builds(
    Settings,
    tls_min=st.none() | st.just(TLSVersion.TLS1_2),
    tls_max=st.none() | st.just(TLSVersion.TLS1_3),
    proxy=st.sampled_from([None, DIRECT, Proxy("proxy.example.net", 3128)]),
    all_addresses=st.booleans(),
    environment_proxy=st.none() | st.just(Proxy("env.example.net", 3128)),
    no_proxy=st.sampled_from(["", "example.com", "10.0.0.0/8, 2001:db8::/32", "*"]),
)


@settings(max_examples=200, deadline=None)
@given(
    ENTRY_HOSTS,
    st.none() | st.integers(min_value=1, max_value=65535),
    st.booleans(),
    CLIENT_SETTINGS,
)
def test_every_format_reads_the_same_endpoint(
    host: str, port: int | None, url: bool, client: Settings
) -> None:
    bare = f"[{host}]" if ":" in host else host
    string = f"{bare}:{port}" if port is not None else bare
    if url:
        string = f"https://{string}/path?q=1"
    forms = {
        "list.yaml": f"endpoints:\n  - '{string}'\n",
        "list.txt": f"{string}\n",
        "url.csv": f"url\n{string}\n",
        "host.csv": f"host,port\n{host},{port or ''}\n",
        "map.yaml": f"- host: '{host}'\n" + (f"  port: {port}\n" if port else ""),
    }
    if url and port is None:  # a URL names its port: https, 443
        forms["host.csv"] = f"host,port\n{host},443\n"
        forms["map.yaml"] = f"- host: '{host}'\n  port: 443\n"
    with tempfile.TemporaryDirectory() as tmp:
        found = set()
        paths = {}
        for name, text in forms.items():
            (endpoint,) = load([write(Path(tmp), name, text)], client)
            found.add(dataclasses.replace(endpoint, http_path=None))
            paths[name] = endpoint.http_path
    assert len(found) == 1, found
    (endpoint,) = found
    assert (endpoint.tls_min, endpoint.tls_max, endpoint.all_addresses) == (
        client.tls_min, client.tls_max, client.all_addresses
    )  # fmt: skip
    # a mapping or a host cell has no path; an endpoint string has the URL's
    url_path = "/path?q=1" if url else "/"
    assert paths == {
        "list.yaml": url_path,
        "list.txt": url_path,
        "url.csv": url_path,
        "host.csv": "/",
        "map.yaml": "/",
    }
