"""snisweep.net.proxy: the CONNECT request, the reader of the proxy's answer, fed bytes by hand,
and the failures of reaching the proxy. No sockets."""

from __future__ import annotations

import errno
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snisweep.model import Failure, FailureKind, Proxy
from snisweep.net.proxy import (
    MAX_HEAD,
    Tunnel,
    TunnelAnswer,
    TunnelReader,
    connect_request,
    failure_reaching_proxy,
    proxy_timeout,
    unresolved_proxy,
)

DESTINATION = "api.example.com:443"


# --- connect_request --------------------------------------------------------------------------

PROXY = Proxy("proxy.corp", 3128)
PROXY_WITH_CREDENTIALS = Proxy("proxy.corp", 3128, "Basic dXNlcjpwYXNz")


@pytest.mark.parametrize(
    ("destination", "port", "proxy", "expected"),
    [
        (
            "api.example.com",
            443,
            PROXY,
            b"CONNECT api.example.com:443 HTTP/1.1\r\n"
            b"Host: api.example.com:443\r\n"
            b"User-Agent: snisweep/9.9\r\n"
            b"\r\n",
        ),
        (
            "192.0.2.1",
            8443,
            PROXY_WITH_CREDENTIALS,
            b"CONNECT 192.0.2.1:8443 HTTP/1.1\r\n"
            b"Host: 192.0.2.1:8443\r\n"
            b"User-Agent: snisweep/9.9\r\n"
            b"Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
            b"\r\n",
        ),
        (
            "2001:db8::1",
            443,
            PROXY,
            b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"
            b"Host: [2001:db8::1]:443\r\n"
            b"User-Agent: snisweep/9.9\r\n"
            b"\r\n",
        ),
        (
            "[2001:db8::1]",
            443,
            PROXY,
            b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"
            b"Host: [2001:db8::1]:443\r\n"
            b"User-Agent: snisweep/9.9\r\n"
            b"\r\n",
        ),
    ],
)
def test_connect_request(destination: str, port: int, proxy: Proxy, expected: bytes) -> None:
    assert connect_request(destination, port, proxy, "snisweep/9.9") == expected


@pytest.mark.parametrize(
    "destination",
    [
        "",
        "api.example.com\r\nX-Evil: 1",
        "api.example.com\n",
        "api.example.com\r",
        "api.example.com 443",
        "api.example.com\x00",
        "api.example.com\t",
        "api.exämple.com",
    ],
)
def test_connect_request_refuses_a_destination_that_could_break_the_request(
    destination: str,
) -> None:
    with pytest.raises(ValueError, match="CONNECT destination"):
        connect_request(destination, 443, PROXY, "snisweep/9.9")


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_connect_request_refuses_a_bad_port(port: int) -> None:
    with pytest.raises(ValueError, match="CONNECT port"):
        connect_request("api.example.com", port, PROXY, "snisweep/9.9")


def test_connect_request_refuses_line_ends_in_the_user_agent_and_authorization() -> None:
    with pytest.raises(ValueError, match="User-Agent"):
        connect_request("api.example.com", 443, PROXY, "snisweep\r\nX: 1")
    secret = "Basic c2VjcmV0\r\nX: 1"
    with pytest.raises(ValueError, match="authorization") as caught:
        connect_request("api.example.com", 443, Proxy("p", 1, secret), "snisweep/9.9")
    assert "c2VjcmV0" not in str(caught.value)


# --- TunnelReader -----------------------------------------------------------------------------


def read(*chunks: bytes, sent_credentials: bool = False) -> TunnelAnswer | None:
    """The answer, with what was not fed yet added to a tunnel's leftover (the probe hands
    those bytes to TLS)."""
    reader = TunnelReader(DESTINATION, sent_credentials=sent_credentials)
    for index, chunk in enumerate(chunks):
        answer = reader.feed(chunk)
        if isinstance(answer, Tunnel):
            return Tunnel(answer.leftover + b"".join(chunks[index + 1 :]))
        if answer is not None:
            return answer
    return None


