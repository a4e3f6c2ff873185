"""What the terminal shows: the progress bar, the summary line, report tables, messages.
Does terminal I/O; with ``snisweep.cli``, the only module that writes to the terminal.

The progress bar
----------------
One line on standard error, redrawn in place (rich's ``Live``): a bar, endpoints done of the
total, the counts per verdict in colour, the rate and the time left. It is drawn only when
standard error is a terminal and the report does not go to that same terminal: a report on
standard output would get the bar's redraws in the middle of its rows, and a log file or cron
mail would get them all. The line is laid out for the terminal's width at every redraw: what
does not fit is left out, least useful first (the bar shrinks to ten cells, the counts shrink
to ``req 12 mis 3 opt 390 err 9`` and then ``R12 M3 O390 E9``, the rate goes, then the bar,
then the counts, then the time left), so that it never wraps. What this process prints to
standard error meanwhile appears above it.

The summary line
----------------
Scripts read it, so its shape is fixed (``summary``): one line on standard error (cut in two
here)::

    snisweep: N endpoint(s) in S.S s (R.R/s): required A, mismatched B, optional C, error D;
    report: WHERE

N and the counts are whole numbers, S.S and R.R have one decimal; the verdicts are always all
four, in that order, even at 0; WHERE is the report's path, ``standard output`` or ``the table
above``. A second line may follow, about the per-address limit; it starts with ``snisweep:``
too. The progress bar is gone before the summary is written.

Tables
------
``print_table`` (``snisweep demo``) and ``show_report`` (``snisweep show``) lay a report's rows
out for the terminal's width: one line per row when everything fits (always, into a file or a
pipe); else the warnings and the detail go under their row, word-wrapped; on a terminal too
narrow even for the label, verdict and reason side by side, each row becomes a block of the
label and its codes, without the detail. Codes (verdicts, reasons, warnings) are never split,
unless one is wider than the whole line. ``markdown_table`` writes the rows as a Markdown table
for change tickets. Text from servers and lists is passed through ``printable`` first, and
reaches rich as text, never as markup.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TextIO

import anyio
from rich.cells import cell_len
from rich.console import Console
from rich.live import Live
from rich.text import Text

from snisweep.core.certs import printable
from snisweep.core.record import Record
from snisweep.model import Verdict
from snisweep.report.writers import Tally
from snisweep.run.session import Outcome

# ---------------------------------------------------------------------------------------------
# the progress bar

#: The colours of the verdicts, in the bar's counts and in tables.
VERDICT_STYLES: Final = {
    Verdict.REQUIRED: "bold red",
    Verdict.MISMATCHED: "yellow",
    Verdict.OPTIONAL: "green",
    Verdict.ERROR: "magenta",
}

_REDRAW = 0.25  # seconds between redraws
_PACE_WINDOW = 30.0  # seconds of recent progress that the rate and the time left come from
_BAR_MIN, _BAR_MAX = 10, 40
_GAP = "  "


class ProgressBar:
    """The progress line on standard error, redrawn in place (a ``session.ProgressView``).

    ``report_on_terminal``: the report goes to the terminal that standard error shows (``-o -``
    with standard output a terminal; see ``report_on_terminal``); then nothing is drawn, as
    when standard error is not a terminal at all.
    """

    def __init__(self, total: int, *, report_on_terminal: bool = False) -> None:
        self._total = total
        self._report_on_terminal = report_on_terminal
        self._live: Live | None = None

    async def show(self, tally: Tally, started: float) -> None:
        """Redraw the line from ``tally`` until cancelled; ``started`` is the scan's start
        (``time.monotonic()``)."""
        stream = sys.stderr
        if self._report_on_terminal or not _draws_on(stream):
            await anyio.sleep_forever()
            return
        console = Console(stderr=True, highlight=False)
        # Standard output is left alone: it may carry the report. Standard error's messages
        # are printed above the line instead of through it.
        live = Live(
            console=console,
            auto_refresh=False,  # redrawn from this task: no thread
            transient=True,
            redirect_stdout=False,
            redirect_stderr=True,
        )
        pace = _Pace(started)
        self._live = live
        live.start()
        try:
            while True:
                # Read again at every redraw: the window may have been resized.
                columns = _columns(stream)
                console.width = columns
                done = tally.total
                # One column short of the width: some terminals wrap on the last column.
                line = progress_line(
                    done,
                    self._total,
                    tally.verdicts,
                    pace.rate(time.monotonic(), done),
                    columns - 1,
                    ascii_only=console.options.ascii_only,
                )
                live.update(line, refresh=True)
                await anyio.sleep(_REDRAW)
        finally:
            self.clear()

    def clear(self) -> None:
        """Erase the line (and show the cursor again); nothing when it is not drawn."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()


