"""The YAML line reader against libyaml: whatever it reads, it reads as libyaml does; whatever
it cannot, it declines; it reads any input in linear time. No sockets.

The line reader is called alone here (``YamlReader.read_lines``): in ``YamlReader`` libyaml
takes over wherever it declines or fails, which would hide a bug in it from these tests."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snisweep.lists.rules import Defaults, Entry
from snisweep.lists.yaml_lines import ENDPOINTS, ENTRY, Declined, read_parts
from snisweep.lists.yaml_list import YamlReader
from snisweep.lists.yaml_nodes import Map, Scalar, Seq

BASE = Defaults(443, 5.0, 1)


def read(text: str, *, by_lines: bool) -> tuple[list[Entry], list[str], YamlReader]:
    data = text.encode("utf-8")
    reader = YamlReader("list.yaml", lambda: io.BytesIO(data), BASE, by_lines=by_lines)
    entries = list(reader)
    return entries, [str(problem) for problem in reader.problems], reader


def read_by_lines(text: str) -> tuple[list[Entry], YamlReader, Declined | None]:
    """The line reader alone, without libyaml to fall back on: what it yielded, the reader,
    and where it declined (None when it read it all). Any other exception fails the test."""
    data = text.encode("utf-8")
    reader = YamlReader("list.yaml", lambda: io.BytesIO(data), BASE)
    entries: list[Entry] = []
    try:
        entries.extend(reader.read_lines())
    except Declined as declined:
        return entries, reader, declined
    return entries, reader, None


def assert_same_as_libyaml(text: str) -> bool:
    """What the line reader reads, it reads as libyaml does: all of the document, with the
    same entries, problems and defaults, or the entries before the line where it declines
    (libyaml goes on from there). Whether it read it all; ``YamlReader`` then agrees too."""
    lines, reader, declined = read_by_lines(text)
    events, event_problems, libyaml = read(text, by_lines=False)
    if declined is None:
        assert lines == events
        assert [str(problem) for problem in reader.problems] == event_problems == []
        assert (reader.defaults, reader.defaults_came_late) == (
            libyaml.defaults,
            libyaml.defaults_came_late,
        )
    else:
        assert lines == events[: len(lines)]
    # and the reader the lists are read with, line reader and fallback together
    both, problems, whole = read(text, by_lines=True)
    assert (both, problems, whole.defaults) == (events, event_problems, libyaml.defaults)
    assert whole.read_by_lines is (declined is None)
    return declined is None


# --- what the line reader reads ---------------------------------------------------------------

READ_BY_LINES = [
    "endpoints:\n  - a.example.com\n  - b.example.com:8443\n",
    "- a.example.com\n- https://b.example.com/x#/y\n",
    "---\nendpoints:\n- a.example.com\n",
    "\ufeffendpoints:\n  - a.example.com\n",
    "endpoints:\r\n  - a.example.com\r\n  - host: b.example.com\r\n    port: 8443\r\n",
    "# a list\n\nendpoints:   # the endpoints\n\n  # first\n  - a.example.com  # a comment\n",
    "endpoints:\n  - 'a.example.com'\n  - \"b.example.com:8443\"\n  - '[2001:db8::1]:443'\n",
    "endpoints:\n  - 2001:db8::1\n  - 10.0.0.1\n  - bücher.example\n",
    "endpoints: [a.example.com, 'b.example.com:8443']\n",
    "endpoints: []\n",
    "defaults:\n  port: 8443\n  tags: [x, 'y z']\nendpoints:\n  - a.example.com\n",
    "defaults: {port: 8443, tags: [x]}\nendpoints:\n  - a.example.com\n",
    "defaults:\n  tags:\n  - x\n  - y\nendpoints:\n- a.example.com\n",
    "defaults:\n  # nothing yet\nendpoints:\n  - a.example.com\n",
    "endpoints:\n  - a.example.com\ndefaults:\n  port: 8443\n",  # late defaults
    "endpoints:\n  - host: a.example.com\n    port: 8443\n    address: 192.0.2.1\n"
    "    sni: b.example.com\n    label: Billing, SOAP #1\n    tags: [x, y]\n"
    "    timeout: 2.5\n    retries: 0\n",
    "endpoints:\n  -   host: a.example.com\n      tags:\n        - x\n        - y\n      port: 1\n",
    "endpoints:\n- host: a.example.com\n  tags:\n  - x\n- b.example.com\n",
    "endpoints:\n  - {host: a.example.com, port: 8443, tags: [x, y], label: 'A B'}\n",
    "endpoints:\n  - {host: a.example.com,}\n",
    "endpoints:\n  - host: a.example.com\n    label: 1.10\n"
    "  - host: b.example.com\n    label: '007'\n",
    "endpoints:\n  - host: a.example.com\n    label: yes we can\n",
    "endpoints:\n  - host: a.example.com\n    tags: [1, 2.5, x]\n",
    # the protocol key, and the paths of URLs
    "endpoints:\n  - https://a.example.com/ws/soap?wsdl\n  - https://b.example.com?x=1&y=%20\n"
    "  - wss://c.example.com/bücher/€\n  - ldaps://d.example.com\n  - https://e.example.com/#/a\n"
    "  - 'https://f.example.com/a%2Fb?c=d:e'\n  - https://g.example.com/a,b;c=d/*~!$'()+@\n",
    "defaults:\n  protocol: tls\nendpoints:\n  - a.example.com\n  - https://b.example.com/x\n"
    "  - host: c.example.com\n    protocol: https\n  - host: d.example.com\n",
    "defaults: {protocol: TLS, port: 8443}\nendpoints:\n"
    "  - {host: a.example.com, protocol: https}\n  - {host: b.example.com, protocol: 'tls'}\n"
    "  - {host: c.example.com}\n",
    "endpoints:\n  - a.example.com\n  - host: b.example.com\ndefaults:\n  protocol: tls\n",
    "endpoints:\n  - https://a.example.com/{x\n  - https://b.example.com/a|b[1]\n",
]


@pytest.mark.parametrize("text", READ_BY_LINES)
def test_the_line_reader_reads_as_libyaml_does(text: str) -> None:
    assert assert_same_as_libyaml(text), "declined a document of the subset"


def test_lists_as_generated_are_read_by_lines() -> None:
    # The shapes of the 100,000-entry lists that the speed target is measured on.
    shapes = [
        "defaults:\n  timeout: 1\n  retries: 0\n  tags: [biglist]\nendpoints:\n"
        + "".join(
            f"  - host: h{i:06d}.biglist.test\n    address: 127.0.0.1\n    port: 9999\n"
            f"    label: entry {i}\n    tags: [group-{i % 16}]\n"
            for i in range(300)
        ),
        "endpoints:\n" + "".join(f"  - host-{i}.example.com:{1 + i}\n" for i in range(300)),
        "".join(f"- host-{i}.example.com\n" for i in range(300)),
    ]
    for text in shapes:
        assert assert_same_as_libyaml(text)


# --- what it declines -------------------------------------------------------------------------

DECLINED = [
    "",
    "# only a comment\n",
    "endpoints:\n  - a.example.com\n    b\n",  # a plain scalar that goes on
    "endpoints:\n  - host: a.example.com\n    label: a\n      b\n",
    "endpoints:\n  - &a a.example.com\n  - *a\n",
    "endpoints:\n  - !!str a.example.com\n",
    "endpoints:\n  - a.example.com:\n",
    "endpoints:\n  - host: a: b\n",
    "endpoints:\n  - |\n    a.example.com\n",
    "endpoints:\n  - 'it''s'\n",
    '"endpoints":\n  - a.example.com\n',
    "endpoints:\n\t- a.example.com\n",
    "endpoints:\n  - a.example.com\n  - a\x07.example.com\n",
    "endpoints:\n  - \n",
    "endpoints:\n  - host: a.example.com\n    host: b.example.com\n",
    "endpoints:\n  - host: a.example.com\n  port: 1\n",
    "endpoints: a.example.com\n",
    "endpoints:\n",
    "defaults: {}\n",
    "endpoints: []\nendpoints: []\n",
    "endpoints: []\n---\nendpoints: []\n",
    "%YAML 1.1\n---\nendpoints: []\n",
    "endpoints:\n  - [a.example.com]\n",
    "endpoints:\n  - {host: {a: b}}\n",
    "endpoints:\n  - host: a.example.com\n    tags: [a, [b]]\n",
    "endpoints:\n  - host: a.example.com\n    port: 0x_\n",
    "endpoints:\n  - a.example.com\n   - b.example.com\n",
    "endpoints:\n  - http://a.example.com\n",  # a problem: libyaml's reader reports it
    "endpoints:\n  - https://a.example.com/a b\n",  # a problem too
    "endpoints:\n  - https://a.example.com/{{path}}\n",
    "endpoints:\n  - host: a.example.com\n    protocol: http\n",
    "endpoints:\n  - {host: a.example.com, protocol: yes}\n",
    "defaults:\n  protocol: ssl\nendpoints:\n  - a.example.com\n",
    "endpoints:\n  - https://a.example.com/x: y\n",  # a mapping for YAML
    "endpoints:\n  - [https://a.example.com/x]\n",
    'endpoints:\n  - "https://a.example.com/x\\r\\nX-Evil: 1"\n',
]


@pytest.mark.parametrize("text", DECLINED)
def test_the_line_reader_declines_the_rest(text: str) -> None:
    assert not assert_same_as_libyaml(text)


def test_a_list_declined_half_way_keeps_the_entries_read() -> None:
    text = "endpoints:\n" + "".join(f"  - e{i}.example.com\n" for i in range(5))
    text += "  - &x f.example.com\n  - *x\n  - g.example.com\n"
    assert not assert_same_as_libyaml(text)
    _, _, declined = read_by_lines(text)
    assert declined is not None
    assert declined.line == 7
    assert [entry[0] for entry in read(text, by_lines=True)[0]] == [
        *(f"e{i}.example.com" for i in range(5)),
        "f.example.com",
        "f.example.com",
        "g.example.com",
    ]


def test_declined_names_the_line() -> None:
    with pytest.raises(Declined) as caught:
        list(read_parts(io.BytesIO(b"endpoints:\n  - a.example.com\n  - &a b\n")))
    assert caught.value.line == 3


# --- generated documents ----------------------------------------------------------------------

SCALARS = st.sampled_from(
    [
        "a.example.com", "b.example.com:8443", "A.Example.COM.", "10.0.0.1", "2001:db8::1",
        "'[2001:db8::1]:443'", "https://c.example.com:9443/x?y#z", "https://d.example.com/#/a",
        "http://e.example.com", "bücher.example", "svc_x.example.net", "a..b", "${HOST}",
        "'{{ env }}.example.com'", "\"q.example.com\"", "443", "0443", "8443", "0x1F", "1_000",
        "1e3", "2.5", ".5", ".inf", "yes", "No", "true", "null", "~", "''", "2001-12-14",
        "Billing SOAP", "a, b", "a#b", "a # comment", "a:b", "x ? y", "a - b", "[x, y]",
        "['x', \"y\"]", "[]", "[x,]", "[x, 'y, z']", "{x: y}", "-1", "- x", "&a x", "*a", "!x y",
        "a: b", "'a' #c", "'a'#c", "\"a\\tb\"", "%x", "@x", "`x", "=", "<<", "a\tb", "é",
        "https://f.example.com/a b", "https://g.example.com/x?y=1", "wss://h.example.com?a=%2",
        "ldaps://i.example.com/x", "https://j.example.com/{{p}}", "tls", "HTTPS", "https", "ssl",
    ]
)  # fmt: skip
KEYS = st.sampled_from(
    ["host", "port", "address", "sni", "label", "tags", "timeout", "retries", "prot", "yes",
     "'host'", "<<", "Host", "protocol", "protocol"]
)  # fmt: skip
INDENTS = st.sampled_from(["", " ", "  ", "    "])


@st.composite
def mappings(draw: st.DrawFn, indent: str) -> str:
    """A block mapping entry: '- key: value' and more 'key: value' lines."""
    pairs = draw(st.lists(st.tuples(KEYS, SCALARS | st.just("")), min_size=1, max_size=4))
    gap = draw(st.sampled_from([" ", "  "]))
    inner = indent + " " + gap
    lines = []
    for index, (key, value) in enumerate(pairs):
        start = f"{indent}-{gap}" if index == 0 else inner
        lines.append(f"{start}{key}: {value}".rstrip(" ") if value else f"{start}{key}:")
        if not value and key == "tags":
            at = inner + draw(st.sampled_from(["", "  "]))
            lines.extend(f"{at}- {tag}" for tag in draw(st.lists(SCALARS, max_size=2)))
    return "\n".join(lines)


@st.composite
def documents(draw: st.DrawFn) -> str:
    indent = draw(INDENTS)
    entries = draw(
        st.lists(
            st.one_of(
                SCALARS.map(lambda s: f"{indent}- {s}"),
                mappings(indent),
                st.just(""),
                st.just(f"{indent}# a comment"),
            ),
            max_size=6,
        )
    )
    head = draw(
        st.sampled_from(
            ["endpoints:", "---\nendpoints:", "defaults:\n  port: 8443\nendpoints:",
             "defaults: {tags: [x]}\nendpoints:", "defaults:\n  tags:\n  - d\nendpoints:",
             "defaults: {protocol: tls}\nendpoints:", None]
        )
    )  # fmt: skip
    if head is None:
        indent = ""
        return "\n".join(entry.lstrip(" ") for entry in entries) + "\n"
    tail = draw(st.sampled_from(["", "defaults:\n  retries: 3\n", "defaults: {port: 1}\n"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return (newline.join([head, *entries]) + newline + tail).replace("\n", newline)


@settings(max_examples=400, deadline=None)
@given(documents())
def test_generated_documents_read_as_libyaml_does(text: str) -> None:
    assert_same_as_libyaml(text)


# Values that make valid endpoints, written in the ways YAML allows, so that the documents
# are mostly read by lines, and what the line reader accepts is compared with libyaml.
VALID = {
    "host": ["a.example.com", "A.Example.COM.", "'b.example.com'", '"c.example.com"', "10.0.0.1",
             "2001:db8::1", "'[2001:db8::2]'", "bücher.example", "svc_x.example.net", "d-1"],
    "port": ["443", "8443", "1", "65535", "0x1BB", "1_000", "0o17"],
    "address": ["192.0.2.1", "2001:db8::3", "'[2001:db8::4]'"],
    "sni": ["e.example.com", "'F.example.com.'"],
    "label": ["Billing SOAP", "1.10", "'007'", "2024", "a#b", "a, b", "x ? y", "é €", "''",
              "\"it's\"", "a:b", "-x", "a - b", "(x) [y] {z}", "~x", "=", "yes sir"],
    "tags": ["[x, y]", "[x,]", "[]", "['a b', \"c\"]", "[1, 2.5]", "[x, x]"],
    "timeout": ["2.5", "1", "300", ".5", "1e1"],
    "retries": ["0", "10", "3"],
    "protocol": ["https", "tls", "TLS", "'tls'", '"Https"'],
}  # fmt: skip
STRINGS = ["a.example.com", "b.example.com:8443", "'[2001:db8::1]:443'", "2001:db8::5",
           "https://c.example.com:9443/x?y#z", "https://d.example.com/#/a",
           "ldaps://e.example.com", "10.0.0.1:8443", "'f.example.com'", '"g.example.com:1"',
           "h.example.com # note", "https://i.example.com/ws/soap?wsdl", "https://j.example.com?x=1",
           "'https://k.example.com/a%20b'", "https://l.example.com/bücher", "wss://m.example.com/s#f",
           "smtps://n.example.com", "https://o.example.com:8443/a|b?c=[d]"]  # fmt: skip
COMMENT = st.sampled_from(["", "", "", "  # note", " #"])


@st.composite
def valid_mappings(draw: st.DrawFn, indent: str, flow: bool) -> str:
    keys = draw(st.lists(st.sampled_from(sorted(VALID)), unique=True, max_size=5))
    keys = ["host", *(key for key in keys if key != "host")]
    keys = draw(st.permutations(keys))
    values = {key: draw(st.sampled_from(VALID[key])) for key in keys}
    if flow:
        pairs = ", ".join(f"{key}: {value}" for key, value in values.items() if "," not in value)
        return f"{indent}- {{{pairs}}}{draw(COMMENT)}"
    gap = draw(st.sampled_from([" ", "  "]))
    inner = indent + " " + gap
    lines = []
    for index, (key, value) in enumerate(values.items()):
        start = f"{indent}-{gap}" if index == 0 else inner
        if key == "tags" and draw(st.booleans()):
            lines.append(f"{start}tags:{draw(COMMENT)}")
            at = inner + draw(st.sampled_from(["", "  "]))
            tags = draw(st.lists(st.sampled_from(["x", "'y z'", "1", "x"]), min_size=1))
            lines.extend(f"{at}- {tag}{draw(COMMENT)}" for tag in tags)
        else:
            lines.append(f"{start}{key}: {value}{draw(COMMENT)}")
    return "\n".join(lines)


@st.composite
def valid_documents(draw: st.DrawFn) -> str:
    bare = draw(st.booleans())
    indent = "" if bare else draw(INDENTS)
    entries = draw(
        st.lists(
            st.one_of(
                st.sampled_from(STRINGS).map(lambda s: f"{indent}- {s}"),
                valid_mappings(indent, flow=False),
                valid_mappings(indent, flow=True),
                st.just(f"{indent}# a comment"),
                st.just(""),
            ),
            max_size=8,
        )
    )
    head = draw(
        st.sampled_from(
            ["endpoints:", "---\nendpoints:", "defaults:\n  port: 8443\n  tags: [d]\nendpoints:",
             "defaults: {timeout: 2, tags: [x]}\nendpoints:",
             "defaults:\n  tags:\n  - d\nendpoints:", "defaults:\n  protocol: tls\nendpoints:",
             "defaults: {protocol: https, port: 1}\nendpoints:"]
        )
    )  # fmt: skip
    if bare:
        return "\n".join(entries) + "\n"
    if not any(entry.strip(" ").startswith("-") for entry in entries):
        entries.append(f"{indent}- z.example.com")
    tail = ""
    if not head.startswith("defaults"):
        tails = [
            "",
            "defaults:\n  retries: 3\n",
            "defaults: {port: 1}\n",
            "defaults: {protocol: tls}\n",
        ]
        tail = draw(st.sampled_from(tails))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return "\n".join([head, *entries, tail]).replace("\n", newline)


@settings(max_examples=400, deadline=None)
@given(valid_documents())
def test_valid_documents_read_as_libyaml_does(text: str) -> None:
    assert_same_as_libyaml(text)


PIECES = st.sampled_from(
    ["endpoints:", "defaults:", "\n", "  ", "- ", "host: ", "port: ", "tags: ", "[", "]",
     "{", "}", ",", ":", "#", "'", '"', "a.example.com", "443", "&a ", "*a", "!!str ",
     "---", "\t", "\r", "\x00", "é", "|", ">", "? ", "~", "yes", " #x"]
)  # fmt: skip
# Whole lines of the subset, most of them, so that the pieces often make a document the line
# reader reads (random pieces alone nearly always hold a line it declines at once).
LINES = st.sampled_from(
    ["endpoints:", "defaults:", "  - host: a.example.com", "    port: 8443", "  - b.c",
     "    tags:", "      - x", "- host: d.e", "  port: 1", "  - {host: f.g, port: 2}",
     "  tags: [x, y]", "  - h.i:3", "", "# c", "  timeout: 2.5", "---"]
).map(lambda line: line + "\n")  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(PIECES | LINES, max_size=40).map("".join)
    | st.lists(LINES | LINES | LINES | PIECES, max_size=12).map("".join)
)
def test_any_text_reads_as_libyaml_does(text: str) -> None:
    try:
        for _ in read_parts(io.BytesIO(text.encode())):
            pass
    except Declined:
        pass  # the only way it may fail
    assert_same_as_libyaml(text)


# --- linear time ------------------------------------------------------------------------------
# Inputs that a reader in quadratic time takes minutes over (a pattern that looks ahead from
# each comma; a line that goes on over many blocks, joined again for each one), and a linear
# one milliseconds: the timeouts are far above the linear times, far below the quadratic ones.


@pytest.mark.timeout(10)
def test_a_flow_mapping_with_many_tags() -> None:
    tags = ", ".join(f"t{n}" for n in range(200_000))  # 1.5 MB: 40 s when quadratic
    text = "endpoints:\n  - {host: a.example.com, tags: [" + tags + "], port: 8443}\n"
    ((_, endpoints), (_, entry)) = read_parts(io.BytesIO(text.encode()))
    assert endpoints is None
    assert isinstance(entry, Map)
    assert set(entry.fields) == {"host", "tags", "port"}
    tag_list = entry.fields["tags"][1]
    assert isinstance(tag_list, Seq)
    assert len(tag_list.items) == 200_000


@pytest.mark.timeout(10)
def test_a_flow_mapping_with_a_label_full_of_commas() -> None:
    label = "a," * 200_000  # 400 kB: minutes when quadratic
    text = "endpoints:\n  - {host: a.example.com, label: '" + label + "', tags: [a]}\n"
    entries, problems, _ = read(text, by_lines=True)
    assert (entries, problems) == ([], ["list.yaml:2: label: 400000 characters; 1000 at most"])


@pytest.mark.timeout(10)
def test_a_line_longer_than_many_blocks() -> None:
    label = b"a" * (32 << 20)  # 32 MB on one line: read in 64 kB blocks, half a minute if joined
    data = b"endpoints:\n  - host: a.example.com\n    label: " + label + b"\r\n  - b.c\n"
    parts = list(read_parts(io.BytesIO(data)))
    assert [kind for kind, _ in parts] == [ENDPOINTS, ENTRY, ENTRY]
    entry = parts[1][1]
    assert isinstance(entry, Map)
    scalar = entry.fields["label"][1]
    assert isinstance(scalar, Scalar)
    assert scalar.value == label.decode()


@pytest.mark.parametrize("cut", [1, 2, 3, 1000])
def test_blocks_cut_anywhere_read_the_same(cut: int) -> None:
    # CR LF, a byte order mark and characters of several bytes, across the ends of blocks
    text = "\ufeff---\r\nendpoints:\r\n  - bücher.example\r\n  - {host: a.b, label: €}\r\n"
    data = text.encode()

    class Trickle(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            return super().read(cut)

    expected = [(kind, repr(node)) for kind, node in read_parts(io.BytesIO(data))]
    assert [(kind, repr(node)) for kind, node in read_parts(Trickle(data))] == expected
    assert len(expected) == 3
