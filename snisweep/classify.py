"""Classify an endpoint from its two observations. Pure: no I/O.

This is the only module that decides a verdict. The decision table, first matching line wins
("without SNI" is not probed for an endpoint that has no name to send, i.e. an IP literal):

==  ==================  =================================  ==========  =============================
#   with SNI            without SNI                        verdict     reason
==  ==================  =================================  ==========  =============================
1   failure             anything                           error       from the failure (below)
2   handshake, IP lit.  not probed                         optional    ip-literal
3   handshake           failure before TLS (connect, DNS)  error       nosni-connect-failed
4   handshake           internal error                     error       internal-error
5   handshake           fatal alert unrecognized_name      required    nosni-alert-unrecognized-name
6   handshake           fatal alert handshake_failure      required    nosni-alert-handshake-failure
7   handshake           any other fatal alert              required    nosni-alert
8   handshake           TCP reset                          required    nosni-reset
9   handshake           connection closed                  required    nosni-closed
10  handshake           handshake timeout                  required    nosni-timeout
11  handshake           an answer that is not TLS          required    nosni-not-tls
12  handshake           any other TLS failure              required    nosni-tls-failure
13  handshake           same certificate (SHA-256)         optional    same-certificate
14  handshake           other cert, covering the name      optional    covering-certificate
15  handshake           other cert, not covering it        mismatched  default-certificate
==  ==================  =================================  ==========  =============================

Line 1 reasons, by the with-SNI failure: dns-failure, connect-refused, connect-timeout,
connect-failed, handshake-timeout, handshake-reset, handshake-closed, not-tls, sni-rejected (a
fatal ``unrecognized_name`` alert: the server does not know the name that was sent), tls-alert
(any other alert), tls-failure, internal-error.

Line 3 is an error, not ``required``: a TCP connection cannot fail because of SNI, which is only
sent after it is up, so a failed connect says nothing about SNI. The failures of lines 5-12 are
final only after the retries agreed (the scheduler's job, before this function is called).
"""

from __future__ import annotations

from snisweep.certs import covers
from snisweep.model import (
    Classification,
    Endpoint,
    Failure,
    FailureKind,
    Handshake,
    Observation,
    Reason,
    Verdict,
)

_ERROR_REASONS: dict[FailureKind, Reason] = {
    FailureKind.DNS: Reason.DNS_FAILURE,
    FailureKind.CONNECT_REFUSED: Reason.CONNECT_REFUSED,
    FailureKind.CONNECT_TIMEOUT: Reason.CONNECT_TIMEOUT,
    FailureKind.CONNECT_FAILED: Reason.CONNECT_FAILED,
    FailureKind.HANDSHAKE_TIMEOUT: Reason.HANDSHAKE_TIMEOUT,
    FailureKind.RESET: Reason.HANDSHAKE_RESET,
    FailureKind.CLOSED: Reason.HANDSHAKE_CLOSED,
    FailureKind.ALERT: Reason.TLS_ALERT,
    FailureKind.NOT_TLS: Reason.NOT_TLS,
    FailureKind.TLS_FAILURE: Reason.TLS_FAILURE,
    FailureKind.INTERNAL: Reason.INTERNAL_ERROR,
}

_REQUIRED_REASONS: dict[FailureKind, Reason] = {
    FailureKind.ALERT: Reason.NOSNI_ALERT,
    FailureKind.RESET: Reason.NOSNI_RESET,
    FailureKind.CLOSED: Reason.NOSNI_CLOSED,
    FailureKind.HANDSHAKE_TIMEOUT: Reason.NOSNI_TIMEOUT,
    FailureKind.NOT_TLS: Reason.NOSNI_NOT_TLS,
    FailureKind.TLS_FAILURE: Reason.NOSNI_TLS_FAILURE,
}

_REQUIRED_ALERT_REASONS: dict[str, Reason] = {
    "unrecognized_name": Reason.NOSNI_ALERT_UNRECOGNIZED_NAME,
    "handshake_failure": Reason.NOSNI_ALERT_HANDSHAKE_FAILURE,
}


def classify(
    endpoint: Endpoint, with_sni: Observation, without_sni: Observation | None
) -> Classification:
    """Give the verdict for ``endpoint`` from what its two probes observed (see the table above)."""
    if isinstance(with_sni, Failure):
        return _error(endpoint, with_sni)
    if endpoint.sni is None or without_sni is None:
        return Classification(
            Verdict.OPTIONAL,
            Reason.IP_LITERAL,
            f"{endpoint.host} is an IP address: no client can send SNI for it, "
            "so every client gets the same answer.",
        )
    if isinstance(without_sni, Failure):
        return _without_sni_failed(without_sni)
    return _compare(endpoint, with_sni, without_sni)


def _error(endpoint: Endpoint, failure: Failure) -> Classification:
    if failure.kind is FailureKind.ALERT and failure.alert == "unrecognized_name":
        name = endpoint.identity
        return Classification(
            Verdict.ERROR,
            Reason.SNI_REJECTED,
            f"The server rejected the name {name} with a fatal unrecognized_name alert: "
            "it does not serve this name at this address.",
        )
    return Classification(
        Verdict.ERROR,
        _ERROR_REASONS[failure.kind],
        f"The probe with SNI failed ({failure.message}), so nothing can be said about SNI.",
    )


def _without_sni_failed(failure: Failure) -> Classification:
    if failure.kind.before_tls:
        return Classification(
            Verdict.ERROR,
            Reason.NOSNI_CONNECT_FAILED,
            f"The probe with SNI succeeded but the connection for the probe without SNI failed "
            f"({failure.message}); a TCP connect does not depend on SNI, so no verdict is "
            "possible.",
        )
    if failure.kind is FailureKind.INTERNAL:
        return Classification(
            Verdict.ERROR,
            Reason.INTERNAL_ERROR,
            f"The probe without SNI hit an internal error ({failure.message}).",
        )
    reason = _REQUIRED_REASONS[failure.kind]
    if failure.kind is FailureKind.ALERT and failure.alert in _REQUIRED_ALERT_REASONS:
        reason = _REQUIRED_ALERT_REASONS[failure.alert]
    return Classification(
        Verdict.REQUIRED,
        reason,
        f"With SNI the handshake succeeds; without SNI it fails ({failure.message}): "
        "clients that send no SNI cannot connect.",
    )


def _compare(endpoint: Endpoint, with_sni: Handshake, without_sni: Handshake) -> Classification:
    sni_cert, default_cert = with_sni.certificate, without_sni.certificate
    same = (sni_cert.sha256 if sni_cert else None) == (
        default_cert.sha256 if default_cert else None
    )
    if same:
        return Classification(
            Verdict.OPTIONAL,
            Reason.SAME_CERTIFICATE,
            "With and without SNI the server presents the same certificate.",
        )
    name = endpoint.identity
    if default_cert is not None and covers(default_cert, name):
        return Classification(
            Verdict.OPTIONAL,
            Reason.COVERING_CERTIFICATE,
            f"Without SNI the server presents another certificate, which still covers {name}.",
        )
    return Classification(
        Verdict.MISMATCHED,
        Reason.DEFAULT_CERTIFICATE,
        f"Without SNI the server presents a default certificate that does not cover {name}: "
        "clients that send no SNI fail host name verification.",
    )
