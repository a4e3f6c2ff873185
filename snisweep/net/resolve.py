"""Name resolution: from an endpoint's host name to the one address both probes dial (the
endpoint's ``Target``). Does network I/O (the system resolver, through anyio's thread pool).

A failed lookup is never an exception: it is a ``Failure`` of kind DNS, which becomes the row's
``dns-failure``. The scheduler takes a ``Resolver`` so that tests can script it
(``snisweep.testing``).
"""

from __future__ import annotations

import socket
from typing import Protocol

import anyio

from snisweep.model import Failure, FailureKind

__all__ = ["Resolver", "resolve"]


class Resolver(Protocol):
    """Turns a host name into the one address both probes will dial, or a DNS failure."""

    async def __call__(self, host: str, port: int, timeout: float) -> str | Failure: ...


async def resolve(host: str, port: int, timeout: float) -> str | Failure:
    """The system resolver (``getaddrinfo``); the first address it prefers is pinned."""
    try:
        with anyio.fail_after(timeout):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        return Failure(FailureKind.DNS, f"no answer for {host} within {timeout:g} s")
    except (OSError, UnicodeError) as exc:
        return Failure(FailureKind.DNS, f"{host} does not resolve ({_strerror(exc)})")
    for _family, _type, _proto, _canonname, sockaddr in infos:
        return str(sockaddr[0])
    return Failure(FailureKind.DNS, f"{host} has no address")


def _strerror(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
