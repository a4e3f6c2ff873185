"""Comparing two reports: what changed between two scans of the same lists (``snisweep diff``).
Reads the two reports (file I/O); comparing and rendering are pure, and ``render`` writes to
the stream it is given.

Theory of operation.

*Identity.* An endpoint is its host, port and ``sni``, whatever address it dialled: by default a
scan dials the first address that accepts, and with DNS round robin that is another address on
another night. When a report holds several rows of one (host, port, sni) with different
addresses (``--all-addresses``: one row per address; or list entries pinned to different
addresses), each address is an endpoint of its own, paired with the row of the same address in
the other report, even when that report has a single row there (so switching
``--all-addresses`` on shows the other addresses as new). The digest is ``endpoint_digest``, as
merge's, taken without the address.

*Changes*, listed per endpoint in this order (one endpoint may have several):

    added        only in NEW
    removed      only in OLD
    verdict      the verdict differs (``became`` looks at these and at ``added``)
    reason       the same verdict for another reason
    certificate  both rows have a certificate with SNI, and its SHA-256 or expiry differs (a
                 certificate that appears or disappears goes with a verdict or reason change)

*Two passes,* as merge makes, so that memory follows the changes, not the rows (100k-row
reports are normal): the first reads every row of both reports and keeps one int per row (the
verdict, the reason, 64-bit fingerprints of the address and of the certificate); the second
reads again only the reports with changes, for the texts of the changed rows. Every problem of
either report (``FILE:LINE``, as merge names them) is raised together as one ``ConfigError``.

*Order.* Nothing depends on the order of the rows: changes are sorted by host, port, sni and
address, and of rows of one report that repeat an endpoint (host, port, sni and address), the
one compared is chosen by its values, never by its place.
"""

from __future__ import annotations

import csv
import json
import os
import textwrap
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from hashlib import blake2b
from typing import Final, TextIO

from snisweep.core.certs import printable
from snisweep.core.record import Cell, Record
from snisweep.errors import ConfigError, Problem, SnisweepError, UsageError, cannot_read
from snisweep.model import Reason, Verdict, endpoint_digest
from snisweep.report.readers import Complaints, Flaw, Row, detect_format, parse_report
from snisweep.report.writers import Format, csv_cell, json_value

__all__ = [
    "HEADER",
    "Change",
    "Diff",
    "DiffFormat",
    "Kind",
    "Side",
    "became",
    "diff",
    "exit_code",
    "output_format",
    "render",
]


class Kind(StrEnum):
    """What changed for an endpoint (column ``change``), in the order a change lists them."""

    ADDED = "added"
    REMOVED = "removed"
    VERDICT = "verdict"
    REASON = "reason"
    CERTIFICATE = "certificate"


class DiffFormat(StrEnum):
    """How ``render`` shows the changes."""

    TABLE = "table"  # aligned text for a terminal
    CSV = "csv"
    JSONL = "jsonl"
    MARKDOWN = "markdown"  # a table to paste into a change ticket


#: The CSV header, and the keys of each JSONL object, in order.
HEADER: Final = (
    "change",
    "host",
    "port",
    "address",
    "sni",
    "label",
    "old_verdict",
    "new_verdict",
    "old_reason",
    "new_reason",
    "old_cert_sha256",
    "new_cert_sha256",
    "old_not_after",
    "new_not_after",
)


@dataclass(frozen=True, slots=True)
class Side:
    """What one report says of a changed endpoint: the values of its row."""

    address: str | None
    label: str | None
    verdict: Verdict
    reason: Reason
    cert_sha256: str | None
    not_after: str | None


@dataclass(frozen=True, slots=True)
class Change:
    """One endpoint that changed: ``old`` is None when it is new, ``new`` when it is gone."""

    kinds: tuple[Kind, ...]
    host: str
    port: int
    sni: str | None
    old: Side | None
    new: Side | None

    @property
    def latest(self) -> Side:
        """NEW's row, or OLD's for an endpoint that is gone."""
        side = self.new if self.new is not None else self.old
        if side is None:
            raise TypeError("a change has an old or a new side, or both")
        return side

    @property
    def address(self) -> str | None:
        return self.latest.address

    @property
    def label(self) -> str | None:
        return self.latest.label

    def became(self, verdicts: Collection[Verdict]) -> bool:
        """Whether the endpoint now has one of ``verdicts`` and did not before: its verdict
        changed to one of them, or it is new with one of them."""
        if self.new is None or self.new.verdict not in verdicts:
            return False
        return self.old is None or self.old.verdict != self.new.verdict


