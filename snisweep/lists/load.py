"""Endpoint lists: find them, check them all, and stream their unique endpoints.

I/O: reads the listed files, directories and standard input (the readers below read the files).

A list's format follows its file name (``format_of``)::

    *.yaml, *.yml, any other name   YAML        yaml_list   defaults, mappings, strings
    *.txt, *.list                   plain text  text_list   one endpoint string a line
    *.csv                           CSV         csv_list    a header, one row each

Standard input (``-``) is in the format ``load`` is told, else in the one ``detect_format``
finds from its first lines. A directory stands for every ``*.yaml``/``*.yml`` below it (it may
hold CSV reports, which would read as lists), less what ``exclude`` leaves out; the CSV and text
lists in it, and the YAML files that are no endpoint list at all (Kubernetes manifests: a
mapping without ``endpoints``), are skipped with a warning, through the ``warn`` callback (the
caller prints it: nothing here writes to the terminal). A path that names no file and reads as
an endpoint string is a *target*, that endpoint (``snisweep scan api.example.com:8443``).
Endpoint strings (``host``, ``host:port``, ``[v6]:port``, URLs) follow the same rules in every
format and on the command line (``snisweep.lists.rules``).

Each setting of an endpoint comes from the endpoint itself, then from its YAML file's
``defaults``, then from ``Settings`` (the command line); for ``protocol`` (whether the probe
makes its HTTP check, and with which path) a URL's scheme comes between the endpoint's own key
and the defaults (``snisweep.lists.rules.http_path``). For ``proxy`` the environment's proxy
(``Settings.environment_proxy``) comes last, for the endpoints whose host ``Settings.no_proxy``
does not bypass; ``direct`` at any level means no proxy. Nothing here reads the environment:
the caller puts what it found in ``Settings``.

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

import csv
import dataclasses
import difflib
import functools
import hashlib
import io
import os
import re
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
    show,
    string_entry,
)
from snisweep.lists.text_list import TextReader
from snisweep.lists.yaml_list import YamlReader, top_level_keys
from snisweep.model import Endpoint, Proxy, TLSVersion

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "COMMAND_LINE",
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
    "check_exclude",
    "check_proxy",
    "check_tls_range",
    "check_tls_version",
    "detect_format",
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


# A line that YAML reads as a mapping key (``key:`` then white space or the end). No endpoint
# string is one: it holds no white space, and a ':' ends it only in 'host:', which has no port.
_YAML_KEY: Final = re.compile(r"""("[^"]*"|'[^']*'|[^\s:#"'\[\]{}][^:#]*?)\s*:(?:\s|$)""")
# An IPv6 literal in brackets, with a port or not: text, even when the address or port is bad.
_BRACKETED: Final = re.compile(r"\[[^\],\s]*\](?::\S*)?(?:\s+#.*)?$")
_LINE_END: Final = re.compile(rb"\r\n?|\n")


def detect_format(data: bytes) -> tuple[ListFormat, str, bool]:
    """The format of a list that comes without a name (standard input), why, and whether the
    evidence is sure: read from its first lines only, so in time linear in them, whatever the
    size of the list.

    - **CSV** when its first line that is not blank is a header naming a ``host`` or ``url``
      column (case-insensitive; cells separated as ``csv_list`` separates them: ``,``, else
      ``;`` or a tab). Sure. (So a text list whose first endpoint is the bare name ``host``
      or ``url`` reads as CSV.)
    - Else the first line that is neither blank nor a comment (``#``) decides. **YAML** when
      it starts a document (``---``, ``%YAML``, ``%TAG``), a list item (``-``), a flow mapping
      (``{``, but not the ``{{`` of a template) or a flow list (``[``, but no ``[IPv6]`` or
      ``[IPv6]:port``), or is the key ``endpoints:`` or ``defaults:``: sure, as none of them
      is an endpoint string. Also YAML, not sure, when it is any other mapping key (``key:``
      then white space or the line end).
    - **Text** otherwise: the line is an endpoint string, or something no format reads (the
      text reader then says what is wrong with each line). Not sure.
    - **YAML** for input without such a line (empty, or only comments), as before there was
      detection: YAML says it is empty, where a text list would be an empty list. Not sure.

    The reason and the sureness are for the message after the problems of such a list: it
    names ``--stdin-format`` unless the evidence was sure.
    """
    start, end_of_data, first = 0, len(data), True
    header_checked = False
    while start < end_of_data:
        match = _LINE_END.search(data, start)
        end = end_of_data if match is None else match.start()
        line = data[start:end].decode(errors="replace")
        start = end_of_data if match is None else match.end()
        if first:
            first = False
            line = line.removeprefix("\ufeff")  # the byte order mark
        text = line.strip()
        if not text:
            continue
        if not header_checked:
            header_checked = True
            if _names_host_or_url(line):
                return ListFormat.CSV, "its first line is a CSV header naming host or url", True
        if text[0] != "#":
            return _yaml_or_text(text)
    return ListFormat.YAML, "it holds no endpoint", False


