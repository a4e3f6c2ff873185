"""The decision table of ``snisweep.core.classify``, one parametrized row per line. No sockets."""

from __future__ import annotations

import pytest

from snisweep.core.classify import classify, http_refusal
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
    TLSVersion,
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


def http(certificate: Certificate | None, answer: int | HttpOutcome) -> Handshake:
    """A handshake whose HTTP check got ``answer``: a status, or another outcome."""
    got = HttpAnswer(HttpOutcome.STATUS, answer) if isinstance(answer, int) else HttpAnswer(answer)
    return hs(certificate).with_http(got)


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
    (
        "tls-version-unsupported",
        NAMED,
        fail(FailureKind.TLS_VERSION, "protocol_version"),
        None,
        Verdict.ERROR,
        Reason.TLS_VERSION_UNSUPPORTED,
    ),
    (
        "tls-version-unsupported-without-sni-is-an-alert",
        NAMED,
        hs(EXACT),
        fail(FailureKind.TLS_VERSION, "protocol_version"),
        Verdict.REQUIRED,
        Reason.NOSNI_ALERT,
    ),
    *(
        (f"{kind.value}-with-sni", NAMED, fail(kind), None, Verdict.ERROR, Reason(kind.value))
        for kind in FailureKind
        if kind.at_proxy
    ),
    *(
        # A proxy that fails only the probe without SNI says nothing about SNI either.
        (
            f"{kind.value}-without-sni",
            NAMED,
            hs(EXACT),
            fail(kind),
            Verdict.ERROR,
            Reason(kind.value),
        )
        for kind in FailureKind
        if kind.at_proxy
    ),
    ("internal", NAMED, fail(FailureKind.INTERNAL), None, Verdict.ERROR, Reason.INTERNAL_ERROR),
    (
        "ip-literal-failed",
        IP_LITERAL,
        fail(FailureKind.CONNECT_REFUSED),
        None,
        Verdict.ERROR,
        Reason.CONNECT_REFUSED,
    ),
    (
        "ip-literal-rejected",
        IP_LITERAL,
        fail(FailureKind.ALERT, "unrecognized_name"),
        None,
        Verdict.ERROR,
        Reason.IP_LITERAL_REJECTED,
    ),
    (
        "ip-literal-other-alert",
        IP_LITERAL,
        fail(FailureKind.ALERT, "handshake_failure"),
        None,
        Verdict.ERROR,
        Reason.TLS_ALERT,
    ),
    # line 2: IP literal
    ("ip-literal", IP_LITERAL, hs(OTHER), None, Verdict.OPTIONAL, Reason.IP_LITERAL),
    (
        "ip-literal-http-403-stays",
        IP_LITERAL,
        http(OTHER, 403),
        None,
        Verdict.OPTIONAL,
        Reason.IP_LITERAL,
    ),
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
    # lines 15-16: the HTTP check refuses the request without SNI
    (
        "http-misdirected",
        NAMED,
        http(EXACT, 200),
        http(WILDCARD, 421),
        Verdict.REQUIRED,
        Reason.NOSNI_HTTP_MISDIRECTED,
    ),
    (
        "http-misdirected-same-cert",
        NAMED,
        http(EXACT, 404),
        http(EXACT, 421),
        Verdict.REQUIRED,
        Reason.NOSNI_HTTP_MISDIRECTED,
    ),
    (
        "http-403",
        NAMED,
        http(EXACT, 200),
        http(EXACT, 403),
        Verdict.REQUIRED,
        Reason.NOSNI_HTTP_REFUSED,
    ),
    (
        "http-400",
        NAMED,
        http(EXACT, 302),
        http(WILDCARD, 400),
        Verdict.REQUIRED,
        Reason.NOSNI_HTTP_REFUSED,
    ),
    (
        "http-closed-without-answer",
        NAMED,
        http(EXACT, 200),
        http(EXACT, HttpOutcome.CLOSED),
        Verdict.REQUIRED,
        Reason.NOSNI_HTTP_REFUSED,
    ),
    (
        "http-refused-both-ways",
        NAMED,
        http(EXACT, 403),
        http(EXACT, 403),
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
    ),
    (
        "http-421-both-ways",
        NAMED,
        http(EXACT, 421),
        http(WILDCARD, 421),
        Verdict.OPTIONAL,
        Reason.COVERING_CERTIFICATE,
    ),
    (
        "http-403-with-sni-421-without",
        NAMED,
        http(EXACT, 403),
        http(EXACT, 421),
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
    ),
    (
        "http-no-status-with-sni",
        NAMED,
        http(EXACT, HttpOutcome.TIMEOUT),
        http(EXACT, 403),
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
    ),
    (
        "http-closed-both-ways",
        NAMED,
        http(EXACT, HttpOutcome.CLOSED),
        http(EXACT, HttpOutcome.CLOSED),
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
    ),
    (
        "http-timeout-without-sni-is-no-refusal",
        NAMED,
        http(EXACT, 200),
        http(EXACT, HttpOutcome.TIMEOUT),
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
    ),
    (
        "http-not-http-without-sni-is-no-refusal",
        NAMED,
        http(EXACT, 200),
        http(EXACT, HttpOutcome.NOT_HTTP),
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
    ),
    (
        "http-other-status-without-sni",
        NAMED,
        http(EXACT, 200),
        http(EXACT, 404),
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
    ),
    (
        "http-checked-only-with-sni",
        NAMED,
        http(EXACT, 200),
        hs(EXACT),
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
    ),
    (
        "mismatched-stays-mismatched-with-403",
        NAMED,
        http(EXACT, 200),
        http(OTHER, 403),
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


def test_no_common_version_names_the_range() -> None:
    limited = Endpoint(
        host="api.example.com", port=443, sni="api.example.com", tls_min=TLSVersion.TLS1_2
    )
    result = classify(limited, fail(FailureKind.TLS_VERSION, "protocol_version"), None)
    assert "TLS 1.2 to 1.3 (tls_min/tls_max)" in result.detail
    result = classify(NAMED, fail(FailureKind.TLS_VERSION), None)
    assert "any TLS version OpenSSL still speaks" in result.detail


def test_http_refusal_names_the_reason_the_scheduler_confirms() -> None:
    assert http_refusal(http(EXACT, 200), http(EXACT, 421)) is Reason.NOSNI_HTTP_MISDIRECTED
    assert http_refusal(http(EXACT, 200), http(EXACT, 403)) is Reason.NOSNI_HTTP_REFUSED
    assert http_refusal(http(EXACT, 200), http(EXACT, 200)) is None
    assert http_refusal(fail(FailureKind.RESET), http(EXACT, 403)) is None
    assert http_refusal(http(EXACT, 200), fail(FailureKind.RESET)) is None
    assert http_refusal(http(EXACT, 200), None) is None


def test_refusal_detail_names_both_answers() -> None:
    result = classify(NAMED, http(EXACT, 200), http(EXACT, 403))
    assert "403" in result.detail
    assert "200" in result.detail
    closed = classify(NAMED, http(EXACT, 200), http(EXACT, HttpOutcome.CLOSED))
    assert "close without an answer" in closed.detail


@pytest.mark.parametrize(
    "failure",
    [
        fail(FailureKind.ALERT, "unrecognized_name"),
        fail(FailureKind.ALERT, "handshake_failure"),
        fail(FailureKind.CONNECT_REFUSED),
        fail(FailureKind.RESET),
        fail(FailureKind.HANDSHAKE_TIMEOUT),
        fail(FailureKind.NOT_TLS),
    ],
    ids=lambda failure: failure.code,
)
def test_ip_literal_failures_speak_of_the_address_not_a_name(failure: Failure) -> None:
    result = classify(IP_LITERAL, failure, None)
    assert result.verdict is Verdict.ERROR
    assert result.reason is not Reason.SNI_REJECTED
    assert "192.0.2.10" in result.detail
    assert "SNI" not in result.detail.replace("no SNI", "")
    assert "name 192.0.2.10" not in result.detail
