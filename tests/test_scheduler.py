"""snisweep.run.scheduler with the scripted prober and resolver of snisweep.testing: no sockets.

The tests run on trio under ``trio.testing.MockClock(autojump_threshold=0)``, as trio's own
``test_highlevel_open_tcp_stream.py`` does: every scripted delay is virtual, the clock jumps
straight to the next deadline, and times are asserted exactly ("20 endpoints, 5 at a time, 1 s
each: the scan ends at 4.0 s"). The scheduler is anyio code and never learns which loop runs it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import anyio
import pytest
import trio
import trio.testing

from snisweep import __version__
from snisweep.core.record import Record
from snisweep.model import (
    Certificate,
    Endpoint,
    Failure,
    FailureKind,
    Handshake,
    HttpAnswer,
    HttpOutcome,
    Observation,
    Proxy,
    Reason,
    Verdict,
    WarningCode,
)
from snisweep.net import http
from snisweep.run.scheduler import Limits, Scanner, _AddressLimiter
from snisweep.testing import ScriptedProber, ScriptedResolver, fake_address, fake_resolve

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.fixture
def anyio_backend(clock: trio.testing.MockClock) -> tuple[str, dict[str, object]]:
    return ("trio", {"clock": clock})


GOOD = Handshake("TLSv1.3", "TLS_AES_128_GCM_SHA256", Certificate("aa" * 32, dns_names=("*.t",)))
OTHER = Handshake("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", Certificate("bb" * 32))
RESET = Failure(FailureKind.RESET, "the connection was reset")


async def run(scanner: Scanner, endpoints: list[Endpoint] | Iterator[Endpoint]) -> list[Record]:
    return [record for _, record in await run_timed(scanner, endpoints)]


async def run_timed(
    scanner: Scanner,
    endpoints: list[Endpoint] | Iterator[Endpoint],
    into: list[tuple[float, Record]] | None = None,
) -> list[tuple[float, Record]]:
    """Every record with the (virtual) time it arrived, appended to ``into`` as they come."""
    timed: list[tuple[float, Record]] = [] if into is None else into
    send, receive = anyio.create_memory_object_stream[Record](10)
    async with anyio.create_task_group() as group:
        group.start_soon(scanner.run, endpoints, send)
        async with receive:
            async for record in receive:
                timed.append((anyio.current_time(), record))
    return timed


def named(host: str, **kw: object) -> Endpoint:
    return Endpoint(host=host, port=443, sni=host, **kw)  # type: ignore[arg-type]


async def test_one_record_per_endpoint_with_verdicts() -> None:
    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        return GOOD if name is not None else RESET

    scanner = Scanner(ScriptedProber(script), fake_resolve)
    endpoints = [named(f"h{i}.t") for i in range(20)] + [named("gone.invalid")]
    records = await run(scanner, endpoints)
    assert len(records) == 21
    by_host = {r.host: r for r in records}
    assert by_host["h3.t"].verdict is Verdict.REQUIRED
    assert by_host["h3.t"].reason is Reason.NOSNI_RESET
    assert by_host["gone.invalid"].reason is Reason.DNS_FAILURE
    assert by_host["gone.invalid"].address is None
    assert by_host["gone.invalid"].attempts == 0


async def test_retries_confirm_a_failure_and_count_attempts() -> None:
    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        return GOOD if name is not None else RESET

    prober = ScriptedProber(script)
    records = await run(Scanner(prober, fake_resolve), [named("a.t", retries=2)])
    assert records[0].verdict is Verdict.REQUIRED
    assert records[0].attempts == 1 + 3
    assert sum(prober.calls.values()) == 4


async def test_a_retry_that_succeeds_wins() -> None:
    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        return GOOD if name is not None or attempt > 1 else RESET

    records = await run(Scanner(ScriptedProber(script), fake_resolve), [named("a.t", retries=1)])
    assert records[0].verdict is Verdict.OPTIONAL
    assert records[0].attempts == 3


async def test_no_retries_means_one_attempt() -> None:
    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        return GOOD if name is not None or attempt > 1 else RESET

    records = await run(Scanner(ScriptedProber(script), fake_resolve), [named("a.t", retries=0)])
    assert records[0].verdict is Verdict.REQUIRED
    assert records[0].attempts == 2


async def test_both_probes_dial_the_same_pinned_address() -> None:
    prober = ScriptedProber(lambda a, p, n, i: GOOD)
    endpoint = named("b.t", address="198.51.100.7")
    records = await run(Scanner(prober, fake_resolve), [endpoint])
    assert set(prober.calls) == {("198.51.100.7", "b.t"), ("198.51.100.7", None)}
    assert records[0].address == "198.51.100.7"


async def test_ip_literal_gets_one_probe_and_no_resolution() -> None:
    prober = ScriptedProber(lambda a, p, n, i: OTHER)

    async def no_dns(host: str) -> tuple[str, ...] | Failure:
        raise AssertionError("an IP literal must not be resolved")

    records = await run(Scanner(prober, no_dns), [Endpoint(host="192.0.2.1", port=8443)])
    assert prober.calls == Counter({("192.0.2.1", None): 1})
    assert (records[0].verdict, records[0].reason) == (Verdict.OPTIONAL, Reason.IP_LITERAL)
    assert records[0].sni is None


async def test_a_bug_in_one_probe_becomes_its_row() -> None:
    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        if address == "203.0.113.66":
            raise RuntimeError("boom")
        return GOOD

    endpoints = [named("ok1.t"), named("bad.t", address="203.0.113.66"), named("ok2.t")]
    records = await run(Scanner(ScriptedProber(script), fake_resolve), endpoints)
    assert len(records) == 3
    bad = next(r for r in records if r.host == "bad.t")
    assert (bad.verdict, bad.reason) == (Verdict.ERROR, Reason.INTERNAL_ERROR)
    assert bad.sni_error is not None
    assert "boom" in bad.sni_error


async def test_runs_on_the_virtual_clock(clock: trio.testing.MockClock) -> None:
    assert trio.lowlevel.current_clock() is clock
    await anyio.sleep(3600)
    assert anyio.current_time() == 3600.0


def spread(count: int, **kw: object) -> list[Endpoint]:
    """``count`` endpoints, each pinned to an address of its own."""
    return [named(f"e{i}.t", address=f"198.51.100.{i + 1}", **kw) for i in range(count)]


async def test_concurrency_bounds_the_scan_time() -> None:
    # 20 endpoints, 5 at a time, both probes of each at once and 1 s long: 4 waves of 1 s.
    prober = ScriptedProber(GOOD, delay=1.0)
    timed = await run_timed(Scanner(prober, fake_resolve, Limits(concurrency=5)), spread(20))
    assert anyio.current_time() == 4.0
    assert sorted(at for at, _ in timed) == [1.0] * 5 + [2.0] * 5 + [3.0] * 5 + [4.0] * 5
    assert sorted(prober.started()) == [0.0] * 10 + [1.0] * 10 + [2.0] * 10 + [3.0] * 10
    assert prober.max_in_flight == 10
    assert len({record.host for _, record in timed}) == 20


@pytest.mark.parametrize(("concurrency", "ends_at"), [(1, 20.0), (3, 7.0), (20, 1.0), (100, 1.0)])
async def test_scan_time_is_ceil_of_endpoints_over_concurrency(
    concurrency: int, ends_at: float
) -> None:
    prober = ScriptedProber(GOOD, delay=1.0)
    await run(Scanner(prober, fake_resolve, Limits(concurrency=concurrency)), spread(20))
    assert anyio.current_time() == ends_at
    assert prober.max_in_flight == 2 * min(concurrency, 20)


async def test_per_host_limit_queues_connections_to_one_address() -> None:
    # Three endpoints on one address make six connections there, two at a time: 3 s. The
    # endpoints elsewhere are not held up by that queue.
    prober = ScriptedProber(GOOD, delay=1.0)
    shared = [named(f"s{i}.t", address="192.0.2.200") for i in range(3)]
    elsewhere = [named(f"u{i}.t", address=f"192.0.2.{i + 1}") for i in range(2)]
    scanner = Scanner(prober, fake_resolve, Limits(concurrency=10, per_host=2))
    timed = await run_timed(scanner, shared + elsewhere)
    done = {record.host: at for at, record in timed}
    assert anyio.current_time() == 3.0
    assert (done["u0.t"], done["u1.t"]) == (1.0, 1.0)
    assert max(done[f"s{i}.t"] for i in range(3)) == 3.0
    on_shared = sorted(c.started for c in prober.log if c.address == "192.0.2.200")
    assert on_shared == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]
    assert prober.max_per_address == {"192.0.2.200": 2, "192.0.2.1": 2, "192.0.2.2": 2}


async def test_per_host_limit_counts_both_probes_of_one_endpoint() -> None:
    # per_host=1: the probe without SNI waits for the one with SNI on the same address.
    prober = ScriptedProber(GOOD, delay=1.0)
    (record,) = await run(Scanner(prober, fake_resolve, Limits(per_host=1)), spread(1))
    assert anyio.current_time() == 2.0
    assert sorted(prober.started()) == [0.0, 1.0]
    assert record.verdict is Verdict.OPTIONAL


async def test_endpoints_are_pulled_lazily_as_slots_free_up() -> None:
    pulls: list[float] = []
    exhausted: list[float] = []

    def endpoints() -> Iterator[Endpoint]:
        for endpoint in spread(12):
            pulls.append(anyio.current_time())
            yield endpoint
        exhausted.append(anyio.current_time())

    prober = ScriptedProber(GOOD, delay=1.0)
    await run(Scanner(prober, fake_resolve, Limits(concurrency=5)), endpoints())
    # One endpoint is taken when a slot is free, never ahead: memory does not grow with the list.
    assert pulls == [0.0] * 5 + [1.0] * 5 + [2.0] * 2
    assert exhausted == [2.0]
    assert anyio.current_time() == 3.0


async def test_records_arrive_as_endpoints_finish() -> None:
    seconds = {"198.51.100.1": 3.0, "198.51.100.2": 1.0, "198.51.100.3": 2.0}
    prober = ScriptedProber(GOOD, delay=lambda address, name, attempt: seconds[address])
    timed = await run_timed(Scanner(prober, fake_resolve), spread(3))
    assert [(at, record.host) for at, record in timed] == [
        (1.0, "e1.t"),
        (2.0, "e2.t"),
        (3.0, "e0.t"),
    ]


async def test_cancelling_the_scan_leaves_nothing_running() -> None:
    # Cancelled at 2.5 s: the two waves that ended (1 s, 2 s) have their rows, the third was
    # stopped midway, no probe is left running and no per-address slot is left taken.
    prober = ScriptedProber(GOOD, delay=1.0)
    scanner = Scanner(prober, fake_resolve, Limits(concurrency=5))
    pulled: list[Endpoint] = []

    def endpoints() -> Iterator[Endpoint]:
        for endpoint in spread(20):
            pulled.append(endpoint)
            yield endpoint

    timed: list[tuple[float, Record]] = []
    with anyio.move_on_after(2.5):
        await run_timed(scanner, endpoints(), timed)
    assert anyio.current_time() == 2.5
    assert sorted(at for at, _ in timed) == [1.0] * 5 + [2.0] * 5
    assert len(pulled) == 15
    assert prober.in_flight == 0
    assert [c.ended for c in prober.log if c.cancelled] == [2.5] * 10
    assert all(c.ended is not None for c in prober.log)
    assert len(prober.log) == 30
    assert scanner._addresses._held == {}
    assert scanner._addresses._waiting == {}


# --- retries on the clock ----------------------------------------------------------------------


async def test_retries_run_one_after_another() -> None:
    # Without SNI every attempt is reset after 0.5 s: three attempts (retries=2) end at 1.5 s,
    # while the probe with SNI answered at 1.0 s.
    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        return GOOD if name is not None else RESET

    def delay(address: str, name: str | None, attempt: int) -> float:
        return 1.0 if name is not None else 0.5

    prober = ScriptedProber(script, delay)
    (record,) = await run(Scanner(prober, fake_resolve), spread(1, retries=2))
    assert anyio.current_time() == 1.5
    assert prober.started(sni=False) == [0.0, 0.5, 1.0]
    assert prober.started(sni=True) == [0.0]
    assert (record.verdict, record.reason, record.attempts) == (
        Verdict.REQUIRED,
        Reason.NOSNI_RESET,
        4,
    )


async def test_a_retry_that_succeeds_ends_the_retries() -> None:
    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        return RESET if name is None and attempt == 1 else GOOD

    prober = ScriptedProber(script, delay=0.5)
    (record,) = await run(Scanner(prober, fake_resolve), spread(1, retries=5))
    assert anyio.current_time() == 1.0
    assert prober.started(sni=False) == [0.0, 0.5]
    assert (record.verdict, record.attempts) == (Verdict.OPTIONAL, 3)


async def test_a_probe_never_outlasts_its_timeout() -> None:
    # A silent server without SNI: each attempt ends at the endpoint's timeout (5 s), and the
    # retry makes it 10 s.
    def delay(address: str, name: str | None, attempt: int) -> float:
        return 1.0 if name is not None else 3600.0

    prober = ScriptedProber(GOOD, delay)
    (record,) = await run(Scanner(prober, fake_resolve), spread(1, timeout=5.0, retries=1))
    assert anyio.current_time() == 10.0
    assert prober.started(sni=False) == [0.0, 5.0]
    assert (record.verdict, record.reason) == (Verdict.REQUIRED, Reason.NOSNI_TIMEOUT)
    assert record.nosni_error == "handshake-timeout: no handshake within 5 s"


# --- resolution on the clock -------------------------------------------------------------------


async def test_resolution_comes_before_both_probes() -> None:
    resolver = ScriptedResolver({"slow.t": "203.0.113.5"}, delay=0.25)
    prober = ScriptedProber(GOOD, delay=1.0)
    (record,) = await run(Scanner(prober, resolver), [named("slow.t")])
    assert anyio.current_time() == 1.25
    assert [(lookup.host, lookup.started, lookup.ended) for lookup in resolver.log] == [
        ("slow.t", 0.0, 0.25)
    ]
    assert prober.started() == [0.25, 0.25]
    assert {c.address for c in prober.log} == {"203.0.113.5"}
    assert record.address == "203.0.113.5"


async def test_resolution_holds_its_endpoints_slot() -> None:
    # 10 endpoints, 5 at a time, 1 s of DNS and 1 s of probes each: two waves of 2 s.
    resolver = ScriptedResolver(delay=1.0)
    prober = ScriptedProber(GOOD, delay=1.0)
    endpoints = [named(f"r{i}.t") for i in range(10)]
    timed = await run_timed(Scanner(prober, resolver, Limits(concurrency=5)), endpoints)
    assert anyio.current_time() == 4.0
    assert sorted(lookup.started for lookup in resolver.log) == [0.0] * 5 + [2.0] * 5
    assert sorted(at for at, _ in timed) == [2.0] * 5 + [4.0] * 5
    assert {record.address for _, record in timed} == {fake_address(e.host) for e in endpoints}


async def test_a_pinned_address_or_an_ip_literal_is_not_resolved() -> None:
    resolver = ScriptedResolver(delay=10.0)
    prober = ScriptedProber(GOOD, delay=1.0)
    endpoints = [named("pinned.t", address="198.51.100.9"), Endpoint(host="192.0.2.9", port=443)]
    await run(Scanner(prober, resolver), endpoints)
    assert anyio.current_time() == 1.0
    assert resolver.log == []


async def test_a_slow_resolver_gives_a_dns_failure_at_the_timeout() -> None:
    # The DNS timeout is the resolver's own (--dns-timeout), not the probe's.
    resolver = ScriptedResolver(delay=lambda host: 60.0 if host == "slow.t" else 0.0, timeout=3.0)
    prober = ScriptedProber(GOOD, delay=1.0)
    timed = await run_timed(
        Scanner(prober, resolver), [named("slow.t", timeout=9.0), named("fast.t", timeout=9.0)]
    )
    done = {record.host: (at, record) for at, record in timed}
    at, slow = done["slow.t"]
    assert at == 3.0
    assert (slow.verdict, slow.reason, slow.attempts) == (Verdict.ERROR, Reason.DNS_FAILURE, 0)
    assert slow.sni_error == "dns-failure: no answer for slow.t within 3 s"
    assert slow.address is None
    assert done["fast.t"][0] == 1.0
    assert {c.address for c in prober.log} == {fake_address("fast.t")}


async def test_scripted_answers_include_failures() -> None:
    gone = Failure(FailureKind.DNS, "gone.t does not resolve (Name or service not known)")
    resolver = ScriptedResolver({"gone.t": gone})
    prober = ScriptedProber(GOOD)
    (record,) = await run(Scanner(prober, resolver), [named("gone.t")])
    assert (record.reason, record.sni_error) == (Reason.DNS_FAILURE, f"dns-failure: {gone.message}")
    assert prober.log == []


async def test_duplicate_free_output_for_many_endpoints() -> None:
    prober = ScriptedProber(lambda a, p, n, i: GOOD)
    endpoints = [named(f"m{i}.t") for i in range(500)]
    records = await run(Scanner(prober, fake_resolve, Limits(concurrency=50)), endpoints)
    assert sorted(r.host for r in records) == sorted(e.host for e in endpoints)


async def test_a_bug_while_building_the_record_becomes_its_row() -> None:
    # A certificate whose facts break record building (a naive datetime cannot be compared
    # with an aware one) stands in for any bug after the probes.
    from datetime import datetime

    broken = Handshake("TLSv1.3", "X", Certificate("ff" * 32, not_after=datetime(2030, 1, 1)))

    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        return broken if address == "203.0.113.9" else GOOD

    endpoints = [named("fine.t"), named("broken.t", address="203.0.113.9")]
    records = await run(Scanner(ScriptedProber(script), fake_resolve), endpoints)
    assert len(records) == 2
    bad = next(r for r in records if r.host == "broken.t")
    assert bad.reason is Reason.INTERNAL_ERROR
    assert bad.address == "203.0.113.9"


async def test_probe_without_sni_stops_when_the_probe_with_sni_failed() -> None:
    refused = Failure(FailureKind.CONNECT_REFUSED, "connection refused")

    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        return refused if name is not None else GOOD

    def delay(address: str, name: str | None, attempt: int) -> float:
        return 0.5 if name is not None else 4.0

    # With SNI: refused at 0.5 s, and again at 1.0 s (retries=1). The probe without SNI, still
    # running then, is stopped at 1.0 s instead of ending at 4.0 s.
    prober = ScriptedProber(script, delay)
    (record,) = await run(Scanner(prober, fake_resolve), [named("dead.t", retries=1)])
    assert anyio.current_time() == 1.0
    assert prober.started(sni=True) == [0.0, 0.5]
    (without_sni,) = (c for c in prober.log if c.server_name is None)
    assert (without_sni.started, without_sni.ended, without_sni.cancelled) == (0.0, 1.0, True)
    assert (record.verdict, record.reason) == (Verdict.ERROR, Reason.CONNECT_REFUSED)
    assert record.nosni_error is None
    assert record.nosni_cert_sha256 is None
    assert record.attempts == sum(prober.calls.values()) == 3


async def test_a_failing_list_lets_started_endpoints_finish_first() -> None:
    def endpoints() -> Iterator[Endpoint]:
        yield named("first.t")
        yield named("second.t")
        raise RuntimeError("the list changed")

    prober = ScriptedProber(GOOD, delay=1.0)
    send, receive = anyio.create_memory_object_stream[Record](10)
    records: list[Record] = []
    failure: tuple[float, Exception] | None = None

    async def scan() -> None:
        nonlocal failure
        try:
            await Scanner(prober, fake_resolve).run(endpoints(), send)
        except RuntimeError as exc:
            failure = (anyio.current_time(), exc)

    async with anyio.create_task_group() as group:
        group.start_soon(scan)
        async with receive:
            async for record in receive:
                records.append(record)
    assert failure is not None
    # Raised once the two endpoints started at 0 s have ended, at 1 s.
    assert (failure[0], str(failure[1])) == (1.0, "the list changed")
    assert sorted(r.host for r in records) == ["first.t", "second.t"]


async def test_the_address_limiter_loses_no_slot_to_cancelled_waiters() -> None:
    limiter = _AddressLimiter(1)
    await limiter.acquire("192.0.2.1")  # held
    order: list[str] = []

    async def wait(name: str, scope: anyio.CancelScope) -> None:
        with scope:
            await limiter.acquire("192.0.2.1")
            order.append(name)
            limiter.release("192.0.2.1")

    first, second, third = anyio.CancelScope(), anyio.CancelScope(), anyio.CancelScope()
    async with anyio.create_task_group() as group:
        group.start_soon(wait, "first", first)
        group.start_soon(wait, "second", second)
        group.start_soon(wait, "third", third)
        await anyio.wait_all_tasks_blocked()
        second.cancel()  # cancelled while waiting: leaves the line
        await anyio.wait_all_tasks_blocked()
        limiter.release("192.0.2.1")  # handed to "first"...
        first.cancel()  # ...cancelled around the hand-over: either way "third" gets a turn
    assert "second" not in order
    assert order[-1] == "third"
    assert limiter._held == {}
    assert limiter._waiting == {}


# --- the HTTP check -----------------------------------------------------------------------


def answered(status: int, base: Handshake = GOOD) -> Handshake:
    return base.with_http(HttpAnswer(HttpOutcome.STATUS, status))


async def test_each_probe_sends_the_endpoints_request() -> None:
    prober = ScriptedProber(lambda a, p, n, i: answered(200))
    endpoint = Endpoint(host="a.t", port=8443, sni="a.t", http_path="/ws?wsdl")
    (record,) = await run(Scanner(prober, fake_resolve), [endpoint])
    assert prober.requests == [http.request("a.t", 8443, "/ws?wsdl", __version__)] * 2
    assert (record.sni_http_status, record.nosni_http_status) == (200, 200)
    assert record.verdict is Verdict.OPTIONAL


@pytest.mark.parametrize(
    ("endpoint", "http"),
    [
        (Endpoint(host="a.t", port=443, sni="a.t", http_path=None), True),  # protocol: tls
        (Endpoint(host="a.t", port=443, sni="a.t"), False),  # --no-http
    ],
)
async def test_no_request_for_plain_tls_or_without_the_check(
    endpoint: Endpoint, http: bool
) -> None:
    prober = ScriptedProber(lambda a, p, n, i: GOOD)
    (record,) = await run(Scanner(prober, fake_resolve, http=http), [endpoint])
    assert prober.requests == [None, None]
    assert (record.sni_http_status, record.nosni_http_status) == (None, None)


async def test_a_refusal_without_sni_is_confirmed_by_the_retries() -> None:
    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        return answered(200) if name else answered(403)

    def delay(address: str, name: str | None, attempt: int) -> float:
        return 2.0 if name is not None else 1.0

    # The confirmation starts once the probe with SNI has its answer (2 s: a refusal counts
    # only where the request with SNI was not refused), then runs the retries one by one.
    prober = ScriptedProber(script, delay)
    (record,) = await run(Scanner(prober, fake_resolve), [named("a.t", retries=2)])
    assert anyio.current_time() == 4.0
    assert prober.started(sni=False) == [0.0, 2.0, 3.0]
    assert record.verdict is Verdict.REQUIRED
    assert record.reason is Reason.NOSNI_HTTP_REFUSED
    address = fake_address("a.t")
    assert prober.calls == Counter({(address, "a.t"): 1, (address, None): 3})
    assert record.attempts == 4
    assert (record.sni_http_status, record.nosni_http_status) == (200, 403)


async def test_a_refusal_that_a_retry_contradicts_does_not_count() -> None:
    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        if name is None and attempt == 1:
            return answered(421)
        return answered(200)

    prober = ScriptedProber(script, delay=1.0)
    (record,) = await run(Scanner(prober, fake_resolve), [named("a.t", retries=3)])
    assert anyio.current_time() == 2.0
    assert prober.started(sni=False) == [0.0, 1.0]
    assert record.verdict is Verdict.OPTIONAL
    assert record.reason is Reason.SAME_CERTIFICATE
    assert record.nosni_http_status == 200
    assert record.attempts == 3


async def test_a_refusal_with_sni_too_is_not_retried() -> None:
    prober = ScriptedProber(answered(403), delay=1.0)
    (record,) = await run(Scanner(prober, fake_resolve), [named("a.t", retries=3)])
    assert anyio.current_time() == 1.0
    assert record.verdict is Verdict.OPTIONAL
    assert sum(prober.calls.values()) == 2


async def test_warnings_reach_the_record() -> None:
    alerting = Handshake(
        "TLSv1.2", "ECDHE", GOOD.certificate, warning_alerts=("unrecognized_name",)
    )
    prober = ScriptedProber(lambda a, p, n, i: alerting if n else GOOD)
    (record,) = await run(Scanner(prober, fake_resolve), [named("a.t")])
    # GOOD's certificate is for *.t, which "a.t" is not under: that is a warning too.
    assert record.warnings == (WarningCode.SNI_WARNING_ALERT, WarningCode.SNI_CERT_NOT_COVERING)


# --- one lookup per name, every address ---------------------------------------------------------


async def test_endpoints_of_one_name_share_one_lookup() -> None:
    # Three ports of one name at once, and one later: the first asks, the others wait for its
    # answer (0.5 s), and the last finds it kept.
    resolver = ScriptedResolver({"shared.t": "203.0.113.7"}, delay=0.5)
    prober = ScriptedProber(GOOD, delay=1.0)
    endpoints = [Endpoint(host="shared.t", port=p, sni="shared.t") for p in (443, 8443, 9443)]
    endpoints.append(Endpoint(host="shared.t", port=10443, sni="shared.t"))
    timed = await run_timed(
        Scanner(prober, resolver, Limits(concurrency=3, per_host=10)), endpoints
    )
    assert [lookup.host for lookup in resolver.log] == ["shared.t"]
    assert sorted(at for at, _ in timed) == [1.5, 1.5, 1.5, 2.5]
    assert {record.address for _, record in timed} == {"203.0.113.7"}


async def test_a_failed_lookup_is_shared_too() -> None:
    gone = Failure(FailureKind.DNS, "gone.t does not resolve")
    resolver = ScriptedResolver({"gone.t": gone}, delay=0.5)
    prober = ScriptedProber(GOOD)
    endpoints = [Endpoint(host="gone.t", port=p, sni="gone.t") for p in (443, 8443)]
    records = await run(Scanner(prober, resolver), endpoints)
    assert len(resolver.log) == 1
    assert [r.reason for r in records] == [Reason.DNS_FAILURE] * 2


REFUSED = Failure(FailureKind.CONNECT_REFUSED, "connection refused")


async def test_the_first_address_that_accepts_a_connection_is_used() -> None:
    # ::1 refuses (nothing listens there), 127.0.0.1 serves: clients fall back, so does the scan.
    resolver = ScriptedResolver({"dual.t": ("::1", "127.0.0.1")})
    prober = ScriptedProber(lambda a, p, n, i: REFUSED if a == "::1" else GOOD)
    (record,) = await run(Scanner(prober, resolver), [named("dual.t", retries=0)])
    assert (record.verdict, record.reason, record.address) == (
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
        "127.0.0.1",
    )
    assert record.attempts == 4  # two connections refused at ::1, two handshakes at 127.0.0.1
    assert {(c.address, c.server_name) for c in prober.log if not c.cancelled} >= {
        ("::1", "dual.t"),
        ("127.0.0.1", "dual.t"),
        ("127.0.0.1", None),
    }


async def test_every_address_failing_names_them_all() -> None:
    resolver = ScriptedResolver({"dead.t": ("::1", "127.0.0.1")})
    prober = ScriptedProber(REFUSED)
    (record,) = await run(Scanner(prober, resolver), [named("dead.t", retries=0)])
    assert (record.verdict, record.reason, record.address) == (
        Verdict.ERROR,
        Reason.CONNECT_REFUSED,
        "127.0.0.1",
    )
    assert record.sni_error is not None
    assert record.sni_error.endswith("every other address failed too: ::1 (connect-refused)")


async def test_a_server_failure_is_not_a_reason_to_try_the_next_address() -> None:
    # A fatal alert is the server's answer at that address: clients do not fall back on it.
    alert = Failure(FailureKind.ALERT, "fatal alert handshake_failure", alert="handshake_failure")
    resolver = ScriptedResolver({"alerting.t": ("192.0.2.1", "192.0.2.2")})
    prober = ScriptedProber(lambda a, p, n, i: alert if a == "192.0.2.1" else GOOD)
    (record,) = await run(Scanner(prober, resolver), [named("alerting.t", retries=0)])
    assert (record.reason, record.address) == (Reason.TLS_ALERT, "192.0.2.1")
    assert {c.address for c in prober.log} == {"192.0.2.1"}


async def test_all_addresses_gives_one_row_per_address() -> None:
    # A pool whose members differ: one needs SNI, the other does not.
    resolver = ScriptedResolver({"pool.t": ("192.0.2.1", "192.0.2.2", "2001:db8::1")})

    def answer(address: str, port: int, name: str | None, attempt: int) -> Observation:
        if address == "192.0.2.2" and name is None:
            return RESET
        return GOOD

    prober = ScriptedProber(answer, delay=1.0)
    records = await run(Scanner(prober, resolver), [named("pool.t", all_addresses=True)])
    assert anyio.current_time() == 2.0  # every address at once; the reset is retried once
    by_address = {r.address: (r.verdict, r.reason) for r in records}
    assert by_address == {
        "192.0.2.1": (Verdict.OPTIONAL, Reason.SAME_CERTIFICATE),
        "192.0.2.2": (Verdict.REQUIRED, Reason.NOSNI_RESET),
        "2001:db8::1": (Verdict.OPTIONAL, Reason.SAME_CERTIFICATE),
    }
    assert [r.address for r in records] == ["192.0.2.1", "192.0.2.2", "2001:db8::1"]


async def test_all_addresses_of_a_name_that_does_not_resolve_is_one_row() -> None:
    records = await run(
        Scanner(ScriptedProber(GOOD), fake_resolve), [named("x.invalid", all_addresses=True)]
    )
    assert [(r.reason, r.address) for r in records] == [(Reason.DNS_FAILURE, None)]


async def test_all_addresses_with_a_pinned_address_is_one_row() -> None:
    records = await run(
        Scanner(ScriptedProber(GOOD), fake_resolve),
        [named("pinned.t", address="198.51.100.1", all_addresses=True)],
    )
    assert [r.address for r in records] == ["198.51.100.1"]


# --- through a proxy -----------------------------------------------------------------------------


async def test_through_a_proxy_the_proxy_resolves_the_name() -> None:
    proxy = Proxy("proxy.t", 3128)
    resolver = ScriptedResolver({"proxy.t": "10.0.0.8"})
    prober = ScriptedProber(GOOD)
    (record,) = await run(Scanner(prober, resolver), [named("far.t", proxy=proxy)])
    assert [lookup.host for lookup in resolver.log] == ["proxy.t"]  # far.t is the proxy's job
    assert {c.address for c in prober.log} == {"far.t"}
    assert (record.address, record.proxy, record.verdict) == (
        None,
        "proxy.t:3128",
        Verdict.OPTIONAL,
    )


async def test_a_proxy_whose_name_does_not_resolve_is_a_proxy_failure() -> None:
    proxy = Proxy("proxy.invalid", 3128, authorization="Basic c2VjcmV0OnNlY3JldA==")
    prober = ScriptedProber(GOOD)
    (record,) = await run(Scanner(prober, fake_resolve), [named("far.t", proxy=proxy)])
    assert (record.verdict, record.reason) == (Verdict.ERROR, Reason.PROXY_UNREACHABLE)
    assert prober.log == []
    assert "c2VjcmV0" not in repr(record)


# --- the per-address limit ----------------------------------------------------------------------


async def test_the_time_held_back_by_the_per_address_limit_is_counted() -> None:
    # 4 endpoints on one address, 2 probes each, 1 s per probe, 2 connections at a time:
    # 8 connections in 4 waves; 6 of them waited 1, 1, 2, 2, 3, 3 s.
    resolver = ScriptedResolver(delay=0.0)
    prober = ScriptedProber(GOOD, delay=1.0)
    endpoints = [named(f"n{i}.t", address="192.0.2.50") for i in range(4)]
    scanner = Scanner(prober, resolver, Limits(concurrency=10, per_host=2))
    await run(scanner, endpoints)
    assert anyio.current_time() == 4.0
    assert (scanner.held_back.connections, scanner.held_back.seconds) == (6, 12.0)


async def test_the_rate_spaces_new_connections_across_the_scan() -> None:
    # --rate 4: at most 4 new connections a second, whatever the concurrency and per-host
    # limits allow: 3 endpoints (6 probes) start at 0, 0.25, 0.5, ... s.
    prober = ScriptedProber(GOOD, delay=0.1)
    endpoints = [named(f"r{i}.t") for i in range(3)]
    await run(Scanner(prober, fake_resolve, Limits(concurrency=10, rate=4.0)), endpoints)
    assert sorted(prober.started()) == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]


async def test_without_a_rate_connections_start_at_once() -> None:
    prober = ScriptedProber(GOOD, delay=0.1)
    await run(Scanner(prober, fake_resolve, Limits(concurrency=10)), [named("a.t"), named("b.t")])
    assert prober.started() == [0.0] * 4
