"""What the terminal shows: the progress bar under a real pseudo-terminal, the tables at narrow
widths, Markdown, ``--only``, and the summary line's fixed shape."""

from __future__ import annotations

import dataclasses
import fcntl
import io
import os
import re
import struct
import subprocess
import sys
import termios
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from records import row
from rich.cells import cell_len

from snisweep.cli.terminal import (
    ProgressBar,
    TableFormat,
    markdown_cell,
    markdown_table,
    print_table,
    progress_line,
    select,
    show_report,
    summary,
)
from snisweep.core.record import Record
from snisweep.model import Reason, Verdict, WarningCode
from snisweep.report.writers import Tally
from snisweep.run.session import Outcome

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# the progress bar under a pseudo-terminal

# Drives ProgressBar.show for a few redraws, printing a message to standard error meanwhile
# and a last line after the bar is cleared. argv: total, report_on_terminal (0/1).
DRIVER = """
import sys, time
import anyio
from snisweep.cli.terminal import ProgressBar
from snisweep.model import Verdict
from snisweep.report.writers import Tally

async def main(total: int, report_on_terminal: bool) -> None:
    tally = Tally()
    bar = ProgressBar(total, report_on_terminal=report_on_terminal)
    async with anyio.create_task_group() as group:
        group.start_soon(bar.show, tally, time.monotonic())
        for tick in range(5):
            await anyio.sleep(0.3)
            tally.verdicts.update({Verdict.REQUIRED: 3, Verdict.MISMATCHED: 1,
                                   Verdict.OPTIONAL: 20, Verdict.ERROR: 2})
            if tick == 2:
                print("a message", file=sys.stderr, flush=True)
        group.cancel_scope.cancel()
    bar.clear()
    print("END", file=sys.stderr, flush=True)

anyio.run(main, int(sys.argv[1]), sys.argv[2] == "1")
"""

_CSI = re.compile(r"\x1b\[([?0-9;]*)([A-Za-z])")


class Screen:
    """Just enough of a terminal (xterm's) to replay what the bar writes: characters, carriage
    return, line feed, cursor up, erase in line, colours and cursor visibility (ignored), and
    the automatic wrap at the last column, which is counted (the bar must never cause one)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.rows: list[list[str]] = [[]]
        self.row = self.col = 0
        self.wraps = 0
        self.erased_lines: list[str] = []  # what each erase wiped: the frames drawn
        self.carriage_returns = 0

    def text(self, row: int) -> str:
        return "".join(self.rows[row]).rstrip()

    def lines(self) -> list[str]:
        return [self.text(row) for row in range(len(self.rows))]

    def feed(self, data: str) -> None:
        index = 0
        while index < len(data):
            char = data[index]
            if char == "\x1b":
                match = _CSI.match(data, index)
                assert match, f"unexpected escape sequence {data[index : index + 12]!r}"
                self._control(*match.groups())
                index = match.end()
                continue
            if char == "\r":
                self.col = 0
                self.carriage_returns += 1
            elif char == "\n":
                self._down()
            else:
                assert char.isprintable(), f"unexpected control character {char!r}"
                if self.col >= self.width:  # xterm wraps before the next character
                    self.wraps += 1
                    self.col = 0
                    self._down()
                line = self.rows[self.row]
                line.extend(" " * (self.col + 1 - len(line)))
                line[self.col] = char
                self.col += cell_len(char)
            index += 1

    def _down(self) -> None:
        self.row += 1
        if self.row == len(self.rows):
            self.rows.append([])

    def _control(self, params: str, final: str) -> None:
        if final == "A":
            self.row = max(0, self.row - int(params or 1))
        elif final == "K":
            self.erased_lines.append(self.text(self.row))
            if params == "2":
                self.rows[self.row] = []
            else:
                del self.rows[self.row][self.col :]
        elif final == "m" or params in ("?25", "?25l", "?25h") or final in "hl":
            pass  # colours, cursor visibility
        else:
            raise AssertionError(f"unexpected control sequence {params}{final}")


def _run_driver(width: int, *, report_on_terminal: bool = False, on_a_tty: bool = True) -> str:
    """What the driver wrote to its standard error: a pseudo-terminal of ``width`` columns
    (or a pipe)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"}
        and not key.startswith("TTY_")
    }
    env.update(TERM="xterm-256color", PYTHONPATH=str(ROOT))
    command = [sys.executable, "-c", DRIVER, "130", "1" if report_on_terminal else "0"]
    if not on_a_tty:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            check=True,
            timeout=30,
        )
        return result.stderr.decode()
    master, slave = os.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, width, 0, 0))
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, env=env
        )
        os.close(slave)
        slave = -1
        output = bytearray()
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=30) == 0, output.decode(errors="replace")
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)
    return output.decode()


