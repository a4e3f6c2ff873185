"""The promises that hold under faults, as a hostile user and a hostile machine test them: signals
at any moment, a worker that dies, a system that refuses a process or a thread, a file size
limit, a report that cannot be written, lists that are garbage. Every case: the documented exit
code, one line on standard error, never a traceback, a report of complete rows only.

Real ``snisweep`` processes scanning endpoints on 127.0.0.1 that fail at once (a refused port)
or never answer (a listening socket that accepts nothing). The slow cases (signals at random
moments over many trials, 100,000-entry lists, real process limits, a filling tmpfs) are in
``scripts/fault-campaign``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snisweep.cli import main
from snisweep.core.record import COLUMNS
from snisweep.run.workers import available_cores

LINUX_PROC = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")

# --- endpoints that fail at once, or never answer -------------------------------------------------


@pytest.fixture(scope="module")
def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there any more: every connect is refused


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A port that takes connections (the kernel's backlog) and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1024)
        yield s.getsockname()[1]


def write_list(
    path: Path, *, refused: int = 0, silent: int = 0, ports: tuple[int, int], timeout: float = 5
) -> Path:
    refused_at, silent_at = ports
    lines = [f"defaults: {{timeout: {timeout}, retries: 0}}", "endpoints:"]
    lines += [
        f"  - {{host: r{i}.test, address: 127.0.0.1, port: {refused_at}}}" for i in range(refused)
    ]
    lines += [
        f"  - {{host: s{i}.test, address: 127.0.0.1, port: {silent_at}}}" for i in range(silent)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- running snisweep -----------------------------------------------------------------------------

# The console script's own start (``from snisweep.cli import main``), after ``prelude``: the faults
# that cannot be made for real in a test (a process limit does not bind root) are made there.
# The package's root is imported first: no handler can cover the interpreter's own start.
_ENTRY = """import sys
import snisweep
{prelude}
from snisweep.cli import main
sys.exit(main(sys.argv[1:]))
"""


@contextmanager
def started(*args: str, prelude: str = "") -> Iterator[subprocess.Popen[str]]:
    """``snisweep ARGS`` in the background; killed at the end if it is still running."""
    command = [sys.executable, "-c", _ENTRY.format(prelude=prelude), *args]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()


def run(*args: str, prelude: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    with started(*args, prelude=prelude) as process:
        stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def one_line(stderr: str) -> str:
    """The one message a fault may cause: one line, no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def complete_rows(path: Path) -> list[list[str]] | list[dict[str, object]]:
    """The rows of a report, asserting that every one is whole: each CSV record has the header's
    cells and each JSONL line is a JSON object, and the last line is not torn."""
    data = path.read_bytes()
    if not data:
        return []
    if path.suffix == ".jsonl":
        assert data.endswith(b"\n"), data[-200:]
        objects = [json.loads(line) for line in data.decode().splitlines()]
        assert all(isinstance(obj, dict) and list(obj) == list(COLUMNS) for obj in objects)
        return objects
    assert data.endswith(b"\r\n"), data[-200:]
    rows = list(csv.reader(io.StringIO(data.decode(), newline=""), strict=True))
    assert rows[0] == list(COLUMNS)
    assert all(len(row) == len(COLUMNS) for row in rows[1:])
    return rows[1:]


def wait_until(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(child) for child in f.read().split()]
    except FileNotFoundError:
        return []


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; its new parent reaps it


