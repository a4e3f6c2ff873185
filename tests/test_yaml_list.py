"""Endpoint lists: every form, every rule, every problem with its place. No sockets."""

from __future__ import annotations

import dataclasses
import io
import math
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snisweep.errors import ConfigError, Problem
from snisweep.lists.load import (
    EndpointList,
    ListFormat,
    Settings,
    format_of,
    load,
    parse_endpoint_string,
)
from snisweep.model import Endpoint

DEFAULTS = Settings()
EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "example.yaml"


def write(directory: Path, name: str, text: str | bytes) -> str:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def endpoints_of(tmp_path: Path, text: str, settings: Settings = DEFAULTS) -> list[Endpoint]:
    return list(load([write(tmp_path, "list.yaml", text)], settings))


def only(tmp_path: Path, text: str, settings: Settings = DEFAULTS) -> Endpoint:
    (endpoint,) = endpoints_of(tmp_path, text, settings)
    return endpoint


def problems_of(paths: list[str]) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load(paths)
    return list(caught.value.problems)


# --- parse_endpoint_string --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("api.example.com", ("api.example.com", None)),
        ("  api.example.com  ", ("api.example.com", None)),
        ("API.Example.com", ("API.Example.com", None)),  # as written: normalising comes later
        ("api.example.com:8443", ("api.example.com", 8443)),
        ("10.0.0.1", ("10.0.0.1", None)),
        ("10.0.0.1:443", ("10.0.0.1", 443)),
        ("[2001:db8::10]:443", ("2001:db8::10", 443)),
        ("[2001:db8::10]", ("2001:db8::10", None)),
        ("2001:db8::10", ("2001:db8::10", None)),
        ("2001:db8::10:443", ("2001:db8::10:443", None)),  # more than one ':' is all address
        ("https://hr.example.net:9443/ws/soap", ("hr.example.net", 9443)),
        ("https://hr.example.net", ("hr.example.net", 443)),
        ("HTTPS://hr.example.net/", ("hr.example.net", 443)),
        ("https://user:secret@hr.example.net/x?y=1#z", ("hr.example.net", 443)),
        ("https://hr.example.net?x=1", ("hr.example.net", 443)),
        ("https://[2001:db8::1]:8443/", ("2001:db8::1", 8443)),
        ("https://[2001:db8::1]/", ("2001:db8::1", 443)),
        ("wss://push.example.net/stream", ("push.example.net", 443)),
        ("ldaps://ldap.example.com", ("ldap.example.com", 636)),
        ("smtps://mail.example.com", ("mail.example.com", 465)),
        ("imaps://mail.example.com", ("mail.example.com", 993)),
        ("pop3s://mail.example.com", ("mail.example.com", 995)),
        ("ftps://files.example.com", ("files.example.com", 990)),
        ("ftps://files.example.com:2990", ("files.example.com", 2990)),
        ("https://${HOST}/x", ("${HOST}", 443)),  # the host is judged later
    ],
)
def test_parse_endpoint_string(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_endpoint_string(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty host"),
        ("   ", "empty host"),
        (":443", "empty host"),
        ("[]:443", "empty host"),
        ("api.example.com:", "missing port after ':'"),
        ("api.example.com:abc", "invalid port 'abc'"),
        ("api.example.com:+1", "invalid port '+1'"),
        ("api.example.com:0", "port 0 is out of range 1..65535"),
        ("api.example.com:65536", "port 65536 is out of range 1..65535"),
        ("api.example.com:9999999999999", "out of range 1..65535"),
        ("a:b:c", "is neither host:port nor an IPv6 address"),
        ("[2001:db8::1", "missing ']'"),
        ("[2001:db8::1]x", "unexpected 'x' after ']'"),
        ("[api.example.com]:443", "brackets are only for IPv6 addresses"),
        ("http://api.example.com", "http:// is not TLS; use https://"),
        ("ws://api.example.com", "ws:// is not TLS; use wss://"),
        ("ldap://api.example.com", "ldap:// is not TLS; use ldaps://"),
        ("gopher://api.example.com", "unsupported URL scheme 'gopher://'"),
        ("://api.example.com", "unsupported URL scheme '://'"),
        ("https://", "empty host in URL"),
        ("https://user@/x", "empty host in URL"),
        ("https://2001:db8::1/", "an IPv6 address in a URL needs brackets"),
        ("https://api.example.com:x/", "invalid port 'x'"),
    ],
)
def test_parse_endpoint_string_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_endpoint_string(text)


