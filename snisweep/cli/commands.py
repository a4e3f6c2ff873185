"""The commands: ``snisweep scan | validate | merge | diff | show | schema | completion |
demo | lab``. Does terminal I/O.

This package (this module, the parser and the commands, and ``terminal``, what the terminal
shows) is the only one that prints, and the only one that turns ``SnisweepError`` into exit
codes: 0 scan finished, 1 a verdict named by ``--fail-on`` occurred, 2 usage or config error,
3 runtime failure, 130 interrupted (the rows written so far are complete).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterable, Sequence

import anyio

from snisweep import __version__
from snisweep.cli import interrupts_held
from snisweep.cli.completion import SHELLS, completion_script
from snisweep.cli.terminal import (
    ProgressBar,
    TableFormat,
    err,
    print_table,
    report_on_terminal,
    show_report,
    summary,
)
from snisweep.core.record import Record
from snisweep.core.trust import TrustStore
from snisweep.errors import (
    ConfigError,
    OutputError,
    Problem,
    SnisweepError,
    UsageError,
    cannot_read,
    os_error_text,
)
from snisweep.lists.load import (
    RETRIES_RANGE,
    TIMEOUT_MAX,
    ListFormat,
    Settings,
    check_exclude,
    load,
)
from snisweep.lists.proxies import check_proxy, proxy_from_environment
from snisweep.lists.rules import check_tls_range, check_tls_version
from snisweep.lists.schema import schema_text
from snisweep.model import Endpoint, TLSVersion, Verdict
from snisweep.report.resume import prepare as prepare_resume
from snisweep.report.writers import Format, format_for, refuse_overwriting, writer_for
from snisweep.run.scheduler import Limits
from snisweep.run.session import (
    ENDPOINTS_PER_WORKER,
    Job,
    Outcome,
    list_changed,
    run_async,
    scan_in_workers,
    scan_to_report,
    worker_count,
)
from snisweep.run.shard import Shard, from_environment, parse_shard

EXIT_OK = 0
EXIT_FAIL_ON = 1
EXIT_USAGE = 2
EXIT_RUNTIME = 3
EXIT_INTERRUPTED = 130

WORKERS_MAX = 256


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``snisweep`` command; returns the exit code. ``snisweep.cli.main`` calls it,
    once SIGINT and SIGTERM both raise ``KeyboardInterrupt``; with the event loop running, the
    scan session handles them instead."""
    args = argparse.Namespace(command=None)
    try:
        parser = _parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        command: Callable[[argparse.Namespace], int] = args.run
        return command(args)
    except ConfigError as exc:
        for problem in exc.problems:
            err(str(problem))
        consequence = {"scan": "nothing was scanned", "validate": "nothing was scanned"}.get(
            args.command, "nothing was shown" if args.command == "show" else "nothing was written"
        )
        err(f"snisweep: {len(exc.problems)} problem(s) found; {consequence}")
        return exc.exit_code
    except SnisweepError as exc:
        err(f"snisweep: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        err("snisweep: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of standard output stopped reading (`snisweep show r.csv | head`): it
        # has what it wanted. Point the descriptor at /dev/null, so that the flush at exit
        # does not fail again.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


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
        metavar="LIST|ENDPOINT",
        help="endpoint list: YAML, text (.txt, .list) or CSV (.csv) file, directory of YAML "
        "files, or - for standard input; or an endpoint itself (host, host:port, a URL)",
    )
    _add_list_format(scan)
    _add_report(scan, "report file, or - (default)")
    _add_scan_options(scan)
    scan.add_argument(
        "--fail-on",
        type=_verdicts,
        default=frozenset(),
        metavar="VERDICT,...",
        help="exit 1 when any endpoint gets one of these verdicts (required, mismatched, "
        "optional, error); the summary names the first endpoints that did",
    )
    scan.add_argument(
        "--allow-empty",
        action="store_true",
        help="scan lists that hold no endpoint at all (exit 0) instead of exit 2",
    )
    scan.add_argument(
        "--expiring-within",
        type=_whole_number(0, 3650),
        metavar="DAYS",
        help="warn cert-expiring for certificates (with SNI) that expire within DAYS days, "
        "and count them in the summary",
    )
    scan.add_argument(
        "--rate",
        type=_rate,
        metavar="N",
        help="at most N new connections per second for the whole scan, all workers together, "
        "on top of --per-host (default: no cap)",
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
    _add_network_options(scan)
    scan.add_argument(
        "--resume",
        action="store_true",
        help="scan again into the same -o file: the endpoints that already have a complete row "
        "are skipped, the rest appended (refused for a report of other lists or another version)",
    )
    scan.add_argument(
        "--excel-csv",
        action="store_true",
        help="CSV for Excel: a UTF-8 byte order mark, and ';' between cells where the locale's "
        "decimal separator is ','",
    )
    scan.add_argument("--quiet", action="store_true", help="no summary on standard error")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar")
    scan.set_defaults(command="scan", run=_run_scan)

    validate = commands.add_parser("validate", help="check endpoint lists and count endpoints")
    validate.add_argument("configs", nargs="+", metavar="LIST|ENDPOINT")
    _add_list_format(validate)
    validate.set_defaults(command="validate", run=_run_validate)

    demo = commands.add_parser(
        "demo", help="start the embedded lab on loopback, scan it and show the table"
    )
    demo.add_argument(
        "-o", "--output", metavar="PATH", help="also write the report here (.csv, .jsonl or .xlsx)"
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

    diff = commands.add_parser(
        "diff",
        help="what changed between two reports: verdicts, new and removed endpoints, certificates",
    )
    diff.add_argument("old", metavar="OLD", help="the earlier report (CSV or JSONL)")
    diff.add_argument("new", metavar="NEW", help="the later report (CSV or JSONL)")
    diff.add_argument(
        "-o", "--output", default="-", metavar="PATH", help="where the changes go, or - (default)"
    )
    diff.add_argument(
        "--format",
        choices=("table", "csv", "jsonl", "markdown"),
        help="table (default on a terminal), csv, jsonl or markdown (default: from the "
        "extension of -o: .csv, .jsonl, .ndjson, .md)",
    )
    diff.add_argument(
        "--fail-on",
        type=_verdicts,
        default=frozenset(),
        metavar="VERDICT,...",
        help="exit 1 when an endpoint became one of these verdicts (changed to it, or is new "
        "with it)",
    )
    diff.add_argument("--quiet", action="store_true", help="no summary on standard error")
    diff.set_defaults(command="diff", run=_run_diff)

    show = commands.add_parser(
        "show", help="a report as a table on the terminal, or as Markdown for a change ticket"
    )
    show.add_argument("report", metavar="REPORT", help="CSV or JSONL report")
    show.add_argument(
        "--only",
        type=_verdicts,
        default=frozenset(),
        metavar="VERDICT,...",
        help="only the rows with these verdicts, e.g. required,mismatched (default: every row)",
    )
    show.add_argument(
        "--format",
        type=TableFormat,
        choices=list(TableFormat),
        default=TableFormat.TABLE,
        help="table (fitted to the terminal) or markdown (default table)",
    )
    show.set_defaults(command="show", run=_run_show)

    schema = commands.add_parser(
        "schema", help="print the JSON Schema of YAML endpoint lists, for editors"
    )
    schema.set_defaults(command="schema", run=_run_schema)

    completion = commands.add_parser("completion", help="print a bash or zsh completion script")
    completion.add_argument("shell", choices=SHELLS, help="bash or zsh")
    completion.set_defaults(command="completion", run=_run_completion)

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
        help="seconds per probe: connect, handshake and HTTP status line "
        f"(default {settings.timeout:g}); a list's defaults and endpoints may set their own",
    )
    parser.add_argument(
        "--retries",
        type=_whole_number(*RETRIES_RANGE),
        default=settings.retries,
        metavar="N",
        help="extra attempts for a probe that fails; it counts as failed only when every "
        f"attempt failed (default {settings.retries})",
    )


def _add_network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all-addresses",
        action="store_true",
        help="one row per address a name resolves to (A and AAAA), instead of the first "
        "address that accepts a connection; for endpoints whose list does not say",
    )
    parser.add_argument(
        "--dns-timeout",
        type=_seconds,
        default=5.0,
        metavar="S",
        help="seconds per name lookup, counted from when it starts (default 5)",
    )
    parser.add_argument(
        "--proxy",
        metavar="URL",
        help="the HTTP CONNECT proxy both probes go through: http://HOST:PORT, credentials "
        "in the URL's user part; 'direct' for none (default: https_proxy, HTTPS_PROXY, "
        "all_proxy or ALL_PROXY from the environment, except for the hosts of NO_PROXY); "
        "a list's defaults and endpoints may set their own",
    )
    for end, meaning in (("min", "lowest"), ("max", "highest")):
        parser.add_argument(
            f"--tls-{end}",
            metavar="VERSION",
            help=f"the {meaning} TLS version a probe offers, 1.0 to 1.3, to emulate a client "
            "(default: what OpenSSL still can); a list's defaults and endpoints may set their own",
        )
    parser.add_argument(
        "--ca-file",
        metavar="PATH",
        help="PEM file of the CA certificates that the trust check (sni_cert_trusted) trusts, "
        "instead of the system trust store",
    )
    parser.add_argument(
        "--no-trust",
        action="store_true",
        help="no trust check: sni_cert_trusted and sni_trust_error stay empty",
    )


