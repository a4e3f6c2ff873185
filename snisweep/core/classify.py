"""Classify an endpoint from its two observations. Pure: no I/O.

This is the only module that decides a verdict. The decision table, first matching line wins
("without SNI" is not probed for an endpoint that has no name to send, i.e. an IP literal):

==  ==================  =================================  ==========  =============================
#   with SNI            without SNI                        verdict     reason
==  ==================  =================================  ==========  =============================
1   fatal unrecog_name  (IP literal: the one probe)        error       ip-literal-rejected
2   failure             anything                           error       from the failure (below)
3   handshake, IP lit.  not probed                         optional    ip-literal
4   handshake           the proxy failed                   error       proxy-* (below)
4b  handshake           failure before TLS (connect, DNS)  error       nosni-connect-failed
5   handshake           internal error                     error       internal-error
6   handshake           fatal alert unrecognized_name      required    nosni-alert-unrecognized-name
7   handshake           fatal alert handshake_failure      required    nosni-alert-handshake-failure
8   handshake           any other fatal alert              required    nosni-alert
9   handshake           TCP reset                          required    nosni-reset
10  handshake           connection closed                  required    nosni-closed
11  handshake           handshake timeout                  required    nosni-timeout
12  handshake           an answer that is not TLS          required    nosni-not-tls
13  handshake           any other TLS failure              required    nosni-tls-failure
14  handshake           other cert, not covering the name  mismatched  default-certificate
15  handshake, HTTP S   handshake, HTTP 421 (S not 421)    required    nosni-http-misdirected
16  handshake, HTTP S   handshake, HTTP 400 or 403 or a    required    nosni-http-refused
                        close without an answer
                        (S not 400, 403, 421)
17  handshake           same certificate (SHA-256)         optional    same-certificate
18  handshake           other cert, covering the name      optional    covering-certificate
==  ==================  =================================  ==========  =============================

Line 2 reasons, by the with-SNI failure: dns-failure, connect-refused, connect-timeout,
connect-failed, handshake-timeout, handshake-reset, handshake-closed, not-tls, sni-rejected (a
fatal ``unrecognized_name`` alert: the server does not know the name that was sent), tls-alert
(any other alert), tls-version-unsupported (no protocol version in the client's range, the
probe's ``tls_min``/``tls_max``, that the server accepts), tls-failure, the ``proxy-*`` reasons
of the HTTP CONNECT proxy (proxy-refused, proxy-unreachable, proxy-timeout,
proxy-auth-required, proxy-denied, proxy-connect-failed, proxy-bad-answer), internal-error (a
bug in snisweep for this endpoint: the scheduler hands it in as a ``Failure`` of kind
``INTERNAL``, so that even that verdict is decided here). For an IP-literal endpoint no name was
sent: its one probe is made without SNI, so a fatal ``unrecognized_name`` means the server serves
names only (line 1), and every other failure is worded for a client that connects by address.

Lines 4 and 4b are errors, not ``required``: a TCP connection (or a proxy's tunnel) cannot fail
because of SNI, which is only sent after it is up, so a failed connect says nothing about SNI.
The failures of lines 6-13 are final only after the retries agreed (the scheduler's job, before
this function is called); so are the HTTP refusals of lines 15 and 16, which the scheduler
confirms when ``http_refusal`` names one.

Lines 15 and 16 are the HTTP check (HTTPS endpoints): a handshake that works is not yet a
client that works. Apache httpd refuses the request of a client that sent no SNI with 403
(``SSLStrictSNIVHostCheck on``) or 421 (the virtual host chosen by ``Host`` is not the one the
handshake used), after a perfectly good handshake. ``S`` is a status that came back with SNI: a
probe that got no status with SNI (closed, timed out, not HTTP) says nothing at the HTTP level,
so the TLS-level verdict stands, and a server that answers TLS but never HTTP is never
``required``. A ``mismatched`` endpoint stays ``mismatched``: its clients fail before any
request.
"""

from __future__ import annotations

from typing import Final

from snisweep.core.certs import covers
from snisweep.model import (
    Classification,
    Endpoint,
    Failure,
    FailureKind,
    Handshake,
    HttpAnswer,
    HttpOutcome,
    Observation,
    Reason,
    Verdict,
)