# --- the string forms, through load -----------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "host", "port", "sni"),
    [
        ("api.example.com", "api.example.com", 443, "api.example.com"),
        ("api.example.com:8443", "api.example.com", 8443, "api.example.com"),
        ("API.Example.COM.", "api.example.com", 443, "api.example.com"),
        ("'api.example.com.:8443'", "api.example.com", 8443, "api.example.com"),
        ("svc_internal.example.net", "svc_internal.example.net", 443, "svc_internal.example.net"),
        ("a-1.example.com", "a-1.example.com", 443, "a-1.example.com"),
        ("1a.example.com", "1a.example.com", 443, "1a.example.com"),
        ("localhost", "localhost", 443, "localhost"),
        ("10.0.0.1", "10.0.0.1", 443, None),
        ("10.0.0.1:8443", "10.0.0.1", 8443, None),
        ("'[2001:db8::10]:443'", "2001:db8::10", 443, None),
        ("'[2001:DB8:0:0:0:0:0:10]'", "2001:db8::10", 443, None),
        ("2001:db8::10", "2001:db8::10", 443, None),
        ("2001:0DB8:0000::0010", "2001:db8::10", 443, None),
        ("'::ffff:192.0.2.1'", "::ffff:c000:201", 443, None),
        ("bücher.example", "xn--bcher-kva.example", 443, "xn--bcher-kva.example"),
        ("BÜCHER.example:8443", "xn--bcher-kva.example", 8443, "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", 443, "xn--bcher-kva.example"),
        ("https://hr.example.net:9443/ws/soap", "hr.example.net", 9443, "hr.example.net"),
        ("https://HR.example.net", "hr.example.net", 443, "hr.example.net"),
        ("wss://push.example.net/", "push.example.net", 443, "push.example.net"),
        ("ldaps://ldap.example.com", "ldap.example.com", 636, "ldap.example.com"),
        ("smtps://mail.example.com", "mail.example.com", 465, "mail.example.com"),
        ("imaps://mail.example.com", "mail.example.com", 993, "mail.example.com"),
        ("pop3s://mail.example.com", "mail.example.com", 995, "mail.example.com"),
        ("ftps://files.example.com", "files.example.com", 990, "files.example.com"),
        ("https://[2001:db8::1]:8443/", "2001:db8::1", 8443, None),
        ("https://192.0.2.1/", "192.0.2.1", 443, None),
    ],
)
def test_string_forms(tmp_path: Path, entry: str, host: str, port: int, sni: str | None) -> None:
    endpoint = only(tmp_path, f"endpoints:\n  - {entry}\n")
    assert (endpoint.host, endpoint.port, endpoint.sni, endpoint.address) == (host, port, sni, None)
    assert endpoint.origin.endswith("list.yaml:2")
    assert (endpoint.label, endpoint.tags, endpoint.timeout, endpoint.retries) == ("", (), 5.0, 1)


def test_a_bare_list_is_the_endpoints(tmp_path: Path) -> None:
    endpoints = endpoints_of(tmp_path, "- a.example.com\n- b.example.com:8443\n")
    assert [(e.host, e.port) for e in endpoints] == [
        ("a.example.com", 443),
        ("b.example.com", 8443),
    ]


def test_flow_style_and_empty_list(tmp_path: Path) -> None:
    flow = endpoints_of(tmp_path, "{endpoints: [a.example.com, {host: b.example.com}]}\n")
    assert [e.host for e in flow] == ["a.example.com", "b.example.com"]
    empty = load([write(tmp_path, "empty.yaml", "endpoints: []\n")])
    assert (empty.count, empty.duplicates, list(empty)) == (0, 0, [])


# --- the mapping form, defaults and precedence ------------------------------------------------


def test_mapping_with_every_key(tmp_path: Path) -> None:
    endpoint = only(
        tmp_path,
        """\
endpoints:
  - host: Billing.Example.org
    port: 8443
    address: 203.0.113.10
    sni: Billing-Internal.example.org.
    label: Billing SOAP
    tags: [billing, soap, billing]
    timeout: 2.5
    retries: 0
    protocol: TLS
""",
    )
    assert endpoint == Endpoint(
        host="billing.example.org",
        port=8443,
        address="203.0.113.10",
        sni="billing-internal.example.org",
        label="Billing SOAP",
        tags=("billing", "soap"),
        timeout=2.5,
        retries=0,
        origin=endpoint.origin,
        http_path=None,
    )
    assert endpoint.origin.endswith("list.yaml:2")


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("{host: 192.0.2.1}", ("192.0.2.1", None, None)),
        ("{host: 192.0.2.1, sni: www.example.com}", ("192.0.2.1", None, "www.example.com")),
        ("{host: '[2001:db8::1]'}", ("2001:db8::1", None, None)),
        ("{host: 2001:db8::1, address: '2001:DB8::2'}", ("2001:db8::1", "2001:db8::2", None)),
        (
            "{host: a.example.com, address: '[2001:db8::2]'}",
            ("a.example.com", "2001:db8::2", "a.example.com"),
        ),
        (
            "{host: a.example.com, address: 192.0.2.7}",
            ("a.example.com", "192.0.2.7", "a.example.com"),
        ),
    ],
)
def test_mapping_address_and_sni(
    tmp_path: Path, item: str, expected: tuple[str, str | None, str | None]
) -> None:
    endpoint = only(tmp_path, f"endpoints:\n  - {item}\n")
    assert (endpoint.host, endpoint.address, endpoint.sni) == expected


@pytest.mark.parametrize(
    ("label", "expected"),
    [("Billing", "Billing"), ("'007'", "007"), ("42", "42"), ("1.10", "1.10"), ("''", "")],
)
def test_labels_written_as_numbers_keep_their_text(
    tmp_path: Path, label: str, expected: str
) -> None:
    assert only(tmp_path, f"- {{host: a.example.com, label: {label}}}\n").label == expected


def test_precedence_endpoint_then_file_defaults_then_settings(tmp_path: Path) -> None:
    settings = Settings(port=8000, timeout=9.0, retries=3)
    endpoints = endpoints_of(
        tmp_path,
        """\
defaults:
  timeout: 4
  tags: [nightly, team-a]
endpoints:
  - a.example.com
  - host: b.example.com
    port: 8443
    timeout: 1.5
    retries: 0
    tags: [soap, nightly]
""",
        settings,
    )
    a, b = endpoints
    assert (a.port, a.timeout, a.retries, a.tags) == (8000, 4.0, 3, ("nightly", "team-a"))
    assert (b.port, b.timeout, b.retries, b.tags) == (8443, 1.5, 0, ("nightly", "team-a", "soap"))


def test_settings_apply_without_defaults(tmp_path: Path) -> None:
    endpoint = only(tmp_path, "- a.example.com\n", Settings(port=636, timeout=1, retries=0))
    assert (endpoint.port, endpoint.timeout, endpoint.retries) == (636, 1.0, 0)
    assert isinstance(endpoint.timeout, float)