def read_bytewise(data: bytes, sent_credentials: bool = False) -> TunnelAnswer | None:
    return read(*(data[i : i + 1] for i in range(len(data))), sent_credentials=sent_credentials)


def failure(answer: TunnelAnswer | None) -> Failure:
    assert isinstance(answer, Failure), answer
    return answer


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        (b"HTTP/1.1 200 Connection established\r\n\r\n", Tunnel(b"")),
        (b"HTTP/1.0 200 Connection established\r\n\r\n", Tunnel(b"")),
        (b"HTTP/1.1 200\r\n\r\n", Tunnel(b"")),
        (b"HTTP/1.1 204 No Content\r\n\r\n", Tunnel(b"")),
        (b"HTTP/1.1 200 OK\n\n", Tunnel(b"")),  # bare line feeds
        (b"HTTP/1.1 200 OK\r\nVia: 1.1 squid\n\r\n", Tunnel(b"")),
        (b"HTTP/1.1 200 OK\r\nProxy-Agent: x\r\n\r\n\x16\x03\x03", Tunnel(b"\x16\x03\x03")),
        # RFC 9110 9.3.6: Content-Length and Transfer-Encoding mean nothing in a 2xx to CONNECT
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\x16\x03\x03\x00",
            Tunnel(b"\x16\x03\x03\x00"),
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Tunnel(b"0\r\n\r\n")),
        # the leftover is the server's, even when it looks like a second answer
        (b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 403 No\r\n\r\n", Tunnel(b"HTTP/1.1 403 No\r\n\r\n")),
        (
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
            Failure(
                FailureKind.PROXY_AUTH_REQUIRED,
                "the proxy requires authentication (407 Proxy Authentication Required)",
            ),
        ),
        (
            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            b"Proxy-Authenticate: Negotiate\r\nproxy-authenticate:  NTLM\r\n"
            b'Proxy-Authenticate: Basic realm="corp, \\"x\\""\r\n'
            b"Proxy-Authenticate: NTLM\r\n\r\n",
            Failure(
                FailureKind.PROXY_AUTH_REQUIRED,
                "the proxy requires authentication "
                "(407 Proxy Authentication Required; it offers Negotiate, NTLM, Basic)",
            ),
        ),
        (
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
            Failure(
                FailureKind.PROXY_DENIED,
                "the proxy refused to tunnel to api.example.com:443 (403 Forbidden)",
            ),
        ),
        (
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            Failure(
                FailureKind.PROXY_DENIED,
                "the proxy refused to tunnel to api.example.com:443 (400 Bad Request)",
            ),
        ),
        (
            b"HTTP/1.1 502 Bad Gateway\r\n\r\n",
            Failure(
                FailureKind.PROXY_CONNECT_FAILED,
                "the proxy could not connect to api.example.com:443 (502 Bad Gateway)",
            ),
        ),
        (
            b"HTTP/1.1 504\r\n\r\n",
            Failure(
                FailureKind.PROXY_CONNECT_FAILED,
                "the proxy could not connect to api.example.com:443 (504)",
            ),
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            Failure(
                FailureKind.PROXY_BAD_ANSWER,
                "the proxy answered CONNECT with 100 Continue, not with a 2xx",
            ),
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            Failure(
                FailureKind.PROXY_BAD_ANSWER,
                "the proxy answered CONNECT with 101 Switching Protocols, not with a 2xx",
            ),
        ),
        (
            b"HTTP/1.1 302 Found\r\nLocation: http://login.corp/\r\n\r\n",
            Failure(
                FailureKind.PROXY_BAD_ANSWER,
                "the proxy answered CONNECT with 302 Found, not with a 2xx",
            ),
        ),
        (
            b"HTTP/1.1 600 Odd\r\n\r\n",
            Failure(
                FailureKind.PROXY_BAD_ANSWER,
                "the proxy answered CONNECT with 600 Odd, not with a 2xx",
            ),
        ),
    ],
)
def test_tunnel_answer(data: bytes, answer: TunnelAnswer) -> None:
    assert read(data) == answer
    assert read_bytewise(data) == answer


