"""Test doubles that ship with the package, as ``trio.testing`` does: a scripted prober and a
scripted resolver for the scheduler (``snisweep.run.scheduler.Scanner`` takes both), so that
scheduling, retries and limits can be tested without a socket. No I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable

import anyio

from snisweep.model import Failure, FailureKind, Observation

__all__ = ["Script", "ScriptedProber", "fake_resolve"]

#: What a probe answers: called with (address, port, server name or None, attempt number for
#: that address and name, counting from 1).
Script = Callable[[str, int, str | None, int], Observation]


class ScriptedProber:
    """Answers from a script and records what was asked and how much ran at once."""

    def __init__(self, script: Script, delay: float | Callable[[str | None], float] = 0.0) -> None:
        self.script = script
        self.delay = delay
        self.calls: Counter[tuple[str, str | None]] = Counter()
        self.requests: list[bytes | None] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.per_address: Counter[str] = Counter()
        self.max_per_address: dict[str, int] = defaultdict(int)

    async def __call__(
        self,
        address: str,
        port: int,
        server_name: str | None,
        timeout: float,
        request: bytes | None = None,
    ) -> Observation:
        self.calls[(address, server_name)] += 1
        self.requests.append(request)
        attempt = self.calls[(address, server_name)]
        self.in_flight += 1
        self.per_address[address] += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.max_per_address[address] = max(
            self.max_per_address[address], self.per_address[address]
        )
        try:
            await anyio.sleep(
                self.delay if isinstance(self.delay, float) else self.delay(server_name)
            )
            return self.script(address, port, server_name, attempt)
        finally:
            self.in_flight -= 1
            self.per_address[address] -= 1


async def fake_resolve(host: str, port: int, timeout: float) -> str | Failure:
    """Every name resolves to an address of 192.0.2.0/24 derived from it; ``*.invalid`` fails."""
    if host.endswith(".invalid"):
        return Failure(FailureKind.DNS, f"{host} does not resolve")
    return "192.0.2." + str(sum(host.encode()) % 250 + 1)