def test_defaults_after_endpoints(tmp_path: Path) -> None:
    text = """\
endpoints:
  - a.example.com
  - a.example.com:8443
  - {host: b.example.com, tags: [x]}
defaults:
  port: 8443
  retries: 2
  tags: [late]
"""
    endpoints = load([write(tmp_path, "late.yaml", text)])
    # with the file's port the first two are one endpoint
    assert (endpoints.count, endpoints.duplicates) == (2, 1)
    listed = list(endpoints)
    assert [(e.host, e.port, e.retries, e.tags) for e in listed] == [
        ("a.example.com", 8443, 2, ("late",)),
        ("b.example.com", 8443, 2, ("late", "x")),
    ]


def test_empty_defaults_are_no_defaults(tmp_path: Path) -> None:
    text = "defaults:\n  # port: 8443\nendpoints:\n  - a.example.com\n"
    assert only(tmp_path, text).port == 443


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
    ],
)
def test_settings_refuse_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings(**kwargs)  # type: ignore[arg-type]


def test_settings_protocol_is_kept_in_lower_case() -> None:
    assert Settings().protocol == "https"
    assert Settings(protocol="TLS").protocol == "tls"
    assert Settings(protocol=" Https ") == Settings()


# --- protocol, and the path of the HTTP check -------------------------------------------------


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://h.example.com", "/"),
        ("https://h.example.com:8443", "/"),
        ("https://h.example.com/", "/"),
        ("https://h.example.com/ws/soap?wsdl", "/ws/soap?wsdl"),
        ("https://h.example.com?x=1", "/?x=1"),
        ("https://h.example.com:8443?x=1&y=2", "/?x=1&y=2"),
        ("https://h.example.com/?", "/?"),
        ("https://h.example.com#frag", "/"),
        ("https://h.example.com/#/login", "/"),
        ("https://h.example.com/a?b#c?d", "/a?b"),
        ("https://user:secret@h.example.com/x", "/x"),  # the user info is never sent
        ("https://user@h.example.com", "/"),
        ("https://[2001:db8::1]:8443/x?y", "/x?y"),
        ("HTTPS://H.example.com/Case/Kept", "/Case/Kept"),
        ("https://h.example.com/Case/Kept?Q=A%2F", "/Case/Kept?Q=A%2F"),
        ("  https://h.example.com/x  ", "/x"),
        ("wss://push.example.net/stream", "/stream"),
        ("wss://push.example.net", "/"),
        # what RFC 3986 allows is sent as written, %XX escapes too, in either case
        ("https://h.example.com/a%20b/%2f%C3%A4", "/a%20b/%2f%C3%A4"),
        ("https://h.example.com/~a-b_c.d!$&'()*+,;=:@/?y=/?:@", "/~a-b_c.d!$&'()*+,;=:@/?y=/?:@"),
        ("https://h.example.com/odata?$filter=Name%20eq%20'x'", "/odata?$filter=Name%20eq%20'x'"),
        # what a URL cannot hold as written is percent-encoded: non-ASCII as UTF-8
        ("https://h.example.com/bücher?q=é", "/b%C3%BCcher?q=%C3%A9"),
        ("https://h.example.com/€", "/%E2%82%AC"),
        ("https://h.example.com/a|b\"c^d`e\\f[1]", "/a%7Cb%22c%5Ed%60e%5Cf%5B1%5D"),
        ("https://h.example.com/100%", "/100%25"),  # a '%' that starts no escape
        ("https://h.example.com/%zz%4", "/%25zz%254"),
        # the other TLS schemes are no HTTP: plain TLS
        ("ldaps://ldap.example.com/dc=example", None),
        ("smtps://mail.example.com", None),
        ("imaps://mail.example.com", None),
        ("pop3s://mail.example.com", None),
        ("ftps://files.example.com/pub", None),
    ],
)  # fmt: skip
def test_url_target(url: str, target: str | None) -> None:
    from snisweep.lists.rules import url_target

    assert url_target(url) == target


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://h.example.com/a b", "a space in the URL's path or query '/a b'"),
        ("https://u:secret@h.example.com/?q=a b", "query '/?q=a b'; write %20"),
        ("https://h.example.com/x\r\nX-Injected: 1", "a control character (U+000D)"),
        ("https://h.example.com/x\nHost: evil", "a control character (U+000A)"),
        ("https://h.example.com/x\x00", "a control character (U+0000)"),
        ("https://h.example.com/a\tb", "a control character (U+0009)"),
        ("https://h.example.com/a\x7fb", "a control character (U+007F)"),
        ("https://h.example.com/a\x85b", "a control character (U+0085)"),
        ("https://h.example.com/a\u200bb", "a control character (U+200B)"),
        ("https://h.example.com/a\u00a0b", "a space (U+00A0)"),
        ("https://h.example.com/a\u2028b", "a space (U+2028)"),
        ("https://h.example.com/" + "a" * 2048, "2049 characters long; 2048 at most"),
        ("https://h.example.com/" + "ä" * 341 + "aa", "2049 characters long once percent-encoded"),
        ("https://h.example.com/{{ path }}", "unresolved template variable '{{ path }}'"),
        ("https://h.example.com/${PATH}/x", "unresolved template variable '${PATH}'"),
        ("https://h.example.com/users/{id}", "unresolved template variable '{id}'"),
        ("https://h.example.com/<path>", "unresolved template variable '<path>'"),
    ],
)
def test_url_target_refuses(url: str, message: str) -> None:
    from snisweep.lists.rules import url_target

    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        url_target(url)
    assert "secret" not in str(caught.value)  # the user info is never shown