#: HTTP statuses that refuse a request (lines 15 and 16): 421 Misdirected Request, and 400 or
#: 403 as servers answer a request whose handshake carried no SNI.
REFUSALS: Final = frozenset({400, 403, 421})

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
    FailureKind.TLS_VERSION: Reason.TLS_VERSION_UNSUPPORTED,
    FailureKind.PROXY_REFUSED: Reason.PROXY_REFUSED,
    FailureKind.PROXY_UNREACHABLE: Reason.PROXY_UNREACHABLE,
    FailureKind.PROXY_TIMEOUT: Reason.PROXY_TIMEOUT,
    FailureKind.PROXY_AUTH_REQUIRED: Reason.PROXY_AUTH_REQUIRED,
    FailureKind.PROXY_DENIED: Reason.PROXY_DENIED,
    FailureKind.PROXY_CONNECT_FAILED: Reason.PROXY_CONNECT_FAILED,
    FailureKind.PROXY_BAD_ANSWER: Reason.PROXY_BAD_ANSWER,
    FailureKind.INTERNAL: Reason.INTERNAL_ERROR,
}

_REQUIRED_REASONS: dict[FailureKind, Reason] = {
    FailureKind.ALERT: Reason.NOSNI_ALERT,
    FailureKind.RESET: Reason.NOSNI_RESET,
    FailureKind.CLOSED: Reason.NOSNI_CLOSED,
    FailureKind.HANDSHAKE_TIMEOUT: Reason.NOSNI_TIMEOUT,
    FailureKind.NOT_TLS: Reason.NOSNI_NOT_TLS,
    FailureKind.TLS_FAILURE: Reason.NOSNI_TLS_FAILURE,
    FailureKind.TLS_VERSION: Reason.NOSNI_TLS_FAILURE,
}

_REQUIRED_ALERT_REASONS: dict[str, Reason] = {
    "unrecognized_name": Reason.NOSNI_ALERT_UNRECOGNIZED_NAME,
    "handshake_failure": Reason.NOSNI_ALERT_HANDSHAKE_FAILURE,
}


def classify(
    endpoint: Endpoint, with_sni: Observation, without_sni: Observation | None
) -> Classification:
    """Give the verdict for ``endpoint`` from what its two probes observed (see the table above).

    For an IP-literal endpoint ``with_sni`` is its one probe, made without SNI. Whether each
    certificate covers the name is computed here, once, and carried in the result.
    """
    name = endpoint.identity
    sni_cert = with_sni.certificate if isinstance(with_sni, Handshake) else None
    nosni_cert = without_sni.certificate if isinstance(without_sni, Handshake) else None
    sni_covers = covers(sni_cert, name) if sni_cert is not None else None
    if nosni_cert is None:
        nosni_covers = None
    elif sni_cert is not None and nosni_cert.sha256 == sni_cert.sha256:
        nosni_covers = sni_covers
    else:
        nosni_covers = covers(nosni_cert, name)
    verdict = _decide(endpoint, with_sni, without_sni, nosni_covers)
    return Classification(verdict.verdict, verdict.reason, verdict.detail, sni_covers, nosni_covers)


def _decide(
    endpoint: Endpoint,
    with_sni: Observation,
    without_sni: Observation | None,
    nosni_covers: bool | None,
) -> Classification:
    if isinstance(with_sni, Failure):
        if endpoint.sni is None:
            return _address_failed(endpoint, with_sni)
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
    return _compare(endpoint, with_sni, without_sni, nosni_covers=bool(nosni_covers))


def http_refusal(with_sni: Observation, without_sni: Observation | None) -> Reason | None:
    """The reason of line 15 or 16 when the HTTP check refused the request without SNI where the
    same request with SNI was not refused, else None. The scheduler retries the probe without
    SNI while this names a reason, as it does for a failed handshake."""
    if not isinstance(with_sni, Handshake) or not isinstance(without_sni, Handshake):
        return None
    accepted, refused = with_sni.http, without_sni.http
    if accepted is None or refused is None or accepted.status is None:
        return None
    if accepted.status in REFUSALS:
        return None
    if refused.status == 421:
        return Reason.NOSNI_HTTP_MISDIRECTED
    if refused.status in REFUSALS or refused.outcome is HttpOutcome.CLOSED:
        return Reason.NOSNI_HTTP_REFUSED
    return None


def _internal(failure: Failure) -> Classification:
    return Classification(
        Verdict.ERROR,
        Reason.INTERNAL_ERROR,
        f"snisweep hit an internal error on this endpoint ({failure.message}); please report it.",
    )


def _error(endpoint: Endpoint, failure: Failure) -> Classification:
    if failure.kind is FailureKind.INTERNAL:
        return _internal(failure)
    if failure.kind is FailureKind.ALERT and failure.alert == "unrecognized_name":
        name = endpoint.identity
        return Classification(
            Verdict.ERROR,
            Reason.SNI_REJECTED,
            f"The server rejected the name {name} with a fatal unrecognized_name alert: "
            "it does not serve this name at this address.",
        )
    if failure.kind is FailureKind.TLS_VERSION:
        return _no_common_version(endpoint, failure)
    if failure.kind.at_proxy:
        return Classification(
            Verdict.ERROR,
            _ERROR_REASONS[failure.kind],
            f"The proxy failed the probe with SNI ({failure.message}), so nothing can be said "
            "about SNI.",
        )
    return Classification(
        Verdict.ERROR,
        _ERROR_REASONS[failure.kind],
        f"The probe with SNI failed ({failure.message}), so nothing can be said about SNI.",
    )


