"""Shell completion for bash and zsh: a script generated from the command line's parser.

I/O: none; ``completion_script`` returns the text that ``snisweep completion SHELL`` prints.

The script is made by shtab from the parser, so it knows every command and option as they
are, with nothing to keep in step by hand; once made, it runs in the shell alone, without
starting Python at each Tab. shtab is an optional dependency (``snisweep[completion]``), needed
only to make the script. ``annotate`` tells shtab what the arguments complete to, beyond the
``choices`` it reads itself (``--protocol``, ``--format``, ``--stdin-format``), by each
argument's ``dest``, else its metavar, in the parser and in every subcommand's::

    configs (CONFIG, LIST)          lists (*.yaml, *.yml, *.txt, *.list, *.csv), directories
    reports, report, old, new,      files
      output, ca_file (PATH, FILE,
      REPORT)
    fail_on, only (VERDICT,...)     the verdicts, comma-separated
    tls_min, tls_max                1.0 1.1 1.2 1.3
    proxy                           direct (or type a URL)

So an argument added later under one of these names completes with nothing more to do.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from snisweep.errors import UsageError
from snisweep.model import TLSVersion, Verdict

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["SHELLS", "annotate", "completion_script"]

#: The shells ``completion_script`` writes for.
SHELLS: Final = ("bash", "zsh")

#: The names of files that are lists (``snisweep.lists.load.format_of``), for CONFIG.
LIST_PATTERNS: Final = ("*.yaml", "*.yml", "*.txt", "*.list", "*.csv")

_MISSING: Final = "shell completion needs shtab: pip install 'snisweep[completion]'"


def _shtab() -> ModuleType:
    try:
        import shtab  # noqa: PLC0415 - optional: only making a script needs it
    except ImportError:
        raise UsageError(_MISSING) from None
    return shtab


def _words(name: str, words: list[str], *, comma_separated: bool = False) -> dict[str, Any]:
    """A shtab ``complete`` value that offers ``words``; ``comma_separated``: a list of them,
    each completed after the last comma."""
    joined = " ".join(words)
    function = f"_shtab_snisweep_{name}_words"  # no "_file"/"_dir": no slashes appended
    if comma_separated:
        bash = (
            f"{function}() {{\n"
            '  local head=""\n'
            '  [[ $1 == *,* ]] && head="${1%,*},"\n'
            f'  compgen -P "$head" -W "{joined}" -- "${{1##*,}}"\n'
            "}\n"
        )
        zsh = f"_values -s , {name} {joined}"
    else:
        bash = f'{function}() {{\n  compgen -W "{joined}" -- "$1"\n}}\n'
        zsh = f"({joined})"
    return {"bash": function, "zsh": zsh, "preamble": {"bash": bash}}


def _completions(shtab: ModuleType) -> tuple[dict[str, Any], dict[str, Any]]:
    """What arguments complete to: by their ``dest``, else by their metavar."""
    files = shtab.FILE
    lists = shtab.glob(*LIST_PATTERNS)
    versions = _words("tls", [v.value for v in TLSVersion])
    verdicts = _words("verdict", [v.value for v in Verdict], comma_separated=True)
    by_dest = {
        "configs": lists,
        "reports": files,
        "report": files,
        "old": files,
        "new": files,
        "output": files,
        "ca_file": files,
        "fail_on": verdicts,
        "only": verdicts,
        "tls_min": versions,
        "tls_max": versions,
        "proxy": _words("proxy", ["direct"]),
    }
    by_metavar = {
        "CONFIG": lists,
        "LIST": lists,
        "PATH": files,
        "FILE": files,
        "REPORT": files,
        "VERDICT,...": verdicts,
    }
    return by_dest, by_metavar


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """The actions of ``parser`` and of its subcommands' parsers, at any depth."""
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for subparser in action.choices.values():
                if id(subparser) not in seen:  # a command's aliases share its parser
                    seen.add(id(subparser))
                    yield from _actions(subparser)


def annotate(parser: argparse.ArgumentParser) -> None:
    """Mark what the arguments of ``parser`` and of its subcommands complete to, for shtab
    (each action's ``complete``). May be called more than once. Raises ``UsageError`` when
    shtab is not installed."""
    by_dest, by_metavar = _completions(_shtab())
    for action in _actions(parser):
        if action.nargs == 0 or action.choices is not None:  # a flag, or shtab knows
            continue
        complete = by_dest.get(action.dest)
        if complete is None and isinstance(action.metavar, str):
            complete = by_metavar.get(action.metavar)
        if complete is not None:
            action.complete = complete  # type: ignore[attr-defined]


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` (the command line's, ``snisweep.cli.commands``)
    for ``shell``, one of ``SHELLS``; ``annotate`` marks the parser first. Raises
    ``UsageError`` for another shell, and when shtab is not installed."""
    if shell not in SHELLS:
        raise UsageError(f"no completion for {shell!r}; choose {' or '.join(SHELLS)}")
    shtab = _shtab()
    annotate(parser)
    script: str = shtab.complete(parser, shell=shell)
    return script if script.endswith("\n") else script + "\n"