def test_url_target_takes_the_longest_path() -> None:
    from snisweep.lists.rules import PATH_MAX, url_target

    assert PATH_MAX == 2048
    longest = "/" + "a" * 2047
    assert url_target("https://h.example.com" + longest) == longest
    encoded = "/" + "%C3%A4" * 341 + "a"  # 2048 once encoded
    assert url_target("https://h.example.com/" + "ä" * 341 + "a") == encoded


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_no_path_can_break_the_request_line(path: str) -> None:
    from snisweep.lists.rules import url_target

    try:
        target = url_target(f"https://h.example.com/{path}")
    except ValueError:
        return
    assert target is not None
    assert target.startswith("/")
    assert len(target) <= 2048
    # printable ASCII without a space: nothing that can end the line or split it
    assert target.isascii(), target
    assert target.isprintable(), target
    assert " " not in target, target
    assert f"GET {target} HTTP/1.1".split(" ")[1] == target
    assert "#" not in target
    # the escapes that were written are kept as written
    kept = re.findall(r"%[0-9A-Fa-f]{2}", path.split("#", maxsplit=1)[0])
    assert all(escape in target for escape in kept)


@pytest.mark.parametrize(
    ("entry", "http_path"),
    [
        ("a.example.com", "/"),
        ("a.example.com:8443", "/"),
        ("10.0.0.1", "/"),
        ("'[2001:db8::1]:8443'", "/"),
        ("https://a.example.com", "/"),
        ("https://a.example.com:9443/ws/soap?wsdl", "/ws/soap?wsdl"),
        ("https://a.example.com?x=1", "/?x=1"),
        ("https://a.example.com/bücher#top", "/b%C3%BCcher"),
        ("https://a.example.com/Case/Kept?Q=A%2f#Frag", "/Case/Kept?Q=A%2f"),
        ("https://a.example.com:8443?Q", "/?Q"),
        ("'https://a.example.com/a%20b'", "/a%20b"),
        ("wss://a.example.com/stream", "/stream"),
        ("ldaps://a.example.com", None),
        ("smtps://a.example.com/x", None),
        ("{host: a.example.com}", "/"),
        ("{host: a.example.com, protocol: https}", "/"),
        ("{host: a.example.com, protocol: tls}", None),
        ("{host: a.example.com, protocol: Tls}", None),
        ("{host: a.example.com, protocol: ' HTTPS '}", "/"),
    ],
)
def test_the_http_path_of_each_form(tmp_path: Path, entry: str, http_path: str | None) -> None:
    assert only(tmp_path, f"endpoints:\n  - {entry}\n").http_path == http_path


@pytest.mark.parametrize(
    ("settings_protocol", "defaults", "entry", "http_path"),
    [
        # the command line, for what says nothing
        ("https", "", "a.example.com", "/"),
        ("tls", "", "a.example.com", None),
        ("tls", "", "{host: a.example.com}", None),
        # the file's defaults over the command line
        ("tls", "{protocol: https}", "a.example.com", "/"),
        ("https", "{protocol: tls}", "a.example.com", None),
        ("https", "{protocol: tls}", "{host: a.example.com}", None),
        # a URL's scheme over both
        ("tls", "", "https://a.example.com/x", "/x"),
        ("tls", "{protocol: tls}", "https://a.example.com/x?y", "/x?y"),
        ("https", "{protocol: https}", "ldaps://a.example.com", None),
        # the endpoint's own key over all (a mapping's host is never a URL)
        ("tls", "{protocol: tls}", "{host: a.example.com, protocol: https}", "/"),
        ("https", "{protocol: https}", "{host: a.example.com, protocol: tls}", None),
    ],
)
def test_protocol_precedence(
    tmp_path: Path, settings_protocol: str, defaults: str, entry: str, http_path: str | None
) -> None:
    text = (f"defaults: {defaults}\n" if defaults else "") + f"endpoints:\n  - {entry}\n"
    endpoint = only(tmp_path, text, Settings(protocol=settings_protocol))
    assert endpoint.http_path == http_path


def test_protocol_in_late_defaults(tmp_path: Path) -> None:
    text = (
        "endpoints:\n  - a.example.com\n  - https://b.example.com/x\ndefaults:\n  protocol: tls\n"
    )
    assert [e.http_path for e in endpoints_of(tmp_path, text)] == [None, "/x"]


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
    assert [(e.host, e.http_path, e.origin[-1]) for e in endpoints] == [
        ("a.example.com", "/first", "1"),  # the first one wins
        ("b.example.com", None, "5"),
    ]


# --- YAML features ----------------------------------------------------------------------------


def test_anchors_aliases_and_merge_keys(tmp_path: Path) -> None:
    endpoints = endpoints_of(
        tmp_path,
        """\
endpoints:
  - &soap {host: a.example.com, port: 8443, tags: &tags [soap], label: SOAP}
  - <<: *soap
    host: b.example.com
  - host: c.example.com
    tags: *tags
  - host: d.example.com
    <<: [{port: 9443, label: first}, {port: 1, label: second, retries: 4}]
    label: own
""",
    )
    assert [(e.host, e.port, e.tags, e.label, e.retries) for e in endpoints] == [
        ("a.example.com", 8443, ("soap",), "SOAP", 1),
        ("b.example.com", 8443, ("soap",), "SOAP", 1),
        ("c.example.com", 443, ("soap",), "", 1),
        ("d.example.com", 9443, (), "own", 4),
    ]


@pytest.mark.parametrize(
    "item",
    [
        "{host: a.example.com, port: 8443, tags: [x, y]}",  # the fast path
        "{port: 8443, tags: [x, y], host: a.example.com}",
        "{'host': a.example.com, \"port\": 8443, tags: ['x', \"y\"]}",
        "{host: !!str a.example.com, port: !!int 8443, tags: [x, y]}",
        "{host: a.example.com, port: 0x20FB, tags: [x, y]}",
        "{host: a.example.com, <<: {port: 8443}, tags: [x, y]}",
        "{host: a.example.com, port: 8443, tags: [x, !!str y]}",
        "{host: a.example.com, port: 8443, tags: [x, &t y]}",
        "{host: a.example.com, port: 8443, tags: !!seq [x, y]}",
        "{host: a.example.com, port: 8443, tags: [x, y], label: ''}",
    ],
)
def test_every_spelling_of_a_mapping_agrees(tmp_path: Path, item: str) -> None:
    endpoint = only(tmp_path, f"endpoints:\n  - {item}\n")
    assert (endpoint.host, endpoint.port, endpoint.tags) == ("a.example.com", 8443, ("x", "y"))


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
    assert [e.origin for e in endpoints] == [f"{first}:2", f"{second}:1"]


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