@dataclass(frozen=True, slots=True)
class Diff:
    """What changed from the report ``old`` to the report ``new``."""

    old: str
    new: str
    changes: tuple[Change, ...]  # sorted by host, port, sni, address
    old_rows: int
    new_rows: int
    repeated: int = 0  # rows that repeat an endpoint of their report, compared once

    def count(self, kind: Kind) -> int:
        return sum(1 for change in self.changes if kind in change.kinds)

    def summary(self) -> str:
        """One line for standard error, e.g. ``3 verdict(s) changed, 0 reason(s) changed, 1 new,
        2 removed, 1 certificate(s) changed; 1200 row(s) in old.csv, 1201 in new.csv``."""
        counts = Counter(kind for change in self.changes for kind in change.kinds)
        if counts:
            text = (
                f"{counts[Kind.VERDICT]} verdict(s) changed, {counts[Kind.REASON]} reason(s) "
                f"changed, {counts[Kind.ADDED]} new, {counts[Kind.REMOVED]} removed, "
                f"{counts[Kind.CERTIFICATE]} certificate(s) changed"
            )
        else:
            text = "no changes"
        text += f"; {self.old_rows} row(s) in {self.old}, {self.new_rows} in {self.new}"
        if self.repeated:
            text += f"; {self.repeated} repeated row(s) compared once"
        return text


def became(diff: Diff, verdicts: Collection[Verdict]) -> list[Change]:
    """The endpoints that now have one of ``verdicts`` and did not before (``--fail-on``)."""
    return [change for change in diff.changes if change.became(verdicts)]


def exit_code(diff: Diff, fail_on: Collection[Verdict]) -> int:
    """1 when any endpoint became one of the ``fail_on`` verdicts, else 0. An endpoint that
    keeps such a verdict, or is gone, fails nothing: ``--fail-on`` is about what changed."""
    return 1 if became(diff, fail_on) else 0


def output_format(path: str, requested: DiffFormat | None) -> DiffFormat:
    """The format to render to ``path``: ``requested`` if given, else by the file's extension
    (those of the reports, and ``.md``), else a table."""
    if requested is not None:
        return requested
    return _SUFFIXES.get(os.path.splitext(path)[1].lower(), DiffFormat.TABLE)


# Not writers' table: a diff is never a workbook, and markdown is no report.
_SUFFIXES: Final = {
    ".csv": DiffFormat.CSV,
    ".jsonl": DiffFormat.JSONL,
    ".ndjson": DiffFormat.JSONL,
    ".md": DiffFormat.MARKDOWN,
    ".markdown": DiffFormat.MARKDOWN,
}


# --- what the first pass keeps of a row ---------------------------------------------------------
#
# One int per row, not a tuple, because a million rows are a million entries (as in merge):
#
#   bits 0-1    the verdict's index in ``Verdict``
#   bits 2-7    the reason's index in ``Reason``
#   bits 8-72   the certificate: 0 for none, else 1 << 64 | a 64-bit fingerprint of its SHA-256
#               and expiry
#   bits 73-    a 64-bit fingerprint of the address
#
# Equal ints are equal rows, as far as a diff looks; 64 bits are plenty to tell the few
# addresses of one endpoint, or its two certificates, apart.

_VERDICTS: Final = tuple(Verdict)
_REASONS: Final = tuple(Reason)
_VERDICT_INDEX: Final = {verdict: index for index, verdict in enumerate(_VERDICTS)}
_REASON_INDEX: Final = {reason: index for index, reason in enumerate(_REASONS)}
if len(_VERDICTS) > 4 or len(_REASONS) > 64:
    raise TypeError("a verdict or a reason no longer fits in diff's packed rows: widen them")
_CERTIFICATE_BITS: Final = 65
_CERTIFICATE_MASK: Final = (1 << _CERTIFICATE_BITS) - 1
_ADDRESS_SHIFT: Final = 8 + _CERTIFICATE_BITS


