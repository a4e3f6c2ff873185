"""snisweep.lists.proxies: proxy URLs and the ``proxy`` value, the environment's proxy, and the
rules of ``no_proxy``. No sockets, no real environment."""

from __future__ import annotations

import base64
import re
import string
from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from snisweep.lists.proxies import (
    DEFAULT_PORT,
    bypassed,
    check_proxy,
    environment_proxy,
    parse_proxy,
    proxy_from_environment,
)
from snisweep.lists.rules import DIRECT
from snisweep.model import Proxy


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def outcome(function: Callable[[str], object], text: str) -> object:
    try:
        return function(text)
    except ValueError as exc:
        return str(exc)


# --- parse_proxy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "authorization"),
    [
        ("http://proxy.corp:3128", "proxy.corp", 3128, None),
        ("http://proxy.corp:3128/", "proxy.corp", 3128, None),
        ("http://proxy.corp", "proxy.corp", DEFAULT_PORT, None),
        ("http://proxy.corp:", "proxy.corp", DEFAULT_PORT, None),  # RFC 3986: empty port
        ("HTTP://Proxy.CORP.:8080", "proxy.corp", 8080, None),
        ("  http://proxy.corp:3128\n", "proxy.corp", 3128, None),
        ("http://cache_1.corp:3128", "cache_1.corp", 3128, None),
        ("http://bücher.example:3128", "xn--bcher-kva.example", 3128, None),
        ("http://10.0.0.1:3128", "10.0.0.1", 3128, None),
        ("http://[2001:DB8:0:0::1]:3128", "2001:db8::1", 3128, None),
        ("http://[::1]", "::1", DEFAULT_PORT, None),
        ("http://[::ffff:192.0.2.1]:3128", "::ffff:192.0.2.1", 3128, None),
        ("http://[::FFFF:C000:201]:3128", "::ffff:192.0.2.1", 3128, None),  # on every Python
        ("http://proxy:1", "proxy", 1, None),
        ("http://proxy:65535", "proxy", 65535, None),
        ("http://user:pass@proxy:3128", "proxy", 3128, "Basic dXNlcjpwYXNz"),
        ("http://us%65r:p%40ss%2Fw%3Ard@proxy", "proxy", DEFAULT_PORT, basic("user", "p@ss/w:rd")),
        ("http://user@proxy:3128", "proxy", 3128, basic("user", "")),
        ("http://:secret@proxy:3128", "proxy", 3128, basic("", "secret")),
        ("http://user:p@ss@proxy:3128", "proxy", 3128, basic("user", "p@ss")),  # the last '@'
        ("http://josé:mañana@proxy", "proxy", DEFAULT_PORT, basic("josé", "mañana")),
        ("http://jos%C3%A9:x@proxy", "proxy", DEFAULT_PORT, basic("josé", "x")),
        ("http://@proxy:3128", "proxy", 3128, None),
        ("http://:@proxy:3128", "proxy", 3128, None),
        ("http://u:p@ proxy.corp :3128", "proxy.corp", 3128, basic("u", "p")),  # as endpoint hosts
    ],
)
def test_parse_proxy(url: str, host: str, port: int, authorization: str | None) -> None:
    proxy = parse_proxy(url)
    assert (proxy.host, proxy.port, proxy.authorization) == (host, port, authorization)


