"""CSV endpoint lists: header, columns, cells, problems with their line. No sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from snisweep.errors import ConfigError, Problem
from snisweep.lists.load import DIRECT, Settings, load
from snisweep.model import Endpoint, Proxy, TLSVersion

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "example.csv"


def write(tmp_path: Path, text: str | bytes, name: str = "list.csv") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return str(path)


def endpoints_of(
    tmp_path: Path, text: str | bytes, settings: Settings | None = None
) -> list[Endpoint]:
    return list(load([write(tmp_path, text)], settings or Settings()))


def problems_of(tmp_path: Path, text: str | bytes) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load([write(tmp_path, text)])
    return list(caught.value.problems)


def test_every_column(tmp_path: Path) -> None:
    text = (
        "host,port,address,sni,label,tags,timeout,retries\n"
        "Billing.Example.org,8443,203.0.113.10,Billing-Internal.example.org.,Billing SOAP,"
        "billing; soap;billing,2.5,0\n"
    )
    (endpoint,) = endpoints_of(tmp_path, text)
    assert endpoint == Endpoint(
        host="billing.example.org",
        port=8443,
        address="203.0.113.10",
        sni="billing-internal.example.org",
        label="Billing SOAP",
        tags=("billing", "soap"),
        timeout=2.5,
        retries=0,
    )


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"])
def test_every_line_end_ends_a_row(tmp_path: Path, end: str) -> None:
    text = end.join(
        ["host,label", "a.example.com,A", 'b.example.com,"B', 'two lines"', "x..y,", ""]
    )
    (problem,) = problems_of(tmp_path, text)
    assert problem.line == 5  # the physical line, a lone CR ending one too
    (a, b) = endpoints_of(tmp_path, text.replace("x..y", "c.example.com"))[:2]
    assert (a.label, b.label) == ("A", f"B{end}two lines")  # a cell keeps the line end in it


def test_headers_are_case_insensitive_and_other_columns_ignored(tmp_path: Path) -> None:
    text = "\ufeff Owner , HOST ,Location, Port \nteam-a,a.example.com,eu-1,8443\n"
    (endpoint,) = endpoints_of(tmp_path, text.encode())
    assert (endpoint.host, endpoint.port) == ("a.example.com", 8443)


def test_empty_cells_take_the_settings_and_empty_rows_are_skipped(tmp_path: Path) -> None:
    text = "host,port,timeout,retries,tags\n\n,,,,\na.example.com,,,,\n  ,  ,  ,  ,  \n"
    (endpoint,) = endpoints_of(tmp_path, text, Settings(port=636, timeout=2, retries=3))
    assert (endpoint.port, endpoint.timeout, endpoint.retries, endpoint.tags) == (636, 2.0, 3, ())
    # the blank and empty rows count as lines
    (problem,) = problems_of(tmp_path, text + "bad..example.com,,,,\n")
    assert problem.line == 6


def test_url_column(tmp_path: Path) -> None:
    text = (
        "url,port,label\n"
        "https://hr.example.net:9443/ws/soap,,HR\n"
        "api.example.com,8443,API\n"  # a bare host: the port cell fills in
        "https://b.example.com/,443,same port\n"
        "[2001:db8::1]:8443,,v6\n"
    )
    assert [(e.host, e.port, e.label) for e in endpoints_of(tmp_path, text)] == [
        ("hr.example.net", 9443, "HR"),
        ("api.example.com", 8443, "API"),
        ("b.example.com", 443, "same port"),
        ("2001:db8::1", 8443, "v6"),
    ]


def test_host_wins_over_url(tmp_path: Path) -> None:
    text = (
        "host,url,port\n"
        "app01.example.com,https://portal.example.com/login,8443\n"
        ",https://b.example.com/x,\n"
    )
    assert [(e.host, e.port, e.http_path) for e in endpoints_of(tmp_path, text)] == [
        ("app01.example.com", 8443, "/"),  # the url is ignored, its path too
        ("b.example.com", 443, "/x"),
    ]


def test_the_path_of_a_url(tmp_path: Path) -> None:
    text = (
        "url\n"
        "https://hr.example.net:9443/ws/soap?wsdl\n"
        "https://b.example.com?x=1#frag\n"
        "https://c.example.com:8443\n"
        "wss://d.example.com/bücher\n"
        "ldaps://e.example.com\n"
        "f.example.com:8443\n"
    )
    assert [e.http_path for e in endpoints_of(tmp_path, text)] == [
        "/ws/soap?wsdl",
        "/?x=1",
        "/",
        "/b%C3%BCcher",
        None,
        "/",
    ]


@pytest.mark.parametrize(
    ("url", "protocol", "http_path"),
    [
        ("a.example.com", "", "/"),  # an empty cell sets nothing
        ("a.example.com", "  ", "/"),
        ("a.example.com", "tls", None),
        ("a.example.com", "TLS", None),
        ("a.example.com", "https", "/"),
        ("https://a.example.com/x", "", "/x"),
        ("https://a.example.com/x", "Https", "/x"),
        ("https://a.example.com/x", "tls", None),  # the row's own protocol wins over the url
        ("ldaps://a.example.com", "", None),
        ("ldaps://a.example.com", "tls", None),
    ],
)
def test_protocol_column(tmp_path: Path, url: str, protocol: str, http_path: str | None) -> None:
    (endpoint,) = endpoints_of(tmp_path, f"url,protocol\n{url},{protocol}\n")
    assert endpoint.http_path == http_path


def test_protocol_precedence_over_the_settings(tmp_path: Path) -> None:
    text = (
        "host,url,protocol\n"
        "a.example.com,,\n"
        ",b.example.com:8443,\n"
        ",https://c.example.com/x,\n"
        "d.example.com,,https\n"
    )
    assert [e.http_path for e in endpoints_of(tmp_path, text, Settings(protocol="tls"))] == [
        None,
        None,
        "/x",
        "/",
    ]
    assert [e.http_path for e in endpoints_of(tmp_path, text)] == ["/", "/", "/x", "/"]


@pytest.mark.parametrize(
    ("header", "delimiter"), [("host;port;label", ";"), ("host\tport\tlabel", "\t")]
)
def test_spreadsheet_delimiters(tmp_path: Path, header: str, delimiter: str) -> None:
    text = f"{header}\n" + delimiter.join(["a.example.com", "8443", "A, B"]) + "\n"
    (endpoint,) = endpoints_of(tmp_path, text)
    assert (endpoint.host, endpoint.port, endpoint.label) == ("a.example.com", 8443, "A, B")


def test_a_quoted_cell_over_several_lines_counts_physical_lines(tmp_path: Path) -> None:
    text = 'host,label\na.example.com,"two\nlines"\nb.example.com:1,x\nc.example.com,y\n'
    problems = problems_of(tmp_path, text)
    assert [(p.line, p.message) for p in problems] == [
        (4, "host: 'b.example.com:1' includes a port; use the 'port' key")
    ]


def test_crlf_and_blank_lines_before_the_header(tmp_path: Path) -> None:
    text = b"\r\n\r\nhost,port\r\na.example.com,1\r\nb..example.com,2\r\n"
    (problem,) = problems_of(tmp_path, text)
    assert problem.line == 5


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("a.example.com,0,,,,,,", "port 0 is out of range 1..65535"),
        ("a.example.com,https,,,,,,", "port: expected an integer 1..65535, found 'https'"),
        ("a.example.com,99999999999999999999999,,,,,,", "out of range 1..65535"),
        ("a..example.com,,,,,,,", "invalid host 'a..example.com'"),
        ("https://a.example.com,,,,,,,", "host: 'https://a.example.com' is a URL"),
        ("${HOST},,,,,,,", "unresolved template variable '${HOST}'"),
        ("https://{{env}}.example.com/x,,,,,,,", "host: unresolved template variable '{{env}}'"),
        (",,,,only a label,,,", "no 'host' or 'url' in this row"),
        ("a.example.com,,a.example.net,,,,,", "invalid address 'a.example.net'"),
        ("a.example.com,,,192.0.2.1,,,,", "sni must be a DNS name"),
        ("a.example.com,,,,x,a\x07b,,", "tags: 'a\\x07b' holds ';' or a control character"),
        ("a.example.com,,,,,,5s,", "timeout: expected a number of seconds, found '5s'"),
        ("a.example.com,,,,,,0,", "timeout 0 is out of range"),
        ("a.example.com,,,,,,nan,", "timeout: expected a number of seconds"),
        ("a.example.com,,,,,,,11", "retries 11 is out of range 0..10"),
        ("a.example.com,,,,,,,-1", "retries: expected an integer 0..10, found '-1'"),
        ("a.example.com,,,," + "x" * 1001 + ",,,", "label: 1001 characters"),
        ("a.example.com,,,,,,,,http", "protocol: expected https or tls, found 'http'"),
        ("a.example.com,,,,,,,,yes", "protocol: expected https or tls, found 'yes'"),
    ],
)
def test_each_problem_has_its_line(tmp_path: Path, row: str, message: str) -> None:
    header = "host,port,address,sni,label,tags,timeout,retries,protocol"
    if row.startswith(",,,,only"):
        header = "host,url,address,sni,label,tags,timeout,retries,protocol"
    (problem,) = problems_of(tmp_path, f"{header}\nok.example.com,,,,,,,,\n{row}\n")
    assert problem.line == 3
    assert message in problem.message


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("http://a.example.com/,", "url: http:// is not TLS; use https://"),
        ("https://{{env}}.example.com/api,", "unresolved template variable '{{env}}'"),
        ("https://a.example.com/,8443", "port 8443 contradicts the url 'https://a.example.com/'"),
        ("https://a.example.com/a b,", "a space in the URL's path or query '/a b'"),
        ('"https://a.example.com/x\r\nX-Evil: 1",', "a control character (U+000D)"),
        ("https://a.example.com/" + "x" * 2048 + ",", "2049 characters long; 2048 at most"),
        ("https://a.example.com/{{path}},", "unresolved template variable '{{path}}'"),
        (
            "ldaps://u:secret@a.example.com,,https",
            "protocol https does not fit this ldaps:// URL: an LDAP server does not answer HTTP; "
            "write protocol tls, or no protocol",
        ),
        ("smtps://a.example.com,,HTTPS", "a mail (SMTP) server does not answer HTTP"),
    ],
)
def test_url_problems(tmp_path: Path, row: str, message: str) -> None:
    (problem,) = problems_of(tmp_path, f"url,port,protocol\n{row}\n")
    assert (problem.line, message in problem.message) == (2, True), problem
    assert "secret" not in problem.message


def test_every_problem_of_a_row_is_reported(tmp_path: Path) -> None:
    text = "host,port,timeout\na..example.com,0,x\n"
    assert [p.message.split(" ")[0] for p in problems_of(tmp_path, text)] == [
        "port",
        "invalid",
        "timeout:",
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "the file is empty"),
        ("\n\n", 1, "the file is empty"),
        ("\ufeff", 1, "the file is empty"),  # a byte order mark, and nothing else
        ("\ufeff\r\n", 1, "the file is empty"),
        ("name,owner\na,b\n", 1, "the header names no 'host' and no 'url' column"),
        ("a.example.com\nb.example.com\n", 1, "is the first row a header?"),
        ("host,Host\na,b\n", 1, "column 'host' appears twice in the header (columns 1 and 2)"),
        ('host,label\na.example.com,"unclosed\nb.example.com,x\n', 2, "CSV: unexpected end"),
        ('host,label\na.example.com,"x"y\n', 2, "CSV: ',' expected after '\"'"),
        (b"host\na.example.com\n\xff.example.com\n", 3, "not valid UTF-8 text"),
    ],
)
def test_file_problems(tmp_path: Path, text: str | bytes, line: int | None, message: str) -> None:
    (problem,) = problems_of(tmp_path, text)
    assert problem.line == line
    assert message in problem.message


def test_the_example_is_valid() -> None:
    endpoints = load([str(EXAMPLE)])
    assert endpoints.count >= 7
    listed = list(endpoints)
    assert any(e.address for e in listed)
    assert any(e.sni not in (e.host, None) for e in listed)
    assert any(e.tags for e in listed)
    assert any(e.timeout != 5 for e in listed)
    assert any(e.http_path is None for e in listed)  # protocol tls, ldaps://
    assert any("?" in (e.http_path or "") for e in listed)  # a URL's path and query
    assert any(e.tls_min is not None for e in listed)
    assert any(e.tls_max is not None and e.tls_min is None for e in listed)
    assert any(e.all_addresses for e in listed)
    # the row that says direct is direct even where the environment has a proxy
    environment = Proxy("env.example.net", 3128)
    proxies = [e.proxy for e in load([str(EXAMPLE)], Settings(environment_proxy=environment))]
    assert None in proxies
    assert environment in proxies


# --- the client's settings: tls_min, tls_max, proxy, all_addresses ----------------------------

PROXY = Proxy("proxy.example.net", 3128)
ENVIRONMENT = Proxy("env.example.net", 3128)
SECRET = "s3cr3tPW"


def test_a_list_without_the_new_columns_is_read_as_before(tmp_path: Path) -> None:
    (endpoint,) = endpoints_of(tmp_path, "host,port\na.example.com,8443\n")
    assert endpoint == Endpoint("a.example.com", 8443, sni="a.example.com")
    assert (endpoint.tls_min, endpoint.tls_max, endpoint.proxy, endpoint.all_addresses) == (
        None, None, None, False
    )  # fmt: skip


def test_the_new_columns(tmp_path: Path) -> None:
    text = (
        "host,TLS_Min,tls_max,Proxy,All_Addresses\n"
        "a.example.com,1.2,TLSv1.3,http://proxy.example.net:3128,yes\n"
        "b.example.com,tls1.0,1.1,DIRECT,0\n"
        "c.example.com,,,,\n"
    )
    settings = Settings(
        tls_max=TLSVersion.TLS1_2, proxy=Proxy("other.example.net", 1), all_addresses=True
    )
    a, b, c = endpoints_of(tmp_path, text, settings)
    assert (a.tls_min, a.tls_max, a.proxy, a.all_addresses) == (
        TLSVersion.TLS1_2, TLSVersion.TLS1_3, PROXY, True
    )  # fmt: skip
    assert (b.tls_min, b.tls_max, b.proxy, b.all_addresses) == (
        TLSVersion.TLS1_0, TLSVersion.TLS1_1, None, False
    )  # fmt: skip
    # empty cells set nothing: the command line's
    assert (c.tls_min, c.tls_max, c.proxy, c.all_addresses) == (
        None, TLSVersion.TLS1_2, Proxy("other.example.net", 1), True
    )  # fmt: skip


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("true", True), ("TRUE", True), ("yes", True), ("Yes", True), ("1", True),
     ("false", False), ("False", False), ("no", False), ("NO", False), ("0", False)],
)  # fmt: skip
def test_all_addresses_cells(tmp_path: Path, cell: str, expected: bool) -> None:
    (endpoint,) = endpoints_of(tmp_path, f"host,all_addresses\na.example.com,{cell}\n")
    assert endpoint.all_addresses is expected


@pytest.mark.parametrize(
    ("settings", "cell", "expected"),
    [
        (Settings(environment_proxy=ENVIRONMENT), "", ENVIRONMENT),
        (Settings(environment_proxy=ENVIRONMENT, no_proxy="a.example.com"), "", None),
        (Settings(environment_proxy=ENVIRONMENT, no_proxy="*"), "http://proxy.example.net:3128",
         PROXY),
        (Settings(environment_proxy=ENVIRONMENT), "direct", None),
        (Settings(proxy=PROXY, environment_proxy=ENVIRONMENT), "", PROXY),
        (Settings(proxy=PROXY), "Direct", None),
        (Settings(proxy=DIRECT, environment_proxy=ENVIRONMENT), "", None),
        (Settings(proxy=DIRECT), "http://proxy.example.net:3128", PROXY),
    ],
)  # fmt: skip
def test_proxy_precedence(
    tmp_path: Path, settings: Settings, cell: str, expected: Proxy | None
) -> None:
    (endpoint,) = endpoints_of(tmp_path, f"host,proxy\na.example.com,{cell}\n", settings)
    assert endpoint.proxy == expected


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1.4,,,", "tls_min: expected 1.0, 1.1, 1.2 or 1.3, found '1.4'"),
        (",SSLv3,,", "tls_max: expected 1.0, 1.1, 1.2 or 1.3, found 'SSLv3'"),
        ("1.3,1.2,,", "tls_min 1.3 is above tls_max 1.2"),
        (",,none,", "proxy: expected direct or an http://host:port URL, found 'none'"),
        (",,proxy.example.net:3128,", "no scheme; write it as http://host:port"),
        (",,https://proxy.example.net,", "TLS to the proxy is not supported"),
        (",,,maybe", "all_addresses: expected true or false (or yes, no, 1, 0), found 'maybe'"),
        (",,,on", "all_addresses: expected true or false"),
    ],
)
def test_each_problem_of_the_new_columns_has_its_line(
    tmp_path: Path, row: str, message: str
) -> None:
    header = "host,tls_min,tls_max,proxy,all_addresses"
    (problem,) = problems_of(tmp_path, f"{header}\nok.example.com,,,,\na.example.com,{row}\n")
    assert (problem.line, message in problem.message) == (3, True), problem


def test_a_tls_range_that_is_empty_with_the_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, "host,tls_min\na.example.com,1.3\nb.example.com,\n")
    with pytest.raises(ConfigError) as caught:
        load([path], Settings(tls_max=TLSVersion.TLS1_2))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2: tls_min 1.3 is above tls_max 1.2"
    ]


def test_every_problem_of_a_row_with_the_new_columns(tmp_path: Path) -> None:
    text = "host,tls_min,proxy,all_addresses\na..example.com,9,ftp://x,perhaps\n"
    assert [p.message.split(" ")[0] for p in problems_of(tmp_path, text)] == [
        "invalid",
        "tls_min:",
        "proxy",
        "all_addresses:",
    ]


def test_no_problem_shows_the_credentials_of_a_proxy(tmp_path: Path) -> None:
    urls = [
        f"http://user:{SECRET}@",
        f"http://user:{SECRET}@proxy.example.net:port",
        f"http://user:{SECRET}@proxy.example.net:3128/path",
        f"http://user:{SECRET}@bad..example.net:3128",
        f"http://us%3Aer:{SECRET}@proxy.example.net:3128",
        f"http://user:{SECRET[:4]}/{SECRET[4:]}@proxy.example.net:3128",
        f"http://user:{SECRET}",
        f"https://user:{SECRET}@proxy.example.net:3128",
        f"user:{SECRET}@proxy.example.net:3128",
        f"{SECRET}@proxy.example.net",
    ]
    rows = "".join(f"a{i}.example.com,{url}\n" for i, url in enumerate(urls))
    path = write(tmp_path, "host,proxy\n" + rows)
    with pytest.raises(ConfigError) as caught:
        load([path])
    assert [p.line for p in caught.value.problems] == list(range(2, 2 + len(urls)))
    for text in (str(caught.value), *map(str, caught.value.problems)):
        assert SECRET[:4] not in text
        assert SECRET[4:] not in text