def _fingerprint(text: str) -> int:
    # A JSONL report can hold lone surrogates; they must not stop the fingerprint.
    digest = blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _summarise(record: Record) -> int:
    certificate = 0
    if record.sni_cert_sha256:
        certificate = 1 << 64 | _fingerprint(
            f"{record.sni_cert_sha256}\0{record.sni_cert_not_after or ''}"
        )
    outcome = _REASON_INDEX[record.reason] << 2 | _VERDICT_INDEX[record.verdict]
    return _fingerprint(record.address or "") << _ADDRESS_SHIFT | certificate << 8 | outcome


def _verdict(summary: int) -> Verdict:
    return _VERDICTS[summary & 0b11]


def _reason(summary: int) -> Reason:
    return _REASONS[summary >> 2 & 0b111111]


def _certificate(summary: int) -> int:
    return summary >> 8 & _CERTIFICATE_MASK


def _address(summary: int) -> int:
    return summary >> _ADDRESS_SHIFT


def _group(record: Record) -> bytes:
    # The endpoint whatever address it dialled (see "Identity" above).
    return endpoint_digest(record.host, record.port, None, record.sni)


# An endpoint's one row (the int), or its rows by address fingerprint when it has several.
_Rows = int | dict[int, int]


# --- the first pass -------------------------------------------------------------------------


@dataclass(slots=True)
class _Survey:
    """What the first pass keeps of one report: one int per row."""

    path: str
    fmt: Format = Format.CSV
    stamp: tuple[int, int] = (0, 0)  # size and modification time: it must not change
    rows: int = 0
    repeated: int = 0
    groups: dict[bytes, _Rows] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _survey(path: str) -> _Survey:
    survey = _Survey(path)
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        survey.problems.append(Problem(path, None, cannot_read(exc)))
        return survey
    with file:
        try:
            status = os.fstat(file.fileno())
            survey.fmt = detect_format(path, file.peek(4)[:4])
            survey.stamp = (status.st_size, status.st_mtime_ns)
            _survey_rows(survey, parse_report(file, survey.fmt, earlier=True))
        except OSError as exc:  # a directory, or a disk that fails while reading
            survey.problems.append(Problem(path, None, cannot_read(exc)))
    return survey


def _survey_rows(survey: _Survey, entries: Iterable[Row | Flaw]) -> None:
    complaints = Complaints(survey.path, survey.problems)
    for entry in entries:
        match entry:
            case Flaw():
                complaints.flaw(entry)
            case Row(record=record):
                group = _group(record)  # the readers refuse what cannot be encoded
                survey.rows += 1
                if _add(survey.groups, group, _summarise(record)):
                    survey.repeated += 1
    complaints.close()


def _add(groups: dict[bytes, _Rows], group: bytes, summary: int) -> bool:
    """Add a row; True when its report already has a row of that endpoint and address (the
    smaller int is kept, so that the row compared does not depend on the order)."""
    seen = groups.get(group)
    if seen is None:
        groups[group] = summary
        return False
    address = _address(summary)
    if isinstance(seen, int):
        if _address(seen) == address:
            groups[group] = min(seen, summary)
            return True
        groups[group] = {_address(seen): seen, address: summary}
        return False
    other = seen.get(address)
    seen[address] = summary if other is None else min(other, summary)
    return other is not None


# --- comparing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pair:
    """A changed endpoint as the first pass knows it: which row of each report, and what
    changed."""

    group: bytes
    old: int | None
    new: int | None
    kinds: tuple[Kind, ...]


def _compare(old: dict[bytes, _Rows], new: dict[bytes, _Rows]) -> Iterator[_Pair]:
    for group, before in old.items():
        after = new.get(group)
        if after is None:
            for summary in _rows(before):
                yield _Pair(group, summary, None, (Kind.REMOVED,))
        elif isinstance(before, int) and isinstance(after, int):
            # One row on each side: the same endpoint, whichever address each night dialled.
            kinds = _kinds(before, after)
            if kinds:
                yield _Pair(group, before, after, kinds)
        else:
            before_by_address = _by_address(before)
            after_by_address = _by_address(after)
            for address, summary in before_by_address.items():
                other = after_by_address.get(address)
                if other is None:
                    yield _Pair(group, summary, None, (Kind.REMOVED,))
                elif kinds := _kinds(summary, other):
                    yield _Pair(group, summary, other, kinds)
            for address, summary in after_by_address.items():
                if address not in before_by_address:
                    yield _Pair(group, None, summary, (Kind.ADDED,))
    for group, after in new.items():
        if group not in old:
            for summary in _rows(after):
                yield _Pair(group, None, summary, (Kind.ADDED,))


