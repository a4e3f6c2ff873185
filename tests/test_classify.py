"""The decision table of ``snisweep.classify``, one parametrized row per line. No sockets."""

from __future__ import annotations

import pytest

from snisweep.classify import classify
from snisweep.model import (
    Certificate,
    Endpoint,
    Failure,
    FailureKind,
    Handshake,
    Observation,
    Reason,
    Verdict,
)

NAMED = Endpoint(host="api.example.com", port=443, sni="api.example.com")
IP_LITERAL = Endpoint(host="192.0.2.10", port=443, sni=None)

EXACT = Certificate(sha256="aa" * 32, dns_names=("api.example.com",))
WILDCARD = Certificate(sha256="bb" * 32, dns_names=("*.example.com",))
OTHER = Certificate(sha256="cc" * 32, dns_names=("default.example.net",))
CN_ONLY = Certificate(sha256="dd" * 32, common_names=("api.example.com",))


def hs(certificate: Certificate | None) -> Handshake:
    return Handshake(
        tls_version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", certificate=certificate
    )


def fail(kind: FailureKind, alert: str | None = None) -> Failure:
    return Failure(kind, f"{kind.value} happened", alert=alert)


TABLE: list[tuple[str, Endpoint, Observation, Observation | None, Verdict, Reason]] = [
    # line 1: the probe with SNI failed
    ("dns", NAMED, fail(FailureKind.DNS), None, Verdict.ERROR, Reason.DNS_FAILURE),
    (
        "refused",
        NAMED,
        fail(FailureKind.CONNECT_REFUSED),
        fail(FailureKind.CONNECT_REFUSED),
        Verdict.ERROR,
        Reason.CONNECT_REFUSED,
    ),
    (
        "connect-timeout",
        NAMED,
        fail(FailureKind.CONNECT_TIMEOUT),
        None,
        Verdict.ERROR,
        Reason.CONNECT_TIMEOUT,
    ),
    (
        "connect-failed",
        NAMED,
        fail(FailureKind.CONNECT_FAILED),
        None,
        Verdict.ERROR,
        Reason.CONNECT_FAILED,
    ),
    (
        "handshake-timeout",
        NAMED,
        fail(FailureKind.HANDSHAKE_TIMEOUT),
        fail(FailureKind.HANDSHAKE_TIMEOUT),
        Verdict.ERROR,
        Reason.HANDSHAKE_TIMEOUT,
    ),
    (
        "reset",
        NAMED,
        fail(FailureKind.RESET),
        hs(EXACT),
        Verdict.ERROR,
        Reason.HANDSHAKE_RESET,
    ),
    ("closed", NAMED, fail(FailureKind.CLOSED), None, Verdict.ERROR, Reason.HANDSHAKE_CLOSED),
    ("not-tls", NAMED, fail(FailureKind.NOT_TLS), None, Verdict.ERROR, Reason.NOT_TLS),
    (
        "sni-rejected",
        NAMED,
        fail(FailureKind.ALERT, "unrecognized_name"),
        fail(FailureKind.ALERT, "unrecognized_name"),
        Verdict.ERROR,
        Reason.SNI_REJECTED,
    ),
    (
        "tls-alert",
        NAMED,
        fail(FailureKind.ALERT, "handshake_failure"),
        None,
        Verdict.ERROR,
        Reason.TLS_ALERT,
    ),
    ("tls-failure", NAMED, fail(FailureKind.TLS_FAILURE), None, Verdict.ERROR, Reason.TLS_FAILURE),
    ("internal", NAMED, fail(FailureKind.INTERNAL), None, Verdict.ERROR, Reason.INTERNAL_ERROR),
    (
        "ip-literal-failed",
        IP_LITERAL,
        fail(FailureKind.CONNECT_REFUSED),
        None,
        Verdict.ERROR,
        Reason.CONNECT_REFUSED,
    ),
    # line 2: IP literal
    ("ip-literal", IP_LITERAL, hs(OTHER), None, Verdict.OPTIONAL, Reason.IP_LITERAL),
    # line 3: the connect without SNI failed: no statement about SNI
    (
        "nosni-connect-refused",
        NAMED,
        hs(EXACT),
        fail(FailureKind.CONNECT_REFUSED),
        Verdict.ERROR,
        Reason.NOSNI_CONNECT_FAILED,
    ),
    (
        "nosni-connect-timeout",
        NAMED,
        hs(EXACT),
        fail(FailureKind.CONNECT_TIMEOUT),
        Verdict.ERROR,
        Reason.NOSNI_CONNECT_FAILED,
    ),
    # line 4
    (
        "nosni-internal",
        NAMED,
        hs(EXACT),
        fail(FailureKind.INTERNAL),
        Verdict.ERROR,
        Reason.INTERNAL_ERROR,
    ),
    # lines 5-12: required
    (
        "nosni-unrecognized-name",
        NAMED,
        hs(EXACT),
        fail(FailureKind.ALERT, "unrecognized_name"),
        Verdict.REQUIRED,
        Reason.NOSNI_ALERT_UNRECOGNIZED_NAME,
    ),
    (
        "nosni-handshake-failure",
        NAMED,
        hs(EXACT),
        fail(FailureKind.ALERT, "handshake_failure"),
        Verdict.REQUIRED,
        Reason.NOSNI_ALERT_HANDSHAKE_FAILURE,
    ),
    (
        "nosni-other-alert",
        NAMED,
        hs(EXACT),
        fail(FailureKind.ALERT, "internal_error"),
        Verdict.REQUIRED,
        Reason.NOSNI_ALERT,
    ),
    (
        "nosni-reset",
        NAMED,
        hs(EXACT),
        fail(FailureKind.RESET),
        Verdict.REQUIRED,
        Reason.NOSNI_RESET,
    ),
    (
        "nosni-closed",
        NAMED,
        hs(EXACT),
        fail(FailureKind.CLOSED),
        Verdict.REQUIRED,
        Reason.NOSNI_CLOSED,
    ),
    (
        "nosni-timeout",
        NAMED,
        hs(EXACT),
        fail(FailureKind.HANDSHAKE_TIMEOUT),
        Verdict.REQUIRED,
        Reason.NOSNI_TIMEOUT,
    ),
    (
        "nosni-not-tls",
        NAMED,
        hs(EXACT),
        fail(FailureKind.NOT_TLS),
        Verdict.REQUIRED,
        Reason.NOSNI_NOT_TLS,
    ),
    (
        "nosni-tls-failure",
        NAMED,
        hs(EXACT),
        fail(FailureKind.TLS_FAILURE),
        Verdict.REQUIRED,
        Reason.NOSNI_TLS_FAILURE,
    ),
    # line 13: same certificate, whether or not it covers the name
    ("same", NAMED, hs(EXACT), hs(EXACT), Verdict.OPTIONAL, Reason.SAME_CERTIFICATE),
    ("same-not-covering", NAMED, hs(OTHER), hs(OTHER), Verdict.OPTIONAL, Reason.SAME_CERTIFICATE),
    ("same-no-certificate", NAMED, hs(None), hs(None), Verdict.OPTIONAL, Reason.SAME_CERTIFICATE),
    # line 14: another certificate that still covers the name
    (
        "covering-wildcard",
        NAMED,
        hs(EXACT),
        hs(WILDCARD),
        Verdict.OPTIONAL,
        Reason.COVERING_CERTIFICATE,
    ),
    (
        "covering-cn-fallback",
        NAMED,
        hs(EXACT),
        hs(CN_ONLY),
        Verdict.OPTIONAL,
        Reason.COVERING_CERTIFICATE,
    ),
    # line 15: a default certificate for another name
    (
        "default-certificate",
        NAMED,
        hs(EXACT),
        hs(OTHER),
        Verdict.MISMATCHED,
        Reason.DEFAULT_CERTIFICATE,
    ),
    (
        "default-without-certificate",
        NAMED,
        hs(EXACT),
        hs(None),
        Verdict.MISMATCHED,
        Reason.DEFAULT_CERTIFICATE,
    ),
    (
        "default-while-sni-cert-wrong-too",
        NAMED,
        hs(OTHER),
        hs(Certificate(sha256="ee" * 32, dns_names=("x.example.org",))),
        Verdict.MISMATCHED,
        Reason.DEFAULT_CERTIFICATE,
    ),
]


@pytest.mark.parametrize(
    ("endpoint", "with_sni", "without_sni", "verdict", "reason"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_decision_table(
    endpoint: Endpoint,
    with_sni: Observation,
    without_sni: Observation | None,
    verdict: Verdict,
    reason: Reason,
) -> None:
    result = classify(endpoint, with_sni, without_sni)
    assert (result.verdict, result.reason) == (verdict, reason)
    assert result.detail.endswith(".")
    assert "\n" not in result.detail


def test_sni_key_is_the_name_checked() -> None:
    endpoint = Endpoint(host="lb.example.com", port=443, sni="api.example.com")
    result = classify(endpoint, hs(EXACT), hs(WILDCARD))
    assert result.reason is Reason.COVERING_CERTIFICATE
    assert "api.example.com" in result.detail


def test_ip_literal_with_sni_key_is_probed_like_a_name() -> None:
    endpoint = Endpoint(host="192.0.2.10", port=443, sni="api.example.com")
    result = classify(endpoint, hs(EXACT), hs(OTHER))
    assert result.verdict is Verdict.MISMATCHED


def test_every_reason_is_reachable_and_documented() -> None:
    reached = {row[5] for row in TABLE}
    assert reached == set(Reason)
