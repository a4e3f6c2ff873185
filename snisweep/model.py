"""The nouns of snisweep, shared by every module. Pure: no I/O.

One vocabulary runs through the code, the columns and the docs:

    endpoint (what the user listed)
      -> target (one address to dial)
        -> probe (one handshake, with or without SNI)
          -> observation (what happened: a ``Handshake`` or a ``Failure``)
            -> verdict (the classification, see ``snisweep.core.classify``)
              -> record (the row, see ``snisweep.core.record``)

Per-endpoint network trouble is never an exception: it is a ``Failure`` value that ends up in the
row. Exceptions (``snisweep.errors``) are kept for misuse and the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from hashlib import blake2b


class Verdict(StrEnum):
    """What an endpoint means for a client that sends no SNI (column ``verdict``)."""

    REQUIRED = "required"
    MISMATCHED = "mismatched"
    OPTIONAL = "optional"
    ERROR = "error"


class Reason(StrEnum):
    """Why a verdict was given (column ``reason``): a closed list, documented in the README.

    The values are stable: users' scripts and spreadsheets filter on them.
    """

    # required: with SNI the handshake succeeds, without SNI it fails (confirmed by retries)
    NOSNI_ALERT_UNRECOGNIZED_NAME = "nosni-alert-unrecognized-name"
    NOSNI_ALERT_HANDSHAKE_FAILURE = "nosni-alert-handshake-failure"
    NOSNI_ALERT = "nosni-alert"
    NOSNI_RESET = "nosni-reset"
    NOSNI_CLOSED = "nosni-closed"
    NOSNI_TIMEOUT = "nosni-timeout"
    NOSNI_NOT_TLS = "nosni-not-tls"
    NOSNI_TLS_FAILURE = "nosni-tls-failure"
    # required at the HTTP level: both handshakes succeed, the request without SNI is refused
    NOSNI_HTTP_MISDIRECTED = "nosni-http-misdirected"
    NOSNI_HTTP_REFUSED = "nosni-http-refused"
    # mismatched
    DEFAULT_CERTIFICATE = "default-certificate"
    # optional
    SAME_CERTIFICATE = "same-certificate"
    COVERING_CERTIFICATE = "covering-certificate"
    IP_LITERAL = "ip-literal"
    # error: the probe with SNI already failed, or nothing about SNI can be said
    DNS_FAILURE = "dns-failure"
    CONNECT_REFUSED = "connect-refused"
    CONNECT_TIMEOUT = "connect-timeout"
    CONNECT_FAILED = "connect-failed"
    HANDSHAKE_TIMEOUT = "handshake-timeout"
    HANDSHAKE_RESET = "handshake-reset"
    HANDSHAKE_CLOSED = "handshake-closed"
    NOT_TLS = "not-tls"
    TLS_ALERT = "tls-alert"
    SNI_REJECTED = "sni-rejected"
    TLS_FAILURE = "tls-failure"
    IP_LITERAL_REJECTED = "ip-literal-rejected"
    NOSNI_CONNECT_FAILED = "nosni-connect-failed"
    TLS_VERSION_UNSUPPORTED = "tls-version-unsupported"
    # error: the HTTP CONNECT proxy both probes go through failed; nothing about SNI is known
    PROXY_REFUSED = "proxy-refused"
    PROXY_UNREACHABLE = "proxy-unreachable"
    PROXY_TIMEOUT = "proxy-timeout"
    PROXY_AUTH_REQUIRED = "proxy-auth-required"
    PROXY_DENIED = "proxy-denied"
    PROXY_CONNECT_FAILED = "proxy-connect-failed"
    PROXY_BAD_ANSWER = "proxy-bad-answer"
    INTERNAL_ERROR = "internal-error"


class WarningCode(StrEnum):
    """What else a real client meets at an endpoint (column ``warnings``): a closed list,
    documented in the README. Warnings never change the verdict; they are computed by
    ``snisweep.core.pitfalls`` and listed in this order."""

    SNI_WARNING_ALERT = "sni-warning-alert"
    JAVA_SENDS_NO_SNI = "java-sends-no-sni"
    CHAIN_TOO_LONG = "chain-too-long"
    LEGACY_TLS = "legacy-tls"
    SNI_CERT_NOT_COVERING = "sni-cert-not-covering"
    NO_IP_SAN = "no-ip-san"
    PLACEHOLDER_CERTIFICATE = "placeholder-certificate"
    CERT_EXPIRED = "cert-expired"
    CERT_EXPIRING = "cert-expiring"


class FailureKind(StrEnum):
    """What went wrong in one probe, named by the phase that failed."""

    DNS = "dns-failure"
    CONNECT_REFUSED = "connect-refused"
    CONNECT_TIMEOUT = "connect-timeout"
    CONNECT_FAILED = "connect-failed"  # unreachable network or host, or another socket error
    HANDSHAKE_TIMEOUT = "handshake-timeout"
    RESET = "reset"  # TCP reset during the handshake
    CLOSED = "closed"  # the peer closed the connection during the handshake
    ALERT = "alert"  # the peer sent a fatal TLS alert; ``Failure.alert`` names it
    NOT_TLS = "not-tls"  # the peer answered with something that is not TLS
    TLS_FAILURE = "tls-failure"  # any other TLS error (no common cipher, ...)
    # no TLS version both sides allow (the client's range is --tls-min/--tls-max)
    TLS_VERSION = "tls-version"
    # The HTTP CONNECT proxy, before a byte reached the destination:
    PROXY_REFUSED = "proxy-refused"  # the proxy's port refused the TCP connection
    PROXY_UNREACHABLE = "proxy-unreachable"  # its name does not resolve, or no route to it
    PROXY_TIMEOUT = "proxy-timeout"  # no connection to it, or no answer to CONNECT, in time
    PROXY_AUTH_REQUIRED = "proxy-auth-required"  # 407: credentials missing or refused
    PROXY_DENIED = "proxy-denied"  # another 4xx: its policy will not tunnel there
    PROXY_CONNECT_FAILED = "proxy-connect-failed"  # 5xx: it could not reach the destination
    PROXY_BAD_ANSWER = "proxy-bad-answer"  # it closed, or answered something that is not HTTP
    INTERNAL = "internal-error"  # a bug in snisweep, caught so that the scan goes on

    @property
    def before_tls(self) -> bool:
        """True when the failure happened before a single TLS byte was exchanged."""
        return self in _BEFORE_TLS

    @property
    def at_proxy(self) -> bool:
        """True when the HTTP CONNECT proxy failed (every such failure is before TLS too)."""
        return self.value.startswith("proxy-")


_BEFORE_TLS = frozenset(
    {
        FailureKind.DNS,
        FailureKind.CONNECT_REFUSED,
        FailureKind.CONNECT_TIMEOUT,
        FailureKind.CONNECT_FAILED,
        *(kind for kind in FailureKind if kind.value.startswith("proxy-")),
    }
)


class TLSVersion(StrEnum):
    """A protocol version a probe may use (``tls_min``/``tls_max``, ``--tls-min/--tls-max``)."""

    TLS1_0 = "1.0"
    TLS1_1 = "1.1"
    TLS1_2 = "1.2"
    TLS1_3 = "1.3"


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP CONNECT proxy both probes of an endpoint go through.

    ``authorization`` is the ``Proxy-Authorization`` header's value (``Basic ...``) when the
    proxy URL carried credentials. It never reaches a report, a log or an error message: the
    ``repr`` leaves it out and ``display`` (the ``proxy`` column) is ``host:port`` only.
    """

    host: str  # a name, or an IP literal (IPv6 without brackets)
    port: int
    authorization: str | None = field(default=None, repr=False, compare=False)

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Trust:
    """Whether the chain a server sent with SNI verifies for the endpoint's name
    (``sni_cert_trusted``, ``sni_trust_error``)."""

    trusted: bool
    error: str | None = None  # the verifier's reason, when not trusted


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint as the user listed it, with every default already applied.

    ``host`` is normalised: lower case, IDNA A-labels for names, the compressed form for IP
    literals. ``sni`` is the name sent in the probe with SNI and checked against certificates;
    it is ``None`` when the host is an IP literal and no ``sni`` key was given, because no client
    can send SNI for an IP address.
    """

    host: str
    port: int
    address: str | None = None
    sni: str | None = None
    label: str = ""
    tags: tuple[str, ...] = ()
    timeout: float = 5.0
    retries: int = 1
    # The request target of the HTTP check (the URL's path and query, else "/"); None for a
    # plain TLS endpoint (``protocol: tls``, or a URL of a scheme that is not HTTP).
    http_path: str | None = "/"
    # The client's protocol range (None: whatever OpenSSL still can, at either end).
    tls_min: TLSVersion | None = None
    tls_max: TLSVersion | None = None
    # The HTTP CONNECT proxy both probes go through; None: direct.
    proxy: Proxy | None = None
    # One row per address the name resolves to, instead of the first that accepts a connection.
    all_addresses: bool = False

    @property
    def identity(self) -> str:
        """The name (or IP address) a certificate must cover for this endpoint."""
        return self.sni if self.sni is not None else self.host


def endpoint_digest(host: str, port: int, address: str | None, sni: str | None) -> bytes:
    """The one identity of an endpoint, 128 bits: what de-duplicates list entries, what merge
    compares report rows by, and (without ``sni``) what puts an endpoint in its shard.

    Hosts and names are never empty, hold no NUL and are lower case ('None' cannot be one), so
    the text below is unambiguous. BLAKE2b cut to 128 bits: as strong as its 128-bit variant,
    quicker to set up, and the same on every machine and Python (``hash()`` is salted).
    """
    return blake2b(f"{host}\0{port}\0{address}\0{sni}".encode()).digest()[:16]


@dataclass(frozen=True, slots=True)
class Target:
    """One address to dial for an endpoint. Both probes of an endpoint use the same target.

    Through a proxy (``endpoint.proxy``) the connection goes to ``proxy_address`` and the proxy
    is asked to tunnel to ``destination``; ``address`` is None when the proxy resolves the name
    itself, as clients behind a proxy have it do.
    """

    endpoint: Endpoint
    address: str | None
    proxy_address: str | None = None

    @property
    def destination(self) -> str:
        """Where the TLS connection leads: the address, else the name the proxy resolves."""
        return self.address if self.address is not None else self.endpoint.host


@dataclass(frozen=True, slots=True)
class Certificate:
    """Facts read from a leaf certificate (built by ``snisweep.core.certs.inspect``).

    Every text field comes from an untrusted server and has been made printable.
    """

    sha256: str  # lower-case hex of the DER
    subject: str = ""  # RFC 4514
    issuer: str = ""
    dns_names: tuple[str, ...] = ()  # subjectAltName dNSName entries
    ip_addresses: tuple[str, ...] = ()  # subjectAltName iPAddress entries
    common_names: tuple[str, ...] = ()  # subject CN values, used only without DNS SANs
    not_after: datetime | None = None  # aware, UTC
    parse_error: str | None = None  # set when the DER could not be fully parsed

    @property
    def sans(self) -> tuple[str, ...]:
        return self.dns_names + self.ip_addresses


class HttpOutcome(StrEnum):
    """How the HTTP check after a handshake ended."""

    STATUS = "status"  # a status line came back: ``HttpAnswer.status``
    CLOSED = "closed"  # the server closed or reset the connection without a status line
    TIMEOUT = "timeout"  # no status line within what was left of the probe's timeout
    NOT_HTTP = "not-http"  # the answer is no HTTP status line (or too long to be one)


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What the one ``GET`` sent after a handshake got back."""

    outcome: HttpOutcome
    status: int | None = None  # the status code, for ``HttpOutcome.STATUS`` only

    def __str__(self) -> str:
        if self.status is not None:
            return str(self.status)
        return {
            HttpOutcome.CLOSED: "a close without an answer",
            HttpOutcome.TIMEOUT: "no answer in time",
            HttpOutcome.NOT_HTTP: "an answer that is not HTTP",
        }.get(self.outcome, self.outcome.value)