def test_standard_input(tmp_path: Path) -> None:
    stdin = io.StringIO("endpoints:\n  - a.example.com\n  - bücher.example\n")
    file = write(tmp_path, "x.yaml", "- x.example.com\n")
    endpoints = load(["-", file, "-"], stdin=stdin)
    assert endpoints.files == ("-", file, "-")
    assert (endpoints.count, endpoints.duplicates) == (3, 2)
    # standard input is read once, and iterating twice reads it from memory
    assert [e.origin for e in endpoints] == ["-:2", "-:3", f"{file}:1"]
    assert [e.host for e in endpoints] == [
        "a.example.com",
        "xn--bcher-kva.example",
        "x.example.com",
    ]


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
    assert len({e.key for e in listed}) == endpoints.count
    assert listed[0].origin == f"{first}:1"  # the first one wins
    assert list(endpoints) == listed  # and iterating again gives the same


def test_a_file_given_twice_is_all_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "- a.example.com\n- b.example.com\n")
    endpoints = load([path, path])
    assert (endpoints.count, endpoints.duplicates, len(list(endpoints))) == (2, 2, 2)


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


def test_the_example_is_valid() -> None:
    endpoints = load([str(EXAMPLE)])
    assert isinstance(endpoints, EndpointList)
    assert endpoints.count >= 15
    assert endpoints.duplicates == 0
    listed = list(endpoints)
    assert all(e.tags[0] == "example" for e in listed)
    assert any(e.label for e in listed)
    assert any(e.address for e in listed)
    assert any(e.sni not in (e.host, None) for e in listed)
    assert any(e.sni is None for e in listed)
    assert any(e.timeout != 5 and e.retries != 1 for e in listed)
    assert any(e.http_path is None for e in listed)  # protocol: tls, ldaps://
    assert any(e.http_path not in ("/", None) for e in listed)  # a URL's path
    assert any("?" in (e.http_path or "") for e in listed)  # and query


def test_iteration_may_stop_early(tmp_path: Path) -> None:
    endpoints = load([write(tmp_path, "list.yaml", "- a.example.com\n- b.example.com\n")])
    first = next(iter(endpoints))  # the abandoned reader closes its file (-W error would tell)
    assert first.host == "a.example.com"
    assert [e.host for e in endpoints] == ["a.example.com", "b.example.com"]


