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
own key and the defaults (``snisweep.lists.rules.http_path``). For ``proxy`` the environment's
proxy (``Settings.environment_proxy``) comes last, for the endpoints whose host
``Settings.no_proxy`` does not bypass; ``direct`` at any level means no proxy. Nothing here reads
the environment: the caller puts what it found in ``Settings``.

``load`` reads every list in full before it returns and raises one ``ConfigError`` carrying each
problem of each file as ``FILE:LINE: message``, so that nothing is scanned from lists with a
problem. Only then does iterating the returned ``EndpointList`` read the files again and stream
the endpoints: lists of hundreds of thousands of entries are expected, and none is ever held
whole. While ``load`` runs, what grows with the lists is one 128-bit digest per unique endpoint
(``rules.digest``), for de-duplication across every file and format; what it keeps is where
the duplicates are, 16 bytes per 64 kB of each file (below), and standard input or a pipe in
memory, because it cannot be read twice. Entries with the same digest are scanned once, the
first one wins: two entries that differ only in their path, protocol, TLS range, proxy or
``all_addresses`` (or label, tags, timeout, retries) are one endpoint, with the first one's.

An iteration yields exactly the endpoints that were validated, or raises ``ListChangedError``
naming the file and what changed (cut short, grown, rewritten, gone) when a file changed in
between, for example while a long scan reads it. Both readings read each file a block of
64 kB at a time, and hash each block (SHA-256) before the reader sees a byte of it: the first
reading keeps the digests, the second compares, and stops at the first block that differs. So
the reader of a scan parses only the bytes that were validated, never a line appended since,
nor the end of a file cut short as its end, and a scan of a changed list never ends as if it
had scanned it all. Each forked worker runs a whole iteration and takes its share of it, so
each one checks the whole list.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, BinaryIO, Final, Protocol, TextIO

