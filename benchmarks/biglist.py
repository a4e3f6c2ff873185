"""Big lists: time to the first probe and peak memory for a 100,000-endpoint YAML file.
Does I/O: writes the list, listens on a port, runs snisweep.

Every endpoint is a distinct name pinned to 127.0.0.1 (no DNS) on a port where connections
fail at once, so that the list, not the network, is measured. To see the first probe arrive,
that port starts with a listener: it notes when the first connection arrives, resets it
(SO_LINGER 0) and closes, so every later connection is refused by the kernel, which costs the
machine least. Time to first probe is from just before the process is spawned to that first
connection: interpreter start-up, reading and validating the list, and starting the scan.

Peak RSS is ``ru_maxrss`` from ``wait4``: the largest single process of the scan. The summed
RSS and PSS of the process tree, sampled every 50 ms, are printed too; when the scan ran more
than one process at once (workers), the target is judged on the PSS sum, the memory the scan
needs (forked workers share pages, which an RSS sum counts once per process).

The mapping form, five lines per entry, is the heavy case for the list reader; the time to the
first probe is also measured for the same count of one-line ``ADDRESS:PORT`` strings.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import sweep
from servers import LOOPBACK
from summary import INFO, MISS, PASS, Figure, judge

FIRST_PROBE_TARGET = 1.5  # seconds
RSS_TARGET_MB = 80.0
TARGET_ENDPOINTS = 100_000
SECTION = "Big lists"


class FirstProbe:
    """A listener that records when the first connection arrives, resets it and closes."""

    def __init__(self) -> None:
        self.at: float | None = None  # time.monotonic() of the first accept
        self._stopped = threading.Event()
        self._listener = _listen_outside_ephemeral_range()
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._wait, name="first-probe", daemon=True)
        self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join()
        self._listener.close()

    def _wait(self) -> None:
        # A short timeout, because closing a socket does not wake a thread blocked in accept.
        self._listener.settimeout(0.05)
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.at = time.monotonic()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            self._listener.close()
            return


def _listen_outside_ephemeral_range() -> socket.socket:
    # Below the ephemeral range: a scan's own outgoing connections could otherwise get this
    # port as their source port and connect to themselves (TCP simultaneous open).
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(100):
        listener = socket.socket()
        try:
            listener.bind((LOOPBACK, random.randrange(10_000, max(low, 10_001))))
        except OSError:
            listener.close()
            continue
        listener.listen(64)
        return listener
    raise RuntimeError("no free port below the ephemeral range")


def write_big_list(path: Path, count: int, port: int) -> Path:
    """``count`` endpoints in the mapping form a person would write: host, address, port,
    label and tags on lines of their own."""
    with path.open("w") as f:
        f.write("defaults:\n  timeout: 1\n  retries: 0\n  tags: [biglist]\nendpoints:\n")
        for i in range(count):
            f.write(
                f"  - host: h{i:06d}.biglist.test\n    address: {LOOPBACK}\n    port: {port}\n"
                f"    label: entry {i}\n    tags: [group-{i % 16}]\n"
            )
    return path


def write_string_list(path: Path, count: int, port: int) -> Path:
    """``count`` endpoints as an export would list them, one ``ADDRESS:PORT`` string each:
    distinct loopback addresses (all of 127/8 is loopback on Linux), 127.0.0.1 first so that
    the first probe reaches the listener; the others are refused by the kernel."""
    with path.open("w") as f:
        f.write("defaults:\n  timeout: 1\n  retries: 0\nendpoints:\n")
        for i in range(count):
            a, b, c = i // (254 * 256), (i // 254) % 256, i % 254 + 1
            f.write(f"  - 127.{a}.{b}.{c}:{port}\n")
    return path


def first_probe_only(workdir: Path, *, endpoints: int) -> float | None:
    """Seconds from spawning a scan of the string-form list to its first probe; the scan is
    stopped right after (its memory and total time are those of the section above)."""
    with FirstProbe() as probe:
        path = write_string_list(workdir / "strings.yaml", endpoints, probe.port)
        spawned = time.monotonic()
        process = subprocess.Popen(
            [*sweep.COMMAND, "scan", str(path), "-o", os.devnull, "--quiet"],
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # it is stopped on purpose: no "interrupted" line
        )
        try:
            while probe.at is None and process.poll() is None:
                time.sleep(0.01)
        finally:
            process.terminate()
            process.wait()
        return probe.at - spawned if probe.at is not None else None


def measure_biglist(workdir: Path, caps: sweep.Capabilities, *, endpoints: int) -> list[Figure]:
    judged = endpoints >= TARGET_ENDPOINTS
    print(
        f"  {endpoints} endpoints (mapping form, distinct names pinned to {LOOPBACK}, a port that"
        " refuses); snisweep scan FILE -o OUT.csv --timeout 1 --retries 0"
    )
    if not judged:
        print(f"  (targets are for {TARGET_ENDPOINTS} endpoints: not judged on this size)")
    figures = []
    for workers in (1, None) if caps.workers else (1,):
        path, report = workdir / "big.yaml", workdir / "big.csv"
        with FirstProbe() as probe:
            write_big_list(path, endpoints, probe.port)
            result = sweep.scan(
                path,
                report,
                *caps.workers_option(workers),
                *("--timeout", "1", "--retries", "0"),
                sample_tree=True,
            )
        run = result.run
        first = probe.at - run.spawned if probe.at is not None else None
        rows, verdicts = sweep.count_rows(report)
        single_mb = run.max_rss_kib * 1024 / 1e6
        tree_mb = (run.tree_rss_peak_kib or 0) * 1024 / 1e6
        pss_mb = (run.tree_pss_peak_kib or 0) * 1024 / 1e6
        processes = run.tree_processes or 1
        # One process: wait4's exact peak. Several: the sampled sum of proportional set sizes,
        # the memory the scan needs (forked workers share their pages; an RSS sum counts a
        # shared page once per process).
        peak_mb = pss_mb if processes > 1 else single_mb
        size_mb = path.stat().st_size / 1e6
        how = caps.describe(workers)
        first_text = f"{first:.2f} s" if first is not None else "no probe arrived"
        print(
            f"  {how}: first probe {first_text} after spawn; peak RSS {single_mb:.1f} MB (largest"
            f" process), {tree_mb:.1f} MB RSS and {pss_mb:.1f} MB PSS summed over the process"
            f" tree (sampled; {processes} process(es) at most); list {size_mb:.1f} MB"
        )
        own = f"{result.elapsed} s" if result.elapsed is not None else "?"
        print(
            f"    whole scan {run.wall:.1f} s (its own time {own}), {run.cpu:.1f} s CPU"
            f" ({run.cpu / endpoints * 1e3:.2f} ms per endpoint); {rows} rows + header"
            f" ({'as expected' if rows == endpoints else f'EXPECTED {endpoints}'}):"
            f" {dict(verdicts)}"
        )
        first_verdict = (
            INFO if not judged else MISS if first is None else judge(first, FIRST_PROBE_TARGET)
        )
        figures += [
            Figure(
                SECTION,
                f"{endpoints} endpoints, {how}: time to first probe",
                first_text,
                target=f"<= {FIRST_PROBE_TARGET} s",
                verdict=first_verdict,
            ),
            Figure(
                SECTION,
                f"{endpoints} endpoints, {how}: peak RSS"
                + (f" (PSS summed over {processes} processes)" if processes > 1 else ""),
                f"{peak_mb:.1f} MB",
                target=f"<= {RSS_TARGET_MB:g} MB",
                verdict=judge(peak_mb, RSS_TARGET_MB) if judged else INFO,
            ),
            Figure(
                SECTION,
                f"{endpoints} endpoints, {how}: whole scan",
                f"{run.wall:.1f} s, {rows} rows",
                target=f"{endpoints} rows",
                verdict=PASS if rows == endpoints else MISS,
            ),
        ]
    first = first_probe_only(workdir, endpoints=endpoints)
    first_text = f"{first:.2f} s" if first is not None else "no probe arrived"
    print(
        f"  the same count as ADDRESS:PORT strings (one line each), default workers: first probe"
        f" {first_text} after spawn"
    )
    figures.append(
        Figure(
            SECTION,
            f"{endpoints} endpoints as ADDRESS:PORT strings: time to first probe",
            first_text,
            target=f"<= {FIRST_PROBE_TARGET} s",
            verdict=(
                INFO if not judged else MISS if first is None else judge(first, FIRST_PROBE_TARGET)
            ),
        )
    )
    return figures
