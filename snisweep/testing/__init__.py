"""Test doubles that ship with the package, as ``trio.testing`` does: a scripted prober and a
scripted resolver for the scheduler (``snisweep.run.scheduler.Scanner`` takes both), so that
scheduling, retries and limits can be tested without a socket. No I/O.

Both answer after a scripted delay, slept with ``anyio.sleep``: on trio with
``trio.testing.MockClock(autojump_threshold=0)`` the delays are virtual, a scan of minutes runs
in milliseconds, and the times that the doubles log (``anyio.current_time()``) are exact, so a
test can say "the scan ends at 4.0 s". Like the real ones, neither takes longer than the
timeout it is given: a delay past it ends in the same timeout failure, at the timeout.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio

from snisweep.model import Failure, FailureKind, Observation, Target

__all__ = [
    "Delay",
    "Lookup",
    "ProbeCall",
    "Script",
    "ScriptedProber",
    "ScriptedResolver",
    "fake_address",
    "fake_resolve",
]

#: What a probe answers: called with (address, port, server name or None, attempt number for
#: that address and name, counting from 1).
Script = Callable[[str, int, str | None, int], Observation]

#: How long a probe takes, in seconds: called with (address, server name or None, attempt).
Delay = Callable[[str, str | None, int], float]


@dataclass
class ProbeCall:
    """One probe the scheduler asked for, with the (virtual) times it started and ended."""

    address: str
    port: int
    server_name: str | None
    attempt: int  # for this address and server name, from 1
    timeout: float
    request: bytes | None
    started: float
    ended: float | None = None  # None while it runs
    cancelled: bool = False  # stopped by the scheduler before it answered


class ScriptedProber:
    """Answers from a script after a scripted delay, and records what was asked, when, and how
    much ran at once.

    ``script`` is a :data:`Script` or one observation that every probe answers. ``delay`` is a
    number of seconds for every probe or a :data:`Delay`. A delay of ``timeout`` or more ends
    in a ``handshake-timeout`` failure at ``timeout``, as a silent server does with the real
    prober.
    """

    def __init__(self, script: Script | Observation, delay: float | Delay = 0.0) -> None:
        self.script = script
        self.delay = delay
        self.log: list[ProbeCall] = []
        self.calls: Counter[tuple[str, str | None]] = Counter()
        self.requests: list[bytes | None] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.per_address: Counter[str] = Counter()
        self.max_per_address: dict[str, int] = defaultdict(int)

    def started(self, *, sni: bool | None = None) -> list[float]:
        """Start times of the probes logged so far, in the order they started; only those
        with (``sni=True``) or without (``sni=False``) SNI when ``sni`` is given."""
        return [c.started for c in self.log if sni is None or (c.server_name is not None) is sni]

    async def __call__(
        self, target: Target, server_name: str | None, request: bytes | None = None
    ) -> Observation:
        address, port, timeout = target.destination, target.endpoint.port, target.endpoint.timeout
        self.calls[(address, server_name)] += 1
        self.requests.append(request)
        attempt = self.calls[(address, server_name)]
        call = ProbeCall(
            address, port, server_name, attempt, timeout, request, anyio.current_time()
        )
        self.log.append(call)
        self.in_flight += 1
        self.per_address[address] += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.max_per_address[address] = max(
            self.max_per_address[address], self.per_address[address]
        )
        delay = (
            self.delay
            if isinstance(self.delay, int | float)
            else self.delay(address, server_name, attempt)
        )
        try:
            if delay >= timeout:
                await anyio.sleep(timeout)
                return Failure(FailureKind.HANDSHAKE_TIMEOUT, f"no handshake within {timeout:g} s")
            await anyio.sleep(delay)
            script = self.script
            return script(address, port, server_name, attempt) if callable(script) else script
        except anyio.get_cancelled_exc_class():
            call.cancelled = True
            raise
        finally:
            call.ended = anyio.current_time()
            self.in_flight -= 1
            self.per_address[address] -= 1


def fake_address(host: str) -> str:
    """The address of 192.0.2.0/24 that the scripted resolvers give ``host`` by default."""
    return "192.0.2." + str(sum(host.encode()) % 250 + 1)


async def fake_resolve(host: str) -> tuple[str, ...] | Failure:
    """Every name resolves at once to :func:`fake_address`; ``*.invalid`` fails."""
    if host.endswith(".invalid"):
        return Failure(FailureKind.DNS, f"{host} does not resolve")
    return (fake_address(host),)


@dataclass
class Lookup:
    """One name resolution the scheduler asked for, with its (virtual) times."""

    host: str
    started: float
    ended: float | None = None
    cancelled: bool = False


class ScriptedResolver:
    """Answers from ``answers`` (host name -> address, addresses or failure) after a scripted
    delay, and records every lookup; a name not in ``answers`` resolves like
    :func:`fake_resolve`.

    ``delay`` is a number of seconds for every name or a function of the name. A delay of
    ``timeout`` (the DNS timeout) or more ends in the real resolver's DNS failure, at
    ``timeout``.
    """

    def __init__(
        self,
        answers: Mapping[str, str | tuple[str, ...] | Failure] | None = None,
        delay: float | Callable[[str], float] = 0.0,
        timeout: float = 5.0,
    ) -> None:
        self.answers = dict(answers or {})
        self.delay = delay
        self.timeout = timeout
        self.log: list[Lookup] = []

    async def __call__(self, host: str) -> tuple[str, ...] | Failure:
        lookup = Lookup(host, anyio.current_time())
        self.log.append(lookup)
        delay = self.delay if isinstance(self.delay, int | float) else self.delay(host)
        timeout = self.timeout
        try:
            if delay >= timeout:
                await anyio.sleep(timeout)
                return Failure(FailureKind.DNS, f"no answer for {host} within {timeout:g} s")
            await anyio.sleep(delay)
            if host in self.answers:
                answer = self.answers[host]
                return (answer,) if isinstance(answer, str) else answer
            return await fake_resolve(host)
        except anyio.get_cancelled_exc_class():
            lookup.cancelled = True
            raise
        finally:
            lookup.ended = anyio.current_time()
