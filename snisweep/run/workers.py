"""Worker processes: one scan split across processes that feed a single report. Does process and
socket I/O.

The parent validates the lists, then forks the workers: each inherits the validated lists (no
second validation, no interpreter start-up, and the pages stay shared) and scans its own part of
them (``snisweep.cli`` gives worker i of N every N-th endpoint from the i-th), so that every
endpoint is scanned by exactly one worker. A worker sends its finished records to the parent
over a UNIX socket pair, in pickled batches of whole records; only the parent writes the report,
so rows are never interleaved mid-line and none is written twice. Each worker is put in a
process group of its own: a Ctrl-C at the terminal reaches the parent alone, which passes each
signal on, so that SIGINT, SIGTERM (cron, Kubernetes) and a second signal mean the same as in a
single process.

A worker that SIGINT or SIGTERM reaches stops its scan, sends the rows it finished and exits with
128 + the signal's number, as a shell reports a process ended by it; the parent decides whether
that was its own stop, passed on, or a worker that died (``snisweep.run.session``). SIGINT and
SIGTERM are held while a worker is forked and while the workers are waited for, so that neither
is ever cut in half: no worker is left running unknown to the parent, none runs the parent's code.

Forking is only safe before any thread exists: ``can_fork`` says whether it may be done.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass

import anyio
import anyio.abc

from snisweep.core.record import Record
from snisweep.errors import OutputError, SnisweepError, os_error_text
from snisweep.run.scheduler import HeldBack

_FRAME = struct.Struct("!I")  # the length of the pickled batch that follows
_CRASHED = 70  # EX_SOFTWARE: a worker whose code raised
_STOPS = frozenset({signal.SIGINT, signal.SIGTERM})


@dataclass(frozen=True, slots=True)
class Worker:
    """A forked worker, as the parent sees it."""

    index: int
    pid: int
    channel: socket.socket  # the parent's end of the socket pair


def available_cores(cgroup: str = "/sys/fs/cgroup/cpu.max") -> int:
    """The cores this process may use: its CPU affinity, and in a container the CPU limit of
    its cgroup (v2), rounded up; a pod limited to 2 CPUs on a 64-core node gets 2, not 64."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    try:
        with open(cgroup, encoding="ascii") as limit:
            quota, _, period = limit.read().strip().partition(" ")
        if quota != "max":
            cores = min(cores, max(1, -(-int(quota) // int(period or "100000"))))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit here
    return cores


def can_fork() -> bool:
    """Whether workers can be forked here: a POSIX system, and no thread running yet (a child
    forked from a threaded process may inherit a lock held by a thread it does not have)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def start(count: int, work: Callable[[int, socket.socket], int]) -> list[Worker]:
    """Fork ``count`` workers; worker ``i`` runs ``work(i, its end of the socket pair)`` and
    exits with the code it returns (128 + the signal's number when SIGINT or SIGTERM stopped
    it). Never returns in a worker. Raises ``SnisweepError`` when the system refuses a process
    (a process limit, no memory), after ending the workers already started."""
    workers: list[Worker] = []
    try:
        for index in range(count):
            with _signals_held() as mask:
                try:
                    ours, theirs = socket.socketpair()
                except OSError as exc:
                    raise _cannot_start(index, count, exc) from None
                try:
                    pid = os.fork()
                except OSError as exc:
                    ours.close()
                    theirs.close()
                    raise _cannot_start(index, count, exc) from None
                if pid == 0:  # pragma: no cover - the child's coverage is not collected
                    ours.close()
                    for earlier in workers:
                        earlier.channel.close()
                    _run_child(index, theirs, work, mask)
                theirs.close()
                workers.append(Worker(index, pid, ours))
                with contextlib.suppress(OSError):  # the child does it too: whoever runs first
                    os.setpgid(pid, pid)
            # A signal that came meanwhile is delivered here, with every worker on the list.
    except BaseException:
        stop(workers, signal.SIGKILL)
        reap(workers)
        raise
    return workers


def _cannot_start(index: int, count: int, exc: OSError) -> SnisweepError:
    why = os_error_text(exc)
    if exc.errno == errno.EAGAIN:
        why += " (a limit on processes: ulimit -u, or a container's pids limit?)"
    return SnisweepError(
        f"cannot start worker {index + 1} of {count}: {why}; scan with fewer --workers"
    )


@contextlib.contextmanager
def _signals_held() -> Iterator[set[int]]:
    """Block SIGINT and SIGTERM in this thread until the end of the block, where one that came
    meanwhile is delivered; yields the mask to restore in a child forked inside the block."""
    mask: set[int] = set(signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS))
    try:
        yield mask
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


class _Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM in a worker before its scan watches for them (a ``KeyboardInterrupt``,
    so that the event loop lets it through)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def _run_child(
    index: int,
    channel: socket.socket,
    work: Callable[[int, socket.socket], int],
    mask: set[int],
) -> None:
    code = _CRASHED
    try:
        os.setpgid(0, 0)  # out of the terminal's foreground group: signals come from the parent
        for signum in _STOPS:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, _stopped)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # one that came since is raised here
        code = work(index, channel)
    except _Stopped as stopped:
        code = 128 + stopped.signum
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(code)


def stop(workers: Sequence[Worker], signum: int = signal.SIGTERM) -> None:
    """Send ``signum`` to every worker still running."""
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signum)


def abandon(workers: Sequence[Worker]) -> None:
    """Stop the workers when the parent cannot take their rows any more (its report failed):
    their sends fail at once, and SIGTERM ends their scans."""
    for worker in workers:
        with contextlib.suppress(OSError):
            worker.channel.shutdown(socket.SHUT_RDWR)
    stop(workers)


def reap(workers: Sequence[Worker], grace: float = 10.0) -> dict[int, int]:
    """Wait for the workers to exit and return each one's exit code by index (a worker killed by
    a signal gets 128 + its number). One still running after ``grace`` seconds is killed."""
    codes: dict[int, int] = {}
    deadline = time.monotonic() + grace
    pending = {worker.pid: worker for worker in workers}
    # Held, so that an interrupt never leaves a worker behind unwaited for; one that comes
    # meanwhile is delivered once every worker is gone.
    with _signals_held():
        while pending:
            for pid, worker in list(pending.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    codes[worker.index] = _exit_code(status)
                    del pending[pid]
            if not pending:
                break
            if time.monotonic() > deadline:
                stop(list(pending.values()), signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.01)
        for worker in workers:
            worker.channel.close()
    return codes


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


class ChannelWriter:
    """A worker's side of its socket: takes batches of records like a ``ReportWriter``."""

    def __init__(self, channel: socket.socket) -> None:
        self._channel = channel
        self._stream: anyio.abc.SocketStream | None = None
        # The scan's per-address waits, sent last, for the parent's summary (set by the scan).
        self.held_back: HeldBack | None = None

    async def open(self) -> None:
        self._stream = await anyio.abc.UNIXSocketStream.from_socket(self._channel)

    async def write(self, records: Sequence[Record]) -> None:
        await self._send(list(records))

    async def _send(self, batch: list[Record] | HeldBack) -> None:
        assert self._stream is not None, "open() first"
        payload = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        # Shielded like a report write: a batch that was begun is sent whole.
        with anyio.CancelScope(shield=True):
            try:
                await self._stream.send(_FRAME.pack(len(payload)) + payload)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                raise OutputError("the parent process stopped reading") from exc

    async def close(self) -> None:
        if self._stream is not None and self.held_back is not None:
            with contextlib.suppress(OutputError):
                await self._send(self.held_back)
        stream, self._stream = self._stream, None
        if stream is not None:
            with anyio.CancelScope(shield=True), contextlib.suppress(OSError):
                await stream.aclose()


async def receive(worker: Worker) -> AsyncIterator[list[Record] | HeldBack]:
    """The batches a worker sends, until it closes its end, and last what the per-address limit
    cost it. A batch cut short (a worker that died while sending) is dropped: the report only
    ever gets whole rows."""
    stream = await anyio.abc.UNIXSocketStream.from_socket(worker.channel.dup())
    buffer = bytearray()
    async with stream:
        while True:
            try:
                chunk = await stream.receive(1 << 16)
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return
            buffer += chunk
            while len(buffer) >= _FRAME.size:
                (size,) = _FRAME.unpack_from(buffer)
                end = _FRAME.size + size
                if len(buffer) < end:
                    break
                batch: list[Record] | HeldBack = pickle.loads(buffer[_FRAME.size : end])  # noqa: S301 - our own child
                del buffer[:end]
                yield batch
