"""snisweep.net.resolve: the system resolver, with no internet access.

The real ``getaddrinfo`` answers for what the machine knows by itself (``localhost`` from the
hosts file, IP literals, a ``.invalid`` name that no DNS can know, RFC 6761); a stand-in for
``socket.getaddrinfo`` plays the system resolver where the machine cannot (several answers,
none, a resolver that hangs). Every test runs on asyncio, which a scan uses, and on trio.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import AsyncIterator

import anyio
import pytest
import trio.testing

from snisweep.model import Failure, FailureKind
from snisweep.net.resolve import resolve

pytestmark = pytest.mark.anyio

AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[str, int]]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


async def test_localhost_resolves_to_a_loopback_address() -> None:
    address = await resolve("localhost", 443, 5.0)
    assert isinstance(address, str)
    assert ipaddress.ip_address(address).is_loopback


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:0DB8:0:0:0:0:0:1", "2001:db8::1"),
    ],
)
async def test_an_ip_literal_is_its_own_address(host: str, address: str) -> None:
    # No query leaves the machine for a numeric host, so this holds offline too.
    assert await resolve(host, 443, 5.0) == address


async def test_a_name_that_cannot_resolve_is_a_dns_failure() -> None:
    failure = await resolve("nothing.invalid", 443, 5.0)
    assert isinstance(failure, Failure)
    assert failure.kind is FailureKind.DNS
    # The reason is the system's (glibc: "Name or service not known"; without any DNS server
    # "Temporary failure in name resolution"); which one depends on the machine.
    assert failure.message.startswith("nothing.invalid does not resolve ("), failure.message


async def test_a_name_idna_refuses_is_a_dns_failure() -> None:
    # Refused while encoding the name (a UnicodeError), before any query.
    failure = await resolve("☃.example", 443, 5.0)
    assert isinstance(failure, Failure)
    assert failure.kind is FailureKind.DNS
    assert failure.message.startswith("☃.example does not resolve (Codepoint U+2603")


@pytest.fixture
def system_answers(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[AddrInfo]]:
    """Stands in for the system resolver: host name -> what ``getaddrinfo`` returns."""
    answers: dict[str, list[AddrInfo]] = {}

    def getaddrinfo(host: str | bytes | None, port: object, *args: object) -> list[AddrInfo]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[name]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def _info(address: str) -> AddrInfo:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, 443))


async def test_the_first_address_the_system_prefers_is_pinned(
    system_answers: dict[str, list[AddrInfo]],
) -> None:
    system_answers["dual.example"] = [_info("2001:db8::7"), _info("192.0.2.7")]
    system_answers["v4.example"] = [_info("192.0.2.8"), _info("2001:db8::8")]
    assert await resolve("dual.example", 443, 5.0) == "2001:db8::7"
    assert await resolve("v4.example", 443, 5.0) == "192.0.2.8"


async def test_no_address_at_all_is_a_dns_failure(
    system_answers: dict[str, list[AddrInfo]],
) -> None:
    system_answers["empty.example"] = []
    assert await resolve("empty.example", 443, 5.0) == Failure(
        FailureKind.DNS, "empty.example has no address"
    )


@pytest.fixture
async def hanging_resolver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[str]]:
    """A system resolver that never answers (until the test ends): the hosts asked for."""
    asked: list[str] = []
    release = threading.Event()

    def getaddrinfo(host: str | bytes | None, port: object, *args: object) -> list[AddrInfo]:
        flags = args[3] if len(args) > 3 else 0
        if isinstance(flags, int) and flags & socket.AI_NUMERICHOST:
            # trio first asks, in the event loop's thread, whether the host is numeric.
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        asked.append(host.decode() if isinstance(host, bytes) else str(host))
        release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        yield asked
    finally:
        # The lookup's thread is abandoned, not stopped. Let it end now, inside the event
        # loop (an async fixture ends there), whose shutdown would otherwise wait for it.
        release.set()


async def test_a_resolver_that_hangs_is_a_dns_failure_at_the_timeout(
    hanging_resolver: list[str],
) -> None:
    started = anyio.current_time()
    failure = await resolve("slow.example", 443, 0.2)
    assert failure == Failure(FailureKind.DNS, "no answer for slow.example within 0.2 s")
    assert anyio.current_time() - started >= 0.2
    assert hanging_resolver == ["slow.example"]


@pytest.mark.parametrize(
    "anyio_backend", [("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})]
)
async def test_the_timeout_is_exact_on_a_virtual_clock(hanging_resolver: list[str]) -> None:
    # The lookup blocks a worker thread; the deadline alone ends the wait, at 7.5 s exactly.
    started = anyio.current_time()
    failure = await resolve("slow.example", 443, 7.5)
    assert anyio.current_time() - started == 7.5
    assert failure == Failure(FailureKind.DNS, "no answer for slow.example within 7.5 s")
