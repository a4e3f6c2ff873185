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
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
        self._pool: ThreadPoolExecutor | None = None

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
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="snisweep-dns")
        return self._pool


def _set_result(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _strerror(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
