"""Helpers the tests of the list readers share: write a list, load it, collect its problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from snisweep.errors import ConfigError, Problem
from snisweep.lists.load import Settings, load
from snisweep.model import Endpoint

DEFAULTS = Settings()
EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "example.yaml"


def write(directory: Path, name: str, text: str | bytes) -> str:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def endpoints_of(tmp_path: Path, text: str, settings: Settings = DEFAULTS) -> list[Endpoint]:
    return list(load([write(tmp_path, "list.yaml", text)], settings))


def only(tmp_path: Path, text: str, settings: Settings = DEFAULTS) -> Endpoint:
    (endpoint,) = endpoints_of(tmp_path, text, settings)
    return endpoint


def problems_of(paths: list[str], settings: Settings = DEFAULTS) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load(paths, settings)
    return list(caught.value.problems)
