"""Merging reports: the shard reports of one scan (or reports of disjoint lists) into one report.
Reads the reports and writes the merged one (file I/O, through ``report.ReportWriter``); reading
a report's rows back (``parse_report``) and the checks are pure.

Theory of operation. A merge makes two passes over its inputs, so that it never holds the rows
(100k-row shard reports are normal):

1. *Check.* Every row of every report is parsed back into a ``Record`` and thrown away; what is
   kept is small: a 128-bit digest of each row's endpoint (host, port, sni, address) with the
   file and line it came from, and per report the shards it holds. Every problem found is
   collected and raised together as one ``ConfigError``; nothing has been written yet, so the
   output is neither created nor truncated.
2. *Write.* The reports are read again and their records written with the same encoders and
   ``ReportWriter`` as a scan. A report that changed in between is a runtime failure.

Reading rows back is ``snisweep.report.readers``' job; this module surveys and writes.

Refused (``FILE:LINE: message`` for each): a file that is not a snisweep report, one from a
version with other columns, malformed rows, a last line without its line end (a truncated
report), the same file twice, the same endpoint in two reports, and shards that do not fit
together: different shard counts, sharded rows with unsharded ones, one shard in two reports,
and shards missing from 1..N (unless ``allow_missing``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from snisweep.core.record import Record
from snisweep.errors import ConfigError, Problem, SnisweepError, UsageError, cannot_read
from snisweep.model import endpoint_digest
from snisweep.report.readers import (
    Complaints,
    Flaw,
    Row,
    describe,
    detect_format,
    parse_report,
    shard_of,
)
from snisweep.report.writers import (
    Format,
    ReportSink,
    format_for,
    refuse_overwriting,
    writer_for,
)
from snisweep.run.session import run_loop
from snisweep.run.shard import Shard

#: Problems about single rows shown per report; a report that is wrong throughout would
#: otherwise print one line per row. The rest are counted.

_BATCH: Final = 1000


# --- checking the reports ---------------------------------------------------------------------


@dataclass(slots=True)
class _Report:
    """What the first pass keeps of one report: small, whatever the number of rows."""

    path: str
    fmt: Format
    stamp: tuple[int, int]  # size and modification time: the report must not change
    rows: int = 0
    shards: dict[Shard, int] = field(default_factory=dict)  # shard -> first line
    unsharded: int | None = None  # first line of a row without a shard


@dataclass(slots=True)
class _Survey:
    """What the first pass learns about all reports."""

    reports: list[_Report] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # endpoint digest -> (index of its report in ``reports``) << 32 | line; an int, not a tuple,
    # because a million rows are a million entries.
    endpoints: dict[bytes, int] = field(default_factory=dict)


def _endpoint_key(record: Record) -> bytes:
    # A row holds the address it dialled (a list entry holds the one configured, if any): two
    # reports of the same endpoint dialled the same address, or they are of different scans.
    return endpoint_digest(record.host, record.port, record.address, record.sni)


def _survey(paths: Sequence[str]) -> _Survey:
    survey = _Survey()
    seen: dict[tuple[int, int], str] = {}
    for path in paths:
        try:
            file = open(path, "rb")  # noqa: SIM115 - closed by the with below, after the checks
        except OSError as exc:
            survey.problems.append(Problem(path, None, cannot_read(exc)))
            continue
        with file:
            status = os.fstat(file.fileno())
            identity = (status.st_dev, status.st_ino)
            if identity in seen:
                survey.problems.append(
                    Problem(path, None, f"the same file as {seen[identity]}, given twice")
                )
                continue
            seen[identity] = path
            fmt = detect_format(path, file.peek(4)[:4])
            report = _Report(path, fmt, (status.st_size, status.st_mtime_ns))
            _survey_report(survey, report, parse_report(file, fmt, earlier=True))
            survey.reports.append(report)
    return survey


def _survey_report(survey: _Survey, report: _Report, entries: Iterable[Row | Flaw]) -> None:
    index = len(survey.reports)
    complaints = Complaints(report.path, survey.problems)
    for entry in entries:
        match entry:
            case Flaw():
                complaints.flaw(entry)
            case Row(line=line, record=record):
                report.rows += 1
                shard = shard_of(record.shard)
                if shard is None:
                    if report.unsharded is None:
                        report.unsharded = line
                else:
                    report.shards.setdefault(shard, line)
                place = survey.endpoints.setdefault(_endpoint_key(record), index << 32 | line)
                # The same endpoint twice in one report is the scanner's business (two list
                # entries may meet at one address); across reports it is an overlap.
                if place >> 32 != index:
                    other = survey.reports[place >> 32].path
                    complaints.row(
                        line,
                        f"{describe(record)} is also in {other}:{place & 0xFFFFFFFF}: "
                        "the reports overlap",
                    )
    complaints.close()


@dataclass(frozen=True, slots=True)
class _Coverage:
    """The shards a merge holds: ``count`` 0 when the reports are not sharded."""

    present: tuple[int, ...] = ()
    missing: tuple[int, ...] = ()
    count: int = 0

    def __str__(self) -> str:
        if not self.count:
            return ""
        text = f"shards {_ranges(self.present)} of {self.count}"
        return text + (f"; missing {_ranges(self.missing)}" if self.missing else "")


def _check_shards(
    reports: Sequence[_Report], *, allow_missing: bool
) -> tuple[_Coverage, list[Problem]]:
    """Whether the reports' shards fit together: the shards of one scan, each in one report, all
    of them (unless ``allow_missing``), and no unsharded rows among them. The first row of the
    first report with rows sets what the others must match."""
    problems: list[Problem] = []
    reference = next(filter(None, (_first_row(report) for report in reports)), None)
    if reference is None:
        return _Coverage(), problems
    first_line, first_shard = reference
    first = next(report for report in reports if report.rows)
    where = f"{first.path}:{first_line}"
    if first_shard is None:
        for report in reports:
            if report.shards:
                shard, line = min(report.shards.items(), key=lambda item: item[1])
                problems.append(
                    Problem(
                        report.path,
                        line,
                        f"a row of shard {shard}, but {where} is unsharded: sharded and "
                        "unsharded reports cannot be merged",
                    )
                )
        return _Coverage(), problems

    count = first_shard.count
    owners: dict[Shard, str] = {}
    for report in reports:
        if report.unsharded is not None:
            problems.append(
                Problem(
                    report.path,
                    report.unsharded,
                    f"an unsharded row (empty shard), but {where} is shard {first_shard}"
                    ": sharded and unsharded reports cannot be merged",
                )
            )
        other_counts: dict[int, tuple[int, Shard]] = {}
        for shard, line in sorted(report.shards.items(), key=lambda item: item[1]):
            if shard.count != count:
                other_counts.setdefault(shard.count, (line, shard))
            elif shard in owners:
                problems.append(
                    Problem(
                        report.path,
                        line,
                        f"shard {shard} is also in {owners[shard]}: each shard must "
                        "come from one report",
                    )
                )
            else:
                owners[shard] = f"{report.path}:{line}"
        problems.extend(
            Problem(
                report.path,
                line,
                f"shard {shard}, but {where} is shard {first_shard}: "
                "shards of scans with different shard counts cannot be merged",
            )
            for line, shard in other_counts.values()
        )
    present = tuple(sorted(shard.number for shard in owners))
    missing = tuple(sorted(set(range(1, count + 1)) - set(present)))
    if missing and not allow_missing:
        empty = sum(1 for report in reports if not report.rows)
        # A shard can be empty (shards are cut by a hash), and a report without rows has no
        # shard column to show: the user has to say that the missing ones are those.
        why = f" ({empty} report(s) have no rows, so their shard is unknown)" if empty else ""
        problems.append(
            Problem(
                first.path,
                first_line,
                f"shard {first_shard}, but shard(s) {_ranges(missing)} of {count} are in "
                f"none of the reports{why}; give every shard's report, or merge anyway with "
                "--allow-missing",
            )
        )
    return _Coverage(present, missing, count), problems


def _first_row(report: _Report) -> tuple[int, Shard | None] | None:
    """The line and shard of a report's first row, or None when it has no rows."""
    places: list[tuple[int, Shard | None]] = [(ln, shard) for shard, ln in report.shards.items()]
    if report.unsharded is not None:
        places.append((report.unsharded, None))
    return min(places, key=lambda place: place[0]) if places else None


