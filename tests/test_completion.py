"""Shell completion (snisweep.cli.completion): the scripts made from the real parser name every
command and option, are valid bash and zsh, and complete what each argument takes. Runs bash
(and zsh when it is installed); no sockets."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from snisweep.cli.commands import _parser
from snisweep.cli.completion import LIST_PATTERNS, SHELLS, annotate, completion_script
from snisweep.errors import UsageError
from snisweep.model import TLSVersion, Verdict

pytest.importorskip("shtab")

BASH = shutil.which("bash")
ZSH = shutil.which("zsh")
OPTIONS = (
    "--proxy",
    "--tls-min",
    "--tls-max",
    "--timeout",
    "--retries",
    "--protocol",
    "--all-addresses",
    "--fail-on",
    "--output",
    "--format",
    "--stdin-format",
    "--ca-file",
    "--concurrency",
)


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    (subparsers,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    return list(_subparsers(parser).choices)


def _script(shell: str) -> str:
    return completion_script(_parser(), shell)


@pytest.mark.parametrize("shell", SHELLS)
def test_the_script_names_every_command_and_option(shell: str) -> None:
    script = _script(shell)
    commands = _commands(_parser())
    assert {"scan", "validate", "merge", "demo", "lab"} <= set(commands)
    for name in (*commands, *OPTIONS):
        assert name in script, name
    assert script.endswith("\n")


def test_the_scripts_are_made_from_the_parser_as_it_is() -> None:
    parser = _parser()
    sub = _subparsers(parser).add_parser("frobnicate", help="a command the scripts did not know")
    sub.add_argument("--wibble", metavar="PATH", help="a file")
    for shell in SHELLS:
        script = completion_script(parser, shell)
        assert "frobnicate" in script
        assert "--wibble" in script


def test_annotate_marks_the_arguments_that_take_values() -> None:
    parser = _parser()
    annotate(parser)
    annotate(parser)  # again: the same marks
    marked: dict[str, Any] = {}
    for action in _all_actions(parser):
        for name in action.option_strings or [action.dest]:
            marked[name] = getattr(action, "complete", None)
    assert marked["configs"]["zsh"] == "_files -g '({})'".format("|".join(LIST_PATTERNS))
    for name in ("reports", "-o", "--output", "--ca-file"):
        assert marked[name]["bash"] == "_shtab_compgen_files", name
    assert marked["--tls-min"]["zsh"] == "({})".format(" ".join(v.value for v in TLSVersion))
    assert marked["--proxy"]["zsh"] == "(direct)"
    assert marked["--fail-on"]["zsh"].startswith("_values -s , verdict")
    # flags take no value, and shtab reads choices itself
    for name in ("--all-addresses", "--no-http", "--quiet", "--protocol", "--format"):
        assert marked[name] is None, name
    assert completion_script(parser, "bash") == _script("bash")


def _all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    actions = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                actions.extend(_all_actions(sub))
    return actions


def test_another_shell_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="bash or zsh"):
        completion_script(_parser(), "fish")


def test_without_shtab_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "shtab", None)  # import shtab raises ImportError
    message = "shell completion needs shtab: pip install 'snisweep\\[completion\\]'"
    with pytest.raises(UsageError, match=message):
        completion_script(_parser(), "bash")
    with pytest.raises(UsageError, match=message):
        annotate(_parser())


# --- bash -------------------------------------------------------------------------------------

needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


@needs_bash
def test_bash_reads_the_script(tmp_path: Path) -> None:
    assert BASH is not None
    script = tmp_path / "snisweep.bash"
    script.write_text(_script("bash"), encoding="utf-8")
    subprocess.run([BASH, "-n", str(script)], check=True, timeout=30)
    # sourced, it registers the function for the command
    done = subprocess.run(
        [BASH, "-c", f'source "{script}" && complete -p snisweep'],
        check=True,
        timeout=30,
        capture_output=True,
        text=True,
    )
    assert "-F _shtab_snisweep snisweep" in done.stdout


HARNESS = """
source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
_shtab_snisweep
printf '%s\\n' "${COMPREPLY[@]}"
"""
FILES = ("a.yaml", "b.yml", "c.csv", "d.txt", "e.list", "f.json", "report.jsonl")
LISTS = {"a.yaml", "b.yml", "c.csv", "d.txt", "e.list", "sub"}
EVERY_FILE = {*FILES, "sub"}
VERSIONS = {v.value for v in TLSVersion}
VERDICTS = {v.value for v in Verdict}


@needs_bash
@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param(["sc"], {"scan", "schema"}, id="command"),
        pytest.param(["v"], {"validate"}, id="validate"),
        pytest.param(["scan", ""], LISTS, id="scan-lists"),
        pytest.param(["scan", "a.yaml", ""], LISTS, id="scan-more-lists"),
        pytest.param(["validate", "s"], {"sub"}, id="validate-directory"),
        pytest.param(["scan", "--tls-"], {"--tls-min", "--tls-max"}, id="options"),
        pytest.param(["scan", "--tls-min", ""], VERSIONS, id="tls-min"),
        pytest.param(["scan", "--tls-max", "1."], VERSIONS, id="tls-max"),
        pytest.param(["scan", "--fail-on", ""], VERDICTS, id="fail-on"),
        pytest.param(
            ["scan", "--fail-on", "required,m"], {"required,mismatched"}, id="fail-on-second"
        ),
        pytest.param(["scan", "--proxy", ""], {"direct"}, id="proxy"),
        pytest.param(["scan", "--protocol", ""], {"https", "tls"}, id="protocol"),
        pytest.param(["scan", "--stdin-format", ""], {"yaml", "text", "csv"}, id="stdin-format"),
        pytest.param(["scan", "-o", ""], EVERY_FILE, id="output"),
        pytest.param(["scan", "--ca-file", "f"], {"f.json"}, id="ca-file"),
        pytest.param(["merge", "r"], {"report.jsonl"}, id="merge-reports"),
        pytest.param(["merge", "--output", "r"], {"report.jsonl"}, id="merge-output"),
    ],
)
def test_bash_completes(tmp_path: Path, words: list[str], expected: set[str]) -> None:
    assert BASH is not None
    script = tmp_path / "snisweep.bash"
    script.write_text(_script("bash"), encoding="utf-8")
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    for name in FILES:
        (work / name).touch()
    done = subprocess.run(
        [BASH, "-c", HARNESS, "harness", str(script), "snisweep", *words],
        cwd=work,
        check=True,
        timeout=30,
        capture_output=True,
        text=True,
    )
    assert set(done.stdout.split()) == expected


# --- zsh --------------------------------------------------------------------------------------

needs_zsh = pytest.mark.skipif(ZSH is None, reason="zsh is not installed")


@needs_zsh
def test_zsh_reads_the_script(tmp_path: Path) -> None:
    assert ZSH is not None
    script = tmp_path / "_snisweep"
    script.write_text(_script("zsh"), encoding="utf-8")
    subprocess.run([ZSH, "-n", str(script)], check=True, timeout=30)
    assert script.read_text(encoding="utf-8").startswith("#compdef snisweep\n")
    # evaluated after compinit (as in ~/.zshrc), it registers the function for the command
    check = (
        f"autoload -Uz compinit && compinit -u -d {tmp_path / 'zcompdump'}"
        f' && eval "$(<{script})" && print -r -- $_comps[snisweep]'
    )
    done = subprocess.run(
        [ZSH, "-f", "-c", check],
        check=True,
        timeout=30,
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip() == "_shtab_snisweep"


def _zsh_specs(script: str, start: str) -> list[str]:
    """The _arguments specs of the script that start with ``start``."""
    return [line.strip() for line in script.splitlines() if line.strip().startswith(start)]


def test_zsh_completes_each_argument_with_its_kind() -> None:
    script = _script("zsh")
    versions = " ".join(v.value for v in TLSVersion)
    verdicts = " ".join(v.value for v in Verdict)
    for start, end in (
        ('"--tls-min[', f':({versions})"'),
        ('"--tls-max[', f':({versions})"'),
        ('"--proxy[', ':(direct)"'),
        ('"--fail-on[', f':_values -s , verdict {verdicts}"'),
        ('"--only[', f':_values -s , verdict {verdicts}"'),
        ('"--ca-file[', ':_files"'),
        ('{-o,--output}"[', ':_files"'),
    ):
        specs = _zsh_specs(script, start)
        assert specs, start
        assert all(spec.endswith(end) for spec in specs), (start, specs)
    lists = ":_files -g '({})'\"".format("|".join(LIST_PATTERNS))
    positionals = _zsh_specs(script, '"(*):')  # the lists of scan and validate, merge's reports
    assert sum(spec.endswith(lists) for spec in positionals) == 2
    assert any(spec.endswith(':_files"') for spec in positionals)
