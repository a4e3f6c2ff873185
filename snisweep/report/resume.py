"""Going on with an interrupted scan (``--resume``): which endpoints the existing report already
holds, where its whole rows end, and the endpoints left to scan. Reads the report and iterates
the endpoint lists (file I/O); reading rows back is ``readers``' job, appending them is the
writer's (``writers.Appending``).

Theory of operation. ``prepare`` reads the report once, and keeps what is small: one 128-bit
digest per endpoint done (100k endpoints: about 10 MB), and, while it reads, one per endpoint
listed.

1. *The file.* Missing or empty: nothing is done, the scan is a fresh one (``Resume.fresh``).
   A workbook and standard output are refused before anything is read, a file in the other
   text format than the one the scan writes by its first bytes.
2. *The header.* The first entry ``parse_report`` reads says whether the file is a report of
   this version (CSV: its header; JSONL: its first object's keys): if not, refused, before
   the lists are read again.
3. *The lists.* At the first row, one pass over the endpoints to scan (``--shard`` applied)
   collects their identities (``model.endpoint_digest(host, port, address, sni)`` of the list
   entry, whose ``address`` is the configured one, None when the name is resolved).
4. *The rows.* Every complete row is matched to its endpoint (below); a row that matches none
   is refused: the report came from other lists. A malformed row is refused with its line.
   The last row alone may be cut short (the file ends without its line end, or, in CSV, in the
   middle of a quoted cell): it is dropped, ``keep_bytes`` is where the rows before it end, and
   its endpoint is scanned again.

Matching a row to its endpoint. A row holds the address it *dialled*; the list entry holds the
address it was *given* (None when resolved). An endpoint given an address dials that address,
and has exactly one row; a row of it may have no address, though, when nothing was dialled (an
unresolvable proxy, an internal error). A resolved endpoint has one row without an address (its
name or proxy failed, or the proxy resolved it), or one row per address it dialled. So a row
(host, port, address, sni) belongs to, in this order:

- the endpoint given that address, if there is one and no row has claimed it yet;
- the resolved endpoint (host, port, sni): for a row with an address, whatever it dialled (with
  ``--all-addresses``, every one of its rows); for a row without one, if no row claimed it yet;
- for a row without an address: one of the endpoints (host, port, sni) given an address, not
  claimed otherwise. Which one the row cannot say; the first ones in list order are taken as
  done, as many as there are such rows (they are scanned in that order, and such rows are
  alike but for the list's label and tags).

A row for an endpoint already claimed (the report held it twice before) is let be.

When an endpoint is done. An endpoint is done when the report holds one complete row of it. An
endpoint scanned at each of its addresses (``--all-addresses``) sends its rows one by one, and
a scan stopped between two of them leaves only some: such an endpoint counts as done, and the
rows of its other addresses stay missing. (The scheduler could send an endpoint's rows as one,
shielded from the stop; a report cannot tell how many addresses a name had.)

What is not checked: that the rows came from the same options (``--no-http``, ``--tls-min``,
trust): the lists and the columns are what a report shows of its scan.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import BinaryIO, Final, Protocol

from snisweep.core.record import COLUMNS, Record
from snisweep.errors import OutputError, UsageError, cannot_read
from snisweep.model import Endpoint, Verdict, endpoint_digest
from snisweep.report.readers import Flaw, Row, describe, detect_format, parse_report
from snisweep.report.writers import Appending, Format

__all__ = ["Endpoints", "Remaining", "Resume", "prepare"]

# The wording of readers' flaw for a header of other columns; what follows it is the comparison.
_OTHER_VERSION: Final = "a report of another snisweep version: "
_THIS_VERSION: Final = "--resume appends only to a report of this version"
_BOM: Final = b"\xef\xbb\xbf"


class Endpoints(Protocol):
    """The endpoints of a scan: ``lists.load``'s ``EndpointList``, iterable again and again,
    in the same order each time, with their ``count``."""

    def __iter__(self) -> Iterator[Endpoint]: ...

    @property
    def count(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Resume:
    """What an existing report holds for a scan to go on from.

    ``rows``: its complete rows, kept; ``endpoints``: the endpoints they are of (fewer than
    the rows with ``--all-addresses``); ``keep_bytes``: where those rows end (the header's end
    when there are none; 0 when nothing is kept); ``size``: the file's size when read;
    ``dropped``: the line of a last row cut short, dropped (its endpoint is scanned again);
    ``delimiter``: the CSV cell separator of the rows kept; ``verdicts``: how many rows kept
    have each verdict (so that ``--fail-on`` judges the whole report, not only this run).
    """

    rows: int
    endpoints: int
    keep_bytes: int
    size: int = 0
    dropped: int | None = None
    delimiter: str | None = None
    done: AbstractSet[bytes] = field(default=frozenset(), repr=False)  # identities of endpoints
    # identity of (host, port, None, sni) -> how many endpoints under it given an address are
    # done by rows without an address (the first ones in list order)
    unaddressed: Mapping[bytes, int] = field(default_factory=dict, repr=False)
    verdicts: Mapping[Verdict, int] = field(default_factory=dict)

    @classmethod
    def fresh(cls) -> Resume:
        """Nothing to go on from: a missing or empty report, scanned afresh."""
        return cls(rows=0, endpoints=0, keep_bytes=0)

    @property
    def appending(self) -> Appending:
        """How the writer appends to the report (``writers.writer_for(..., appending=)``)."""
        return Appending(self.keep_bytes, self.size, self.delimiter)

    def remaining(self, endpoints: Endpoints) -> Remaining:
        """``endpoints`` (those given to ``prepare``) without the ones done."""
        return Remaining(endpoints, self)


class Remaining:
    """The endpoints left to scan: iterable again and again, in the same order each time
    (workers each take their share of a whole iteration), without the endpoints done."""

    __slots__ = ("_endpoints", "_resume")

    def __init__(self, endpoints: Endpoints, resume: Resume) -> None:
        self._endpoints = endpoints
        self._resume = resume

    @property
    def count(self) -> int:
        """How many endpoints an iteration yields."""
        return self._endpoints.count - self._resume.endpoints

    @property
    def done(self) -> int:
        """How many endpoints the report held already."""
        return self._resume.endpoints

    @property
    def total(self) -> int:
        """How many endpoints the scan covers, done or not: the M of "N of M"."""
        return self._endpoints.count

    def __iter__(self) -> Iterator[Endpoint]:
        done = self._resume.done
        if not done and not self._resume.unaddressed:
            yield from self._endpoints
            return
        unaddressed = dict(self._resume.unaddressed)  # taken anew by each iteration
        for endpoint in self._endpoints:
            host, port, address, sni = endpoint.host, endpoint.port, endpoint.address, endpoint.sni
            if endpoint_digest(host, port, address, sni) in done:
                continue
            if address is not None and unaddressed:
                loose = endpoint_digest(host, port, None, sni)
                left = unaddressed.get(loose, 0)
                if left:
                    unaddressed[loose] = left - 1
                    continue
            yield endpoint

    def __repr__(self) -> str:
        return f"Remaining(count={self.count}, done={self.done}, total={self.total})"


def prepare(path: str, fmt: Format, endpoints: Endpoints) -> Resume:
    """What the report at ``path``, to be written in ``fmt``, holds of ``endpoints`` already.

    Raises ``UsageError`` when it cannot be gone on with: standard output, a workbook, a file
    in the other format, not a report, a report of another version, a malformed row (with its
    line), a row of an endpoint not in ``endpoints`` (other lists, or another shard);
    ``OutputError`` when it cannot be read. A missing or empty file is ``Resume.fresh()``.
    """
    if path == "-":
        raise UsageError("--resume goes on with a report file, not standard output: give -o FILE")
    if fmt is Format.XLSX:
        raise UsageError(
            f"-o {path}: a workbook cannot be resumed (it is written whole at the end of the "
            "scan); resume into CSV or JSONL, and convert it afterwards with snisweep merge"
        )
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        return Resume.fresh()
    except OSError as exc:
        raise OutputError(f"cannot resume {path}: {cannot_read(exc)}") from exc
    with file:
        try:
            return _prepare(path, fmt, file, endpoints)
        except OSError as exc:
            raise OutputError(f"cannot resume {path}: {cannot_read(exc)}") from exc


def _prepare(path: str, fmt: Format, file: BinaryIO, endpoints: Endpoints) -> Resume:
    status = os.fstat(file.fileno())
    if not stat.S_ISREG(status.st_mode):
        raise UsageError(f"-o {path}: --resume goes on with a regular file, and this is none")
    size = status.st_size
    if size == 0:
        return Resume.fresh()
    start = file.read(4)
    file.seek(0)
    found = detect_format("", start)  # by its content
    if found is not fmt:
        raise UsageError(
            f"{path} holds {found}, and this scan writes {fmt}: give the --format of the scan "
            "that wrote it (or another -o)"
        )
    lines = _Measured(file, size)
    entries = parse_report(lines, fmt)
    head = next(entries, None)
    if isinstance(head, Flaw) and head.line == 1:  # its header, or (JSONL) its first object
        if not _cut_short(head, lines, fmt):
            raise _refusal(path, head)
        if not _starts_like_a_report(lines.first, fmt):
            raise UsageError(
                f"{path}:1: not a snisweep report (its one line, without a line end, is not "
                f"the start of one); {_THIS_VERSION} (or choose another -o)"
            )
        return Resume(rows=0, endpoints=0, keep_bytes=0, size=size, dropped=1)

    matching = _Matching(path, endpoints)
    kept = 0
    dropped: int | None = None
    verdicts: Counter[Verdict] = Counter()
    for entry in itertools.chain([head] if head is not None else [], entries):
        if isinstance(entry, Row):
            matching.add(entry.line, entry.record)
            verdicts[entry.record.verdict] += 1
            kept = lines.offset
        elif _cut_short(entry, lines, fmt, kept=kept):
            dropped = entry.line
            break
        else:
            raise _refusal(path, entry)
    else:
        kept = lines.offset  # every line is whole
    if fmt is Format.CSV and not matching.rows:
        kept = lines.first_end  # the header alone
    delimiter = None
    if fmt is Format.CSV and kept:
        delimiter = _delimiter(lines.first)
    done, unaddressed = matching.result()
    return Resume(
        rows=matching.rows,
        endpoints=len(done) + sum(unaddressed.values()),
        keep_bytes=kept,
        size=size,
        dropped=dropped,
        delimiter=delimiter,
        done=done,
        unaddressed=unaddressed,
        verdicts=verdicts,
    )


class _Measured:
    """The lines of a binary file of ``size`` bytes, measured: where those read so far end,
    where the first one ends (and what it is), and whether the last one read has no line end
    (the file ends in it)."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self._file = file
        self._size = size
        self.offset = 0
        self.first = b""
        self.first_end = 0
        self.torn = False

    def __iter__(self) -> Iterator[bytes]:
        for line in self._file:
            if not self.offset:
                self.first, self.first_end = line, len(line)
            self.offset += len(line)
            self.torn = not line.endswith(b"\n")
            yield line

    @property
    def at_end(self) -> bool:
        """Whether every line has been read."""
        return self.offset == self._size

    def since(self, offset: int) -> bytes:
        """The bytes from ``offset`` to the end; the lines are not read on after that."""
        self._file.seek(offset)
        return self._file.read()


