"""Shared by the tests that need report rows without a scan: one row to vary with
``dataclasses.replace``-style keywords."""

from __future__ import annotations

import dataclasses

from snisweep.core.record import Record
from snisweep.model import Reason, Verdict

#: An endpoint whose probe with SNI was refused: every certificate and handshake cell empty.
REFUSED = Record(
    host="api.example.test",
    port=443,
    address="192.0.2.5",
    sni="api.example.test",
    label=None,
    tags=(),
    verdict=Verdict.ERROR,
    reason=Reason.CONNECT_REFUSED,
    detail="The probe with SNI failed (connection refused).",
    sni_tls_version=None,
    sni_cipher=None,
    sni_cert_sha256=None,
    sni_cert_subject=None,
    sni_cert_issuer=None,
    sni_cert_sans=None,
    sni_cert_not_after=None,
    sni_cert_days_left=None,
    sni_cert_covers_host=None,
    sni_error="connect-refused: connection refused",
    nosni_tls_version=None,
    nosni_cert_sha256=None,
    nosni_cert_subject=None,
    nosni_cert_sans=None,
    nosni_cert_covers_host=None,
    nosni_error=None,
    attempts=1,
    elapsed_ms=3,
    scanned_at="2026-11-27T12:00:00Z",
)


def row(**changes: object) -> Record:
    """``REFUSED`` with ``changes``."""
    return dataclasses.replace(REFUSED, **changes)  # type: ignore[arg-type]