from snisweep.errors import ConfigError, ListChangedError, Problem, cannot_read
from snisweep.lists.csv_list import CsvReader
from snisweep.lists.proxies import bypassed, check_proxy
from snisweep.lists.rules import (
    DIRECT,
    LABEL_MAX,
    PORT_RANGE,
    PROTOCOLS,
    RETRIES_RANGE,
    TIMEOUT_MAX,
    TLS_DEFAULT_PORTS,
    Defaults,
    Direct,
    Entry,
    check_protocol,
    check_tls_range,
    check_tls_version,
    digest,
    parse_endpoint_string,
)
from snisweep.lists.text_list import TextReader
from snisweep.lists.yaml_list import YamlReader
from snisweep.model import Endpoint, Proxy, TLSVersion

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "DIRECT",
    "LABEL_MAX",
    "PORT_RANGE",
    "PROTOCOLS",
    "RETRIES_RANGE",
    "TIMEOUT_MAX",
    "TLS_DEFAULT_PORTS",
    "Direct",
    "EndpointList",
    "ListFormat",
    "Selector",
    "Settings",
    "check_proxy",
    "check_tls_range",
    "check_tls_version",
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
    ``tls_min`` and ``tls_max`` (``--tls-min``/``--tls-max``; None: no bound) are read by
    ``check_tls_version`` when given as text; ``tls_min`` may not be above ``tls_max``.
    ``proxy`` is ``--proxy``: a ``Proxy``, ``DIRECT`` (``--proxy direct``: no proxy, not even
    the environment's), or None when not given (``check_proxy`` reads the option's text).
    ``all_addresses`` is ``--all-addresses``. ``environment_proxy`` and ``no_proxy`` are what
    the environment says (``snisweep.lists.proxies``): the proxy of the endpoints that no level
    gives one, unless ``no_proxy`` bypasses their host. Nothing here reads the environment.
    """

    port: int = 443
    timeout: float = 5.0
    retries: int = 1
    protocol: str = "https"
    tls_min: TLSVersion | None = None
    tls_max: TLSVersion | None = None
    proxy: Proxy | Direct | None = None
    all_addresses: bool = False
    environment_proxy: Proxy | None = None
    no_proxy: str = ""

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
        object.__setattr__(self, "protocol", protocol)  # frozen: the normalisations
        for bound in ("tls_min", "tls_max"):
            version = getattr(self, bound)
            if version is not None:
                if not isinstance(version, str):
                    raise ValueError(f"{bound} must be a TLS version 1.0..1.3, not {version!r}")
                object.__setattr__(self, bound, check_tls_version(version, bound))
        check_tls_range(self.tls_min, self.tls_max)
        for field, setting, kinds, expected in (
            ("proxy", self.proxy, Proxy | Direct | None, "a Proxy, DIRECT or None"),
            ("environment_proxy", self.environment_proxy, Proxy | None, "a Proxy or None"),
            ("all_addresses", self.all_addresses, bool, "a bool"),
            ("no_proxy", self.no_proxy, str, "a string"),
        ):
            if not isinstance(setting, kinds):
                # a ValueError as for every other bad setting, whatever is wrong with it
                raise ValueError(f"{field} must be {expected}, not {setting!r}")  # noqa: TRY004


_DEFAULT_SETTINGS: Final = Settings()


# --- the lists --------------------------------------------------------------------------------


_CHUNK: Final = 1 << 16  # bytes read from a list at a time


@dataclass(frozen=True, slots=True)
class _Source:
    """One endpoint list: a file read afresh on each pass, or bytes kept from a pipe or stdin."""

    name: str
    format: ListFormat
    path: str | None = None
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class _Bytes:
    """What a reading of a list file read: its size and the digest of each block of it."""

    size: int
    blocks: tuple[bytes, ...]


class _Checked(io.RawIOBase):
    """A list file read a block of ``_CHUNK`` bytes at a time, each block hashed before any byte
    of it is passed on. A first reading records the digests (``bytes_read``); a later one, given
    them as ``validated``, raises ``ListChangedError`` at the first block that differs: its
    reader never sees a byte that was not validated, nor the end of a file cut short as its
    end."""

    def __init__(self, file: io.FileIO, name: str, validated: _Bytes | None) -> None:
        super().__init__()
        self._file = file
        self._name = name
        self._validated = validated
        self._blocks: list[bytes] = []
        self._block = memoryview(b"")
        self._size = 0
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if not self._block:
            if self._ended:
                return 0
            self._next_block()
        view = memoryview(buffer).cast("B")
        count = min(len(self._block), len(view))
        view[:count] = self._block[:count]
        self._block = self._block[count:]
        return count

    def _next_block(self) -> None:
        parts: list[bytes] = []
        wanted = _CHUNK
        while wanted:
            data = self._file.read(wanted)
            if not data:
                self._ended = True
                break
            parts.append(data)
            wanted -= len(data)
        block = b"".join(parts)
        start, self._size = self._size, self._size + len(block)
        validated = self._validated
        if validated is None:
            if block:
                self._blocks.append(hashlib.sha256(block).digest()[:16])
        else:
            index = start // _CHUNK
            length = min(_CHUNK, validated.size - start)  # of the block validated here
            if length <= 0 < len(block):
                self._changed(f"it grew: it goes on past byte {validated.size}, its end then")
            if len(block) < length:
                self._changed(
                    f"it was cut short: it ends at byte {self._size} now, at byte "
                    f"{validated.size} when it was validated"
                )
            digest = hashlib.sha256(block[:length]).digest()[:16] if length > 0 else b""
            if length > 0 and digest != validated.blocks[index]:
                self._changed(
                    f"it was rewritten: its bytes from byte {start} on are not the ones validated"
                )
            if len(block) > length:
                self._changed(f"it grew: it goes on past byte {validated.size}, its end then")
        self._block = memoryview(block)

    def _changed(self, what: str) -> None:
        raise ListChangedError(_changed(self._name, what))

    def close(self) -> None:
        if not self.closed:
            try:
                # A first reading that stopped before the end (a YAML reader that hands over
                # to libyaml) records the rest too: what the file held when it was validated.
                while self._validated is None and not self._ended:
                    self._next_block()
            finally:
                self._file.close()
                super().close()

    def bytes_read(self) -> _Bytes:
        return _Bytes(self._size, tuple(self._blocks))


class _Reading:
    """The opener of one reading of a list. It checks the file against ``validated`` (what the
    first reading read), or records what it reads: what the last stream it opened read (a YAML
    reader may open its file again)."""

    __slots__ = ("_last", "_source", "_validated")

    def __init__(self, source: _Source, validated: _Bytes | None = None) -> None:
        self._source = source
        self._validated = validated
        self._last: _Checked | None = None

    def __call__(self) -> BinaryIO:
        source = self._source
        if source.data is not None:
            return io.BytesIO(source.data)
        assert source.path is not None
        file = io.FileIO(source.path, "r")  # first: should it fail, there is nothing to close
        self._last = _Checked(file, source.name, self._validated)
        return io.BufferedReader(self._last, _CHUNK)

    def bytes_read(self) -> _Bytes | None:
        """What the last stream read, once closed; None for bytes kept in memory, which cannot
        change."""
        return None if self._last is None else self._last.bytes_read()


@dataclass(frozen=True, slots=True)
class _List:
    """A list that passed validation, with what its second reading needs to know and check."""

    source: _Source
    known: Defaults | None  # a YAML list's defaults, found by the first reading
    by_lines: bool  # the first reading read it all with the YAML line reader
    entries: int  # how many entries its reader yielded, duplicates included
    repeated: frozenset[int]  # which of them (counting from 0) repeat an earlier endpoint
    read: _Bytes | None  # what the first reading read of the file (None: bytes kept)


class _Reader(Protocol):
    """One pass over one list (``YamlReader``, ``TextReader``, ``CsvReader``)."""

    problems: list[Problem]

    def __iter__(self) -> Iterator[Entry]: ...


def _reader(
    source: _Source,
    base: Defaults,
    opener: _Reading,
    known: Defaults | None = None,
    *,
    by_lines: bool = True,
) -> _Reader:
    if source.format is ListFormat.TEXT:
        return TextReader(source.name, opener, base)
    if source.format is ListFormat.CSV:
        return CsvReader(source.name, opener, base)
    return YamlReader(source.name, opener, base, known, by_lines=by_lines)


def _sources(path: str) -> Iterator[_Source | Problem]:
    """The endpoint lists a command-line path names, or the problem that it names none."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        yield Problem(path, None, "no such file or directory")
        return
    except OSError as exc:
        yield Problem(path, None, cannot_read(exc))
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
        yield Problem(str(error.filename or path), None, cannot_read(error))
    if not found and not errors:
        yield Problem(path, None, "no *.yaml or *.yml file in this directory")
    for name in sorted(found, key=lambda name: name.split(os.sep)):
        try:
            yield _file_source(name, os.stat(name).st_mode)
        except FileNotFoundError:  # a dangling symbolic link
            yield Problem(name, None, "no such file or directory")
        except OSError as exc:  # a symbolic link loop, ...
            yield Problem(name, None, cannot_read(exc))