def test_a_407_to_credentials_says_they_were_refused() -> None:
    data = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"
    assert read(data, sent_credentials=True) == Failure(
        FailureKind.PROXY_AUTH_REQUIRED,
        "the proxy refused the credentials (407 Proxy Authentication Required; it offers Basic)",
    )


def test_offered_schemes_are_read_only_for_a_407() -> None:
    data = b"HTTP/1.1 403 Forbidden\r\nProxy-Authenticate: Basic\r\n\r\n"
    assert "offers" not in failure(read(data)).message


def test_offered_schemes_are_capped_and_printable() -> None:
    headers = b"".join(b"Proxy-Authenticate: S%d\r\n" % i for i in range(50))
    data = b"HTTP/1.1 407 Auth\r\n" + headers + b"Proxy-Authenticate: \x1b[31m\r\n\r\n"
    assert failure(read(data)).message == (
        "the proxy requires authentication (407 Auth; it offers S0, S1, S2, S3)"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", "the proxy's answer to CONNECT is not HTTP"),
        (b"SSH-2.0-OpenSSH_9.6", "the proxy's answer to CONNECT is not HTTP"),  # no line end yet
        (b"<html>", "the proxy's answer to CONNECT is not HTTP"),
        (b"http/1.1 200 OK\r\n\r\n", "not HTTP"),  # the version is case-sensitive
        (b"HTTP/1.1 20\r\n\r\n", "not HTTP"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "not HTTP"),
        (b"HTTP/1.1 abc OK\r\n\r\n", "not HTTP"),
        (b"HTTP/1.1  200 OK\r\n\r\n", "not HTTP"),
        (b"HTTP/2 200\r\n\r\n", "not HTTP"),
        (b"\r\nHTTP/1.1 200 OK\r\n\r\n", "not HTTP"),
        (b"\x15\x03\x03\x00\x02\x02\x28", "not HTTP (TLS: is this port a TLS proxy"),
        (b"\x16\x03\x03\x00\x40", "not HTTP (TLS"),
        (b"\x05\xff", "not HTTP (SOCKS 5"),
    ],
)
def test_an_answer_that_is_not_http_fails_as_soon_as_it_shows(data: bytes, message: str) -> None:
    answer = failure(read(data))
    assert answer.kind is FailureKind.PROXY_BAD_ANSWER
    assert message in answer.message
    assert read_bytewise(data) == answer


def test_the_reason_phrase_comes_out_printable() -> None:
    reason = b"=cmd|' /C calc'!A0 \x1b[31mred\x00\x07\r\x7f\xc2\x85\xe2\x80\xae\xff"
    answer = failure(read(b"HTTP/1.1 403 " + reason + b"\r\n\r\n"))
    assert answer.kind is FailureKind.PROXY_DENIED
    assert answer.message.isprintable()
    assert not answer.message.startswith(("=", "+", "-", "@"))
    for escaped in ("\\x1b", "\\x00", "\\x07", "\\x0d", "\\x7f", "\\x85", "\\u202e", "\\xff"):
        assert escaped in answer.message
    assert "=cmd|' /C calc'!A0 " in answer.message


def test_a_long_reason_phrase_is_cut() -> None:
    answer = failure(read(b"HTTP/1.1 502 " + b"x" * 5000 + b"\r\n\r\n"))
    assert answer.kind is FailureKind.PROXY_CONNECT_FAILED
    assert len(answer.message) < 200
    assert "x" * 99 + "…" in answer.message


def test_a_head_of_max_head_bytes_is_read() -> None:
    start = b"HTTP/1.1 200 OK\r\nX: "
    end = b"\r\n\r\n"
    head = start + b"a" * (MAX_HEAD - len(start) - len(end)) + end
    assert len(head) == MAX_HEAD
    assert read(head + b"tls") == Tunnel(b"tls")
    assert read_bytewise(head) == Tunnel(b"")