def _cut_short(flaw: Flaw, lines: _Measured, fmt: Format, *, kept: int = 0) -> bool:
    """Whether ``flaw`` is the last row's, cut short: the file ends in it, and without its line
    end, or (CSV) inside a quoted cell, whose line ends belong to the cell. Rows are written
    whole, so only an interrupted write leaves such a row, and only at the end."""
    if not flaw.fatal or not lines.at_end:
        return False
    if lines.torn:
        return True
    if fmt is not Format.CSV or flaw.line == 1:
        return False
    # Quotes come in pairs in RFC 4180 (a quote in a cell is doubled): an odd count since the
    # last whole row leaves a quoted cell open. Rows end in CR LF, and a row cut short holds no
    # row end: one there is a stray quote that took the rows after it along (refused instead).
    rest = lines.since(kept or lines.first_end)
    return rest.count(b'"') % 2 == 1 and lines.first.endswith(b"\r\n") and b"\r\n" not in rest


def _delimiter(header: bytes) -> str:
    """The cell separator of a CSV report, from its header (as ``readers`` tells it)."""
    return ";" if header.removeprefix(_BOM).startswith(b"host;") else ","


def _starts_like_a_report(first: bytes, fmt: Format) -> bool:
    """Whether a first line cut short could be what this version writes first."""
    text = first.removeprefix(_BOM)
    if fmt is Format.JSONL:
        start = b'{"' + COLUMNS[0].encode() + b'": '
        return text.startswith(start) or start.startswith(text)
    return any(
        delimiter.join(COLUMNS).encode().startswith(text.rstrip(b"\r")) for delimiter in ",;"
    )


