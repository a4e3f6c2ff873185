"""The scan session: one scan from validated lists to a closed report, in one process or in
forked workers, with the signals that stop it and the event loop it runs on. Does I/O through
what it composes (the scheduler, the workers' sockets, the report writer); it prints nothing:
what the terminal shows comes in as a ``ProgressView`` and a ``warn`` callable from the CLI.

SIGINT and SIGTERM: the first stops the scan and keeps every row already finished (exit 130),
a second stops waiting for buffered rows too.
"""

from __future__ import annotations

import gc
import importlib.util
import itertools
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, TypeVarTuple

import anyio
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from snisweep.core.record import Record
from snisweep.errors import ConfigError, ListChangedError, SnisweepError, first_leaf
from snisweep.model import Endpoint
from snisweep.net.probe import TLSProber
from snisweep.report.writers import RecordSink, ReportWriter, Tally, drain
from snisweep.run import workers
from snisweep.run.scheduler import Limits, Scanner

EXIT_OK = 0
EXIT_INTERRUPTED = 130
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


@dataclass(frozen=True, slots=True)
class Outcome:
    tally: Tally
    elapsed: float
    interrupted: bool


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
    job: Job, count: int, writer: ReportWriter, warn: Callable[[str], None]
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
        concurrency=-(-limits.concurrency // count), per_host=-(-limits.per_host // count)
    )

    def work(index: int, channel: socket.socket) -> int:
        mine = itertools.islice(job.endpoints, index, None, count)
        return run_worker(
            Job(mine, share, job.shard, http=job.http), workers.ChannelWriter(channel), warn
        )

    started = workers.start(count, work)
    try:
        outcome = run_async(collect, started, writer, job.progress)
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
        warn(problem)
    return outcome


def run_worker(job: Job, sink: RecordSink, warn: Callable[[str], None]) -> int:
    """A worker process: scan its endpoints into ``sink``; returns the exit code."""
    try:
        outcome = run_async(scan_to_report, job, sink)
    except ConfigError as exc:
        warn(str(list_changed(exc)))
        return EXIT_RUNTIME
    except SnisweepError as exc:
        warn(str(exc))
        return exc.exit_code
    return EXIT_INTERRUPTED if outcome.interrupted else EXIT_OK


async def collect(
    started: Sequence[workers.Worker], writer: ReportWriter, progress: ProgressView | None
) -> Outcome:
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

    return await rows_to_sink(produce, lambda: workers.stop(started), writer, progress, buffer=1024)


async def scan_to_report(
    job: Job, sink: RecordSink | None, collected: list[Record] | None = None
) -> Outcome:
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

    return await rows_to_sink(
        produce,
        scan_scope.cancel,
        sink,
        job.progress,
        buffer=job.limits.concurrency,
        collected=collected,
    )


async def rows_to_sink(
    produce: Callable[[TaskGroup, MemoryObjectSendStream[Record]], None],
    stop: Callable[[], None],
    sink: RecordSink | None,
    progress: ProgressView | None,
    *,
    buffer: int,
    collected: list[Record] | None = None,
) -> Outcome:
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
            await group.start(watch_signals, first_signal, second_signal)
            produce(group, send)
            if progress is not None:
                group.start_soon(progress.show, tally, started)
            await drain(receive, consume)
            group.cancel_scope.cancel()
    finally:
        if sink is not None:
            await sink.close()
        if progress is not None:
            progress.clear()
    return Outcome(tally, time.monotonic() - started, interrupted)


async def watch_signals(
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


_Args = TypeVarTuple("_Args")


_T = TypeVar("_T")


def run_async(function: Callable[[*_Args], Awaitable[_T]], *args: *_Args) -> _T:
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
