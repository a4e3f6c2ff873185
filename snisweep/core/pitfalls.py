"""Warnings: what else a real client meets at an endpoint, from the observations. Pure: no I/O.

A verdict answers "does a client without SNI work?"; a client does more than that question, and
these are the ways it still fails (column ``warnings``, codes in ``WarningCode`` order). None
changes the verdict (``snisweep.core.classify`` alone decides that). The rules, one per code:

=========================  ===================================================================
code                       when
=========================  ===================================================================
sni-warning-alert          with SNI the server sent a *warning* ``unrecognized_name`` alert in
                           the clear (TLS 1.2): OpenSSL goes on, every Java client with SNI on
                           aborts ("received handshake warning: unrecognized_name")
java-sends-no-sni          the name Java would send is one it refuses to put in SNI (see
                           ``java_sends_sni``), or the endpoint is an IP literal; for a name
                           with an underscore or an edge hyphen, Java's host name check
                           refuses the name itself (``java_accepts_name``): no verifying Java
                           client connects by it, SNI or not
chain-too-long             a probe's server sent more than ``JAVA_MAX_CHAIN`` certificates
                           (Java's ``jdk.tls.maxCertificateChainLength`` default)
legacy-tls                 the handshake with SNI settled on TLS 1.1 or older although the
                           probe offers TLS 1.2 or newer: the server speaks nothing newer
                           (never when ``tls_max`` is 1.1 or older: the probe could not tell)
sni-cert-not-covering      a named endpoint whose certificate with SNI does not cover the name
no-ip-san                  an IP-literal endpoint whose certificate has no IP SAN for it
placeholder-certificate    the certificate without SNI (an IP literal's one probe) is a
                           well-known placeholder (``PLACEHOLDER_SUBJECTS``)
cert-expired               the certificate with SNI expired before the scan
cert-expiring              it expires within ``expiring_within`` days (off unless asked for)
=========================  ===================================================================
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final

from snisweep.core.certs import covers
from snisweep.model import (
    Certificate,
    Endpoint,
    Handshake,
    Observation,
    TLSVersion,
    WarningCode,
)

__all__ = ["JAVA_MAX_CHAIN", "PLACEHOLDER_SUBJECTS", "find", "java_accepts_name", "java_sends_sni"]

#: ``jdk.tls.maxCertificateChainLength``'s default in Java 8u351+, 11.0.17+, 17 and later.
JAVA_MAX_CHAIN: Final = 10

#: Common names of the certificates that servers present when nothing is configured for the
#: name they were asked (lower case). Extend as they are met.
PLACEHOLDER_SUBJECTS: Final = frozenset(
    {
        "kubernetes ingress controller fake certificate",  # ingress-nginx
        "traefik default cert",  # Traefik
        "plesk",  # Plesk's default
        "parallels panel",  # Plesk's former name
        "localhost.localdomain",  # F5 BIG-IP and many appliances out of the box
    }
)

_LEGACY_VERSIONS: Final = frozenset({"SSLv2", "SSLv3", "TLSv1", "TLSv1.1"})
_MAX_BELOW_1_2: Final = frozenset({TLSVersion.TLS1_0, TLSVersion.TLS1_1})

# A label that java.net.IDN.toASCII accepts with USE_STD3_ASCII_RULES (letters, digits and
# hyphens, no hyphen at either end, 63 characters at most). Names here are already A-labels.
_STD3_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# Whole names at once (one match per endpoint: this runs for every row): every label STD3, or
# that with at least one dot (what Java sends as SNI), or an IPv4 literal.
_STD3_NAME = re.compile(rf"{_STD3_LABEL}(?:\.{_STD3_LABEL})*")
_STD3_DOTTED = re.compile(rf"{_STD3_LABEL}(?:\.{_STD3_LABEL})+")
_IPV4 = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_ORDER: Final = tuple(WarningCode)


def java_accepts_name(name: str) -> bool:
    """Whether a Java client that verifies host names can connect by ``name`` at all.

    ``sun.security.util.HostnameChecker`` builds an ``SNIHostName`` from the name before it
    looks at the certificate, SNI on or off, and that refuses a label that is not letters,
    digits and hyphens or that starts or ends with a hyphen ("Illegal given domain name"). So a
    name with an underscore is not only sent without SNI: no verifying Java client
    (``HttpsURLConnection``, ``java.net.http.HttpClient``) connects by it, whatever the server
    does. A name without a dot is accepted (it only goes out without SNI). Checked against
    Java 17 by ``tests/test_java_client.py``.
    """
    return _STD3_NAME.fullmatch(name.removesuffix(".")) is not None


def java_sends_sni(name: str) -> bool:
    """Whether a Java client (JSSE, Java 8 to 25) with SNI enabled puts ``name`` in its SNI.

    ``sun.security.ssl.Utilities.rawToSNIHostName`` sends a name only when it holds a dot that
    is not its first character, is no IP literal and makes a valid ``SNIHostName`` (every label
    letters, digits and hyphens, not starting or ending with a hyphen); a trailing dot is
    dropped first. Anything else silently goes out without SNI.
    """
    name = name.removesuffix(".")
    return _STD3_DOTTED.fullmatch(name) is not None and _IPV4.fullmatch(name) is None


def find(
    endpoint: Endpoint,
    with_sni: Observation | None,
    without_sni: Observation | None,
    now: datetime,
    expiring_within: int | None = None,
    *,
    sni_covers: bool | None = None,
) -> tuple[WarningCode, ...]:
    """The warnings for an endpoint, in ``WarningCode`` order. ``with_sni`` is an IP literal's
    one probe (made without SNI); ``now`` is when the scan of the endpoint started;
    ``sni_covers`` is ``classify``'s finding whether that probe's certificate covers the name
    (computed here when not given)."""
    found: set[WarningCode] = set()
    named = endpoint.sni is not None
    sni_hs = with_sni if isinstance(with_sni, Handshake) else None
    nosni_hs = without_sni if isinstance(without_sni, Handshake) else None
    if not named or not java_sends_sni(endpoint.identity):
        found.add(WarningCode.JAVA_SENDS_NO_SNI)
    for handshake in (sni_hs, nosni_hs):
        if handshake is not None and (handshake.chain_length or 0) > JAVA_MAX_CHAIN:
            found.add(WarningCode.CHAIN_TOO_LONG)
    if sni_hs is not None:
        if named and "unrecognized_name" in sni_hs.warning_alerts:
            found.add(WarningCode.SNI_WARNING_ALERT)
        if sni_hs.tls_version in _LEGACY_VERSIONS and endpoint.tls_max not in _MAX_BELOW_1_2:
            found.add(WarningCode.LEGACY_TLS)
        certificate = sni_hs.certificate
        if certificate is not None:
            if sni_covers is None:
                sni_covers = covers(certificate, endpoint.identity)
            found.update(
                _certificate_warnings(endpoint, certificate, now, expiring_within, sni_covers)
            )
    default = nosni_hs if named else sni_hs
    if default is not None and default.certificate and _is_placeholder(default.certificate):
        found.add(WarningCode.PLACEHOLDER_CERTIFICATE)
    if not found:
        return ()
    return tuple(code for code in _ORDER if code in found)


def _certificate_warnings(
    endpoint: Endpoint,
    certificate: Certificate,
    now: datetime,
    expiring_within: int | None,
    covering: bool,
) -> set[WarningCode]:
    found: set[WarningCode] = set()
    if not covering:
        found.add(
            WarningCode.SNI_CERT_NOT_COVERING if endpoint.sni is not None else WarningCode.NO_IP_SAN
        )
    not_after = certificate.not_after
    if not_after is not None:
        if not_after <= now:
            found.add(WarningCode.CERT_EXPIRED)
        elif expiring_within is not None and not_after <= now + timedelta(days=expiring_within):
            found.add(WarningCode.CERT_EXPIRING)
    return found


def _is_placeholder(certificate: Certificate) -> bool:
    return any(name.lower() in PLACEHOLDER_SUBJECTS for name in certificate.common_names)
