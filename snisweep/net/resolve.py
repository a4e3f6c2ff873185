"""Name resolution: from a host name to the addresses a client would try, in the order it would
try them. Does network I/O (the system resolver, in a thread pool of its own).

A failed lookup is never an exception: it is a ``Failure`` of kind DNS, which becomes the row's
``dns-failure``. The scheduler takes a ``Resolver`` so that tests can script it
(``snisweep.testing``), and asks it once per name per scan (``snisweep.run.scheduler`` keeps
the answers).

Why a pool of its own: the event loop's default executor has a handful of threads (anyio's
and asyncio's defaults are sized for file I/O, uvloop hands lookups to libuv's four), so with
slow lookups (200 ms is common for uncached names behind a corporate resolver) the scan queues
behind them, and a lookup that timed out keeps its thread. Here the pool is as large as the
scan's concurrency needs (``threads``), the DNS timeout starts when a thread takes the lookup,
never while it waits for one, and a lookup past its timeout is reported at once while its
thread finishes in the background. The system resolver (``getaddrinfo``) stays the one asked,
so ``/etc/hosts``, search domains and nsswitch behave as for every other program on the
machine. The pool is asyncio's (``loop.run_in_executor``): the real prober runs on asyncio too.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol

import anyio

from snisweep.model import Failure, FailureKind

__all__ = ["Resolver", "SystemResolver"]

Addresses = tuple[str, ...]

#: What the system resolver is called with and answers: ``socket.getaddrinfo``'s shape.
GetAddrInfo = Callable[..., Sequence[tuple[Any, Any, Any, str, tuple[Any, ...]]]]


class Resolver(Protocol):
    """Turns a host name into its addresses, in the order clients try them (never empty), or
    a DNS failure."""

    async def __call__(self, host: str) -> Addresses | Failure: ...


class SystemResolver:
    """The system resolver (``getaddrinfo``) in a bounded pool of threads of its own.

    ``timeout`` is the DNS timeout of one lookup, counted from when a thread takes it.
    ``threads`` bounds the lookups in flight, abandoned ones included: a scan of ``C``
    endpoints at once needs at most ``C`` (the scheduler asks once per name).
    """

    def __init__(
        self,
        timeout: float = 5.0,
        threads: int = 64,
        getaddrinfo: GetAddrInfo = socket.getaddrinfo,
    ) -> None:
        self.timeout = timeout
        self._threads = max(1, threads)
        self._getaddrinfo = getaddrinfo
        self._pool: _DaemonPool | None = None

    async def __call__(self, host: str) -> Addresses | Failure:
        loop = asyncio.get_running_loop()
        taken: asyncio.Future[None] = loop.create_future()

        def look_up() -> Sequence[tuple[Any, Any, Any, str, tuple[Any, ...]]]:
            loop.call_soon_threadsafe(_set_result, taken)
            return self._getaddrinfo(host, None, type=socket.SOCK_STREAM)

        try:
            job = self._executor().submit(look_up)
        except RuntimeError as exc:  # no thread can be started (a process limit)
            return Failure(FailureKind.DNS, f"no thread for the lookup of {host} ({exc})")
        answer = asyncio.wrap_future(job)
        try:
            await asyncio.shield(taken)  # waiting for a thread costs none of the timeout
            with anyio.fail_after(self.timeout):
                infos = await asyncio.shield(answer)
        except TimeoutError:
            return Failure(FailureKind.DNS, f"no answer for {host} within {self.timeout:g} s")
        except (OSError, UnicodeError) as exc:
            return Failure(FailureKind.DNS, f"{host} does not resolve ({_strerror(exc)})")
        finally:
            job.cancel()  # still queued (the scan was cancelled): never runs
        addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            return Failure(FailureKind.DNS, f"{host} has no address")
        return addresses

    def close(self) -> None:
        """Let the threads go once their lookups are done; queued lookups never run."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _executor(self) -> _DaemonPool:
        if self._pool is None:
            self._pool = _DaemonPool(self._threads)
        return self._pool


_Job = tuple["Future[Any]", Callable[[], Any]]


class _DaemonPool:
    """At most ``most`` daemon threads that run the jobs submitted, started as needed.

    Not ``concurrent.futures.ThreadPoolExecutor``: Python joins its threads at exit, so one
    lookup that the system resolver never answers (a dead DNS server: glibc gives up after
    ``timeout`` x ``attempts`` per server) kept a finished scan from exiting; measured, 8.2 s
    instead of 0.25 s for a lookup that hangs 8 s. A daemon thread stuck in ``getaddrinfo``
    does not hold the process back.
    """

    def __init__(self, most: int) -> None:
        self._most = most
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = 0
        self._idle = 0
        self._closed = False

    def submit(self, call: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the lookup pool is closed")
            self._jobs.put((future, call))
            if self._idle == 0 and self._started < self._most:
                # May raise RuntimeError (no thread can be started); the job then waits for a
                # thread already running, if any.
                threading.Thread(target=self._work, name="snisweep-dns", daemon=True).start()
                self._started += 1
            elif self._idle:
                self._idle -= 1  # a thread waiting for a job gets this one
        return future

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for _ in range(self._started):
                self._jobs.put(None)  # each thread ends when it takes one

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, call = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as exc:  # handed to whoever waits for the lookup
                    future.set_exception(exc)
            with self._lock:
                self._idle += 1


def _set_result(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _strerror(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
