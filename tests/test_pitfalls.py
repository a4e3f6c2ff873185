"""The warning rules of ``snisweep.core.pitfalls``, one parametrized row per rule. No sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from snisweep.core.pitfalls import JAVA_MAX_CHAIN, find, java_accepts_name, java_sends_sni
from snisweep.model import (
    Certificate,
    Endpoint,
    Failure,
    FailureKind,
    Handshake,
    Observation,
    WarningCode,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=400)

NAMED = Endpoint(host="api.example.com", port=443, sni="api.example.com")
UNDERSCORE = Endpoint(host="my_app.example.com", port=443, sni="my_app.example.com")
DOTLESS = Endpoint(host="intranet", port=443, sni="intranet")
IP = Endpoint(host="192.0.2.10", port=443)
IP_WITH_SNI = Endpoint(host="192.0.2.10", port=443, sni="api.example.com")

GOOD = Certificate("aa" * 32, dns_names=("api.example.com",), not_after=LATER)
WILD = Certificate("ab" * 32, dns_names=("*.example.com", "intranet"), not_after=LATER)
OTHER = Certificate("bb" * 32, dns_names=("other.example.net",), not_after=LATER)
WITH_IP = Certificate("cc" * 32, ip_addresses=("192.0.2.10",), not_after=LATER)
EXPIRED = Certificate("dd" * 32, dns_names=("api.example.com",), not_after=NOW - timedelta(1))
FAKE = Certificate(
    "ee" * 32,
    dns_names=("ingress.local",),
    common_names=("Kubernetes Ingress Controller Fake Certificate",),
    not_after=LATER,
)
TRAEFIK = Certificate(
    "ef" * 32, dns_names=("x.traefik.default",), common_names=("TRAEFIK DEFAULT CERT",)
)


def hs(
    certificate: Certificate | None = GOOD,
    version: str = "TLSv1.3",
    chain: int | None = 2,
    alerts: tuple[str, ...] = (),
) -> Handshake:
    return Handshake(version, "CIPHER", certificate, chain_length=chain, warning_alerts=alerts)


RESET = Failure(FailureKind.RESET, "reset")
W = WarningCode

TABLE: list[tuple[str, Endpoint, Observation | None, Observation | None, tuple[W, ...]]] = [
    ("nothing", NAMED, hs(), hs(), ()),
    ("nothing-when-sni-probe-failed", NAMED, RESET, None, ()),
    ("nothing-without-a-probe", NAMED, None, None, ()),
    ("warning-alert", NAMED, hs(alerts=("unrecognized_name",)), hs(), (W.SNI_WARNING_ALERT,)),
    ("other-warning-alert", NAMED, hs(alerts=("no_renegotiation",)), hs(), ()),
    ("warning-alert-without-sni-only", NAMED, hs(), hs(alerts=("unrecognized_name",)), ()),
    ("underscore", UNDERSCORE, hs(WILD), hs(WILD), (W.JAVA_SENDS_NO_SNI,)),
    ("dotless", DOTLESS, hs(WILD), hs(WILD), (W.JAVA_SENDS_NO_SNI,)),
    ("ip-literal", IP, hs(WITH_IP), None, (W.JAVA_SENDS_NO_SNI,)),
    ("ip-literal-with-sni-key", IP_WITH_SNI, hs(), hs(), ()),
    ("chain-11", NAMED, hs(chain=JAVA_MAX_CHAIN + 1), hs(), (W.CHAIN_TOO_LONG,)),
    ("chain-10", NAMED, hs(chain=JAVA_MAX_CHAIN), hs(), ()),
    ("chain-11-without-sni", NAMED, hs(), hs(chain=11), (W.CHAIN_TOO_LONG,)),
    ("chain-unknown", NAMED, hs(chain=None), hs(chain=None), ()),
    ("tls-1.0", NAMED, hs(version="TLSv1"), hs(version="TLSv1"), (W.LEGACY_TLS,)),
    ("tls-1.1", NAMED, hs(version="TLSv1.1"), hs(), (W.LEGACY_TLS,)),
    ("tls-1.2", NAMED, hs(version="TLSv1.2"), hs(), ()),
    ("not-covering", NAMED, hs(OTHER), hs(OTHER), (W.SNI_CERT_NOT_COVERING,)),
    ("not-covering-no-certificate", NAMED, hs(None), hs(None), ()),
    ("no-ip-san", IP, hs(GOOD), None, (W.JAVA_SENDS_NO_SNI, W.NO_IP_SAN)),
    ("placeholder", NAMED, hs(), hs(FAKE), (W.PLACEHOLDER_CERTIFICATE,)),
    ("placeholder-traefik", NAMED, hs(), hs(TRAEFIK), (W.PLACEHOLDER_CERTIFICATE,)),
    ("placeholder-with-sni-only", NAMED, hs(FAKE), hs(), (W.SNI_CERT_NOT_COVERING,)),
    (
        "placeholder-ip-literal",
        IP,
        hs(FAKE),
        None,
        (W.JAVA_SENDS_NO_SNI, W.NO_IP_SAN, W.PLACEHOLDER_CERTIFICATE),
    ),
    ("expired", NAMED, hs(EXPIRED), hs(), (W.CERT_EXPIRED,)),
    ("expired-without-sni-only", NAMED, hs(), hs(EXPIRED), ()),
    (
        "in-contract-order",
        UNDERSCORE,
        hs(EXPIRED, version="TLSv1", chain=12, alerts=("unrecognized_name",)),
        hs(FAKE),
        (
            W.SNI_WARNING_ALERT,
            W.JAVA_SENDS_NO_SNI,
            W.CHAIN_TOO_LONG,
            W.LEGACY_TLS,
            W.SNI_CERT_NOT_COVERING,
            W.PLACEHOLDER_CERTIFICATE,
            W.CERT_EXPIRED,
        ),
    ),
]


@pytest.mark.parametrize(
    ("endpoint", "with_sni", "without_sni", "warnings"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_warning_rules(
    endpoint: Endpoint,
    with_sni: Observation | None,
    without_sni: Observation | None,
    warnings: tuple[WarningCode, ...],
) -> None:
    assert find(endpoint, with_sni, without_sni, NOW) == warnings


def test_every_warning_but_expiring_is_reachable() -> None:
    reached = {code for row in TABLE for code in row[4]}
    assert reached == set(WarningCode) - {WarningCode.CERT_EXPIRING}


def test_expiring_within_is_off_unless_asked() -> None:
    soon = Certificate("ff" * 32, dns_names=("api.example.com",), not_after=NOW + timedelta(3))
    assert find(NAMED, hs(soon), hs(soon), NOW) == ()
    assert find(NAMED, hs(soon), hs(soon), NOW, expiring_within=7) == (W.CERT_EXPIRING,)
    assert find(NAMED, hs(soon), hs(soon), NOW, expiring_within=2) == ()
    assert find(NAMED, hs(EXPIRED), hs(), NOW, expiring_within=7) == (W.CERT_EXPIRED,)


# What JSSE (sun.security.ssl.Utilities.rawToSNIHostName, SNIHostName) puts in its SNI.
@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("api.example.com", True),
        ("a.b", True),
        ("xn--bcher-kva.example", True),
        ("a-b.example", True),
        ("1.example", True),
        ("api.example.com.", True),  # the trailing dot is dropped first
        ("intranet", False),  # no dot
        ("intranet.", False),
        (".example.com", False),  # the dot must not come first
        ("my_app.example.com", False),  # an underscore is no letter, digit or hyphen
        ("-bad.example.com", False),
        ("bad-.example.com", False),
        ("a..example.com", False),  # an empty label
        ("x" * 64 + ".example.com", False),  # a label longer than 63
        ("127.0.0.1", False),  # IPv4 literal
        ("2001:db8::1", False),  # IPv6 literal
    ],
)
def test_java_sends_sni(name: str, sent: bool) -> None:
    assert java_sends_sni(name) is sent


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("api.example.com", True),
        ("intranet", True),  # no SNI for it, but the host name check takes it
        ("api.example.com.", True),
        ("my_app.example.com", False),  # "Illegal given domain name", SNI or not
        ("-bad.example.com", False),
        ("bad-.example.com", False),
    ],
)
def test_java_accepts_name(name: str, accepted: bool) -> None:
    assert java_accepts_name(name) is accepted
