"""The command line: ``snisweep scan | validate | demo | lab``. Does terminal I/O.

This is the only module that prints, and the only one that turns ``SnisweepError`` into exit
codes: 0 scan finished, 1 a verdict named by ``--fail-on`` occurred, 2 usage or config error,
3 runtime failure, 130 interrupted (the rows written so far are complete).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import math
import os
import shutil
import signal
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar, TypeVarTuple

import anyio
from anyio.abc import TaskStatus

from snisweep import __version__
from snisweep.certs import printable
from snisweep.config import RETRIES_RANGE, TIMEOUT_MAX, Settings, load
from snisweep.errors import (
    ConfigError,
    ListChangedError,
    SnisweepError,
    UsageError,
    first_leaf,
)
from snisweep.model import Endpoint, Verdict
from snisweep.probe import TLSProber
from snisweep.record import Record
from snisweep.report import Format, ReportWriter, Tally, drain, format_for
from snisweep.scan import Limits, Scanner

EXIT_OK = 0
EXIT_FAIL_ON = 1
EXIT_USAGE = 2
EXIT_RUNTIME = 3
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``snisweep`` command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        command: Callable[[argparse.Namespace], int] = args.run
        return command(args)
    except ConfigError as exc:
        for problem in exc.problems:
            _err(str(problem))
        consequence = "nothing was written" if args.command == "merge" else "nothing was scanned"
        _err(f"snisweep: {len(exc.problems)} problem(s) found; {consequence}")
        return exc.exit_code
    except SnisweepError as exc:
        _err(f"snisweep: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _err("snisweep: interrupted")
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snisweep",
        description="Find out, for many TLS endpoints at once, which ones need SNI: each one is "
        "probed with and without Server Name Indication and classified as required, "
        "mismatched, optional or error.",
    )
    parser.add_argument("--version", action="version", version=f"snisweep {__version__}")
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    scan = commands.add_parser(
        "scan", help="scan the endpoints of one or more lists and write a report"
    )
    scan.add_argument("configs", nargs="+", metavar="CONFIG", help="YAML file, directory or -")
    scan.add_argument(
        "-o", "--output", default="-", metavar="PATH", help="report file, or - (default)"
    )
    scan.add_argument(
        "--format",
        type=Format,
        choices=list(Format),
        help="csv or jsonl (default: from the extension of -o, else csv)",
    )
    _add_scan_options(scan)
    scan.add_argument(
        "--fail-on",
        type=_verdicts,
        default=frozenset(),
        metavar="VERDICT,...",
        help="exit 1 when any endpoint gets one of these verdicts",
    )
    scan.add_argument("--quiet", action="store_true", help="no summary on standard error")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar")
    scan.set_defaults(command="scan", run=_run_scan)

    validate = commands.add_parser("validate", help="check endpoint lists and count endpoints")
    validate.add_argument("configs", nargs="+", metavar="CONFIG")
    validate.set_defaults(command="validate", run=_run_validate)

    demo = commands.add_parser(
        "demo", help="start the embedded lab on loopback, scan it and show the table"
    )
    demo.add_argument(
        "-o", "--output", metavar="PATH", help="also write the report here (.csv or .jsonl)"
    )
    demo.set_defaults(command="demo", run=_run_demo)

    merge = commands.add_parser(
        "merge", help="combine shard reports into one report, refusing overlaps and mismatches"
    )
    merge.add_argument("reports", nargs="+", metavar="REPORT", help="CSV or JSONL report")
    merge.add_argument(
        "-o", "--output", default="-", metavar="PATH", help="merged report file, or - (default)"
    )
    merge.add_argument(
        "--format",
        type=Format,
        choices=list(Format),
        help="csv or jsonl (default: from the extension of -o, else csv)",
    )
    merge.add_argument("--quiet", action="store_true", help="no summary on standard error")
    merge.set_defaults(command="merge", run=_run_merge)

    lab = commands.add_parser(
        "lab", help="run the embedded lab servers in the foreground and print a YAML to scan them"
    )
    lab.set_defaults(command="lab", run=_run_lab)
    return parser


def _add_scan_options(parser: argparse.ArgumentParser) -> None:
    defaults = Limits()
    settings = Settings()
    parser.add_argument(
        "--concurrency",
        type=_whole_number(1),
        default=defaults.concurrency,
        metavar="N",
        help=f"endpoints in flight (default {defaults.concurrency})",
    )
    parser.add_argument(
        "--per-host",
        type=_whole_number(1),
        default=defaults.per_host,
        metavar="N",
        help=f"simultaneous connections to one address (default {defaults.per_host})",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=settings.timeout,
        metavar="S",
        help=f"seconds per probe, connect plus handshake (default {settings.timeout:g}); "
        "a list's defaults and endpoints may set their own",
    )
    parser.add_argument(
        "--retries",
        type=_whole_number(*RETRIES_RANGE),
        default=settings.retries,
        metavar="N",
        help="extra attempts for a probe that fails; it counts as failed only when every "
        f"attempt failed (default {settings.retries})",
    )


def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}: {text!r}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= TIMEOUT_MAX):
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {TIMEOUT_MAX:g}: {text!r}"
        )
    return value


def _verdicts(text: str) -> frozenset[Verdict]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    try:
        return frozenset(Verdict(name) for name in names)
    except ValueError:
        allowed = ", ".join(v.value for v in Verdict)
        raise argparse.ArgumentTypeError(
            f"unknown verdict in {text!r}; choose from {allowed}"
        ) from None


# ---------------------------------------------------------------------------------------------
# validate


def _refuse_stdin_twice(configs: Sequence[str]) -> None:
    if list(configs).count("-") > 1:
        raise UsageError("standard input (-) can be given only once")


def _run_validate(args: argparse.Namespace) -> int:
    _refuse_stdin_twice(args.configs)
    endpoints = load(args.configs)
    duplicates = f", {endpoints.duplicates} duplicate(s) skipped" if endpoints.duplicates else ""
    files = len(endpoints.files)
    print(
        f"{endpoints.count} endpoint(s) in {files} file{'s' if files != 1 else ''}{duplicates}: OK"
    )
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# scan


@dataclass(frozen=True, slots=True)
class _Outcome:
    tally: Tally
    elapsed: float
    interrupted: bool


def _run_scan(args: argparse.Namespace) -> int:
    _refuse_stdin_twice(args.configs)
    # Every list is checked before the report is opened: a bad list never truncates a report.
    endpoints = load(args.configs, Settings(timeout=args.timeout, retries=args.retries))
    _refuse_report_over_a_list(args.output, endpoints.files)
    writer = ReportWriter(args.output, format_for(args.output, args.format))
    limits = Limits(concurrency=args.concurrency, per_host=args.per_host)
    show_progress = not (args.quiet or args.no_progress) and sys.stderr.isatty()
    try:
        outcome = _run_async(
            _scan_to_report, endpoints, writer, limits, endpoints.count if show_progress else None
        )
    except ConfigError as exc:
        # The lists are read again while scanning (to keep memory flat); one changed since.
        raise ListChangedError(
            "an endpoint list changed during the scan; the report holds the rows finished "
            "before that:\n" + "\n".join(str(problem) for problem in exc.problems)
        ) from exc
    if not args.quiet:
        _err(_summary(outcome, writer.name))
    if outcome.interrupted:
        _err("snisweep: interrupted; the report holds every row completed so far")
        return EXIT_INTERRUPTED
    if any(outcome.tally.verdicts[verdict] for verdict in args.fail_on):
        return EXIT_FAIL_ON
    return EXIT_OK


def _refuse_report_over_a_list(output: str, lists: Sequence[str]) -> None:
    if output == "-" or not os.path.exists(output):
        return
    for name in lists:
        with contextlib.suppress(OSError):
            if name != "-" and os.path.samefile(name, output):
                raise UsageError(f"-o {output} is one of the endpoint lists; choose another file")


async def _scan_to_report(
    endpoints: Iterable[Endpoint],
    writer: ReportWriter | None,
    limits: Limits,
    progress_total: int | None,
    collected: list[Record] | None = None,
) -> _Outcome:
    """Scan into ``writer`` (and ``collected``); SIGINT and SIGTERM stop the scan but keep
    every row already finished."""
    tally = Tally()

    async def consume(records: Sequence[Record]) -> None:
        if writer is not None:
            await writer.write(records)
        if collected is not None:
            collected.extend(records)
        tally.add(records)

    scanner = Scanner(TLSProber(), limits=limits)
    started = time.monotonic()
    interrupted = False
    send, receive = anyio.create_memory_object_stream[Record](limits.concurrency)
    if writer is not None:
        await writer.open()
    try:
        async with anyio.create_task_group() as group:
            scan_scope = anyio.CancelScope()

            async def run_scanner() -> None:
                with scan_scope:
                    await scanner.run(endpoints, send)
                send.close()  # after a cancel too, so that the rows already sent are written

            async def watch_signals(*, task_status: TaskStatus[None]) -> None:
                nonlocal interrupted
                try:
                    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                        task_status.started()
                        async for _ in signals:
                            if interrupted:  # asked twice: stop waiting for buffered rows too
                                group.cancel_scope.cancel()
                            interrupted = True
                            scan_scope.cancel()
                finally:
                    if interrupted:
                        # The process is on its way out; one more Ctrl-C must not raise
                        # KeyboardInterrupt in the middle of the clean-up.
                        signal.signal(signal.SIGINT, signal.SIG_IGN)
                        signal.signal(signal.SIGTERM, signal.SIG_IGN)

            await group.start(watch_signals)
            group.start_soon(run_scanner)
            if progress_total is not None:
                group.start_soon(_show_progress, tally, progress_total, started)
            await drain(receive, consume)
            group.cancel_scope.cancel()
    finally:
        if writer is not None:
            await writer.close()
        if progress_total is not None:
            sys.stderr.write("\r\x1b[K")
    return _Outcome(tally, time.monotonic() - started, interrupted)


async def _show_progress(tally: Tally, total: int, started: float) -> None:
    width = 30
    while True:
        done = tally.total
        filled = width * done // total if total else width
        rate = done / max(time.monotonic() - started, 1e-6)
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r[{bar}] {done}/{total} endpoints, {rate:.0f}/s")
        sys.stderr.flush()
        await anyio.sleep(0.25)


def _summary(outcome: _Outcome, where: str) -> str:
    tally = outcome.tally
    counts = ", ".join(f"{verdict.value} {tally.verdicts[verdict]}" for verdict in Verdict)
    rate = tally.total / outcome.elapsed if outcome.elapsed > 0 else 0.0
    return (
        f"snisweep: {tally.total} endpoint(s) in {outcome.elapsed:.1f} s ({rate:.1f}/s): "
        f"{counts}; report: {where}"
    )


_Args = TypeVarTuple("_Args")
_T = TypeVar("_T")


def _run_async(function: Callable[[*_Args], Awaitable[_T]], *args: *_Args) -> _T:
    backend_options: dict[str, Any] = {}
    if importlib.util.find_spec("uvloop") is not None:  # the optional `fast` extra
        backend_options["use_uvloop"] = True
    try:
        return anyio.run(function, *args, backend_options=backend_options)
    except* SnisweepError as group:
        # Task groups wrap what their tasks raise; the user wants the error, not the wrapping.
        raise first_leaf(group) from None


# ---------------------------------------------------------------------------------------------
# merge


def _run_merge(args: argparse.Namespace) -> int:
    from snisweep.merge import merge  # noqa: PLC0415 - only this command reads reports

    summary = merge(args.reports, args.output, args.format)
    if not args.quiet:
        _err(f"snisweep merge: {summary}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# demo and lab


def _run_demo(args: argparse.Namespace) -> int:
    from snisweep.lab import Lab  # noqa: PLC0415 - the lab servers start only when asked

    with Lab() as lab:
        endpoints = load(["-"], stdin=io.StringIO(lab.config_yaml(timeout=1.0, retries=1)))
        _err(
            f"snisweep demo: lab servers up on 127.0.0.1; scanning {endpoints.count} endpoints "
            "(the silent ones take a couple of seconds)..."
        )
        writer = ReportWriter(args.output, format_for(args.output, None)) if args.output else None
        records: list[Record] = []
        outcome = _run_async(_scan_to_report, endpoints, writer, Limits(), None, records)
    expected = {(s.host, s.port): (s.verdict, s.reason) for s in lab.scenarios}
    _print_table(records, list(expected), sys.stdout)
    _err(_summary(outcome, writer.name if writer else "the table above"))
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    surprises = [r for r in records if expected.get((r.host, r.port)) != (r.verdict, r.reason)]
    if surprises:
        _err(f"snisweep demo: {len(surprises)} endpoint(s) did not get the lab's expected verdict")
        return EXIT_RUNTIME
    return EXIT_OK


def _print_table(records: Sequence[Record], order: Sequence[tuple[str, int]], out: TextIO) -> None:
    position = {key: index for index, key in enumerate(order)}
    rows = [("LABEL", "ENDPOINT", "VERDICT", "REASON", "DETAIL")]
    for record in sorted(records, key=lambda r: position.get((r.host, r.port), len(position))):
        rows.append(
            (
                printable(record.label or "", 40),
                f"{record.host}:{record.port}",
                record.verdict.value,
                record.reason.value,
                record.detail,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    # On a terminal, a line longer than the window would wrap into the next row: the detail
    # then goes under its row, wrapped and indented (a report file or a pipe gets one line).
    limit = shutil.get_terminal_size().columns if out.isatty() else None
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        line = "  ".join([*cells, row[4]]).rstrip()
        if limit is None or len(line) <= limit or row is rows[0]:
            out.write(line + "\n")
            continue
        out.write("  ".join(cells).rstrip() + "\n")
        for part in textwrap.wrap(row[4], width=max(limit - 6, 20)):
            out.write("      " + part + "\n")


def _run_lab(args: argparse.Namespace) -> int:
    from snisweep.lab import Lab  # noqa: PLC0415 - the lab servers start only when asked

    # Ctrl-C before the signal handler is in place is a normal stop too.
    with Lab() as lab, contextlib.suppress(KeyboardInterrupt):
        _run_async(_serve_lab, lab.config_yaml())
    return EXIT_OK


async def _serve_lab(config_yaml: str) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        sys.stdout.write(config_yaml)
        sys.stdout.flush()
        _err(
            "snisweep lab: servers up on 127.0.0.1; the YAML above scans them (save it, then "
            "`snisweep scan FILE`). Ctrl-C stops the lab."
        )
        async for _ in signals:
            return


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
