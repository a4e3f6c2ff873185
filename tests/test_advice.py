"""The advice table of ``snisweep.core.advice``, and the ``advice`` column ``build`` fills. No
sockets."""

from __future__ import annotations

import itertools
import string
from datetime import UTC, datetime, timedelta

import pytest
from test_classify import TABLE as DECISIONS

from snisweep.core.advice import ENABLE_SNI, MAX_LENGTH, REASONS, advise
from snisweep.core.classify import classify
from snisweep.core.record import build
from snisweep.model import (
    Certificate,
    Endpoint,
    Failure,
    FailureKind,
    Handshake,
    Reason,
    Verdict,
    WarningCode,
)

V = Verdict
R = Reason
W = WarningCode

# Every (verdict, reason) that classify gives, from its own decision table.
PAIRS = sorted({(row[4], row[5]) for row in DECISIONS})
NEEDS_SNI = [(v, r) for v, r in PAIRS if v in (V.REQUIRED, V.MISMATCHED)]
PLATFORM = "glide.outbound.tls_sni.enabled"

# Every set of warnings, in WarningCode order as pitfalls lists them.
ALL_WARNINGS = [
    combination
    for size in range(len(W) + 1)
    for combination in itertools.combinations(tuple(W), size)
]


def test_classify_gives_each_reason_one_verdict() -> None:
    assert {r for _, r in PAIRS} == set(Reason)
    assert len(PAIRS) == len(Reason)
    assert {v for v, _ in PAIRS} == set(Verdict)


def test_every_reason_has_its_own_advice() -> None:
    assert set(REASONS) == set(Reason)
    for verdict, reason in PAIRS:
        assert advise(verdict, reason) == REASONS[reason]


@pytest.mark.parametrize("code", list(W))
def test_every_warning_changes_the_advice_somewhere(code: WarningCode) -> None:
    changed = [(v, r) for v, r in PAIRS if advise(v, r, (code,)) != advise(v, r)]
    assert changed, f"{code} never changes the advice"
    # Warnings never speak for an error: the probe must work first.
    assert all(v is not V.ERROR for v, _ in changed)


@pytest.mark.parametrize(("verdict", "reason"), NEEDS_SNI)
@pytest.mark.parametrize("warnings", [(), (W.CERT_EXPIRING,), (W.PLACEHOLDER_CERTIFICATE,)])
def test_rows_that_need_sni_say_how_to_enable_it(
    verdict: Verdict, reason: Reason, warnings: tuple[WarningCode, ...]
) -> None:
    advice = advise(verdict, reason, warnings)
    assert ENABLE_SNI in advice
    assert f"{PLATFORM}=true on the instance and on each MID server" in advice
    assert "restart the MID servers" in advice
    assert "30 s" in advice


@pytest.mark.parametrize(("verdict", "reason"), [p for p in PAIRS if p not in NEEDS_SNI])
def test_rows_that_do_not_need_sni_never_say_to_enable_it(verdict: Verdict, reason: Reason) -> None:
    for warnings in ALL_WARNINGS:
        assert PLATFORM not in advise(verdict, reason, warnings)


@pytest.mark.parametrize(("verdict", "reason"), NEEDS_SNI)
@pytest.mark.parametrize(
    ("warnings", "phrase"),
    [
        ((W.JAVA_SENDS_NO_SNI,), "Enabling SNI will not help Java clients"),
        ((W.SNI_WARNING_ALERT,), "Do not just enable SNI"),
        # Java sends no SNI at all, so the alert it would abort on never comes.
        ((W.SNI_WARNING_ALERT, W.JAVA_SENDS_NO_SNI), "Enabling SNI will not help Java clients"),
    ],
)
def test_where_enabling_sni_cannot_help_or_breaks_the_advice_says_so(
    verdict: Verdict, reason: Reason, warnings: tuple[WarningCode, ...], phrase: str
) -> None:
    advice = advise(verdict, reason, warnings)
    assert advice.startswith(phrase)
    assert ENABLE_SNI not in advice


def test_every_advice_is_one_plain_short_sentence() -> None:
    plain = set(string.ascii_letters + string.digits + string.punctuation + " ")
    seen = set()
    for (verdict, reason), warnings in itertools.product(PAIRS, ALL_WARNINGS):
        seen.add(advise.__wrapped__(verdict, reason, warnings))
    assert len(seen) > len(Reason)
    for advice in seen:
        assert len(advice) <= MAX_LENGTH, advice
        assert set(advice) <= plain, advice  # no line break, nothing a terminal would run
        assert advice[0].isupper(), advice  # never a cell a spreadsheet would run either
        assert advice.endswith("."), advice
        assert "  " not in advice, advice


