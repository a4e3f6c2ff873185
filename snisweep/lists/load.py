"""Endpoint lists: find them, check them all, and stream their unique endpoints.

I/O: reads the listed files, directories and standard input (the readers below read the files).

A list's format follows its file name (``format_of``)::

    *.yaml, *.yml, any other name   YAML        yaml_list   defaults, mappings, strings
    *.txt, *.list                   plain text  text_list   one endpoint string a line
    *.csv                           CSV         csv_list    a header, one row each

Standard input (``-``) is YAML unless ``load`` is told otherwise; a directory stands for every
``*.yaml``/``*.yml`` below it (it may hold CSV reports, which are no lists). Endpoint strings
(``host``, ``host:port``, ``[v6]:port``, URLs) follow the same rules in every format
(``snisweep.lists.rules``). Each setting of an endpoint comes from the endpoint itself, then from
its YAML file's ``defaults``, then from ``Settings`` (the command line); for ``protocol`` (whether
the probe makes its HTTP check, and with which path) a URL's scheme comes between the endpoint's
own key and the defaults (``snisweep.lists.rules.http_path``).

``load`` reads every list in full before it returns and raises one ``ConfigError`` carrying each
problem of each file as ``FILE:LINE: message``, so that nothing is scanned from lists with a
problem. Only then does iterating the returned ``EndpointList`` read the files again and stream
the endpoints: lists of hundreds of thousands of entries are expected, and none is ever held
whole. What grows with the lists is one 128-bit digest per unique endpoint, for
de-duplication across every file and format (and standard input or a pipe, kept in memory
because it cannot be read twice). Entries with the same ``Endpoint.key`` are scanned once, the
first one wins: two entries that differ only in their path or protocol are one endpoint, with
the first one's ``http_path``.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO, Final, Protocol, TextIO

from snisweep.errors import ConfigError, Problem
from snisweep.lists.csv_list import CsvReader
from snisweep.lists.rules import (
    LABEL_MAX,
    PORT_RANGE,
    PROTOCOLS,
    RETRIES_RANGE,
    TIMEOUT_MAX,
    TLS_DEFAULT_PORTS,
    Defaults,
    Entry,
    check_protocol,
    digest,
    parse_endpoint_string,
)
from snisweep.lists.text_list import TextReader
from snisweep.lists.yaml_list import YamlReader
from snisweep.model import Endpoint

__all__ = [
    "LABEL_MAX",
    "PORT_RANGE",
    "PROTOCOLS",
    "RETRIES_RANGE",
    "TIMEOUT_MAX",
    "TLS_DEFAULT_PORTS",
    "EndpointList",
    "ListFormat",
    "Selector",
    "Settings",
    "format_of",
    "load",
    "parse_endpoint_string",
]

#: Chooses the endpoints to scan, e.g. one shard: called with an endpoint's host, port and
#: configured address (None when it has none). It must depend on nothing else.
Selector = Callable[[str, int, str | None], bool]


class ListFormat(StrEnum):
    """The format of an endpoint list."""

    YAML = "yaml"
    TEXT = "text"
    CSV = "csv"


_SUFFIXES: Final = {".csv": ListFormat.CSV, ".txt": ListFormat.TEXT, ".list": ListFormat.TEXT}


def format_of(path: str) -> ListFormat:
    """The format of the list at ``path``, by its name: ``*.csv`` CSV, ``*.txt`` and ``*.list``
    plain text, anything else YAML (as every list was before there were other formats)."""
    return _SUFFIXES.get(os.path.splitext(path)[1].lower(), ListFormat.YAML)


@dataclass(frozen=True, slots=True)
class Settings:
    """Command-line level defaults: the lowest precedence, below a file's ``defaults``.

    Invalid values raise ``ValueError``: they come from the program, not from a file.
    ``protocol`` (``https`` or ``tls``, in any case; kept in lower case) is that of the
    endpoints that neither set their own nor give a URL, in lists whose defaults set none.
    """

    port: int = 443
    timeout: float = 5.0
    retries: int = 1
    protocol: str = "https"

    def __post_init__(self) -> None:
        for name, value, low, high in (
            ("port", self.port, *PORT_RANGE),
            ("retries", self.retries, *RETRIES_RANGE),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer {low}..{high}, not {value!r}")
        timeout = self.timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= TIMEOUT_MAX
        ):
            raise ValueError(f"timeout must be seconds in (0, {TIMEOUT_MAX:g}], not {timeout!r}")
        try:
            protocol = check_protocol(self.protocol)
        except (ValueError, AttributeError):
            raise ValueError(
                f"protocol must be one of {', '.join(PROTOCOLS)}, not {self.protocol!r}"
            ) from None
        object.__setattr__(self, "protocol", protocol)  # frozen: the one normalisation


_DEFAULT_SETTINGS: Final = Settings()


# --- the lists --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    """One endpoint list: a file read afresh on each pass, or bytes kept from a pipe or stdin."""

    name: str
    format: ListFormat
    path: str | None = None
    data: bytes | None = None

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return open(self.path, "rb")


@dataclass(frozen=True, slots=True)
class _List:
    """A list that passed validation, with what its second reading needs to know."""

    source: _Source
    defaults: Defaults  # its YAML defaults, found by the first reading
    by_lines: bool  # the first reading read it all with the YAML line reader


class _Reader(Protocol):
    """One pass over one list (``YamlReader``, ``TextReader``, ``CsvReader``)."""

    problems: list[Problem]
    defaults: Defaults
    defaults_came_late: bool

    def __iter__(self) -> Iterator[Entry]: ...


def _reader(
    source: _Source, base: Defaults, known: Defaults | None = None, *, by_lines: bool = True
) -> _Reader:
    if source.format is ListFormat.TEXT:
        return TextReader(source.name, source.open, base)
    if source.format is ListFormat.CSV:
        return CsvReader(source.name, source.open, base)
    return YamlReader(source.name, source.open, base, known, by_lines=by_lines)


def _sources(path: str) -> Iterator[_Source | Problem]:
    """The endpoint lists a command-line path names, or the problem that it names none."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        yield Problem(path, None, "no such file or directory")
        return
    except OSError as exc:
        yield Problem(path, None, f"cannot read: {(exc.strerror or str(exc)).lower()}")
        return
    except ValueError:  # a NUL byte in the path
        yield Problem(path, None, "no such file or directory")
        return
    if not stat.S_ISDIR(mode):
        yield _file_source(path, mode)
        return
    errors: list[OSError] = []
    found: list[str] = []
    for directory, subdirectories, files in os.walk(path, onerror=errors.append):
        # hidden entries are editors' lock files, VCS data and the like, never endpoint lists
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        found.extend(
            os.path.join(directory, name)
            for name in files
            if not name.startswith(".") and name.lower().endswith((".yaml", ".yml"))
        )
    for error in errors:
        where = str(error.filename or path)
        yield Problem(where, None, f"cannot read: {(error.strerror or str(error)).lower()}")
    if not found and not errors:
        yield Problem(path, None, "no *.yaml or *.yml file in this directory")
    for name in sorted(found, key=lambda name: name.split(os.sep)):
        try:
            yield _file_source(name, os.stat(name).st_mode)
        except OSError:  # a dangling symbolic link
            yield Problem(name, None, "no such file or directory")