def _refusal(path: str, flaw: Flaw) -> UsageError:
    if flaw.message.startswith(_OTHER_VERSION):
        comparison = flaw.message.removeprefix(_OTHER_VERSION)
        return UsageError(
            f"{path}: a report of another snisweep version ({comparison}); {_THIS_VERSION}"
        )
    if flaw.fatal:
        return UsageError(f"{path}:{flaw.line}: {flaw.message}; {_THIS_VERSION} (or another -o)")
    return UsageError(
        f"{path}:{flaw.line}: {flaw.message}; --resume goes on only with a report whose rows "
        "all read back (or choose another -o)"
    )


@dataclass(slots=True)
class _Listed:
    """The endpoints to scan, as the rows are matched to them: small, one digest each."""

    identities: set[bytes]
    # identity of (host, port, None, sni) -> how many endpoints under it were given an address
    addressed: Counter[bytes]

    @classmethod
    def of(cls, endpoints: Iterable[Endpoint]) -> _Listed:
        identities: set[bytes] = set()
        addressed: Counter[bytes] = Counter()
        for endpoint in endpoints:
            host, port, address, sni = endpoint.host, endpoint.port, endpoint.address, endpoint.sni
            identities.add(endpoint_digest(host, port, address, sni))
            if address is not None:
                addressed[endpoint_digest(host, port, None, sni)] += 1
        return cls(identities, addressed)


