"""The public surface users and their scripts rely on: exported names, documented codes."""

from __future__ import annotations

import re
from pathlib import Path

import snisweep
from snisweep.core.record import COLUMNS
from snisweep.model import Reason, Verdict, WarningCode

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_exported_members() -> None:
    assert set(snisweep.__all__) == {
        "Certificate",
        "Classification",
        "ConfigError",
        "Endpoint",
        "Failure",
        "FailureKind",
        "Handshake",
        "HttpAnswer",
        "HttpOutcome",
        "ListChangedError",
        "Observation",
        "OutputError",
        "Probed",
        "Problem",
        "Proxy",
        "Reason",
        "SnisweepError",
        "TLSVersion",
        "Target",
        "Trust",
        "UsageError",
        "Verdict",
        "WarningCode",
        "__version__",
    }


def test_readme_documents_every_reason_with_its_verdict() -> None:
    rows = dict(
        re.findall(r"^\| `([a-z-]+)` \| (required|mismatched|optional|error) \|", README, re.M)
    )
    assert set(rows) == {reason.value for reason in Reason}
    assert set(rows.values()) == {verdict.value for verdict in Verdict}


def test_readme_documents_every_warning_code() -> None:
    rows = set(re.findall(r"^\| `([a-z-]+)` \| [^|]+ \| [^|]+ \| [^|]+ \|$", README, re.M))
    assert {code.value for code in WarningCode} <= rows


def test_readme_documents_every_column_and_exit_code() -> None:
    for column in COLUMNS:
        assert f"`{column}`" in README, column
    for code in ("0", "1", "2", "3", "130"):
        assert f"| {code} |" in README


def test_readme_gives_the_two_commands_ci_runs() -> None:
    assert "python3 -m pip install . && snisweep demo" in README
    test_command = "python3 -m pip install -e '.[test]' && scripts/check"
    assert test_command in README
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
