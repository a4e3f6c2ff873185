"""Integration: the real scanner (config, resolver, probes, classify, records) against the lab."""

from __future__ import annotations

import io
import socket
from collections.abc import Callable, Iterator

import anyio
import pytest

from snisweep.core.record import Record
from snisweep.lab import Lab
from snisweep.lists.load import load
from snisweep.model import Endpoint, Reason, Verdict, WarningCode
from snisweep.net.probe import TLSProber
from snisweep.net.resolve import SystemResolver
from snisweep.run.scheduler import Limits, Scanner

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


async def scan_lab(lab: Lab, limits: Limits) -> list[Record]:
    endpoints = load(["-"], stdin=io.StringIO(lab.config_yaml(timeout=0.5, retries=1)))
    send, receive = anyio.create_memory_object_stream[Record](100)
    records: list[Record] = []
    async with anyio.create_task_group() as group:
        group.start_soon(Scanner(TLSProber(), limits=limits).run, endpoints, send)
        async with receive:
            async for record in receive:
                records.append(record)
    return records


Outcome = tuple[Verdict, Reason, tuple[WarningCode, ...]]


def outcomes(records: list[Record]) -> dict[tuple[str, int], Outcome]:
    return {(r.host, r.port): (r.verdict, r.reason, r.warnings) for r in records}


def expected_outcomes(lab: Lab) -> dict[tuple[str, int], Outcome]:
    return {(s.host, s.port): (s.verdict, s.reason, s.warnings) for s in lab.scenarios}


async def test_every_lab_scenario_gets_its_verdict_reason_and_warnings(lab: Lab) -> None:
    records = await scan_lab(lab, Limits())
    assert len(records) == len(lab.scenarios)
    got, expected = outcomes(records), expected_outcomes(lab)
    # By scenario name, so that a failure lists every scenario that differs: (got, expected).
    differ = {}
    for scenario in lab.scenarios:
        key = (scenario.host, scenario.port)
        if got.get(key) != expected[key]:
            differ[scenario.name] = (got.get(key), expected[key])
    assert differ == {}
    assert {verdict for verdict, _, _ in got.values()} == set(Verdict)
    assert {w for _, _, warnings in got.values() for w in warnings} >= set(WarningCode) - {
        WarningCode.CERT_EXPIRING  # needs --expiring-within: the lab's certificates last
    }


async def test_lab_rows_carry_the_facts(lab: Lab) -> None:
    records = {r.label: r for r in await scan_lab(lab, Limits(concurrency=3, per_host=1))}
    mismatched = records["default-certificate"]
    assert mismatched.address == "127.0.0.1"
    assert mismatched.sni_cert_covers_host is True
    assert mismatched.nosni_cert_covers_host is False
    assert mismatched.sni_cert_sha256 != mismatched.nosni_cert_sha256
    assert mismatched.sni_cert_days_left is not None
    assert mismatched.sni_cert_days_left > 0
    assert mismatched.attempts == 2
    required = records["strict-alert"]
    assert required.nosni_error is not None
    assert required.nosni_error.startswith("alert-unrecognized-name")
    assert required.attempts == 3  # one with SNI, two without (the retry confirmed it)
    assert records["ip-literal"].sni is None
    assert records["ip-literal"].attempts == 1
    assert records["wildcard"].sni_cert_covers_host is True
    refused = records["http-refused"]
    assert (refused.sni_http_status, refused.nosni_http_status) == (200, 403)
    misdirected = records["http-misdirected"]
    assert (misdirected.sni_http_status, misdirected.nosni_http_status) == (200, 421)
    assert misdirected.nosni_cert_covers_host is True
    assert records["legacy-tls"].sni_tls_version == "TLSv1"
    assert records["sni-warning-alert"].sni_tls_version == "TLSv1.2"
    assert records["sni-cert-not-covering"].sni_cert_covers_host is False
    expired = records["expired"].sni_cert_days_left
    assert expired is not None
    assert expired < 0
    placeholder = records["placeholder-default"].nosni_cert_subject
    assert placeholder is not None
    assert "CN=Kubernetes Ingress Controller Fake Certificate" in placeholder
    assert records["ip-literal-rejected"].sni is None


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
async def test_the_lab_over_ipv6() -> None:
    with Lab(host="::1") as lab6:
        records = await scan_lab(lab6, Limits())
        expected = expected_outcomes(lab6)
    assert outcomes(records) == expected
    assert {r.address for r in records} == {"::1"}


async def test_system_resolver_gives_localhost_its_addresses() -> None:
    # localhost comes from the hosts file: no query leaves the machine.
    addresses = await SystemResolver()("localhost")
    assert isinstance(addresses, tuple)
    assert set(addresses) <= {"127.0.0.1", "::1"}


def dual_stack(*addresses: str) -> Callable[..., list[AddrInfo]]:
    """A system resolver that answers every name with ``addresses``, in that order."""

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list[AddrInfo]:
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (a, 0),
            )
            for a in addresses
        ]

    return getaddrinfo


AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[str, int]]


async def test_a_name_whose_first_address_refuses_is_scanned_at_the_next(lab: Lab) -> None:
    # The case: the name gives ::1 (nothing listens there) and then 127.0.0.1 (the
    # lab): clients connect over the address that works, and so does the scan.
    scenario = lab.scenario("strict-alert")
    resolver = SystemResolver(getaddrinfo=dual_stack("::1", "127.0.0.1"))
    endpoint = Endpoint(host=scenario.host, port=scenario.port, sni=scenario.host, timeout=2.0)
    record = await Scanner(TLSProber(), resolver).scan_endpoint(endpoint)
    assert (record.verdict, record.reason, record.address) == (
        Verdict.REQUIRED,
        Reason.NOSNI_ALERT_UNRECOGNIZED_NAME,
        "127.0.0.1",
    )
    assert record.attempts >= 3  # the refused connection at ::1 counts


async def test_all_addresses_gives_every_address_its_row(lab: Lab) -> None:
    scenario = lab.scenario("same-certificate")
    resolver = SystemResolver(getaddrinfo=dual_stack("::1", "127.0.0.1"))
    endpoint = Endpoint(
        host=scenario.host, port=scenario.port, sni=scenario.host, timeout=2.0, all_addresses=True
    )
    records = await Scanner(TLSProber(), resolver).scan(endpoint)
    assert [(r.address, r.verdict) for r in records] == [
        ("::1", Verdict.ERROR),
        ("127.0.0.1", Verdict.OPTIONAL),
    ]
    assert records[0].reason in {Reason.CONNECT_REFUSED, Reason.CONNECT_FAILED}