def _names_host_or_url(line: str) -> bool:
    delimiter = ","
    if "," not in line:
        delimiter = ";" if ";" in line else "\t" if "\t" in line else ","
    try:
        cells = next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return False
    return any(cell.strip().lower() in {"host", "url"} for cell in cells)


def _yaml_or_text(text: str) -> tuple[ListFormat, str, bool]:
    if text == "---" or text.startswith(("--- ", "%YAML ", "%TAG ")):
        return ListFormat.YAML, "it starts a YAML document", True
    if text == "-" or text.startswith(("- ", "-\t")):
        return ListFormat.YAML, "it starts with a YAML list item", True
    if (text[0] == "{" and text[1:2] != "{") or (text[0] == "[" and not _BRACKETED.match(text)):
        return ListFormat.YAML, "it starts with a YAML flow collection", True
    key = _YAML_KEY.match(text)
    if key is not None:
        if key.group(1).strip("'\"") in {"endpoints", "defaults"}:
            return ListFormat.YAML, f"it starts with the YAML key {key.group(1)}", True
        return ListFormat.YAML, "it starts with a YAML mapping key", False
    return ListFormat.TEXT, "it starts like neither YAML nor a CSV header naming host or url", False


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
    found: bool = False  # found in a directory, not named: skipped when it is no list at all
    detected: str = ""  # standard input whose format was guessed: why that one


#: The file of the problems of an endpoint given on the command line, whose line is its place
#: among the paths (1 for the first).
COMMAND_LINE: Final = "(command line)"


@dataclass(frozen=True, slots=True)
class _Target:
    """An endpoint string given among the paths (``snisweep scan api.example.com``): an
    endpoint with the command line's settings."""

    text: str
    position: int  # among the paths, from 1
    name: str = COMMAND_LINE


class _TargetReader:
    """A target read as an entry, as a reader reads a list."""

    def __init__(self, target: _Target, base: Defaults) -> None:
        self._target = target
        self._base = base
        self.problems: list[Problem] = []

    def __iter__(self) -> Iterator[Entry]:
        self.problems = []
        target = self._target
        try:
            yield string_entry(target.text, target.position, self._base)
        except ValueError as exc:  # pragma: no cover - it read before: the same text reads again
            self.problems.append(_not_an_endpoint(target.text, target.position, exc))


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

    source: _Source | _Target
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