def test_a_head_one_byte_over_max_head_is_refused() -> None:
    start = b"HTTP/1.1 200 OK\r\nX: "
    end = b"\r\n\r\n"
    head = start + b"a" * (MAX_HEAD + 1 - len(start) - len(end)) + end
    answer = failure(read(head))
    assert answer.kind is FailureKind.PROXY_BAD_ANSWER
    assert str(MAX_HEAD) in answer.message
    assert read_bytewise(head) == answer


def test_headers_that_never_end_are_cut_at_max_head() -> None:
    reader = TunnelReader(DESTINATION, sent_credentials=False)
    assert reader.feed(b"HTTP/1.1 200 OK\r\n") is None
    fed = 17
    answer = None
    while answer is None:
        answer = reader.feed(b"X-Pad: 0123456789\r\n")
        fed += 19
        assert fed < MAX_HEAD + 19
    assert failure(answer).kind is FailureKind.PROXY_BAD_ANSWER


def test_a_status_line_that_never_ends_is_cut_at_max_head() -> None:
    reader = TunnelReader(DESTINATION, sent_credentials=False)
    assert reader.feed(b"HTTP/1.1 200 " + b"x" * (MAX_HEAD - 20)) is None
    assert failure(reader.feed(b"x" * 100)).kind is FailureKind.PROXY_BAD_ANSWER


def test_max_head_bytes_without_the_end_fail_at_once() -> None:
    # The end of the head needs at least one more byte: that head would be too long.
    start = b"HTTP/1.1 200 OK\r\nX: "
    reader = TunnelReader(DESTINATION, sent_credentials=False)
    assert reader.feed(start + b"a" * (MAX_HEAD - len(start) - 1)) is None
    assert failure(reader.feed(b"a")).kind is FailureKind.PROXY_BAD_ANSWER


@pytest.mark.parametrize(
    ("chunks", "answer"),
    [
        (
            (),
            Failure(
                FailureKind.PROXY_BAD_ANSWER, "the proxy closed the connection without an answer"
            ),
        ),
        (
            (b"HTTP/1.1 2",),
            Failure(
                FailureKind.PROXY_BAD_ANSWER,
                "the proxy closed the connection in the middle of its status line",
            ),
        ),
        (
            (b"HTTP/1.1 200 Connection established\r\n",),
            Failure(
                FailureKind.PROXY_BAD_ANSWER,
                "the proxy closed the connection before the end of its answer to CONNECT "
                "(200 Connection established)",
            ),
        ),
        # a status line that said no is its answer, even without the end of the header block
        (
            (b"HTTP/1.0 403 Forbidden\r\nServer: x\r\n",),
            Failure(
                FailureKind.PROXY_DENIED,
                "the proxy refused to tunnel to api.example.com:443 (403 Forbidden)",
            ),
        ),
        (
            (b"HTTP/1.0 503 Service Unavailable\r\n",),
            Failure(
                FailureKind.PROXY_CONNECT_FAILED,
                "the proxy could not connect to api.example.com:443 (503 Service Unavailable)",
            ),
        ),
        (
            (b"HTTP/1.1 407 Auth\r\n", b"Proxy-Authenticate: Negotiate\r\n"),
            Failure(
                FailureKind.PROXY_AUTH_REQUIRED,
                "the proxy requires authentication (407 Auth; it offers Negotiate)",
            ),
        ),
    ],
)
def test_closed_before_the_head_ended(chunks: tuple[bytes, ...], answer: Failure) -> None:
    reader = TunnelReader(DESTINATION, sent_credentials=False)
    for chunk in chunks:
        assert reader.feed(chunk) is None
    assert reader.closed() == answer
    assert reader.closed() == answer  # an end of file, then the lost connection


def test_closed_after_a_failure_repeats_it_and_after_a_tunnel_is_a_bug() -> None:
    reader = TunnelReader(DESTINATION, sent_credentials=False)
    denied = reader.feed(b"HTTP/1.1 403 Forbidden\r\n\r\n")
    assert isinstance(denied, Failure)
    assert reader.closed() == denied
    with pytest.raises(RuntimeError):
        reader.feed(b"more")

    reader = TunnelReader(DESTINATION, sent_credentials=False)
    assert reader.feed(b"HTTP/1.1 200 OK\r\n\r\n") == Tunnel(b"")
    with pytest.raises(RuntimeError):
        reader.feed(b"\x16")
    with pytest.raises(RuntimeError):
        reader.closed()