# --- problems: FILE:LINE: message -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        # YAML
        # (the wording of syntax errors is the parser's: libyaml's or PyYAML's)
        ("endpoints:\n  - a.example.com\n - b.example.com\n", 3, "YAML: "),
        ("endpoints: [a.example.com, b\n", 2, "YAML: "),
        (
            "endpoints:\n  - host: a.example.com\n    host: b.example.com\n",
            3,
            "duplicate key 'host' (first at line 2)",
        ),
        ("endpoints: []\nendpoints: []\n", 2, "duplicate key 'endpoints' (first at line 1)"),
        (
            "endpoints:\n  - !!python/object/apply:os.system ['echo hi']\n",
            2,
            "unsupported YAML tag '!!python/object/apply:os.system'",
        ),
        (
            "endpoints:\n  - !!python/object:os.Foo {host: a}\n",
            2,
            "unsupported YAML tag '!!python/object:os.Foo'",
        ),
        ("endpoints:\n  - !custom a.example.com\n", 2, "unsupported YAML tag '!custom'"),
        ("endpoints:\n  - !!set {a.example.com}\n", 2, "unsupported YAML tag '!!set'"),
        (
            "endpoints:\n  - host: a.example.com\n    port: !!int abc\n",
            3,
            "invalid !!int value 'abc'",
        ),
        ("endpoints:\n  - *nowhere\n", 2, "alias '*nowhere' has no anchor '&nowhere' before it"),
        ("---\nendpoints: []\n---\nendpoints: []\n", 3, "a second YAML document"),
        # the shape of the file
        ("", 1, "the file is empty"),
        ("# only a comment\n", 1, "the file is empty"),
        ("---\n", 2, "the document is empty"),
        ("just a string\n", 1, "expected a mapping with an 'endpoints' list"),
        ("defaults: {port: 443}\n", 1, "missing 'endpoints'"),
        ("\n\nendpoints:\n", 3, "endpoints: empty; write 'endpoints: []' for no endpoints"),
        ("endpoints: a.example.com\n", 1, "endpoints: expected a list, found a string"),
        ("<<: {}\nendpoints: []\n", 1, "merge keys ('<<') are not allowed at the top level"),
        # defaults
        ("defaults: [port]\nendpoints: []\n", 1, "defaults: expected a mapping, found a list"),
        ("defaults:\n  host: a.example.com\nendpoints: []\n", 2, "unknown key 'host' in defaults"),
        ("defaults:\n  port: 0\nendpoints: []\n", 2, "port 0 is out of range 1..65535"),
        (
            "defaults:\n  tags: nightly\nendpoints: []\n",
            2,
            "tags: expected a list of strings, found a string ('nightly')",
        ),
        # entries
        ("endpoints:\n  -\n", 2, "empty entry"),
        ("endpoints:\n  - 443\n", 2, "found an integer (443) (YAML reads it as a number"),
        ("endpoints:\n  - [a.example.com]\n", 2, "found a list"),
        ("endpoints:\n  - a.example.com:\n", 2, "'a.example.com:' ends with ':' but has no port"),
        (
            "endpoints:\n  - {{host}}\n",
            2,
            "a mapping as a key: is this an unfilled '{{ template }}'?",
        ),
        ("endpoints:\n  - port: 443\n", 2, "missing 'host' in an endpoint"),
        (
            "endpoints:\n  - host: a.example.com\n    prot: 443\n",
            3,
            "unknown key 'prot' in an endpoint; did you mean 'port'?",
        ),
        # ports
        ("endpoints:\n  - a.example.com:0\n", 2, "port 0 is out of range 1..65535"),
        ("endpoints:\n  - a.example.com:65536\n", 2, "port 65536 is out of range 1..65535"),
        (
            "endpoints:\n  - host: a.example.com\n    port: 0\n",
            3,
            "port 0 is out of range 1..65535",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    port: 65536\n",
            3,
            "port 65536 is out of range 1..65535",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    port: true\n",
            3,
            "port: expected an integer 1..65535, found a boolean (true)",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    port: 'https'\n",
            3,
            "port: expected an integer 1..65535, found a string ('https')",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    port: 443.0\n",
            3,
            "port: expected an integer 1..65535, found a number (443.0)",
        ),
        # hosts
        ("endpoints:\n  - ''\n", 2, "empty host"),
        ("endpoints:\n  - ':443'\n", 2, "empty host"),
        ("endpoints:\n  - host: ''\n", 2, "empty host"),
        ("endpoints:\n  - host:\n", 2, "empty host"),
        (
            "endpoints:\n  - host: 42\n",
            2,
            "host: expected a host name or IP address, found an integer (42)",
        ),
        ("endpoints:\n  - a..example.com\n", 2, "invalid host 'a..example.com': empty label"),
        (
            "endpoints:\n  - 'api example.com'\n",
            2,
            "invalid host 'api example.com': ' ' is not allowed",
        ),
        (
            "endpoints:\n  - a/b.example.com\n",
            2,
            "invalid host 'a/b.example.com': '/' is not allowed",
        ),
        ("endpoints:\n  - " + "a" * 64 + ".example.com\n", 2, "is longer than 63 characters"),
        ("endpoints:\n  - " + ("a" * 60 + ".") * 5 + "com\n", 2, "longer than 253 characters"),
        ("endpoints:\n  - 10.0.0\n", 2, "invalid host '10.0.0': not an IPv4 address"),
        ("endpoints:\n  - 010.0.0.1\n", 2, "invalid host '010.0.0.1': not an IPv4 address"),
        ("endpoints:\n  - 'a:b:c'\n", 2, "'a:b:c' is neither host:port nor an IPv6 address"),
        (
            "endpoints:\n  - xn--zz.example.com\n",
            2,
            "invalid host 'xn--zz.example.com': label 'xn--zz'",
        ),
        ("endpoints:\n  - ☃.example.com\n", 2, "invalid host '☃.example.com'"),
        (
            "endpoints:\n  - https://${HOST}/x\n",
            2,
            "unresolved template variable '${HOST}' in 'https://${HOST}/x'",
        ),
        (
            "endpoints:\n  - https://{{env}}.example.com/api\n",
            2,
            "unresolved template variable '{{env}}' in 'https://{{env}}.example.com/api'",
        ),
        (
            "endpoints:\n  - https://api.example.com:{{ port }}/\n",
            2,
            "unresolved template variable '{{ port }}'",
        ),
        (
            "endpoints:\n  - '{{ host }}:443'\n",
            2,
            "unresolved template variable '{{ host }}' in '{{ host }}:443'",
        ),
        ("endpoints:\n  - '%HOST%'\n", 2, "unresolved template variable '%HOST%'"),
        ("endpoints:\n  - $HOST:8443\n", 2, "unresolved template variable '$HOST'"),
        (
            "endpoints:\n  - host: ${HOST}\n",
            2,
            "invalid host '${HOST}': unresolved template variable '${HOST}'",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    sni: '{{ sni }}'\n",
            3,
            "invalid sni '{{ sni }}': unresolved template variable '{{ sni }}'",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    address: ${IP}\n",
            3,
            "invalid address '${IP}': unresolved template variable '${IP}'",
        ),
        (
            "endpoints:\n  - host: a.example.com:8443\n",
            2,
            "host: 'a.example.com:8443' includes a port; use the 'port' key",
        ),
        (
            "endpoints:\n  - host: https://a.example.com\n",
            2,
            "host: 'https://a.example.com' is a URL",
        ),
        ("endpoints:\n  - http://a.example.com/\n", 2, "http:// is not TLS; use https://"),
        ("endpoints:\n  - ws://a.example.com/\n", 2, "ws:// is not TLS; use wss://"),
        ("endpoints:\n  - gopher://a.example.com/\n", 2, "unsupported URL scheme 'gopher://'"),
        # protocol, and the URL's path
        (
            "endpoints:\n  - host: a.example.com\n    protocol: http\n",
            3,
            "protocol: expected https or tls, found 'http'",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    protocol:\n",
            3,
            "protocol: expected https or tls, found an empty value",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    protocol: yes\n",
            3,
            "protocol: expected https or tls, found a boolean (yes)",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    protocol: [tls]\n",
            3,
            "protocol: expected https or tls, found a list",
        ),
        ("defaults:\n  protocol: ssl\nendpoints: []\n", 2, "protocol: expected https or tls"),
        (
            "endpoints:\n  - host: a.example.com\n    proto: tls\n",
            3,
            "unknown key 'proto' in an endpoint; did you mean 'protocol'?",
        ),
        ("endpoints:\n  - https://a.example.com/a b\n", 2, "a space in the URL's path"),
        (
            'endpoints:\n  - "https://a.example.com/x\\r\\nX-Evil: 1"\n',
            2,
            "a control character (U+000D) in the URL's path or query",
        ),
        (
            "endpoints:\n  - https://a.example.com/" + "x" * 2048 + "\n",
            2,
            "the URL's path and query are 2049 characters long; 2048 at most",
        ),
        # address and sni
        (
            "endpoints:\n  - host: a.example.com\n    address: a.example.net\n",
            3,
            "invalid address 'a.example.net'",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    address: 203.0.113.1:443\n",
            3,
            "invalid address '203.0.113.1:443'",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    address: 203.0.113.256\n",
            3,
            "invalid address '203.0.113.256'",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    sni: 203.0.113.1\n",
            3,
            "sni must be a DNS name, not an IP address",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    sni: '[2001:db8::1]'\n",
            3,
            "sni must be a DNS name, not an IP address",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    sni: b..example.com\n",
            3,
            "invalid sni 'b..example.com'",
        ),
        # the other keys
        ("endpoints:\n  - host: a.example.com\n    timeout: 0\n", 3, "timeout 0 is out of range"),
        (
            "endpoints:\n  - host: a.example.com\n    timeout: 301\n",
            3,
            "timeout 301 is out of range",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    timeout: .nan\n",
            3,
            "timeout .nan is out of range",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    timeout: 5s\n",
            3,
            "timeout: expected a number of seconds, found a string ('5s')",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    retries: 11\n",
            3,
            "retries 11 is out of range 0..10",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    retries: false\n",
            3,
            "retries: expected an integer 0..10, found a boolean (false)",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    label: yes\n",
            3,
            "label: expected a string, found a boolean (yes)",
        ),
        ("endpoints:\n  - host: a.example.com\n    tags: [a, '']\n", 3, "tags: empty tag"),
        (
            "endpoints:\n  - host: a.example.com\n    tags: [a, [b]]\n",
            3,
            "tags: expected a string, found a list",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    <<: 5\n",
            3,
            "'<<' merges mappings; found an integer (5)",
        ),
    ],
)
def test_each_problem_has_its_place(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, "bad.yaml", text)
    problems = problems_of([path])
    assert [p.line for p in problems] == [line], problems  # once, not again as a consequence
    assert str(problems[0]).startswith(f"{path}:{line}: "), problems
    assert message in problems[0].message


