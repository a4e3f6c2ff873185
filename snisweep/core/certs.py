"""Facts about leaf certificates, and whether a certificate covers a host name. Pure: no I/O.

Certificates come from untrusted servers, so nothing here raises on their content: what cannot
be read is left empty and named in ``Certificate.parse_error``, and every text field is passed
through :func:`printable` before it reaches a row or a terminal. Only the errors that bad content
makes cryptography raise are caught, each where it can happen; anything else is a bug, and
raises (the scheduler turns it into an ``internal-error`` row).

Host name matching (:func:`covers`)
-----------------------------------
This is the reference for column ``*_cert_covers_host``. It follows RFC 6125 as browsers apply it:

* A **DNS name** is matched against the subjectAltName ``dNSName`` entries, case-insensitively.
  A trailing dot is ignored on both sides. Entries in Unicode (U-labels) are compared in their
  IDNA A-label (``xn--``) form, and so is an identity given in Unicode.
* A **wildcard** counts only as the whole left-most label, and stands for exactly one label:
  ``*.example.com`` covers ``a.example.com`` but neither ``example.com`` nor ``a.b.example.com``.
  Partial wildcards (``f*.example.com``), several wildcards (``*.*.example.com``), wildcards
  further right (``a.*.example.com``) and wildcards with fewer than two labels after them
  (``*.com``) never match anything. A wildcard never matches an identity whose left-most label is
  an A-label (``xn--...``).
* An **IP address** is matched only against the subjectAltName ``iPAddress`` entries, compared as
  addresses (so ``2001:db8::1`` and ``2001:0db8:0:0:0:0:0:1`` are the same). A ``dNSName`` entry
  that holds an IP address in text never matches, neither an IP address nor a name.
* The subject **common name** (CN) is used only for DNS names, and only when the certificate has
  no ``dNSName`` entry at all (and its subjectAltName could be read); it follows the same rules
  as a ``dNSName`` entry.
* An entry that is malformed (illegal characters, an IP address in a ``dNSName``, a bad
  wildcard, ...) is skipped on its own; the other entries still match.

The rules themselves are those of ``service_identity`` (its hazmat layer); this module only
builds the patterns entry by entry, so that one bad entry does not void the certificate, and
adds the CN fallback that ``service_identity`` dropped.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import threading
import unicodedata
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import idna
from cryptography import x509
from cryptography.x509.oid import NameOID
from service_identity.exceptions import CertificateError
from service_identity.hazmat import DNS_ID, DNSPattern, IPAddress_ID, IPAddressPattern

from snisweep.model import Certificate

__all__ = ["covers", "days_left", "inspect", "printable"]

# parse_error phrases. Short and stable: they end up in the ``detail`` of rows.
NOT_A_CERTIFICATE = "not a readable X.509 certificate"
UNREADABLE_SUBJECT = "unreadable subject"
UNREADABLE_ISSUER = "unreadable issuer"
UNREADABLE_EXPIRY = "unreadable expiry date"
EXTENSIONS_READ_LENIENTLY = "unreadable extensions, subjectAltName read leniently"
UNREADABLE_SAN = "unreadable subjectAltName"
MALFORMED_SAN_ENTRY = "malformed subjectAltName entry skipped"

# A few thousand distinct certificates cover most scans; identical ones repeat a lot
# (shared default certificates, CDNs).
_INSPECT_CACHE_SIZE = 4096
_COVERS_CACHE_SIZE = 16384

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

# After IDNA conversion, what a usable dNSName entry may contain. service_identity checks this
# for the identity but not for certificate patterns (it strips whitespace and lets most bytes
# through), and an entry such as "a b.example" or an escaped control character must not match.
_LEGAL_PATTERN = re.compile(r"[A-Za-z0-9_.*-]+")

_SAN_OID = b"\x55\x1d\x11"  # 2.5.29.17, DER content of the OBJECT IDENTIFIER

# What cryptography raises for a certificate it loaded but cannot read further (found by
# fuzzing DER and by odd certificates, see tests/test_certs.py). Anything else is a bug and
# must be seen as one.
_NAME_ERRORS = (
    ValueError,  # a string that breaks its type: invalid UTF-8 in a UTF8String, IA5 over 0x7F
    TypeError,  # a BIT STRING value for an attribute other than x500UniqueIdentifier
)
_EXTENSION_ERRORS = (
    *_NAME_ERRORS,  # the same, inside a directoryName; malformed extensions are ValueErrors
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,  # x400Address, ediPartyName
)


def printable(text: str, limit: int = 1024) -> str:
    """``text`` made safe to show: invisible and control characters escaped, length capped.

    C0/C1 controls and DEL become ``\\xNN``; format characters (category Cf: bidi overrides,
    zero-width joiners, ...), line/paragraph separators and lone surrogates become ``\\uNNNN``
    (``\\UNNNNNNNN`` above the BMP). Printable text, non-ASCII letters included, is unchanged.
    A result longer than ``limit`` characters is cut, without splitting an escape, to at most
    ``limit`` characters ending in "…".
    """
    if limit <= 0:
        return ""
    if len(text) <= limit and text.isprintable():
        return text
    # Every character yields at least one, so nothing past ``limit`` can survive the cut.
    truncated = len(text) > limit
    pieces = [_escape(ch) for ch in text[:limit]]
    if not truncated and sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    kept: list[str] = []
    size = 0
    for piece in pieces:
        if size + len(piece) > limit - 1:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept) + "…"


def _escape(ch: str) -> str:
    # Zs (no-break space), Co (private use) and Cn (unassigned) are not "printable" to Python
    # but are harmless in a cell or a terminal, so they are kept.
    if ch.isprintable() or unicodedata.category(ch) not in _ESCAPED_CATEGORIES:
        return ch
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def days_left(certificate: Certificate, now: datetime) -> int | None:
    """Whole days until the certificate expires, rounded down; negative once expired.

    ``None`` when the expiry date is unknown. A naive ``now`` is taken as UTC.
    """
    if certificate.not_after is None:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return (certificate.not_after - now) // timedelta(days=1)


# --- inspect -------------------------------------------------------------------------------

_inspected: OrderedDict[str, Certificate] = OrderedDict()
_inspected_lock = threading.Lock()


def inspect(der: bytes) -> Certificate:
    """Facts from a leaf certificate's DER. Never raises, whatever the bytes.

    Results are cached by SHA-256 of the DER (not by the DER itself, so that a server sending
    huge certificates cannot make the cache hold megabytes), in an LRU of a few thousand.
    """
    digest = hashlib.sha256(der).hexdigest()
    with _inspected_lock:
        cached = _inspected.get(digest)
        if cached is not None:
            _inspected.move_to_end(digest)
            return cached
    # cryptography warns (CryptographyDeprecationWarning, UserWarning) about certificates it
    # still reads but dislikes: a negative serial number, a country name of three letters, ...
    # Servers send those; the warning says nothing to our user, would reach the terminal, and
    # turns into an error under ``-W error``.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        certificate = _inspect(der, digest)
    with _inspected_lock:
        _inspected[digest] = certificate
        _inspected.move_to_end(digest)
        while len(_inspected) > _INSPECT_CACHE_SIZE:
            _inspected.popitem(last=False)
    return certificate


def _inspect(der: bytes, digest: str) -> Certificate:
    try:
        cert = x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion):  # bad DER, a bad string, a bad date, version 4+
        return Certificate(sha256=digest, parse_error=NOT_A_CERTIFICATE)

    errors: list[str] = []
    subject = issuer = ""
    common_names: tuple[str, ...] = ()
    not_after: datetime | None = None
    try:
        subject = printable(cert.subject.rfc4514_string())
        common_names = tuple(
            printable(_text(attribute.value))
            for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        )
    except _NAME_ERRORS:
        errors.append(UNREADABLE_SUBJECT)
    try:
        issuer = printable(cert.issuer.rfc4514_string())
    except _NAME_ERRORS:
        errors.append(UNREADABLE_ISSUER)
    try:
        not_after = cert.not_valid_after_utc
    except ValueError:  # a GeneralizedTime in year 0, which datetime cannot hold
        errors.append(UNREADABLE_EXPIRY)
    sans = _sans(cert, der, errors)
    return Certificate(
        sha256=digest,
        subject=subject,
        issuer=issuer,
        dns_names=tuple(printable(name) for name in sans.dns_names),
        ip_addresses=tuple(printable(address) for address in sans.ip_addresses),
        common_names=common_names,
        not_after=not_after,
        parse_error="; ".join(errors) or None,
    )


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")


@dataclass
class _Sans:
    dns_names: list[str]
    ip_addresses: list[str]


def _sans(cert: x509.Certificate, der: bytes, errors: list[str]) -> _Sans:
    sans = _Sans([], [])
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return sans
    except _EXTENSION_ERRORS:
        # cryptography rejects all extensions at once when one of them is malformed (a 5-byte
        # iPAddress, a duplicate extension, an exotic GeneralName, ...); a browser would still
        # show the names, and the scan should still be able to match them.
        errors.append(EXTENSIONS_READ_LENIENTLY)
        try:
            _read_san_leniently(der, sans, errors)
        except (ValueError, IndexError):
            errors.append(UNREADABLE_SAN)
        return sans
    for name in extension.value:
        if isinstance(name, x509.DNSName):
            sans.dns_names.append(name.value)
        elif isinstance(name, x509.IPAddress):
            # ipaddress renders the compressed form; a network (only legal in name
            # constraints) keeps its prefix and can never match an address.
            sans.ip_addresses.append(str(name.value))
    return sans


def _read_san_leniently(der: bytes, sans: _Sans, errors: list[str]) -> None:
    """Fill ``sans`` from the first subjectAltName extension, walking the DER by hand.

    Raises ValueError or IndexError when the structure around the entries is broken.
    """
    _, start, _ = _element(der, 0)
    _, tbs_start, tbs_end = _element(der, start)
    for tag, value_start, _ in _children(der, tbs_start, tbs_end):
        if tag != 0xA3:  # [3] EXPLICIT Extensions
            continue
        _, list_start, list_end = _element(der, value_start)
        for _, ext_start, ext_end in _children(der, list_start, list_end):
            parts = list(_children(der, ext_start, ext_end))
            oid_tag, oid_start, oid_end = parts[0]
            if oid_tag != 0x06 or der[oid_start:oid_end] != _SAN_OID:
                continue
            _, octets_start, _ = parts[-1]
            _, names_start, names_end = _element(der, octets_start)
            for name_tag, name_start, name_end in _children(der, names_start, names_end):
                raw = der[name_start:name_end]
                if name_tag == 0x82:  # [2] IMPLICIT IA5String dNSName
                    sans.dns_names.append(raw.decode("utf-8", "backslashreplace"))
                elif name_tag == 0x87:  # [7] IMPLICIT OCTET STRING iPAddress
                    if len(raw) in (4, 16):
                        sans.ip_addresses.append(str(ipaddress.ip_address(raw)))
                    elif MALFORMED_SAN_ENTRY not in errors:
                        errors.append(MALFORMED_SAN_ENTRY)
            return
        return


def _element(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, first byte of the value, end of the value) of the DER element at ``pos``."""
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags do not occur in certificates")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise ValueError("indefinite or absurd length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("element runs past the end")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    pos = start
    while pos < end:
        tag, value_start, value_end = _element(data, pos)
        if value_end > end:
            raise ValueError("element runs past its parent")
        yield tag, value_start, value_end
        pos = value_end


