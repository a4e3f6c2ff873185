"""snisweep.core.trust: whether a chain verifies to the trust anchors. No sockets: CAs and
certificates are made on the fly with trustme (and cryptography, for what trustme cannot make)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from snisweep.core.trust import ERROR_LIMIT, TrustChecker, TrustStore
from snisweep.errors import UsageError
from snisweep.model import Trust

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

# The phrases this module words itself, spelled out: they end up in rows.
NO_PATH = "no path to a trust anchor: the issuer is not in "
EXPIRED = "expired or not yet valid"
NO_MATCHING_SAN = "leaf certificate has no matching subjectAltName"


def der(pem: trustme.Blob | bytes) -> bytes:
    data = pem if isinstance(pem, bytes) else pem.bytes()
    return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)


def chain_of(leaf: trustme.LeafCert) -> list[bytes]:
    """What a server sends: the leaf, then the intermediates, without the root."""
    return [der(blob) for blob in leaf.cert_chain_pems]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("trust") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def store(ca_file: str) -> TrustStore:
    return TrustStore.from_file(ca_file)


@pytest.fixture
def checker(store: TrustStore) -> TrustChecker:
    return TrustChecker(store, now=lambda: NOW)


def signed_leaf(
    ca: trustme.CA,
    *,
    names: Sequence[str] = ("a.example",),
    purposes: Sequence[x509.ObjectIdentifier] = (ExtendedKeyUsageOID.SERVER_AUTH,),
    organization: str = "Example Org",
    not_after: datetime = NOW + timedelta(days=90),
) -> bytes:
    """A leaf as a public CA would issue it (nothing critical but basic constraints), signed
    by ``ca``: what trustme cannot make."""
    ca_key = load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=365))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage(list(purposes)), critical=False)
    )
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(Encoding.DER)


# --- the verdict ---------------------------------------------------------------------------


def test_a_leaf_of_the_ca_is_trusted(ca: trustme.CA, checker: TrustChecker) -> None:
    chain = chain_of(ca.issue_cert("a.example"))
    assert checker.check(chain, "a.example", True) == Trust(True, None)


def test_a_public_style_leaf_is_trusted(ca: trustme.CA, checker: TrustChecker) -> None:
    assert checker.check([signed_leaf(ca)], "a.example", True) == Trust(True, None)


def test_a_leaf_via_an_intermediate(ca: trustme.CA, checker: TrustChecker, ca_file: str) -> None:
    chain = chain_of(ca.create_child_ca().issue_cert("a.example"))
    assert len(chain) == 2
    assert checker.check(chain, "a.example", True) == Trust(True, None)
    # The same leaf without its intermediate is another chain, with its own verdict.
    alone = checker.check(chain[:1], "a.example", True)
    assert not alone.trusted
    assert alone.error is not None
    assert alone.error.startswith(NO_PATH + ca_file)


def test_an_unknown_ca(checker: TrustChecker, ca_file: str) -> None:
    chain = chain_of(trustme.CA().issue_cert("a.example"))
    trust = checker.check(chain, "a.example", True)
    assert trust == Trust(
        False,
        f"{NO_PATH}{ca_file}, and the server did not send an intermediate that leads to it",
    )


def test_an_expired_leaf(ca: trustme.CA, checker: TrustChecker) -> None:
    chain = chain_of(ca.issue_cert("a.example", not_after=NOW - timedelta(days=1)))
    trust = checker.check(chain, "a.example", True)
    assert not trust.trusted
    assert trust.error is not None
    assert trust.error.startswith(EXPIRED + " (certificate ")


def test_the_time_is_now_at_verification(ca: trustme.CA, store: TrustStore) -> None:
    chain = [signed_leaf(ca, not_after=NOW + timedelta(days=1))]
    assert TrustChecker(store, now=lambda: NOW).check(chain, "a.example", True).trusted
    later = TrustChecker(store, now=lambda: NOW + timedelta(days=2)).check(chain, "a.example", True)
    assert not later.trusted
    assert later.error is not None
    assert later.error.startswith(EXPIRED)
    earlier = TrustChecker(store, now=lambda: NOW - timedelta(days=400))
    assert not earlier.check(chain, "a.example", True).trusted


def test_a_name_not_covered(ca: trustme.CA, checker: TrustChecker) -> None:
    chain = chain_of(ca.issue_cert("a.example"))
    assert checker.check(chain, "b.example", False) == Trust(
        False, "the certificate does not cover b.example"
    )


def test_an_unknown_coverage_leaves_the_path_to_decide(
    ca: trustme.CA, checker: TrustChecker
) -> None:
    assert checker.check(chain_of(ca.issue_cert("a.example")), "a.example", None).trusted


def test_a_broken_chain_is_reported_before_the_name(checker: TrustChecker) -> None:
    chain = chain_of(trustme.CA().issue_cert("a.example"))
    trust = checker.check(chain, "b.example", False)
    assert trust.error is not None
    assert trust.error.startswith(NO_PATH)


def test_a_wildcard_leaf(ca: trustme.CA, checker: TrustChecker) -> None:
    chain = chain_of(ca.issue_cert("*.w.example"))
    assert checker.check(chain, "x.w.example", True) == Trust(True, None)


@pytest.mark.parametrize("address", ["192.0.2.7", "2001:db8::7"])
def test_an_ip_address_san(ca: trustme.CA, checker: TrustChecker, address: str) -> None:
    chain = chain_of(ca.issue_cert(address))
    assert checker.check(chain, address, True) == Trust(True, None)


def test_the_first_name_the_verifier_takes_is_used(ca: trustme.CA, checker: TrustChecker) -> None:
    # A partial wildcard is no subject the verifier takes; the next entry is.
    chain = [signed_leaf(ca, names=("f*.example", "b.example"))]
    assert checker.check(chain, "b.example", True) == Trust(True, None)


def test_a_leaf_without_a_san_name_is_never_trusted(ca: trustme.CA, checker: TrustChecker) -> None:
    # snisweep's own matching falls back to the CN; no verifying client does any more.
    chain = chain_of(ca.issue_cert(common_name="cn.example"))
    trust = checker.check(chain, "cn.example", True)
    assert not trust.trusted
    assert trust.error is not None
    assert trust.error.startswith(NO_MATCHING_SAN)


def test_a_leaf_for_another_purpose(ca: trustme.CA, checker: TrustChecker) -> None:
    chain = [signed_leaf(ca, purposes=(ExtendedKeyUsageOID.CLIENT_AUTH,))]
    trust = checker.check(chain, "a.example", True)
    assert not trust.trusted
    assert trust.error is not None
    assert trust.error.startswith(
        "required EKU not found: its extended key usage does not list serverAuth (certificate "
    )


def test_a_ca_certificate_as_the_leaf(ca: trustme.CA, checker: TrustChecker) -> None:
    intermediate = ca.create_child_ca()
    assert not checker.check([der(intermediate.cert_pem)], "a.example", True).trusted


def test_an_empty_chain(checker: TrustChecker) -> None:
    assert checker.check([], "a.example", True) == Trust(False, "the server sent no certificate")
    assert checker.verifications == 0


def test_garbage_der(ca: trustme.CA, checker: TrustChecker) -> None:
    leaf = chain_of(ca.issue_cert("a.example"))[0]
    assert checker.check([b"\x30\x03junk"], "a.example", True) == Trust(
        False, "the leaf is not a readable X.509 certificate"
    )
    assert checker.check([leaf, b""], "a.example", True) == Trust(
        False, "certificate 2 of the chain is not a readable X.509 certificate"
    )


def test_damaged_chains_never_raise(ca: trustme.CA, checker: TrustChecker) -> None:
    """Bytes changed at random: certificates that load, but whose fields the verifier cannot
    read, are reasons too."""
    chain = chain_of(ca.create_child_ca().issue_cert("a.example", "*.b.example", "10.0.0.1"))
    rng = random.Random(1)
    errors: set[str] = set()
    for _ in range(1500):
        damaged = [bytearray(certificate) for certificate in chain]
        victim = damaged[rng.randrange(len(damaged))]
        for _ in range(rng.randint(1, 3)):
            victim[rng.randrange(len(victim))] = rng.randrange(256)
        trust = checker.check([bytes(c) for c in damaged], "a.example", True)
        if trust.error is not None:
            assert len(trust.error) <= ERROR_LIMIT
            errors.add(trust.error.partition(" (")[0])
    assert "a certificate of the chain cannot be read" in errors
    assert "the leaf is not a readable X.509 certificate" in errors


def test_errors_are_one_printable_line(ca: trustme.CA, checker: TrustChecker) -> None:
    evil = "evil\n\x1b[31m\u202e" + "x" * 500
    chain = [signed_leaf(ca, organization=evil[:64], not_after=NOW - timedelta(days=1))]
    trust = checker.check(chain, "a.example", True)
    assert trust.error is not None
    assert trust.error.startswith(EXPIRED + " (certificate O=evil \\x1b[31m\\u202e")
    assert trust.error.isprintable()
    uncovered = checker.check([signed_leaf(ca)], evil, False)
    assert uncovered.error is not None
    assert uncovered.error.isprintable()
    assert len(uncovered.error) == ERROR_LIMIT
    # Line breaks become spaces; other invisible characters are escaped.
    assert uncovered.error.startswith("the certificate does not cover evil \\x1b[31m\\u202ex")


# --- the cache -----------------------------------------------------------------------------


def test_a_chain_is_verified_once_for_every_name(ca: trustme.CA, checker: TrustChecker) -> None:
    chain = chain_of(ca.issue_cert("*.shared.example"))
    # The first name asked for is one the certificate does not cover: the path's verdict must
    # not depend on it.
    first = checker.check(chain, "elsewhere.example", False)
    results = [checker.check(chain, f"host{n}.shared.example", True) for n in range(5)]
    assert checker.verifications == 1
    assert first == Trust(False, "the certificate does not cover elsewhere.example")
    assert results == [Trust(True, None)] * 5
    checker.check(chain_of(ca.issue_cert("other.example")), "other.example", True)
    assert checker.verifications == 2


def test_a_failing_chain_is_verified_once_too(checker: TrustChecker) -> None:
    chain = chain_of(trustme.CA().issue_cert("a.example"))
    first = checker.check(chain, "a.example", True)
    assert checker.check(chain, "b.example", True) == first
    assert checker.verifications == 1


@pytest.mark.parametrize(("cache_size", "verifications"), [(1, 3), (2, 2)])
def test_the_cache_is_bounded(
    ca: trustme.CA, store: TrustStore, cache_size: int, verifications: int
) -> None:
    checker = TrustChecker(store, now=lambda: NOW, cache_size=cache_size)
    a = chain_of(ca.issue_cert("a.example"))
    b = chain_of(ca.issue_cert("b.example"))
    for chain in (a, b, a):
        checker.check(chain, "a.example", True)
    assert checker.verifications == verifications


def test_the_cache_keeps_the_most_recently_used(ca: trustme.CA, store: TrustStore) -> None:
    checker = TrustChecker(store, now=lambda: NOW, cache_size=2)
    a, b, c = (chain_of(ca.issue_cert(f"{name}.example")) for name in "abc")
    for chain in (a, b, a, c, a):  # c evicts b, the least recently used, not a
        checker.check(chain, "x.example", True)
    assert checker.verifications == 3


# --- the stores ----------------------------------------------------------------------------


def test_from_file_describes_itself_by_its_path(store: TrustStore, ca_file: str) -> None:
    assert store.description == ca_file


def test_from_file_takes_every_certificate_of_a_bundle(tmp_path: Path) -> None:
    first, second = trustme.CA(), trustme.CA()
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"# two CAs\n" + first.cert_pem.bytes() + second.cert_pem.bytes())
    checker = TrustChecker(TrustStore.from_file(str(bundle)), now=lambda: NOW)
    for ca in (first, second):
        assert checker.check(chain_of(ca.issue_cert("a.example")), "a.example", True).trusted


def test_from_file_missing(tmp_path: Path) -> None:
    path = str(tmp_path / "missing.pem")
    with pytest.raises(UsageError) as caught:
        TrustStore.from_file(path)
    assert str(caught.value) == f"--ca-file {path}: cannot read: no such file or directory"


def test_from_file_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        TrustStore.from_file(str(tmp_path))
    assert str(caught.value) == f"--ca-file {tmp_path}: cannot read: is a directory"


def test_from_file_without_a_certificate(ca: trustme.CA, tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(ca.private_key_pem.bytes())
    with pytest.raises(UsageError) as caught:
        TrustStore.from_file(str(path))
    assert str(caught.value) == f"--ca-file {path}: holds no PEM certificate"
    assert "\n" not in str(caught.value)


def test_from_file_with_a_broken_certificate(ca: trustme.CA, tmp_path: Path) -> None:
    path = tmp_path / "broken.pem"
    broken = b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    path.write_bytes(ca.cert_pem.bytes() + broken)
    with pytest.raises(UsageError) as caught:
        TrustStore.from_file(str(path))
    assert str(caught.value) == f"--ca-file {path}: certificate 2 cannot be read"


def test_the_system_store() -> None:
    store = TrustStore.system()
    assert store.description.startswith("the system trust store (")
    checker = TrustChecker(store)
    trust = checker.check(chain_of(trustme.CA().issue_cert("a.example")), "a.example", True)
    assert not trust.trusted


def test_the_system_store_honours_ssl_cert_file(
    ca: trustme.CA, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    store = TrustStore.system()
    assert store.description == f"the system trust store ({ca_file})"
    checker = TrustChecker(store, now=lambda: NOW)
    assert checker.check(chain_of(ca.issue_cert("a.example")), "a.example", True).trusted


def test_the_system_store_honours_ssl_cert_dir(
    ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "notes.txt").write_text("not a certificate\n")
    (directory / "sub").mkdir()
    (directory / "dangling.pem").symlink_to(tmp_path / "gone.pem")
    ca.cert_pem.write_to_path(str(directory / "local-ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(directory))
    store = TrustStore.system()
    assert store.description == f"the system trust store ({directory})"
    checker = TrustChecker(store, now=lambda: NOW)
    assert checker.check(chain_of(ca.issue_cert("a.example")), "a.example", True).trusted


def test_a_machine_without_a_trust_store(
    ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(empty))
    checker = TrustChecker(TrustStore.system())
    trust = checker.check(chain_of(ca.issue_cert("a.example")), "a.example", True)
    assert not trust.trusted
    assert trust.error is not None
    assert trust.error.startswith("no trust store was found")
