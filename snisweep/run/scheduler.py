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

import ipaddress
import itertools
import math
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectSendStream

from snisweep import __version__
from snisweep.core.classify import classify, http_refusal
from snisweep.core.record import Record, build
from snisweep.core.trust import TrustChecker
from snisweep.errors import first_leaf
from snisweep.model import (
    Endpoint,
    Failure,
    FailureKind,
    Handshake,
    Observation,
    Probed,
    Target,
    Trust,
)
from snisweep.net import http
from snisweep.net.probe import Prober
from snisweep.net.proxy import unresolved_proxy
from snisweep.net.resolve import Resolver, SystemResolver

_YIELD_EVERY = 64  # endpoints started in a row before the scheduler lets others run
_MAX_DNS_THREADS = 256  # lookups in flight at once, whatever the concurrency
_NAMES_KEPT = 65_536  # answers kept for names that come back (each a few hundred bytes)

# A probe with SNI that failed before a TLS byte was sent tries the next address, as a
# client does; any later failure is the server's answer at that address.
_NEXT_ADDRESS = frozenset(
    {FailureKind.CONNECT_REFUSED, FailureKind.CONNECT_TIMEOUT, FailureKind.CONNECT_FAILED}
)


@dataclass(frozen=True, slots=True)
class Limits:
    concurrency: int = 100  # endpoints in flight
    per_host: int = 100  # simultaneous connections to one address (see the README)
    rate: float | None = None  # new connections per second, at most (--rate); None: no cap