@given(
    st.integers(200, 599),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
    st.tuples(
        st.lists(st.sampled_from([b"Via: 1.1 p", b"Content-Length: 9", b"Proxy-Authenticate: B"])),
        st.sampled_from([b"\r\n", b"\n"]),
    ),
    st.binary(max_size=50),
    st.lists(st.integers(1, 60), max_size=12),
)
def test_any_answer_is_read_the_same_however_it_is_split(
    status: int,
    reason: str,
    header_block: tuple[list[bytes], bytes],
    leftover: bytes,
    cuts: list[int],
) -> None:
    headers, newline = header_block
    head = b"HTTP/1.1 %d %s" % (status, reason.encode()) + newline
    head += b"".join(header + newline for header in headers) + newline
    data = head + leftover
    whole = read(data)
    assert whole is not None
    if 200 <= status <= 299:
        assert whole == Tunnel(leftover)
    else:
        assert isinstance(whole, Failure)
    chunks = []
    rest = data
    for cut in cuts:
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    assert read(*chunks) == whole


@given(st.lists(st.binary(max_size=300), max_size=60))
def test_untrusted_bytes_give_nothing_or_an_answer(chunks: list[bytes]) -> None:
    reader = TunnelReader(DESTINATION, sent_credentials=False)
    fed = 0
    for chunk in chunks:
        fed += len(chunk)
        answer = reader.feed(chunk)
        if answer is not None:
            if isinstance(answer, Failure):
                assert answer.kind.at_proxy
                assert answer.message.isprintable()
            return
    assert fed < MAX_HEAD
    assert reader.closed().kind is FailureKind.PROXY_BAD_ANSWER


def test_each_byte_is_searched_once_when_fed_one_at_a_time() -> None:
    # A reader that searched its whole buffer again on each feed would search about
    # 16 KiB * 16 KiB / 2 = 128 Mi bytes here.
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: 0123456789abcdef\r\n" * 600 + b"\r\n"
    assert len(head) < MAX_HEAD
    reader = TunnelReader(DESTINATION, sent_credentials=False)
    answer = None
    for index in range(len(head)):
        answer = reader.feed(head[index : index + 1])
        if answer is not None:
            assert index == len(head) - 1
    assert answer == Tunnel(b"")
    assert reader.scanned == len(head)


def test_each_byte_is_searched_once_in_a_long_line_fed_one_at_a_time() -> None:
    line = b"HTTP/1.1 200 " + b"y" * (MAX_HEAD - 100)
    reader = TunnelReader(DESTINATION, sent_credentials=False)
    for index in range(len(line)):
        assert reader.feed(line[index : index + 1]) is None
    assert reader.scanned == len(line)
    assert reader.feed(b"\r\n\r\n") == Tunnel(b"")
    assert reader.scanned == len(line) + 4


def test_what_follows_the_head_is_never_searched() -> None:
    head = b"HTTP/1.1 200 OK\r\n\r\n"
    reader = TunnelReader(DESTINATION, sent_credentials=False)
    assert reader.feed(head + b"\x17" * (1 << 20)) == Tunnel(b"\x17" * (1 << 20))
    assert reader.scanned == len(head)


def test_a_megabyte_without_a_line_end_is_searched_only_up_to_max_head() -> None:
    reader = TunnelReader(DESTINATION, sent_credentials=False)
    assert failure(reader.feed(b"HTTP/1.1 200 " + b"z" * (1 << 20))).kind is (
        FailureKind.PROXY_BAD_ANSWER
    )
    assert reader.scanned == MAX_HEAD


# --- reaching the proxy -----------------------------------------------------------------------

SECRET_PROXY = Proxy("proxy.corp", 3128, "Basic YWxpY2U6czNjcmV0")


