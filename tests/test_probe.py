"""The probe against the embedded lab's real TLS servers on 127.0.0.1, and its pure helpers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from snisweep.lab import Lab, Scenario
from snisweep.model import Failure, FailureKind, Handshake
from snisweep.probe import TLSProber, alert_name, failure_from

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


def scenario(lab: Lab, name: str) -> Scenario:
    return next(s for s in lab.scenarios if s.name == name)


@pytest.mark.parametrize(
    ("reason", "alert"),
    [
        ("TLSV1_UNRECOGNIZED_NAME", "unrecognized_name"),
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", "handshake_failure"),
        ("TLSV1_ALERT_INTERNAL_ERROR", "internal_error"),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "certificate_required"),
        ("TLSV1_ALERT_PROTOCOL_VERSION", "protocol_version"),
        ("WRONG_VERSION_NUMBER", None),
        ("TLSV1_SOMETHING_ELSE", None),
        (None, None),
    ],
)
def test_alert_name(reason: str | None, alert: str | None) -> None:
    assert alert_name(reason) == alert


def test_failure_from_walks_causes() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as exc:
            raise OSError("All connection attempts failed") from exc
    except OSError as outer:
        failure = failure_from(outer, connected=False)
    assert failure.kind is FailureKind.CONNECT_REFUSED


def test_failure_from_unknown_bug_is_internal() -> None:
    assert failure_from(ValueError("x"), connected=True).kind is FailureKind.INTERNAL


async def test_handshake_with_and_without_sni(lab: Lab) -> None:
    s = scenario(lab, "default-certificate")
    probe = TLSProber()
    with_sni = await probe("127.0.0.1", s.port, s.host, 2.0)
    without_sni = await probe("127.0.0.1", s.port, None, 2.0)
    assert isinstance(with_sni, Handshake)
    assert isinstance(without_sni, Handshake)
    assert with_sni.certificate is not None
    assert without_sni.certificate is not None
    assert s.host in with_sni.certificate.dns_names
    assert s.host not in without_sni.certificate.dns_names
    assert with_sni.tls_version.startswith("TLSv1.")
    assert with_sni.cipher


@pytest.mark.parametrize(
    ("name", "kind", "alert"),
    [
        ("strict-alert", FailureKind.ALERT, "unrecognized_name"),
        ("handshake-failure", FailureKind.ALERT, "handshake_failure"),
        ("reset", FailureKind.RESET, None),
        ("close", FailureKind.CLOSED, None),
        ("hang", FailureKind.HANDSHAKE_TIMEOUT, None),
        ("silent", FailureKind.HANDSHAKE_TIMEOUT, None),
        ("not-tls", FailureKind.NOT_TLS, None),
        ("refused", FailureKind.CONNECT_REFUSED, None),
    ],
)
async def test_failures_without_sni_are_named_precisely(
    lab: Lab, name: str, kind: FailureKind, alert: str | None
) -> None:
    s = scenario(lab, name)
    observation = await TLSProber()("127.0.0.1", s.port, None, 0.5)
    assert isinstance(observation, Failure), observation
    assert observation.kind is kind, observation
    assert observation.alert == alert


async def test_connect_timeout_on_a_listener_that_never_accepts() -> None:
    # A listening socket with a full, never-drained backlog: the SYN is never answered on some
    # kernels and accepted on others, so allow both timeouts; what matters is no exception.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        observation = await TLSProber()("127.0.0.1", port, "x.test", 0.3)
    assert isinstance(observation, Failure)
    assert observation.kind in (FailureKind.CONNECT_TIMEOUT, FailureKind.HANDSHAKE_TIMEOUT)