def test_a_parsed_proxy_shows_no_credentials() -> None:
    proxy = parse_proxy("http://alice:s3cret@proxy.corp:3128")
    assert proxy.display == "proxy.corp:3128"
    assert "s3cret" not in repr(proxy)
    assert "alice" not in repr(proxy)
    assert proxy.authorization is not None
    assert proxy.authorization not in repr(proxy)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty proxy URL"),
        ("   ", "empty proxy URL"),
        ("proxy.corp:3128", "proxy URL 'proxy.corp:3128': no scheme; write it as http://host:port"),
        ("//proxy.corp:3128", "no scheme; write it as http://host:port"),
        ("https://proxy.corp:3128", "TLS to the proxy is not supported"),
        ("HTTPS://proxy.corp:3128", "TLS to the proxy is not supported"),
        ("socks5://proxy.corp:1080", "SOCKS proxies are not supported"),
        ("socks5h://proxy.corp:1080", "SOCKS proxies are not supported"),
        ("socks4://proxy.corp:1080", "SOCKS proxies are not supported"),
        ("ftp://proxy.corp", "proxy URL 'ftp://proxy.corp': only http:// proxies are supported"),
        ("http://proxy.corp:3128/path", "no path, query or fragment"),
        ("http://proxy.corp:3128?x=1", "no path, query or fragment"),
        ("http://proxy.corp:3128#top", "no path, query or fragment"),
        ("http://proxy.corp:0", "proxy URL 'http://***': the port is out of range 1..65535"),
        ("http://proxy.corp:65536", "the port is out of range 1..65535"),
        ("http://proxy.corp:99999999999999999999", "the port is out of range 1..65535"),
        ("http://proxy.corp:http", "proxy URL 'http://***': the port is not a number"),
        ("http://u:p@proxy.corp:http", "proxy URL 'http://***@proxy.corp:***': the port is"),
        ("http://proxy.corp:३१२८", "the port is not a number"),  # Devanagari digits
        ("http://proxy.corp:-1", "the port is not a number"),
        ("http://", "empty host"),
        ("http://:3128", "empty host"),
        ("http://.", "empty host"),
        ("http://a..b", "proxy URL 'http://a..b': invalid host 'a..b': empty label"),
        ("http://u:p@a..b:3128", "proxy URL 'http://***@a..b:3128': invalid host 'a..b'"),
        ("http://prox y", "invalid host 'prox y': ' ' is not allowed"),
        ("http://pro%78y", "invalid host 'pro%78y': '%' is not allowed"),
        ("http://${PROXY}:3128", "unresolved template variable '${PROXY}'"),
        # 'user:' with its '@host' forgotten: the host is not shown either
        ("http://al!ce:", "proxy URL 'http://***': invalid host (not shown"),
        ("http://" + "a" * 64 + ".corp", "longer than 63 characters"),
        ("http://" + "a." * 127 + "ab", "longer than 253 characters"),
        ("http://xn--zz.corp", "Invalid A-label"),
        ("http://010.0.0.1", "not an IPv4 address"),
        ("http://10.0.0.256", "not an IPv4 address"),
        ("http://2001:db8::1", "'http://***': an IPv6 address is written in brackets"),
        ("http://\uff1a\uff1a1:3128", "an IPv6 address is written in brackets"),  # full width
        ("http://[2001:db8::1", "'[' without its ']'"),
        ("http://[2001:db8::1]3128", "'http://[2001:db8::1]:***': only ':port' may follow"),
        ("http://[2001:db8::1]:3128/x", "'http://[2001:db8::1]:3128/x': a proxy URL has no path"),
        ("http://[proxy.corp]:3128", "not an IPv6 address in the brackets"),
        ("http://[fe80::1%25eth0]:3128", "zone identifiers are not supported"),
    ],
)
def test_parse_proxy_refuses(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^[^\n]*$") as caught:
        parse_proxy(url)
    assert message in str(caught.value)


# Invalid URLs that carry credentials, with {u} and {p} for the user name and the password.
_WITH_CREDENTIALS = [
    "{u}:{p}@proxy.corp:3128",  # no scheme
    "{u}:{p}",  # no scheme, no host: looks like host:port
    "https://{u}:{p}@proxy.corp:3128",
    "HTTPS://{u}:{p}@proxy.corp",
    "socks5://{u}:{p}@proxy.corp:1080",
    "ftp://{u}:{p}@proxy.corp",
    "{u}://{p}@proxy.corp",  # the user looks like a scheme
    "http://{u}:{p}@proxy.corp:3128/path",
    "http://{u}:{p}@proxy.corp:3128?q",
    "http://{u}:{p}@proxy.corp:0",
    "http://{u}:{p}@proxy.corp:70000",
    "http://{u}:{p}@proxy.corp:port",
    "http://{u}:{p}@",
    "http://{u}:{p}@:3128",
    "http://{u}:{p}@a..b",
    "http://{u}:{p}@010.0.0.1",
    "http://{u}:{p}@2001:db8::1",
    "http://{u}:{p}@[2001:db8::1",
    "http://{u}:{p}@[nope]",
    "http://{u}:{p}@[::1]x",
    "http://{u}:{p}",  # the @host forgotten: the password reads as a port
    "http://{u}:{p}/path",
    "http://{u}:12345678",  # a password of digits, out of range as a port
    "http://{u}:{p}:more",
    "http://[{u}:{p}",
    "http://{u}:{p}/slash@proxy.corp",  # an unencoded '/' in the password
    "http://{u}:{p}?mark@proxy.corp",
    "http://{u}:{p}#hash@proxy.corp",
    "http://{u}@{p}@[x",
    "http://{u}%3A{p}:x@proxy.corp",  # a ':' in the user name
    "http://{u}:{p}@[fe80::1%25eth0]",
    "http://{u}!:",  # 'user:' without its '@host', and no valid host either
]


@pytest.mark.parametrize("template", _WITH_CREDENTIALS)
def test_no_error_message_holds_the_credentials(template: str) -> None:
    user, password = "alice", "s3cretPW"
    with pytest.raises(ValueError, match="proxy URL") as caught:
        parse_proxy(template.format(u=user, p=password))
    message = str(caught.value)
    assert user not in message
    assert password not in message


_SECRET_CHARS = string.ascii_uppercase + string.digits + "!$~_-"


# A password is written percent-encoded, and also as it is, but without '@': where no '@'
# follows it, nothing could tell its end from the proxy's name. Without any '@', a URL has no
# credentials at all ('user:1234' is a host and a port, 'user://x' a scheme and a host): there,
# only passwords that begin with a letter, so cannot be read as a port, are tried.
@given(
    st.sampled_from(_WITH_CREDENTIALS),
    st.text(_SECRET_CHARS, min_size=8, max_size=20),
    st.text(_SECRET_CHARS + "/:#?% é", min_size=8, max_size=20),
)
def test_no_error_message_holds_any_credentials(template: str, user: str, password: str) -> None:
    assume("@" in template or password[0].isalpha())
    for written in (password, quote(password, safe="")):
        url = template.format(u=user, p=written)
        with pytest.raises(ValueError, match="proxy URL") as caught:
            parse_proxy(url)
        message = str(caught.value)
        assert user not in message
        assert written not in message
        assert password not in message


# --- bypassed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "no_proxy", "expected"),
    [
        ("example.com", "", False),
        ("example.com", "*", True),
        ("10.0.0.1", "*", True),
        ("example.com", "localhost, *", True),
        ("example.com", "*example.com", False),  # a wildcard only as a whole label
        ("example.com", "example.com", True),
        ("a.example.com", "example.com", True),
        ("a.b.example.com", "example.com", True),
        ("example.com", ".example.com", True),
        ("a.example.com", ".example.com", True),
        ("a.example.com", "*.example.com", True),
        ("notexample.com", "example.com", False),
        ("notexample.com", ".example.com", False),
        ("example.com", "a.example.com", False),
        ("example.org", "example.com", False),
        ("com", "example.com", False),
        ("example.com", "EXAMPLE.Com", True),
        ("example.com.", "example.com", True),
        ("example.com", "example.com.", True),
        ("example.com", ".", False),
        ("example.com", "other.org,example.com", True),
        ("example.com", " other.org ,  example.com ", True),
        ("example.com", "other.org example.com", True),
        ("example.com", "other.org\texample.com", True),
        ("example.com", ",,,example.com,,,", True),
        ("example.com", "example.com:8443", True),  # the port is ignored
        ("xn--bcher-kva.example", "bücher.example", True),
        ("bücher.example", "xn--bcher-kva.example", True),
        ("10.1.2.3", "10.1.2.3", True),
        ("10.1.2.3", "10.1.2.4", False),
        ("10.1.2.3", "10.1.2.3:8080", True),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("10.1.2.3", "10.1.2.0/255.255.255.0", True),
        ("10.1.2.3", "2.3", False),  # no tail matching of addresses
        ("10.1.2.3", "1.2.3", False),
        ("10.1.2.3", "10.1.2", False),
        ("10.1.2.3", "::/0", False),  # families do not mix
        ("2001:db8::1", "0.0.0.0/0", False),
        ("2001:db8::1", "2001:db8::1", True),
        ("2001:db8::1", "2001:DB8:0:0::1", True),
        ("2001:db8::1", "[2001:db8::1]", True),
        ("2001:db8::1", "[2001:db8::1]:443", True),
        ("2001:db8::1", "2001:db8::/32", True),
        ("2001:db9::1", "2001:db8::/32", False),
        ("fd00::5", "fd00::/8", True),
        ("fd00::5", "[fd00::]/8", True),
        ("fe00::5", "fd00::/8", False),
        ("[2001:db8::1]", "2001:db8::1", True),
        ("10.1.2.3", "10.0.0.0/33", False),  # a bad entry matches nothing
        ("10.1.2.3", "10.0.0.0/8/8", False),
        ("example.com", "10.0.0.0/8", False),
        ("10.0.0.1", "example.com", False),
        ("localhost", "localhost,127.0.0.1,::1", True),
        ("127.0.0.1", "localhost,127.0.0.1,::1", True),
        ("::1", "localhost,127.0.0.1,::1", True),
        ("example.com", "x" * 400 + ",example.com", True),  # an absurd entry is skipped
    ],
)
def test_bypassed(host: str, no_proxy: str, expected: bool) -> None:
    assert bypassed(host, no_proxy) is expected