# --- covers --------------------------------------------------------------------------------


def covers(certificate: Certificate, identity: str) -> bool:
    """Whether ``certificate`` covers ``identity`` (a DNS name or an IP literal).

    The rules are in the module docstring. Never raises: an identity that is neither a DNS
    name nor an IP address is covered by nothing. Cached by certificate (which its SHA-256
    determines) and identity.
    """
    return _covers(certificate, identity)


@dataclass(frozen=True, slots=True)
class _Patterns:
    dns: tuple[DNSPattern, ...]  # from dNSName entries, or from CNs when the CN fallback applies
    ip: tuple[IPAddressPattern, ...]
    # A name can match a pattern only if it equals one, or if its part after the first label
    # equals a wildcard's: checked first, since most names match none of a certificate's
    # patterns and building service_identity's DNS_ID costs more than the whole check.
    names: frozenset[str]
    wildcard_tails: frozenset[str]

    def may_match(self, name: str) -> bool:
        if not name.isascii():
            return True  # not ours to judge: DNS_ID decides
        name = name.strip().lower()
        return name in self.names or name.partition(".")[2] in self.wildcard_tails


@functools.lru_cache(maxsize=_COVERS_CACHE_SIZE)
def _covers(certificate: Certificate, identity: str) -> bool:
    # The whole Certificate is the key, not only its sha256: hand-built Certificates (tests,
    # other modules) may share a placeholder digest while naming different hosts.
    patterns = _patterns(certificate)
    address = _ip_identity(identity)
    if address is not None:
        ip_id = IPAddress_ID(address)
        return any(ip_id.verify(pattern) for pattern in patterns.ip)
    try:
        name = _to_ascii(identity.removesuffix("."))
        if not patterns.may_match(name):
            return False
        dns_id = DNS_ID(name)
    except (ValueError, UnicodeError):
        return False
    return any(dns_id.verify(pattern) for pattern in patterns.dns)


