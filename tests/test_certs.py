"""snisweep.core.certs: certificate facts and host name matching. No sockets: certificates are built
on the fly with cryptography and trustme."""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import random
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import idna
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID

from snisweep.core import certs
from snisweep.core.certs import covers, days_left, inspect, printable
from snisweep.model import Certificate

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)

# The parse_error phrases end up in rows, so the tests spell them out.
NOT_A_CERTIFICATE = "not a readable X.509 certificate"

Build = Callable[..., bytes]


def _tlv(tag: int, value: bytes) -> bytes:
    """One DER element, for extensions that cryptography would refuse to build."""
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + value


def _raw_san(*names: tuple[int, bytes]) -> bytes:
    """A GeneralNames SEQUENCE from (context tag, content) pairs: 0x82 dNSName, 0x87 iPAddress."""
    return _tlv(0x30, b"".join(_tlv(tag, content) for tag, content in names))


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def build(key: ec.EllipticCurvePrivateKey) -> Build:
    def build(
        *,
        dns: Sequence[str] | None = None,
        ips: Sequence[str] = (),
        cn: str | None = "leaf.example",
        raw_san: bytes | None = None,
        raw_oid: str = ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string,
        not_after: datetime = NOW + timedelta(days=30),
        serial: int = 0x1234,
    ) -> bytes:
        subject = x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Org")]
            + ([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn is not None else [])
        )
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(not_after - timedelta(days=90))
            .not_valid_after(not_after)
        )
        if dns is not None or ips:
            names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns or ()]
            names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        if raw_san is not None:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(x509.ObjectIdentifier(raw_oid), raw_san),
                critical=False,
            )
        cert = builder.sign(key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.DER)

    return build


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _trustme_der(ca: trustme.CA, *identities: str, common_name: str | None = None) -> bytes:
    pem = ca.issue_cert(*identities, common_name=common_name).cert_chain_pems[0].bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


# --- covers: DNS names ---------------------------------------------------------------------

COVERS_DNS = [
    # (SAN dNSName entries, identity, expected)
    pytest.param(["www.example.com"], "www.example.com", True, id="exact"),
    pytest.param(["www.example.com"], "example.com", False, id="exact-other-name"),
    pytest.param(["WWW.Example.COM"], "www.example.com", True, id="case-san"),
    pytest.param(["www.example.com"], "WWW.EXAMPLE.com", True, id="case-identity"),
    pytest.param(["www.example.com."], "www.example.com", True, id="trailing-dot-san"),
    pytest.param(["www.example.com"], "www.example.com.", True, id="trailing-dot-identity"),
    pytest.param(["*.example.com."], "a.example.com.", True, id="trailing-dot-wildcard"),
    pytest.param(["*.example.com"], "a.example.com", True, id="wildcard-one-label"),
    pytest.param(["*.EXAMPLE.com"], "A.example.COM", True, id="wildcard-case"),
    pytest.param(["*.example.com"], "a.b.example.com", False, id="wildcard-not-two-labels"),
    pytest.param(["*.example.com"], "example.com", False, id="wildcard-not-bare-domain"),
    pytest.param(["f*.example.com"], "foo.example.com", False, id="partial-wildcard-prefix"),
    pytest.param(["*o.example.com"], "foo.example.com", False, id="partial-wildcard-suffix"),
    pytest.param(["f*.example.com"], "f.example.com", False, id="partial-wildcard-empty"),
    pytest.param(["*.*.example.com"], "a.b.example.com", False, id="two-wildcards"),
    pytest.param(["a.*.example.com"], "a.b.example.com", False, id="wildcard-not-left-most"),
    pytest.param(["*.com"], "example.com", False, id="wildcard-tld"),
    pytest.param(["*"], "localhost", False, id="wildcard-alone"),
    pytest.param(["*.example.com"], "xn--bcher-kva.example.com", False, id="wildcard-vs-xn--"),
    pytest.param(
        ["*.xn--bcher-kva.example"], "www.xn--bcher-kva.example", True, id="wildcard-idn-tail"
    ),
    pytest.param(
        ["xn--bcher-kva.example"],
        idna.encode("bücher.example", uts46=True).decode(),
        True,
        id="idna-alabel-san-normalised-identity",
    ),
    pytest.param(["XN--BCHER-KVA.example"], "xn--bcher-kva.example", True, id="idna-alabel-case"),
    pytest.param(["xn--bcher-kva.example"], "bücher.example", True, id="idna-ulabel-identity"),
    pytest.param(["192.0.2.1"], "192.0.2.1", False, id="ip-string-in-dns-san"),
    pytest.param(["a b.example.com"], "a b.example.com", False, id="space-in-san"),
    pytest.param([""], "example.com", False, id="empty-san"),
    pytest.param(["example.com"], "", False, id="empty-identity"),
    pytest.param(["example.com"], "exa mple.com", False, id="identity-illegal-chars"),
    pytest.param(["*.example.com"], "*.example.com", False, id="identity-is-wildcard"),
]