def _network_settings(args: argparse.Namespace) -> dict[str, object]:
    """The command line's proxy, protocol range and all-addresses flag, for ``Settings``,
    and the environment's proxy; bad values are usage errors that name the option."""
    settings: dict[str, object] = {"all_addresses": args.all_addresses}
    for option, key in (("--tls-min", "tls_min"), ("--tls-max", "tls_max")):
        text = getattr(args, key)
        if text is not None:
            try:
                settings[key] = check_tls_version(text, option)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
    low, high = settings.get("tls_min"), settings.get("tls_max")
    try:
        check_tls_range(
            low if isinstance(low, TLSVersion) else None,
            high if isinstance(high, TLSVersion) else None,
        )
    except ValueError as exc:
        raise UsageError(f"--tls-min/--tls-max: {exc}") from None
    if args.proxy is not None:
        try:
            settings["proxy"] = check_proxy(args.proxy)
        except ValueError as exc:
            raise UsageError(f"--proxy: {exc}") from None
    try:
        proxy, no_proxy = proxy_from_environment(os.environ)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    settings["environment_proxy"], settings["no_proxy"] = proxy, no_proxy
    return settings


def _trust_store(args: argparse.Namespace) -> TrustStore | None:
    if args.no_trust:
        return None
    if args.ca_file is not None:
        return TrustStore.from_file(args.ca_file)
    return TrustStore.system()


