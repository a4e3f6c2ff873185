"""The YAML scalar types (snisweep.lists.yaml_nodes): both YAML readers type plain scalars
with it, which stands in for PyYAML's resolver and constructors. No sockets, no files."""

from __future__ import annotations

import pytest
import yaml
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from snisweep.lists.yaml_nodes import (
    MERGE,
    Invalid,
    Map,
    Seq,
    UnsupportedTag,
    construct,
    describe,
    plain_scalar,
    resolve_plain,
)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "~",
        "null",
        "Null",
        "NULL",
        "nULL",
        "yes",
        "No",
        "true",
        "FALSE",
        "on",
        "Off",
        "offset",
        "nightly",
        "Nightly.example.com",
        "443",
        "0443",
        "0x1bb",
        "0b1",
        "1_000",
        "1:30",
        "1.5",
        "1.5.6",
        "10.0.0.1",
        ".5",
        ".inf",
        "-.INF",
        ".NaN",
        "1e5",
        "1.0e+5",
        "2001-12-14",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5",
        "<<",
        "=",
        "+1",
        "-",
        "2001:db8::1",
        "1:2:3:4:5:6:7:8",
        "host: x",
    ],
)
def test_plain_scalars_resolve_as_the_safe_loader_does(text: str) -> None:
    assert resolve_plain(text) == Resolver().resolve(ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if text == "<<":
        assert plain_scalar(text, 1).value is MERGE
    elif text == "=":  # PyYAML's 'value' type, which nobody means: a string here
        assert plain_scalar(text, 1).value == "="
    elif text != "host: x":
        expected = yaml.safe_load(f"[{text}]" if text else "[]")
        assert [plain_scalar(text, 1).value] == (expected or [None])


@pytest.mark.parametrize(
    ("tag", "text", "value"),
    [
        ("tag:yaml.org,2002:str", "015001", "015001"),
        ("tag:yaml.org,2002:int", "8443", 8443),
        ("tag:yaml.org,2002:int", "015001", 6657),  # octal, as YAML 1.1 has it (yaml_list refuses)
        ("tag:yaml.org,2002:int", "1:30", 90),  # base 60, likewise
        ("tag:yaml.org,2002:float", "2.5", 2.5),
        ("tag:yaml.org,2002:bool", "yes", True),
        ("tag:yaml.org,2002:null", "~", None),
        ("tag:yaml.org,2002:value", "=", "="),
    ],
)
def test_construct_makes_the_safe_loaders_values(tag: str, text: str, value: object) -> None:
    assert construct(tag, text) == value


@pytest.mark.parametrize(
    "tag",
    ["tag:yaml.org,2002:python/object/apply:os.system", "tag:yaml.org,2002:set", "!custom"],
)
def test_construct_refuses_what_is_no_plain_value(tag: str) -> None:
    with pytest.raises(UnsupportedTag):
        construct(tag, "x")


def test_construct_and_plain_scalar_refuse_a_text_that_is_no_value_of_its_type() -> None:
    with pytest.raises(ValueError, match=r"invalid !!int value 'abc'"):
        construct("tag:yaml.org,2002:int", "abc")
    with pytest.raises(ValueError, match="0x_"):
        plain_scalar("0x_", 1)


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("443", "an integer (443)"),
        ("2.5", "a number (2.5)"),
        ("yes", "a boolean (yes)"),
        ("~", "an empty value"),
        ("2001-12-14", "a date (2001-12-14)"),
        ("a.example.com", "a string ('a.example.com')"),
    ],
)
def test_describe_says_what_a_node_is(text: str, described: str) -> None:
    assert describe(plain_scalar(text, 1)) == described


def test_describe_the_other_nodes() -> None:
    assert [describe(Seq([], 1)), describe(Map({}, 1)), describe(Invalid(1))] == [
        "a list",
        "a mapping",
        "an invalid value",
    ]
