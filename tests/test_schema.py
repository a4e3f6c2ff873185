"""The JSON Schema of YAML lists (snisweep.lists.schema), held to the validator: the same
lists, read by jsonschema and by snisweep's own loader, must get the same answer wherever a
schema can say it. No sockets.

The promise is one-sided on purpose: whatever snisweep accepts, the schema accepts (an editor
must never underline a list that scans), so every value of ``BOTH_ACCEPT`` is read by both. The
reverse holds for every rule a schema can express (``BOTH_REFUSE``). What it cannot express, it
lets through, and only ``snisweep validate`` refuses (``ONLY_SNISWEEP_REFUSES`` pins each one,
so that a rule the schema learns is moved to ``BOTH_REFUSE``):

* host names and addresses: label syntax and lengths (``a..example.com``, 253 characters),
  IDNA, IPv4 and IPv6 syntax (``999.0.0.1``, ``010.0.0.1``, ``deadbeef``), a port written in
  ``host``, the ports and paths of endpoint strings and URLs (``:0``, ``:70000``, a space in a
  path, more than 2,048 characters), an ``sni`` that is not a name, unfilled templates
  (``{{env}}``, ``${HOST}``);
* a proxy URL's host, port, path and credentials (the schema checks ``direct`` or ``http://``);
* the TLS range: ``tls_min`` above ``tls_max``, within a level or across ``defaults``, the
  endpoint and the command line;
* what YAML 1.1 makes of numbers, which a schema only sees once loaded: ``0443`` (octal, 291)
  and ``1:30`` (base 60, 90) in a port, timeout or retry count; ``443.0`` (a float is no port,
  but JSON Schema's integers include it); ``tls_min: 1`` (JSON Schema's 1 is 1.0) and ``1.20``
  (loaded as 1.2, while snisweep reads the text); ``timeout: .nan``;
* Unicode characters that are not printable yet no control character, in tags
  (``str.isprintable``);
* duplicate keys (a YAML loader keeps the last), a second YAML document, YAML tags other than
  the plain types, an alias of a part snisweep never reads;
* settings that hold together: endpoints listed twice are one endpoint (no problem, not even
  for the validator).

Editors read YAML 1.2 unless told otherwise (``yaml.yamlVersion: "1.1"`` in VS Code): there
``yes``/``no`` are strings, so ``all_addresses: yes``, which snisweep (YAML 1.1) reads as true,
is underlined; write ``true``/``false``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from listfiles import EXAMPLE

from snisweep.errors import ConfigError
from snisweep.lists.load import load
from snisweep.lists.rules import (
    LABEL_MAX,
    PORT_RANGE,
    PROTOCOLS,
    RETRIES_RANGE,
    TIMEOUT_MAX,
    TLS_DEFAULT_PORTS,
)
from snisweep.lists.schema import SCHEMA_ID, schema, schema_text
from snisweep.lists.yaml_list import _DEFAULTS_KEYS, _ENDPOINT_KEYS
from snisweep.model import TLSVersion

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "snisweep" / "lists" / "schema.json"
SCHEMA = schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
ENTRY = SCHEMA["$defs"]["entry"]
DEFAULTS = SCHEMA["properties"]["defaults"]


def schema_accepts(text: str) -> bool:
    return bool(VALIDATOR.is_valid(yaml.safe_load(text)))


def snisweep_accepts(directory: Path, text: str) -> bool:
    path = directory / "list.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load([str(path)])
    except ConfigError:
        return False
    return True


# --- the schema itself ------------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"] == SCHEMA_ID
    assert jsonschema.validators.validator_for(SCHEMA) is jsonschema.Draft202012Validator


def test_the_schema_is_draft_7_too() -> None:
    # Most YAML language servers implement draft 7: the schema keeps to the keywords that
    # mean the same there (no prefixItems, $dynamicRef, unevaluated*, dependentRequired...).
    draft7 = {key: value for key, value in SCHEMA.items() if key != "$schema"}
    jsonschema.Draft7Validator.check_schema(draft7)
    validator = jsonschema.Draft7Validator(draft7)
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert validator.is_valid(document)
    assert not validator.is_valid({"endpoints": [{"host": "a.example.com", "port": 0}]})


def test_schema_text_is_the_package_file() -> None:
    text = schema_text()
    assert text == SCHEMA_FILE.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert json.loads(text) == SCHEMA


def _subschemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _subschemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _subschemas(value)


def test_the_keys_are_the_validators() -> None:
    assert list(DEFAULTS["properties"]) == list(_DEFAULTS_KEYS)
    assert set(ENTRY["properties"]) == set(_ENDPOINT_KEYS)
    assert next(iter(ENTRY["properties"])) == "host"
    assert ENTRY["required"] == ["host"]
    assert set(SCHEMA["properties"]) == {"defaults", "endpoints"}
    assert SCHEMA["required"] == ["endpoints"]
    for mapping in (SCHEMA, DEFAULTS, ENTRY):
        assert mapping["additionalProperties"] is False


def test_every_key_has_a_description() -> None:
    # Editors show them on hover and completion.
    for mapping in (SCHEMA, DEFAULTS, ENTRY):
        assert len(mapping["description"]) > 20
        for key, value in mapping["properties"].items():
            assert len(value.get("description", "")) > 20, key
    assert SCHEMA["properties"]["endpoints"]["items"] == {"$ref": "#/$defs/entry"}
    assert SCHEMA["items"] == {"$ref": "#/$defs/entry"}


def test_a_default_is_checked_as_the_endpoint_key_of_its_name() -> None:
    for key, value in DEFAULTS["properties"].items():
        endpoint = ENTRY["properties"][key]
        assert {**value, "description": ""} == {**endpoint, "description": ""}, key


def test_the_ranges_are_the_validators() -> None:
    keys = ENTRY["properties"]
    assert (keys["port"]["minimum"], keys["port"]["maximum"]) == PORT_RANGE
    assert (keys["retries"]["minimum"], keys["retries"]["maximum"]) == RETRIES_RANGE
    assert keys["timeout"]["exclusiveMinimum"] == 0
    assert keys["timeout"]["maximum"] == TIMEOUT_MAX
    assert keys["label"]["maxLength"] == LABEL_MAX
    assert tuple(keys["protocol"]["examples"]) == PROTOCOLS
    numbers, _ = keys["tls_min"]["anyOf"]
    assert [f"{n:.1f}" for n in numbers["enum"]] == [v.value for v in TLSVersion]
    assert keys["all_addresses"]["type"] == "boolean"
    for scheme in TLS_DEFAULT_PORTS:  # an endpoint string's URL schemes, in any case
        assert schema_accepts(f"- {scheme}://a.example.com\n"), scheme
        assert schema_accepts(f"- {scheme.upper()}://a.example.com\n"), scheme


def test_every_pattern_is_portable() -> None:
    # Editors run the patterns as ECMA-262 regular expressions, jsonschema as Python's: the
    # schema keeps to what both read alike (no inline flags, no possessive or atomic groups,
    # no \A, \Z, \d or \w whose ranges differ).
    patterns = [node["pattern"] for node in _subschemas(SCHEMA) if "pattern" in node]
    assert len(patterns) >= 8
    for pattern in patterns:
        re.compile(pattern)
        assert not re.search(r"\(\?[a-zA-Z]|\*\+|\+\+|\?\+|\(\?>|\\[AZdwDW]", pattern), pattern


# --- the lists in the repository --------------------------------------------------------------


def _readme_lists() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```yaml\n(.*?)^```", readme, re.M | re.S)
    return [block for block in blocks if "endpoints:" in block]


def test_the_example_validates() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    VALIDATOR.validate(yaml.safe_load(text))
    # and so do the commented keys of the example, uncommented
    for commented in (
        "  # tls_min: 1.2     #",
        "  # tls_max: 1.3     #",
        "  # proxy: http://proxy.example.net:3128",
        "  # - host: partner.example.com",
        "  #   proxy: http://user:password@proxy.example.net:3128",
    ):
        assert commented in text
        text = text.replace(commented, commented.replace("# ", "", 1))
    VALIDATOR.validate(yaml.safe_load(text))


def test_the_example_points_editors_at_the_schema() -> None:
    first = EXAMPLE.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match is not None, first
    assert (EXAMPLE.parent / match.group(1)).resolve() == SCHEMA_FILE


def test_the_readme_and_kubernetes_lists_validate(tmp_path: Path) -> None:
    lists = _readme_lists()
    assert lists
    configmap = yaml.safe_load((ROOT / "configs/kubernetes/endpoints-configmap.yaml").read_text())
    lists.append(configmap["data"]["endpoints.yaml"])
    for text in lists:
        VALIDATOR.validate(yaml.safe_load(text))
        assert snisweep_accepts(tmp_path, text)


# --- the same lists, read by both -------------------------------------------------------------

HOST = "a.example.com"

# Values of each key, as YAML text, for an endpoint mapping; those of a key in
# _DEFAULTS_KEYS are tried in `defaults` too.
BOTH_ACCEPT: dict[str, list[str]] = {
    "host": [
        "a.example.com",
        "A.Example.COM.",
        "svc_internal.example.net",
        "bücher.example.org",
        "xn--bcher-kva.example",
        "localhost",
        "192.0.2.10",
        "2001:db8::20",
        "'[2001:db8::20]'",
        "' a.example.com '",
    ],
    "port": ["1", "443", "65535", "0x1BB", "07", "+8443"],
    "address": ["203.0.113.10", "2001:db8::21", "'[2001:db8::21]'", "fe80::1%eth0", "'::1'"],
    "sni": ["other.example.com", "Other.Example.com.", "svc_x.example.net", "1a.example.com"],
    "label": ["Billing SOAP", "''", "2024", "1.10", "'" + "x" * LABEL_MAX + "'", "'ä ; b'"],
    "tags": ["[]", "[a, b]", "[a, a]", "[' a b ']", "[1, 1.5]", "[x-y_z, ünï]", '["a\\t"]'],
    "timeout": ["5", "0.001", "300", "300.0", "1.0e+2", "2.5"],
    "retries": ["0", "1", "10"],
    "protocol": ["https", "tls", "HTTPS", "' Tls '"],
    "tls_min": ["1.0", "1.1", "1.2", "1.3", "TLSv1.2", "tls1.1", "' TLSV1.3 '", "'1.2'"],
    "tls_max": ["1.3", "tlsv1.3"],
    "proxy": [
        "direct",
        "DIRECT",
        "' Direct '",
        "http://proxy.example.net:3128",
        "http://proxy.example.net",
        "http://user:pass%40word@proxy.example.net:3128/",
        "'HTTP://[2001:db8::1]:3128'",
        "'http://us er:p w@proxy.example.net'",
    ],
    "all_addresses": ["true", "false", "True", "yes", "off"],
}
BOTH_REFUSE: dict[str, list[str]] = {
    "host": ["''", "'  '", "null", "443", "https://a.example.com", "[a.example.com]", "{a: b}"],
    "port": ["0", "70000", "-1", "'443'", "true", "null", "[443]", "1.5"],
    "address": ["10", "a.example.com", "null", "[203.0.113.10]", "''"],
    "sni": ["192.0.2.10", "'2001:db8::1'", "'[2001:db8::1]'", "a.example.com:443", "''", "10"],
    "label": ["'" + "x" * (LABEL_MAX + 1) + "'", "null", "true", "[a]", "{a: b}"],
    "tags": ["a", "null", "[a;b]", "['']", "['  ']", '["a\\tb"]', "[true]", "[null]", "[[a]]"],
    "timeout": ["0", "301", "-1", "'5'", "true", "null", ".inf", "0.0", "1e-3", "1e+2"],
    "retries": ["11", "-1", "1.5", "'1'", "false", "null"],
    "protocol": ["ftp", "http", "''", "1", "null", "[https]", "https tls"],
    "tls_min": ["1.4", "2", "0.9", "'TLSv1.4'", "SSLv3", "true", "null", "'1.2.3'", "tls 1.2"],
    "tls_max": ["1.5", "'v1.3'"],
    "proxy": [
        "socks5://proxy.example.net:1080",
        "https://proxy.example.net:3128",
        "proxy.example.net:3128",
        "3128",
        "null",
        "true",
        "''",
        "none",
    ],
    "all_addresses": ["'yes'", "'true'", "1", "0", "null", "[true]"],
}
# Every key is tried both ways.
assert set(BOTH_ACCEPT) == set(BOTH_REFUSE) == set(_ENDPOINT_KEYS)


def _placements(key: str, value: str) -> Iterator[tuple[str, str]]:
    if key == "host":
        yield "endpoint", f"endpoints:\n  - host: {value}\n"
        yield "bare", f"- host: {value}\n  port: 443\n"
        return
    yield "endpoint", f"endpoints:\n  - host: {HOST}\n    {key}: {value}\n"
    yield "bare", f"- {{host: {HOST}, {key}: {value}}}\n"
    if key in _DEFAULTS_KEYS:
        yield "defaults", f"defaults:\n  {key}: {value}\nendpoints:\n  - {HOST}\n"


def _cases(table: dict[str, list[str]]) -> list[Any]:
    return [
        pytest.param(text, id=f"{where}-{key}-{number}")
        for key, values in table.items()
        for number, value in enumerate(values)
        for where, text in _placements(key, value)
    ]


# Whole lists: their structure, their entries, their keys.
LISTS_BOTH_ACCEPT = [
    "endpoints: []\n",
    "[]\n",
    "defaults:\nendpoints: []\n",
    "defaults: {}\nendpoints: [a.example.com]\n",
    "endpoints:\n  - a.example.com\ndefaults:\n  port: 8443\n",
    "- a.example.com\n- a.example.com:8443\n- '[2001:db8::10]:443'\n- '[2001:db8::11]'\n",
    "- 2001:db8::12\n- 192.0.2.10:8443\n- ' b.example.com '\n",
    "- https://hr.example.net:9443/ws/soap?wsdl\n- wss://push.example.net/#/x\n",
    "- HTTPS://A.example.com\n- ldaps://ldap.example.com\n- ftps://files.example.com:2990\n",
    "- https://erp.example.net/a?next=https://b.example.net/\n",
    "- host: a.example.com\n  <<: {port: 8443}\n",
    "- &a a.example.com\n- *a\n- {host: b.example.com}\n",
]
LISTS_BOTH_REFUSE = [
    "",
    "# only a comment\n",
    "a.example.com\n",
    "443\n",
    "endpoints:\n",
    "endpoints: a.example.com\n",
    "endpoints: {host: a.example.com}\n",
    "defaults: {port: 443}\n",
    "defaults: [port]\nendpoints: []\n",
    "defaults: 443\nendpoints: []\n",
    "endpoint: [a.example.com]\n",
    "endpoints: []\noptions: {}\n",
    "- 443\n",
    "- 1.5\n",
    "- true\n",
    "-\n",
    "- ''\n",
    "- '   '\n",
    "- [a.example.com]\n",
    "- http://a.example.com\n",
    "- ftp://files.example.com\n",
    "- ws://push.example.net\n",
    "- gopher://a.example.com\n",
    "- a.example.com/x://y\n",
    "- a.example.com:\n",
    "- {port: 443}\n",
    "- {hostname: a.example.com}\n",
    "- {host: a.example.com, ports: 443}\n",
    "- {host: a.example.com, Port: 443}\n",
    "- {host: a.example.com, url: 'https://a.example.com'}\n",
    "defaults: {host: a.example.com}\nendpoints: []\n",
    "defaults: {address: 192.0.2.1}\nendpoints: []\n",
    "defaults: {sni: a.example.com}\nendpoints: []\n",
    "defaults: {label: x}\nendpoints: []\n",
    "defaults: {ports: 443}\nendpoints: []\n",
]
# Refused by snisweep alone: the rules the module docstring lists.
ONLY_SNISWEEP_REFUSES = [
    "- host: a..example.com\n",
    "- host: " + "a" * 64 + ".example.com\n",
    "- host: " + ".".join(["a" * 63] * 5) + "\n",
    "- host: a.example.com:443\n",
    "- host: a b.example.com\n",
    "- host: 999.0.0.1\n",
    "- host: example.123\n",
    "- host: '${HOST}'\n",
    "- a..example.com\n",
    "- a.example.com:0\n",
    "- a.example.com:70000\n",
    "- '[2001:db8::1'\n",
    "- '[a.example.com]:443'\n",
    "- 'https://a.example.com/a b'\n",
    "- 'https://{{env}}.example.com/'\n",
    "- https://a.example.com:99999/\n",
    "- {host: a.example.com, address: deadbeef}\n",
    "- {host: a.example.com, address: '203.0.113.10:443'}\n",
    "- {host: a.example.com, address: 010.0.0.1}\n",
    "- {host: a.example.com, sni: a..b}\n",
    "- {host: a.example.com, proxy: 'http://proxy.example.net:3128/path'}\n",
    "- {host: a.example.com, proxy: 'http://proxy.example.net:99999'}\n",
    "- {host: a.example.com, proxy: 'http://a:b:c@'}\n",
    "- {host: a.example.com, tls_min: 1.3, tls_max: 1.2}\n",
    "defaults: {tls_min: 1.3}\nendpoints:\n  - {host: a.example.com, tls_max: 1.2}\n",
    "defaults: {tls_max: 1.2, tls_min: 1.3}\nendpoints: []\n",
    "- {host: a.example.com, tls_min: 1}\n",
    "- {host: a.example.com, tls_max: 1.30}\n",
    "- {host: a.example.com, port: 443.0}\n",
    "- {host: a.example.com, port: 0443}\n",
    "- host: a.example.com\n  timeout: 1:30\n",
    "- {host: a.example.com, retries: 010}\n",
    "- {host: a.example.com, timeout: .nan}\n",
    "- {host: a.example.com, tags: ['\u200b']}\n",
    "- {host: a.example.com, host: b.example.com}\n",
]


@pytest.mark.parametrize("text", _cases(BOTH_ACCEPT) + LISTS_BOTH_ACCEPT)
def test_both_accept(tmp_path: Path, text: str) -> None:
    assert snisweep_accepts(tmp_path, text)
    assert schema_accepts(text), list(VALIDATOR.iter_errors(yaml.safe_load(text)))


@pytest.mark.parametrize("text", _cases(BOTH_REFUSE) + LISTS_BOTH_REFUSE)
def test_both_refuse(tmp_path: Path, text: str) -> None:
    assert not snisweep_accepts(tmp_path, text)
    assert not schema_accepts(text)


@pytest.mark.parametrize("text", ONLY_SNISWEEP_REFUSES)
def test_only_snisweep_refuses(tmp_path: Path, text: str) -> None:
    assert not snisweep_accepts(tmp_path, text)
    assert schema_accepts(text)


def test_an_error_names_the_key_and_the_rule() -> None:
    text = "endpoints:\n  - host: a.example.com\n    port: 70000\n    protocol: ftp\n"
    errors = sorted(VALIDATOR.iter_errors(yaml.safe_load(text)), key=lambda e: e.json_path)
    assert [e.json_path for e in errors] == ["$.endpoints[0].port", "$.endpoints[0].protocol"]
    assert "65535" in errors[0].message
    unknown = list(VALIDATOR.iter_errors(yaml.safe_load("- {host: a.example.com, prot: tls}")))
    assert len(unknown) == 1
    assert "'prot' was unexpected" in unknown[0].message


def test_the_schema_is_shipped_in_the_package() -> None:
    import tomllib

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    assert "lists/schema.json" in config["tool"]["setuptools"]["package-data"]["snisweep"]
