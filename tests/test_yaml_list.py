"""YAML endpoint lists (snisweep.lists.yaml_list): every form, every rule, every problem with
its place. No sockets."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from listfiles import EXAMPLE, endpoints_of, only, problems_of, write

from snisweep.errors import ConfigError
from snisweep.lists.load import (
    EndpointList,
    Settings,
    load,
)
from snisweep.lists.rules import DIRECT, Defaults
from snisweep.lists.yaml_lines import Declined
from snisweep.lists.yaml_list import YamlReader
from snisweep.model import Endpoint, Proxy, TLSVersion

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
        ("'::ffff:192.0.2.1'", "::ffff:192.0.2.1", 443, None),  # RFC 5952 on every Python
        ("'::FFFF:c000:0201'", "::ffff:192.0.2.1", 443, None),
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
        http_path=None,
    )


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


# --- protocol, and the path of the HTTP check -------------------------------------------------


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


# --- the example ------------------------------------------------------------------------------


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
    assert any(e.tls_min is not None and e.tls_max is not None for e in listed)
    assert any(e.tls_min is None and e.tls_max is not None for e in listed)
    assert any(e.all_addresses for e in listed)
    assert not all(e.all_addresses for e in listed)
    assert all(e.proxy is None for e in listed)  # a real proxy is needed to scan through one


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


def test_problems_inside_a_file_are_in_line_order(tmp_path: Path) -> None:
    text = "endpoints:\n  - a.example.com:0\ndefaults:\n  port: 0\nwhat: ever\n"
    problems = problems_of([write(tmp_path, "order.yaml", text)])
    assert [p.line for p in problems] == [2, 4, 5]


# --- what a report cannot carry ----------------------------------------------------------------


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


# --- YAML 1.1 numbers -------------------------------------------------------------------------
# YAML 1.1 (PyYAML, libyaml) reads 015001 as octal and 1:30 in base 60, silently: in a port, a
# timeout or a retry count that is never what was meant. Both readers refuse them.

MISREAD = [
    ("  - host: a.example.com\n    port: 015001\n", 3, "port: YAML 1.1 reads '015001' as the "
     "octal number 6657 (a leading 0 means octal); write 6657 if that is meant, else 15001"),
    ("  - {host: a.example.com, port: 015001}\n", 2, "the octal number 6657"),
    ("  - host: a.example.com\n    port: 1:30\n", 3,
     "port: YAML 1.1 reads '1:30' as the base-60 number 90; write 90 if that is meant"),
    ("  - {host: a.example.com, port: '1:30'}\n", 2, "port: expected an integer 1..65535, "
     "found a string ('1:30')"),  # quoted: a string, which says so already
    ("  - host: a.example.com\n    timeout: 1:30\n", 3, "timeout: YAML 1.1 reads '1:30' as "
     "the base-60 number 90"),
    ("  - host: a.example.com\n    timeout: 0:30.5\n", 3, "the base-60 number 30.5"),
    ("  - host: a.example.com\n    timeout: 010\n", 3, "the octal number 8 (a leading 0 "
     "means octal); write 8 if that is meant, else 10"),
    ("  - host: a.example.com\n    retries: 010\n", 3, "retries: YAML 1.1 reads '010' as "
     "the octal number 8"),
    ("  - host: a.example.com\n    port: +0443\n", 3, "the octal number 291"),
    ("  - host: a.example.com\n    port: !!int 015001\n", 3, "the octal number 6657"),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "line", "message"), MISREAD)
def test_numbers_that_yaml_reads_unlike_people(
    tmp_path: Path, entry: str, line: int, message: str
) -> None:
    text = "endpoints:\n" + entry
    path = write(tmp_path, "list.yaml", text)
    (problem,) = problems_of([path])
    assert (problem.line, message in problem.message) == (line, True), problem
    # each reader refuses it: libyaml's events report it, the line reader declines it
    data = text.encode()
    events = YamlReader(path, lambda: io.BytesIO(data), Defaults(443, 5.0, 1), by_lines=False)
    assert list(events) == []
    assert [str(p) for p in events.problems] == [str(problem)]
    lines = YamlReader(path, lambda: io.BytesIO(data), Defaults(443, 5.0, 1))
    with pytest.raises(Declined):
        list(lines.read_lines())


@pytest.mark.parametrize(
    ("defaults", "line"),
    [
        ("defaults:\n  port: 015001\n", 2),
        ("defaults: {timeout: 1:30}\n", 1),
        ("defaults:\n  retries: 010\n", 2),
    ],
)
def test_defaults_that_yaml_reads_unlike_people(tmp_path: Path, defaults: str, line: int) -> None:
    (problem,) = problems_of([write(tmp_path, "list.yaml", defaults + "endpoints: [a.b]\n")])
    assert (problem.line, "YAML 1.1 reads" in problem.message) == (line, True), problem


@pytest.mark.parametrize(
    ("value", "port"),
    [("443", 443), ("0x1BB", 443), ("0b110111011", 443), ("1_000", 1000), ("+443", 443)],
)
def test_numbers_that_say_what_they_are(tmp_path: Path, value: str, port: int) -> None:
    assert only(tmp_path, f"- {{host: a.example.com, port: {value}}}\n").port == port


@pytest.mark.parametrize(("value", "retries"), [("0", 0), ("00", 0), ("07", 7), ("0_3", 3)])
def test_octal_numbers_that_mean_the_same(tmp_path: Path, value: str, retries: int) -> None:
    assert only(tmp_path, f"- host: a.example.com\n  retries: {value}\n").retries == retries


# --- the client's settings: tls_min, tls_max, proxy, all_addresses ----------------------------

PROXY = Proxy("proxy.example.net", 3128)
OTHER = Proxy("other.example.net", 8080)
ENVIRONMENT = Proxy("env.example.net", 3128)
SECRET = "s3cr3tPW"


def test_a_list_without_the_new_keys_is_read_as_before(tmp_path: Path) -> None:
    endpoints = endpoints_of(
        tmp_path,
        "defaults: {port: 8443}\nendpoints:\n  - a.example.com\n  - {host: b.example.com}\n",
    )
    assert endpoints == [
        Endpoint("a.example.com", 8443, sni="a.example.com"),
        Endpoint("b.example.com", 8443, sni="b.example.com"),
    ]
    assert all(
        (e.tls_min, e.tls_max, e.proxy, e.all_addresses) == (None, None, None, False)
        for e in endpoints
    )


def test_every_new_key_per_endpoint_and_in_defaults(tmp_path: Path) -> None:
    text = """\