@pytest.mark.parametrize(("sans", "identity", "expected"), COVERS_DNS)
def test_covers_dns(build: Build, sans: list[str], identity: str, expected: bool) -> None:
    cert = inspect(build(dns=sans, cn=None))
    assert cert.dns_names == tuple(sans)  # read, so that a False below means "not covered"
    assert covers(cert, identity) is expected


@pytest.mark.parametrize(
    ("san", "identity", "expected"),
    [
        pytest.param("bücher.example", "xn--bcher-kva.example", True, id="ulabel-san"),
        pytest.param("Bücher.example", "xn--bcher-kva.example", True, id="ulabel-san-case"),
        pytest.param("*.bücher.example", "www.xn--bcher-kva.example", True, id="ulabel-wildcard"),
        pytest.param("bücher.example", "bucher.example", False, id="ulabel-san-other-name"),
    ],
)
def test_covers_ulabel_san(build: Build, san: str, identity: str, expected: bool) -> None:
    # cryptography refuses to build a U-label dNSName, but servers send them: write the DER.
    der = build(raw_san=_raw_san((0x82, san.encode())), cn=None)
    cert = inspect(der)
    assert cert.dns_names == (san,)
    assert covers(cert, identity) is expected


# --- covers: IP addresses ------------------------------------------------------------------

COVERS_IP = [
    # (SAN iPAddress entries, SAN dNSName entries, identity, expected)
    pytest.param(["192.0.2.1"], [], "192.0.2.1", True, id="ipv4"),
    pytest.param(["192.0.2.1"], [], "192.0.2.2", False, id="ipv4-other"),
    pytest.param(["2001:db8::1"], [], "2001:db8::1", True, id="ipv6"),
    pytest.param(["2001:db8::1"], [], "2001:0DB8:0:0:0:0:0:1", True, id="ipv6-long-form"),
    pytest.param(["2001:0db8:0000::0001"], [], "2001:db8::1", True, id="ipv6-san-odd-form"),
    pytest.param(["2001:db8::1"], [], "[2001:db8::1]", True, id="ipv6-brackets"),
    pytest.param(["fe80::1"], [], "fe80::1%eth0", True, id="ipv6-zone-ignored"),
    pytest.param(["2001:db8::1"], [], "2001:db8::2", False, id="ipv6-other"),
    pytest.param(["192.0.2.1"], [], "::ffff:192.0.2.1", False, id="ipv4-mapped-is-not-ipv4"),
    pytest.param([], ["192.0.2.1"], "192.0.2.1", False, id="ip-in-dns-san-only"),
    pytest.param([], ["2001:db8::1"], "2001:db8::1", False, id="ipv6-in-dns-san-only"),
    pytest.param(["192.0.2.1"], ["example.com"], "example.com", True, id="mixed-dns"),
    pytest.param(["192.0.2.1"], ["example.com"], "192.0.2.1", True, id="mixed-ip"),
    pytest.param(["192.0.2.1"], [], "1.2.3", False, id="not-an-ip-nor-a-name"),
]


@pytest.mark.parametrize(("ips", "dns", "identity", "expected"), COVERS_IP)
def test_covers_ip(
    build: Build, ips: list[str], dns: list[str], identity: str, expected: bool
) -> None:
    cert = inspect(build(dns=dns, ips=ips, cn=None))
    assert cert.sans == (*dns, *(str(ipaddress.ip_address(ip)) for ip in ips))
    assert covers(cert, identity) is expected