@pytest.fixture(scope="module")
def wide() -> Screen:
    screen = Screen(120)
    screen.feed(_run_driver(120))
    return screen


@pytest.fixture(scope="module")
def narrow() -> Screen:
    screen = Screen(20)
    screen.feed(_run_driver(20))
    return screen


@pytest.mark.parametrize("which", ["wide", "narrow"])
def test_progress_redraws_in_place_and_leaves_only_the_messages(
    which: str, request: pytest.FixtureRequest
) -> None:
    screen: Screen = request.getfixturevalue(which)
    assert screen.wraps == 0
    frames = [line for line in screen.erased_lines if line]
    assert len(frames) >= 4  # redrawn on the same line, each frame erased before the next
    assert screen.carriage_returns >= len(frames)
    # The bar is gone; the message came out above it, whole, and nothing is left in between.
    assert [line for line in screen.lines() if line] == ["a message", "END"]
    assert len(screen.rows) <= 3  # the bar's line was reused


def test_progress_at_120_columns_shows_bar_counts_rate_and_eta(wide: Screen) -> None:
    frames = [line for line in wide.erased_lines if line]
    full = re.compile(
        r"━{40}  (\d+)/130  required (\d+), mismatched \d+, optional \d+, error \d+  "
        r"\d+(\.\d)?/s  ETA ((\d+:)?\d+:\d\d|-:--)"
    )
    assert all(full.fullmatch(frame) for frame in frames), frames
    drawn = {int(full.fullmatch(frame).group(2)) for frame in frames}  # type: ignore[union-attr]
    assert drawn <= {0, 3, 6, 9, 12, 15}
    assert len(drawn) >= 2  # the counts follow the tally
    assert all(cell_len(frame) <= 119 for frame in frames)


def test_progress_at_20_columns_keeps_count_and_eta_on_one_line(narrow: Screen) -> None:
    frames = [line for line in narrow.erased_lines if line]
    for frame in frames:
        assert cell_len(frame) < 20
        assert re.fullmatch(r"\d+/130  ETA ((\d+:)?\d+:\d\d|-:--)", frame), frame
    assert any(re.fullmatch(r"\d+/130  ETA \d+:\d\d", frame) for frame in frames)


@pytest.mark.parametrize(
    ("report_on_terminal", "on_a_tty"), [(True, True), (False, False)], ids=["report", "pipe"]
)
def test_no_bar_over_a_report_on_the_terminal_nor_off_a_terminal(
    report_on_terminal: bool, on_a_tty: bool
) -> None:
    output = _run_driver(80, report_on_terminal=report_on_terminal, on_a_tty=on_a_tty)
    assert output.replace("\r\n", "\n") == "a message\nEND\n"


@pytest.mark.parametrize("width", range(1, 161))
def test_progress_line_never_exceeds_the_width(width: int) -> None:
    verdicts = Counter({Verdict.REQUIRED: 1234, Verdict.MISMATCHED: 56, Verdict.OPTIONAL: 78901})
    line = progress_line(80191, 1_000_000, verdicts, 1234.5, width)
    assert line.cell_len <= width
    assert "\n" not in line.plain
    if width >= len("80191/1000000"):
        assert "80191/1000000" in line.plain


def test_progress_line_shrinks_the_counts_before_dropping_them() -> None:
    verdicts = Counter({Verdict.REQUIRED: 12, Verdict.MISMATCHED: 3, Verdict.OPTIONAL: 390})
    texts = {width: progress_line(405, 520, verdicts, 25.0, width).plain for width in (119, 79, 49)}
    assert "required 12, mismatched 3, optional 390, error 0  25/s  ETA 0:05" in texts[119]
    assert "req 12 mis 3 opt 390 err 0" in texts[79]
    assert "R12 M3 O390 E0" in texts[49]
    assert progress_line(405, 520, verdicts, 25.0, 19).plain == "405/520  ETA 0:05"


def test_progress_line_eta_unknown_before_any_rate_and_zero_at_the_end() -> None:
    assert progress_line(0, 10, Counter(), 0.0, 40).plain.endswith("ETA -:--")
    assert progress_line(10, 10, Counter(), 0.0, 40).plain.endswith("ETA 0:00")
    assert progress_line(0, 7200, Counter(), 1.0, 40).plain.endswith("ETA 2:00:00")