def _ranges(numbers: Sequence[int]) -> str:
    """``1-3, 5`` for 1, 2, 3, 5."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


# --- the merge --------------------------------------------------------------------------------


def merge(
    reports: Sequence[str], output: str, fmt: Format | None, *, allow_missing: bool = False
) -> str:
    """Combine ``reports`` into ``output`` (a path, or ``-`` for standard output) and return a
    one-line summary. Raises ``ConfigError`` with every problem found before writing anything,
    ``UsageError`` when ``output`` is one of the reports."""
    if "-" in reports:
        raise UsageError(
            "merge reads each report twice, so it cannot read standard input: save it to a file"
        )
    refuse_overwriting(output, reports, "the reports to merge")
    out_format = format_for(output, fmt)  # a name it cannot write is said before any reading
    survey = _survey(reports)
    coverage, shard_problems = _check_shards(survey.reports, allow_missing=allow_missing)
    problems = survey.problems + shard_problems
    if problems:
        raise ConfigError(problems)
    survey.endpoints.clear()  # not needed for writing: a large merge gives the memory back
    writer = writer_for(output, out_format)
    run_loop(_write, writer, _batches(survey.reports, writer.name))
    rows = sum(report.rows for report in survey.reports)
    shards = f" ({coverage})" if coverage.count else ""
    return f"merged {len(reports)} report(s), {rows} row(s){shards} into {writer.name}"


def _batches(reports: Sequence[_Report], output: str) -> Iterator[list[Record]]:
    """The records of the checked reports, read again, in batches."""
    for report in reports:
        try:
            yield from _read_again(report, output)
        except OSError as exc:  # gone, or unreadable since the check
            raise SnisweepError(
                f"{report.path}: {cannot_read(exc)}; {output} holds only the rows written before "
                "that"
            ) from exc


def _read_again(report: _Report, output: str) -> Iterator[list[Record]]:
    with open(report.path, "rb") as file:
        status = os.fstat(file.fileno())
        if (status.st_size, status.st_mtime_ns) != report.stamp:
            raise _changed(report.path, output)
        batch: list[Record] = []
        rows = 0
        for entry in parse_report(file, report.fmt, earlier=True):
            if isinstance(entry, Flaw):
                raise _changed(f"{report.path}:{entry.line}", output)
            batch.append(entry.record)
            rows += 1
            if len(batch) >= _BATCH:
                yield batch
                batch = []
        if rows != report.rows:
            raise _changed(report.path, output)
        if batch:
            yield batch


def _changed(where: str, output: str) -> SnisweepError:
    return SnisweepError(
        f"{where} changed during the merge; {output} holds only the rows written before that"
    )


async def _write(writer: ReportSink, batches: Iterable[Sequence[Record]]) -> None:
    await writer.open()
    try:
        for batch in batches:
            await writer.write(batch)
    finally:
        await writer.close()