TABLE: list[tuple[str, Verdict, Reason, tuple[WarningCode, ...], str]] = [
    # line 4: the SNI remedy, with the server's own switch where there is a well-known one
    ("strict-nginx", V.REQUIRED, R.NOSNI_ALERT_UNRECOGNIZED_NAME, (), "ssl_reject_handshake"),
    ("strict-haproxy", V.REQUIRED, R.NOSNI_ALERT_HANDSHAKE_FAILURE, (), "strict-sni"),
    ("sni-router", V.REQUIRED, R.NOSNI_RESET, (), "default backend"),
    ("apache-421", V.REQUIRED, R.NOSNI_HTTP_MISDIRECTED, (), "default virtual host"),
    ("apache-strict", V.REQUIRED, R.NOSNI_HTTP_REFUSED, (), "SSLStrictSNIVHostCheck off"),
    ("default-cert", V.MISMATCHED, R.DEFAULT_CERTIFICATE, (), "default certificate cover"),
    ("expiring-waits", V.REQUIRED, R.NOSNI_RESET, (W.CERT_EXPIRING,), PLATFORM),
    # line 3
    ("java-no-sni", V.MISMATCHED, R.DEFAULT_CERTIFICATE, (W.JAVA_SENDS_NO_SNI,), "will not help"),
    ("warning-alert", V.REQUIRED, R.NOSNI_CLOSED, (W.SNI_WARNING_ALERT,), "then enable SNI"),
    (
        "placeholder",
        V.MISMATCHED,
        R.DEFAULT_CERTIFICATE,
        (W.PLACEHOLDER_CERTIFICATE,),
        "placeholder certificate",
    ),
    (
        "java-before-placeholder",
        V.MISMATCHED,
        R.DEFAULT_CERTIFICATE,
        (W.JAVA_SENDS_NO_SNI, W.PLACEHOLDER_CERTIFICATE),
        "will not help",
    ),
    # line 2: what fails every client comes before SNI
    ("expired-first", V.REQUIRED, R.NOSNI_RESET, (W.JAVA_SENDS_NO_SNI, W.CERT_EXPIRED), "Renew"),
    ("not-covering", V.REQUIRED, R.NOSNI_RESET, (W.SNI_CERT_NOT_COVERING,), "Fix the server's"),
    ("long-chain", V.REQUIRED, R.NOSNI_RESET, (W.CHAIN_TOO_LONG,), "maxCertificateChainLength"),
    ("legacy", V.MISMATCHED, R.DEFAULT_CERTIFICATE, (W.LEGACY_TLS,), "Enable TLS 1.2 or 1.3"),
    (
        "alert-then-chain",
        V.REQUIRED,
        R.NOSNI_HTTP_REFUSED,
        (W.SNI_WARNING_ALERT, W.CHAIN_TOO_LONG),
        "shorter chain",
    ),
    (
        "chain-before-legacy",
        V.OPTIONAL,
        R.SAME_CERTIFICATE,
        (W.CHAIN_TOO_LONG, W.LEGACY_TLS),
        "chain",
    ),
    (
        "expired-before-not-covering",
        V.OPTIONAL,
        R.COVERING_CERTIFICATE,
        (W.SNI_CERT_NOT_COVERING, W.CERT_EXPIRED),
        "has expired",
    ),
    (
        "ip-no-san",
        V.OPTIONAL,
        R.IP_LITERAL,
        (W.JAVA_SENDS_NO_SNI, W.NO_IP_SAN),
        "add this IP address",
    ),
    # lines 5 and 6
    ("same", V.OPTIONAL, R.SAME_CERTIFICATE, (), "Nothing to do"),
    ("covering", V.OPTIONAL, R.COVERING_CERTIFICATE, (), "also covers the name"),
    ("ip", V.OPTIONAL, R.IP_LITERAL, (W.JAVA_SENDS_NO_SNI,), "no client sends SNI to an IP"),
    ("dotless", V.OPTIONAL, R.SAME_CERTIFICATE, (W.JAVA_SENDS_NO_SNI,), "underscore"),
    ("alert-on-optional", V.OPTIONAL, R.SAME_CERTIFICATE, (W.SNI_WARNING_ALERT,), "keep SNI off"),
    (
        "ip-placeholder",
        V.OPTIONAL,
        R.IP_LITERAL,
        (W.JAVA_SENDS_NO_SNI, W.PLACEHOLDER_CERTIFICATE),
        "real default certificate",
    ),
    ("expiring", V.OPTIONAL, R.COVERING_CERTIFICATE, (W.CERT_EXPIRING,), "Renew the certificate"),
    (
        "alert-before-expiring",
        V.OPTIONAL,
        R.SAME_CERTIFICATE,
        (W.SNI_WARNING_ALERT, W.CERT_EXPIRING),
        "Configure this name",
    ),
    # line 1: what to check; warnings wait until the probe works
    ("dns", V.ERROR, R.DNS_FAILURE, (W.JAVA_SENDS_NO_SNI,), "Check the host name"),
    ("refused", V.ERROR, R.CONNECT_REFUSED, (), "Check the port"),
    ("timeout", V.ERROR, R.CONNECT_TIMEOUT, (), "firewall"),
    ("not-tls", V.ERROR, R.NOT_TLS, (), "not with TLS"),
    ("sni-rejected", V.ERROR, R.SNI_REJECTED, (), "Configure this name on the server"),
    ("tls-range", V.ERROR, R.TLS_VERSION_UNSUPPORTED, (), "--tls-min/--tls-max"),
    ("ip-rejected", V.ERROR, R.IP_LITERAL_REJECTED, (W.JAVA_SENDS_NO_SNI,), "Connect by name"),
    ("flaky", V.ERROR, R.NOSNI_CONNECT_FAILED, (W.CERT_EXPIRED,), "Scan again"),
    ("proxy-auth", V.ERROR, R.PROXY_AUTH_REQUIRED, (), "http://USER:PASSWORD@HOST:PORT"),
    ("proxy-denied", V.ERROR, R.PROXY_DENIED, (), "SSL_ports"),
    ("proxy-5xx", V.ERROR, R.PROXY_CONNECT_FAILED, (W.LEGACY_TLS,), "from the proxy's side"),
    ("bug", V.ERROR, R.INTERNAL_ERROR, (), "snisweep bug"),
]