def _rows(rows: _Rows) -> Iterable[int]:
    return (rows,) if isinstance(rows, int) else rows.values()


def _by_address(rows: _Rows) -> dict[int, int]:
    return {_address(rows): rows} if isinstance(rows, int) else rows


def _kinds(before: int, after: int) -> tuple[Kind, ...]:
    kinds: list[Kind] = []
    if _verdict(before) != _verdict(after):
        kinds.append(Kind.VERDICT)
    elif _reason(before) != _reason(after):
        kinds.append(Kind.REASON)
    old_certificate, new_certificate = _certificate(before), _certificate(after)
    if old_certificate and new_certificate and old_certificate != new_certificate:
        kinds.append(Kind.CERTIFICATE)
    return tuple(kinds)


# --- the second pass ------------------------------------------------------------------------

# What the second pass reads of a row it wants: host, port, sni, and the row's values.
_Found = tuple[str, int, str | None, Side]


def _side(record: Record) -> Side:
    return Side(
        address=record.address,
        label=record.label,
        verdict=record.verdict,
        reason=record.reason,
        cert_sha256=record.sni_cert_sha256,
        not_after=record.sni_cert_not_after,
    )


def _read_wanted(survey: _Survey, wanted: dict[bytes, set[int]]) -> dict[tuple[bytes, int], _Found]:
    """The rows of ``survey``'s report that the changes need, read again."""
    found: dict[tuple[bytes, int], _Found] = {}
    if not wanted:
        return found
    try:
        with open(survey.path, "rb") as file:
            status = os.fstat(file.fileno())
            if (status.st_size, status.st_mtime_ns) != survey.stamp:
                raise _changed(survey.path)
            for entry in parse_report(file, survey.fmt, earlier=True):
                if isinstance(entry, Flaw):
                    raise _changed(f"{survey.path}:{entry.line}")
                record = entry.record
                group = _group(record)
                if group not in wanted:
                    continue
                summary = _summarise(record)
                if summary not in wanted[group]:
                    continue
                item = (record.host, record.port, record.sni, _side(record))
                # Repeated rows with the same int differ in their label at most: keep the
                # smallest, whatever the order.
                previous = found.get((group, summary))
                if previous is None or (item[3].label or "") < (previous[3].label or ""):
                    found[group, summary] = item
    except OSError as exc:
        raise SnisweepError(f"{survey.path}: {cannot_read(exc)}") from exc
    if len(found) != sum(len(summaries) for summaries in wanted.values()):
        raise _changed(survey.path)
    return found


def _changed(where: str) -> SnisweepError:
    return SnisweepError(f"{where} changed during the diff; compare the reports again")


def _wanted(rows: Iterable[tuple[bytes, int | None]]) -> dict[bytes, set[int]]:
    """The rows to read again, by endpoint, from (endpoint, row) pairs (None: no row)."""
    wanted: dict[bytes, set[int]] = {}
    for group, summary in rows:
        if summary is not None:
            wanted.setdefault(group, set()).add(summary)
    return wanted


# --- the diff ---------------------------------------------------------------------------------


def diff(old: str, new: str) -> Diff:
    """What changed from the report at path ``old`` to the one at ``new`` (CSV or JSONL, by
    the extension, else by the content; any mix). Raises ``ConfigError`` with every problem of
    both reports (``FILE:LINE``, as merge), ``UsageError`` for ``-`` (each report is read
    twice), ``SnisweepError`` when a report changes while it is read."""
    if "-" in (old, new):
        raise UsageError(
            "diff reads each report twice, so it cannot read standard input: save it to a file"
        )
    before, after = _survey(old), _survey(new)
    problems = before.problems + after.problems
    if problems:
        raise ConfigError(problems)
    pairs = list(_compare(before.groups, after.groups))
    old_rows, new_rows = before.rows, after.rows
    before.groups.clear()  # the ints are not needed any more: give the memory back
    after.groups.clear()
    old_found = _read_wanted(before, _wanted((pair.group, pair.old) for pair in pairs))
    new_found = _read_wanted(after, _wanted((pair.group, pair.new) for pair in pairs))
    changes = []
    for pair in pairs:
        old_item = old_found[pair.group, pair.old] if pair.old is not None else None
        new_item = new_found[pair.group, pair.new] if pair.new is not None else None
        item = new_item or old_item
        if item is None:
            raise TypeError("a change has an old or a new side, or both")
        host, port, sni, _ = item
        changes.append(
            Change(
                pair.kinds,
                host,
                port,
                sni,
                old_item[3] if old_item is not None else None,
                new_item[3] if new_item is not None else None,
            )
        )
    changes.sort(key=_order)
    return Diff(
        old, new, tuple(changes), old_rows, new_rows, repeated=before.repeated + after.repeated
    )


