"""The exception tree, and the one wording of the environment's errors. Pure: no I/O.

Exceptions are for misuse and the environment; per-endpoint network trouble is data in the row
(``snisweep.model.Failure``), never an exception. The command line maps each class to an exit
code and is the only place that prints them::

    SnisweepError               exit 3  runtime failure
    ├── UsageError              exit 2  bad command line
    ├── ConfigError             exit 2  bad endpoint list(s); carries every Problem found
    ├── OutputError             exit 3  the report cannot be written
    └── ListChangedError        exit 3  a list became invalid between validation and scan
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in an endpoint list, at a place a user can find."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


class SnisweepError(Exception):
    """Base of every error snisweep raises on purpose."""

    exit_code = 3


class UsageError(SnisweepError):
    """The command line asks for something impossible."""

    exit_code = 2


class ConfigError(SnisweepError):
    """One or more endpoint lists are invalid; ``problems`` lists every one found."""

    exit_code = 2

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class OutputError(SnisweepError):
    """The report cannot be opened or written."""

    exit_code = 3


class ListChangedError(SnisweepError):
    """An endpoint list changed for the worse after it was validated, while it was scanned."""

    exit_code = 3


def first_leaf(exc: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups: what a task really raised."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


# errno values whose strerror reads badly to a user, or that Python reports without one.
_OS_WORDING: dict[int, str] = {
    errno.ENOENT: "no such file or directory",
    errno.ELOOP: "too many levels of symbolic links (a symbolic link loop?)",
    errno.EACCES: "permission denied",
    errno.EISDIR: "is a directory",
    errno.ENOSPC: "no space left on device",
    errno.EFBIG: "file too large (a file size limit, ulimit -f?)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EPIPE: "broken pipe (the reader went away)",
}


def os_error_text(exc: OSError) -> str:
    """What an ``OSError`` from the environment (a file, a pipe, a disk) means, in the one
    wording every message uses: lower case, no errno number, no repeated path. Every
    ``cannot read: ...`` and ``cannot write ...: ...`` is built from it, as httpcore maps
    library exceptions once at its edge."""
    if exc.errno in _OS_WORDING:
        return _OS_WORDING[exc.errno]
    text = exc.strerror or (os.strerror(exc.errno) if exc.errno else "") or str(exc)
    return (text or type(exc).__name__).lower()


def cannot_read(exc: OSError) -> str:
    """The message of a list or report that cannot be read, e.g. ``cannot read: permission
    denied``."""
    return f"cannot read: {os_error_text(exc)}"