def test_a_misspelt_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.yaml", "endpoint:\n  - a.example.com\n")
    assert [str(p) for p in problems_of([path])] == [
        f"{path}:1: unknown key 'endpoint' at the top level; did you mean 'endpoints'? "
        "(allowed: defaults, endpoints)",
        f"{path}:1: missing 'endpoints' (the list of endpoints)",
    ]


def test_a_missing_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert [str(p) for p in problems_of([missing])] == [f"{missing}: no such file or directory"]


def test_a_directory_without_lists(tmp_path: Path) -> None:
    write(tmp_path, "readme.txt", "nothing\n")
    (problem,) = problems_of([str(tmp_path)])
    assert str(problem) == f"{tmp_path}: no *.yaml or *.yml file in this directory"


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.yaml", "endpoints:\n  - café.example.com\n".encode("latin-1"))
    (problem,) = problems_of([path])
    assert str(problem).startswith(f"{path}:2: not valid UTF-8")


def test_a_control_character(tmp_path: Path) -> None:
    path = write(tmp_path, "bell.yaml", "endpoints:\n  - 'a.example.com\a'\n")
    (problem,) = problems_of([path])
    assert str(problem).startswith(f"{path}:2: character #x0007 is not allowed")


def test_a_python_tag_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    text = f"endpoints:\n  - !!python/object/apply:os.system ['touch {marker}']\n"
    problems_of([write(tmp_path, "evil.yaml", text)])
    assert not marker.exists()


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000 + "\n",
        "endpoints:\n  - " + "[" * 5000 + "]" * 5000 + "\n",
        "endpoints:\n" + "".join(f"{'  ' * n}- \n" for n in range(1, 300)),
        "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nendpoints: [*c]\n",
        "endpoints:\n  - {host: a.example.com, tags: &t [*t]}\n",
        "endpoints:\n  - &m {host: a.example.com, <<: *m}\n",
        "\ufeffendpoints:\n  - \x00\n",
        "endpoints:\n  - ? [a, b]\n    : c\n",
        "endpoints:\n  - {host: a.example.com, 1: 2, null: 3, true: 4}\n",
        "endpoints:\n  - host: !!binary aGVsbG8=\n    port: !!timestamp 2001-12-14\n",
        "%YAML 9.9\n---\nendpoints: []\n",
        "%TAG ! tag:example.com,2000:\n---\nendpoints: [!x a]\n",
    ],
)
def test_strange_input_gives_problems_not_crashes(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "strange.yaml", text)
    problems = problems_of([path])
    assert problems
    assert all(p.file == path for p in problems)


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


def test_problems_inside_a_file_are_in_line_order(tmp_path: Path) -> None:
    text = "endpoints:\n  - a.example.com:0\ndefaults:\n  port: 0\nwhat: ever\n"
    problems = problems_of([write(tmp_path, "order.yaml", text)])
    assert [p.line for p in problems] == [2, 4, 5]


