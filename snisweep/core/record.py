"""Records: one report row per endpoint, built from the endpoint, its verdict and its
observations. Pure: no I/O (the cells CSV and JSONL make of a record are
``snisweep.report.writers``', read back by ``snisweep.report.readers``).

``COLUMNS`` is the contract's header, in order. New columns may be appended, never inserted.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import UTC, datetime

from snisweep.core import pitfalls
from snisweep.core.advice import advise
from snisweep.core.certs import days_left, printable
from snisweep.model import (
    Classification,
    Endpoint,
    Failure,
    Handshake,
    Observation,
    Reason,
    Trust,
    Verdict,
    WarningCode,
)

COLUMNS: tuple[str, ...] = (
    "host",
    "port",
    "address",
    "sni",
    "label",
    "tags",
    "verdict",
    "reason",
    "detail",
    "sni_tls_version",
    "sni_cipher",
    "sni_cert_sha256",
    "sni_cert_subject",
    "sni_cert_issuer",
    "sni_cert_sans",
    "sni_cert_not_after",
    "sni_cert_days_left",
    "sni_cert_covers_host",
    "sni_error",
    "nosni_tls_version",
    "nosni_cert_sha256",
    "nosni_cert_subject",
    "nosni_cert_sans",
    "nosni_cert_covers_host",
    "nosni_error",
    "attempts",
    "elapsed_ms",
    "scanned_at",
    "shard",
    "sni_http_status",
    "nosni_http_status",
    "warnings",
    "sni_cert_trusted",
    "sni_trust_error",
    "proxy",
    "advice",
)

Cell = str | int | bool | tuple[str, ...] | None  # what a column holds


@dataclass(frozen=True, slots=True)
class Record:
    """One row. ``None`` is an empty cell (CSV) or ``null`` (JSONL)."""

    host: str
    port: int
    address: str | None
    sni: str | None
    label: str | None
    tags: tuple[str, ...]
    verdict: Verdict
    reason: Reason
    detail: str
    sni_tls_version: str | None
    sni_cipher: str | None
    sni_cert_sha256: str | None
    sni_cert_subject: str | None
    sni_cert_issuer: str | None
    sni_cert_sans: tuple[str, ...] | None
    sni_cert_not_after: str | None
    sni_cert_days_left: int | None
    sni_cert_covers_host: bool | None
    sni_error: str | None
    nosni_tls_version: str | None
    nosni_cert_sha256: str | None
    nosni_cert_subject: str | None
    nosni_cert_sans: tuple[str, ...] | None
    nosni_cert_covers_host: bool | None
    nosni_error: str | None
    attempts: int
    elapsed_ms: int
    scanned_at: str
    shard: str | None = None  # "I/N" when the scan covered one shard of the list
    sni_http_status: int | None = None
    nosni_http_status: int | None = None
    warnings: tuple[WarningCode, ...] = ()
    sni_cert_trusted: bool | None = None  # None: no chain with SNI, or no trust check
    sni_trust_error: str | None = None
    proxy: str | None = None  # host:port of the HTTP CONNECT proxy, never its credentials
    advice: str = ""  # one sentence: what to do (``snisweep.core.advice``)

    def cells(self) -> tuple[Cell, ...]:
        """The values in ``COLUMNS`` order."""
        cells: tuple[Cell, ...] = _CELLS(self)
        return cells


_CELLS = operator.attrgetter(*COLUMNS)


def build(
    endpoint: Endpoint,
    address: str | None,
    classification: Classification,
    with_sni: Observation | None,
    without_sni: Observation | None,
    *,
    attempts: int,
    elapsed_ms: int,
    scanned_at: datetime,
    shard: str | None = None,
    trust: Trust | None = None,
    expiring_within: int | None = None,
) -> Record:
    """The row for an endpoint. ``with_sni`` is None when no probe could be made (DNS).
    ``trust`` is the trust check of the chain sent with SNI, when one was made;
    ``expiring_within`` the days of ``--expiring-within`` (the ``cert-expiring`` warning)."""
    sni_hs = with_sni if isinstance(with_sni, Handshake) else None
    sni_cert = sni_hs.certificate if sni_hs else None
    nosni_hs = without_sni if isinstance(without_sni, Handshake) else None
    nosni_cert = nosni_hs.certificate if nosni_hs else None
    warnings = pitfalls.find(
        endpoint,
        with_sni,
        without_sni,
        scanned_at,
        sni_covers=classification.sni_covers,
        expiring_within=expiring_within,
    )
    return Record(
        host=endpoint.host,
        port=endpoint.port,
        address=address,
        sni=endpoint.sni,
        # Labels are free text from the list: shown, like certificate fields, with control
        # characters escaped (a row must never carry a terminal escape or a NUL).
        label=printable(endpoint.label) if endpoint.label else None,
        tags=endpoint.tags,
        verdict=classification.verdict,
        reason=classification.reason,
        detail=classification.detail,
        sni_tls_version=sni_hs.tls_version if sni_hs else None,
        sni_cipher=sni_hs.cipher if sni_hs else None,
        sni_cert_sha256=sni_cert.sha256 if sni_cert else None,
        sni_cert_subject=sni_cert.subject if sni_cert else None,
        sni_cert_issuer=sni_cert.issuer if sni_cert else None,
        sni_cert_sans=sni_cert.sans if sni_cert else None,
        sni_cert_not_after=_iso(sni_cert.not_after) if sni_cert else None,
        sni_cert_days_left=days_left(sni_cert, scanned_at) if sni_cert else None,
        sni_cert_covers_host=classification.sni_covers,
        sni_error=_error(with_sni),
        nosni_tls_version=nosni_hs.tls_version if nosni_hs else None,
        nosni_cert_sha256=nosni_cert.sha256 if nosni_cert else None,
        nosni_cert_subject=nosni_cert.subject if nosni_cert else None,
        nosni_cert_sans=nosni_cert.sans if nosni_cert else None,
        nosni_cert_covers_host=classification.nosni_covers,
        nosni_error=_error(without_sni),
        attempts=attempts,
        elapsed_ms=elapsed_ms,
        scanned_at=timestamp(scanned_at),
        shard=shard,
        sni_http_status=_status(sni_hs),
        nosni_http_status=_status(nosni_hs),
        warnings=warnings,
        sni_cert_trusted=trust.trusted if trust is not None else None,
        sni_trust_error=trust.error if trust is not None else None,
        proxy=endpoint.proxy.display if endpoint.proxy is not None else None,
        advice=advise(classification.verdict, classification.reason, warnings),
    )


def _status(handshake: Handshake | None) -> int | None:
    answer = handshake.http if handshake is not None else None
    return answer.status if answer is not None else None


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second, as every time in the report is written."""
    # Rows finish by the hundreds per second and certificates repeat: format each second once.
    return _timestamp(moment.replace(microsecond=0))


@functools.lru_cache(maxsize=1024)
def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(moment: datetime | None) -> str | None:
    return timestamp(moment) if moment is not None else None


def _error(observation: Observation | None) -> str | None:
    return str(observation) if isinstance(observation, Failure) else None