def _no_common_version(endpoint: Endpoint, failure: Failure) -> Classification:
    if endpoint.tls_min is None and endpoint.tls_max is None:
        allowed = "any TLS version OpenSSL still speaks"
    else:
        allowed = (
            f"TLS {endpoint.tls_min or '1.0'} to {endpoint.tls_max or '1.3'} (tls_min/tls_max)"
        )
    return Classification(
        Verdict.ERROR,
        Reason.TLS_VERSION_UNSUPPORTED,
        f"The server accepts none of {allowed} ({failure.message}): a client limited to "
        "that range cannot connect, SNI or not.",
    )


def _address_failed(endpoint: Endpoint, failure: Failure) -> Classification:
    """An IP-literal endpoint's one probe (no name, so no SNI) failed."""
    if failure.kind is FailureKind.INTERNAL:
        return _internal(failure)
    address = endpoint.host
    if failure.kind is FailureKind.ALERT and failure.alert == "unrecognized_name":
        return Classification(
            Verdict.ERROR,
            Reason.IP_LITERAL_REJECTED,
            f"The server at {address} refused a handshake without a name (a fatal "
            "unrecognized_name alert): it serves names only, so clients that connect by IP "
            "address cannot connect; connect by name.",
        )
    if failure.kind is FailureKind.TLS_VERSION or failure.kind.at_proxy:
        return _error(endpoint, failure)
    return Classification(
        Verdict.ERROR,
        _ERROR_REASONS[failure.kind],
        f"The connection to {address} by IP address failed ({failure.message}); clients that "
        "connect by this address cannot connect either.",
    )


def _without_sni_failed(failure: Failure) -> Classification:
    if failure.kind.at_proxy:
        return Classification(
            Verdict.ERROR,
            _ERROR_REASONS[failure.kind],
            f"The probe with SNI succeeded but the proxy failed the probe without SNI "
            f"({failure.message}), so no verdict is possible.",
        )
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
    if failure.kind is FailureKind.TLS_VERSION and failure.alert is not None:
        reason = Reason.NOSNI_ALERT
    if failure.kind is FailureKind.ALERT and failure.alert in _REQUIRED_ALERT_REASONS:
        reason = _REQUIRED_ALERT_REASONS[failure.alert]
    return Classification(
        Verdict.REQUIRED,
        reason,
        f"With SNI the handshake succeeds; without SNI it fails ({failure.message}): "
        "clients that send no SNI cannot connect.",
    )


def _compare(
    endpoint: Endpoint, with_sni: Handshake, without_sni: Handshake, *, nosni_covers: bool
) -> Classification:
    sni_cert, default_cert = with_sni.certificate, without_sni.certificate
    same = (sni_cert.sha256 if sni_cert else None) == (
        default_cert.sha256 if default_cert else None
    )
    name = endpoint.identity
    if not same and not nosni_covers:
        return Classification(
            Verdict.MISMATCHED,
            Reason.DEFAULT_CERTIFICATE,
            f"Without SNI the server presents a default certificate that does not cover {name}: "
            "clients that send no SNI fail host name verification.",
        )
    refusal = http_refusal(with_sni, without_sni)
    if refusal is not None:
        return _refused(refusal, with_sni.http, without_sni.http)
    if same:
        return Classification(
            Verdict.OPTIONAL,
            Reason.SAME_CERTIFICATE,
            "With and without SNI the server presents the same certificate.",
        )
    return Classification(
        Verdict.OPTIONAL,
        Reason.COVERING_CERTIFICATE,
        f"Without SNI the server presents another certificate, which still covers {name}.",
    )


def _refused(
    reason: Reason, accepted: HttpAnswer | None, refused: HttpAnswer | None
) -> Classification:
    if reason is Reason.NOSNI_HTTP_MISDIRECTED:
        what = "421 Misdirected Request"
    elif refused is not None and refused.status is not None:
        what = str(refused.status)
    else:
        what = "a close without an answer"
    return Classification(
        Verdict.REQUIRED,
        reason,
        f"Both handshakes succeed, but the HTTP request without SNI gets {what} where with SNI "
        f"it gets {accepted}: clients that send no SNI are refused.",
    )
