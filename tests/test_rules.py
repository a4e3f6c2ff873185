"""The rules every list format shares (snisweep.lists.rules): endpoint strings, URLs and
their request targets, hosts, addresses, the entry. No sockets, no files."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snisweep.lists.rules import (
    DIRECT,
    FROM_DEFAULTS,
    PATH_MAX,
    TLS,
    Defaults,
    Direct,
    _host_and_port,
    _normalise_host,
    _read_url,
    a_labels,
    check_flag,
    check_tls_range,
    check_tls_version,
    digest,
    host_and_port,
    host_name,
    ip_text,
    lines,
    make_entry,
    normalise_address,
    normalise_host,
    parse_endpoint_string,
    string_entry,
    template_variable,
    url_target,
)
from snisweep.model import Proxy, TLSVersion

# --- endpoint strings -------------------------------------------------------------------------


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


# --- request targets --------------------------------------------------------------------------


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
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        url_target(url)
    assert "secret" not in str(caught.value)  # the user info is never shown


def test_url_target_takes_the_longest_path() -> None:
    assert PATH_MAX == 2048
    longest = "/" + "a" * 2047
    assert url_target("https://h.example.com" + longest) == longest
    encoded = "/" + "%C3%A4" * 341 + "a"  # 2048 once encoded
    assert url_target("https://h.example.com/" + "ä" * 341 + "a") == encoded


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_no_path_can_break_the_request_line(path: str) -> None:
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


# --- the shortcuts ----------------------------------------------------------------------------


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
    assert outcome(_read_url, text) == outcome(lambda t: (*host_and_port(t), url_target(t)), text)


# --- the entry --------------------------------------------------------------------------------

BASE = Defaults(8443, 2.5, 3, ("nightly",), "https")


def test_an_entry_takes_its_defaults_for_what_it_does_not_set() -> None:
    assert make_entry(BASE, 7, "a.example.com", False) == (
        "a.example.com", 8443, None, "a.example.com", "", ("nightly",), 2.5, 3, 7, "/",
        None, None, None, False,
    )  # fmt: skip
    assert make_entry(Defaults(443, 5.0, 1, (), TLS), 1, "a.b", False)[9] is None


def test_what_an_entry_sets_wins() -> None:
    entry = make_entry(
        BASE, 2, "a.example.com", False, 443, address="192.0.2.1", sni="b.example.com",
        label="A", tags=("soap", "nightly"), timeout=1.0, retries=0, path=None,
    )  # fmt: skip
    assert entry == (
        "a.example.com", 443, "192.0.2.1", "b.example.com", "A", ("nightly", "soap"), 1.0, 0, 2,
        None, None, None, None, False,
    )  # fmt: skip
    assert make_entry(BASE, 1, "a.b", False, retries=0, timeout=None)[6:8] == (2.5, 0)
    assert make_entry(BASE, 1, "a.b", False, path="/x?y")[9] == "/x?y"
    assert make_entry(BASE, 1, "a.b", False, path=FROM_DEFAULTS)[9] == "/"


@pytest.mark.parametrize(
    ("host", "is_ip", "sni", "expected"),
    [
        ("a.example.com", False, None, "a.example.com"),  # a name is its own SNI
        ("a.example.com", False, "b.example.com", "b.example.com"),
        ("192.0.2.1", True, None, None),  # no client can send SNI for an IP address
        ("2001:db8::1", True, None, None),
        ("192.0.2.1", True, "www.example.com", "www.example.com"),
    ],
)
def test_an_ip_literal_has_no_sni_of_its_own(
    host: str, is_ip: bool, sni: str | None, expected: str | None
) -> None:
    assert make_entry(BASE, 1, host, is_ip, sni=sni)[3] == expected


def test_every_reader_makes_the_same_entry() -> None:
    # a string, as YAML, text lists and the url column of CSV read it
    assert string_entry("192.0.2.1:443", 4, BASE) == make_entry(BASE, 4, "192.0.2.1", True, 443)
    assert string_entry("A.Example.com", 4, BASE) == make_entry(BASE, 4, "a.example.com", False)
    assert string_entry("ldaps://a.b", 1, BASE) == make_entry(BASE, 1, "a.b", False, 636, path=None)


def test_the_digest_is_the_endpoint_and_nothing_else() -> None:
    first = make_entry(BASE, 1, "a.example.com", False, label="A", tags=("x",), path="/x")
    same = make_entry(BASE, 9, "a.example.com", False, timeout=1.0, retries=0, path=None)
    assert digest(first) == digest(same)
    # nor the client's settings: the TLS range, the proxy, all addresses
    client = make_entry(
        BASE, 3, "a.example.com", False, tls_min=TLSVersion.TLS1_3, proxy=PROXY,
        all_addresses=True,
    )  # fmt: skip
    assert digest(client) == digest(first)
    assert len(digest(first)) == 16
    others = [
        make_entry(BASE, 1, "a.example.com", False, 443),
        make_entry(BASE, 1, "a.example.com", False, address="192.0.2.1"),
        make_entry(BASE, 1, "a.example.com", False, sni="b.example.com"),
        make_entry(BASE, 1, "b.example.com", False),
        make_entry(BASE, 1, "none", False),
    ]
    assert len({digest(entry) for entry in [first, *others]}) == 6


# --- IP addresses: one form on every Python -----------------------------------------------------
# The normalised host is what de-duplication and the shard hash see; ipaddress writes
# IPv4-mapped IPv6 addresses one way up to Python 3.12 and another from 3.13.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("::FFFF:C000:0201", "::ffff:192.0.2.1"),
        ("0:0:0:0:0:ffff:c000:201", "::ffff:192.0.2.1"),
        ("[::ffff:192.0.2.1]", "::ffff:192.0.2.1"),
        ("::ffff:0:192.0.2.1", "::ffff:0:c000:201"),  # IPv4-translated: not mapped
        ("::192.0.2.1", "::c000:201"),  # IPv4-compatible (deprecated): not mapped either
        ("64:ff9b::192.0.2.1", "64:ff9b::c000:201"),
        ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  # the first of the longest runs
        ("2001:db8:0:0:0:1:0:0", "2001:db8::1:0:0"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  # no '::' for a single group
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("fe80::1%eth0", "fe80::1%eth0"),
        ("192.0.2.1", "192.0.2.1"),
    ],
)
def test_ip_literals_in_one_form(text: str, expected: str) -> None:
    assert normalise_address(text) == expected
    assert host_name(text) == (expected, True)
    if not text.startswith("["):
        assert normalise_host(text) == (expected, True)


@settings(max_examples=2000, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**128 - 1)
    | st.builds(
        lambda groups: sum(g << (16 * i) for i, g in enumerate(groups)),
        st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF, 0xDB8]), min_size=8, max_size=8),
    )
    | st.integers(min_value=0, max_value=2**32 - 1).map(lambda v: 0xFFFF << 32 | v)
)
def test_ip_text_is_rfc_5952(value: int) -> None:
    address = ipaddress.IPv6Address(value)
    text = ip_text(address)
    assert ipaddress.IPv6Address(text) == address
    mapped = address.ipv4_mapped
    if mapped is not None:
        assert text == f"::ffff:{mapped}"
    else:  # what ipaddress writes for every other address, on every Python so far
        assert text == address.compressed
    assert text == text.lower()


# --- host names: IDNA A-labels, label by label -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bücher.example", "xn--bcher-kva.example"),
        ("cache_1.bücher.example", "cache_1.xn--bcher-kva.example"),  # IDNA refuses '_' itself
        ("bücher.example\u3002", "xn--bcher-kva.example"),  # an ideographic full stop at the end
        ("a.example.com", "a.example.com"),
    ],
)
def test_a_labels(name: str, expected: str) -> None:
    assert a_labels(name) == expected
    assert normalise_host(name) == (expected, False)


def test_a_labels_refuses_what_idna_refuses() -> None:
    with pytest.raises(ValueError, match="U\\+2603"):
        a_labels("\u2603.example")


# --- lines ------------------------------------------------------------------------------------


@settings(max_examples=1000, deadline=None)
@given(
    st.binary(max_size=60) | st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n"])).map(b"".join),
    st.lists(st.integers(min_value=1, max_value=8), max_size=20),
)
def test_lines_end_at_lf_crlf_and_cr_wherever_the_chunks_are_cut(
    data: bytes, sizes: list[int]
) -> None:
    chunks, rest = [], data
    for size in sizes:
        chunks.append(rest[:size])
        rest = rest[size:]
    chunks.append(rest)
    assert list(lines(chunk for chunk in chunks if chunk)) == data.splitlines(keepends=True)


@pytest.mark.timeout(10)
def test_a_line_over_many_chunks() -> None:
    data = b"x" * (64 << 20)  # one line of 64 MB in chunks of 1 kB: no joining again and again
    chunks = (data[start : start + 1024] for start in range(0, len(data), 1024))
    assert [len(line) for line in lines(chunks)] == [len(data)]


# --- templates, in linear time ----------------------------------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize("opening", ["{{", "${", "<a", "{a", "%a"])
def test_a_text_full_of_openings_takes_linear_time(opening: str) -> None:
    # A scan from each opening to an end that never comes: minutes over 400 kB when quadratic.
    text = opening * 200_000
    assert template_variable(text) in (None, "{a", "%a%")
    with pytest.raises(ValueError, match=r"invalid host|unresolved template"):
        string_entry(text, 1, BASE)
    with pytest.raises(ValueError, match=r"URL|characters long"):
        string_entry("https://a.b/" + text, 1, BASE)


# --- the client's settings: TLS range, proxy, all addresses -----------------------------------

PROXY = Proxy("proxy.example.net", 3128)
OTHER = Proxy("other.example.net", 8080)
ENVIRONMENT = Proxy("env.example.net", 3128, "Basic dTpw")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.0", TLSVersion.TLS1_0),
        ("1.1", TLSVersion.TLS1_1),
        ("1.2", TLSVersion.TLS1_2),
        ("1.3", TLSVersion.TLS1_3),
        (" 1.2 ", TLSVersion.TLS1_2),
        ("TLSv1.2", TLSVersion.TLS1_2),
        ("tlsv1.3", TLSVersion.TLS1_3),
        ("tls1.0", TLSVersion.TLS1_0),
        ("TLS1.1", TLSVersion.TLS1_1),
        ("TlSv1.2", TLSVersion.TLS1_2),
    ],
)
def test_check_tls_version(text: str, expected: TLSVersion) -> None:
    assert check_tls_version(text) is expected


@pytest.mark.parametrize(
    "text", ["", "1", "1.4", "0.9", "1.20", "2.0", "v1.2", "SSLv3", "TLS 1.2", "tls1", "1.2.0"]
)
def test_check_tls_version_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"^tls_min: expected 1\.0, 1\.1, 1\.2 or 1\.3, found '"):
        check_tls_version(text, "tls_min")
    with pytest.raises(ValueError, match=r"^--tls-max: expected"):
        check_tls_version(text, "--tls-max")


def test_check_tls_range() -> None:
    check_tls_range(None, None)
    check_tls_range(TLSVersion.TLS1_3, None)
    check_tls_range(None, TLSVersion.TLS1_0)
    check_tls_range(TLSVersion.TLS1_2, TLSVersion.TLS1_2)
    with pytest.raises(ValueError, match=r"^tls_min 1\.3 is above tls_max 1\.2$"):
        check_tls_range(TLSVersion.TLS1_3, TLSVersion.TLS1_2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("TRUE", True), ("Yes", True), ("1", True), (" no ", False),
     ("False", False), ("0", False), ("NO", False)],
)  # fmt: skip
def test_check_flag(text: str, expected: bool) -> None:
    assert check_flag(text, "all_addresses") is expected


@pytest.mark.parametrize("text", ["", "y", "on", "2", "maybe", "truee"])
def test_check_flag_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"^all_addresses: expected true or false"):
        check_flag(text, "all_addresses")


def test_an_entry_takes_the_client_settings_of_its_defaults() -> None:
    defaults = Defaults(
        443, 5.0, 1, tls_min=TLSVersion.TLS1_2, tls_max=TLSVersion.TLS1_3, proxy=PROXY,
        all_addresses=True,
    )  # fmt: skip
    assert make_entry(defaults, 1, "a.example.com", False)[10:] == (
        TLSVersion.TLS1_2, TLSVersion.TLS1_3, PROXY, True
    )  # fmt: skip
    own = make_entry(
        defaults, 1, "a.example.com", False, tls_min=TLSVersion.TLS1_3, proxy=OTHER,
        all_addresses=False,
    )  # fmt: skip
    assert own[10:] == (TLSVersion.TLS1_3, TLSVersion.TLS1_3, OTHER, False)
    assert make_entry(defaults, 1, "a.b", False, proxy=DIRECT)[12] is None


@pytest.mark.parametrize(
    ("own", "defaults", "message"),
    [
        ((TLSVersion.TLS1_3, TLSVersion.TLS1_2), (None, None), "tls_min 1.3 is above tls_max 1.2"),
        ((TLSVersion.TLS1_3, None), (None, TLSVersion.TLS1_2), "tls_min 1.3 is above tls_max 1.2"),
        ((None, TLSVersion.TLS1_0), (TLSVersion.TLS1_1, None), "tls_min 1.1 is above tls_max 1.0"),
    ],
)
def test_an_empty_tls_range_is_refused(
    own: tuple[TLSVersion | None, TLSVersion | None],
    defaults: tuple[TLSVersion | None, TLSVersion | None],
    message: str,
) -> None:
    base = Defaults(443, 5.0, 1, tls_min=defaults[0], tls_max=defaults[1])
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make_entry(base, 1, "a.example.com", False, tls_min=own[0], tls_max=own[1])


@pytest.mark.parametrize(
    ("own", "listed", "environment", "bypass", "expected"),
    [
        (None, None, None, None, None),  # nothing anywhere: direct
        (None, None, ENVIRONMENT, None, ENVIRONMENT),  # the environment, last
        (None, None, ENVIRONMENT, True, None),  # ... unless no_proxy bypasses the host
        (None, None, ENVIRONMENT, False, ENVIRONMENT),
        (None, PROXY, ENVIRONMENT, None, PROXY),  # the defaults (file or command line) before it
        (None, PROXY, ENVIRONMENT, True, PROXY),  # no_proxy is only the environment's exception
        (None, DIRECT, ENVIRONMENT, None, None),  # direct in the defaults
        (OTHER, PROXY, ENVIRONMENT, None, OTHER),  # the entry's own, first
        (OTHER, DIRECT, None, None, OTHER),
        (OTHER, None, ENVIRONMENT, True, OTHER),  # explicit is explicit
        (DIRECT, PROXY, ENVIRONMENT, None, None),  # direct in the entry
        (DIRECT, None, ENVIRONMENT, None, None),
    ],
)
def test_the_proxy_of_an_entry(
    own: Proxy | Direct | None,
    listed: Proxy | Direct | None,
    environment: Proxy | None,
    bypass: bool | None,
    expected: Proxy | None,
) -> None:
    # no_proxy's rule is given (snisweep.lists.proxies.bypassed): here, its answer, scripted.
    asked: list[str] = []

    def rule(host: str) -> bool:
        asked.append(host)
        return bool(bypass)

    defaults = Defaults(
        443, 5.0, 1, proxy=listed, environment_proxy=environment,
        bypassed=None if bypass is None else rule,
    )  # fmt: skip
    assert make_entry(defaults, 1, "a.example.com", False, proxy=own)[12] == expected
    assert asked in ([], ["a.example.com"])