def _sources(
    path: str, position: int, base: Defaults, exclude: _Exclude, warn: Callable[[str], None]
) -> Iterator[_Source | _Target | Problem]:
    """The endpoint lists a command-line path names, the endpoint it is when it names no file
    (a target), or the problem that it is neither."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: a NUL byte
        yield _target(path, position, base, warn)
        return
    except OSError as exc:
        yield Problem(path, None, cannot_read(exc))
        return
    if not stat.S_ISDIR(mode):
        pattern = exclude.match(os.path.basename(path), path)
        if pattern is not None:
            warn(
                f"{path}: read although --exclude {pattern} matches it: a file named on the "
                "command line is always read"
            )
        yield _file_source(path, mode)
        return
    yield from _directory(path, exclude, warn)


def _target(
    text: str, position: int, base: Defaults, warn: Callable[[str], None]
) -> _Target | Problem:
    if (
        "://" not in text
        and ("/" in text or os.sep in text or text.lower().endswith(_LIST_SUFFIXES))
    ) or os.path.lexists(text):  # a list's name, mistyped; a dangling symbolic link
        return Problem(text, None, "no such file or directory")
    try:
        host, port, *_ = string_entry(text, position, base)
    except ValueError as exc:
        return _not_an_endpoint(text, position, exc)
    if not any(char in text for char in ".:[") and host != "localhost":
        # A single word is a host on an intranet, or a list's directory mistyped.
        warn(
            f"{text}: no such file or directory; read as the host {host}, port {port} "
            f"(write {host}:{port} if that is meant)"
        )
    return _Target(text, position)


def _not_an_endpoint(text: str, position: int, exc: ValueError) -> Problem:
    shown = text if text and text.isprintable() and len(text) <= 200 else show(text, 200)
    return Problem(COMMAND_LINE, position, f"{shown}: neither a file nor an endpoint: {exc}")


# Names that stand for a list when no file has them: a mistyped name still says it is missing.
_LIST_SUFFIXES: Final = (".yaml", ".yml", ".csv", ".txt", ".list")
_YAML_SUFFIXES: Final = (".yaml", ".yml")
_NAMED_ONLY: Final = {
    ListFormat.CSV: ", as a CSV report would read as a list",  # reports are kept next to lists
    ListFormat.TEXT: "",
}


def _directory(
    path: str, exclude: _Exclude, warn: Callable[[str], None]
) -> Iterator[_Source | Problem]:
    """The YAML lists below a directory, sorted; the CSV and text lists below it are skipped
    with a warning, the other files without a word, and so are those that ``exclude``
    leaves out and the hidden ones."""
    errors: list[OSError] = []
    found: list[str] = []
    for directory, subdirectories, files in os.walk(path, onerror=errors.append):
        below = os.path.relpath(directory, path)
        below = "" if below == os.curdir else below.replace(os.sep, "/") + "/"
        # hidden entries are editors' lock files, VCS data and the like, never endpoint lists
        subdirectories[:] = [
            name
            for name in subdirectories
            if not name.startswith(".")
            and exclude.match(name, os.path.join(directory, name), below + name) is None
        ]
        found.extend(
            os.path.join(directory, name)
            for name in files
            if not name.startswith(".")
            and name.lower().endswith(_LIST_SUFFIXES)
            and exclude.match(name, os.path.join(directory, name), below + name) is None
        )
    for error in errors:
        yield Problem(str(error.filename or path), None, cannot_read(error))
    lists = 0
    for name in sorted(found, key=lambda name: name.split(os.sep)):
        if not name.lower().endswith(_YAML_SUFFIXES):
            warn(
                f"{name}: skipped: a directory stands for its *.yaml/*.yml files only"
                f"{_NAMED_ONLY[format_of(name)]}; name it on the command line to read it"
            )
            continue
        lists += 1
        try:
            yield _file_source(name, os.stat(name).st_mode, found=True)
        except FileNotFoundError:  # a dangling symbolic link
            yield Problem(name, None, "no such file or directory")
        except OSError as exc:  # a symbolic link loop, ...
            yield Problem(name, None, cannot_read(exc))
    if not lists and not errors:
        left_out = " that --exclude leaves in" if exclude else ""
        yield Problem(path, None, f"no *.yaml or *.yml file in this directory{left_out}")


def _no_list(source: _Source) -> str | None:
    """Why ``source``, a YAML file found in a directory that failed as a list, is no endpoint
    list at all (a Kubernetes manifest, say), or None when it may be one with mistakes: a
    mapping at its top that has no ``endpoints`` and no ``defaults``, nor a key that looks
    like a mistyped one, is none."""
    keys = top_level_keys(_Reading(source))
    if not keys or any(
        difflib.get_close_matches(key.lower(), ("endpoints", "defaults"), n=1, cutoff=0.75)
        for key in keys
    ):
        return None
    shown = [key if key.isprintable() and len(key) <= 40 else show(key, 40) for key in keys[:4]]
    more = ", ..." if len(keys) > 4 else ""
    return f"not an endpoint list (it has {', '.join(shown)}{more})"


class _Exclude:
    """The ``exclude`` patterns of ``load``: shell globs, matched in full against a file's (or
    directory's) name, its path below the directory given, and its path as shown."""

    __slots__ = ("_patterns",)

    def __init__(self, patterns: Sequence[str]) -> None:
        if isinstance(patterns, str):
            raise TypeError("exclude takes a sequence of patterns, not one string")
        self._patterns = [(pattern, _glob(check_exclude(pattern))) for pattern in patterns]

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def match(self, name: str, shown: str, below: str | None = None) -> str | None:
        """The first pattern that leaves the entry out, or None."""
        if not self._patterns:
            return None
        shown = os.path.normpath(shown).replace(os.sep, "/")
        for pattern, regex in self._patterns:
            if (
                regex.fullmatch(name)
                or regex.fullmatch(shown)
                or (below is not None and regex.fullmatch(below))
            ):
                return pattern
        return None


def check_exclude(pattern: str) -> str:
    """An ``exclude`` pattern, as given; ``ValueError`` for one that can match nothing (an
    empty one). The command line may check ``--exclude`` with it."""
    if not isinstance(pattern, str):
        raise TypeError(f"an exclude pattern is a string, not {pattern!r}")
    if not pattern.strip("/"):
        raise ValueError(f"--exclude: empty pattern {pattern!r}")
    return pattern