def _order(change: Change) -> tuple[str, int, str, str, tuple[Kind, ...]]:
    # None first, then text: an IP literal's empty sni before any name.
    return (change.host, change.port, change.sni or "", change.address or "", change.kinds)


# --- rendering --------------------------------------------------------------------------------


def render(diff: Diff, fmt: DiffFormat, out: TextIO, *, columns: int | None = None) -> None:
    """Write the changes to ``out`` as ``fmt``. ``columns`` is the width a table must fit (a
    terminal's; None: no limit); the other formats ignore it. A file for CSV should be opened
    with ``newline=""``: its rows end in CRLF, as the reports' do."""
    match DiffFormat(fmt):  # a plain "csv" too; anything else is a ValueError
        case DiffFormat.CSV:
            _render_csv(diff.changes, out)
        case DiffFormat.JSONL:
            _render_jsonl(diff.changes, out)
        case DiffFormat.MARKDOWN:
            _render_markdown(diff.changes, out)
        case DiffFormat.TABLE:
            _render_table(diff.changes, out, columns)


def _cells(change: Change) -> tuple[Cell, ...]:
    """The values of ``HEADER`` for one change."""
    old, new = change.old, change.new
    return (
        tuple(change.kinds),
        change.host,
        change.port,
        change.address,
        change.sni,
        change.label,
        old.verdict if old else None,
        new.verdict if new else None,
        old.reason if old else None,
        new.reason if new else None,
        old.cert_sha256 if old else None,
        new.cert_sha256 if new else None,
        old.not_after if old else None,
        new.not_after if new else None,
    )