def _file_source(path: str, mode: int) -> _Source | Problem:
    if stat.S_ISREG(mode):
        return _Source(path, format_of(path), path=path)
    # A pipe such as bash's <(command) can be read only once, and there are two passes.
    try:
        with open(path, "rb") as stream:
            return _Source(path, format_of(path), data=stream.read())
    except OSError as exc:
        return Problem(path, None, f"cannot read: {(exc.strerror or str(exc)).lower()}")


def _stdin_source(stdin: TextIO | None, list_format: ListFormat) -> _Source | Problem:
    if stdin is None:
        return Problem("-", None, "standard input is not available")
    try:
        # Bytes when there are any, so that the file's encoding does not depend on the locale.
        binary = getattr(stdin, "buffer", None)
        text: str | bytes = binary.read() if binary is not None else stdin.read()
        data = text.encode("utf-8") if isinstance(text, str) else text
    except UnicodeError:
        return Problem("-", None, "not valid UTF-8 text")
    except OSError as exc:
        return Problem("-", None, f"cannot read: {(exc.strerror or str(exc)).lower()}")
    return _Source("-", list_format, data=data)


# --- the endpoints ----------------------------------------------------------------------------


class EndpointList:
    """The endpoints of validated lists, read from the files again each time it is iterated.

    Iteration streams the endpoints in file order, without the duplicates and, when ``load``
    was given ``select``, only the selected ones. Should a file change for the worse between
    ``load`` and an iteration, the iteration raises ``ConfigError`` (duplicates it gained since
    are not skipped when it had none).
    """

    __slots__ = ("_count", "_duplicates", "_lists", "_select", "_settings", "_total")

    def __init__(
        self,
        lists: tuple[_List, ...],
        settings: Defaults,
        select: Selector | None,
        *,
        total: int,
        count: int,
        duplicates: int,
    ) -> None:
        self._lists = lists
        self._settings = settings
        self._select = select
        self._total = total
        self._count = count
        self._duplicates = duplicates

    @property
    def files(self) -> tuple[str, ...]:
        """Display names of the files read, in order ("-" for standard input)."""
        return tuple(item.source.name for item in self._lists)

    @property
    def count(self) -> int:
        """How many unique endpoints an iteration yields: the selected ones, with ``select``."""
        return self._count

    @property
    def total(self) -> int:
        """How many unique endpoints the lists hold, selected or not."""
        return self._total

    @property
    def duplicates(self) -> int:
        """How many entries were skipped because an earlier entry had the same key."""
        return self._duplicates

    def __iter__(self) -> Iterator[Endpoint]:
        select = self._select
        # Without duplicates in the lists when they were checked, nothing needs skipping.
        seen: set[bytes] | None = set() if self._duplicates else None
        for item in self._lists:
            reader = _reader(item.source, self._settings, item.defaults, by_lines=item.by_lines)
            name = item.source.name
            for entry in reader:
                host, port, address, sni, label, tags, timeout, retries, line, path = entry
                # A duplicate has the same host, port and address, so the same selection: an
                # endpoint left out needs no digest.
                if select is not None and not select(host, port, address):
                    continue
                if seen is not None:
                    key = digest(entry)
                    if key in seen:
                        continue
                    seen.add(key)
                yield Endpoint(
                    host, port, address, sni, label, tags, timeout, retries, f"{name}:{line}", path
                )
            if reader.problems:
                raise ConfigError(reader.problems)

    def __repr__(self) -> str:
        return (
            f"EndpointList(files={self.files!r}, count={self._count}, total={self._total}, "
            f"duplicates={self._duplicates})"
        )