def _file_source(path: str, mode: int) -> _Source | Problem:
    if stat.S_ISREG(mode):
        return _Source(path, format_of(path), path=path)
    # A pipe such as bash's <(command) can be read only once, and there are two passes.
    try:
        with open(path, "rb") as stream:
            return _Source(path, format_of(path), data=stream.read())
    except OSError as exc:
        return Problem(path, None, cannot_read(exc))


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
        return Problem("-", None, cannot_read(exc))
    return _Source("-", list_format, data=data)


# --- the endpoints ----------------------------------------------------------------------------


class EndpointList:
    """The endpoints of validated lists, read from the files again each time it is iterated.

    Iteration streams the endpoints in file order, without the duplicates and, when ``load``
    was given ``select``, only the selected ones: exactly those that were validated. Should a
    file have changed since, the iteration raises ``ListChangedError`` before its reader sees a
    byte that changed (see the module's docstring).
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
        settings = self._settings
        for item in self._lists:
            known = item.known
            if known is not None and settings.environment_proxy is not None:
                known = _with_environment(known, settings)
            reader = _reader(
                item.source,
                settings,
                _Reading(item.source, item.read),
                known,
                by_lines=item.by_lines,
            )
            # The bytes are those validated (or the reading stops), so the entries are too, and
            # the duplicates are where they were: no endpoint needs its digest.
            repeated = item.repeated
            index = -1
            for index, entry in enumerate(reader):
                if repeated and index in repeated:
                    continue
                (
                    host, port, address, sni, label, tags, timeout, retries, _, path,
                    tls_min, tls_max, proxy, all_addresses,
                ) = entry  # fmt: skip
                if select is not None and not select(host, port, address):
                    continue
                # by position, which is quicker: every field of Endpoint, in its order
                yield Endpoint(
                    host, port, address, sni, label, tags, timeout, retries, path,
                    tls_min, tls_max, proxy, all_addresses,
                )  # fmt: skip
            _check_unchanged(item, reader.problems, index + 1)

    def __repr__(self) -> str:
        return (
            f"EndpointList(files={self.files!r}, count={self._count}, total={self._total}, "
            f"duplicates={self._duplicates})"
        )


def _with_environment(defaults: Defaults, settings: Defaults) -> Defaults:
    """``defaults`` with the environment's proxy of ``settings``: the validation pass leaves it
    out (see ``load``)."""
    return dataclasses.replace(
        defaults, environment_proxy=settings.environment_proxy, bypassed=settings.bypassed
    )


def _check_unchanged(item: _List, problems: list[Problem], entries: int) -> None:
    """Raise ``ListChangedError`` unless a whole reading of ``item`` found what its validation
    found: a file deleted or renamed since, say (its bytes, when read, are checked as they are
    read)."""
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ListChangedError(_changed(item.source.name, f"{problems[0]}{more}"))
    if entries != item.entries:  # pragma: no cover - the same bytes make the same entries
        raise ListChangedError(
            _changed(
                item.source.name,
                f"it holds {entries} entries now, {item.entries} when it was validated",
            )
        )


def _changed(name: str, what: str) -> str:
    return f"{name} changed during the scan: {what}; the scan stops here"


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
    base = Defaults(
        settings.port,
        float(settings.timeout),
        settings.retries,
        (),
        settings.protocol,
        settings.tls_min,
        settings.tls_max,
        settings.proxy,
        settings.all_addresses,
        settings.environment_proxy,
        functools.partial(bypassed, no_proxy=settings.no_proxy) if settings.no_proxy else None,
    )
    # The environment's proxy makes no problem and no key, and deciding it takes no_proxy's
    # rules per entry: the validation pass goes without, the iteration puts it back.
    checking = _without_environment(base)
    problems: list[Problem] = []
    lists: list[_List] = []
    seen: set[bytes] = set()
    count = duplicates = 0
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
            opener = _Reading(source)
            reader = _reader(source, checking, opener)
            # Staged apart from `seen`: should the file's defaults come after its endpoints
            # and change the port, these keys were wrong and are counted again.
            counted = _count(reader, seen, select)
            if reader.problems:
                problems.extend(reader.problems)
                continue
            known: Defaults | None = None
            by_lines = False
            if isinstance(reader, YamlReader):
                known, by_lines = reader.defaults, reader.read_by_lines
                again = reader.again()
                if again is not None:
                    counted = _count(again, seen, select)
                    # it changed in between, or its late defaults make a TLS range empty
                    if again.problems:
                        problems.extend(again.problems)
                        continue
            fresh, repeated, selected, entries = counted
            count += selected
            duplicates += len(repeated)
            if len(fresh) > len(seen):  # merge the smaller set into the larger one
                fresh, seen = seen, fresh
            seen |= fresh
            lists.append(
                _List(source, known, by_lines, entries, frozenset(repeated), opener.bytes_read())
            )
    if problems:
        raise ConfigError(problems)
    return EndpointList(
        tuple(lists), base, select, total=len(seen), count=count, duplicates=duplicates
    )


def _without_environment(defaults: Defaults) -> Defaults:
    if defaults.environment_proxy is None:
        return defaults
    return dataclasses.replace(defaults, environment_proxy=None, bypassed=None)


def _count(
    reader: _Reader, seen: set[bytes], select: Selector | None
) -> tuple[set[bytes], list[int], int, int]:
    """The digests of the endpoints new to ``seen``, the places of the entries that repeat
    one, how many of the new ones ``select`` selects, and how many entries there are."""
    fresh: set[bytes] = set()
    repeated: list[int] = []
    selected = 0
    index = -1
    for index, entry in enumerate(reader):
        key = digest(entry)
        if key in seen or key in fresh:
            repeated.append(index)
        else:
            fresh.add(key)
            if select is None or select(entry[0], entry[1], entry[2]):
                selected += 1
    return fresh, repeated, selected, index + 1