@pytest.mark.parametrize(
    ("verdict", "reason", "warnings", "phrase"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_advice_table(
    verdict: Verdict, reason: Reason, warnings: tuple[WarningCode, ...], phrase: str
) -> None:
    assert phrase in advise(verdict, reason, warnings)


def test_advice_is_computed_once_per_combination() -> None:
    warnings = (W.CHAIN_TOO_LONG, W.CERT_EXPIRING)
    first = advise(V.OPTIONAL, R.SAME_CERTIFICATE, warnings)
    hits = advise.cache_info().hits
    assert advise(V.OPTIONAL, R.SAME_CERTIFICATE, warnings) is first
    assert advise.cache_info().hits == hits + 1


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def row(name: str, without_sni: Handshake | Failure) -> tuple[str, tuple[WarningCode, ...], str]:
    endpoint = Endpoint(host=name, port=443, sni=name)
    certificate = Certificate(
        "aa" * 32, dns_names=(name, "*.example.com"), not_after=NOW + timedelta(400)
    )
    with_sni = Handshake("TLSv1.3", "TLS_AES_256_GCM_SHA384", certificate, chain_length=2)
    classification = classify(endpoint, with_sni, without_sni)
    record = build(
        endpoint,
        "192.0.2.5",
        classification,
        with_sni,
        without_sni,
        attempts=2,
        elapsed_ms=3,
        scanned_at=NOW,
    )
    assert record.advice == advise(record.verdict, record.reason, record.warnings)
    assert record.cells()[-1] == record.advice
    return record.reason, record.warnings, record.advice


def test_build_fills_advice() -> None:
    reset = Failure(FailureKind.RESET, "connection reset")
    reason, warnings, advice = row("api.example.com", reset)
    assert (reason, warnings) == (R.NOSNI_RESET, ())
    assert PLATFORM in advice

    # The same server, by a name Java sends no SNI for: the advice follows the warning.
    reason, warnings, advice = row("my_app.example.com", reset)
    assert (reason, warnings) == (R.NOSNI_RESET, (W.JAVA_SENDS_NO_SNI,))
    assert advice.startswith("Enabling SNI will not help")
