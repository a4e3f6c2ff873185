"""The scan session's rules: which worker exits are a dead worker, what a loop that fails tells
the user, and the signals, watched before the report opens and handed back afterwards. In one
process, no sockets (``test_faults.py`` runs the same promises end to end)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream

from snisweep.core.record import Record
from snisweep.errors import OutputError, SnisweepError
from snisweep.run.session import Outcome, how_it_ended, rows_to_sink, run_loop, unfinished

TERM, INT, KILL = 128 + signal.SIGTERM, 128 + signal.SIGINT, 128 + signal.SIGKILL


@pytest.mark.parametrize(
    ("codes", "interrupted", "dead"),
    [
        ({0: 0, 1: 0}, False, []),
        # Stopped by a signal that nobody passed on: SIGTERM or SIGINT to one worker.
        ({0: TERM, 1: 0}, False, [(0, TERM)]),
        ({0: 0, 1: INT}, False, [(1, INT)]),
        # This process was stopped and passed it on: the workers stopped as asked.
        ({0: TERM, 1: INT, 2: 0}, True, []),
        # Whatever this process does, a worker killed or crashed is a dead worker.
        ({0: KILL, 1: TERM}, True, [(0, KILL)]),
        ({0: 3, 1: 70}, False, [(0, 3), (1, 70)]),
        ({1: 1, 0: 0}, True, [(1, 1)]),
    ],
)
def test_which_workers_did_not_finish_their_share(
    codes: dict[int, int], interrupted: bool, dead: list[tuple[int, int]]
) -> None:
    assert unfinished(codes, interrupted=interrupted) == dead


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (TERM, "ended by SIGTERM, exit code 143"),
        (KILL, "ended by SIGKILL, exit code 137"),
        (INT, "ended by SIGINT, exit code 130"),
        (3, "exit code 3"),
        (70, "exit code 70"),
        (255, "exit code 255"),
    ],
)
def test_how_a_worker_ended_in_words(code: int, words: str) -> None:
    assert how_it_ended(code) == words


# --- what a failing loop tells the user --------------------------------------------------------


async def refused_thread() -> None:
    raise RuntimeError("can't start new thread")


async def failing_task() -> None:
    async def fail() -> None:
        raise OutputError("cannot write r.csv: no space left on device")

    async with anyio.create_task_group() as group:
        group.start_soon(fail)


def test_a_thread_the_system_refuses_is_a_runtime_failure() -> None:
    with pytest.raises(SnisweepError, match=r"^cannot start a thread: the system refused one"):
        run_loop(refused_thread)


def test_our_error_comes_out_of_the_task_groups() -> None:
    with pytest.raises(OutputError, match=r"^cannot write r\.csv: no space left on device$"):
        run_loop(failing_task)


def test_a_bug_stays_a_bug() -> None:
    async def bug() -> None:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        run_loop(bug)


def test_a_scan_that_finished_is_not_failed_by_the_loops_clean_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Under a process limit, the loop's clean-up cannot start the thread that waits for its
    # executor; the report was closed before that.
    real_run = anyio.run

    def run_then_fail_to_clean_up(*args: Any, **kwargs: Any) -> Any:
        real_run(*args, **kwargs)
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(anyio, "run", run_then_fail_to_clean_up)

    async def scan() -> str:
        return "finished"

    assert run_loop(scan) == "finished"


# --- signals -----------------------------------------------------------------------------------


@pytest.fixture
def received() -> Iterator[list[int]]:
    """SIGTERM and SIGINT recorded, not acted on, for the test's length (the safety net of a
    test that sends them to its own process)."""
    caught: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {signum: signal.signal(signum, record) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield caught
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_the_callers_handlers_are_back_after_the_scan(received: list[int]) -> None:
    handler = signal.getsignal(signal.SIGTERM)

    async def watch() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM):
            await anyio.lowlevel.checkpoint()

    run_loop(watch)
    assert signal.getsignal(signal.SIGTERM) is handler  # not the loop's SIG_DFL
    assert signal.getsignal(signal.SIGINT) is handler
    os.kill(os.getpid(), signal.SIGTERM)  # still ours: recorded, not the end of the process
    assert received == [signal.SIGTERM]


class SignalledSink:
    """A report whose opening is interrupted by SIGTERM."""

    def __init__(self) -> None:
        self.written: list[Record] = []

    async def open(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        await anyio.sleep(0.05)

    async def write(self, records: Sequence[Record]) -> None:
        self.written.extend(records)

    async def close(self) -> None:
        pass


def test_a_signal_while_the_report_opens_stops_the_scan(received: list[int]) -> None:
    stops: list[str] = []

    def produce(group: TaskGroup, send: MemoryObjectSendStream[Record]) -> None:
        send.close()

    async def scan() -> Outcome:
        return await rows_to_sink(
            produce, lambda: stops.append("stop"), SignalledSink(), None, buffer=1
        )

    outcome = anyio.run(scan)
    assert received == []  # the scan's watcher had it, not the process's handler
    assert outcome.interrupted
    assert outcome.signum == signal.SIGTERM
    assert stops == ["stop"]
