"""The HTTP check's request and status-line reader, fed bytes by hand. No sockets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snisweep.model import HttpAnswer, HttpOutcome
from snisweep.net.http import MAX_ANSWER, StatusReader, request


def read(*chunks: bytes) -> HttpAnswer | None:
    reader = StatusReader()
    for chunk in chunks:
        answer = reader.feed(chunk)
        if answer is not None:
            return answer
    return None


def status(code: int) -> HttpAnswer:
    return HttpAnswer(HttpOutcome.STATUS, code)


NOT_HTTP = HttpAnswer(HttpOutcome.NOT_HTTP)


def test_request_is_one_get_with_host_agent_and_close() -> None:
    sent = request("api.example.com", 443, "/ws/soap?wsdl", "9.9.9")
    assert sent == (
        b"GET /ws/soap?wsdl HTTP/1.1\r\n"
        b"Host: api.example.com\r\n"
        b"User-Agent: snisweep/9.9.9 (SNI check)\r\n"
        b"Accept: */*\r\n"
        b"Connection: close\r\n"
        b"\r\n"
    )


@pytest.mark.parametrize(
    ("name", "port", "host"),
    [
        ("api.example.com", 443, b"Host: api.example.com\r\n"),
        ("api.example.com", 8443, b"Host: api.example.com:8443\r\n"),
        ("192.0.2.1", 443, b"Host: 192.0.2.1\r\n"),
        ("2001:db8::1", 443, b"Host: [2001:db8::1]\r\n"),
        ("2001:db8::1", 9443, b"Host: [2001:db8::1]:9443\r\n"),
    ],
)
def test_host_header_names_the_port_only_when_not_443(name: str, port: int, host: bytes) -> None:
    assert host in request(name, port, "/", "0")


@pytest.mark.parametrize(
    ("chunks", "answer"),
    [
        ((b"HTTP/1.1 200 OK\r\n",), status(200)),
        ((b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",), status(403)),
        ((b"HTTP/1.0 421 Misdirected Request\n",), status(421)),
        ((b"HTTP/1.1 204\r\n",), status(204)),  # the reason phrase may be empty
        ((b"HTTP/1.1 599 Whatever\r\n",), status(599)),
        ((b"HT", b"TP/1.1 4", b"00 Bad Request\r", b"\n"), status(400)),
        ((b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",), status(200)),
        ((b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 403 No\r\n",), status(403)),
        ((b"HTTP/1.1 103 Early\r\nLink: x\r\n", b"\r", b"\nHTTP/1.1 421 M\r\n"), status(421)),
        ((b"HTTP/1.1 100 Continue\n\nHTTP/1.1 201 Created\n",), status(201)),
        ((b"SSH-2.0-OpenSSH_9.2\r\n",), NOT_HTTP),
        ((b"220 mail.example.com ESMTP\r\n",), NOT_HTTP),
        ((b"* OK IMAP4rev1 ready\r\n",), NOT_HTTP),
        ((b"HTTP/1.1 2000 OK\r\n",), NOT_HTTP),
        ((b"HTTP/1.1 099 Low\r\n",), NOT_HTTP),
        ((b"HTTP/1.1 600 High\r\n",), NOT_HTTP),
        ((b"HTTP/1.1 20\r\n",), NOT_HTTP),
        ((b"http/1.1 200 OK\r\n",), NOT_HTTP),  # the version is case-sensitive (RFC 9112)
        ((b"HTTP/1.1 200 OK\x00\r\n",), NOT_HTTP),
        ((b"<html>",), NOT_HTTP),  # known to be no status line before its line ends
        ((b"HTTP/1.1 200 OK",), None),  # not yet complete
        ((b"HTTP/1.1 100 Continue\r\n",), None),  # the real answer is still to come
    ],
)
def test_status_line(chunks: tuple[bytes, ...], answer: HttpAnswer | None) -> None:
    assert read(*chunks) == answer


def test_closed_is_the_answer_of_a_connection_that_ended() -> None:
    assert StatusReader.closed() == HttpAnswer(HttpOutcome.CLOSED)


def test_never_ending_status_line_is_cut_at_the_bound() -> None:
    reader = StatusReader()
    assert reader.feed(b"HTTP/1.1 200 " + b"x" * (MAX_ANSWER - 100)) is None
    assert reader.feed(b"x" * 200) == NOT_HTTP


def test_never_ending_interim_headers_are_cut_at_the_bound() -> None:
    reader = StatusReader()
    assert reader.feed(b"HTTP/1.1 100 Continue\r\n") is None
    answer = None
    for _ in range(MAX_ANSWER // 16 + 2):
        answer = reader.feed(b"X-Header: 12345\r\n")
        if answer is not None:
            break
    assert answer == NOT_HTTP


def test_single_bytes_are_read_in_linear_time() -> None:
    reader = StatusReader()
    answer = None
    for byte in b"HTTP/1.1 100 Continue\r\n" + b"a: b\r\n" * 1000 + b"\r\nHTTP/1.1 200 OK\r\n":
        answer = reader.feed(bytes([byte]))
        if answer is not None:
            break
    assert answer == status(200)


@given(st.lists(st.binary(max_size=300), max_size=80))
def test_untrusted_bytes_give_nothing_a_status_or_not_http(chunks: list[bytes]) -> None:
    reader = StatusReader()
    fed = 0
    for chunk in chunks:
        fed += len(chunk)
        answer = reader.feed(chunk)
        if answer is not None:
            assert answer.outcome in (HttpOutcome.STATUS, HttpOutcome.NOT_HTTP)
            if answer.outcome is HttpOutcome.STATUS:
                assert answer.status is not None
                assert 200 <= answer.status <= 599
            else:
                assert answer.status is None
            return
    assert fed <= MAX_ANSWER  # nothing was concluded only while within the bound


@given(
    st.integers(200, 599),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
    st.lists(st.integers(1, 60), max_size=10),
)
def test_any_status_line_is_read_however_it_is_split(
    code: int, phrase: str, cuts: list[int]
) -> None:
    data = f"HTTP/1.1 {code} {phrase}\r\nServer: x\r\n\r\n".encode()
    chunks, position = [], 0
    for cut in cuts:
        chunks.append(data[position : position + cut])
        position += cut
    chunks.append(data[position:])
    assert read(*chunks) == status(code)