@pytest.mark.parametrize(
    ("error", "connected", "answer"),
    [
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('10.0.0.1', 3128)"),
            False,
            Failure(FailureKind.PROXY_REFUSED, "the proxy proxy.corp:3128 refused the connection"),
        ),
        (
            OSError(errno.EHOSTUNREACH, "No route to host"),
            False,
            Failure(
                FailureKind.PROXY_UNREACHABLE,
                "no route to the proxy proxy.corp:3128 (no route to host)",
            ),
        ),
        (
            OSError(errno.ENETUNREACH, "Network is unreachable"),
            False,
            Failure(
                FailureKind.PROXY_UNREACHABLE,
                "no route to the proxy proxy.corp:3128 (network is unreachable)",
            ),
        ),
        (
            OSError(errno.EACCES, "Permission denied"),
            False,
            Failure(
                FailureKind.PROXY_UNREACHABLE,
                "cannot connect to the proxy proxy.corp:3128 (permission denied)",
            ),
        ),
        (
            OSError("something odd"),
            False,
            Failure(
                FailureKind.PROXY_UNREACHABLE,
                "cannot connect to the proxy proxy.corp:3128 (something odd)",
            ),
        ),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            False,
            Failure(
                FailureKind.PROXY_UNREACHABLE,
                "the proxy name proxy.corp does not resolve (Name or service not known)",
            ),
        ),
        (
            OSError(errno.ETIMEDOUT, "Connection timed out"),
            False,
            Failure(
                FailureKind.PROXY_TIMEOUT,
                "no connection to the proxy proxy.corp:3128 (connection timed out)",
            ),
        ),
        (
            TimeoutError(),
            False,
            Failure(
                FailureKind.PROXY_TIMEOUT, "no connection to the proxy proxy.corp:3128 in time"
            ),
        ),
        (
            TimeoutError(),
            True,
            Failure(FailureKind.PROXY_TIMEOUT, "no answer from the proxy proxy.corp:3128 in time"),
        ),
        (
            ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
            True,
            Failure(
                FailureKind.PROXY_BAD_ANSWER,
                "the proxy proxy.corp:3128 reset the connection before answering CONNECT",
            ),
        ),
        (
            OSError(errno.EHOSTUNREACH, "No route to host"),
            True,
            Failure(
                FailureKind.PROXY_UNREACHABLE,
                "the connection to the proxy proxy.corp:3128 broke (no route to host)",
            ),
        ),
    ],
)
def test_failure_reaching_proxy(error: OSError, connected: bool, answer: Failure) -> None:
    got = failure_reaching_proxy(SECRET_PROXY, error, connected=connected)
    assert got == answer
    assert "YWxpY2U6czNjcmV0" not in got.message
    assert got.kind.at_proxy


def test_failure_reaching_proxy_is_before_the_connection_by_default() -> None:
    error = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
    assert failure_reaching_proxy(PROXY, error).kind is FailureKind.PROXY_REFUSED


def test_failures_name_an_ipv6_proxy_in_brackets() -> None:
    proxy = Proxy("2001:db8::1", 3128)
    error = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
    assert failure_reaching_proxy(proxy, error).message == (
        "the proxy [2001:db8::1]:3128 refused the connection"
    )


@pytest.mark.parametrize(
    ("connected", "message"),
    [
        (False, "no connection to the proxy proxy.corp:3128 within 2.5 s"),
        (True, "no answer from the proxy proxy.corp:3128 within 2.5 s"),
    ],
)
def test_proxy_timeout(connected: bool, message: str) -> None:
    assert proxy_timeout(SECRET_PROXY, 2.5, connected=connected) == Failure(
        FailureKind.PROXY_TIMEOUT, message
    )


def test_unresolved_proxy() -> None:
    assert unresolved_proxy(SECRET_PROXY) == Failure(
        FailureKind.PROXY_UNREACHABLE, "the proxy name proxy.corp does not resolve"
    )
    assert unresolved_proxy(SECRET_PROXY, "no answer within 5 s") == Failure(
        FailureKind.PROXY_UNREACHABLE,
        "the proxy name proxy.corp does not resolve (no answer within 5 s)",
    )