def test_bypassed_reads_a_huge_value_entry_by_entry() -> None:
    # 100 000 entries: each is looked at once, and the last one matches.
    no_proxy = ",".join(f"h{i}.example.net" for i in range(100_000)) + ",example.com"
    assert bypassed("a.example.com", no_proxy)
    assert not bypassed("a.example.org", no_proxy)
    assert not bypassed("a.example.org", "1" * 1_000_000)
    assert not bypassed("10.0.0.1", ":" * 1_000_000)


# --- environment_proxy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "host", "expected"),
    [
        ({}, "example.com", (None, None)),
        ({"HTTP_PROXY": "http://p:1", "http_proxy": "http://p:1"}, "example.com", (None, None)),
        ({"https_proxy": "http://low:1"}, "example.com", ("low:1", "https_proxy")),
        ({"HTTPS_PROXY": "http://up:2"}, "example.com", ("up:2", "HTTPS_PROXY")),
        (
            {"HTTPS_PROXY": "http://up:2", "https_proxy": "http://low:1"},
            "example.com",
            ("low:1", "https_proxy"),
        ),
        ({"all_proxy": "http://all:3"}, "example.com", ("all:3", "all_proxy")),
        ({"ALL_PROXY": "http://all:4"}, "example.com", ("all:4", "ALL_PROXY")),
        (
            {"ALL_PROXY": "http://all:4", "all_proxy": "http://all:3"},
            "example.com",
            ("all:3", "all_proxy"),
        ),
        (
            {"all_proxy": "http://all:3", "HTTPS_PROXY": "http://up:2"},
            "example.com",
            ("up:2", "HTTPS_PROXY"),
        ),
        # empty (or blank) values count as unset
        (
            {"https_proxy": "", "HTTPS_PROXY": "http://up:2"},
            "example.com",
            ("up:2", "HTTPS_PROXY"),
        ),
        ({"https_proxy": "  ", "all_proxy": "http://all:3"}, "example.com", ("all:3", "all_proxy")),
        ({"https_proxy": "", "HTTPS_PROXY": ""}, "example.com", (None, None)),
        # no_proxy, lower case first
        ({"https_proxy": "http://p:1", "no_proxy": "example.com"}, "a.example.com", (None, None)),
        ({"https_proxy": "http://p:1", "NO_PROXY": "example.com"}, "a.example.com", (None, None)),
        ({"https_proxy": "http://p:1", "no_proxy": "*"}, "example.com", (None, None)),
        (
            {"https_proxy": "http://p:1", "no_proxy": "other.org"},
            "example.com",
            ("p:1", "https_proxy"),
        ),
        (
            {"https_proxy": "http://p:1", "no_proxy": "other.org", "NO_PROXY": "example.com"},
            "example.com",
            ("p:1", "https_proxy"),
        ),
        (
            {"https_proxy": "http://p:1", "no_proxy": "", "NO_PROXY": "example.com"},
            "example.com",
            (None, None),
        ),
        ({"all_proxy": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "10.2.3.4", (None, None)),
    ],
)
def test_environment_proxy(
    environ: dict[str, str], host: str, expected: tuple[str | None, str | None]
) -> None:
    proxy, name = environment_proxy(environ, host)
    assert (proxy.display if proxy is not None else None, name) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, (None, "")),
        ({"no_proxy": "example.com"}, (None, "")),
        ({"HTTPS_PROXY": "http://up:2", "NO_PROXY": "a.org"}, ("up:2", "a.org")),
        ({"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2"}, ("low:1", "")),
        (
            {"all_proxy": "http://all:3", "no_proxy": " ", "NO_PROXY": ".corp, 10.0.0.0/8"},
            ("all:3", ".corp, 10.0.0.0/8"),
        ),
        ({"https_proxy": "http://p:1", "no_proxy": "a.org", "NO_PROXY": "b.org"}, ("p:1", "a.org")),
    ],
)
def test_proxy_from_environment(environ: dict[str, str], expected: tuple[str | None, str]) -> None:
    proxy, no_proxy = proxy_from_environment(environ)
    assert (proxy.display if proxy is not None else None, no_proxy) == expected


