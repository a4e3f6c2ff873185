"""The JSON Schema of YAML endpoint lists, for editors: ``snisweep schema`` prints it.

I/O: reads ``schema.json``, the package data file beside this module, nothing else.

The schema (JSON Schema draft 2020-12, written with the keywords that mean the same in draft 7,
which most YAML language servers implement) describes every key of a list
(``snisweep.lists.yaml_list``) with its type, range and a description editors show. It is a
help for writing lists, not the validator: whatever snisweep accepts, the schema accepts, but
not the other way round. ``snisweep validate`` alone checks host names and addresses, the TLS
range, what YAML 1.1 makes of numbers, duplicates, and the rest that a schema cannot say
(``tests/test_schema.py`` lists them). Its ``$id`` is a URN: there is no URL to fetch it from,
so an editor is pointed at a local copy, ``snisweep schema > snisweep-schema.json``::

    # yaml-language-server: $schema=snisweep-schema.json
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Final

__all__ = ["SCHEMA_ID", "schema", "schema_text"]

#: The schema's ``$id``.
SCHEMA_ID: Final = "urn:snisweep:endpoint-list:0.2"


def schema_text() -> str:
    """The schema as the JSON text shipped in the package (UTF-8, ends with a newline)."""
    return resources.files("snisweep.lists").joinpath("schema.json").read_text(encoding="utf-8")


def schema() -> dict[str, Any]:
    """The schema, parsed."""
    parsed: dict[str, Any] = json.loads(schema_text())
    return parsed
