"""Whether the chain a server sent verifies to the trust anchors (``sni_cert_trusted``,
``sni_trust_error``). Pure, except that a ``TrustStore`` reads its CA files once, when made.

The question is the one a verifying client asks: does the chain lead to an anchor of the system
trust store (or of ``--ca-file``), and does the certificate hold for the name it connects to?
The answer is cryptography's X.509 verifier (``cryptography.x509.verification``), whose web PKI
profile checks, as cryptography documents it:

* a **path** from the leaf through the intermediates the server sent to an anchor of the store,
  every signature on it valid, no longer than its maximum depth (8 intermediates);
* the **validity dates** of every certificate on the path, at the time of verification;
* **basic constraints, key usage and extended key usage**: CAs are CAs within their path length
  and name constraints, the leaf is not a CA and is for ``serverAuth`` when it names a purpose,
  keys are of accepted types and sizes, no critical extension goes unaccounted for;
* the **name**: a subjectAltName ``dNSName`` or ``iPAddress`` entry matches the subject asked
  for; the subject common name never counts.

Two rules of that profile are relaxed, because the clients users run (OpenSSL, so Python and
curl; browsers; Java; Go) do not enforce them and private CAs break them as a matter of course
(trustme, which makes the embedded lab's certificates, breaks both): a leaf's subjectAltName and
extended key usage may be marked critical. The leaf must still carry a subjectAltName, and an
extended key usage that does not list ``serverAuth`` still fails.

Once per chain, not once per endpoint
-------------------------------------
Thousands of endpoints share a handful of chains (one wildcard certificate, a CDN's default), and
verifying one costs a few hundred microseconds of signature checks, so the verdict is split:

1. the **path** (everything but the endpoint's name) is verified once per distinct chain and kept
   in a bounded LRU keyed by a digest of the chain. The verifier is asked for a name the leaf
   itself carries, so that its verdict does not depend on the endpoint: the first ``dNSName``
   entry it accepts as a subject (for a wildcard ``*.example.com``, a concrete
   ``snisweep-trust-check.example.com``), else the first ``iPAddress`` entry. A leaf without
   either gets a reserved name (RFC 2606 ``.invalid``) that it cannot match, so the verifier
   rejects it, whoever asks: no client reads the common name any more;
2. the **name** is snisweep's own verdict (``snisweep.core.certs.covers``, computed elsewhere),
   combined per call: a verified path whose leaf does not cover the identity is not trusted.

Cache entries were verified at the time of their first use; a scan is short enough for that.

Errors come from untrusted data (names, certificates), so every text is made printable and kept
to one line of at most ``ERROR_LIMIT`` characters. Nothing a server sends makes this raise.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import ssl
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    Subject,
    VerificationError,
)

from snisweep.core.certs import printable
from snisweep.errors import UsageError, cannot_read
from snisweep.model import Trust

__all__ = ["ERROR_LIMIT", "TrustChecker", "TrustStore"]

#: The longest ``sni_trust_error`` (characters).
ERROR_LIMIT: Final = 300

NO_CERTIFICATE: Final = "the server sent no certificate"
NO_TRUST_STORE: Final = (
    "no trust store was found (set SSL_CERT_FILE or SSL_CERT_DIR, or give --ca-file)"
)

# What stands in for the wildcard label when the verifier is asked for a name the leaf covers.
_WILDCARD_STAND_IN = "snisweep-trust-check"
# RFC 2606 reserves .invalid: no public CA can issue for it, so no leaf that names nothing can
# match it by accident (a leaf that does name *.invalid had a usable entry to begin with).
_NO_NAME = x509.DNSName("snisweep-trust-check.invalid")

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)

# The verifier's phrases that say little to a user, reworded (pattern -> replacement; the
# replacement's {store} is the store's description). A phrase a later cryptography changes
# just passes through unchanged.
_REWORDING: Final = (
    (re.compile(r"^validation failed: "), ""),
    (re.compile(r"^Python extension validator failed: ValueError: "), ""),
    (
        re.compile(r"candidates exhausted: all candidates exhausted with no interior errors"),
        "no path to a trust anchor: the issuer is not in {store}, and the server did not send "
        "an intermediate that leads to it",
    ),
    (re.compile(r"\bcert is not valid at validation time"), "expired or not yet valid"),
    # The certificate the verifier objected to, by subject.
    (
        re.compile(
            r"\(encountered processing <Certificate\(subject=<Name\((.*)\)>, \.\.\.\)>\)$",
            re.DOTALL,
        ),
        r"(certificate \1)",
    ),
)


class TrustStore:
    """The trust anchors: loaded once per scan."""

    def __init__(self, anchors: Iterable[x509.Certificate], description: str) -> None:
        unique = {anchor.public_bytes(Encoding.DER): anchor for anchor in anchors}
        # None when there is no anchor at all (cryptography refuses an empty Store).
        self._store = Store(list(unique.values())) if unique else None
        self._description = description

    @classmethod
    def system(cls) -> TrustStore:
        """The system's anchors, where OpenSSL looks for them (so ``SSL_CERT_FILE`` and
        ``SSL_CERT_DIR`` count): its CA file, else every PEM file in its CA directory.

        Never raises: a machine without any gives an empty store, in which nothing verifies.
        """
        paths = ssl.get_default_verify_paths()
        if paths.cafile is not None:
            anchors = _read_anchors(paths.cafile)
            if anchors:
                return cls(anchors, f"the system trust store ({paths.cafile})")
        if paths.capath is not None:
            anchors = [a for path in _files_in(paths.capath) for a in _read_anchors(path)]
            if anchors:
                return cls(anchors, f"the system trust store ({paths.capath})")
        return cls((), "the system trust store (none found)")

    @classmethod
    def from_file(cls, path: str) -> TrustStore:
        """The anchors in a PEM bundle (``--ca-file``).

        Raises ``UsageError``, naming the file, when it cannot be read, or holds no certificate,
        or a certificate that cannot be read.
        """
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as exc:
            raise UsageError(f"--ca-file {path}: {cannot_read(exc)}") from None
        blocks = _PEM_BLOCK.findall(data)
        if not blocks:
            raise UsageError(f"--ca-file {path}: holds no PEM certificate")
        anchors = []
        for number, block in enumerate(blocks, 1):
            anchor = _load_pem(block)
            if anchor is None:
                raise UsageError(f"--ca-file {path}: certificate {number} cannot be read")
            anchors.append(anchor)
        return cls(anchors, path)

    @property
    def description(self) -> str:
        """Where the anchors come from, for messages: a path, or the system store and its path."""
        return self._description


class TrustChecker:
    """Decides ``Trust`` for the chains servers send, verifying each distinct chain once.

    ``verifications`` counts the chains actually verified (not answered from the cache): the
    seam through which tests and benchmarks see the cache work. Safe to share between threads
    (two that meet a new chain at once may both verify it).
    """

    def __init__(
        self,
        store: TrustStore,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        cache_size: int = 4096,
    ) -> None:
        self._store = store
        self._now = now
        self._cache_size = cache_size
        self._paths: OrderedDict[bytes, str | None] = OrderedDict()  # digest -> error or None
        self._lock = threading.Lock()
        self.verifications = 0

    def check(self, chain: Sequence[bytes], identity: str, covers: bool | None) -> Trust:
        """Whether ``chain`` (DER, leaf first, as the server sent it) is trusted for
        ``identity`` (the name or IP address connected to), given snisweep's verdict ``covers``
        on whether the leaf covers it (None: unknown, left to the verifier's path check).

        Never raises, whatever the bytes.
        """
        if not chain:
            return Trust(False, NO_CERTIFICATE)
        store = self._store._store
        if store is None:
            return Trust(False, NO_TRUST_STORE)
        error = self._path_error(chain, store)
        if error is not None:
            return Trust(False, error)
        if covers is False:
            return Trust(False, _one_line(f"the certificate does not cover {identity}"))
        return Trust(True, None)

    def _path_error(self, chain: Sequence[bytes], store: Store) -> str | None:
        digest = _digest(chain)
        with self._lock:
            if digest in self._paths:
                self._paths.move_to_end(digest)
                return self._paths[digest]
        error = self._verify(chain, store)
        with self._lock:
            self.verifications += 1
            self._paths[digest] = error
            while len(self._paths) > self._cache_size:
                self._paths.popitem(last=False)
        return error

    def _verify(self, chain: Sequence[bytes], store: Store) -> str | None:
        """The verifier's objection to ``chain``'s path, or None when it has none."""
        # cryptography warns about certificates it still reads but dislikes (a negative serial
        # number, ...): servers send those, and the warning would say nothing to our user.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            certificates = []
            for number, der in enumerate(chain):
                try:
                    certificates.append(x509.load_der_x509_certificate(der))
                except (ValueError, x509.InvalidVersion):
                    where = "the leaf" if number == 0 else f"certificate {number + 1} of the chain"
                    return f"{where} is not a readable X.509 certificate"
            leaf, intermediates = certificates[0], certificates[1:]
            builder = (
                PolicyBuilder()
                .store(store)
                .time(self._now())
                .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
            )
            verifier = None
            for subject in _subjects(leaf):
                try:
                    verifier = builder.build_server_verifier(subject)
                    break
                except ValueError:  # a name the verifier does not take as a subject
                    continue
            if verifier is None:
                verifier = builder.build_server_verifier(_NO_NAME)
            try:
                verifier.verify(leaf, intermediates)
            except VerificationError as exc:
                return self._reason(str(exc))
            except (ValueError, TypeError) as exc:
                # The DER loads lazily, so a field that does not parse only raises when the
                # verifier reads it (found by fuzzing): ValueError for bad DER or a bad string,
                # TypeError for a BIT STRING attribute in a name, as in snisweep.core.certs.
                return _one_line(f"a certificate of the chain cannot be read ({exc})")
        return None

    def _reason(self, text: str) -> str:
        store = self._store.description.replace("\\", r"\\")  # a Windows path, for re.sub
        for pattern, replacement in _REWORDING:
            text = pattern.sub(replacement.replace("{store}", store), text)
        return _one_line(text)


def _require_server_auth(
    policy: Policy, _: x509.Certificate, usage: x509.ExtendedKeyUsage | None
) -> None:
    # cryptography's own check, which comes with the rule that the extension is not critical.
    if usage is not None and policy.extended_key_usage not in usage:
        raise ValueError("required EKU not found: its extended key usage does not list serverAuth")


_CA_POLICY = ExtensionPolicy.webpki_defaults_ca()
_EE_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _require_server_auth)
)


def _subjects(leaf: x509.Certificate) -> list[Subject]:
    """Names the leaf itself carries, in the order the verifier is asked for them."""
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    except (ValueError, TypeError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        return []  # unreadable extensions: the verifier will object to them itself
    subjects: list[Subject] = []
    for entry in names.get_values_for_type(x509.DNSName):
        name = entry.removeprefix("*.")
        if name != entry:
            name = f"{_WILDCARD_STAND_IN}.{name}"
        try:
            subjects.append(x509.DNSName(name))
        except ValueError:  # not an A-label string
            continue
    for address in names.get_values_for_type(x509.IPAddress):
        if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            subjects.append(x509.IPAddress(address))
    return subjects


def _digest(chain: Sequence[bytes]) -> bytes:
    # Lengths first, so that no two chains hash the same text; SHA-256 rather than the DER as
    # the key, so that a server sending huge certificates cannot make the cache hold megabytes.
    h = hashlib.sha256()
    for der in chain:
        h.update(len(der).to_bytes(8, "big"))
        h.update(der)
    return h.digest()


def _one_line(text: str) -> str:
    return printable(" ".join(text.split()), limit=ERROR_LIMIT)


def _load_pem(block: bytes) -> x509.Certificate | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return x509.load_pem_x509_certificate(block)
        except (ValueError, x509.InvalidVersion):
            return None


def _read_anchors(path: str) -> list[x509.Certificate]:
    """The readable certificates of a PEM file; none when the file cannot be read."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return []
    return [a for a in map(_load_pem, _PEM_BLOCK.findall(data)) if a is not None]


def _files_in(directory: str) -> list[str]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return []
    files = []
    for entry in entries:
        try:
            if entry.is_file():
                files.append(entry.path)
        except OSError:  # a dangling symbolic link, ...
            continue
    return files