@dataclass(frozen=True, slots=True)
class Handshake:
    """A completed TLS handshake, and what the connection showed around it."""

    tls_version: str
    cipher: str
    certificate: Certificate | None
    # Certificates the server sent (leaf first), None where Python cannot tell.
    chain_length: int | None = None
    # Warning-level alerts the server sent in the clear before the handshake was encrypted,
    # by description (e.g. "unrecognized_name"): OpenSSL ignores them, Java aborts on some.
    warning_alerts: tuple[str, ...] = ()
    # The HTTP check on the same connection; None when none was made (plain TLS, --no-http).
    http: HttpAnswer | None = None
    # The certificates the server sent (DER, leaf first), for the trust check; None when not
    # asked for or where Python cannot tell.
    chain: tuple[bytes, ...] | None = None

    def with_http(self, answer: HttpAnswer) -> Handshake:
        return Handshake(
            self.tls_version,
            self.cipher,
            self.certificate,
            self.chain_length,
            self.warning_alerts,
            answer,
            self.chain,
        )


@dataclass(frozen=True, slots=True)
class Failure:
    """A probe that did not complete its handshake."""

    kind: FailureKind
    message: str  # a short human phrase, e.g. "connection refused"
    alert: str | None = None  # the TLS alert description for ALERT, e.g. "unrecognized_name"

    @property
    def code(self) -> str:
        """A kebab-case code for the failure, e.g. ``alert-unrecognized-name`` or ``reset``."""
        if self.kind is FailureKind.ALERT and self.alert:
            return "alert-" + self.alert.replace("_", "-")
        return self.kind.value

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


Observation = Handshake | Failure


@dataclass(frozen=True, slots=True)
class Probed:
    """The observation a probe settled on, after retries, and how many attempts it took."""

    observation: Observation
    attempts: int


@dataclass(frozen=True, slots=True)
class Classification:
    """A verdict with its reason code and one human sentence, and whether each probe's
    certificate covers the endpoint's name (None: no certificate), decided once, with the
    verdict, for the row and the warnings."""

    verdict: Verdict
    reason: Reason
    detail: str
    sni_covers: bool | None = None
    nosni_covers: bool | None = None