def report_on_terminal(output: str) -> bool:
    """Whether a report written to ``output`` (``-o``) shows on the terminal, where a progress
    bar would get mixed into it."""
    return output == "-" and _is_terminal(sys.stdout)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced by something else, or closed
        return False


def _draws_on(stream: TextIO) -> bool:
    # A "dumb" terminal (Emacs' shell, some CI consoles) cannot move its cursor back.
    return _is_terminal(stream) and os.environ.get("TERM") not in ("dumb", "unknown")


def _columns(stream: TextIO) -> int:
    # The terminal of standard error itself: shutil's and rich's sizes come from standard
    # output (or input) and COLUMNS, which need not be this terminal, nor follow a resize.
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 80  # a pseudo-terminal whose size was never set says 0


class _Pace:
    """The recent rate of a scan, in endpoints per second, for the time left: a scan slows down
    as it ends (the silent endpoints time out last), so its overall rate promises too much."""

    def __init__(self, started: float) -> None:
        self._samples: deque[tuple[float, int]] = deque([(started, 0)])

    def rate(self, now: float, done: int) -> float:
        samples = self._samples
        samples.append((now, done))
        # Keep one sample at least a window old, when there is one.
        while len(samples) > 2 and now - samples[1][0] >= _PACE_WINDOW:
            samples.popleft()
        then, done_then = samples[0]
        return (done - done_then) / (now - then) if now > then else 0.0


def progress_line(
    done: int,
    total: int,
    verdicts: Mapping[Verdict, int],
    rate: float,
    width: int,
    *,
    ascii_only: bool = False,
) -> Text:
    """The progress line, at most ``width`` cells wide. Pure.

    At full width: ``━━━━━━━━━━━━━━━━  414/520  required 12, mismatched 3, optional 390,
    error 9  25/s  ETA 0:04``. As the width shrinks: the bar shrinks to ten cells, the counts
    to ``req 12 mis 3 ...`` and then ``R12 M3 ...``; then the rate, the bar, the counts and the
    time left go, in that order; ``done/total`` stays (cut, below its own width).
    """
    if width <= 0:
        return Text()
    left = max(total - done, 0)
    eta = 0.0 if left == 0 else left / rate if rate > 0 else None
    count = Text(f"{done}/{total}")
    clock = Text(f"ETA {_clock(eta)}")
    speed = Text(f"{rate:.0f}/s" if rate >= 10 else f"{rate:.1f}/s")
    forms = [_counts(verdicts, form) for form in ("short", "medium", "long")]

    # The parts chosen so far, by name, with their widths; the bar's is a number of cells.
    chosen: dict[str, int] = {"count": count.cell_len}

    def fits(**more: int) -> bool:
        return _span(list({**chosen, **more}.values())) <= width

    if fits(clock=clock.cell_len):
        chosen["clock"] = clock.cell_len
    if fits(counts=forms[0].cell_len):
        chosen["counts"] = forms[0].cell_len
    if fits(bar=_BAR_MIN):
        chosen["bar"] = _BAR_MIN
    if fits(speed=speed.cell_len):
        chosen["speed"] = speed.cell_len
    form = 0
    if "counts" in chosen:
        for better in (1, 2):
            if fits(counts=forms[better].cell_len):
                form = better
                chosen["counts"] = forms[better].cell_len
    if "bar" in chosen:  # the room left, up to a point
        chosen["bar"] = min(_BAR_MAX, _BAR_MIN + width - _span(list(chosen.values())))

    parts: list[Text] = []
    if "bar" in chosen:
        parts.append(_bar(done, total, chosen["bar"], ascii_only=ascii_only))
    parts.append(count)
    if "counts" in chosen:
        parts.append(forms[form])
    if "speed" in chosen:
        parts.append(speed)
    if "clock" in chosen:
        parts.append(clock)
    line = Text(_GAP).join(parts)
    line.truncate(width, overflow="ellipsis")  # only ``done/total`` alone can be too wide
    return line


