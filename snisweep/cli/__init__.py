"""The command line: parsing, the commands, and what the terminal shows. Does terminal I/O.

``commands`` parses the arguments, runs the command and maps ``SnisweepError`` to exit codes;
``terminal`` draws the progress bar, the summary line and the demo's table. Nothing outside this
package writes to the terminal.

``main`` is where the program starts (the ``snisweep`` command and ``python -m snisweep``), and
it starts with the signals, so that a stop at any moment ends with exit code 130 and one line,
never a traceback or a silent death: SIGTERM raises ``KeyboardInterrupt`` as SIGINT does, and
while modules load both wait for the end of the import (``interrupts_held``). Once the event loop
runs, the scan session watches both signals itself.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

EXIT_INTERRUPTED = 130

__all__ = ["interrupts_held", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``snisweep`` command; returns the exit code."""
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:  # an ignored SIGTERM (nohup-like parents) stays ignored
        try:
            signal.signal(signal.SIGTERM, signal.default_int_handler)
        except ValueError:  # called from a thread: only the main thread handles signals
            previous = None
    try:
        with interrupts_held():
            from snisweep.cli.commands import main as run  # noqa: PLC0415 - signals set first

        code = run(argv)
    except KeyboardInterrupt:
        # Only before the command's own handling is in place: while the modules load.
        sys.stderr.write("snisweep: interrupted\n")
        sys.stderr.flush()
        code = EXIT_INTERRUPTED
    finally:
        if previous is signal.SIG_DFL and signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
            signal.signal(signal.SIGTERM, previous)
    if code == EXIT_INTERRUPTED:
        # An interrupt can land while an object is half made (an event loop being set up), and
        # its finalizer then complains at exit ("Exception ignored in BaseEventLoop.__del__"):
        # the one line already said what happened, so such complaints are not shown.
        sys.unraisablehook = _ignore
    return code


def _ignore(unraisable: sys.UnraisableHookArgs) -> None:
    del unraisable


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the end of the block, then raise ``KeyboardInterrupt`` if
    one came: for imports. Raised while a module loads, it may be raised inside code that ``exec``
    runs (dataclasses and named tuples are made so), and CPython 3.11 then exits by SIGINT at
    the end even though the interrupt was caught."""
    came: list[int] = []

    def hold(signum: int, frame: object) -> None:
        came.append(signum)

    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        for signum, handler in previous.items():
            if handler is not signal.SIG_IGN:
                signal.signal(signum, hold)
    except ValueError:  # not the main thread, where signals are handled: nothing to hold
        previous = {}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)
    if came:
        raise KeyboardInterrupt