def test_ip_addresses_in_compressed_form(build: Build) -> None:
    cert = inspect(build(ips=["2001:0db8:0000:0000:0000:0000:0000:0001", "192.0.2.1"]))
    assert cert.ip_addresses == ("2001:db8::1", "192.0.2.1")


def test_ip_identity_not_matched_by_cn(build: Build) -> None:
    cert = inspect(build(cn="192.0.2.1"))
    assert cert.common_names == ("192.0.2.1",)
    assert not covers(cert, "192.0.2.1")


# --- covers: the common name ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("dns", "cn", "identity", "expected"),
    [
        pytest.param(None, "legacy.example", "legacy.example", True, id="cn-no-san"),
        pytest.param(None, "LEGACY.example.", "legacy.example", True, id="cn-case-dot"),
        pytest.param(None, "*.legacy.example", "a.legacy.example", True, id="cn-wildcard"),
        pytest.param(None, "*.legacy.example", "legacy.example", False, id="cn-wildcard-bare"),
        pytest.param(None, "legacy.example", "other.example", False, id="cn-other"),
        pytest.param(["www.example"], "legacy.example", "legacy.example", False, id="cn-ignored"),
        pytest.param(
            ["*.*.bad"], "legacy.example", "legacy.example", False, id="cn-ignored-bad-san"
        ),
        pytest.param([""], "legacy.example", "legacy.example", False, id="cn-ignored-empty-san"),
        pytest.param(None, "Example Org", "example.org", False, id="cn-not-a-name"),
    ],
)
def test_covers_common_name(
    build: Build, dns: list[str] | None, cn: str, identity: str, expected: bool
) -> None:
    cert = inspect(build(dns=dns, cn=cn))
    assert (cert.dns_names, cert.common_names) == (tuple(dns or ()), (cn,))
    assert covers(cert, identity) is expected


def test_common_name_used_when_only_ip_sans(build: Build) -> None:
    cert = inspect(build(ips=["192.0.2.1"], cn="legacy.example"))
    assert covers(cert, "legacy.example")
    assert covers(cert, "192.0.2.1")


def test_several_common_names(key: ec.EllipticCurvePrivateKey) -> None:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "one.example"),
            x509.NameAttribute(NameOID.COMMON_NAME, "two.example"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    facts = inspect(cert.public_bytes(serialization.Encoding.DER))
    assert facts.common_names == ("one.example", "two.example")
    assert covers(facts, "one.example")
    assert covers(facts, "two.example")


# --- covers: malformed entries -------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["", "*.*.example.com", "192.0.2.7", "exa mple.com", "a\x00b.example.com", "*", "*.com"],
)
def test_bad_dns_entry_does_not_stop_others(build: Build, bad: str) -> None:
    cert = inspect(build(dns=[bad, "good.example.com", "*.wild.example"]))
    assert cert.parse_error is None
    assert covers(cert, "good.example.com")
    assert covers(cert, "a.wild.example")
    assert not covers(cert, "bad.example.com")


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param((0x87, b"\x01\x02\x03\x04\x05"), id="ip-5-bytes"),
        pytest.param((0x87, b"\x0a\x00\x00\x00\x00\x00\x00\xff"), id="ip-bad-netmask"),
        pytest.param((0x87, b""), id="ip-empty"),
        pytest.param((0x82, b"\xff\xfe.example"), id="dns-not-utf8"),
        # cryptography raises UnsupportedGeneralNameType for these two.
        pytest.param((0xA3, _tlv(0x30, b"")), id="x400Address"),
        pytest.param((0xA5, _tlv(0xA1, _tlv(0x0C, b"party"))), id="ediPartyName"),
        # ...and TypeError for a BIT STRING attribute value other than x500UniqueIdentifier.
        pytest.param(
            (
                0xA4,
                _tlv(0x30, _tlv(0x31, _tlv(0x30, b"\x06\x03\x55\x04\x03" + _tlv(0x03, b"\x00ab")))),
            ),
            id="directoryName-bitstring-cn",
        ),
        pytest.param((0x87, b"\x01\x02\x03"), id="ip-3-bytes"),
    ],
)
def test_entry_cryptography_rejects_does_not_stop_others(
    build: Build, bad: tuple[int, bytes]
) -> None:
    # cryptography refuses the whole extension list for one such entry; inspect reads the
    # subjectAltName by hand then.
    raw = _raw_san((0x82, b"good.example.com"), bad, (0x87, bytes([192, 0, 2, 9])))
    cert = inspect(build(raw_san=raw, cn="good.example.com"))
    assert cert.subject  # the rest of the certificate is still read
    assert cert.parse_error is not None
    assert "subjectAltName read leniently" in cert.parse_error
    assert cert.dns_names[0] == "good.example.com"
    assert "192.0.2.9" in cert.ip_addresses
    assert covers(cert, "good.example.com")
    assert covers(cert, "192.0.2.9")
    assert all(printable(name) == name for name in cert.sans)