def _counts(verdicts: Mapping[Verdict, int], form: str) -> Text:
    """The counts per verdict in the ``short`` (``R12``), ``medium`` (``req 12``) or ``long``
    (``required 12,``) form."""
    pieces = []
    for verdict in Verdict:
        if form == "short":
            name = verdict.value[0].upper()
        elif form == "medium":
            name = verdict.value[:3] + " "
        else:
            name = verdict.value + " "
        pieces.append(Text(f"{name}{verdicts.get(verdict, 0)}", style=VERDICT_STYLES[verdict]))
    return Text(", " if form == "long" else " ").join(pieces)


def _bar(done: int, total: int, width: int, *, ascii_only: bool) -> Text:
    filled = width if total <= 0 else min(width, width * done // total)
    full, empty = ("#", "-") if ascii_only else ("━", "━")
    return Text.assemble((full * filled, "bar.complete"), (empty * (width - filled), "bar.back"))


def _clock(seconds: float | None) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on; ``-:--`` when not known."""
    if seconds is None or not math.isfinite(seconds):
        return "-:--"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


# ---------------------------------------------------------------------------------------------
# the summary line


def summary(outcome: Outcome, where: str) -> str:
    """The summary line, in the shape that scripts rely on (see the module's docstring)."""
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


# ---------------------------------------------------------------------------------------------
# tables


class TableFormat(StrEnum):
    """How ``snisweep show`` writes a report (``--format``)."""

    TABLE = "table"  # for the terminal
    MARKDOWN = "markdown"  # for change tickets


_HEADER: Final = ("LABEL", "VERDICT", "REASON", "HTTP", "WARNINGS", "DETAIL")
_LABEL_MIN = 12  # a label column narrower than this is unreadable: rows become blocks
_INDENT = "    "  # what goes under a row
_BLOCK_INDENT = "  "  # the codes of a row, in the narrow layout


@dataclass(frozen=True, slots=True)
class _Row:
    """One record's cells, safe to show."""

    label: str
    verdict: Verdict
    reason: str
    http: str
    warnings: tuple[str, ...]
    detail: str


def _row(record: Record) -> _Row:
    # A report read back (``snisweep show``) may hold any text: everything shown is made
    # printable again, codes included.
    return _Row(
        label=printable(record.label or endpoint(record), 40),
        verdict=record.verdict,
        reason=printable(str(record.reason)),
        http=statuses(record),
        warnings=tuple(printable(str(code)) for code in record.warnings),
        detail=printable(record.detail),
    )


def endpoint(record: Record) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    host = printable(record.host, 300)
    return f"[{host}]:{record.port}" if ":" in host else f"{host}:{record.port}"


def select(records: Iterable[Record], only: Set[Verdict] = frozenset()) -> Iterator[Record]:
    """The records whose verdict is in ``only``, in order; all of them when ``only`` is empty
    (``snisweep show --only``). Pure."""
    for record in records:
        if not only or record.verdict in only:
            yield record


def show_report(
    records: Iterable[Record],
    out: TextIO,
    *,
    only: Set[Verdict] = frozenset(),
    fmt: TableFormat = TableFormat.TABLE,
    width: int | None = None,
) -> int:
    """Write a report's rows with a verdict in ``only`` (every row when empty) to ``out``, in
    their order, as a table (``width`` as in ``print_table``) or in Markdown; returns how many
    rows were written."""
    chosen = list(select(records, only))
    if fmt is TableFormat.MARKDOWN:
        markdown_table(chosen, out)
    else:
        _write_table(chosen, out, width)
    return len(chosen)


def print_table(
    records: Sequence[Record],
    order: Sequence[tuple[str, int]],
    out: TextIO,
    *,
    width: int | None = None,
) -> None:
    """The demo's table: ``records`` in the ``order`` of their (host, port) (the others last),
    laid out for ``width`` columns; by default the terminal's width when ``out`` is a terminal,
    else no limit (one line per row)."""
    position = {key: index for index, key in enumerate(order)}
    ordered = sorted(records, key=lambda r: position.get((r.host, r.port), len(position)))
    _write_table(ordered, out, width)


def _write_table(records: Iterable[Record], out: TextIO, width: int | None) -> None:
    terminal = _is_terminal(out)
    if width is None and terminal:
        width = shutil.get_terminal_size().columns
    # Colour only on a terminal (and not with NO_COLOR); the lines are laid out here already.
    console = Console(
        file=out, force_terminal=terminal, highlight=False, soft_wrap=True, emoji=False
    )
    for line in _table_lines([_row(record) for record in records], width, console):
        console.print(line)


def _table_lines(rows: Sequence[_Row], width: int | None, console: Console) -> list[Text]:
    """The lines of the table of ``rows`` for ``width`` columns (None: no limit). No line is
    wider, and no code is split, unless a single code is wider than a line."""
    cells = [_cells(row) for row in rows]
    widths = [
        max([cell_len(name), *(row_cells[column].cell_len for row_cells in cells)])
        for column, name in enumerate(_HEADER)
    ]
    if width is None or _span(widths) <= width:
        return [_line(_header_cells(len(widths)), widths), *(_line(c, widths) for c in cells)]
    label_room = width - _span([0, *widths[1:4]])
    if label_room >= min(_LABEL_MIN, widths[0]):
        return _rows_with_details(rows, widths, width, label_room, console)
    return _blocks(rows, width, console)


def _span(widths: Sequence[int]) -> int:
    return sum(widths) + len(_GAP) * (len(widths) - 1)


def _header_cells(count: int) -> list[Text]:
    return [Text(name) for name in _HEADER[:count]]


def _cells(row: _Row) -> list[Text]:
    return [
        Text(row.label),
        Text(row.verdict.value, style=VERDICT_STYLES[row.verdict]),
        Text(row.reason),
        Text(row.http),
        Text(",".join(row.warnings) or "-"),
        Text(row.detail),
    ]


def _line(cells: Sequence[Text], widths: Sequence[int]) -> Text:
    """The cells side by side in columns of ``widths`` (the last one is not padded)."""
    padded = [_pad(cell, width) for cell, width in zip(cells[:-1], widths[:-1], strict=True)]
    line = Text(_GAP).join([*padded, cells[-1]])
    line.rstrip()
    return line


def _pad(cell: Text, width: int) -> Text:
    padded = cell.copy()
    padded.append(" " * max(width - cell.cell_len, 0))
    return padded


def _rows_with_details(
    rows: Sequence[_Row], widths: Sequence[int], width: int, label_room: int, console: Console
) -> list[Text]:
    """Label, verdict, reason and HTTP side by side (the warnings too when they fit), the
    label wrapped in its column; the rest under the row, word-wrapped."""
    columns = [min(widths[0], label_room), *widths[1:4]]
    if _span([*columns, widths[4]]) <= width:
        columns.append(widths[4])
    inline_warnings = len(columns) == 5
    under = width - len(_INDENT)
    lines = [_line(_header_cells(len(columns)), columns)]
    for row in rows:
        cells = _cells(row)[: len(columns)]
        label, *more_label = _wrap(cells[0], columns[0], console)
        lines.append(_line([label, *cells[1:]], columns))
        lines.extend(more_label)
        if row.warnings and not inline_warnings:
            warnings = Text("warnings: " + ", ".join(row.warnings))
            lines.extend(Text(_INDENT) + part for part in _wrap(warnings, under, console))
        if row.detail:
            lines.extend(Text(_INDENT) + part for part in _wrap(Text(row.detail), under, console))
    return lines


def _blocks(rows: Sequence[_Row], width: int, console: Console) -> list[Text]:
    """The narrowest layout: each row a block, its label and then its codes, indented and
    flowed as whole words; no detail."""
    lines: list[Text] = []
    for row in rows:
        lines.extend(_wrap(Text(row.label), width, console))
        words = [Text(row.verdict.value, style=VERDICT_STYLES[row.verdict]), Text(row.reason)]
        if row.http != "-":
            words.append(Text(f"HTTP {row.http}"))
        room = width - len(_BLOCK_INDENT)
        lines.extend(_flow(words, room, _BLOCK_INDENT, console))
        if row.warnings:
            warnings = Text("warnings: " + ", ".join(row.warnings))
            lines.extend(Text(_BLOCK_INDENT) + part for part in _wrap(warnings, room, console))
    return lines


def _flow(words: Sequence[Text], width: int, indent: str, console: Console) -> list[Text]:
    """``words`` on lines of at most ``width`` cells after ``indent``, two spaces apart, never
    split; a word wider than a line is folded on lines of its own."""
    lines: list[list[Text]] = []
    current: list[Text] = []
    for word in words:
        if current and _span([*(w.cell_len for w in current), word.cell_len]) > width:
            lines.append(current)
            current = []
        if word.cell_len > width:
            lines.extend([part] for part in _wrap(word, width, console))
            continue
        current.append(word)
    if current:
        lines.append(current)
    return [Text(indent) + Text(_GAP).join(line) for line in lines]


def _wrap(text: Text, width: int, console: Console) -> list[Text]:
    # By whole words (rich splits at white space only, never at a hyphen); a word longer than
    # the line is folded.
    lines = list(text.wrap(console, max(width, 1), overflow="fold")) or [Text()]
    for line in lines:
        line.rstrip()
    return lines


# Characters that Markdown would read as formatting, a link, HTML or a cell boundary.
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_\[\]<>|~&#!])")


def markdown_cell(text: str) -> str:
    """``text`` as a cell of a Markdown (GitHub) table: made printable, which escapes line
    breaks too, then every character that Markdown would read escaped with a backslash."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable(text)) or "-"


def markdown_table(records: Iterable[Record], out: TextIO) -> None:
    """The rows as a Markdown table, for change tickets."""
    out.write("| Endpoint | Label | Verdict | Reason | HTTP | Warnings | Detail |\n")
    out.write("|---|---|---|---|---|---|---|\n")
    for record in records:
        cells = (
            endpoint(record),
            record.label or "",
            record.verdict.value,
            str(record.reason),
            statuses(record),
            ", ".join(record.warnings),
            record.detail,
        )
        out.write("| " + " | ".join(markdown_cell(cell) for cell in cells) + " |\n")


def statuses(record: Record) -> str:
    """The HTTP statuses with and without SNI, e.g. ``200/403`` (``-`` for none)."""
    if record.sni_http_status is None and record.nosni_http_status is None:
        return "-"
    if record.sni is None:  # an IP literal's one probe
        return str(record.sni_http_status)
    return f"{record.sni_http_status or '-'}/{record.nosni_http_status or '-'}"


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