def test_progress_bar_clear_without_show_is_harmless() -> None:
    ProgressBar(10, report_on_terminal=True).clear()


# ---------------------------------------------------------------------------------------------
# tables

BASE = row(
    verdict=Verdict.REQUIRED,
    reason=Reason.NOSNI_ALERT_UNRECOGNIZED_NAME,
    detail="",
    sni_error=None,
)

LONG_DETAIL = (
    "With SNI the handshake succeeds; without SNI it fails (fatal alert unrecognized_name): "
    "clients that send no SNI cannot connect."
)

# Distinct reasons (none inside another), so that each must appear whole exactly once.
RECORDS = [
    dataclasses.replace(
        BASE,
        host="strict.example.test",
        label="strict-alert",
        reason=Reason.NOSNI_ALERT_UNRECOGNIZED_NAME,
        detail=LONG_DETAIL,
        sni_http_status=200,
    ),
    dataclasses.replace(
        BASE,
        host="hs.example.test",
        label="a label long enough to be wrapped in its column",
        reason=Reason.NOSNI_ALERT_HANDSHAKE_FAILURE,
        detail=LONG_DETAIL.replace("unrecognized_name", "handshake_failure"),
        sni_http_status=200,
    ),
    dataclasses.replace(
        BASE,
        host="mismatch.example.test",
        verdict=Verdict.MISMATCHED,
        reason=Reason.DEFAULT_CERTIFICATE,
        detail="Without SNI the server presents a default certificate that does not cover it.",
        warnings=(WarningCode.PLACEHOLDER_CERTIFICATE, WarningCode.JAVA_SENDS_NO_SNI),
        sni_http_status=200,
        nosni_http_status=200,
    ),
    dataclasses.replace(
        BASE,
        host="2001:db8::1",
        sni=None,
        verdict=Verdict.OPTIONAL,
        reason=Reason.IP_LITERAL,
        detail="2001:db8::1 is an IP address: no client can send SNI for it.",
        warnings=(WarningCode.NO_IP_SAN,),
        sni_http_status=200,
    ),
    dataclasses.replace(
        BASE,
        host="refused.example.test",
        verdict=Verdict.ERROR,
        reason=Reason.CONNECT_REFUSED,
        detail="The probe with SNI failed (connection refused).",
    ),
]

CODES = [str(record.reason) for record in RECORDS] + [
    str(code) for record in RECORDS for code in record.warnings
]


def _table(width: int | None, records: list[Record] = RECORDS) -> list[str]:
    out = io.StringIO()
    print_table(records, [(r.host, r.port) for r in records], out, width=width)
    return out.getvalue().splitlines()


def _whole(code: str, text: str) -> int:
    return len(re.findall(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text))


@pytest.mark.parametrize("width", [80, 40, *range(36, 161, 4)])
def test_table_fits_and_never_splits_a_code(width: int) -> None:
    lines = _table(width)
    assert all(cell_len(line) <= width for line in lines), "\n".join(lines)
    text = "\n".join(lines)
    for code in CODES:
        assert _whole(code, text) == CODES.count(code), (code, text)
    for record in RECORDS:
        assert _whole(record.verdict.value, text) >= 1


def test_table_at_80_columns_puts_warnings_and_detail_under_the_row() -> None:
    lines = _table(80)
    assert lines[0].split() == ["LABEL", "VERDICT", "REASON", "HTTP"]
    row = next(i for i, line in enumerate(lines) if line.startswith("strict-alert "))
    assert lines[row].split() == [
        "strict-alert",
        "required",
        "nosni-alert-unrecognized-name",
        "200/-",
    ]
    under = []
    for line in lines[row + 1 :]:
        if not line.startswith("    "):
            break
        under.append(line.strip())
    assert " ".join(under) == LONG_DETAIL  # wrapped at spaces only, nothing lost
    assert "    warnings: placeholder-certificate, java-sends-no-sni" in lines
    # The long label wraps within its column, at spaces.
    assert any(line.startswith("a label long enough") for line in lines)
    assert not any("wrapped in its column" in line for line in lines if "required" in line)


def test_table_at_40_columns_becomes_blocks_without_the_detail() -> None:
    lines = _table(40)
    text = "\n".join(lines)
    assert "unrecognized_name" not in text  # the detail's words
    # "  required  nosni-alert-unrecognized-name" would take 41 columns: the reason goes on
    # a line of its own, whole.
    assert lines[:4] == [
        "strict-alert",
        "  required",
        "  nosni-alert-unrecognized-name",
        "  HTTP 200/-",
    ]
    assert "  warnings: no-ip-san" in lines
    assert "[2001:db8::1]:443" in lines  # an IPv6 endpoint without a label


