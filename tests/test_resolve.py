"""snisweep.net.resolve: the system resolver in its own pool of threads, with no internet access.

The real ``getaddrinfo`` answers for what the machine knows by itself (``localhost`` from the
hosts file, IP literals, a ``.invalid`` name that no DNS can know, RFC 6761); a stand-in given
to ``SystemResolver(getaddrinfo=...)`` plays the system resolver where the machine cannot
(several answers, none, slow answers, a resolver that hangs). The pool is asyncio's, as a scan's.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from snisweep.model import Failure, FailureKind
from snisweep.net.resolve import SystemResolver

pytestmark = pytest.mark.anyio

AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[str, int]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_localhost_resolves_to_loopback_addresses() -> None:
    addresses = await SystemResolver()("localhost")
    assert isinstance(addresses, tuple)
    assert addresses
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses)
    assert len(set(addresses)) == len(addresses)


@pytest.mark.parametrize(
    ("host", "address"),
    [("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("2001:db8::1", "2001:db8::1")],
)
async def test_an_ip_literal_is_its_own_address(host: str, address: str) -> None:
    # No query leaves the machine for a numeric host, so this holds offline too.
    assert await SystemResolver()(host) == (address,)


async def test_a_name_that_cannot_resolve_is_a_dns_failure() -> None:
    failure = await SystemResolver()("nothing.invalid")
    assert isinstance(failure, Failure)
    assert failure.kind is FailureKind.DNS
    # The reason is the system's (glibc: "Name or service not known"; without any DNS server
    # "Temporary failure in name resolution"); which one depends on the machine.
    assert failure.message.startswith("nothing.invalid does not resolve ("), failure.message


async def test_a_name_idna_refuses_is_a_dns_failure() -> None:
    failure = await SystemResolver()("☃.example")
    assert isinstance(failure, Failure)
    assert failure.message.startswith("☃.example does not resolve (")


def _info(address: str) -> AddrInfo:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, 0))


class Answers:
    """Stands in for ``socket.getaddrinfo``: host name -> addresses, after ``delay`` seconds
    (a blocking sleep, as a slow DNS server makes the real one block); counts what runs at once."""

    def __init__(self, answers: dict[str, list[str]], delay: float = 0.0) -> None:
        self.answers = answers
        self.delay = delay
        self.asked: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, host: str, port: object, *args: object, **kwargs: object) -> list[AddrInfo]:
        with self._lock:
            self.asked.append(host)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.delay == float("inf"):
                self.release.wait(30)
                raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
            time.sleep(self.delay)
            if host not in self.answers:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return [_info(a) for a in self.answers[host]]
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def hanging() -> Iterator[Answers]:
    answers = Answers({}, delay=float("inf"))
    yield answers
    answers.release.set()  # the abandoned lookups end with the test


async def test_every_address_in_the_order_the_system_gives_them() -> None:
    system = Answers(
        {"dual.example": ["2001:db8::7", "192.0.2.7", "2001:db8::7"], "v4.example": ["192.0.2.8"]}
    )
    resolver = SystemResolver(getaddrinfo=system)
    assert await resolver("dual.example") == ("2001:db8::7", "192.0.2.7")  # each once
    assert await resolver("v4.example") == ("192.0.2.8",)


async def test_no_address_at_all_is_a_dns_failure() -> None:
    resolver = SystemResolver(getaddrinfo=Answers({"empty.example": []}))
    assert await resolver("empty.example") == Failure(
        FailureKind.DNS, "empty.example has no address"
    )


async def test_a_resolver_that_hangs_is_a_dns_failure_at_the_timeout(hanging: Answers) -> None:
    resolver = SystemResolver(timeout=0.2, getaddrinfo=hanging)
    started = anyio.current_time()
    failure = await resolver("slow.example")
    assert failure == Failure(FailureKind.DNS, "no answer for slow.example within 0.2 s")
    assert anyio.current_time() - started >= 0.2
    assert hanging.asked == ["slow.example"]
    resolver.close()


async def test_slow_lookups_run_side_by_side() -> None:
    # 40 names at 0.3 s each with 40 threads: all at once, none timed out (the event loop's
    # default pool would have run them a few at a time).
    system = Answers({f"n{i}.example": ["192.0.2.1"] for i in range(40)}, delay=0.3)
    resolver = SystemResolver(timeout=5.0, threads=40, getaddrinfo=system)
    results: list[tuple[str, ...] | Failure] = []

    async def ask(name: str) -> None:
        results.append(await resolver(name))

    async with anyio.create_task_group() as group:
        for i in range(40):
            group.start_soon(ask, f"n{i}.example")
    resolver.close()
    assert results == [("192.0.2.1",)] * 40
    assert system.most_at_once == 40


async def test_waiting_for_a_thread_costs_none_of_the_timeout() -> None:
    # 2 threads, 6 lookups of 0.3 s, a DNS timeout of 0.5 s: the last ones wait 0.6 s for a
    # thread, longer than the timeout, and still resolve.
    system = Answers({f"q{i}.example": ["192.0.2.2"] for i in range(6)}, delay=0.3)
    resolver = SystemResolver(timeout=0.5, threads=2, getaddrinfo=system)
    results: list[tuple[str, ...] | Failure] = []

    async def ask(name: str) -> None:
        results.append(await resolver(name))

    async with anyio.create_task_group() as group:
        for i in range(6):
            group.start_soon(ask, f"q{i}.example")
    resolver.close()
    assert results == [("192.0.2.2",)] * 6
    assert system.most_at_once == 2


async def test_the_threads_are_bounded_even_when_lookups_hang(hanging: Answers) -> None:
    # Lookups past their timeout keep their thread until the system answers; they are
    # reported at once, and no more than ``threads`` ever run.
    resolver = SystemResolver(timeout=0.1, threads=3, getaddrinfo=hanging)
    results: list[tuple[str, ...] | Failure] = []

    async def ask(name: str) -> None:
        results.append(await resolver(name))

    with anyio.move_on_after(1.0):
        async with anyio.create_task_group() as group:
            for i in range(3):
                group.start_soon(ask, f"h{i}.example")
    assert len(results) == 3
    assert all(isinstance(r, Failure) and "within 0.1 s" in r.message for r in results)
    with anyio.move_on_after(0.3):  # a fourth waits for a thread that never comes free
        results.append(await resolver("h3.example"))
    assert len(results) == 3
    assert hanging.most_at_once == 3
    resolver.close()


def test_a_lookup_that_never_ends_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    # The system resolver hangs for good (a lookup nobody answers): the scan reports it at the
    # DNS timeout, and the process must still exit, whatever the thread stuck in it.
    script = tmp_path / "hang.py"
    script.write_text(
        "import asyncio, threading\n"
        "from snisweep.net.resolve import SystemResolver\n"
        "def never(host, port, **kwargs):\n"
        "    threading.Event().wait()\n"
        "async def main():\n"
        "    resolver = SystemResolver(timeout=0.1, getaddrinfo=never)\n"
        "    print(await resolver('stuck.example'))\n"
        "    resolver.close()\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "dns-failure: no answer for stuck.example within 0.1 s"