def _glob(pattern: str) -> re.Pattern[str]:
    """A shell glob as a regular expression, for ``fullmatch`` against a path with ``/``:
    ``*`` any characters but ``/``, ``?`` one, ``[...]`` one of (``[!...]`` none of), and
    ``**`` as a whole component any number of directories (``**/x``, ``a/**``, ``a/**/b``).
    A leading ``./`` and a trailing ``/`` mean nothing. As in Python 3.13's
    ``PurePath.full_match``, which 3.11 lacks; written here so that every Python agrees."""
    pattern = pattern.rstrip("/")
    while pattern.startswith("./"):
        pattern = pattern[2:]
    parts: list[str] = []
    index, size = 0, len(pattern)
    while index < size:
        char = pattern[index]
        if char == "*":
            end = index
            while end < size and pattern[end] == "*":
                end += 1
            whole = (index == 0 or pattern[index - 1] == "/") and (
                end == size or pattern[end] == "/"
            )
            if end - index == 2 and whole:
                if end == size:
                    parts.append(".*")
                else:
                    parts.append("(?:[^/]*/)*")
                    end += 1
            else:
                parts.append("[^/]*")
            index = end
        elif char == "?":
            parts.append("[^/]")
            index += 1
        elif char == "[":
            end = index + 1
            if end < size and pattern[end] == "!":
                end += 1
            if end < size and pattern[end] == "]":
                end += 1
            end = pattern.find("]", end)
            if end < 0:  # no class: a '[' as it is
                parts.append(re.escape(char))
                index += 1
                continue
            body = pattern[index + 1 : end].replace("\\", "\\\\")
            if body.startswith("!"):
                body = "^" + body[1:]
            elif body.startswith("^"):
                body = "\\" + body
            parts.append(f"[{body}]")
            index = end + 1
        else:
            parts.append(re.escape(char))
            index += 1
    return re.compile("".join(parts), re.DOTALL)


def _file_source(path: str, mode: int, *, found: bool = False) -> _Source | Problem:
    if stat.S_ISREG(mode):
        return _Source(path, format_of(path), path=path, found=found)
    # A pipe such as bash's <(command) can be read only once, and there are two passes.
    try:
        with open(path, "rb") as stream:
            return _Source(path, format_of(path), data=stream.read(), found=found)
    except OSError as exc:
        return Problem(path, None, cannot_read(exc))


def _stdin_source(stdin: TextIO | None, list_format: ListFormat | None) -> _Source | Problem:
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
    if list_format is not None:
        return _Source("-", list_format, data=data)
    detected, why, sure = detect_format(data)
    return _Source("-", detected, data=data, detected="" if sure else why)


# --- the endpoints ----------------------------------------------------------------------------


