"""Plain-text endpoint lists: one endpoint per line, as CMDBs and scripts export them.

I/O: reads the file it is handed (through the opener it is given), nothing else.

::

    # exported from the CMDB on 2024-05-01
    api.example.com
    api.example.com:8443          # a comment after the endpoint
    [2001:db8::10]:443
    https://hr.example.net:9443/ws/soap

A line ends at LF, CR LF or a lone CR. Each line is stripped of the white space around it;
blank lines and comments are skipped. A comment starts with a ``#`` at the start of the line or
after white space (so a URL's ``/#/fragment`` is not one). What is left is an endpoint string,
read by the same rules as a string in a YAML list (``snisweep.lists.rules.host_and_port``);
every other setting comes from the command line (the TLS range, ``all_addresses`` and the
proxy too: the command line's, else the environment's unless ``no_proxy`` bypasses the host).
So does the protocol, but for a URL:
``https://`` and ``wss://`` URLs get the HTTP check with their path and query, the other
schemes (``ldaps://``, ...) none (``snisweep.lists.rules.http_path``). UTF-8, with or without a
byte order mark.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import BinaryIO, Final

from snisweep.errors import Problem, cannot_read
from snisweep.lists.rules import Defaults, Entry, lines, string_entry

__all__ = ["TextReader"]

_COMMENT: Final = re.compile(r"\s#")
_CHUNK: Final = 1 << 16  # bytes read at a time


class TextReader:
    """One pass over one text list: iterating yields its valid entries and fills ``problems``."""

    def __init__(self, name: str, open_stream: Callable[[], BinaryIO], base: Defaults) -> None:
        self.name = name
        self.defaults = base  # a text list has no defaults of its own
        self.problems: list[Problem] = []
        self._open = open_stream

    def __iter__(self) -> Iterator[Entry]:
        self.problems = []
        name, defaults, problems = self.name, self.defaults, self.problems
        try:
            with self._open() as stream:
                chunks = iter(lambda: stream.read(_CHUNK), b"")
                for number, raw in enumerate(lines(chunks), 1):
                    try:
                        line = raw.decode()
                    except UnicodeDecodeError as exc:
                        problems.append(Problem(name, number, f"not valid UTF-8 text ({exc})"))
                        continue
                    text = line.strip()
                    if number == 1 and text.startswith("\ufeff"):
                        text = text[1:].strip()  # the byte order mark
                    if not text or text[0] == "#":
                        continue
                    if "#" in text and (comment := _COMMENT.search(text)) is not None:
                        text = text[: comment.start()].rstrip()
                    try:
                        yield string_entry(text, number, defaults)
                    except ValueError as exc:
                        problems.append(Problem(name, number, str(exc)))
        except FileNotFoundError:
            problems.append(Problem(name, None, "no such file or directory"))
        except OSError as exc:
            problems.append(Problem(name, None, cannot_read(exc)))
