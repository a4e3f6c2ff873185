"""CSV endpoint lists: a header row, then one endpoint per row, as spreadsheets and CMDBs
export them.

I/O: reads the file it is handed (through the opener it is given), nothing else.

::

    Host,Port,Label,Tags,Owner,Location
    api.example.com,8443,Public API,prod;api,team-a,eu-1
    billing.example.org,,Billing SOAP,billing,team-b,eu-2

    url,label,protocol,tls_min,proxy,all_addresses
    https://hr.example.net:9443/ws/soap?wsdl,HR SOAP,,1.2,,
    ldaps://ldap.example.com,Directory,,,http://proxy.example.net:3128,
    mail.example.com:465,Mail,tls,,direct,yes

The columns are found by their header, case-insensitive, white space around it ignored; columns
not named here are ignored (exports have many). Every cell is stripped; an empty cell sets
nothing, so the command line's settings apply.

- ``host``: a host name or IP address alone, as the ``host`` of a YAML mapping;
  ``url``: an endpoint string (URL, ``host:port``, ``host``, ``[v6]:port``), as a line of a text
  list. The header needs at least one of them. A row takes ``host`` when its host cell is not
  empty, else ``url``.
- ``port``: the port of a ``host``. Next to a ``url`` it may fill in a port the URL does not
  give, or repeat the URL's; one that contradicts the URL is a problem.
- ``address``, ``sni``, ``label``, ``timeout`` (seconds), ``retries``, ``protocol``
  (``https`` or ``tls``), ``tls_min`` and ``tls_max`` (``1.0`` to ``1.3``, also ``TLSv1.2``),
  ``proxy`` (an ``http://`` URL, or ``direct`` for none, over the command line's and the
  environment's): as in YAML. A row whose ``tls_min`` is above its ``tls_max`` (its own or
  the command line's) is a problem.
- ``all_addresses``: ``true``, ``yes``, ``1`` or ``false``, ``no``, ``0``, in any case.
- ``tags``: separated by ``;``, as the report joins them (so a report's tags read back).

Only the host (from ``host`` or ``url``), ``port``, ``address`` and ``sni`` tell rows apart:
rows that differ in nothing else (their TLS range, proxy, ``all_addresses``, label, ...) are
one endpoint, as first listed.

Whether the probe makes its HTTP check, and with which path: the row's ``protocol``, else the
scheme of its ``url`` (``https://``/``wss://`` with the URL's path and query; ``ldaps://`` and
the other TLS schemes are plain TLS), else the command line's (HTTPS, path ``/``). A row that
takes its ``host`` ignores its ``url`` for this too, as for everything else.

The delimiter is ``,``, or ``;`` or a tab when the header line has no comma but one of those
(spreadsheets in many locales write ``;``). UTF-8, with or without the byte order mark that
spreadsheets write. Rows of empty cells are skipped. A problem's line is the physical line
where its row starts (a quoted cell may span lines).
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO, Final

from snisweep.errors import Problem, cannot_read
from snisweep.lists.proxies import check_proxy
from snisweep.lists.rules import (
    FROM_DEFAULTS,
    PORT_RANGE,
    RETRIES_RANGE,
    Defaults,
    Direct,
    Entry,
    ProtocolDefault,
    check_flag,
    check_integer,
    check_label,
    check_protocol,
    check_seconds,
    check_tag,
    check_tls_version,
    host_and_port,
    host_name,
    http_path,
    lines,
    make_entry,
    normalise_address,
    show,
    sni_name,
    union,
)
from snisweep.model import Proxy, TLSVersion

__all__ = ["COLUMNS", "CsvReader"]

#: The columns read; any other column is ignored.
COLUMNS: Final = (
    "host",
    "url",
    "port",
    "address",
    "sni",
    "label",
    "tags",
    "timeout",
    "retries",
    "protocol",
    "tls_min",
    "tls_max",
    "proxy",
    "all_addresses",
)
_SECONDS: Final = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_CHUNK: Final = 1 << 16  # bytes read at a time


class CsvReader:
    """One pass over one CSV list: iterating yields its valid entries and fills ``problems``."""

    def __init__(self, name: str, open_stream: Callable[[], BinaryIO], base: Defaults) -> None:
        self.name = name
        self.defaults = base  # a CSV list has no defaults of its own
        self.problems: list[Problem] = []
        self._open = open_stream
        self._bad_line = 0  # the last line that was not UTF-8 (reported already)

    def _problem(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.name, line, message))

    def __iter__(self) -> Iterator[Entry]:
        self.problems = []
        self._bad_line = 0
        try:
            with self._open() as stream:
                yield from self._rows(self._lines(stream))
        except FileNotFoundError:
            self._problem(None, "no such file or directory")
        except OSError as exc:
            self._problem(None, cannot_read(exc))

    def _lines(self, stream: BinaryIO) -> Iterator[str]:
        """The lines, each with its end (for the cells that span lines): LF, CR LF or CR."""
        chunks = iter(lambda: stream.read(_CHUNK), b"")
        for number, raw in enumerate(lines(chunks), 1):
            try:
                line = raw.decode()
            except UnicodeDecodeError as exc:
                self._problem(number, f"not valid UTF-8 text ({exc})")
                self._bad_line = number
                line = raw.decode(errors="replace")
            yield line[1:] if number == 1 and line.startswith("\ufeff") else line

    def _rows(self, lines: Iterator[str]) -> Iterator[Entry]:
        blank = 0  # lines before the header, which the csv reader never sees
        for first in lines:
            if first.strip():
                break
            blank += 1
        else:
            self._problem(1, "the file is empty; expected a header row naming a host or url column")
            return
        # The header line decides the delimiter; it is put back in front for the csv reader.
        delimiter = ","
        if "," not in first:
            delimiter = ";" if ";" in first else "\t" if "\t" in first else ","
        # strict: an unclosed quote would swallow the rows after it without a word
        reader = csv.reader(itertools.chain((first,), lines), delimiter=delimiter, strict=True)
        end = blank  # the last line of the last row read
        try:
            columns = self._columns(next(reader), blank + 1)
            if columns is None:
                return
            end = blank + reader.line_num
            for row in reader:
                start, end = end + 1, blank + reader.line_num
                if start <= self._bad_line or not any(cell.strip() for cell in row):
                    continue
                entry = self._row(row, columns, start)
                if entry is not None:
                    yield entry
        except csv.Error as exc:
            # the csv reader cannot go on after an error: the row where it stopped starts here
            self._problem(end + 1, f"CSV: {exc}")

    def _columns(self, header: list[str], line: int) -> dict[str, int] | None:
        """Where each known column is, or None (reported) when the header cannot serve."""
        positions: dict[str, int] = {}
        names = [cell.strip().lower() for cell in header]
        for index, name in enumerate(names):
            if name not in COLUMNS:
                continue
            if name in positions:
                self._problem(
                    line,
                    f"column {name!r} appears twice in the header "
                    f"(columns {positions[name] + 1} and {index + 1})",
                )
                return None
            positions[name] = index
        if "host" not in positions and "url" not in positions:
            found = ", ".join(repr(cell.strip()) for cell in header if cell.strip())
            self._problem(
                line,
                "the header names no 'host' and no 'url' column "
                f"(found: {show(found, 200) if found else 'nothing'}); is the first row a header?",
            )
            return None
        return positions

    def _row(self, row: list[str], columns: dict[str, int], line: int) -> Entry | None:
        cells = {name: row[index].strip() for name, index in columns.items() if index < len(row)}
        problems: list[str] = []
        port = _integer(cells.get("port"), "port", *PORT_RANGE, problems)
        name = sni = address = None
        is_ip = False
        host, url = cells.get("host"), cells.get("url")
        protocol: str | None = None
        if written := cells.get("protocol"):
            try:
                protocol = check_protocol(written)
            except ValueError as exc:
                problems.append(str(exc))
        path: str | ProtocolDefault | None = FROM_DEFAULTS
        try:
            if host:
                name, is_ip = host_name(host)
                if protocol is not None:
                    path = http_path(protocol)
            elif url:
                try:
                    name, url_port, is_ip = host_and_port(url)
                except ValueError as exc:
                    raise ValueError(f"url: {exc}") from None
                if url_port is not None:
                    if port is not None and port != url_port:
                        problems.append(
                            f"port {port} contradicts the url {show(url)} (port {url_port}); "
                            "write the port in the url, or leave 'port' empty"
                        )
                    port = url_port
                path = http_path(protocol, url)
            else:
                which = " or ".join(repr(c) for c in ("host", "url") if c in columns)
                problems.append(f"no {which} in this row")
        except ValueError as exc:
            problems.append(str(exc))
        timeout = retries = None
        tags: tuple[str, ...] = ()
        label = ""
        tls_min: TLSVersion | None = None
        tls_max: TLSVersion | None = None
        proxy: Proxy | Direct | None = None
        all_addresses: bool | None = None
        for key, text in cells.items():
            if not text or key in ("host", "url", "port", "protocol"):
                continue
            try:
                if key == "address":
                    address = normalise_address(text)
                elif key == "sni":
                    sni = sni_name(text)
                elif key == "label":
                    label = check_label(text)
                elif key == "tags":
                    tags = union((), (check_tag(tag) for tag in text.split(";") if tag.strip()))
                elif key == "timeout":
                    timeout = _seconds(text)
                elif key == "retries":
                    retries = _integer(text, "retries", *RETRIES_RANGE, problems)
                elif key == "tls_min":
                    tls_min = check_tls_version(text, key)
                elif key == "tls_max":
                    tls_max = check_tls_version(text, key)
                elif key == "proxy":
                    proxy = check_proxy(text)
                else:
                    all_addresses = check_flag(text, key)
            except ValueError as exc:
                problems.append(str(exc))
        if problems or name is None:
            self.problems.extend(Problem(self.name, line, message) for message in problems)
            return None
        try:
            # by position, in the order of an Entry: keyword arguments cost more than the call
            return make_entry(
                self.defaults,
                line,
                name,
                is_ip,
                port,
                address,
                sni,
                label,
                tags,
                timeout,
                retries,
                path,
                tls_min,
                tls_max,
                proxy,
                all_addresses,
            )
        except ValueError as exc:  # its TLS range, with the command line's, is empty
            self._problem(line, str(exc))
            return None


def _seconds(text: str) -> float:
    if not _SECONDS.fullmatch(text):
        raise ValueError(f"timeout: expected a number of seconds, found {show(text)}")
    return check_seconds(float(text), text)


def _integer(text: str | None, key: str, low: int, high: int, problems: list[str]) -> int | None:
    """The integer in a cell, None for an empty cell or (reported in ``problems``) a bad one."""
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        problems.append(f"{key}: expected an integer {low}..{high}, found {show(text)}")
        return None
    try:
        # the length test keeps int() away from absurdly long digit strings
        return check_integer(int(text) if len(text) <= 20 else high + 1, text, key, low, high)
    except ValueError as exc:
        problems.append(str(exc))
        return None