def test_proxy_from_environment_names_the_variable_of_a_bad_value() -> None:
    with pytest.raises(ValueError, match=r"^environment variable ALL_PROXY: proxy URL") as caught:
        proxy_from_environment({"ALL_PROXY": "socks5://alice:s3cret@p"})
    assert "s3cret" not in str(caught.value)


def test_a_bare_host_and_port_in_the_environment_is_an_http_proxy() -> None:
    # As curl, Python and requests read it.
    proxy, name = environment_proxy({"https_proxy": "proxy.corp:3128"}, "example.com")
    assert (proxy.display if proxy is not None else None, name) == (
        "proxy.corp:3128",
        "https_proxy",
    )


def test_environment_proxy_keeps_the_credentials() -> None:
    proxy, name = environment_proxy({"HTTPS_PROXY": "http://u:pw@p:3128"}, "example.com")
    assert name == "HTTPS_PROXY"
    assert proxy is not None
    assert proxy.authorization == basic("u", "pw")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"https_proxy": "proxy.corp:99999"}, "environment variable https_proxy: proxy URL"),
        ({"HTTPS_PROXY": "https://proxy.corp"}, "environment variable HTTPS_PROXY: proxy URL"),
        ({"all_proxy": "socks5://proxy.corp"}, "environment variable all_proxy: proxy URL"),
        # whatever no_proxy says: a mistake in the environment does not depend on the host
        (
            {"https_proxy": "alice:s3cret@proxy.corp:0", "no_proxy": "*"},
            "environment variable https_proxy",
        ),
    ],
)
def test_environment_proxy_names_the_variable_of_a_bad_value(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        environment_proxy(environ, "example.com")
    assert "s3cret" not in str(caught.value)
    assert "alice" not in str(caught.value)


# --- check_proxy ------------------------------------------------------------------------------

PROXY = Proxy("proxy.example.net", 3128)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("direct", DIRECT),
        (" DIRECT ", DIRECT),
        ("Direct", DIRECT),
        ("http://proxy.example.net:3128", PROXY),
        ("HTTP://Proxy.Example.NET:3128/", PROXY),
        ("http://user:secret@proxy.example.net:3128", PROXY),
    ],
)
def test_check_proxy(text: str, expected: object) -> None:
    assert check_proxy(text) == expected