def test_a_list_that_turns_bad_after_load(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "- a.example.com\n")
    endpoints = load([path])
    Path(path).write_text("- a.example.com:0\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        list(endpoints)


def test_paths_must_be_a_sequence_of_strings() -> None:
    with pytest.raises(TypeError):
        load("list.yaml")


# --- the YAML scalar types ---------------------------------------------------------------------
# Both YAML readers type plain scalars with snisweep.lists.yaml_nodes, which stands in for PyYAML's
# resolver (and its constructors) without their detours: these tests pin it to them.


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
    import yaml
    from yaml.nodes import ScalarNode
    from yaml.resolver import Resolver

    from snisweep.lists.yaml_nodes import MERGE, plain_scalar, resolve_plain

    assert resolve_plain(text) == Resolver().resolve(ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if text == "<<":
        assert plain_scalar(text, 1).value is MERGE
    elif text == "=":  # PyYAML's 'value' type, which nobody means: a string here
        assert plain_scalar(text, 1).value == "="
    elif text != "host: x":
        expected = yaml.safe_load(f"[{text}]" if text else "[]")
        assert [plain_scalar(text, 1).value] == (expected or [None])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{host: a.example.com, tags: ['x;y']}", "tags: 'x;y' holds ';'"),
        ('{host: a.example.com, tags: ["x\\ty"]}', "control character"),
        ("{host: a.example.com, label: " + "x" * 1001 + "}", "label: 1001 characters"),
    ],
)
def test_tags_and_labels_that_a_report_cannot_carry(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(f"endpoints:\n  - {entry}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load([str(path)])
    assert str(caught.value).startswith(f"{path}:2: ")
    assert message in str(caught.value)


NAMES = st.lists(st.text(alphabet="abcxyz019_-.", min_size=1, max_size=70), min_size=1, max_size=5)
ENDPOINT_STRINGS = st.one_of(
    NAMES.map(".".join),
    st.tuples(NAMES.map(".".join), st.text(alphabet="0123456789", max_size=7)).map(":".join),
    st.text(max_size=80),
)


def outcome(function: Callable[[str], object], text: str) -> object:
    try:
        return function(text)
    except ValueError as exc:
        return str(exc)


@settings(max_examples=1000, deadline=None)
@given(ENDPOINT_STRINGS)
def test_normal_names_take_one_match(text: str) -> None:
    # normalise_host and host_and_port answer most names with one match before the general
    # rules: these pin the shortcuts to them.
    from snisweep.lists.rules import _host_and_port, _normalise_host, host_and_port, normalise_host

    assert outcome(host_and_port, text) == outcome(_host_and_port, text)
    assert outcome(normalise_host, text) == outcome(lambda t: _normalise_host(t, "host"), text)


URL_STRINGS = st.builds(
    "{}://{}{}{}{}".format,
    st.sampled_from(["https", "wss", "HTTPS", "ldaps", "http"]),
    st.sampled_from(["a.example.com", "svc_x.example.net", "b-1.example"])
    | st.sampled_from(
        ["u@a.example.com", "[2001:db8::1]", "10.0.0.1", "xn--bcher-kva.example", "a.example.com."]
    )
    | NAMES.map(".".join),
    st.sampled_from(["", ":443", ":8443", ":0", ":65535", ":65536", ":123456", ":x"]),
    st.builds(  # mostly what needs nothing done
        "{}{}".format,
        st.sampled_from(["", "/", "?", "/Ws/"]),
        st.text(alphabet="/?%azAF09-._~!$&'()*+,;=:@", max_size=30),
    )
    | st.text(alphabet="/?%azAF09-._~!$&'()*+,;=:@[]{}| \r\n\x00ä#", max_size=30)
    | st.sampled_from(["/" + "a" * 2047, "/" + "a" * 2048, "?" + "a" * 2046, "?" + "a" * 2047]),
    st.sampled_from(["", "#", "#frag", "#a b\n"]),
)


@settings(max_examples=1000, deadline=None)
@given(URL_STRINGS)
def test_normal_urls_take_one_match(text: str) -> None:
    # string_entry reads most URLs with one match too: pinned to the general rules.
    from snisweep.lists.rules import _read_url, host_and_port, url_target

    assert outcome(_read_url, text) == outcome(lambda t: (*host_and_port(t), url_target(t)), text)


# --- list formats, standard input, selection --------------------------------------------------


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
    assert all(e.origin.startswith("-:") for e in endpoints)


def test_standard_input_problems_in_another_format() -> None:
    with pytest.raises(ConfigError) as caught:
        load(["-"], stdin=io.StringIO("a.example.com\nhttp://b\n"), stdin_format=ListFormat.TEXT)
    assert [str(p) for p in caught.value.problems] == [
        "-:2: http:// is not TLS; use https:// (default port 443) or host:port"
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
    assert [(e.host, e.origin) for e in endpoints] == [
        ("a.example.com", f"{yaml_list}:1"),
        ("b.example.com", f"{yaml_list}:2"),
        ("c.example.com", f"{text_list}:2"),
        ("d.example.com", f"{csv_list}:3"),
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


def test_a_directory_holds_only_yaml_lists(tmp_path: Path) -> None:
    write(tmp_path, "list.yaml", "- a.example.com\n")
    write(tmp_path, "report.csv", "host,verdict\nb.example.com,required\n")
    write(tmp_path, "notes.txt", "not an endpoint at all\n")
    assert [e.host for e in load([str(tmp_path)])] == ["a.example.com"]


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
    assert [(e.host, e.origin) for e in endpoints] == [
        ("a.example.com", f"{path}:1"),
        ("c.example.com", f"{path}:4"),
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


@settings(max_examples=200, deadline=None)
@given(ENTRY_HOSTS, st.none() | st.integers(min_value=1, max_value=65535), st.booleans())
def test_every_format_reads_the_same_endpoint(host: str, port: int | None, url: bool) -> None:
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
            (endpoint,) = load([write(Path(tmp), name, text)])
            found.add(dataclasses.replace(endpoint, origin="", http_path=None))
            paths[name] = endpoint.http_path
    assert len(found) == 1, found
    # a mapping or a host cell has no path; an endpoint string has the URL's
    url_path = "/path?q=1" if url else "/"
    assert paths == {
        "list.yaml": url_path,
        "list.txt": url_path,
        "url.csv": url_path,
        "host.csv": "/",
        "map.yaml": "/",
    }
