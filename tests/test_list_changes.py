"""A list that changes while it is scanned: ``snisweep scan`` scans exactly what it validated,
or exits 3 with one line that names the list and what changed (snisweep.lists.load, through
the command line). Sockets: a loopback port that accepts and never answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ENTRIES = 400  # about 1 kB each: the reader holds a few dozen of them at a time, no more


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 whose connections are accepted by the kernel and never answered:
    each probe takes the whole --timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        yield listener.getsockname()[1]


def listing(port: int, first: int, count: int) -> str:
    label = "x" * 1000  # the longest label there is: few entries per block the reader reads
    rows = (f"h{n}.lab.test,127.0.0.1,{port},{label}\n" for n in range(first, first + count))
    return "host,address,port,label\n" + "".join(rows)


def truncate(path: Path, port: int) -> None:
    with path.open("r+b") as stream:  # what `: > list.csv` does
        stream.truncate(0)


def overwrite(path: Path, port: int) -> None:
    with path.open("r+b") as stream:  # in place, other endpoints in the same bytes
        stream.write(listing(port, 10_000, ENTRIES).encode())


def append(path: Path, port: int) -> None:
    with path.open("a", encoding="utf-8") as stream:
        stream.write(f"new.lab.test,127.0.0.1,{port},\n")


@pytest.mark.parametrize(
    ("change", "workers"),
    [(truncate, 1), (overwrite, 1), (append, 1), (truncate, 2)],
    ids=["truncate", "overwrite", "append", "truncate-2-workers"],
)
def test_a_list_changed_during_the_scan_exits_3(
    tmp_path: Path, silent_port: int, change: Callable[[Path, int], None], workers: int
) -> None:
    path = tmp_path / "list.csv"
    path.write_text(listing(silent_port, 0, ENTRIES), encoding="utf-8")
    report = tmp_path / "report.csv"
    if change is append:  # one the scan reaches the end of soon: just over one block of 64 kB
        path.write_text(listing(silent_port, 0, 70), encoding="utf-8")

    def rewrite() -> None:
        # The report is opened once the lists are validated: then the list changes.
        deadline = time.monotonic() + 30
        while not report.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        change(path, silent_port)

    thread = threading.Thread(target=rewrite)
    thread.start()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "snisweep", "scan", str(path), "-o", str(report),
             "--timeout", "1", "--retries", "0", "--concurrency", "32", "--per-host", "64",
             "--workers", str(workers), "--quiet"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        thread.join()
    lines = process.stderr.splitlines()
    assert process.returncode == 3, process.stderr
    assert lines[0].startswith(f"snisweep: {path} changed during the scan: "), lines
    if workers == 1:  # (each worker says it, then the parent names the workers that stopped)
        assert len(lines) == 1, process.stderr
    rows = report.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("host,port,")
    assert all(row.startswith("h") and ",127.0.0.1," in row for row in rows[1:])
    assert "new.lab.test" not in report.read_text(encoding="utf-8")  # never scanned
    assert len(rows) - 1 < ENTRIES