defaults:
  tls_min: 1.1
  tls_max: TLSv1.2
  proxy: http://proxy.example.net:3128
  all_addresses: true
endpoints:
  - a.example.com
  - host: b.example.com
    tls_min: 1.2
    tls_max: "1.3"
    proxy: http://user:secret@other.example.net:8080/
    all_addresses: no
"""
    a, b = endpoints_of(tmp_path, text)
    assert (a.tls_min, a.tls_max, a.proxy, a.all_addresses) == (
        TLSVersion.TLS1_1, TLSVersion.TLS1_2, PROXY, True
    )  # fmt: skip
    assert (b.tls_min, b.tls_max, b.proxy, b.all_addresses) == (
        TLSVersion.TLS1_2, TLSVersion.TLS1_3, OTHER, False
    )  # fmt: skip
    assert b.proxy is not None
    assert b.proxy.authorization == "Basic dXNlcjpzZWNyZXQ="


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.0", TLSVersion.TLS1_0),  # YAML floats, as written
        ("1.1", TLSVersion.TLS1_1),
        ("1.2", TLSVersion.TLS1_2),
        ("1.3", TLSVersion.TLS1_3),
        ("'1.2'", TLSVersion.TLS1_2),
        ("TLSv1.2", TLSVersion.TLS1_2),
        ("tlsv1.3", TLSVersion.TLS1_3),
        ("tls1.0", TLSVersion.TLS1_0),
        ("TLS1.1", TLSVersion.TLS1_1),
        ("!!str 1.3", TLSVersion.TLS1_3),
        ("&v 1.2", TLSVersion.TLS1_2),
    ],
)
def test_tls_versions_as_written(tmp_path: Path, value: str, expected: TLSVersion) -> None:
    for key in ("tls_min", "tls_max"):
        endpoint = only(tmp_path, f"- host: a.example.com\n  {key}: {value}\n")
        assert getattr(endpoint, key) is expected
        endpoint = only(tmp_path, f"defaults:\n  {key}: {value}\nendpoints: [a.example.com]\n")
        assert getattr(endpoint, key) is expected


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("1.4", "a number (1.4)"),
        ("1.20", "a number (1.20)"),
        ("'1.20'", "'1.20'"),
        ("1", "an integer (1)"),
        ("2", "an integer (2)"),
        ("'1.4'", "'1.4'"),
        ("SSLv3", "'SSLv3'"),
        ("TLS 1.2", "'TLS 1.2'"),
        ("''", "''"),
        ("", "an empty value"),
        ("yes", "a boolean (yes)"),
        ("[1.2]", "a list"),
        ("{v: 1.2}", "a mapping"),
    ],
)
def test_tls_versions_refused(tmp_path: Path, value: str, found: str) -> None:
    for key in ("tls_min", "tls_max"):
        for text, line in (
            (f"endpoints:\n  - host: a.example.com\n    {key}: {value}\n", 3),
            (f"defaults:\n  {key}: {value}\nendpoints: [a.example.com]\n", 2),
        ):
            path = write(tmp_path, "bad.yaml", text)
            assert [str(p) for p in problems_of([path])] == [
                f"{path}:{line}: {key}: expected 1.0, 1.1, 1.2 or 1.3, found {found}"
            ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "endpoints:\n  - a.example.com\n  - host: b.example.com\n    tls_min: 1.3\n"
            "    tls_max: 1.2\n",
            3,
            "tls_min 1.3 is above tls_max 1.2",
        ),
        (
            "defaults:\n  tls_max: 1.2\nendpoints:\n  - a.example.com\n  - host: b.example.com\n"
            "    tls_min: 1.3\n",
            5,
            "tls_min 1.3 is above tls_max 1.2",
        ),
        (
            "defaults:\n  tls_min: 1.2\nendpoints:\n  - {host: b.example.com, tls_max: 1.0}\n",
            4,
            "tls_min 1.2 is above tls_max 1.0",
        ),
        # in defaults: once, at the key, and not again at each endpoint
        (
            "defaults:\n  tls_min: 1.3\n  tls_max: 1.2\nendpoints:\n  - a.example.com\n"
            "  - b.example.com\n",
            3,
            "tls_min 1.3 is above tls_max 1.2",
        ),
        # defaults that come after the endpoints are checked with them too
        (
            "endpoints:\n  - a.example.com\n  - {host: b.example.com, tls_min: 1.3}\n"
            "defaults:\n  tls_max: 1.2\n",
            3,
            "tls_min 1.3 is above tls_max 1.2",
        ),
    ],
)
def test_a_tls_range_that_is_empty(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, "range.yaml", text)
    assert [str(p) for p in problems_of([path])] == [f"{path}:{line}: {message}"]


def test_a_tls_range_that_is_empty_with_the_command_line(tmp_path: Path) -> None:
    settings = Settings(tls_max=TLSVersion.TLS1_2)
    text = "defaults:\n  tls_min: 1.3\nendpoints:\n  - a.example.com\n  - b.example.com\n"
    path = write(tmp_path, "range.yaml", text)
    assert [str(p) for p in problems_of([path], settings)] == [
        f"{path}:2: tls_min 1.3 is above tls_max 1.2 (the command line's tls_max)"
    ]
    text = "endpoints:\n  - a.example.com\n  - {host: b.example.com, tls_min: 1.3}\n"
    path = write(tmp_path, "range.yaml", text)
    assert [str(p) for p in problems_of([path], settings)] == [
        f"{path}:3: tls_min 1.3 is above tls_max 1.2"
    ]
    # defaults that make an empty range with the command line's are wrong as such, even where
    # an endpoint overrides them
    text = "defaults: {tls_min: 1.3}\nendpoints: [{host: a.example.com, tls_max: 1.3}]\n"
    path = write(tmp_path, "range.yaml", text)
    assert [p.line for p in problems_of([path], settings)] == [1]
    # an endpoint may narrow or move the range its defaults give, as long as it is not empty
    text = "defaults: {tls_min: 1.1}\nendpoints: [{host: a.example.com, tls_min: 1.2}]\n"
    endpoint = only(tmp_path, text, settings)
    assert (endpoint.tls_min, endpoint.tls_max) == (TLSVersion.TLS1_2, TLSVersion.TLS1_2)


@pytest.mark.parametrize(
    ("settings", "defaults", "entry", "expected"),
    [
        # the environment, last, and only it is subject to no_proxy
        (Settings(environment_proxy=ENVIRONMENT), "", "a.example.com", ENVIRONMENT),
        (Settings(environment_proxy=ENVIRONMENT), "", "{host: a.example.com}", ENVIRONMENT),
        (Settings(environment_proxy=ENVIRONMENT, no_proxy=".example.com"), "", "a.example.com",
         None),
        (Settings(environment_proxy=ENVIRONMENT, no_proxy="example.org"), "", "a.example.com",
         ENVIRONMENT),
        (Settings(environment_proxy=ENVIRONMENT, no_proxy="192.0.2.0/24"), "", "192.0.2.7",
         None),
        (Settings(environment_proxy=ENVIRONMENT, no_proxy="example.org"), "{port: 8443}",
         "a.example.com", ENVIRONMENT),  # defaults that set no proxy
        (Settings(environment_proxy=ENVIRONMENT, no_proxy=".example.com"), "{tls_min: 1.2}",
         "{host: a.example.com}", None),
        # the command line over the environment, whatever no_proxy says
        (Settings(proxy=PROXY, environment_proxy=ENVIRONMENT), "", "a.example.com", PROXY),
        (Settings(proxy=PROXY, environment_proxy=ENVIRONMENT, no_proxy="*"), "", "a.example.com",
         PROXY),
        (Settings(proxy=DIRECT, environment_proxy=ENVIRONMENT), "", "a.example.com", None),
        # the file's defaults over both
        (Settings(proxy=PROXY), "{proxy: 'http://other.example.net:8080'}", "a.example.com",
         OTHER),
        (Settings(proxy=PROXY), "{proxy: direct}", "a.example.com", None),
        (Settings(environment_proxy=ENVIRONMENT), "{proxy: DIRECT}", "a.example.com", None),
        (Settings(proxy=DIRECT), "{proxy: 'http://other.example.net:8080'}", "a.example.com",
         OTHER),
        (Settings(environment_proxy=ENVIRONMENT, no_proxy="*"),
         "{proxy: 'http://proxy.example.net:3128'}", "a.example.com", PROXY),
        # the endpoint's own over all
        (Settings(proxy=PROXY, environment_proxy=ENVIRONMENT), "{proxy: direct}",
         "{host: a.example.com, proxy: 'http://other.example.net:8080'}", OTHER),
        (Settings(proxy=PROXY), "{proxy: 'http://other.example.net:8080'}",
         "{host: a.example.com, proxy: Direct}", None),
        (Settings(environment_proxy=ENVIRONMENT), "", "{host: a.example.com, proxy: direct}",
         None),
        (Settings(environment_proxy=ENVIRONMENT, no_proxy="*"), "",
         "{host: a.example.com, proxy: 'http://other.example.net:8080'}", OTHER),
    ],
)  # fmt: skip
def test_proxy_precedence(
    tmp_path: Path, settings: Settings, defaults: str, entry: str, expected: Proxy | None
) -> None:
    text = (f"defaults: {defaults}\n" if defaults else "") + f"endpoints:\n  - {entry}\n"
    assert only(tmp_path, text, settings).proxy == expected


def test_tls_and_all_addresses_precedence(tmp_path: Path) -> None:
    settings = Settings(
        tls_min=TLSVersion.TLS1_0, tls_max=TLSVersion.TLS1_3, all_addresses=True
    )  # fmt: skip
    text = """\
