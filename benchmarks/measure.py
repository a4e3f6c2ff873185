"""Run a command as a measured child process. Does process I/O.

``run`` waits for the child with ``os.wait4``, which gives that child's own resource usage
(user and system CPU, peak RSS) and that of the descendants it waited for, without mixing in
the benchmark's other children. ``ru_maxrss`` is the peak of the largest *single* process of the
tree; when a command may fork workers, ``sample_tree=True`` also samples the summed RSS of the
whole tree from ``/proc`` (every 50 ms, so a peak shorter than that can be missed).

Whatever happens (an error, Ctrl-C), the child is stopped and reaped before ``run`` returns or
raises: a benchmark leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_SAMPLE_INTERVAL = 0.05
_STOP_GRACE = 5.0
_PAGE_KIB = os.sysconf("SC_PAGESIZE") // 1024


@dataclass(frozen=True, slots=True)
class Run:
    """What one finished child process did."""

    command: tuple[str, ...]
    returncode: int
    spawned: float  # time.monotonic() just before the spawn, for "time from start to ..."
    wall: float  # seconds, spawn to exit
    user: float  # CPU seconds, the child and the descendants it waited for
    system: float
    max_rss_kib: int  # peak RSS of the largest single process of the tree
    tree_rss_peak_kib: int | None  # peak of the sampled sum over the tree, when sampled
    tree_processes: int | None  # the most processes seen in the tree at once, when sampled
    # Peak of the sampled sum of proportional set sizes (PSS): pages shared by forked workers
    # are counted once in all, not once per process as the RSS sum counts them.
    tree_pss_peak_kib: int | None
    stdout: str
    stderr: str

    @property
    def cpu(self) -> float:
        return self.user + self.system


class CommandFailed(Exception):
    def __init__(self, run: Run) -> None:
        super().__init__(
            f"{' '.join(run.command)} exited with {run.returncode}:\n{run.stderr.strip()[-2000:]}"
        )
        self.run = run


def run(
    command: Sequence[str],
    *,
    check: bool = True,
    sample_tree: bool = False,
    stdin: Path | None = None,
) -> Run:
    """Run ``command`` to completion and measure it; stdout and stderr are captured (to
    temporary files, so a chatty child never blocks on a full pipe)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        open(stdin or os.devnull, "rb") as source,
    ):
        spawned = time.monotonic()
        process = subprocess.Popen(list(command), stdin=source, stdout=out, stderr=err)
        sampler = _TreeSampler(process.pid) if sample_tree else None
        try:
            status, usage = _wait(process)
        finally:
            if process.returncode is None:
                stop(process)
            if sampler is not None:
                sampler.stop()
        wall = time.monotonic() - spawned
        out.seek(0)
        err.seek(0)
        result = Run(
            command=tuple(command),
            returncode=os.waitstatus_to_exitcode(status),
            spawned=spawned,
            wall=wall,
            user=usage.ru_utime,
            system=usage.ru_stime,
            max_rss_kib=usage.ru_maxrss,
            tree_rss_peak_kib=sampler.peak_kib if sampler is not None else None,
            tree_processes=sampler.processes if sampler is not None else None,
            tree_pss_peak_kib=sampler.peak_pss_kib if sampler is not None else None,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )
    if result.returncode in (130, -signal.SIGINT):
        # The child saw the Ctrl-C first (it went to the whole process group): so do we.
        raise KeyboardInterrupt
    if check and result.returncode != 0:
        raise CommandFailed(result)
    return result


def _wait(process: subprocess.Popen[bytes]) -> tuple[int, resource.struct_rusage]:
    _pid, status, usage = os.wait4(process.pid, 0)
    # Popen must not wait for a child that is gone; it would report a wrong exit code.
    process.returncode = os.waitstatus_to_exitcode(status)
    return status, usage


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask ``process`` to stop (SIGTERM), kill it after a grace period, and reap it."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class _TreeSampler:
    """Samples the summed RSS of a process and its descendants in a background thread."""

    def __init__(self, root: int) -> None:
        self.peak_kib = 0
        self.peak_pss_kib = 0
        self.processes = 0
        self._root = root
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._done.wait(_SAMPLE_INTERVAL):
            rss, pss, processes = tree_rss_kib(self._root)
            self.peak_kib = max(self.peak_kib, rss)
            self.peak_pss_kib = max(self.peak_pss_kib, pss)
            self.processes = max(self.processes, processes)


def tree_rss_kib(root: int) -> tuple[int, int, int]:
    """Current RSS and PSS of ``root`` and all its descendants, in KiB, and how many processes
    those are (0 once they are gone)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            # The command name may hold spaces and parentheses: split after its last ")".
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    total = proportional = alive = 0
    for pid in tree:
        with contextlib.suppress(OSError, ValueError, IndexError):
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            total += resident * _PAGE_KIB
            alive += resident > 0  # a zombie has no pages left
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    proportional += int(line.split()[1])
                    break
    return total, proportional, alive