@dataclass
class HeldBack:
    """How long connections waited for the per-address limit (``--per-host``): the summary
    names the option when this held the scan back noticeably."""

    per_address: int
    connections: int = 0  # connections that had to wait
    seconds: float = 0.0  # their waits, added up

    def add(self, waited: float) -> None:
        self.connections += 1
        self.seconds += waited


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
        self.held_back = HeldBack(per_address)

    async def acquire(self, address: str) -> None:
        held = self._held.get(address, 0)
        if held < self._per_address:
            self._held[address] = held + 1
            return
        turn = anyio.Event()
        self._waiting.setdefault(address, deque()).append(turn)
        waited_from = anyio.current_time()
        try:
            await turn.wait()  # release() hands its slot over before it sets the event
            self.held_back.add(anyio.current_time() - waited_from)
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
    """Runs endpoints through the prober and sends their records (one per endpoint, or one per
    address for an endpoint with ``all_addresses``)."""

    def __init__(
        self,
        prober: Prober,
        resolver: Resolver | None = None,
        limits: Limits = Limits(),
        *,
        shard: str | None = None,
        http: bool = True,
        trust: TrustChecker | None = None,
        expiring_within: int | None = None,
    ) -> None:
        self._prober = prober
        self._expiring_within = expiring_within
        self._pace = _Pace(limits.rate) if limits.rate is not None else None
        self._own_resolver = resolver is None
        if resolver is None:  # one thread per lookup the scan can have in flight
            resolver = SystemResolver(threads=max(4, min(limits.concurrency, _MAX_DNS_THREADS)))
        self._resolver = resolver
        self._names = _Names(resolver)
        self._limits = limits
        self._shard = shard  # the report's ``shard`` column
        self._http = http
        self._trust = trust
        self._addresses = _AddressLimiter(limits.per_host)

    @property
    def held_back(self) -> HeldBack:
        """How much the per-address limit delayed connections so far."""
        return self._addresses.held_back

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
        try:
            async with send, anyio.create_task_group() as group:
                for started in itertools.count(1):
                    if started % _YIELD_EVERY == 0:
                        # Free slots are taken without yielding: with a large --concurrency,
                        # the probes already started and a signal must still get their turn.
                        await anyio.lowlevel.checkpoint()
                    await slots.take()
                    try:
                        endpoint = next(pending)
                    except StopIteration:
                        break
                    except Exception as exc:  # raised below, once the started ones are done
                        failure = exc
                        break
                    group.start_soon(self._run_one, endpoint, send, slots)
        finally:
            if self._own_resolver and isinstance(self._resolver, SystemResolver):
                self._resolver.close()
        if failure is not None:
            raise failure

    async def _run_one(
        self, endpoint: Endpoint, send: MemoryObjectSendStream[Record], slots: _Slots
    ) -> None:
        try:
            for record in await self.scan(endpoint):
                await send.send(record)
        finally:
            slots.give()

    async def scan_endpoint(self, endpoint: Endpoint) -> Record:
        """The record for an endpoint scanned at one address (the first that accepts a
        connection). Never raises except for cancellation."""
        records = await self.scan(replace(endpoint, all_addresses=False))
        return records[0]

    async def scan(self, endpoint: Endpoint) -> tuple[Record, ...]:
        """The records for one endpoint: one, or one per address with ``all_addresses`` (one
        when its name does not resolve). Never raises except for cancellation."""
        scanned_at = datetime.now(UTC)
        started = time.monotonic()
        try:
            route = await self._route(endpoint)
            if isinstance(route, Failure):
                failed = Probed(route, 0)
                record = self._record(
                    endpoint, None, failed, None, attempts=0, started=started, scanned_at=scanned_at
                )
                return (record,)
            proxy_address, addresses = route
            if endpoint.all_addresses and len(addresses) > 1:
                return await self._each_address(
                    endpoint, proxy_address, addresses, started, scanned_at
                )
            return (
                await self._first_address(endpoint, proxy_address, addresses, started, scanned_at),
            )
        except Exception as exc:  # a bug for one endpoint must not stop the scan
            return (self._internal(endpoint, exc, started, scanned_at),)

    async def _each_address(
        self,
        endpoint: Endpoint,
        proxy_address: str | None,
        addresses: tuple[str | None, ...],
        started: float,
        scanned_at: datetime,
    ) -> tuple[Record, ...]:
        """A row per address, all at once; each row's time is the endpoint's, DNS included."""
        records: list[Record | None] = [None] * len(addresses)

        async def scan_one(index: int, address: str | None) -> None:
            try:
                records[index] = await self._first_address(
                    endpoint, proxy_address, (address,), started, scanned_at
                )
            except Exception as exc:  # this address's row says so; the others go on
                records[index] = self._internal(endpoint, exc, started, scanned_at, address)

        async with anyio.create_task_group() as group:
            for index, address in enumerate(addresses):
                group.start_soon(scan_one, index, address)
        return tuple(record for record in records if record is not None)

    async def _first_address(
        self,
        endpoint: Endpoint,
        proxy_address: str | None,
        addresses: tuple[str | None, ...],
        started: float,
        scanned_at: datetime,
    ) -> Record:
        """Both probes at the first address that accepts a TCP connection, in the resolver's
        order, as clients fall back from one address to the next (IPv6 to IPv4, say)."""
        attempts = 0
        failed: list[str] = []
        for position, address in enumerate(addresses):
            target = Target(endpoint, address, proxy_address)
            with_sni, without_sni, made = await self._observe(target)
            attempts += made
            observation = with_sni.observation
            last = position == len(addresses) - 1
            if not last and isinstance(observation, Failure) and observation.kind in _NEXT_ADDRESS:
                failed.append(f"{address} ({observation.code})")
                continue
            if failed and isinstance(observation, Failure):
                observation = Failure(
                    observation.kind,
                    f"{observation.message}; every other address failed too: {', '.join(failed)}",
                    observation.alert,
                )
                with_sni = Probed(observation, with_sni.attempts)
            try:
                return self._record(
                    endpoint,
                    address,
                    with_sni,
                    without_sni,
                    attempts=attempts,
                    started=started,
                    scanned_at=scanned_at,
                )
            except Exception as exc:  # a bug for this endpoint: its row says so, at its address
                return self._internal(endpoint, exc, started, scanned_at, address)
        raise AssertionError("an endpoint has at least one address")  # pragma: no cover

    def _record(
        self,
        endpoint: Endpoint,
        address: str | None,
        with_sni: Probed,
        without_sni: Probed | None,
        *,
        attempts: int,
        started: float,
        scanned_at: datetime,
    ) -> Record:
        observed = without_sni.observation if without_sni else None
        classification = classify(endpoint, with_sni.observation, observed)
        trust: Trust | None = None
        if self._trust is not None and isinstance(with_sni.observation, Handshake):
            chain = with_sni.observation.chain
            if chain is not None:
                trust = self._trust.check(chain, endpoint.identity, classification.sni_covers)
        return build(
            endpoint,
            address,
            classification,
            with_sni.observation,
            observed,
            attempts=attempts,
            elapsed_ms=_elapsed_ms(started),
            scanned_at=scanned_at,
            shard=self._shard,
            trust=trust,
            expiring_within=self._expiring_within,
        )

    def _internal(
        self,
        endpoint: Endpoint,
        exc: Exception,
        started: float,
        scanned_at: datetime,
        address: str | None = None,
    ) -> Record:
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

    async def _route(
        self, endpoint: Endpoint
    ) -> tuple[str | None, tuple[str | None, ...]] | Failure:
        """The proxy's address (None: direct) and the addresses to dial, in order (None: the
        proxy resolves the name, as clients behind a proxy do), or why there are none."""
        proxy_address: str | None = None
        if endpoint.proxy is not None:
            found = await self._lookup(endpoint.proxy.host)
            if isinstance(found, Failure):
                return unresolved_proxy(endpoint.proxy, found.message)
            proxy_address = found[0]
            if endpoint.address is None and endpoint.sni is not None and not endpoint.all_addresses:
                return proxy_address, (None,)
        if endpoint.address is not None:
            return proxy_address, (endpoint.address,)
        found = await self._lookup(endpoint.host)
        if isinstance(found, Failure):
            return found
        return proxy_address, found

    async def _lookup(self, host: str) -> tuple[str, ...] | Failure:
        if _is_ip(host):  # an IP literal needs no resolution
            return (host,)
        return await self._names.addresses(host)

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
        destination = target.destination
        if self._pace is not None:
            await self._pace.wait()
        await self._addresses.acquire(destination)
        try:
            return await self._prober(target, server_name, request)
        finally:
            self._addresses.release(destination)