defaults:
  tls_min: 1.1
endpoints:
  - a.example.com
  - host: b.example.com
    tls_min: 1.2
    tls_max: 1.2
    all_addresses: false
"""
    a, b = endpoints_of(tmp_path, text, settings)
    assert (a.tls_min, a.tls_max, a.all_addresses) == (TLSVersion.TLS1_1, TLSVersion.TLS1_3, True)
    assert (b.tls_min, b.tls_max, b.all_addresses) == (TLSVersion.TLS1_2, TLSVersion.TLS1_2, False)
    other = write(tmp_path, "other.yaml", "- c.example.com\n")  # defaults are the file's own
    (c,) = load([other], settings)
    assert (c.tls_min, c.tls_max, c.all_addresses) == (TLSVersion.TLS1_0, TLSVersion.TLS1_3, True)


def test_the_new_keys_in_late_defaults(tmp_path: Path) -> None:
    text = (
        "endpoints:\n  - a.example.com\n  - {host: b.example.com, proxy: direct}\n"
        "defaults:\n  proxy: http://proxy.example.net:3128\n  all_addresses: yes\n"
        "  tls_min: 1.2\n"
    )
    a, b = endpoints_of(tmp_path, text)
    assert (a.proxy, a.all_addresses, a.tls_min) == (PROXY, True, TLSVersion.TLS1_2)
    assert (b.proxy, b.all_addresses, b.tls_min) == (None, True, TLSVersion.TLS1_2)
    # late defaults that change the port, and the environment's proxy
    text = "endpoints:\n  - a.example.com\n  - {host: b.example.com}\ndefaults:\n  port: 8443\n"
    settings = Settings(environment_proxy=ENVIRONMENT, no_proxy="b.example.com")
    assert [(e.port, e.proxy) for e in endpoints_of(tmp_path, text, settings)] == [
        (8443, ENVIRONMENT),
        (8443, None),
    ]


def test_a_proxy_node_shared_by_aliases(tmp_path: Path) -> None:
    text = (
        "endpoints:\n  - {host: a.example.com, proxy: &p 'http://proxy.example.net:3128'}\n"
        "  - {host: b.example.com, proxy: *p}\n  - {host: c.example.com, proxy: *p}\n"
    )
    assert [e.proxy for e in endpoints_of(tmp_path, text)] == [PROXY, PROXY, PROXY]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("false", False), ("yes", True), ("no", False), ("True", True),
     ("off", False), ("on", True)],
)  # fmt: skip
def test_all_addresses(tmp_path: Path, value: str, expected: bool) -> None:
    assert only(tmp_path, f"- {{host: a.example.com, all_addresses: {value}}}\n").all_addresses is (
        expected
    )
    text = f"defaults: {{all_addresses: {value}}}\nendpoints: [a.example.com]\n"
    assert only(tmp_path, text).all_addresses is expected


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "endpoints:\n  - host: a.example.com\n    all_addresses: maybe\n",
            3,
            "all_addresses: expected true or false, found a string ('maybe')",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    all_addresses: 'true'\n",
            3,
            "all_addresses: expected true or false, found a string ('true')",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    all_addresses: 1\n",
            3,
            "all_addresses: expected true or false, found an integer (1)",
        ),
        (
            "defaults:\n  all_addresses:\nendpoints: []\n",
            2,
            "all_addresses: expected true or false, found an empty value",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    proxy: 3128\n",
            3,
            "proxy: expected direct or an http://host:port URL, found an integer (3128)",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    proxy:\n",
            3,
            "proxy: expected direct or an http://host:port URL, found an empty value",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    proxy: no\n",
            3,
            "proxy: expected direct or an http://host:port URL, found a boolean (no)",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    proxy: [direct]\n",
            3,
            "proxy: expected direct or an http://host:port URL, found a list",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    proxy: none\n",
            3,
            "proxy: expected direct or an http://host:port URL, found 'none'",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    proxy: proxy.example.net:3128\n",
            3,
            "proxy URL 'proxy.example.net:3128': no scheme; write it as http://host:port",
        ),
        (
            "defaults:\n  proxy: https://proxy.example.net:3128\nendpoints: []\n",
            2,
            "TLS to the proxy is not supported",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    proxy: socks5://proxy.example.net\n",
            3,
            "SOCKS proxies are not supported",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    tls-min: 1.2\n",
            3,
            "unknown key 'tls-min' in an endpoint; did you mean 'tls_min'?",
        ),
        (
            "endpoints:\n  - host: a.example.com\n    all_address: true\n",
            3,
            "unknown key 'all_address' in an endpoint; did you mean 'all_addresses'?",
        ),
        (
            "defaults:\n  proxies: direct\nendpoints: []\n",
            2,
            "unknown key 'proxies' in defaults; did you mean 'proxy'?",
        ),
    ],
)
def test_each_problem_of_the_new_keys_has_its_place(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, "bad.yaml", text)
    problems = problems_of([path])
    assert [p.line for p in problems] == [line], problems
    assert message in problems[0].message


BAD_PROXIES = [
    f"http://user:{SECRET}@",
    f"http://user:{SECRET}@proxy.example.net:port",
    f"http://user:{SECRET}@proxy.example.net:99999",
    f"http://user:{SECRET}@proxy.example.net:3128/path",
    f"http://user:{SECRET}@proxy.example.net:3128?q",
    f"http://user:{SECRET}@bad..example.net:3128",
    f"http://user:{SECRET}@[2001:db8::1:3128",
    f"http://user:{SECRET}@192.0.2.300:3128",
    f"http://us%3Aer:{SECRET}@proxy.example.net:3128",
    f"http://user:{SECRET[:4]}/{SECRET[4:]}@proxy.example.net:3128",
    f"http://user:{SECRET}",
    f"https://user:{SECRET}@proxy.example.net:3128",
    f"socks5h://user:{SECRET}@proxy.example.net:1080",
    f"ftp://user:{SECRET}@proxy.example.net",
    f"user:{SECRET}@proxy.example.net:3128",
    f"{SECRET}@proxy.example.net",
    f"http://{SECRET}:{SECRET}@:3128",
]


def test_no_problem_shows_the_credentials_of_a_proxy(tmp_path: Path) -> None:
    lines = ["defaults:", f"  proxy: '{BAD_PROXIES[0]}'", "endpoints:"]
    lines += [
        f"  - {{host: a{i}.example.com, proxy: '{url}'}}" for i, url in enumerate(BAD_PROXIES)
    ]
    path = write(tmp_path, "secret.yaml", "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as caught:
        load([path])
    problems = caught.value.problems
    assert [p.line for p in problems] == [2, *range(4, 4 + len(BAD_PROXIES))]
    for text in (str(caught.value), *map(str, problems)):
        assert SECRET[:4] not in text
        assert SECRET[4:] not in text
    # nor in what the line reader and libyaml yield, each on its own
    data = Path(path).read_bytes()
    events = YamlReader(path, lambda: io.BytesIO(data), Defaults(443, 5.0, 1), by_lines=False)
    assert list(events) == []
    assert len(events.problems) == len(problems)
    assert not any(SECRET[:4] in str(p) or SECRET[4:] in str(p) for p in events.problems)


def test_the_example_proxy_direct_overrides_the_environment() -> None:
    environment = Proxy("env.example.net", 3128)
    listed = list(load([str(EXAMPLE)], Settings(environment_proxy=environment)))
    assert any(e.proxy is None for e in listed)  # proxy: direct
    assert any(e.proxy == environment for e in listed)


def test_the_commented_proxy_of_the_example_is_valid(tmp_path: Path) -> None:
    # uncommented, the example's proxy lines are valid too
    text = EXAMPLE.read_text(encoding="utf-8")
    for commented in (
        "  # proxy: http://proxy.example.net:3128",
        "  # - host: partner.example.com",
        "  #   proxy: http://user:password@proxy.example.net:3128",
    ):
        assert commented in text
        text = text.replace(commented, commented.replace("# ", "", 1))
    listed = endpoints_of(tmp_path, text)
    assert any(e.proxy == PROXY for e in listed)
    partner = next(e for e in listed if e.host == "partner.example.com")
    assert partner.proxy == PROXY
    assert partner.proxy is not None
    assert partner.proxy.authorization is not None