def test_table_off_a_terminal_is_one_line_per_row() -> None:
    lines = _table(None)
    assert len(lines) == len(RECORDS) + 1
    assert lines[0].split() == ["LABEL", "VERDICT", "REASON", "HTTP", "WARNINGS", "DETAIL"]
    assert lines[1].endswith(LONG_DETAIL)
    assert "placeholder-certificate,java-sends-no-sni" in lines[3]


def test_table_shows_untrusted_text_as_text() -> None:
    hostile = dataclasses.replace(
        BASE, label="[bold red]x[/] \x1b]0;title\x07 \u202egnp.exe", detail="a\nb\x1b[2J"
    )
    out = io.StringIO()
    print_table([hostile], [], out, width=None)
    text = out.getvalue()
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "[bold red]x[/]" in text  # not rich markup
    assert "\\x1b]0;title\\x07" in text
    assert "a\\x0ab\\x1b[2J" in text
    assert text.count("\n") == 2


def test_table_colours_verdicts_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    print_table(RECORDS[:1], [], out, width=200)
    assert "\x1b[" in out.getvalue()
    assert "\x1b[" not in "\n".join(_table(200, RECORDS[:1]))


# ---------------------------------------------------------------------------------------------
# Markdown and --only


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)(?:\\\\)*\|", line))


def test_markdown_table_escapes_cells() -> None:
    hostile = dataclasses.replace(
        BASE,
        label="pipe | and \\| backslash",
        detail="two\nlines <img src=x> [link](http://x) *bold* `code` a_b",
    )
    out = io.StringIO()
    markdown_table([RECORDS[0], hostile], out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # header, rule, one line per row: no line break inside a cell
    assert lines[0] == "| Endpoint | Label | Verdict | Reason | HTTP | Warnings | Detail |"
    assert all(_unescaped_pipes(line) == 8 for line in lines)
    row = lines[3]
    assert "pipe \\| and \\\\\\| backslash" in row
    assert "two\\\\x0alines \\<img src=x\\> \\[link\\](http://x) \\*bold\\* \\`code\\` a\\_b" in row
    assert "| required | nosni-alert-unrecognized-name | 200/- | - |" in lines[2]


def test_markdown_cell_escapes_control_characters_and_is_never_empty() -> None:
    assert markdown_cell("a\rb\x00") == "a\\\\x0db\\\\x00"
    assert markdown_cell("") == "-"


def test_select_keeps_the_order_and_only_the_verdicts_asked() -> None:
    wanted = {Verdict.REQUIRED, Verdict.MISMATCHED}
    chosen = list(select(iter(RECORDS), wanted))
    assert chosen == [r for r in RECORDS if r.verdict in wanted]
    assert [r.host for r in chosen] == [
        "strict.example.test",
        "hs.example.test",
        "mismatch.example.test",
    ]
    assert list(select(RECORDS, frozenset())) == RECORDS
    assert list(select(RECORDS, {Verdict.ERROR})) == RECORDS[-1:]


def _generated() -> Iterator[Record]:
    yield from RECORDS  # a report is read lazily


@pytest.mark.parametrize("fmt", list(TableFormat))
def test_show_report_writes_only_the_chosen_rows(fmt: TableFormat) -> None:
    out = io.StringIO()
    shown = show_report(
        _generated(), out, only={Verdict.ERROR, Verdict.OPTIONAL}, fmt=fmt, width=120
    )
    assert shown == 2
    text = out.getvalue()
    assert "refused.example.test" in text
    assert "2001:db8::1" in text
    assert "strict" not in text
    assert "mismatch" not in text


# ---------------------------------------------------------------------------------------------
# the summary line

SUMMARY = re.compile(
    r"snisweep: (\d+) endpoint\(s\) in (\d+\.\d) s \((\d+\.\d)/s\): required (\d+), "
    r"mismatched (\d+), optional (\d+), error (\d+); report: (.+)"
)


def test_summary_line_keeps_its_shape() -> None:
    tally = Tally()
    tally.add(RECORDS)
    line = summary(Outcome(tally, 2.04, interrupted=False), "out.csv")
    match = SUMMARY.fullmatch(line)
    assert match, line
    assert match.groups() == ("5", "2.0", "2.5", "2", "1", "1", "1", "out.csv")
    empty = summary(Outcome(Tally(), 0.0, interrupted=False), "standard output")
    assert SUMMARY.fullmatch(empty)
