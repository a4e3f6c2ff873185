"""The scheduler: streams endpoints through resolution and probes into records (anyio).

It decides nothing (``snisweep.core.classify`` does) and touches the network only through the
resolver and prober it is given, so tests can script both. Guarantees:

- endpoints are pulled from the iterable one at a time, only when a slot is free, so memory
  does not grow with the list (``concurrency`` endpoints in flight at most);
- at most ``per_host`` connections to one address at once;
- every endpoint pulled yields exactly one record, whatever happens to it: network trouble is a
  ``Failure``, and even a bug in one endpoint's code becomes a record with reason
  ``internal-error`` instead of stopping the scan;
- a probe that fails is retried up to ``endpoint.retries`` times and counts as failed only when
  every attempt failed; so is a probe without SNI whose HTTP request was refused where the one
  with SNI was not (``classify.http_refusal``);
- HTTPS endpoints get the HTTP check on each probe's connection (``snisweep.net.http``), unless the
  scanner is made with ``http=False`` (``--no-http``).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectSendStream

from snisweep import __version__
from snisweep.core.classify import classify, http_refusal
from snisweep.core.record import Record, build
from snisweep.errors import first_leaf
from snisweep.model import (
    Endpoint,
    Failure,
    FailureKind,
    Observation,
    Probed,
    Target,
)
from snisweep.net import http
from snisweep.net.probe import Prober
from snisweep.net.resolve import Resolver, resolve

_YIELD_EVERY = 64  # endpoints started in a row before the scheduler lets others run


@dataclass(frozen=True, slots=True)
class Limits:
    concurrency: int = 100  # endpoints in flight
    per_host: int = 4  # simultaneous connections to one address


class _AddressLimiter:
    """At most ``per_address`` holders per address, first come first served.

    Taking a free slot does not yield to the event loop: the limit is almost never reached, and
    a probe is cheap enough that a checkpoint per acquisition would be a visible part of its
    cost. Entries are dropped when unused, so that memory does not grow with the list.
    """

    def __init__(self, per_address: int) -> None:
        self._per_address = per_address
        self._held: dict[str, int] = {}
        self._waiting: dict[str, deque[anyio.Event]] = {}

    async def acquire(self, address: str) -> None:
        held = self._held.get(address, 0)
        if held < self._per_address:
            self._held[address] = held + 1
            return
        turn = anyio.Event()
        self._waiting.setdefault(address, deque()).append(turn)
        try:
            await turn.wait()  # release() hands its slot over before it sets the event
        except BaseException:
            if turn.is_set():  # handed a slot, then cancelled before using it: pass it on
                self.release(address)
            else:
                waiting = self._waiting[address]
                waiting.remove(turn)
                if not waiting:
                    del self._waiting[address]
            raise

    def release(self, address: str) -> None:
        waiting = self._waiting.get(address)
        if waiting:
            waiting.popleft().set()  # the slot goes to the next in line; ``held`` is unchanged
            if not waiting:
                del self._waiting[address]
            return
        held = self._held[address] - 1
        if held:
            self._held[address] = held
        else:
            del self._held[address]


class Scanner:
    """Runs endpoints through the prober and sends one record per endpoint."""

    def __init__(
        self,
        prober: Prober,
        resolver: Resolver = resolve,
        limits: Limits = Limits(),
        *,
        shard: str | None = None,
        http: bool = True,
    ) -> None:
        self._prober = prober
        self._resolver = resolver
        self._limits = limits
        self._shard = shard  # the report's ``shard`` column
        self._http = http
        self._addresses = _AddressLimiter(limits.per_host)

    async def run(
        self, endpoints: Iterable[Endpoint], send: MemoryObjectSendStream[Record]
    ) -> None:
        """Scan every endpoint, sending each record as soon as it is ready; closes ``send``.

        Should pulling the next endpoint fail (a list that changed since it was validated), the
        endpoints already started still finish and send their records before the error is
        raised: no row that was begun is lost.
        """
        slots = _Slots(self._limits.concurrency)
        pending = iter(endpoints)
        failure: Exception | None = None
        async with send, anyio.create_task_group() as group:
            for started in itertools.count(1):
                if started % _YIELD_EVERY == 0:
                    # Free slots are taken without yielding: with a large --concurrency, the
                    # probes already started and a signal must still get their turn.
                    await anyio.lowlevel.checkpoint()
                await slots.take()
                try:
                    endpoint = next(pending)
                except StopIteration:
                    break
                except Exception as exc:  # raised below, once the started endpoints are done
                    failure = exc
                    break
                group.start_soon(self._run_one, endpoint, send, slots)
        if failure is not None:
            raise failure

    async def _run_one(
        self, endpoint: Endpoint, send: MemoryObjectSendStream[Record], slots: _Slots
    ) -> None:
        try:
            record = await self.scan_endpoint(endpoint)
            await send.send(record)
        finally:
            slots.give()

    async def scan_endpoint(self, endpoint: Endpoint) -> Record:
        """The record for one endpoint. Never raises except for cancellation."""
        scanned_at = datetime.now(UTC)
        started = time.monotonic()
        address: str | None = None
        try:
            resolved = await self._address(endpoint)
            without_sni: Probed | None = None
            if isinstance(resolved, Failure):
                with_sni, attempts = Probed(resolved, attempts=0), 0
            else:
                address = resolved
                with_sni, without_sni, attempts = await self._observe(Target(endpoint, address))
            observed = without_sni.observation if without_sni else None
            return build(
                endpoint,
                address,
                classify(endpoint, with_sni.observation, observed),
                with_sni.observation,
                observed,
                attempts=attempts,
                elapsed_ms=_elapsed_ms(started),
                scanned_at=scanned_at,
                shard=self._shard,
            )
        except Exception as exc:  # a bug for one endpoint must not stop the scan
            bug = first_leaf(exc)
            failure = Failure(FailureKind.INTERNAL, f"{type(bug).__name__}: {bug}")
            # A record from a failure alone touches no certificate code, so this cannot fail
            # the same way; the verdict is classify's, like every other one.
            return build(
                endpoint,
                address,
                classify(endpoint, failure, None),
                failure,
                None,
                attempts=0,
                elapsed_ms=_elapsed_ms(started),
                scanned_at=scanned_at,
                shard=self._shard,
            )

    async def _address(self, endpoint: Endpoint) -> str | Failure:
        if endpoint.address is not None:
            return endpoint.address
        if endpoint.sni is None:  # an IP literal host needs no resolution
            return endpoint.host
        return await self._resolver(endpoint.host, endpoint.port, endpoint.timeout)

    async def _observe(self, target: Target) -> tuple[Probed, Probed | None, int]:
        """Both probes, at once, to the same address (only one for an endpoint without a
        name), and how many connections they started.

        When the probe with SNI settles on a failure the verdict is ``error`` whatever the
        other probe finds, so that probe is stopped and reported as not made; the connections
        it started still count.
        """
        endpoint = target.endpoint
        server_name = endpoint.sni
        request = self._request(endpoint)
        if server_name is None:
            alone = await self._probe(target, None, request, _Attempts())
            return alone, None, alone.attempts
        made = _Attempts()
        without_sni: Probed | None = None

        async def probe_without_sni() -> None:
            nonlocal without_sni
            without_sni = await self._probe(target, None, request, made)

        async with anyio.create_task_group() as group:
            group.start_soon(probe_without_sni)
            with_sni = await self._probe(target, server_name, request, made)
            if isinstance(with_sni.observation, Failure):
                group.cancel_scope.cancel()
        if without_sni is not None:
            without_sni = await self._confirm_refusal(target, request, with_sni, without_sni, made)
        return with_sni, without_sni, made.count

    async def _confirm_refusal(
        self,
        target: Target,
        request: bytes | None,
        with_sni: Probed,
        without_sni: Probed,
        made: _Attempts,
    ) -> Probed:
        """Retry the probe without SNI while its HTTP request stays refused where the one with
        SNI was not, within the endpoint's retries (a refusal counts only when every attempt
        agreed, like a failed handshake)."""
        attempts = without_sni.attempts
        while (
            http_refusal(with_sni.observation, without_sni.observation) is not None
            and attempts <= target.endpoint.retries
        ):
            attempts += 1
            made.count += 1
            observation = await self._probe_once(target, None, request)
            without_sni = Probed(observation, attempts)
        return without_sni

    def _request(self, endpoint: Endpoint) -> bytes | None:
        if not self._http or endpoint.http_path is None:
            return None
        return http.request(endpoint.identity, endpoint.port, endpoint.http_path, __version__)

    async def _probe(
        self, target: Target, server_name: str | None, request: bytes | None, made: _Attempts
    ) -> Probed:
        endpoint = target.endpoint
        attempts = 0
        while True:
            attempts += 1
            made.count += 1
            observation = await self._probe_once(target, server_name, request)
            if not isinstance(observation, Failure) or attempts > endpoint.retries:
                return Probed(observation, attempts)

    async def _probe_once(
        self, target: Target, server_name: str | None, request: bytes | None
    ) -> Observation:
        await self._addresses.acquire(target.address)
        try:
            return await self._prober(
                target.address, target.endpoint.port, server_name, target.endpoint.timeout, request
            )
        finally:
            self._addresses.release(target.address)


class _Slots:
    """Endpoints in flight, for the one task that starts them: taking a free slot does not yield
    to the event loop, only waiting for one does."""

    def __init__(self, total: int) -> None:
        self._free = total
        self._opened: anyio.Event | None = None

    async def take(self) -> None:
        while not self._free:
            self._opened = anyio.Event()
            await self._opened.wait()
        self._free -= 1

    def give(self) -> None:
        self._free += 1
        if self._opened is not None:
            self._opened.set()
            self._opened = None


@dataclass
class _Attempts:
    """Connections started for one endpoint, including those of a probe stopped midway."""

    count: int = 0


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
