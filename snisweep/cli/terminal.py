"""What the terminal shows: the progress bar, the summary line, the demo's table, messages.
Does terminal I/O; with ``snisweep.cli``, the only module that writes to the terminal.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import TextIO

import anyio

from snisweep.core.certs import printable
from snisweep.core.record import Record
from snisweep.model import Verdict
from snisweep.report.writers import Tally
from snisweep.run.session import Outcome


class ProgressBar:
    """The progress line on standard error, redrawn in place (a ``session.ProgressView``)."""

    def __init__(self, total: int) -> None:
        self._total = total

    async def show(self, tally: Tally, started: float) -> None:
        total = self._total
        width = 30
        while True:
            done = tally.total
            filled = width * done // total if total else width
            rate = done / max(time.monotonic() - started, 1e-6)
            bar = "#" * filled + "." * (width - filled)
            sys.stderr.write(f"\r[{bar}] {done}/{total} endpoints, {rate:.0f}/s")
            sys.stderr.flush()
            await anyio.sleep(0.25)

    def clear(self) -> None:
        sys.stderr.write("\r\x1b[K")


def summary(outcome: Outcome, where: str) -> str:
    tally = outcome.tally
    counts = ", ".join(f"{verdict.value} {tally.verdicts[verdict]}" for verdict in Verdict)
    rate = tally.total / outcome.elapsed if outcome.elapsed > 0 else 0.0
    line = (
        f"snisweep: {tally.total} endpoint(s) in {outcome.elapsed:.1f} s ({rate:.1f}/s): "
        f"{counts}; report: {where}"
    )
    held = outcome.held_back
    # Noticeable: on average at least one connection was kept waiting all along the scan.
    if held is not None and outcome.elapsed >= 1.0 and held.seconds >= outcome.elapsed:
        line += (
            f"\nsnisweep: the per-address limit (--per-host {held.per_address}) held the scan "
            f"back: {held.connections} connection(s) waited, {held.seconds / outcome.elapsed:.0f} "
            "at a time on average; raise --per-host if those servers take more at once"
        )
    return line


def print_table(records: Sequence[Record], order: Sequence[tuple[str, int]], out: TextIO) -> None:
    position = {key: index for index, key in enumerate(order)}
    rows = [("LABEL", "VERDICT", "REASON", "HTTP", "WARNINGS", "DETAIL")]
    for record in sorted(records, key=lambda r: position.get((r.host, r.port), len(position))):
        rows.append(
            (
                printable(record.label or f"{record.host}:{record.port}", 40),
                record.verdict.value,
                record.reason.value,
                statuses(record),
                ",".join(record.warnings) or "-",
                record.detail,
            )
        )
    columns = len(rows[0]) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(columns)]
    # On a terminal, a line longer than the window would wrap into the next row: the detail
    # then goes under its row, wrapped and indented (a report file or a pipe gets one line).
    limit = shutil.get_terminal_size().columns if out.isatty() else None
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:columns], widths, strict=True)]
        line = "  ".join([*cells, row[columns]]).rstrip()
        if limit is None or len(line) <= limit or row is rows[0]:
            out.write(line + "\n")
            continue
        out.write("  ".join(cells).rstrip() + "\n")
        for part in textwrap.wrap(row[columns], width=max(limit - 6, 20)):
            out.write("      " + part + "\n")


def statuses(record: Record) -> str:
    """The HTTP statuses with and without SNI, e.g. ``200/403`` (``-`` for none)."""
    if record.sni_http_status is None and record.nosni_http_status is None:
        return "-"
    if record.sni is None:  # an IP literal's one probe
        return str(record.sni_http_status)
    return f"{record.sni_http_status or '-'}/{record.nosni_http_status or '-'}"


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