def _render_csv(changes: Sequence[Change], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    # The reports' own cells: a formula-like text (a certificate field, a label) is neutralised.
    writer.writerows([csv_cell(cell) for cell in _cells(change)] for change in changes)


def _render_jsonl(changes: Sequence[Change], out: TextIO) -> None:
    for change in changes:
        obj = {key: json_value(cell) for key, cell in zip(HEADER, _cells(change), strict=True)}
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")


# The table and the markdown show the same columns, each an old → new pair where it changed;
# the label, free text of any length, last.
_TITLES: Final = ("CHANGE", "ENDPOINT", "ADDRESS", "VERDICT", "REASON", "CERT", "EXPIRES", "LABEL")
_SHA_SHOWN: Final = 12  # hex digits of a SHA-256 a person needs to tell two certificates apart


def _display(change: Change) -> tuple[str, ...]:
    """The texts a person reads for one change, made printable (every text from a report
    may come from an untrusted server or list)."""
    host = f"[{change.host}]" if ":" in change.host else change.host
    endpoint = f"{host}:{change.port}"
    if change.sni and change.sni != change.host:
        endpoint += f" sni {change.sni}"
    return (
        ", ".join(change.kinds),
        printable(endpoint, 200),
        _pair(change, lambda side: side.address),
        _pair(change, lambda side: side.verdict),
        _pair(change, lambda side: side.reason),
        _pair(change, lambda side: _short(side.cert_sha256)),
        _expires(change),
        printable(change.label or "", 60) or "-",
    )


def _short(sha256: str | None) -> str | None:
    if sha256 is None or len(sha256) <= _SHA_SHOWN:
        return sha256
    return sha256[:_SHA_SHOWN] + "…"


def _expires(change: Change) -> str:
    """The expiry dates; the whole times only when that is where they differ."""
    old, new = change.old, change.new
    same_day = old and new and (old.not_after or "")[:10] == (new.not_after or "")[:10]
    if same_day and old and new and old.not_after != new.not_after:
        return _pair(change, lambda side: side.not_after)
    return _pair(change, lambda side: side.not_after and side.not_after[:10])


def _pair(change: Change, value: Callable[[Side], str | None]) -> str:
    """``old → new`` when the value changed; the one value otherwise, ``-`` for none."""
    old = _shown(value(change.old)) if change.old is not None else None
    new = _shown(value(change.new)) if change.new is not None else None
    if old is None or new is None or old == new:
        return new or old or "-"
    return f"{old} → {new}"


def _shown(text: str | None) -> str:
    return printable(text, 80) if text else "-"


# CommonMark's backslash escapes for what would make a cell something else: the cell's end
# (``|``), code, emphasis, links and images, HTML and entities, strike-through. Line ends are
# already escaped by ``printable``, whose backslashes are escaped here too.
_MARKDOWN_ESCAPES: Final = str.maketrans({ch: "\\" + ch for ch in "\\`*_[]<>|~&"})


def _render_markdown(changes: Sequence[Change], out: TextIO) -> None:
    out.write("| " + " | ".join(title.lower() for title in _TITLES) + " |\n")
    out.write("|" + "---|" * len(_TITLES) + "\n")
    for change in changes:
        cells = (cell.translate(_MARKDOWN_ESCAPES) for cell in _display(change))
        out.write("| " + " | ".join(cells) + " |\n")


_GAP: Final = "  "
# A table too wide for the terminal keeps these columns, and shows the others under each row
# (as the demo's table puts its detail there), wrapped. The kept columns narrow down to these
# widths before any of them wraps further: "certificate", a name, an IPv4 address, "mismatched".
_KEPT: Final = 5
_FLOORS: Final = (11, 30, 15, 10, 16)


def _render_table(changes: Sequence[Change], out: TextIO, columns: int | None) -> None:
    if not changes:
        return  # the summary line says so
    rows = [_display(change) for change in changes]
    widths = _widths([_TITLES, *rows])
    if columns is None or sum(widths) + len(_GAP) * (len(widths) - 1) <= columns:
        for row in (_TITLES, *rows):
            _write_row(out, row, widths)
        return
    columns = max(columns, 1)
    kept = _widths([_TITLES[:_KEPT], *(row[:_KEPT] for row in rows)])
    widths = _fit(kept, columns - len(_GAP) * (_KEPT - 1), _FLOORS)
    indent = min(widths[0] + len(_GAP), columns // 3)
    _write_row(out, _TITLES[:_KEPT], widths)
    for row in rows:
        _write_row(out, row[:_KEPT], widths)
        under = "  ".join(
            f"{title.lower()}: {cell}"
            for title, cell in zip(_TITLES[_KEPT:], row[_KEPT:], strict=True)
        )
        for part in _wrap(under, columns - indent):
            out.write(" " * indent + part + "\n")


def _widths(rows: Iterable[Sequence[str]]) -> list[int]:
    return [max(map(len, cells)) for cells in zip(*rows, strict=True)]


def _write_row(out: TextIO, row: Sequence[str], widths: Sequence[int]) -> None:
    """One row, over as many lines as its longest cell needs at these widths."""
    parts = [_wrap(cell, width) for cell, width in zip(row, widths, strict=True)]
    for number in range(max(map(len, parts))):
        texts = [
            (part[number] if number < len(part) else "").ljust(width)
            for part, width in zip(parts, widths, strict=True)
        ]
        out.write(_GAP.join(texts).rstrip() + "\n")


def _fit(widths: Sequence[int], room: int, floors: Sequence[int]) -> list[int]:
    """Column widths that fit ``room`` characters: the widest columns are narrowed first, to
    the same width, but none below its floor (when the floors fit), so that the change, the
    endpoint and the address stay whole as long as they can. When even one character per
    column does not fit, one character per column it is."""
    if sum(widths) <= room:
        return list(widths)
    floors = [min(width, floor) for width, floor in zip(widths, floors, strict=True)]
    if sum(floors) > room:
        floors = [1] * len(widths)

    def capped(cap: int) -> list[int]:
        return [min(w, max(f, cap)) for w, f in zip(widths, floors, strict=True)]

    cap = max(widths)
    while cap > 1 and sum(capped(cap)) > room:
        cap -= 1
    fitted = capped(cap)
    # What is left over (less than one per narrowed column) goes to the first narrowed ones.
    spare = room - sum(fitted)
    for index, width in enumerate(widths):
        if spare <= 0:
            break
        if width > fitted[index]:
            fitted[index] += 1
            spare -= 1
    return fitted


def _wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=True) or [""]
