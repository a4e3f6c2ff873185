"""Advice: what to do about a row, in one sentence (column ``advice``). Pure: no I/O.

The verdict, reason and warnings say what a client meets at an endpoint; the advice says what
to do about it. It depends on nothing else, so a row's advice is a lookup, cached: the same
verdict, reason and warnings always give the same sentence (``advise``).

One sentence per row, the most urgent thing to do; the ``warnings`` column keeps the rest, and a
scan after the fix gives the next advice. The first line that applies wins:

==  ======================  ==================================================================
#   row                     advice
==  ======================  ==================================================================
1   error                   the reason's (``REASONS``): what to check. Nothing is known
                            about SNI until both probes work, so no warning takes over
2   any other, warned       the first of cert-expired, sni-cert-not-covering, no-ip-san,
                            chain-too-long, legacy-tls (``WARNINGS``): these fail clients
                            whether they send SNI or not, so fixing SNI alone would not help
3   required, mismatched,   the first of java-sends-no-sni (enabling SNI cannot help: Java
    warned                  sends none for this name), sni-warning-alert (enabling it would
                            break the endpoint until the server knows the name),
                            placeholder-certificate (``SNI_WARNINGS``)
4   required, mismatched    the reason's: enable SNI on the client (``ENABLE_SNI``, with the
                            platform where that is a setting) or give the server a default
                            that works without SNI
5   optional, warned        the first of sni-warning-alert, placeholder-certificate,
                            cert-expiring, java-sends-no-sni (``WARNINGS``; not for
                            ``ip-literal``, where every row has it and the reason says so)
6   optional                the reason's: nothing to do
==  ======================  ==================================================================

``cert-expiring`` takes over on optional rows only: on a row that needs SNI, the SNI remedy
is the more urgent. Every sentence is plain text, ends with a full stop, holds no line break and
is at most ``MAX_LENGTH`` characters (``tests/test_advice.py`` checks every combination).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from snisweep.model import Reason, Verdict, WarningCode

__all__ = ["ENABLE_SNI", "MAX_LENGTH", "REASONS", "SNI_WARNINGS", "WARNINGS", "advise"]

#: The longest advice: a spreadsheet cell that can be read at a glance.
MAX_LENGTH: Final = 300

#: How a client gets SNI, with the platform where SNI is a setting that many audits are for
#: (ServiceNow: a system property on the instance, picked up within about 30 s, and a MID
#: server property of the same name, read when the MID server starts).
ENABLE_SNI: Final = (
    "enable SNI on the client (ServiceNow: glide.outbound.tls_sni.enabled=true on the "
    "instance and on each MID server, restart the MID servers, allow ~30 s)"
)

_W = WarningCode
_R = Reason

#: Each reason's advice, for a row that no warning takes over.
REASONS: Final[Mapping[Reason, str]] = MappingProxyType(
    {
        # required: the server needs SNI; either the client sends it or the server stops needing it
        _R.NOSNI_ALERT_UNRECOGNIZED_NAME: (
            f"Clients without SNI are refused: {ENABLE_SNI}, or give the server a default for "
            "them (nginx: a default_server without ssl_reject_handshake)."
        ),
        _R.NOSNI_ALERT_HANDSHAKE_FAILURE: (
            f"Clients without SNI are refused: {ENABLE_SNI}, or give the server a default "
            "certificate for them (HAProxy: drop strict-sni)."
        ),
        _R.NOSNI_ALERT: (
            f"Clients without SNI are refused: {ENABLE_SNI}, or give the server a default "
            "certificate that works without SNI."
        ),
        _R.NOSNI_RESET: (
            f"Clients without SNI are cut off: {ENABLE_SNI}, or have the server or its SNI "
            "router pass connections without SNI to a default backend."
        ),
        _R.NOSNI_CLOSED: (
            f"Clients without SNI are cut off: {ENABLE_SNI}, or have the server or its SNI "
            "router pass connections without SNI to a default backend."
        ),
        _R.NOSNI_TIMEOUT: (
            f"Clients without SNI hang: {ENABLE_SNI}, or have the server or its SNI router "
            "pass connections without SNI to a default backend."
        ),
        _R.NOSNI_NOT_TLS: (
            f"Clients without SNI get no TLS: {ENABLE_SNI}, or have the server or its SNI "
            "router pass connections without SNI to a TLS default backend."
        ),
        _R.NOSNI_TLS_FAILURE: (
            f"Clients without SNI fail the handshake: {ENABLE_SNI}, or give the server a "
            "default certificate that works without SNI."
        ),
        _R.NOSNI_HTTP_MISDIRECTED: (
            f"Clients without SNI get 421 Misdirected Request: {ENABLE_SNI}, or make the "
            "server's default virtual host serve this name."
        ),
        _R.NOSNI_HTTP_REFUSED: (
            f"Clients without SNI are refused at the HTTP level: {ENABLE_SNI}, or let the "
            "server answer them (Apache: SSLStrictSNIVHostCheck off)."
        ),
        # mismatched
        _R.DEFAULT_CERTIFICATE: (
            f"Clients without SNI get a certificate for another name: {ENABLE_SNI}, or make "
            "the server's default certificate cover this name."
        ),
        # optional
        _R.SAME_CERTIFICATE: "Nothing to do: clients without SNI get the same certificate.",
        _R.COVERING_CERTIFICATE: (
            "Nothing to do: clients without SNI get a certificate that also covers the name."
        ),
        _R.IP_LITERAL: (
            "Nothing to do for SNI: no client sends SNI to an IP address, and this one answers "
            "without it."
        ),
        # error: what to check before anything can be said about SNI
        _R.DNS_FAILURE: (
            "Check the host name: it does not resolve here (a typo, a retired name, or one only "
            "another DNS view knows: scan from where the clients run)."
        ),
        _R.CONNECT_REFUSED: (
            "Check the port and the service: nothing accepts connections there, or a firewall "
            "rejects them."
        ),
        _R.CONNECT_TIMEOUT: (
            "Check the firewall and the route: no TCP connection within the timeout (a filtered "
            "port; on a slow network, raise --timeout)."
        ),
        _R.CONNECT_FAILED: (
            "Check the network path: the host or its network is unreachable from here (routing, "
            "VPN, firewall)."
        ),
        _R.HANDSHAKE_TIMEOUT: (
            "Check that this port speaks TLS: it accepts connections but sends no handshake in "
            "time (a plain-text port, or a slow server: raise --timeout)."
        ),
        _R.HANDSHAKE_RESET: (
            "Check the server's TLS setup and any firewall or IPS in between: the handshake is "
            "reset even with SNI."
        ),
        _R.HANDSHAKE_CLOSED: (
            "Check the server's TLS setup and any firewall or IPS in between: the connection is "
            "closed during the handshake even with SNI."
        ),
        _R.NOT_TLS: (
            "Check the port: it answers, but not with TLS (plain HTTP or another protocol); list "
            "the TLS port, or the service's TLS URL."
        ),
        _R.TLS_ALERT: (
            "Check the server's TLS configuration against the alert in sni_error (client "
            "certificate required, no common cipher, ...): it refuses the handshake even with SNI."
        ),
        _R.SNI_REJECTED: (
            "Configure this name on the server (ServerName/ServerAlias, server_name, a "
            "certificate for it), or check that the name points to the right server."
        ),
        _R.TLS_FAILURE: (
            "Check the server's TLS configuration against sni_error (no common protocol version "
            "or cipher, ...): the handshake fails even with SNI."
        ),
        _R.IP_LITERAL_REJECTED: (
            "Connect by name instead of by IP address: the server serves names only and refuses "
            "clients that send none."
        ),
        _R.NOSNI_CONNECT_FAILED: (
            "Scan again: the connection for the probe without SNI failed where the one with SNI "
            "worked (a flaky network, a connection limit), which says nothing about SNI."
        ),
        _R.TLS_VERSION_UNSUPPORTED: (
            "Check the TLS range: the server speaks no version in --tls-min/--tls-max; enable "
            "TLS 1.2 or 1.3 on the server, or widen the range the client allows."
        ),
        _R.PROXY_REFUSED: (
            "Check the proxy URL's host and port: nothing accepts connections there (is the "
            "proxy running?)."
        ),
        _R.PROXY_UNREACHABLE: (
            "Check the proxy URL's host name and the route to it: it does not resolve, or it "
            "cannot be reached from here."
        ),
        _R.PROXY_TIMEOUT: (
            "Check the proxy: it did not accept the connection or answer CONNECT in time "
            "(overloaded, or a firewall in between; raise --timeout)."
        ),
        _R.PROXY_AUTH_REQUIRED: (
            "Check the proxy credentials: put them in the proxy URL as "
            "http://USER:PASSWORD@HOST:PORT (percent-encoded), or correct them."
        ),
        _R.PROXY_DENIED: (
            "Check the proxy's rules: it will not tunnel to this host or port (Squid allows "
            "CONNECT to port 443 only by default: add the port to SSL_ports)."
        ),
        _R.PROXY_CONNECT_FAILED: (
            "Check the destination from the proxy's side: the proxy could not reach it (its "
            "DNS, its firewall, or the server is down)."
        ),
        _R.PROXY_BAD_ANSWER: (
            "Check the proxy URL: what answers there is no HTTP CONNECT proxy, or it closed the "
            "connection (only http:// proxies are supported)."
        ),
        _R.INTERNAL_ERROR: (
            "Report this as a snisweep bug, with the row's detail: the endpoint could not be "
            "scanned."
        ),
    }
)

#: Each warning's advice where it takes over a row (lines 2 and 5 of the table).
WARNINGS: Final[Mapping[WarningCode, str]] = MappingProxyType(
    {
        _W.SNI_WARNING_ALERT: (
            "Configure this name on the server (ServerName/ServerAlias, server_name): it answers "
            "it with a warning unrecognized_name alert that makes Java clients with SNI abort; "
            "until then keep SNI off on them (the endpoint works without)."
        ),
        _W.JAVA_SENDS_NO_SNI: (
            "Nothing to do for SNI: Java sends none for this name and none is needed; but if "
            "the name has an underscore or a hyphen at a label's end, Java refuses it outright: "
            "use a DNS alias without one."
        ),
        _W.CHAIN_TOO_LONG: (
            "Send a shorter chain (the leaf and its intermediates only): Java rejects more than "
            "10 certificates, unless the client raises jdk.tls.maxCertificateChainLength."
        ),
        _W.LEGACY_TLS: (
            "Enable TLS 1.2 or 1.3 on the server: it speaks only TLS 1.1 or older, which "
            "current Java, OpenSSL and browsers refuse by default."
        ),
        _W.SNI_CERT_NOT_COVERING: (
            "Fix the server's certificate for this name: even with SNI it does not cover the "
            "name, so every client that verifies host names fails, SNI or not."
        ),
        _W.NO_IP_SAN: (
            "Connect by name, or add this IP address to the certificate's subjectAltName: "
            "without it every client that verifies fails, SNI or not."
        ),
        _W.PLACEHOLDER_CERTIFICATE: (
            "Configure a real default certificate on the server: without a name it presents a "
            "well-known placeholder, so nothing is set up for clients that send none."
        ),
        _W.CERT_EXPIRED: (
            "Renew the certificate: it has expired, so every client that verifies certificates "
            "fails, SNI or not."
        ),
        _W.CERT_EXPIRING: (
            "Renew the certificate soon: it expires within the --expiring-within days, and "
            "then every client that verifies certificates fails."
        ),
    }
)

#: On a row that needs SNI (required, mismatched): the warnings that change what to do about
#: SNI (line 3 of the table).
SNI_WARNINGS: Final[Mapping[WarningCode, str]] = MappingProxyType(
    {
        _W.JAVA_SENDS_NO_SNI: (
            "Enabling SNI will not help Java clients: Java sends no SNI for this name (no dot, "
            "or a label not of letters, digits and hyphens); connect by a name Java accepts, or "
            "make the server's default work without SNI."
        ),
        _W.SNI_WARNING_ALERT: (
            "Do not just enable SNI: the server answers this name with a warning "
            "unrecognized_name alert that makes Java abort; first configure the name on the "
            "server (ServerName/ServerAlias, server_name), then enable SNI."
        ),
        _W.PLACEHOLDER_CERTIFICATE: (
            "Without SNI the server presents a placeholder certificate, so nothing is set up for "
            f"those clients: configure a real default for this name, or {ENABLE_SNI}."
        ),
    }
)

# The lines of the table, as the warnings each looks for, in order.
_EVERY_CLIENT: Final = (
    _W.CERT_EXPIRED,
    _W.SNI_CERT_NOT_COVERING,
    _W.NO_IP_SAN,
    _W.CHAIN_TOO_LONG,
    _W.LEGACY_TLS,
)
_SNI_NEEDED: Final = (_W.JAVA_SENDS_NO_SNI, _W.SNI_WARNING_ALERT, _W.PLACEHOLDER_CERTIFICATE)
_OPTIONAL: Final = (
    _W.SNI_WARNING_ALERT,
    _W.PLACEHOLDER_CERTIFICATE,
    _W.CERT_EXPIRING,
    _W.JAVA_SENDS_NO_SNI,
)
# Warnings a reason already speaks for: every IP-literal row says Java sends no SNI.
_IMPLIED: Final[Mapping[Reason, frozenset[WarningCode]]] = MappingProxyType(
    {_R.IP_LITERAL: frozenset({_W.JAVA_SENDS_NO_SNI})}
)


@functools.lru_cache(maxsize=1024)
def advise(verdict: Verdict, reason: Reason, warnings: tuple[WarningCode, ...] = ()) -> str:
    """The advice for a row with this verdict, reason and warnings (see the table above).

    Cached: rows repeat a few hundred combinations at most, and this runs for every row.
    """
    if verdict is Verdict.ERROR:
        return REASONS[reason]
    for code in _EVERY_CLIENT:
        if code in warnings:
            return WARNINGS[code]
    if verdict is Verdict.OPTIONAL:
        implied = _IMPLIED.get(reason, frozenset())
        for code in _OPTIONAL:
            if code in warnings and code not in implied:
                return WARNINGS[code]
    else:
        for code in _SNI_NEEDED:
            if code in warnings:
                return SNI_WARNINGS[code]
    return REASONS[reason]