def test_unreadable_san_blocks_cn_fallback(build: Build) -> None:
    # A broken GeneralNames: there may be dNSName entries we cannot see, so the CN must not
    # stand in for them. (0x87 with a 5-byte address forces the lenient path, whose walker then
    # meets an element running past its parent.)
    raw = _tlv(0x30, _tlv(0x87, b"\x01\x02\x03\x04\x05") + b"\x82\x7fshort")
    cert = inspect(build(raw_san=raw, cn="legacy.example"))
    assert cert.parse_error is not None
    assert "unreadable subjectAltName" in cert.parse_error
    assert cert.common_names == ("legacy.example",)
    assert not covers(cert, "legacy.example")


def test_duplicate_san_extension(build: Build) -> None:
    # cryptography will not build two subjectAltNames: build another extension (OID 2.5.29.99)
    # and rename it in the DER.
    raw = _raw_san((0x82, b"second.example"))
    der = build(dns=["first.example"], raw_oid="2.5.29.99", raw_san=raw)
    placeholder = b"\x06\x03\x55\x1d\x63"
    assert der.count(placeholder) == 1
    cert = inspect(der.replace(placeholder, b"\x06\x03\x55\x1d\x11"))
    assert cert.dns_names == ("first.example",)
    assert cert.parse_error is not None
    assert covers(cert, "first.example")
    assert not covers(cert, "second.example")


# --- covers: trustme certificates ----------------------------------------------------------


def test_covers_trustme(ca: trustme.CA) -> None:
    der = _trustme_der(
        ca, "api.example.com", "*.apps.example.com", "bücher.example", "192.0.2.1", "2001:db8::1"
    )
    cert = inspect(der)
    assert cert.dns_names == ("api.example.com", "*.apps.example.com", "xn--bcher-kva.example")
    assert cert.ip_addresses == ("192.0.2.1", "2001:db8::1")
    cases = {
        "api.example.com": True,
        "API.example.com.": True,
        "x.apps.example.com": True,
        "apps.example.com": False,
        "x.y.apps.example.com": False,
        "xn--bcher-kva.example": True,
        "192.0.2.1": True,
        "2001:db8:0::1": True,
        "192.0.2.2": False,
        "other.example.com": False,
    }
    assert {identity: covers(cert, identity) for identity in cases} == cases


def test_trustme_common_name_ignored_with_sans(ca: trustme.CA) -> None:
    cert = inspect(_trustme_der(ca, "api.example.com", common_name="legacy.example.com"))
    assert cert.common_names == ("legacy.example.com",)
    assert not covers(cert, "legacy.example.com")


# --- covers: robustness --------------------------------------------------------------------


