"""The scan session: one scan from validated lists to a closed report, in one process or in
forked workers, with the signals that stop it and the event loop it runs on. Does I/O through
what it composes (the scheduler, the workers' sockets, the report writer); it prints nothing:
what the terminal shows comes in as a ``ProgressView`` and a ``warn`` callable from the CLI.

SIGINT and SIGTERM: the first stops the scan and keeps every row already finished (exit 130),
a second stops waiting for buffered rows too. They are watched before the report is opened, and
the handlers the caller had (``snisweep.cli`` maps both signals to ``KeyboardInterrupt`` until
the event loop runs) are in place again once it has stopped. With workers, only this process's
own stop, passed on, excuses a worker that ends early: a worker that ends before the end of its
share for any other reason (a signal sent to it alone, a crash, the OOM killer) fails the scan.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import itertools
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar, TypeVarTuple

import anyio
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from snisweep.core.record import Record
from snisweep.core.trust import TrustChecker, TrustStore
from snisweep.errors import ConfigError, ListChangedError, OutputError, SnisweepError
from snisweep.model import Endpoint, Verdict, WarningCode
from snisweep.net.probe import TLSProber
from snisweep.net.resolve import SystemResolver
from snisweep.report.writers import RecordSink, ReportSink, Tally, drain
from snisweep.run import workers
from snisweep.run.scheduler import HeldBack, Limits, Scanner

EXIT_OK = 0
EXIT_RUNTIME = 3


class ProgressView(Protocol):
    """Shows a scan's progress while it runs (the CLI's progress bar)."""

    async def show(self, tally: Tally, started: float) -> None:
        """Redraw now and then, until cancelled; ``started`` is ``time.monotonic()``'s."""

    def clear(self) -> None:
        """Take the progress off the screen, once the scan is over."""


#: Below this many endpoints per worker, another process costs more than it saves.
ENDPOINTS_PER_WORKER = 200


@dataclass(frozen=True, slots=True)
class Job:
    """What one scan process is to do."""

    endpoints: Iterable[Endpoint]
    limits: Limits
    shard: str | None = None  # the report's ``shard`` column
    progress: ProgressView | None = None  # what shows the scan's progress, if anything
    http: bool = True  # the HTTP check on HTTPS endpoints (off: --no-http)
    dns_timeout: float = 5.0  # seconds per lookup, from when a thread takes it (--dns-timeout)
    trust: TrustStore | None = None  # the anchors of the trust check (None: --no-trust)
    expiring_within: int | None = None  # days of the cert-expiring warning (--expiring-within)
    fail_on: frozenset[Verdict] = frozenset()  # the verdicts whose endpoints the summary names


@dataclass(frozen=True, slots=True)
class Outcome:
    tally: Tally
    elapsed: float
    interrupted: bool
    signum: int | None = None  # the signal that interrupted the scan
    held_back: HeldBack | None = None  # what the per-address limit cost, when known
    watch: Watch | None = None  # the rows the summary names or counts


#: How many endpoints that fired ``--fail-on`` the summary names; the rest are counted.
FIRED_SHOWN = 5


@dataclass
class Watch:
    """What the summary says beyond the counts per verdict: the first endpoints whose verdict
    ``--fail-on`` names, how many there were, and the ``cert-expiring`` rows."""

    fail_on: frozenset[Verdict] = frozenset()
    fired: list[str] = field(default_factory=list)  # "host:port (reason)", FIRED_SHOWN at most
    fired_count: int = 0
    expiring: int = 0

    def add(self, records: Sequence[Record]) -> None:
        fail_on = self.fail_on
        for record in records:
            if record.verdict in fail_on:
                self.fired_count += 1
                if len(self.fired) < FIRED_SHOWN:
                    where = f"{record.host}:{record.port}"
                    if record.address and record.address != record.host:
                        where += f" at {record.address}"
                    self.fired.append(f"{where} ({record.verdict}/{record.reason})")
            if WarningCode.CERT_EXPIRING in record.warnings:
                self.expiring += 1


