"""The scheduler with a scripted prober and resolver: no sockets, deterministic."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import anyio
import pytest

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
    Reason,
    Verdict,
    WarningCode,
)
from snisweep.net import http
from snisweep.run.scheduler import Limits, Scanner, _AddressLimiter
from snisweep.testing import ScriptedProber, fake_resolve

pytestmark = pytest.mark.anyio

GOOD = Handshake("TLSv1.3", "TLS_AES_128_GCM_SHA256", Certificate("aa" * 32, dns_names=("*.t",)))
OTHER = Handshake("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", Certificate("bb" * 32))
RESET = Failure(FailureKind.RESET, "the connection was reset")


async def run(scanner: Scanner, endpoints: list[Endpoint] | Iterator[Endpoint]) -> list[Record]:
    send, receive = anyio.create_memory_object_stream[Record](10)
    records: list[Record] = []
    async with anyio.create_task_group() as group:
        group.start_soon(scanner.run, endpoints, send)
        async with receive:
            async for record in receive:
                records.append(record)
    return records


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

    async def no_dns(host: str, port: int, timeout: float) -> str | Failure:
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


async def test_concurrency_and_per_host_limits_hold() -> None:
    prober = ScriptedProber(lambda a, p, n, i: GOOD, delay=0.01)
    limits = Limits(concurrency=6, per_host=3)
    # Half the endpoints share one address, so the per-address cap is what binds for them.
    endpoints = [named(f"s{i}.t", address="192.0.2.200") for i in range(12)]
    endpoints += [named(f"u{i}.t") for i in range(12)]
    records = await run(Scanner(prober, fake_resolve, limits), endpoints)
    assert len(records) == 24
    assert prober.max_in_flight <= 2 * limits.concurrency
    assert max(prober.max_per_address.values()) <= limits.per_host
    assert prober.max_per_address["192.0.2.200"] == limits.per_host


async def test_endpoints_are_pulled_lazily() -> None:
    pulled = 0
    started = anyio.Event()

    def endpoints() -> Iterator[Endpoint]:
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield named(f"lazy{i}.t")

    prober = ScriptedProber(lambda a, p, n, i: GOOD, delay=0.05)
    scanner = Scanner(prober, fake_resolve, Limits(concurrency=5, per_host=4))
    send, receive = anyio.create_memory_object_stream[Record](0)
    async with anyio.create_task_group() as group:
        group.start_soon(scanner.run, endpoints(), send)
        async with receive:
            await receive.receive()
            started.set()
            # One record is out; the generator may be ahead by at most the in-flight slots.
            assert pulled <= 5 + 1
            group.cancel_scope.cancel()


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

    # The probe without SNI is slower, so it is still running when the other one gives up.
    prober = ScriptedProber(script, delay=lambda name: 0.0 if name else 5.0)
    records = await run(Scanner(prober, fake_resolve), [named("dead.t", retries=1)])
    record = records[0]
    assert (record.verdict, record.reason) == (Verdict.ERROR, Reason.CONNECT_REFUSED)
    assert record.nosni_error is None
    assert record.nosni_cert_sha256 is None
    assert record.attempts == sum(prober.calls.values())


async def test_a_failing_list_lets_started_endpoints_finish_first() -> None:
    def endpoints() -> Iterator[Endpoint]:
        yield named("first.t")
        yield named("second.t")
        raise RuntimeError("the list changed")

    prober = ScriptedProber(lambda a, p, n, i: GOOD, delay=0.05)
    send, receive = anyio.create_memory_object_stream[Record](10)
    records: list[Record] = []
    failure: Exception | None = None

    async def scan() -> None:
        nonlocal failure
        try:
            await Scanner(prober, fake_resolve).run(endpoints(), send)
        except RuntimeError as exc:
            failure = exc

    async with anyio.create_task_group() as group:
        group.start_soon(scan)
        async with receive:
            async for record in receive:
                records.append(record)
    assert str(failure) == "the list changed"
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

    prober = ScriptedProber(script)
    (record,) = await run(Scanner(prober, fake_resolve), [named("a.t", retries=2)])
    assert record.verdict is Verdict.REQUIRED
    assert record.reason is Reason.NOSNI_HTTP_REFUSED
    address = await fake_resolve("a.t", 443, 1.0)
    assert prober.calls == Counter({(address, "a.t"): 1, (address, None): 3})
    assert record.attempts == 4
    assert (record.sni_http_status, record.nosni_http_status) == (200, 403)


async def test_a_refusal_that_a_retry_contradicts_does_not_count() -> None:
    def script(address: str, port: int, name: str | None, attempt: int) -> Observation:
        if name is None and attempt == 1:
            return answered(421)
        return answered(200)

    (record,) = await run(Scanner(ScriptedProber(script), fake_resolve), [named("a.t")])
    assert record.verdict is Verdict.OPTIONAL
    assert record.reason is Reason.SAME_CERTIFICATE
    assert record.nosni_http_status == 200
    assert record.attempts == 3


async def test_a_refusal_with_sni_too_is_not_retried() -> None:
    prober = ScriptedProber(lambda a, p, n, i: answered(403))
    (record,) = await run(Scanner(prober, fake_resolve), [named("a.t", retries=3)])
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