# Neither a DNS name nor an IP address that the certificate below names.
ODD_IDENTITIES = (
    "", ".", "..", "[", "[]", "%", "*", "a" * 300, "\x00", "bü\u202echer.example", "xn--", "💥",
    "\ud800", "[192.0.2.1", "192.0.2.1]", "[example.com]", "%eth0", "example.com%eth0",
    "192.0.2.1.", "*.example.com", "example..com", "example.com\x00", "xn--zz.example.com",
)  # fmt: skip


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        *((odd, False) for odd in ODD_IDENTITIES),
        # The same certificate covers these, so that "covered by nothing" is told apart.
        ("example.com", True),
        ("EXAMPLE.com.", True),
        ("[192.0.2.1]", True),
        ("192.0.2.1%eth0", True),
        ("a.wild.example", True),
        # service_identity strips surrounding whitespace (the lists never yield such a host),
        # and UTS 46 maps a zero-width space to nothing, as browsers do.
        (" example.com", True),
        ("example.com\n", True),
        ("ex\u200bample.com", True),
    ],
)
def test_covers_odd_identity(build: Build, identity: str, expected: bool) -> None:
    cert = inspect(build(dns=["example.com", "*.wild.example"], ips=["192.0.2.1"]))
    assert cert.sans == ("example.com", "*.wild.example", "192.0.2.1")
    assert covers(cert, identity) is expected


def test_covers_hand_built_certificates_are_not_confused() -> None:
    # Same placeholder digest, different names: the cache must not mix them up.
    one = Certificate(sha256="00" * 32, dns_names=("one.example",))
    two = Certificate(sha256="00" * 32, dns_names=("two.example",))
    assert covers(one, "one.example")
    assert not covers(two, "one.example")
    assert covers(two, "two.example")


def test_covers_unparsed_certificate() -> None:
    cert = inspect(b"")
    assert cert == Certificate(
        sha256=hashlib.sha256(b"").hexdigest(), parse_error=NOT_A_CERTIFICATE
    )
    assert not covers(cert, "example.com")
    assert not covers(cert, "192.0.2.1")


# --- inspect -------------------------------------------------------------------------------


def test_inspect_fields(build: Build) -> None:
    not_after = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    der = build(
        dns=["b.example", "a.example", "*.c.example"],
        ips=["2001:db8::5", "192.0.2.5"],
        cn="b.example",
        not_after=not_after,
    )
    cert = inspect(der)
    assert cert.sha256 == hashlib.sha256(der).hexdigest()
    assert cert.subject == "CN=b.example,O=Example Org"
    assert cert.issuer == "CN=Test CA"
    assert cert.dns_names == ("b.example", "a.example", "*.c.example")
    assert cert.ip_addresses == ("2001:db8::5", "192.0.2.5")
    assert cert.sans == ("b.example", "a.example", "*.c.example", "2001:db8::5", "192.0.2.5")
    assert cert.common_names == ("b.example",)
    assert cert.not_after == not_after
    assert cert.not_after is not None
    assert cert.not_after.utcoffset() == timedelta(0)
    assert cert.parse_error is None


def test_inspect_without_san_or_cn(build: Build) -> None:
    cert = inspect(build(cn=None))
    assert cert.dns_names == ()
    assert cert.ip_addresses == ()
    assert cert.common_names == ()
    assert cert.subject == "O=Example Org"
    assert cert.parse_error is None


def _random_bytes() -> list[bytes]:
    rng = random.Random(6125)
    return [rng.randbytes(rng.randrange(1, 3000)) for _ in range(30)]


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x30",
        b"\x30\x03abc",
        b"\x30\x80\x00\x00",
        b"\x30\x84\xff\xff\xff\xff",
        b"-----BEGIN CERTIFICATE-----\n",
        *_random_bytes(),
    ],
)
def test_inspect_garbage(garbage: bytes) -> None:
    cert = inspect(garbage)
    assert cert.sha256 == hashlib.sha256(garbage).hexdigest()
    assert cert.parse_error
    assert cert == Certificate(sha256=cert.sha256, parse_error=cert.parse_error)


def test_inspect_truncated_certificates(build: Build) -> None:
    der = build(dns=["example.com"])
    assert inspect(der).dns_names == ("example.com",)
    for cut in range(0, len(der), 7):
        truncated = der[:cut]
        sha256 = hashlib.sha256(truncated).hexdigest()
        assert inspect(truncated) == Certificate(sha256=sha256, parse_error=NOT_A_CERTIFICATE)


