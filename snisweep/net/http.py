"""The HTTP check's two halves: the one request a probe sends and the reader of the status line
that answers it. Pure: no I/O (the probe feeds bytes in and takes bytes out, as h11 is used).

After a handshake, a real client sends a request, and some servers refuse it at the HTTP level
when the ClientHello carried no SNI (Apache httpd's ``SSLStrictSNIVHostCheck``: ``403``; its
check that the virtual host chosen by ``Host`` fits the handshake: ``421``). So an HTTPS probe
sends, on the same connection::

    GET <path> HTTP/1.1
    Host: <name>[:<port> when not 443]
    User-Agent: snisweep/<version> (SNI check)
    Accept: */*
    Connection: close

and reads only the status line. A ``GET`` of the URL's path (``/`` by default) is what any
monitoring probe or browser sends: it changes nothing on a server, carries no body and no
credentials, and ``Connection: close`` ends the connection after one answer.

Why not h11: it reports a response only once the whole header block has arrived and been
checked, while the check needs the first line alone; a server that sends a good status line and
then stalls, or a header h11 rejects, would lose the status. Reading one line is a few lines of
code, measured to cost less than building an h11 connection per probe.
"""

from __future__ import annotations

import re
from typing import Final

from snisweep.model import HttpAnswer, HttpOutcome

__all__ = ["MAX_ANSWER", "StatusReader", "may_become_status", "request"]

#: Bytes read at most before the status line must have been seen (1xx answers and their headers
#: included): a status line is short, and a server that sends megabytes is not answering.
MAX_ANSWER: Final = 16384

# RFC 9112 section 4: HTTP-version SP 3DIGIT SP reason-phrase, the phrase being HTAB, SP, VCHAR
# or obs-text (the SP before an empty phrase is often left out).
_STATUS_LINE = re.compile(rb"HTTP/[0-9]\.[0-9] ([1-5][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?\r?")


def request(name: str, port: int, path: str, version: str) -> bytes:
    """The request of the HTTP check. ``name`` is a DNS name or an IP literal, ``path`` a
    request target already checked by the list readers (no space, no control character)."""
    authority = f"[{name}]" if ":" in name else name
    if port != 443:
        authority = f"{authority}:{port}"
    return (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {authority}\r\n"
        f"User-Agent: snisweep/{version} (SNI check)\r\n"
        "Accept: */*\r\n"
        "Connection: close\r\n"
        "\r\n"
    ).encode("ascii")


class StatusReader:
    """Reads the status line of an answer from the bytes given to ``feed``, chunk by chunk.

    ``feed`` returns the answer once one is known, else None: a final status (1xx interim
    answers and their headers are skipped), or ``NOT_HTTP`` for bytes that cannot be one, or
    for more than ``MAX_ANSWER`` bytes without a final status line. Work is linear in the bytes
    fed: each chunk is searched once for a line end. ``closed`` is the answer of a connection
    that ended before a status line was complete.
    """

    __slots__ = ("_buffer", "_interim", "_seen")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._interim = False  # skipping the headers of a 1xx answer
        self._seen = 0

    def feed(self, data: bytes) -> HttpAnswer | None:
        self._seen += len(data)
        if self._seen > MAX_ANSWER:
            return HttpAnswer(HttpOutcome.NOT_HTTP)
        searched = len(self._buffer)
        self._buffer += data  # a bytearray: a server dripping single bytes costs linear time
        while True:
            if self._interim:
                # The buffer starts at the "\n" of the interim status line: its header block
                # ends with the first empty line.
                end = _blank_line(self._buffer, max(searched - 2, 0))
                if end < 0:
                    return None
                del self._buffer[:end]
                self._interim = False
                searched = 0
            newline = self._buffer.find(b"\n", searched)
            if newline < 0:
                if not may_become_status(self._buffer):
                    return HttpAnswer(HttpOutcome.NOT_HTTP)
                return None
            match = _STATUS_LINE.fullmatch(self._buffer[:newline])
            if match is None:
                return HttpAnswer(HttpOutcome.NOT_HTTP)
            status = int(match.group(1))
            if status >= 200:
                return HttpAnswer(HttpOutcome.STATUS, status)
            # An interim answer (100 Continue, 103 Early Hints): the real one follows.
            del self._buffer[:newline]
            self._interim = True
            searched = 0

    @staticmethod
    def closed() -> HttpAnswer:
        return HttpAnswer(HttpOutcome.CLOSED)


def _blank_line(buffer: bytearray, start: int) -> int:
    """Where what follows the first empty line starts (the buffer begins with a line end),
    or -1."""
    ends = [i for i in (buffer.find(b"\n\r\n", start), buffer.find(b"\n\n", start)) if i >= 0]
    if not ends:
        return -1
    end = min(ends)
    return end + (3 if buffer[end + 1 : end + 2] == b"\r" else 2)


# What a status line starts with: "9" stands for a digit.
_TEMPLATE: Final = b"HTTP/9.9 999"


def may_become_status(data: bytes | bytearray) -> bool:
    """Whether ``data`` starts as a status line does, as far as it goes (its first 12 bytes,
    ``HTTP/d.d ddd``): whether bytes that hold no line end yet may still grow into a status
    line. The reader of a proxy's answer to CONNECT (``snisweep.net.proxy``) asks it too."""
    for got, want in zip(data[: len(_TEMPLATE)], _TEMPLATE, strict=False):
        if want == 0x39:  # "9"
            if not 0x30 <= got <= 0x39:
                return False
        elif got != want:
            return False
    return True