def load(
    paths: Sequence[str],
    settings: Settings = _DEFAULT_SETTINGS,
    *,
    stdin: TextIO | None = None,
    stdin_format: ListFormat | None = None,
    select: Selector | None = None,
) -> EndpointList:
    """Validate the endpoint lists at ``paths``, all of them, and return them for iteration.

    A path is a file (its format by its name, see ``format_of``), a directory (every
    ``*.yaml``/``*.yml`` below it, recursively, sorted, hidden entries left out) or ``-`` for
    ``stdin`` (``sys.stdin`` by default), read once and kept in memory, in ``stdin_format``
    (YAML by default). With ``select``, the list's ``count`` and its iteration hold only the
    unique endpoints for which ``select(host, port, address)`` is true; ``total`` and
    ``duplicates`` still count them all. Raises ``ConfigError`` with every problem of every
    file, in file order.
    """
    if isinstance(paths, str):
        raise TypeError("load() takes a sequence of paths, not one string")
    base = Defaults(settings.port, float(settings.timeout), settings.retries, (), settings.protocol)
    problems: list[Problem] = []
    lists: list[_List] = []
    seen: set[bytes] = set()
    total = count = duplicates = 0
    stdin_source: _Source | Problem | None = None
    for path in paths:
        if path == "-":
            if stdin_source is None:
                stdin_source = _stdin_source(
                    sys.stdin if stdin is None else stdin, stdin_format or ListFormat.YAML
                )
            found: Iterator[_Source | Problem] = iter([stdin_source])
        else:
            found = _sources(path)
        for source in found:
            if isinstance(source, Problem):
                problems.append(source)
                continue
            reader = _reader(source, base)
            # Staged apart from `seen`: should the file's defaults come after its endpoints
            # and change the port, these keys were wrong and are counted again.
            fresh, repeated, selected = _count(reader, seen, select)
            if reader.problems:
                problems.extend(reader.problems)
                continue
            by_lines = isinstance(reader, YamlReader) and reader.read_by_lines
            if reader.defaults_came_late and reader.defaults.port != base.port:
                again = _reader(source, base, reader.defaults, by_lines=by_lines)
                fresh, repeated, selected = _count(again, seen, select)
            total += len(fresh)
            count += selected
            duplicates += repeated
            if len(fresh) > len(seen):  # merge the smaller set into the larger one
                fresh, seen = seen, fresh
            seen |= fresh
            lists.append(_List(source, reader.defaults, by_lines))
    if problems:
        raise ConfigError(problems)
    return EndpointList(tuple(lists), base, select, total=total, count=count, duplicates=duplicates)


def _count(
    reader: _Reader, seen: set[bytes], select: Selector | None
) -> tuple[set[bytes], int, int]:
    """The digests of the endpoints new to ``seen``, how many entries repeated one, and how
    many of the new ones ``select`` selects."""
    fresh: set[bytes] = set()
    repeated = selected = 0
    for entry in reader:
        key = digest(entry)
        if key in seen or key in fresh:
            repeated += 1
        else:
            fresh.add(key)
            if select is None or select(entry[0], entry[1], entry[2]):
                selected += 1
    return fresh, repeated, selected