def test_inspect_flipped_signature_bytes_keep_the_facts(build: Build) -> None:
    # Nobody checks the signature here: damage there changes the digest and nothing else.
    der = build(dns=["example.com", "*.example.net"], ips=["192.0.2.1"])
    facts = inspect(der)
    assert facts.sans == ("example.com", "*.example.net", "192.0.2.1")
    signature = x509.load_der_x509_certificate(der).signature
    assert der.endswith(signature)
    rng = random.Random(3779)
    for _ in range(30):
        mutated = bytearray(der)
        mutated[len(der) - 1 - rng.randrange(len(signature))] ^= 1 << rng.randrange(8)
        sha256 = hashlib.sha256(mutated).hexdigest()
        assert inspect(bytes(mutated)) == dataclasses.replace(facts, sha256=sha256)


_STRING_TAGS = (0x0C, 0x12, 0x13, 0x14, 0x16, 0x1A, 0x1C, 0x1E, 0x03, 0x04, 0x02, 0x17, 0x18)


def test_inspect_flipped_bytes(build: Build) -> None:
    # cryptography's loader is the oracle: what it cannot load is "not a certificate", what
    # it loads keeps its expiry date, and the names read are the names matched.
    der = build(dns=["example.com", "*.example.net"], ips=["192.0.2.1"])
    tags = [i for i, byte in enumerate(der) if byte in _STRING_TAGS]
    rng = random.Random(5280)
    outcomes: Counter[str] = Counter()
    for _ in range(300):
        mutated = bytearray(der)
        for _ in range(rng.randrange(1, 4)):
            if rng.random() < 0.3:  # another string type: exercises the name decoders
                mutated[rng.choice(tags)] = rng.choice(_STRING_TAGS)
            else:
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        damaged = bytes(mutated)
        cert = inspect(damaged)
        sha256 = hashlib.sha256(damaged).hexdigest()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = x509.load_der_x509_certificate(damaged)
        except (ValueError, x509.InvalidVersion):
            assert cert == Certificate(sha256=sha256, parse_error=NOT_A_CERTIFICATE)
            outcomes["unreadable"] += 1
            continue
        assert cert.sha256 == sha256
        assert cert.not_after == loaded.not_valid_after_utc
        assert covers(cert, "example.com") is ("example.com" in map(str.lower, cert.dns_names))
        outcomes["read with errors" if cert.parse_error else "read"] += 1
    assert set(outcomes) == {"unreadable", "read", "read with errors"}, outcomes


def _replace_once(der: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new)
    assert der.count(old) == 1
    return der.replace(old, new)


CN_ZZZ = b"\x06\x03\x55\x04\x03\x0c\x03zzz"  # commonName, UTF8String "zzz"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x05", id="version-6"),
        pytest.param(CN_ZZZ, CN_ZZZ[:5] + b"\x1e\x03\x00A\x00", id="bmpstring-odd-length"),
        pytest.param(CN_ZZZ, CN_ZZZ[:5] + b"\x1e\x03\xd8\x00A", id="bmpstring-lone-surrogate"),
        pytest.param(CN_ZZZ, CN_ZZZ[:5] + b"\x1c\x03abc", id="universalstring-3-bytes"),
        pytest.param(CN_ZZZ, CN_ZZZ[:5] + b"\x13\x03a@\x01", id="printablestring-illegal"),
    ],
)
def test_inspect_strings_cryptography_refuses(build: Build, old: bytes, new: bytes) -> None:
    der = _replace_once(build(cn="zzz"), old, new)
    sha256 = hashlib.sha256(der).hexdigest()
    assert inspect(der) == Certificate(sha256=sha256, parse_error=NOT_A_CERTIFICATE)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"\x16\x03\xff\xfe\xfd", id="ia5string-8-bit"),
        pytest.param(b"\x14\x03\xff\xfe\xfd", id="t61string-8-bit"),
        pytest.param(b"\x0c\x03\xc0\xaf!", id="utf8-overlong"),
        pytest.param(b"\x0c\x03\xed\xa0\x80", id="utf8-surrogate"),
        pytest.param(b"\x03\x03\x00ab", id="bitstring"),  # a TypeError in cryptography
        pytest.param(b"\x02\x03\x01\x02\x03", id="integer"),
    ],
)
def test_inspect_unreadable_subject_keeps_the_rest(build: Build, value: bytes) -> None:
    der = _replace_once(build(dns=["ok.example"], cn="zzz"), CN_ZZZ, CN_ZZZ[:5] + value)
    cert = inspect(der)
    assert cert == Certificate(
        sha256=hashlib.sha256(der).hexdigest(),
        issuer="CN=Test CA",
        dns_names=("ok.example",),
        not_after=NOW + timedelta(days=30),
        parse_error="unreadable subject",
    )
    assert covers(cert, "ok.example")