class _Pace:
    """At most ``rate`` new connections a second (``--rate``), evenly spaced: each connection
    takes the next free moment, ``1 / rate`` after the one before."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = -math.inf

    async def wait(self) -> None:
        now = anyio.current_time()
        moment = max(now, self._next)
        self._next = moment + self._interval
        if moment > now:
            await anyio.sleep(moment - now)


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


class _Names:
    """One lookup per name per scan: the endpoints of a name share its answer (the first asks,
    the others wait for it). Answers are kept for the ``_NAMES_KEPT`` names used last, so that
    memory does not grow with the list; a name that comes back after that is asked again."""

    def __init__(self, resolver: Resolver) -> None:
        self._resolver = resolver
        self._answers: OrderedDict[str, _Answer] = OrderedDict()

    async def addresses(self, host: str) -> tuple[str, ...] | Failure:
        while True:
            answer = self._answers.get(host)
            if answer is None:
                return await self._ask(host)
            self._answers.move_to_end(host)
            await answer.ready.wait()
            if answer.value is not None:
                return answer.value
            # The one asking was cancelled before the answer came: ask again.

    async def _ask(self, host: str) -> tuple[str, ...] | Failure:
        answer = self._answers[host] = _Answer(anyio.Event())
        if len(self._answers) > _NAMES_KEPT:
            self._answers.popitem(last=False)
        try:
            answer.value = await self._resolver(host)
            return answer.value
        finally:
            if answer.value is None and self._answers.get(host) is answer:
                del self._answers[host]
            answer.ready.set()


@dataclass
class _Answer:
    ready: anyio.Event
    value: tuple[str, ...] | Failure | None = None


def _is_ip(host: str) -> bool:
    # An IP literal ends in a digit or holds a colon; names almost always end in a letter
    # (the lists refuse an all-digit last label), so most are told apart without a parse that
    # raises. This runs for every endpoint.
    if not (host[-1:].isdigit() or ":" in host):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass
class _Attempts:
    """Connections started for one endpoint, including those of a probe stopped midway."""

    count: int = 0


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