def test_check_proxy_keeps_the_credentials() -> None:
    proxy = check_proxy("http://user:secret@proxy.example.net:3128")
    assert isinstance(proxy, Proxy)
    assert proxy.authorization == "Basic dXNlcjpzZWNyZXQ="
    assert "secret" not in repr(proxy)
    assert proxy.display == "proxy.example.net:3128"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "proxy: expected direct or an http://host:port URL, found ''"),
        ("none", "proxy: expected direct or an http://host:port URL, found 'none'"),
        ("drect", "found 'drect'"),
        ("proxy.example.net:3128", "no scheme; write it as http://host:port"),
        ("https://proxy.example.net:3128", "TLS to the proxy is not supported"),
        ("socks5://proxy.example.net:1080", "SOCKS proxies are not supported"),
        ("http://proxy.example.net:99999", "out of range"),
    ],
)
def test_check_proxy_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_proxy(text)


CREDENTIAL_TEMPLATES = [
    "http://user:{p}@",
    "http://user:{p}@proxy.example.net",
    "http://user:{p}@proxy.example.net:port",
    "http://user:{p}@proxy.example.net:99999",
    "http://user:{p}@proxy.example.net:3128/path?q#f",
    "http://user:{p}@bad..example.net:3128",
    "http://user:{p}@[2001:db8::1:3128",
    "http://user:{p}@192.0.2.300",
    "http://us%3Aer:{p}@proxy.example.net:3128",
    "http://{p}:{p}@:3128",
    "http://{p}@proxy.example.net:x",
    "http://user:{p}",
    "https://user:{p}@proxy.example.net:3128",
    "socks5://user:{p}@proxy.example.net",
    "gopher://user:{p}@proxy.example.net",
    "user:{p}@proxy.example.net:3128",
    "{p}@proxy.example.net",
    " HTTP://user:{p}@proxy.example.net:3128/x ",
]


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="abcXYZ019%!$&'()*+,;=._~-/?#:[] ", max_size=12),
    st.sampled_from(CREDENTIAL_TEMPLATES),
)
def test_no_message_about_a_proxy_shows_its_password(core: str, template: str) -> None:
    # The password starts and ends with a marker, so that any part of it shown is seen. ('@' is
    # left out: before no '@host' it makes what follows it the host, which a message names.)
    result = outcome(check_proxy, template.format(p=f"Zq9{core}Kx7"))
    if isinstance(result, str):  # the message of a problem
        assert "Zq9" not in result
        assert "Kx7" not in result
    else:
        assert isinstance(result, Proxy)
        assert "Zq9" not in repr(result)