def list_changed(exc: ConfigError) -> ListChangedError:
    # The lists are read again while scanning (to keep memory flat); one changed since.
    return ListChangedError(
        "an endpoint list changed during the scan; the report holds the rows finished "
        "before that:\n" + "\n".join(str(problem) for problem in exc.problems)
    )


def worker_count(requested: int | None, endpoints: int) -> int:
    """How many processes to scan with: as asked, else one per core but not more than the
    list keeps busy; always one where workers cannot be forked."""
    if not workers.can_fork():
        return 1
    if requested is not None:
        return requested
    return max(1, min(workers.available_cores(), endpoints // ENDPOINTS_PER_WORKER))


def scan_in_workers(
    job: Job, count: int, writer: ReportSink, warn: Callable[[str], None]
) -> Outcome:
    """Scan with ``count`` forked workers and write what they send into ``writer``.

    Worker ``i`` takes endpoints ``i``, ``i + count``, ``i + 2 * count``... of the list: every
    worker reads the same validated lists in the same order (a list that changes meanwhile ends
    the scan), so the parts are disjoint, cover the list, and differ in size by one at most. The
    limits are shared out: together the workers keep at most ``concurrency`` endpoints in flight,
    and about ``per_host`` connections per address.
    """
    limits = job.limits
    share = Limits(
        concurrency=-(-limits.concurrency // count),
        per_host=-(-limits.per_host // count),
        rate=limits.rate / count if limits.rate is not None else None,
    )

    def work(index: int, channel: socket.socket) -> int:
        mine = itertools.islice(job.endpoints, index, None, count)
        return run_worker(
            replace(job, endpoints=mine, limits=share, progress=None),
            workers.ChannelWriter(channel),
            warn,
        )

    started = workers.start(count, work)
    try:
        outcome = run_async(collect, started, writer, job.progress, limits.per_host, job.fail_on)
    except BaseException:
        workers.abandon(started)
        workers.reap(started)
        raise
    codes = workers.reap(started)
    failed = unfinished(codes, interrupted=outcome.interrupted)
    if failed:
        pids = {worker.index: worker.pid for worker in started}
        which = ", ".join(
            f"worker {index + 1} (pid {pids[index]}, {how_it_ended(code)})"
            for index, code in failed
        )
        problem = (
            f"{which} of {count} stopped before the end of its share; {writer.name} holds the rows "
            "finished so far, without the endpoints left to that worker"
        )
        if not outcome.interrupted:
            raise SnisweepError(problem)
        warn(problem)
    return outcome


def unfinished(codes: dict[int, int], *, interrupted: bool) -> list[tuple[int, int]]:
    """The workers (index, exit code) that did not finish their share: any that did not exit 0,
    except, when this process was interrupted and passed its stop on, those that stopped on it
    (130 or 143: stopped by SIGINT or SIGTERM, or ended by SIGTERM before they could watch for
    it). A worker stopped by a signal that this process did not pass on is a dead worker."""
    accepted = {EXIT_OK}
    if interrupted:
        accepted |= {128 + signal.SIGINT, 128 + signal.SIGTERM}
    return sorted((index, code) for index, code in codes.items() if code not in accepted)


def how_it_ended(code: int) -> str:
    """A worker's exit code in words: ``ended by SIGTERM, exit code 143``."""
    if 128 < code < 128 + signal.NSIG:
        with contextlib.suppress(ValueError):
            return f"ended by {signal.Signals(code - 128).name}, exit code {code}"
    return f"exit code {code}"


def run_worker(job: Job, sink: RecordSink, warn: Callable[[str], None]) -> int:
    """A worker process: scan its endpoints into ``sink``; returns the exit code."""
    try:
        outcome = run_async(scan_to_report, job, sink)
    except ConfigError as exc:
        warn(str(list_changed(exc)))
        return EXIT_RUNTIME
    except OutputError:
        # Its channel broke: the parent stopped reading (its report failed, or it died), and
        # the parent, if alive, tells the user; one message is enough.
        return EXIT_RUNTIME
    except SnisweepError as exc:
        warn(str(exc))
        return exc.exit_code
    if outcome.interrupted:
        # 128 + the signal, as a shell reports it: the parent can tell the user which it was.
        return 128 + (outcome.signum or signal.SIGINT)
    return EXIT_OK


async def collect(
    started: Sequence[workers.Worker],
    writer: ReportSink,
    progress: ProgressView | None,
    per_host: int,
    fail_on: frozenset[Verdict] = frozenset(),
) -> Outcome:
    """The parent of workers: write the records they send; pass every signal on to them."""
    held_back = HeldBack(per_host)  # the workers' waits, added up

    async def read(worker: workers.Worker, send: MemoryObjectSendStream[Record]) -> None:
        async with send:
            async for batch in workers.receive(worker):
                if isinstance(batch, HeldBack):
                    held_back.connections += batch.connections
                    held_back.seconds += batch.seconds
                    continue
                for record in batch:
                    await send.send(record)

    def produce(group: TaskGroup, send: MemoryObjectSendStream[Record]) -> None:
        with send:  # each reader holds a clone: the stream ends when the last worker's does
            for worker in started:
                group.start_soon(read, worker, send.clone())

    outcome = await rows_to_sink(
        produce, lambda: workers.stop(started), writer, progress, buffer=1024, fail_on=fail_on
    )
    return replace(outcome, held_back=held_back)


async def scan_to_report(
    job: Job, sink: RecordSink | None, collected: list[Record] | None = None
) -> Outcome:
    """Scan into ``sink`` (and ``collected``); SIGINT and SIGTERM stop the scan but keep
    every row already finished."""
    checker = TrustChecker(job.trust) if job.trust is not None else None
    resolver = SystemResolver(job.dns_timeout, threads=dns_threads(job.limits.concurrency))
    scanner = Scanner(
        TLSProber(chain=checker is not None),
        resolver,
        job.limits,
        shard=job.shard,
        http=job.http,
        trust=checker,
        expiring_within=job.expiring_within,
    )
    scan_scope = anyio.CancelScope()
    if isinstance(sink, workers.ChannelWriter):  # a worker tells its parent what it waited
        sink.held_back = scanner.held_back

    def produce(group: TaskGroup, send: MemoryObjectSendStream[Record]) -> None:
        async def run_scanner() -> None:
            with scan_scope:
                await scanner.run(job.endpoints, send)
            send.close()  # after a cancel too, so that the rows already sent are written

        group.start_soon(run_scanner)

    try:
        outcome = await rows_to_sink(
            produce,
            scan_scope.cancel,
            sink,
            job.progress,
            buffer=job.limits.concurrency,
            collected=collected,
            fail_on=job.fail_on,
        )
    finally:
        resolver.close()
    return replace(outcome, held_back=scanner.held_back)


def dns_threads(concurrency: int) -> int:
    """Threads for lookups: one per endpoint in flight (each asks once per name), within
    reason; idle ones cost a few kilobytes."""
    return max(4, min(concurrency, 256))


async def rows_to_sink(
    produce: Callable[[TaskGroup, MemoryObjectSendStream[Record]], None],
    stop: Callable[[], None],
    sink: RecordSink | None,
    progress: ProgressView | None,
    *,
    buffer: int,
    collected: list[Record] | None = None,
    fail_on: frozenset[Verdict] = frozenset(),
) -> Outcome:
    """Write the records that ``produce``'s tasks send into ``sink`` (and ``collected``) until
    they close their stream, with the tally and the progress bar.

    The first SIGINT or SIGTERM calls ``stop``, which makes the producers finish early; every
    row they still send is written. A second one calls ``stop`` again and stops waiting.
    """
    tally = Tally()
    watch = Watch(fail_on)
    started = time.monotonic()
    interrupted: int | None = None  # the first signal
    send, receive = anyio.create_memory_object_stream[Record](buffer)

    async def consume(records: Sequence[Record]) -> None:
        if sink is not None:
            await sink.write(records)
        if collected is not None:
            collected.extend(records)
        tally.add(records)
        watch.add(records)

    def first_signal(signum: int) -> None:
        nonlocal interrupted
        interrupted = signum
        stop()

    def second_signal() -> None:  # asked twice: stop waiting for buffered rows too
        stop()
        group.cancel_scope.cancel()

    try:
        async with anyio.create_task_group() as group:
            # Signals first: a stop while the report is being opened keeps a report of whole
            # rows (the header) too.
            await group.start(watch_signals, first_signal, second_signal)
            if sink is not None:
                await sink.open()
            produce(group, send)
            if progress is not None:
                group.start_soon(progress.show, tally, started)
            await drain(receive, consume)
            group.cancel_scope.cancel()
    finally:
        send.close()  # when the sink did not open, nothing took them over
        receive.close()
        if sink is not None:
            await sink.close()
        if progress is not None:
            progress.clear()
    elapsed = time.monotonic() - started
    return Outcome(tally, elapsed, interrupted is not None, interrupted, watch=watch)


async def watch_signals(
    first: Callable[[int], None], again: Callable[[], None], *, task_status: TaskStatus[None]
) -> None:
    """Call ``first`` with the first SIGINT or SIGTERM and ``again`` on every later one."""
    interrupted = False
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                if interrupted:
                    again()
                else:
                    interrupted = True
                    first(signum)
    finally:
        if interrupted:
            # The process is on its way out; one more Ctrl-C must not raise KeyboardInterrupt
            # in the middle of the clean-up.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


_Args = TypeVarTuple("_Args")


_T = TypeVar("_T")


def run_async(function: Callable[[*_Args], Awaitable[_T]], *args: *_Args) -> _T:
    """Run a scan's ``function`` with ``run_loop``, the garbage collector tuned for scanning."""
    # A scan allocates many short-lived objects and almost no cycles: the modules loaded so far
    # are set aside from collection for good, and the youngest generation is collected less
    # often (Python's default of 700 allocations would collect hundreds of times a second).
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    return run_loop(function, *args)


def run_loop(function: Callable[[*_Args], Awaitable[_T]], *args: *_Args) -> _T:
    """Run ``function`` on a new event loop (uvloop when installed) and return what it returns.

    What it raises comes out unwrapped from the task groups' exception groups when it is a
    ``SnisweepError``; a thread that cannot start (a process limit: ``ulimit -u``, a container's
    pids limit) is a ``SnisweepError`` too, not a traceback. SIGINT's and SIGTERM's handlers are
    the caller's again afterwards, unless the scan set them to be ignored (it was interrupted,
    and is on its way out)."""
    backend_options: dict[str, Any] = {}
    if importlib.util.find_spec("uvloop") is not None:  # the optional `fast` extra
        backend_options["use_uvloop"] = True
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    returned: list[_T] = []

    async def call() -> None:
        returned.append(await function(*args))

    try:
        anyio.run(call, backend_options=backend_options)
    except BaseException as exc:
        if returned and _thread_limit(exc):
            # The scan is over and its report closed; only the loop's clean-up could not start
            # the thread that waits for its idle executor threads (they end with the process).
            return returned[0]
        failure = _what_failed(exc)
        if failure is exc:
            raise
        raise failure from None
    finally:
        for signum, handler in handlers.items():
            if handler is not None and signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, handler)
    return returned[0]


def _thread_limit(exc: BaseException) -> bool:
    # What ``threading.Thread.start`` raises when the system refuses a thread (EAGAIN).
    return isinstance(exc, RuntimeError) and str(exc).startswith("can't start new thread")


def _what_failed(exc: BaseException) -> BaseException:
    """What to tell the user about a loop that raised ``exc``: the first of its errors that is
    ours or the environment's (task groups wrap them; a loop whose clean-up failed too carries
    the first failure as its context), else ``exc`` itself (a bug, or an interrupt)."""
    if _thread_limit(exc) and exc.__context__ is not None:
        return _what_failed(exc.__context__)
    leaves = list(_leaves(exc))
    for leaf in leaves:
        if isinstance(leaf, SnisweepError | KeyboardInterrupt):
            return leaf
    for leaf in leaves:
        if _thread_limit(leaf):
            return SnisweepError(
                "cannot start a thread: the system refused one (a limit on processes and "
                "threads: ulimit -u, or a container's pids limit?)"
            )
    return exc


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc
