"""The command line: ``snisweep scan | validate | demo | lab``. Does terminal I/O.

This is the only module that prints, and the only one that turns ``SnisweepError`` into exit
codes: 0 scan finished, 1 a verdict named by ``--fail-on`` occurred, 2 usage or config error,
3 runtime failure, 130 interrupted (the rows written so far are complete).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import io
import itertools
import math
import os
import shutil
import signal
import socket
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar, TypeVarTuple

import anyio
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from snisweep import __version__, workers
from snisweep.certs import printable
from snisweep.config import RETRIES_RANGE, TIMEOUT_MAX, ListFormat, Settings, load
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
from snisweep.report import Format, RecordSink, ReportWriter, Tally, drain, format_for
from snisweep.scan import Limits, Scanner
from snisweep.shard import Shard, from_environment, parse_shard

EXIT_OK = 0
EXIT_FAIL_ON = 1
EXIT_USAGE = 2
EXIT_RUNTIME = 3
EXIT_INTERRUPTED = 130

WORKERS_MAX = 256
#: Below this many endpoints per worker, another process costs more than it saves.
ENDPOINTS_PER_WORKER = 200


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
    scan.add_argument(
        "configs",
        nargs="+",
        metavar="CONFIG",
        help="endpoint list: YAML, text (.txt, .list) or CSV (.csv) file, directory of YAML "
        "files, or - for standard input",
    )
    _add_list_format(scan)
    _add_report(scan, "report file, or - (default)")
    _add_scan_options(scan)
    scan.add_argument(
        "--fail-on",
        type=_verdicts,
        default=frozenset(),
        metavar="VERDICT,...",
        help="exit 1 when any endpoint gets one of these verdicts",
    )
    scan.add_argument(
        "--workers",
        type=_whole_number(1, WORKERS_MAX),
        metavar="N",
        help="processes that share the scan and feed one report (default: one per core, "
        f"and no more than one per {ENDPOINTS_PER_WORKER} endpoints; never more than "
        "--concurrency)",
    )
    scan.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="scan only shard I of N (counting from 1), a stable 1/N of the endpoints; default: "
        "from JOB_COMPLETION_INDEX (0-based) and SNISWEEP_SHARD_COUNT when set (Kubernetes "
        "Indexed Jobs)",
    )
    scan.add_argument(
        "--protocol",
        choices=("https", "tls"),
        default="https",
        help="https: an HTTP request after each handshake (the HTTP check); tls: handshakes "
        "only; for endpoints whose list does not say (default https)",
    )
    scan.add_argument(
        "--no-http",
        action="store_true",
        help="no HTTP check: stop each probe at the handshake, for every endpoint",
    )
    scan.add_argument("--quiet", action="store_true", help="no summary on standard error")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar")
    scan.set_defaults(command="scan", run=_run_scan)

    validate = commands.add_parser("validate", help="check endpoint lists and count endpoints")
    validate.add_argument("configs", nargs="+", metavar="CONFIG")
    _add_list_format(validate)
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
    _add_report(merge, "merged report file, or - (default)")
    merge.add_argument(
        "--allow-missing",
        action="store_true",
        help="merge shard reports even when some shards of 1..N are in none of them",
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


def _add_report(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("-o", "--output", default="-", metavar="PATH", help=what)
    parser.add_argument(
        "--format",
        type=Format,
        choices=list(Format),
        help="csv or jsonl (default: from the extension of -o, else csv)",
    )


def _add_list_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stdin-format",
        type=ListFormat,
        choices=list(ListFormat),
        default=ListFormat.YAML,
        help="the format of a list read from standard input (-) (default: yaml)",
    )


def _shard(text: str) -> Shard:
    try:
        return parse_shard(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
    endpoints = load(args.configs, stdin_format=args.stdin_format)
    duplicates = f", {endpoints.duplicates} duplicate(s) skipped" if endpoints.duplicates else ""
    files = len(endpoints.files)
    print(
        f"{endpoints.count} endpoint(s) in {files} file{'s' if files != 1 else ''}{duplicates}: OK"
    )
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# scan


@dataclass(frozen=True, slots=True)
class _Job:
    """What one scan process is to do."""

    endpoints: Iterable[Endpoint]
    limits: Limits
    shard: str | None = None  # the report's ``shard`` column
    progress_total: int | None = None  # show a progress bar towards this many endpoints
    http: bool = True  # the HTTP check on HTTPS endpoints (off: --no-http)


@dataclass(frozen=True, slots=True)
class _Outcome:
    tally: Tally
    elapsed: float
    interrupted: bool


def _run_scan(args: argparse.Namespace) -> int:
    _refuse_stdin_twice(args.configs)
    shard: Shard | None = args.shard if args.shard is not None else from_environment(os.environ)
    # Every list is checked before the report is opened: a bad list never truncates a report.
    endpoints = load(
        args.configs,
        Settings(timeout=args.timeout, retries=args.retries, protocol=args.protocol),
        stdin_format=args.stdin_format,
        select=shard.holds if shard is not None else None,
    )
    _refuse_report_over_a_list(args.output, endpoints.files)
    writer = ReportWriter(args.output, format_for(args.output, args.format))
    limits = Limits(concurrency=args.concurrency, per_host=args.per_host)
    show_progress = not (args.quiet or args.no_progress) and sys.stderr.isatty()
    progress_total = endpoints.count if show_progress else None
    job = _Job(endpoints, limits, _label(shard), progress_total, http=not args.no_http)
    processes = min(_worker_count(args.workers, endpoints.count), limits.concurrency)
    try:
        if processes > 1:
            outcome = _scan_in_workers(job, processes, writer)
        else:
            outcome = _run_async(_scan_to_report, job, writer)
    except ConfigError as exc:
        raise _list_changed(exc) from exc
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


def _label(shard: Shard | None) -> str | None:
    return str(shard) if shard is not None else None


def _list_changed(exc: ConfigError) -> ListChangedError:
    # The lists are read again while scanning (to keep memory flat); one changed since.
    return ListChangedError(
        "an endpoint list changed during the scan; the report holds the rows finished "
        "before that:\n" + "\n".join(str(problem) for problem in exc.problems)
    )


def _worker_count(requested: int | None, endpoints: int) -> int:
    """How many processes to scan with: as asked, else one per core but not more than the
    list keeps busy; always one where workers cannot be forked."""
    if not workers.can_fork():
        return 1
    if requested is not None:
        return requested
    return max(1, min(workers.available_cores(), endpoints // ENDPOINTS_PER_WORKER))


def _scan_in_workers(job: _Job, count: int, writer: ReportWriter) -> _Outcome:
    """Scan with ``count`` forked workers and write what they send into ``writer``.

    Worker ``i`` takes endpoints ``i``, ``i + count``, ``i + 2 * count``... of the list: every
    worker reads the same validated lists in the same order (a list that changes meanwhile ends
    the scan), so the parts are disjoint, cover the list, and differ in size by one at most. The
    limits are shared out: together the workers keep at most ``concurrency`` endpoints in flight,
    and about ``per_host`` connections per address.
    """
    limits = job.limits
    share = Limits(
        concurrency=-(-limits.concurrency // count), per_host=-(-limits.per_host // count)
    )

    def work(index: int, channel: socket.socket) -> int:
        mine = itertools.islice(job.endpoints, index, None, count)
        return _work(_Job(mine, share, job.shard, http=job.http), workers.ChannelWriter(channel))

    started = workers.start(count, work)
    try:
        outcome = _run_async(_collect, started, writer, job.progress_total)
    except BaseException:
        workers.abandon(started)
        workers.reap(started)
        raise
    codes = workers.reap(started)
    # A worker that our own SIGTERM ended before it had set its handlers stopped as asked.
    stopped = {EXIT_OK, EXIT_INTERRUPTED} | (
        {128 + signal.SIGTERM} if outcome.interrupted else set()
    )
    failed = sorted((index, code) for index, code in codes.items() if code not in stopped)
    if failed:
        which = ", ".join(f"worker {index + 1} (exit code {code})" for index, code in failed)
        problem = (
            f"{which} of {count} stopped before the end; {writer.name} holds the rows finished "
            "so far, without the endpoints left to that worker"
        )
        if not outcome.interrupted:
            raise SnisweepError(problem)
        _err(f"snisweep: {problem}")
    return outcome


def _work(job: _Job, sink: RecordSink) -> int:
    """A worker process: scan its endpoints into ``sink``; returns the exit code."""
    try:
        outcome = _run_async(_scan_to_report, job, sink)
    except ConfigError as exc:
        _err(f"snisweep: {_list_changed(exc)}")
        return EXIT_RUNTIME
    except SnisweepError as exc:
        _err(f"snisweep: {exc}")
        return exc.exit_code
    return EXIT_INTERRUPTED if outcome.interrupted else EXIT_OK


async def _collect(
    started: Sequence[workers.Worker], writer: ReportWriter, progress_total: int | None
) -> _Outcome:
    """The parent of workers: write the records they send; pass every signal on to them."""

    async def read(worker: workers.Worker, send: MemoryObjectSendStream[Record]) -> None:
        async with send:
            async for batch in workers.receive(worker):
                for record in batch:
                    await send.send(record)

    def produce(group: TaskGroup, send: MemoryObjectSendStream[Record]) -> None:
        with send:  # each reader holds a clone: the stream ends when the last worker's does
            for worker in started:
                group.start_soon(read, worker, send.clone())

    return await _rows_to_sink(
        produce, lambda: workers.stop(started), writer, progress_total, buffer=1024
    )


async def _scan_to_report(
    job: _Job, sink: RecordSink | None, collected: list[Record] | None = None
) -> _Outcome:
    """Scan into ``sink`` (and ``collected``); SIGINT and SIGTERM stop the scan but keep
    every row already finished."""
    scanner = Scanner(TLSProber(), limits=job.limits, shard=job.shard, http=job.http)
    scan_scope = anyio.CancelScope()

    def produce(group: TaskGroup, send: MemoryObjectSendStream[Record]) -> None:
        async def run_scanner() -> None:
            with scan_scope:
                await scanner.run(job.endpoints, send)
            send.close()  # after a cancel too, so that the rows already sent are written

        group.start_soon(run_scanner)

    return await _rows_to_sink(
        produce,
        scan_scope.cancel,
        sink,
        job.progress_total,
        buffer=job.limits.concurrency,
        collected=collected,
    )


async def _rows_to_sink(
    produce: Callable[[TaskGroup, MemoryObjectSendStream[Record]], None],
    stop: Callable[[], None],
    sink: RecordSink | None,
    progress_total: int | None,
    *,
    buffer: int,
    collected: list[Record] | None = None,
) -> _Outcome:
    """Write the records that ``produce``'s tasks send into ``sink`` (and ``collected``) until
    they close their stream, with the tally and the progress bar.

    The first SIGINT or SIGTERM calls ``stop``, which makes the producers finish early; every
    row they still send is written. A second one calls ``stop`` again and stops waiting.
    """
    tally = Tally()
    started = time.monotonic()
    interrupted = False
    send, receive = anyio.create_memory_object_stream[Record](buffer)

    async def consume(records: Sequence[Record]) -> None:
        if sink is not None:
            await sink.write(records)
        if collected is not None:
            collected.extend(records)
        tally.add(records)

    def first_signal() -> None:
        nonlocal interrupted
        interrupted = True
        stop()

    def second_signal() -> None:  # asked twice: stop waiting for buffered rows too
        stop()
        group.cancel_scope.cancel()

    if sink is not None:
        await sink.open()
    try:
        async with anyio.create_task_group() as group:
            await group.start(_watch_signals, first_signal, second_signal)
            produce(group, send)
            if progress_total is not None:
                group.start_soon(_show_progress, tally, progress_total, started)
            await drain(receive, consume)
            group.cancel_scope.cancel()
    finally:
        if sink is not None:
            await sink.close()
        if progress_total is not None:
            sys.stderr.write("\r\x1b[K")
    return _Outcome(tally, time.monotonic() - started, interrupted)


async def _watch_signals(
    first: Callable[[], None], again: Callable[[], None], *, task_status: TaskStatus[None]
) -> None:
    """Call ``first`` on the first SIGINT or SIGTERM and ``again`` on every later one."""
    interrupted = False
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for _ in signals:
                if interrupted:
                    again()
                else:
                    interrupted = True
                    first()
    finally:
        if interrupted:
            # The process is on its way out; one more Ctrl-C must not raise KeyboardInterrupt
            # in the middle of the clean-up.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


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
    # A scan allocates many short-lived objects and almost no cycles: the modules loaded so far
    # are set aside from collection for good, and the youngest generation is collected less
    # often (Python's default of 700 allocations would collect hundreds of times a second).
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    try:
        return anyio.run(function, *args, backend_options=backend_options)
    except* SnisweepError as group:
        # Task groups wrap what their tasks raise; the user wants the error, not the wrapping.
        raise first_leaf(group) from None


# ---------------------------------------------------------------------------------------------
# merge


def _run_merge(args: argparse.Namespace) -> int:
    from snisweep.merge import merge  # noqa: PLC0415 - only this command reads reports

    summary = merge(args.reports, args.output, args.format, allow_missing=args.allow_missing)
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
        outcome = _run_async(_scan_to_report, _Job(endpoints, Limits()), writer, records)
    expected = {(s.host, s.port): (s.verdict, s.reason, s.warnings) for s in lab.scenarios}
    _print_table(records, list(expected), sys.stdout)
    _err(_summary(outcome, writer.name if writer else "the table above"))
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    surprises = [
        r for r in records if expected.get((r.host, r.port)) != (r.verdict, r.reason, r.warnings)
    ]
    if surprises:
        _err(f"snisweep demo: {len(surprises)} endpoint(s) did not get the lab's expected verdict")
        return EXIT_RUNTIME
    return EXIT_OK


def _print_table(records: Sequence[Record], order: Sequence[tuple[str, int]], out: TextIO) -> None:
    position = {key: index for index, key in enumerate(order)}
    rows = [("LABEL", "VERDICT", "REASON", "HTTP", "WARNINGS", "DETAIL")]
    for record in sorted(records, key=lambda r: position.get((r.host, r.port), len(position))):
        rows.append(
            (
                printable(record.label or f"{record.host}:{record.port}", 40),
                record.verdict.value,
                record.reason.value,
                _statuses(record),
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


def _statuses(record: Record) -> str:
    """The HTTP statuses with and without SNI, e.g. ``200/403`` (``-`` for none)."""
    if record.sni_http_status is None and record.nosni_http_status is None:
        return "-"
    if record.sni is None:  # an IP literal's one probe
        return str(record.sni_http_status)
    return f"{record.sni_http_status or '-'}/{record.nosni_http_status or '-'}"


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