@functools.lru_cache(maxsize=_INSPECT_CACHE_SIZE)
def _patterns(certificate: Certificate) -> _Patterns:
    if certificate.dns_names:
        names = certificate.dns_names
    elif certificate.parse_error is None or UNREADABLE_SAN not in certificate.parse_error:
        names = certificate.common_names
    else:
        # The certificate may well have dNSName entries we could not read; falling back to the
        # CN could then claim coverage that a browser would refuse.
        names = ()
    dns = tuple(p for p in map(_dns_pattern, names) if p is not None)
    ip = tuple(p for p in map(_ip_pattern, certificate.ip_addresses) if p is not None)
    texts = [p.pattern.decode("ascii") for p in dns]
    return _Patterns(
        dns=dns,
        ip=ip,
        names=frozenset(texts),
        wildcard_tails=frozenset(t.partition(".")[2] for t in texts if "*" in t),
    )


def _dns_pattern(entry: str) -> DNSPattern | None:
    try:
        name = _to_ascii(entry.removesuffix("."))
    except UnicodeError:
        return None
    if not _LEGAL_PATTERN.fullmatch(name):
        return None
    # service_identity accepts "f*.example.com" as a pattern; it cannot match a legal host name
    # there either, but the rule is ours to state, so such patterns are dropped here.
    if "*" in name and not name.startswith("*."):
        return None
    try:
        return DNSPattern.from_bytes(name.encode("ascii"))
    except CertificateError:  # an IP address in text, "*.com", "*.*.example.com", empty, ...
        return None


def _ip_pattern(entry: str) -> IPAddressPattern | None:
    try:
        return IPAddressPattern(pattern=ipaddress.ip_address(entry))
    except ValueError:  # a network, or text that was never an address
        return None


def _ip_identity(identity: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = identity
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    # Certificates carry no zone, so "fe80::1%eth0" is compared as "fe80::1".
    text = text.partition("%")[0]
    if ":" not in text and not text[-1:].isdigit():
        return None  # a host name: an IPv4 literal ends in a digit, an IPv6 one has a colon
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _to_ascii(name: str) -> str:
    """``name`` with every non-ASCII label turned into its A-label (UTS 46 mapping first).

    Label by label, because a wildcard label ``*`` is not valid IDNA.
    """
    if name.isascii():
        return name
    return ".".join(
        label if label.isascii() else idna.encode(label, uts46=True).decode("ascii")
        for label in name.split(".")
    )