class EndpointList:
    """The endpoints of validated lists, read from the files again each time it is iterated.

    Iteration streams the endpoints in file order, without the duplicates and, when ``load``
    was given ``select``, only the selected ones: exactly those that were validated. Should a
    file have changed since, the iteration raises ``ListChangedError`` before its reader sees a
    byte that changed (see the module's docstring).
    """

    __slots__ = ("_count", "_duplicates", "_lists", "_select", "_settings", "_targets", "_total")

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
        self._targets = sum(isinstance(item.source, _Target) for item in lists)

    @property
    def files(self) -> tuple[str, ...]:
        """Display names of the files read, in order ("-" for standard input); not the
        targets, nor the files a directory skipped."""
        return tuple(item.source.name for item in self._lists if isinstance(item.source, _Source))

    @property
    def targets(self) -> int:
        """How many endpoints were given among the paths themselves (targets), duplicates
        included."""
        return self._targets

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
            source = item.source
            reader = (
                _TargetReader(source, settings)
                if isinstance(source, _Target)
                else _reader(
                    source, settings, _Reading(source, item.read), known, by_lines=item.by_lines
                )
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
            f"EndpointList(files={self.files!r}, targets={self._targets}, count={self._count}, "
            f"total={self._total}, duplicates={self._duplicates})"
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
    exclude: Sequence[str] = (),
    warn: Callable[[str], None] | None = None,
) -> EndpointList:
    """Validate the endpoint lists at ``paths``, all of them, and return them for iteration.

    A path is, in this order:

    - ``-``: ``stdin`` (``sys.stdin`` by default), read once and kept in memory, in
      ``stdin_format``, or in the format ``detect_format`` finds when it is None; then, should
      it have problems, one more problem after them says which format it was read as, and why,
      and names ``--stdin-format``.
    - a file (its format by its name, see ``format_of``), always read.
    - a directory: every ``*.yaml``/``*.yml`` below it, recursively, sorted, hidden entries
      left out. The CSV and text lists below it (``*.csv``, ``*.txt``, ``*.list``) are not
      read, each with a warning (a directory may hold CSV reports, which read as lists), nor
      any other file. A YAML file that fails as a list and whose top is a mapping without
      ``endpoints`` or ``defaults`` (nor a key like them) is no endpoint list (a Kubernetes
      manifest, say): skipped with a warning naming its keys; any other failing file is a
      problem. A directory that leaves no list to read is a problem.
    - a *target*: a path that names no file (nor is ``-``) and reads as an endpoint string
      (``host``, ``host:port``, ``[v6]:port``, a TLS URL, as a line of a text list) is that
      endpoint, with ``settings``. One that does not read is a problem of ``COMMAND_LINE``
      at its place among the paths (from 1): ``(command line):2: ARG: neither a file nor an
      endpoint: why``; but one that looks like a file's name (it holds ``/``, or ends in a
      list's suffix, and is no URL) is ``ARG: no such file or directory``. A target of one
      word (no dot, no port; not ``localhost``) is read with a warning: it may be a
      directory's name, mistyped. An existing file or directory wins over a target.

    Targets, files and standard input mix in any order; duplicates are skipped across all of
    them, the first one wins. ``exclude`` holds shell globs that leave the files and
    directories they match out of the directories (not the paths named: a file named that
    one matches is read, with a warning): a pattern matches an entry's name, its path below
    the directory given, or its path as shown in messages; ``**`` matches any number of
    directories (see ``_glob``). ``warn`` is called with each warning, one line each (the
    file, then what happened to it), in path order; without it, they are dropped.

    With ``select``, the list's ``count`` and its iteration hold only the unique endpoints
    for which ``select(host, port, address)`` is true; ``total`` and ``duplicates`` still
    count them all. Raises ``ConfigError`` with every problem of every path, in path order;
    ``ValueError`` for an empty ``exclude`` pattern (``check_exclude``).
    """
    if isinstance(paths, str):
        raise TypeError("load() takes a sequence of paths, not one string")
    excluded = _Exclude(exclude)
    tell: Callable[[str], None] = warn if warn is not None else _ignore
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
    for position, path in enumerate(paths, 1):
        if path == "-":
            if stdin_source is None:
                stdin_source = _stdin_source(sys.stdin if stdin is None else stdin, stdin_format)
            found: Iterator[_Source | _Target | Problem] = iter([stdin_source])
        else:
            found = _sources(path, position, checking, excluded, tell)
        skipped = 0
        before = len(lists), len(problems)
        for source in found:
            if isinstance(source, Problem):
                problems.append(source)
                continue
            opener: _Reading | None = None
            reader: _Reader
            if isinstance(source, _Target):
                reader = _TargetReader(source, checking)
            else:
                opener = _Reading(source)
                reader = _reader(source, checking, opener)
            # Staged apart from `seen`: should the file's defaults come after its endpoints
            # and change the port, these keys were wrong and are counted again.
            counted = _count(reader, seen, select)
            if reader.problems:
                skip = _no_list(source) if isinstance(source, _Source) and source.found else None
                if skip is not None:
                    skipped += 1
                    tell(f"{source.name}: skipped: {skip}")
                else:
                    problems.extend(reader.problems)
                    problems.extend(_format_hint(source))
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
                        problems.extend(_format_hint(source))
                        continue
            fresh, repeated, selected, entries = counted
            count += selected
            duplicates += len(repeated)
            if len(fresh) > len(seen):  # merge the smaller set into the larger one
                fresh, seen = seen, fresh
            seen |= fresh
            lists.append(
                _List(
                    source,
                    known,
                    by_lines,
                    entries,
                    frozenset(repeated),
                    None if opener is None else opener.bytes_read(),
                )
            )
        if skipped and before == (len(lists), len(problems)):
            problems.append(
                Problem(
                    path,
                    None,
                    "no endpoint list in this directory: none of its *.yaml/*.yml files "
                    f"({skipped}) is one",
                )
            )
    if problems:
        raise ConfigError(problems)
    return EndpointList(
        tuple(lists), base, select, total=len(seen), count=count, duplicates=duplicates
    )


def _ignore(_: str) -> None:
    return None


def _format_hint(source: _Source | _Target) -> list[Problem]:
    """After the problems of standard input whose format was detected: how it was read."""
    if isinstance(source, _Target) or not source.detected:
        return []
    return [
        Problem(
            source.name,
            None,
            f"standard input read as {source.format} ({source.detected}); "
            "say --stdin-format yaml|text|csv",
        )
    ]


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
