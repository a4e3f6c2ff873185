"""Read the server_name out of the first bytes of a TLS connection. Pure: no I/O.

The lab's SNI routers (the ``reset``, ``close`` and ``hang`` servers) decide what to do from the
ClientHello before any TLS library sees it, the way HAProxy's ``req.ssl_sni`` or an SNI proxy does.
They peek at the socket; this module tells them how many bytes the first record needs and what
name, if any, the client asked for.

The bytes come from anybody who can connect, so every length is checked against what is there:
garbage, truncated records and lying length fields give ``None`` (not a ClientHello) or a
ClientHello without a server name, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

RECORD_HEADER_LENGTH = 5
# RFC 8446 5.1: a record body is at most 2^14 bytes; TLS 1.2 allows 2048 more for expansion.
MAX_RECORD_BODY = 2**14 + 2048

_CONTENT_HANDSHAKE = 0x16
_HANDSHAKE_CLIENT_HELLO = 0x01
_EXTENSION_SERVER_NAME = 0x0000
_NAME_TYPE_HOST_NAME = 0x00
_MAX_HOST_NAME = 255


@dataclass(frozen=True, slots=True)
class ClientHello:
    """What the lab needs from a ClientHello."""

    server_name: str | None  # lower-case host_name from the server_name extension, or None


class _Truncated(Exception):
    """A length field points past the end of the data."""


class _Reader:
    """Bounds-checked reading of big-endian fields and length-prefixed blocks."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def take(self, size: int) -> bytes:
        if size < 0 or size > self.remaining:
            raise _Truncated
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def take_rest(self) -> bytes:
        return self.take(self.remaining)

    def block(self, length_size: int) -> _Reader:
        return _Reader(self.take(self.uint(length_size)))


def record_length(data: bytes) -> int:
    """How many bytes the first record of ``data`` takes, header included.

    Returns ``RECORD_HEADER_LENGTH`` while the header is incomplete, and 0 as soon as the bytes
    cannot start a TLS handshake record, so that a peeking caller knows when to stop waiting.
    """
    if not data:
        return RECORD_HEADER_LENGTH
    if data[0] != _CONTENT_HANDSHAKE or (len(data) >= 2 and data[1] != 0x03):
        return 0
    if len(data) < RECORD_HEADER_LENGTH:
        return RECORD_HEADER_LENGTH
    body = int.from_bytes(data[3:5], "big")
    if body == 0 or body > MAX_RECORD_BODY:
        return 0
    return RECORD_HEADER_LENGTH + body


def parse_client_hello(data: bytes) -> ClientHello | None:
    """Parse the first record of ``data`` as a ClientHello; ``None`` when it is not one.

    A ClientHello split over several records (possible above 16 KiB) reads as not a
    ClientHello: the lab's routers then treat the client as one that sent no SNI.
    """
    try:
        return _parse(data)
    except _Truncated:
        return None


def _parse(data: bytes) -> ClientHello | None:
    total = record_length(data)
    if total <= RECORD_HEADER_LENGTH or len(data) < total:
        return None
    record = _Reader(data[RECORD_HEADER_LENGTH:total])
    if record.uint(1) != _HANDSHAKE_CLIENT_HELLO:
        return None
    hello = record.block(3)
    hello.take(2)  # legacy_version: tells nothing, TLS 1.3 puts 0x0303 here too
    hello.take(32)  # random
    hello.block(1)  # legacy_session_id
    hello.block(2)  # cipher_suites
    hello.block(1)  # legacy_compression_methods
    if hello.remaining == 0:
        return ClientHello(server_name=None)  # a ClientHello may end without extensions
    extensions = hello.block(2)
    while extensions.remaining:
        kind = extensions.uint(2)
        body = extensions.block(2)
        if kind == _EXTENSION_SERVER_NAME:
            return ClientHello(server_name=_host_name(body))
    return ClientHello(server_name=None)


def _host_name(extension: _Reader) -> str | None:
    names = extension.block(2)
    while names.remaining:
        name_type = names.uint(1)
        raw = names.block(2).take_rest()
        if name_type == _NAME_TYPE_HOST_NAME:
            return _decode(raw)
    return None


def _decode(raw: bytes) -> str | None:
    # RFC 6066: a host_name is ASCII without a trailing dot. Anything else matches no route.
    if not raw or len(raw) > _MAX_HOST_NAME:
        return None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not text.isprintable():
        return None
    return text.lower()