def rows_in(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\r\n") - 1
    except FileNotFoundError:
        return -1


# --- signals: to the parent, to one worker, at the first instruction ------------------------------

#: Two workers kept busy by never-answering endpoints; ``--per-host`` lets them all dial at once.
BUSY = ("--concurrency", "40", "--per-host", "64", "--quiet")


@LINUX_PROC
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_worker_stopped_by_a_signal_of_its_own_is_a_dead_worker(
    tmp_path: Path, refused_port: int, silent_port: int, signum: int
) -> None:
    config = write_list(
        tmp_path / "l.yaml", refused=20, silent=40, ports=(refused_port, silent_port), timeout=1
    )
    report = tmp_path / "r.csv"
    with started("scan", str(config), "-o", str(report), "--workers", "2", *BUSY) as process:
        wait_until(lambda: len(children(process.pid)) == 2 and rows_in(report) >= 20)
        victim = children(process.pid)[0]
        os.kill(victim, signum)  # to that worker alone, as a careless `kill` or the OOM killer
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 3, stderr
    message = one_line(stderr)
    assert f"pid {victim}, ended by {signal.Signals(signum).name}" in message
    assert "stopped before the end of its share" in message
    rows = complete_rows(report)
    assert 20 <= len(rows) < 60  # the other worker's share is there, the stopped one's is not


@LINUX_PROC
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("workers", ["1", "2", "default"])
def test_a_stop_to_the_parent_keeps_complete_rows_and_leaves_no_process(
    tmp_path: Path, refused_port: int, silent_port: int, workers: str, signum: int
) -> None:
    # 400 endpoints make the default two workers on two cores (one per 200 endpoints).
    config = write_list(
        tmp_path / "l.yaml", refused=400, silent=20, ports=(refused_port, silent_port)
    )
    expected = {"1": 1, "2": 2, "default": min(available_cores(), 420 // 200)}[workers]
    report = tmp_path / "r.csv"
    options = () if workers == "default" else ("--workers", workers)
    forked: list[int] = []
    with started("scan", str(config), "-o", str(report), *options, *BUSY) as process:
        if expected > 1:
            wait_until(lambda: len(children(process.pid)) == expected)
            forked = children(process.pid)
        wait_until(lambda: rows_in(report) == 400)  # the refused ones; the silent take 5 s
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert one_line(stderr).startswith("snisweep: interrupted")
    assert len(complete_rows(report)) == 400
    wait_until(lambda: not any(running(pid) for pid in forked), seconds=5)


# Signals from the first instruction of ``main``: while the modules load (``snisweep.cli`` imports
# the commands only then), the arguments are parsed, a long list is validated, the scan starts.
# Whenever it comes, the stop is exit 130 and one line.
READY = "sys.stdout.write('ready\\n')\nsys.stdout.flush()"


@pytest.fixture(scope="module")
def long_list(tmp_path_factory: pytest.TempPathFactory, refused_port: int) -> Path:
    path = tmp_path_factory.mktemp("long") / "long.yaml"
    entries = (
        f"  - host: h{i}.test\n    port: {refused_port}\n    address: 127.0.0.1\n    label: L{i}\n"
        for i in range(20_000)
    )
    path.write_text("defaults: {timeout: 5, retries: 0}\nendpoints:\n" + "".join(entries))
    return path


@pytest.mark.parametrize("delay", [0.02, 0.1, 0.3, 0.6])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_at_any_moment_is_exit_130_and_one_line(
    tmp_path: Path, long_list: Path, signum: int, delay: float
) -> None:
    report = tmp_path / "r.csv"
    with started("scan", str(long_list), "-o", str(report), "--quiet", prelude=READY) as process:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        time.sleep(delay)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert one_line(stderr).startswith("snisweep: interrupted")
    if report.exists():
        complete_rows(report)


# --- the system refuses a process, a thread -------------------------------------------------------

# What a process limit (``prlimit --nproc``; root is exempt from it) does to os.fork and to
# threading: EAGAIN, and "can't start new thread".
REFUSE_SECOND_FORK = """
import errno, os
_fork, _forks = os.fork, []
def _refusing_fork():
    _forks.append(1)
    if len(_forks) > 1:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
    return _fork()
os.fork = _refusing_fork
"""
REFUSE_THREADS = """
import threading
def _refuse(*args, **kwargs):
    raise RuntimeError("can't start new thread")
for _name in ("_start_new_thread", "_start_joinable_thread"):
    if hasattr(threading, _name):
        setattr(threading, _name, _refuse)
"""


@LINUX_PROC
def test_a_refused_fork_is_exit_3_and_ends_the_workers_started(
    tmp_path: Path, refused_port: int, silent_port: int
) -> None:
    config = write_list(
        tmp_path / "l.yaml", refused=10, silent=10, ports=(refused_port, silent_port)
    )
    report = tmp_path / "r.csv"
    options = ("-o", str(report), "--workers", "2")
    with started("scan", str(config), *options, prelude=REFUSE_SECOND_FORK) as process:
        wait_until(lambda: process.poll() is not None or bool(children(process.pid)))
        forked = children(process.pid)  # the first worker, if it is caught in time
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 3, stderr
    message = one_line(stderr)
    assert "cannot start worker 2 of 2: resource temporarily unavailable" in message
    assert not report.exists()  # refused before the report was opened
    assert not any(running(pid) for pid in forked)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_refused_thread_is_exit_3(
    tmp_path: Path, refused_port: int, silent_port: int, workers: str
) -> None:
    config = write_list(tmp_path / "l.yaml", refused=10, ports=(refused_port, silent_port))
    report = tmp_path / "r.csv"
    result = run(
        "scan", str(config), "-o", str(report), "--workers", workers, prelude=REFUSE_THREADS
    )
    assert result.returncode == 3, result.stderr
    assert "cannot start a thread" in one_line(result.stderr)
    assert not report.exists()


# --- the report: a file size limit, a full device, no permission, a closed pipe -------------------


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_file_size_limit_keeps_every_row_that_fits(
    tmp_path: Path, refused_port: int, silent_port: int, suffix: str
) -> None:
    # 60 endpoints that fail at once arrive in one batch, of which only some rows fit.
    config = write_list(tmp_path / "l.yaml", refused=60, ports=(refused_port, silent_port))
    report = tmp_path / f"r{suffix}"
    limit = 6000
    prelude = f"import resource\nresource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))"
    result = run("scan", str(config), "-o", str(report), "--quiet", prelude=prelude)
    assert result.returncode == 3, result.stderr
    assert "file too large" in one_line(result.stderr)
    rows = complete_rows(report)
    assert rows
    longest = max(len(line) for line in report.read_bytes().splitlines(keepends=True))
    assert limit - report.stat().st_size < longest  # not even one more row would have fitted


def report_faults(tmp_path: Path) -> Iterator[tuple[str, str]]:
    if Path("/dev/full").exists():
        yield "/dev/full", "no space left on device"
    yield str(tmp_path), "is a directory"
    yield str(tmp_path / "missing" / "r.csv"), "no such file or directory"
    if os.geteuid() != 0:  # root writes anywhere; sysfs refuses even root a new file
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        yield str(locked / "r.csv"), "permission denied"
    elif Path("/sys/kernel").is_dir():
        yield "/sys/snisweep-test.csv", "permission denied"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_report_that_cannot_be_written_is_exit_3(
    tmp_path: Path, refused_port: int, silent_port: int, fmt: str
) -> None:
    config = write_list(tmp_path / "l.yaml", refused=5, ports=(refused_port, silent_port))
    for output, why in report_faults(tmp_path):
        result = run("scan", str(config), "-o", output, "--format", fmt)
        assert result.returncode == 3, (output, result.stderr)
        assert one_line(result.stderr) == f"snisweep: cannot write {output}: {why}"


def test_a_closed_pipe_is_exit_3(tmp_path: Path, refused_port: int, silent_port: int) -> None:
    config = write_list(tmp_path / "l.yaml", refused=50, ports=(refused_port, silent_port))
    with started("scan", str(config), "-o", "-", "--quiet") as process:
        assert process.stdout is not None
        process.stdout.close()  # the reader goes away, like `| head -1` once it has its line
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 3, stderr
    message = "snisweep: cannot write standard output: broken pipe (the reader went away)"
    assert one_line(stderr) == message


# --- garbage lists --------------------------------------------------------------------------------

SEEDS = {
    "l.yaml": (
        "defaults: {port: 443, timeout: 2, retries: 1, tags: [nightly]}\n"
        "endpoints:\n"
        "  - a.example.test\n"
        "  - b.example.test:8443\n"
        "  - https://c.example.test:9443/ws\n"
        '  - "[2001:db8::10]:443"\n'
        "  - host: d.example.test\n"
        "    port: 8443\n"
        "    address: 203.0.113.10\n"
        "    sni: d-internal.example.test\n"
        "    label: Billing SOAP\n"
        "    tags: [billing, soap]\n"
    ),
    "l.txt": "# a comment\na.example.test\nb.example.test:8443\n203.0.113.7:443\n",
    "l.csv": "host,port,address,label\na.example.test,443,,A\nb.example.test,8443,203.0.113.1,B\n",
}

mutation = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 400), st.binary(min_size=1, max_size=12)),
    st.tuples(st.just("delete"), st.integers(0, 400), st.integers(1, 40)),
    st.tuples(st.just("truncate"), st.integers(0, 400), st.just(0)),
    st.tuples(
        st.just("word"),
        st.integers(0, 400),
        st.sampled_from(
            [
                b"\x00",
                b"\r",
                b"\xef\xbb\xbf",
                b"\xff",
                b": ",
                b"- ",
                b"[",
                b"{",
                b"'",
                b'"',
                b"&a",
                b"*a",
                b"!!python/object",
                b"0o17",
                b"015001",
                b"1:30",
                b"99999",
                b"-1",
                b"\t",
                b"\n  - ",
                b",",
                b"host:",
                b"%YAML 1.1\n",
                b"---\n",
                b"...\n",
                b"~",
            ]
        ),
    ),
)


