"""Plain-text endpoint lists: one endpoint string a line, comments, problems with their line.
No sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from snisweep.errors import ConfigError, Problem
from snisweep.lists.load import DIRECT, Settings, load
from snisweep.model import Endpoint, Proxy, TLSVersion

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "example.txt"


def write(tmp_path: Path, text: str | bytes, name: str = "list.txt") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def endpoints_of(tmp_path: Path, text: str | bytes, name: str = "list.txt") -> list[Endpoint]:
    return list(load([write(tmp_path, text, name)]))


def problems_of(tmp_path: Path, text: str | bytes) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load([write(tmp_path, text)])
    return list(caught.value.problems)


def test_every_string_form(tmp_path: Path) -> None:
    text = (
        "api.example.com\n"
        "  API.Example.com:8443  \n"
        "[2001:db8::10]:443\n"
        "2001:db8::11\n"
        "https://hr.example.net:9443/ws/soap\n"
        "ldaps://ldap.example.com\n"
        "192.0.2.1\n"
    )
    assert [(e.host, e.port, e.sni) for e in endpoints_of(tmp_path, text)] == [
        ("api.example.com", 443, "api.example.com"),
        ("api.example.com", 8443, "api.example.com"),
        ("2001:db8::10", 443, None),
        ("2001:db8::11", 443, None),
        ("hr.example.net", 9443, "hr.example.net"),
        ("ldap.example.com", 636, "ldap.example.com"),
        ("192.0.2.1", 443, None),
    ]


def test_comments_blank_lines_and_line_numbers(tmp_path: Path) -> None:
    text = (
        "# exported 2024-05-01\n"
        "\n"
        "a.example.com   # the first\n"
        "   # indented comment\n"
        "\t\n"
        "https://b.example.com/#/login\n"
        "c.example.com\t# after a tab\n"
    )
    assert [e.host for e in endpoints_of(tmp_path, text)] == [
        "a.example.com",
        "b.example.com",
        "c.example.com",
    ]
    # every line counts, blank and comment lines too
    assert [p.line for p in problems_of(tmp_path, text + "bad..example.com\n")] == [8]


def test_bom_and_crlf(tmp_path: Path) -> None:
    text = "\ufeffa.example.com\r\nb.example.com:8443\r\n".encode()
    assert [(e.host, e.port) for e in endpoints_of(tmp_path, text)] == [
        ("a.example.com", 443),
        ("b.example.com", 8443),
    ]


@pytest.mark.parametrize("end", [b"\r", b"\r\n", b"\n"])
def test_every_line_end_ends_a_line(tmp_path: Path, end: bytes) -> None:
    # A lone CR too (old Mac exports): a list that starts with a comment is not one comment.
    text = end.join([b"# exported", b"a.example.com", b"b.example.com:8443  # x", b"bad..x", b""])
    with pytest.raises(ConfigError) as caught:
        load([write(tmp_path, text)])
    assert [p.line for p in caught.value.problems] == [4]
    assert [(e.host, e.port) for e in endpoints_of(tmp_path, text.replace(b"bad..x", b""))] == [
        ("a.example.com", 443),
        ("b.example.com", 8443),
    ]


def test_settings_apply(tmp_path: Path) -> None:
    (endpoint,) = load([write(tmp_path, "a.example.com\n")], Settings(port=636, retries=0))
    assert (endpoint.port, endpoint.retries, endpoint.tags, endpoint.label) == (636, 0, (), "")


def test_the_path_and_protocol(tmp_path: Path) -> None:
    text = (
        "a.example.com\n"
        "https://hr.example.net:9443/ws/soap?wsdl   # a comment\n"
        "https://b.example.com?x=1\n"
        "https://app.example.net/#/login\n"
        "https://c.example.com/bücher/a%2Fb\n"
        "wss://d.example.com/stream\n"
        "ldaps://ldap.example.com\n"
    )
    paths = ["/", "/ws/soap?wsdl", "/?x=1", "/", "/b%C3%BCcher/a%2Fb", "/stream", None]
    assert [e.http_path for e in endpoints_of(tmp_path, text)] == paths
    # the command line's protocol, for all but the URLs, whose schemes say
    endpoints = load([write(tmp_path, text)], Settings(protocol="tls"))
    assert [e.http_path for e in endpoints] == [None, *paths[1:]]


def test_the_list_suffix_is_text_too(tmp_path: Path) -> None:
    assert [e.host for e in endpoints_of(tmp_path, "a.example.com\n", "hosts.LIST")] == [
        "a.example.com"
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("http://a.example.com/", "http:// is not TLS; use https://"),
        ("a.example.com:0", "port 0 is out of range 1..65535"),
        ("a.example.com:99999", "port 99999 is out of range"),
        ("a..example.com", "invalid host 'a..example.com': empty label"),
        ("a example.com", "' ' is not allowed"),
        ("- a.example.com", "invalid host '- a.example.com'"),
        ("https://{{env}}.example.com/api", "unresolved template variable '{{env}}'"),
        ("https://${HOST}/x", "unresolved template variable '${HOST}'"),
        ("%HOST%:443", "unresolved template variable '%HOST%'"),
        ("gopher://a.example.com", "unsupported URL scheme 'gopher://'"),
        ("a:b:c", "is neither host:port nor an IPv6 address"),
        ("https://a.example.com/a b", "a space in the URL's path or query '/a b'"),
        ("https://a.example.com/x\x00y", "a control character (U+0000) in the URL's path"),
        ("https://a.example.com/x\x0cy", "a control character (U+000C) in the URL's path"),
        ("https://a.example.com/" + "x" * 2048, "2049 characters long; 2048 at most"),
        ("https://a.example.com/{{ path }}", "unresolved template variable '{{ path }}'"),
    ],
)
def test_each_problem_has_its_line(tmp_path: Path, line: str, message: str) -> None:
    (problem,) = problems_of(tmp_path, f"# header\nok.example.com\n{line}\n")
    assert problem.line == 3
    assert message in problem.message


def test_every_problem_is_reported(tmp_path: Path) -> None:
    text = "a.example.com:0\nb.example.com\nhttp://c.example.com\n\xff.example.com\n"
    problems = problems_of(tmp_path, text.encode("latin-1"))
    assert [p.line for p in problems] == [1, 3, 4]
    assert "not valid UTF-8" in problems[2].message


def test_an_empty_text_list_is_no_problem(tmp_path: Path) -> None:
    endpoints = load([write(tmp_path, "# nothing yet\n")])
    assert (endpoints.count, list(endpoints)) == (0, [])


def test_the_example_is_valid() -> None:
    endpoints = load([str(EXAMPLE)])
    assert endpoints.count >= 8
    assert endpoints.duplicates == 0


# --- the client's settings come from the command line, the proxy else from the environment ----

PROXY = Proxy("proxy.example.net", 3128)
ENVIRONMENT = Proxy("env.example.net", 3128)


def test_a_list_is_read_as_before(tmp_path: Path) -> None:
    assert endpoints_of(tmp_path, "a.example.com\n192.0.2.1:8443\n") == [
        Endpoint("a.example.com", 443, sni="a.example.com"),
        Endpoint("192.0.2.1", 8443),
    ]


def test_the_client_settings_of_the_command_line(tmp_path: Path) -> None:
    settings = Settings(
        tls_min=TLSVersion.TLS1_2, tls_max=TLSVersion.TLS1_3, proxy=PROXY, all_addresses=True
    )
    endpoints = load([write(tmp_path, "a.example.com\nldaps://b.example.com\n")], settings)
    assert [(e.tls_min, e.tls_max, e.proxy, e.all_addresses) for e in endpoints] == [
        (TLSVersion.TLS1_2, TLSVersion.TLS1_3, PROXY, True)
    ] * 2


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (Settings(environment_proxy=ENVIRONMENT), [ENVIRONMENT, ENVIRONMENT, ENVIRONMENT]),
        (Settings(environment_proxy=ENVIRONMENT, no_proxy="b.example.com, 192.0.2.0/24"),
         [ENVIRONMENT, None, None]),
        (Settings(environment_proxy=ENVIRONMENT, no_proxy="*"), [None, None, None]),
        (Settings(proxy=PROXY, environment_proxy=ENVIRONMENT, no_proxy="*"), [PROXY] * 3),
        (Settings(proxy=DIRECT, environment_proxy=ENVIRONMENT), [None, None, None]),
    ],
)  # fmt: skip
def test_the_environment_proxy_and_no_proxy(
    tmp_path: Path, settings: Settings, expected: list[Proxy | None]
) -> None:
    text = "a.example.com\nhttps://x.b.example.com/\n192.0.2.1\n"
    assert [e.proxy for e in load([write(tmp_path, text)], settings)] == expected
