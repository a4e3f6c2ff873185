"""The figures of a run against their targets, as a text table and a Markdown table, and the
machine they were measured on. Reads /proc and asks ``openssl version``; otherwise pure.
"""

from __future__ import annotations

import os
import platform
import re
import ssl
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PASS, MISS, INFO = "PASS", "MISS", "-"


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of the summary: a measured figure next to its same-run baseline and target."""

    section: str
    figure: str  # what was measured, and how
    value: str
    baseline: str = "-"
    ratio: str = "-"
    target: str = "-"
    verdict: str = INFO


def judge(value: float, limit: float) -> str:
    return PASS if value <= limit else MISS


def machine(server: str) -> list[tuple[str, str]]:
    return [
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("OS", _os_name()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("OpenSSL", f"{_openssl_cli()} (command line); {ssl.OPENSSL_VERSION} (Python ssl)"),
        ("server", server),
        ("load", load()),
    ]


def load() -> str:
    """The load averages: other work on the machine shows in every wall-clock figure."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min) at the start"


def _cpu_model() -> str:
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        found = None
    return found.group(1).strip() if found else platform.processor() or "?"


def _os_name() -> str:
    try:
        release = Path("/etc/os-release").read_text()
    except OSError:
        release = ""
    found = re.search(r'^PRETTY_NAME="?([^"\n]+)', release, re.M)
    name = found.group(1) if found else platform.system()
    return f"{name}, kernel {platform.release()}"


def _openssl_cli() -> str:
    try:
        return subprocess.run(
            ["openssl", "version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "openssl not found"


_HEADER = ("section", "figure", "result", "baseline (same run)", "ratio", "target", "")


def _cells(figure: Figure) -> tuple[str, ...]:
    return (
        figure.section,
        figure.figure,
        figure.value,
        figure.baseline,
        figure.ratio,
        figure.target,
        figure.verdict,
    )


def text_table(figures: Sequence[Figure]) -> str:
    rows = [_HEADER, *(_cells(f) for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(figures: Sequence[Figure], machine_facts: Sequence[tuple[str, str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(("machine", "")), line(("---", "---"))]
    out += [line(fact) for fact in machine_facts]
    out += ["", line(_HEADER), line(["---"] * len(_HEADER))]
    out += [line(_cells(f)) for f in figures]
    return "\n".join(out)