def test_inspect_readable_strings_cryptography_accepts(build: Build) -> None:
    for value, shown in [
        (b"\x1a\x03\x01\x02\x03", "\\x01\\x02\\x03"),  # a VisibleString of controls
        (b"\x12\x03abc", "abc"),  # a NumericString of letters
        (b"\x04\x03abc", "abc"),  # an OCTET STRING
    ]:
        der = _replace_once(build(cn="zzz"), CN_ZZZ, CN_ZZZ[:5] + value)
        cert = inspect(der)
        assert (cert.subject, cert.common_names, cert.parse_error) == (
            f"CN={shown},O=Example Org",
            (shown,),
            None,
        )


def test_inspect_country_name_of_three_letters_does_not_warn(build: Build) -> None:
    # cryptography reads it but warns (UserWarning), which would reach the terminal, and is
    # an error under -W error.
    country = b"\x06\x03\x55\x04\x06" + CN_ZZZ[5:]
    der = _replace_once(build(cn="zzz"), CN_ZZZ, country)
    cert = inspect(der)
    assert (cert.subject, cert.common_names, cert.parse_error) == ("C=zzz,O=Example Org", (), None)


def test_inspect_year_zero_expiry(build: Build) -> None:
    # GeneralizedTime (from 2050 on) can say year 0, which cryptography parses and datetime
    # cannot hold.
    der = build(dns=["old.example"], not_after=datetime(2060, 1, 1, tzinfo=UTC))
    der = _replace_once(der, b"\x18\x0f20600101000000Z", b"\x18\x0f00000101000000Z")
    cert = inspect(der)
    assert cert.not_after is None
    assert cert.parse_error == "unreadable expiry date"
    assert cert.dns_names == ("old.example",)
    assert days_left(cert, NOW) is None