class _Matching:
    """Rows matched to the endpoints they are of (the module's docstring says how). The lists
    are read on the first row: a report without rows needs no pass over them."""

    def __init__(self, path: str, endpoints: Endpoints) -> None:
        self._path = path
        self._endpoints = endpoints
        self._listed: _Listed | None = None
        self._done: set[bytes] = set()
        self._claimed: Counter[bytes] = Counter()  # endpoints given an address, done, per loose
        self._unaddressed: Counter[bytes] = Counter()  # rows without an address, per loose
        self.rows = 0

    def add(self, line: int, record: Record) -> None:
        self.rows += 1
        if self._listed is None:
            self._listed = _Listed.of(self._endpoints)
        listed = self._listed
        identities, done = listed.identities, self._done
        host, port, address, sni = record.host, record.port, record.address, record.sni
        loose = endpoint_digest(host, port, None, sni)  # also the resolved endpoint's identity
        if address is not None:
            given = endpoint_digest(host, port, address, sni)
            if given in identities and given not in done:
                done.add(given)
                self._claimed[loose] += 1
            elif loose in identities:
                done.add(loose)
            elif given not in identities:
                raise self._stranger(line, record)
        elif loose in identities and loose not in done:
            done.add(loose)
        elif listed.addressed[loose]:
            self._unaddressed[loose] += 1
        elif loose not in identities:
            raise self._stranger(line, record)

    def result(self) -> tuple[AbstractSet[bytes], dict[bytes, int]]:
        """The identities of the endpoints done, and per (host, port, sni) how many of those
        given an address are done by rows without one."""
        if self._listed is None:
            return self._done, {}
        addressed = self._listed.addressed
        unaddressed = {
            loose: taken
            for loose, rows in self._unaddressed.items()
            if (taken := min(rows, addressed[loose] - self._claimed[loose])) > 0
        }
        return self._done, unaddressed  # not copied: 100k digests are megabytes

    def _stranger(self, line: int, record: Record) -> UsageError:
        shard = f" (or another --shard: the row is of shard {record.shard})" if record.shard else ""
        return UsageError(
            f"{self._path}:{line}: {describe(record)} is not in the endpoint lists: this report "
            f"came from other lists{shard}; --resume needs the same lists (or another -o)"
        )