def _add_report(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("-o", "--output", default="-", metavar="PATH", help=what)
    parser.add_argument(
        "--format",
        type=Format,
        choices=list(Format),
        help="csv, jsonl or xlsx (default: from the extension of -o: .csv, .jsonl, .ndjson, "
        ".xlsx; csv for standard output or a name without one)",
    )


def _add_list_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stdin-format",
        type=ListFormat,
        choices=list(ListFormat),
        default=None,
        help="the format of a list read from standard input (-): yaml, text or csv (default: "
        "detected from its first lines)",
    )
    parser.add_argument(
        "--exclude",
        type=_exclude,
        action="append",
        default=[],
        metavar="GLOB",
        help="leave files and directories matching GLOB out of the directories given "
        "(repeatable; a file named on the command line is always read)",
    )


def _exclude(text: str) -> str:
    try:
        return check_exclude(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _list_warning(text: str) -> None:
    _warn(f"warning: {text}")


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


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number of connections above 0: {text!r}")
    return value


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
    endpoints = load(
        args.configs, stdin_format=args.stdin_format, exclude=args.exclude, warn=_list_warning
    )
    duplicates = f", {endpoints.duplicates} duplicate(s) skipped" if endpoints.duplicates else ""
    files = len(endpoints.files)
    targets = f" and {endpoints.targets} on the command line" if endpoints.targets else ""
    print(
        f"{endpoints.count} endpoint(s) in {files} file{'s' if files != 1 else ''}{targets}"
        f"{duplicates}: OK"
    )
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# scan


def _run_scan(args: argparse.Namespace) -> int:
    _refuse_stdin_twice(args.configs)
    fmt = format_for(args.output, args.format)  # a report name it cannot write is said first
    shard: Shard | None = args.shard if args.shard is not None else from_environment(os.environ)
    # Every list is checked before the report is opened: a bad list never truncates a report.
    settings = _network_settings(args)
    trust = _trust_store(args)
    endpoints = load(
        args.configs,
        Settings(
            timeout=args.timeout,
            retries=args.retries,
            protocol=args.protocol,
            **settings,  # type: ignore[arg-type]
        ),
        stdin_format=args.stdin_format,
        select=shard.holds if shard is not None else None,
        exclude=args.exclude,
        warn=_list_warning,
    )
    if endpoints.total == 0 and not args.allow_empty:
        raise UsageError(
            "the lists hold no endpoint at all (an empty export?); nothing was scanned "
            "(--allow-empty scans them anyway, and exits 0)"
        )
    refuse_overwriting(args.output, endpoints.files, "the endpoint lists")
    resume = prepare_resume(args.output, fmt, endpoints) if args.resume else None
    todo: Iterable[Endpoint] = endpoints
    left, listed = endpoints.count, endpoints.count
    if resume is not None:
        if resume.dropped is not None:
            _warn(
                f"{args.output}:{resume.dropped}: the last row was cut short; it is scanned again"
            )
        remaining = resume.remaining(endpoints)
        todo, left = remaining, remaining.count
    appending = resume.appending if resume is not None else None
    writer = writer_for(args.output, fmt, excel=args.excel_csv, appending=appending)
    limits = Limits(concurrency=args.concurrency, per_host=args.per_host, rate=args.rate)
    show_progress = not (args.quiet or args.no_progress) and sys.stderr.isatty()
    progress = (
        ProgressBar(left, report_on_terminal=report_on_terminal(args.output))
        if show_progress
        else None
    )
    job = Job(
        todo,
        limits,
        _label(shard),
        progress,
        http=not args.no_http,
        dns_timeout=args.dns_timeout,
        trust=trust,
        expiring_within=args.expiring_within,
        fail_on=args.fail_on,
    )
    processes = min(worker_count(args.workers, left), limits.concurrency)
    try:
        if processes > 1:
            outcome = scan_in_workers(job, processes, writer, _warn)
        else:
            outcome = run_async(scan_to_report, job, writer)
    except ConfigError as exc:
        raise list_changed(exc) from exc
    done_before = resume.endpoints if resume is not None else 0
    if not args.quiet:
        err(summary(outcome, writer.name))
        if resume is not None:
            counts = ", ".join(f"{v.value} {resume.verdicts.get(v, 0)}" for v in Verdict)
            err(
                f"snisweep: resumed: {done_before} endpoint(s) were in the report already "
                f"({counts}), {left} scanned now"
            )
        _say_what_was_watched(outcome, args)
    if outcome.interrupted:
        # Rows count endpoints (but for --all-addresses, one row per address).
        holds = min(done_before + outcome.tally.total, listed)
        err(
            f"snisweep: interrupted; the report holds {holds} of {listed} endpoint(s), every row "
            "complete; --resume with the same lists and -o scans the rest"
        )
        return EXIT_INTERRUPTED
    kept = resume.verdicts if resume is not None else {}
    if any(outcome.tally.verdicts[verdict] or kept.get(verdict) for verdict in args.fail_on):
        return EXIT_FAIL_ON  # the rows kept by --resume count too: the report is one
    return EXIT_OK


def _say_what_was_watched(outcome: Outcome, args: argparse.Namespace) -> None:
    """The lines under the summary: the endpoints that fired --fail-on, the expiring ones."""
    watch = outcome.watch
    if watch is None:
        return
    if watch.fired_count:
        verdicts = ", ".join(sorted(args.fail_on))
        more = watch.fired_count - len(watch.fired)
        listed = "; ".join(watch.fired) + (f"; and {more} more" if more else "")
        err(f"snisweep: --fail-on {verdicts}: {watch.fired_count} endpoint(s): {listed}")
    if args.expiring_within is not None:
        err(
            f"snisweep: cert-expiring: {watch.expiring} endpoint(s) with a certificate that "
            f"expires within {args.expiring_within} days"
        )


def _label(shard: Shard | None) -> str | None:
    return str(shard) if shard is not None else None


# ---------------------------------------------------------------------------------------------
# merge


def _run_merge(args: argparse.Namespace) -> int:
    with interrupts_held():
        from snisweep.report.merge import merge  # noqa: PLC0415 - only merge reads reports

    summary = merge(args.reports, args.output, args.format, allow_missing=args.allow_missing)
    if not args.quiet:
        err(f"snisweep merge: {summary}")
    return EXIT_OK


def _run_diff(args: argparse.Namespace) -> int:
    with interrupts_held():
        from snisweep.report import diff  # noqa: PLC0415 - only diff compares reports

    fmt = diff.output_format(args.output, diff.DiffFormat(args.format) if args.format else None)
    if args.output != "-":
        refuse_overwriting(args.output, [args.old, args.new], "the reports to compare")
    changes = diff.diff(args.old, args.new)
    if args.output == "-":
        columns = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        diff.render(changes, fmt, sys.stdout, columns=columns)
        sys.stdout.flush()
    else:
        try:
            with open(
                args.output, "w", newline="", encoding="utf-8", errors="backslashreplace"
            ) as out:
                diff.render(changes, fmt, out, columns=None)
        except OSError as exc:
            raise OutputError(f"{args.output}: {os_error_text(exc)}") from None
    if not args.quiet:
        err(f"snisweep diff: {changes.summary()}")
    return diff.exit_code(changes, args.fail_on)


def _run_show(args: argparse.Namespace) -> int:
    with interrupts_held():
        from snisweep.report.readers import (  # noqa: PLC0415 - only show and merge read reports
            Flaw,
            detect_format,
            parse_report,
        )

    path = args.report
    problems: list[Problem] = []
    records: list[Record] = []
    try:
        with open(path, "rb") as file:
            fmt = detect_format(path, file.peek(4)[:4])
            for item in parse_report(file, fmt, earlier=True):
                if isinstance(item, Flaw):
                    problems.append(Problem(path, item.line, item.message))
                elif not args.only or item.record.verdict in args.only:
                    records.append(item.record)
    except OSError as exc:
        problems.append(Problem(path, None, cannot_read(exc)))
    if problems:
        raise ConfigError(problems)
    show_report(records, sys.stdout, fmt=args.format)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# demo and lab


def _run_demo(args: argparse.Namespace) -> int:
    with interrupts_held():
        from snisweep.lab import Lab  # noqa: PLC0415 - the lab servers start only when asked

    with Lab() as lab:
        endpoints = load(
            ["-"],
            stdin=io.StringIO(lab.config_yaml(timeout=1.0, retries=1)),
            stdin_format=ListFormat.YAML,
        )
        err(
            f"snisweep demo: lab servers up on 127.0.0.1; scanning {endpoints.count} endpoints "
            "(the silent ones take a couple of seconds)..."
        )
        writer = writer_for(args.output, format_for(args.output, None)) if args.output else None
        records: list[Record] = []
        job = Job(endpoints, Limits(), trust=lab.trust_store())
        outcome = run_async(scan_to_report, job, writer, records)
    expected = {(s.host, s.port): (s.verdict, s.reason, s.warnings) for s in lab.scenarios}
    print_table(records, list(expected), sys.stdout)
    err(summary(outcome, writer.name if writer else "the table above"))
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    surprises = [
        r for r in records if expected.get((r.host, r.port)) != (r.verdict, r.reason, r.warnings)
    ]
    if surprises:
        err(f"snisweep demo: {len(surprises)} endpoint(s) did not get the lab's expected verdict")
        return EXIT_RUNTIME
    return EXIT_OK


def _run_lab(args: argparse.Namespace) -> int:
    with interrupts_held():
        from snisweep.lab import Lab  # noqa: PLC0415 - the lab servers start only when asked

    # Ctrl-C before the signal handler is in place is a normal stop too.
    with Lab() as lab, contextlib.suppress(KeyboardInterrupt):
        run_async(_serve_lab, lab.config_yaml())
    return EXIT_OK


async def _serve_lab(config_yaml: str) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        sys.stdout.write(config_yaml)
        sys.stdout.flush()
        err(
            "snisweep lab: servers up on 127.0.0.1; the YAML above scans them (save it, then "
            "`snisweep scan FILE`). Ctrl-C stops the lab."
        )
        async for _ in signals:
            return


def _run_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return EXIT_OK


def _run_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(completion_script(_parser(), args.shell))
    return EXIT_OK


def _warn(text: str) -> None:
    err(f"snisweep: {text}")