def test_a_bug_in_inspect_is_not_taken_for_a_bad_certificate(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only what untrusted bytes can raise is caught; a bug surfaces (the scheduler turns it
    # into an internal-error row) instead of passing for "not a readable certificate".
    def broken(der: bytes) -> x509.Certificate:
        raise RuntimeError("a bug")

    monkeypatch.setattr(x509, "load_der_x509_certificate", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        inspect(build(dns=["bug.example"], serial=0xB06))


def test_a_bug_in_covers_is_not_taken_for_no_match(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(identity: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(certs, "_ip_identity", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        covers(Certificate(sha256="bug", dns_names=("bug.example",)), "bug.example")


def test_inspect_escapes_control_and_bidi_characters(build: Build) -> None:
    cn = "evil\x1b[31m\u202egro.elpmaxe\x07"
    cert = inspect(build(cn=cn))
    for text in (cert.subject, *cert.common_names):
        assert "\x1b" not in text
        assert "\u202e" not in text
        assert "\x07" not in text
        assert "\\x1b[31m" in text
        assert "\\u202e" in text
    assert cert.common_names == ("evil\\x1b[31m\\u202egro.elpmaxe\\x07",)


def test_inspect_escapes_san_control_characters(build: Build) -> None:
    cert = inspect(build(dns=["a\x00b.example\n"]))
    assert cert.dns_names == ("a\\x00b.example\\x0a",)
    assert not covers(cert, "ab.example")


def test_inspect_keeps_non_ascii_letters(build: Build) -> None:
    cert = inspect(build(cn="Bücher Ærø 東京"))
    assert cert.common_names == ("Bücher Ærø 東京",)


def test_inspect_negative_serial_does_not_warn(build: Build) -> None:
    # cryptography still loads a negative serial number but warns (an error under -W error).
    der = build(dns=["neg.example"], serial=0x4242)
    marker = b"\x02\x02\x42\x42"
    assert der.count(marker) == 1
    der = der.replace(marker, b"\x02\x02\xff\x42")
    cert = inspect(der)
    assert cert.parse_error is None
    assert cert.dns_names == ("neg.example",)


def test_inspect_unreadable_names(build: Build) -> None:
    # An invalid UTF8String in both names: cryptography loads the certificate but cannot
    # decode the names.
    der = build(dns=["ok.example"], cn="zzzz")
    der = der.replace(b"Test CA", b"\xff\xfe\xfdt CA").replace(b"zzzz", b"\xff\xfezz")
    cert = inspect(der)
    assert cert.parse_error is not None
    assert "unreadable issuer" in cert.parse_error
    assert "unreadable subject" in cert.parse_error
    assert cert.subject == ""
    assert cert.issuer == ""
    assert cert.dns_names == ("ok.example",)
    assert cert.not_after is not None


def test_inspect_caches(build: Build) -> None:
    der = build(dns=["cache.example"])
    first = inspect(der)
    assert first.dns_names == ("cache.example",)
    second = inspect(bytes(bytearray(der)))  # an equal but distinct bytes object
    assert first == second
    assert second is first


def test_inspect_long_field_is_cut(build: Build) -> None:
    cert = inspect(build(dns=["a" * 5000 + ".example", "short.example"], cn=None))
    assert len(cert.dns_names[0]) == 1024
    assert cert.dns_names[0].endswith("a…")
    assert cert.dns_names[1] == "short.example"


# --- printable -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text, 123", "plain text, 123"),
        ("Bücher Ærø 東京 😀", "Bücher Ærø 東京 😀"),
        ("a\x00b", "a\\x00b"),
        ("tab\tnew\nline\r", "tab\\x09new\\x0aline\\x0d"),
        ("del\x7f", "del\\x7f"),
        ("c1\x85\x9b", "c1\\x85\\x9b"),
        ("\u202eevil\u202c", "\\u202eevil\\u202c"),
        ("\u2066iso\u2069", "\\u2066iso\\u2069"),
        ("zero\u200bwidth\u200d\ufeff", "zero\\u200bwidth\\u200d\\ufeff"),
        ("soft\xadhyphen", "soft\\xadhyphen"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("lone\ud800", "lone\\ud800"),
        ("no-break\xa0space", "no-break\xa0space"),
        ("back\\slash", "back\\slash"),
        ("", ""),
    ],
)
def test_printable(text: str, expected: str) -> None:
    assert printable(text) == expected


def test_printable_cuts_long_text() -> None:
    assert printable("x" * 10, limit=10) == "x" * 10
    assert printable("x" * 11, limit=10) == "x" * 9 + "…"
    assert len(printable("y" * 100_000)) == 1024


def test_printable_does_not_split_escapes() -> None:
    assert printable("abcd\x00efgh", limit=8) == "abcd…"
    assert printable("\x00" * 3, limit=8) == "\\x00…"
    assert printable("\x00\x00", limit=8) == "\\x00\\x00"


def test_printable_tiny_limits() -> None:
    assert printable("abc", limit=1) == "…"
    assert printable("a", limit=1) == "a"
    assert printable("abc", limit=0) == ""


# --- days_left -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(days=30), 30),
        (timedelta(days=1, seconds=-1), 0),
        (timedelta(seconds=1), 0),
        (timedelta(0), 0),
        (timedelta(seconds=-1), -1),
        (timedelta(days=-1, hours=-12), -2),
        (timedelta(days=-400), -400),
    ],
)
def test_days_left(build: Build, delta: timedelta, expected: int) -> None:
    cert = inspect(build(dns=["exp.example"], not_after=NOW + delta))
    assert days_left(cert, NOW) == expected


def test_days_left_expired_is_negative(ca: trustme.CA) -> None:
    cert = inspect(_trustme_der(ca, "example.com"))
    assert cert.not_after is not None
    assert days_left(cert, cert.not_after + timedelta(days=3, hours=1)) == -4


def test_days_left_unknown_and_naive_now() -> None:
    assert days_left(Certificate(sha256="ab"), NOW) is None
    cert = Certificate(sha256="ab", not_after=NOW + timedelta(days=2))
    assert days_left(cert, NOW.replace(tzinfo=None)) == 2
