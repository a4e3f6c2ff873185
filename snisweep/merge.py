"""Merging shard reports into one report (placeholder until the merge command lands)."""

from __future__ import annotations

from collections.abc import Sequence

from snisweep.errors import UsageError
from snisweep.report import Format


def merge(reports: Sequence[str], output: str, fmt: Format | None) -> str:
    """Combine ``reports`` into ``output``; returns a one-line summary."""
    raise UsageError("merge is not implemented yet")