def mutate(text: bytes, edits: list[tuple[str, int, object]]) -> bytes:
    data = bytearray(text)
    for kind, place, what in edits:
        at = min(place, len(data))
        if kind in {"insert", "word"}:
            assert isinstance(what, bytes)
            data[at:at] = what
        elif kind == "delete":
            assert isinstance(what, int)
            del data[at : at + what]
        else:
            del data[at:]
    return bytes(data)


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=st.sampled_from(sorted(SEEDS)), edits=st.lists(mutation, min_size=1, max_size=4))
def test_a_garbage_list_is_never_a_traceback_and_never_a_report(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    edits: list[tuple[str, int, object]],
) -> None:
    config = tmp_path / name
    config.write_bytes(mutate(SEEDS[name].encode(), edits))
    report = tmp_path / "report.csv"
    report.unlink(missing_ok=True)
    code = main(["validate", str(config)])  # an exception escaping main fails the test
    _, stderr = capsys.readouterr()
    assert code in (0, 2), stderr
    if code == 2:
        assert stderr.splitlines()[-1].startswith("snisweep: ")
        # Only a list that fails validation is scanned here: a valid one would dial its hosts.
        assert main(["scan", str(config), "-o", str(report)]) == 2
        assert not report.exists()
        capsys.readouterr()
