"""Worker processes: forking them, how each one's end is told, a system that refuses a process.
Forks this process for real (the children only run the small functions given here)."""

from __future__ import annotations

import errno
import os
import signal
import socket
import time

import pytest

from snisweep.errors import SnisweepError
from snisweep.run import workers

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")


def test_each_worker_exits_with_the_code_its_work_returns() -> None:
    def work(index: int, channel: socket.socket) -> int:
        return 5 + index

    started = workers.start(3, work)
    assert [worker.index for worker in started] == [0, 1, 2]
    assert workers.reap(started) == {0: 5, 1: 6, 2: 7}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_worker_stopped_before_its_scan_watches_signals_exits_128_plus_the_signal(
    signum: int,
) -> None:
    # The parent tells a stopped worker from a crashed one by this code; before its event loop
    # runs, a worker has the parent's handlers (here pytest's) until it sets its own.
    def work(index: int, channel: socket.socket) -> int:
        os.kill(os.getpid(), signum)
        time.sleep(5)
        return 0

    started = workers.start(1, work)
    assert workers.reap(started) == {0: 128 + signum}


def test_a_worker_killed_by_a_signal_gets_128_plus_its_number() -> None:
    def work(index: int, channel: socket.socket) -> int:
        time.sleep(30)
        return 0

    started = workers.start(1, work)
    workers.stop(started, signal.SIGKILL)
    assert workers.reap(started) == {0: 128 + signal.SIGKILL}


def test_a_refused_fork_is_a_runtime_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> int:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse)
    with pytest.raises(SnisweepError) as caught:
        workers.start(2, lambda index, channel: 0)
    assert str(caught.value) == (
        "cannot start worker 1 of 2: resource temporarily unavailable (a limit on processes: "
        "ulimit -u, or a container's pids limit?); scan with fewer --workers"
    )  # and no socket is left open: -W error turns an unclosed one into a failure


def test_a_worker_refused_after_others_started_ends_them(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fork = os.fork
    forks: list[int] = []

    def fork_once() -> int:
        if forks:
            raise OSError(errno.ENOMEM, "Cannot allocate memory")
        forks.append(1)
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    def work(index: int, channel: socket.socket) -> int:
        time.sleep(30)
        return 0

    monkeypatch.setattr(os, "fork", fork_once)
    with pytest.raises(SnisweepError, match=r"^cannot start worker 2 of 2: cannot allocate memory"):
        workers.start(2, work)
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[1], os.WNOHANG)  # killed and waited for already: no zombie left
