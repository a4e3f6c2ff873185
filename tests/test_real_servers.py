"""Verdicts against servers nobody here wrote, on loopback: ``openssl s_server``, nginx, HAProxy
and Apache httpd.

Each test is skipped when its server binary is not installed (`.ci/run` installs nginx, HAProxy
and Apache when the machine lets it). Certificates are made on the fly with trustme. Every server
is started from the test with its own configuration in a temporary directory, on free ports, and
stopped when the test ends, whatever its outcome.

Each check compares what the user sees in the report: verdict, reason, the HTTP status answered
with and without SNI (``None``: no request made or no status line came back) and the warnings.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
import trustme
from processes import free_port, stop, wait_for

from snisweep.core.record import COLUMNS
from snisweep.model import Endpoint, Reason, Verdict, WarningCode
from snisweep.net.probe import TLSProber
from snisweep.run.scheduler import Scanner

NAME = "api.example.test"
DEFAULT_NAME = "default.example.test"
OTHER_NAME = "other.example.test"  # a name no server below is configured for
WILDCARD = "*.example.test"  # covers all three names

WARNING_ALERT = WarningCode.SNI_WARNING_ALERT
NOT_COVERING = WarningCode.SNI_CERT_NOT_COVERING


@dataclass(frozen=True)
class Pems:
    named_cert: Path
    named_key: Path
    default_cert: Path
    default_key: Path
    wildcard_cert: Path
    wildcard_key: Path
    named_combined: Path  # HAProxy wants certificate and key in one file
    directory: Path


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> Pems:
    directory = tmp_path_factory.mktemp("pems")
    ca = trustme.CA()
    named, default, wildcard = (
        ca.issue_cert(NAME),
        ca.issue_cert(DEFAULT_NAME),
        ca.issue_cert(WILDCARD),
    )
    paths = Pems(
        named_cert=directory / "named.pem",
        named_key=directory / "named.key",
        default_cert=directory / "default.pem",
        default_key=directory / "default.key",
        wildcard_cert=directory / "wildcard.pem",
        wildcard_key=directory / "wildcard.key",
        named_combined=directory / "crts" / "named.pem",
        directory=directory,
    )
    for issued, cert, key in (
        (named, paths.named_cert, paths.named_key),
        (default, paths.default_cert, paths.default_key),
        (wildcard, paths.wildcard_cert, paths.wildcard_key),
    ):
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
    paths.named_combined.parent.mkdir()
    paths.named_combined.write_bytes(
        named.cert_chain_pems[0].bytes() + named.private_key_pem.bytes()
    )
    return paths


StartServer = Callable[..., None]


@pytest.fixture
def run_server() -> Iterator[StartServer]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(command: list[str], *ports: int) -> None:
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its workers in one process group, for stop()
        )
        processes.append(process)
        for port in ports:
            wait_for(port, process)

    try:
        yield start
    finally:
        for process in processes:
            stop(process)


class Seen(NamedTuple):
    """What one report row says, in the words of the contract's columns."""

    verdict: str
    reason: str
    sni_http_status: object
    nosni_http_status: object
    warnings: object


NO_COLUMN = "<no such column>"


def seen(row: Mapping[str, object]) -> Seen:
    """A row (``COLUMNS`` to cells, or a JSONL record) as the values these tests compare."""
    warnings = row.get("warnings", NO_COLUMN)
    if isinstance(warnings, list | tuple):
        warnings = tuple(str(code) for code in warnings)
    return Seen(
        str(row["verdict"]),
        str(row["reason"]),
        row.get("sni_http_status", NO_COLUMN),
        row.get("nosni_http_status", NO_COLUMN),
        warnings,
    )


async def scan(host: str, port: int) -> Seen:
    endpoint = Endpoint(host=host, port=port, sni=host, address="127.0.0.1", timeout=3)
    record = await Scanner(TLSProber()).scan_endpoint(endpoint)
    return seen(dict(zip(COLUMNS, record.cells(), strict=True)))


def find(binary: str) -> str | None:
    """The path of an installed server binary; /usr/sbin is not on every user's PATH."""
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin")


def needs(binary: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(find(binary) is None, reason=f"{binary} is not installed")


# --- openssl s_server ---------------------------------------------------------------------------


S_SERVER = [
    "openssl", "s_server", "-quiet", "-www",  # -www: every GET gets "HTTP/1.0 200 ok"
    "-servername", NAME,  # the name of -cert2; any other name gets the default -cert
]  # fmt: skip


def s_server(pems: Pems, port: int, *options: str) -> list[str]:
    return [
        *S_SERVER,
        "-cert", str(pems.default_cert), "-key", str(pems.default_key),
        "-cert2", str(pems.named_cert), "-key2", str(pems.named_key),
        "-accept", f"127.0.0.1:{port}", *options,
    ]  # fmt: skip


@needs("openssl")
@pytest.mark.anyio
async def test_openssl_s_server(pems: Pems, run_server: StartServer) -> None:
    lenient, fatal = free_port(), free_port()
    run_server(s_server(pems, lenient), lenient)
    run_server(s_server(pems, fatal, "-servername_fatal"), fatal)
    # Without SNI s_server falls back to its default certificate for another name.
    assert await scan(NAME, lenient) == Seen(
        Verdict.MISMATCHED, Reason.DEFAULT_CERTIFICATE, 200, 200, ()
    )
    # An unknown name gets the default too: same certificate, which does not cover that name.
    # In TLS 1.3 (what it negotiates unless limited) s_server sends no warning alert.
    assert await scan(OTHER_NAME, lenient) == Seen(
        Verdict.OPTIONAL, Reason.SAME_CERTIFICATE, 200, 200, (NOT_COVERING,)
    )
    # -servername_fatal turns the warning into a fatal alert for unknown names: no request
    # with SNI; the probe without SNI still gets the default certificate and its 200.
    assert await scan(OTHER_NAME, fatal) == Seen(Verdict.ERROR, Reason.SNI_REJECTED, None, 200, ())


@needs("openssl")
@pytest.mark.anyio
async def test_openssl_s_server_tls12_warning_alert(pems: Pems, run_server: StartServer) -> None:
    tls12 = free_port()
    run_server(s_server(pems, tls12, "-tls1_2"), tls12)
    # Asked for the name it knows, it sends no alert.
    assert await scan(NAME, tls12) == Seen(
        Verdict.MISMATCHED, Reason.DEFAULT_CERTIFICATE, 200, 200, ()
    )
    # Limited to TLS 1.2 it answers an unknown name with a warning-level unrecognized_name alert
    # before its ServerHello (`openssl s_client -tls1_2 -servername other... -msg` shows
    # `<<< TLS 1.2, Alert [length 0002], warning unrecognized_name`), then the default
    # certificate: OpenSSL goes on, Java aborts there.
    assert await scan(OTHER_NAME, tls12) == Seen(
        Verdict.OPTIONAL, Reason.SAME_CERTIFICATE, 200, 200, (WARNING_ALERT, NOT_COVERING)
    )


# --- nginx --------------------------------------------------------------------------------------


@needs("nginx")
@pytest.mark.anyio
async def test_nginx(pems: Pems, run_server: StartServer, tmp_path: Path) -> None:
    strict, default, by_host, refused, closed = (free_port() for _ in range(5))
    certs = f"ssl_certificate {pems.named_cert}; ssl_certificate_key {pems.named_key};"
    default_certs = f"ssl_certificate {pems.default_cert}; ssl_certificate_key {pems.default_key};"
    wildcard_certs = (
        f"ssl_certificate {pems.wildcard_cert}; ssl_certificate_key {pems.wildcard_key};"
    )
    # `$ssl_server_name` is empty when the client sent no SNI; 444 is nginx's "close the
    # connection without any answer".
    refuse, close = (f'if ($ssl_server_name = "") {{ return {status}; }}' for status in (403, 444))
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path}; fastcgi_temp_path {tmp_path};
  uwsgi_temp_path {tmp_path}; scgi_temp_path {tmp_path};
  server {{ listen 127.0.0.1:{strict} ssl default_server; ssl_reject_handshake on; }}
  server {{ listen 127.0.0.1:{strict} ssl; server_name {NAME}; {certs} return 200; }}
  server {{ listen 127.0.0.1:{default} ssl default_server; {default_certs} return 200; }}
  server {{ listen 127.0.0.1:{default} ssl; server_name {NAME}; {certs} return 200; }}
  server {{ listen 127.0.0.1:{by_host} ssl default_server; {wildcard_certs} return 403; }}
  server {{ listen 127.0.0.1:{by_host} ssl; server_name {NAME}; {certs} return 200; }}
  server {{ listen 127.0.0.1:{refused} ssl; server_name {NAME}; {certs} {refuse} return 200; }}
  server {{ listen 127.0.0.1:{closed} ssl; server_name {NAME}; {certs} {close} return 200; }}
}}
"""
    )
    ports = (strict, default, by_host, refused, closed)
    run_server([str(find("nginx")), "-c", str(conf), "-e", str(tmp_path / "error.log")], *ports)
    # No certificate at all without SNI: the handshake is refused, so no request is made.
    assert await scan(NAME, strict) == Seen(
        Verdict.REQUIRED, Reason.NOSNI_ALERT_UNRECOGNIZED_NAME, 200, None, ()
    )
    assert await scan(OTHER_NAME, strict) == Seen(
        Verdict.ERROR, Reason.SNI_REJECTED, None, None, ()
    )
    # nginx picks the server block by Host once the handshake is done, so the request without
    # SNI is answered by the named server too; the default certificate is what breaks.
    assert await scan(NAME, default) == Seen(
        Verdict.MISMATCHED, Reason.DEFAULT_CERTIFICATE, 200, 200, ()
    )
    # Same, with a default certificate that covers the name: the default server's `return 403`
    # is never reached (Host routes to the named server), and the client without SNI works.
    assert await scan(NAME, by_host) == Seen(
        Verdict.OPTIONAL, Reason.COVERING_CERTIFICATE, 200, 200, ()
    )
    # Refusing the request itself when no SNI came: 403, or a close without an answer.
    assert await scan(NAME, refused) == Seen(
        Verdict.REQUIRED, Reason.NOSNI_HTTP_REFUSED, 200, 403, ()
    )
    assert await scan(NAME, closed) == Seen(
        Verdict.REQUIRED, Reason.NOSNI_HTTP_REFUSED, 200, None, ()
    )
    # No nginx 421 here: nginx 1.22 answers 421 only when an SNI name *was* negotiated, Host
    # names another server and the SNI server has ssl_verify_client; a probe without SNI never
    # meets it.


# --- HAProxy ------------------------------------------------------------------------------------


@needs("haproxy")
@pytest.mark.anyio
async def test_haproxy(pems: Pems, run_server: StartServer, tmp_path: Path) -> None:
    strict, router, backend, misdirected = (free_port() for _ in range(4))
    crts = pems.named_combined.parent
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(
        f"""
defaults
  mode tcp
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend strict
  bind 127.0.0.1:{strict} ssl crt {crts}/ strict-sni
  mode http
  http-request return status 200
frontend router
  bind 127.0.0.1:{router}
  tcp-request inspect-delay 2s
  tcp-request content reject unless {{ req.ssl_sni -m found }}
  default_backend strict_again
backend strict_again
  server s1 127.0.0.1:{backend}
frontend backend_tls
  bind 127.0.0.1:{backend} ssl crt {crts}/
  mode http
  http-request return status 200
frontend misdirected
  bind 127.0.0.1:{misdirected} ssl crt {crts}/
  mode http
  http-request return status 421 unless {{ ssl_fc_sni -m found }}
  http-request return status 200
"""
    )
    run_server([str(find("haproxy")), "-db", "-f", str(conf)], strict, router, misdirected)
    # strict-sni: no certificate without SNI; HAProxy 2.6 refuses the handshake with a fatal
    # unrecognized_name alert (`openssl s_client -noservername -msg`).
    assert await scan(NAME, strict) == Seen(
        Verdict.REQUIRED, Reason.NOSNI_ALERT_UNRECOGNIZED_NAME, 200, None, ()
    )
    assert await scan(NAME, router) == Seen(Verdict.REQUIRED, Reason.NOSNI_CLOSED, 200, None, ())
    # A gateway rule that answers 421 to requests that came without SNI.
    assert await scan(NAME, misdirected) == Seen(
        Verdict.REQUIRED, Reason.NOSNI_HTTP_MISDIRECTED, 200, 421, ()
    )


# --- Apache httpd -------------------------------------------------------------------------------
#
# Debian's apache2 (tested with 2.4.71), name-based virtual hosts, one port per case:
#
# * strict:      first vhost NAME (its own certificate) with `SSLStrictSNIVHostCheck on`, a second
#                vhost for another name. Without SNI the handshake succeeds with NAME's
#                certificate, and the request gets `403 Forbidden` (error log AH02033 "No
#                hostname was provided via SNI for a name based virtual host").
# * misdirected: first (default) vhost DEFAULT_NAME with a *.example.test certificate, second
#                vhost NAME with its own certificate, no strict check. Without SNI the handshake
#                uses the default vhost's wildcard certificate (it covers NAME), then Host picks
#                the NAME vhost, whose SSL setup differs: `421 Misdirected Request` (AH02032
#                "Hostname default.example.test (default host as no SNI was provided) and
#                hostname api.example.test provided via HTTP have no compatible SSL setup").
#                This check of requests without SNI came with httpd 2.4.64 (CVE-2025-23048);
#                older versions serve the request, and the test is skipped there.
# * shared:      as misdirected, but both vhosts use the same wildcard certificate: compatible
#                setups, so Apache serves the request without SNI (200).
# * served:      first vhost NAME, a second vhost for another name, no strict check: the request
#                without SNI lands on NAME's vhost and is served (200).
#
# Every vhost answers GET / with mod_status's page (200): no document root to make readable by
# the user the workers run as.

APACHE_MODULES = Path("/usr/lib/apache2/modules")
APACHE = find("apache2")


@dataclass(frozen=True)
class Apache:
    strict: int
    misdirected: int
    shared: int
    served: int
    error_log: Path


def _vhost(port: int, name: str, cert: Path, key: Path, *extra: str) -> str:
    lines = [
        f"ServerName {name}",
        "SSLEngine on",
        f"SSLCertificateFile {cert}",
        f"SSLCertificateKeyFile {key}",
        *extra,
    ]
    body = "".join(f"  {line}\n" for line in lines)
    return f"<VirtualHost 127.0.0.1:{port}>\n{body}</VirtualHost>\n"


def _apache_conf(directory: Path, pems: Pems, apache: Apache) -> str:
    user = ""
    if os.geteuid() == 0:  # Apache refuses to serve as root: the workers switch to nobody
        nobody = pwd.getpwnam("nobody")
        user = f"User nobody\nGroup {grp.getgrgid(nobody.pw_gid).gr_name}\n"
    modules = ["mpm_event", "authz_core", "ssl", "status"]
    loads = "".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so\n" for m in modules)
    named, default = (pems.named_cert, pems.named_key), (pems.default_cert, pems.default_key)
    wildcard = (pems.wildcard_cert, pems.wildcard_key)
    ports = (apache.strict, apache.misdirected, apache.shared, apache.served)
    return "".join(
        [
            f"ServerRoot {directory}\nDefaultRuntimeDir {directory}\n",
            f"PidFile {directory}/httpd.pid\nErrorLog {apache.error_log}\n",
            "LogLevel warn ssl:info\nServerName localhost\n",
            loads,
            user,
            "StartServers 1\nServerLimit 1\nThreadsPerChild 8\nMaxRequestWorkers 8\n",
            "MinSpareThreads 1\nMaxSpareThreads 8\n",
            '<Location "/">\n  SetHandler server-status\n  Require all granted\n</Location>\n',
            "".join(f"Listen 127.0.0.1:{port}\n" for port in ports),
            _vhost(apache.strict, NAME, *named, "SSLStrictSNIVHostCheck on"),
            _vhost(apache.strict, OTHER_NAME, *default),
            _vhost(apache.misdirected, DEFAULT_NAME, *wildcard),
            _vhost(apache.misdirected, NAME, *named),
            _vhost(apache.shared, DEFAULT_NAME, *wildcard),
            _vhost(apache.shared, NAME, *wildcard),
            _vhost(apache.served, NAME, *named),
            _vhost(apache.served, OTHER_NAME, *default),
        ]
    )


@pytest.fixture(scope="module")
def apache(pems: Pems, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apache]:
    if APACHE is None or not (APACHE_MODULES / "mod_ssl.so").exists():
        pytest.skip("apache2 (with mod_ssl) is not installed")
    directory = tmp_path_factory.mktemp("apache")
    servers = Apache(
        strict=free_port(),
        misdirected=free_port(),
        shared=free_port(),
        served=free_port(),
        error_log=directory / "error.log",
    )
    conf = directory / "httpd.conf"
    conf.write_text(_apache_conf(directory, pems, servers))
    with (directory / "stderr.log").open("wb") as errors:
        process = subprocess.Popen(
            [APACHE, "-f", str(conf), "-DFOREGROUND"],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,  # its workers in one process group, for stop()
        )
    try:
        for port in (servers.strict, servers.misdirected, servers.shared, servers.served):
            wait_for(port, process, directory / "stderr.log")
        yield servers
    finally:
        stop(process)


@pytest.fixture(scope="module")
def apache_rows(apache: Apache, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Seen]:
    """Scans the Apache endpoints once, as a user does: a YAML list, the CLI, a JSONL report."""
    directory = tmp_path_factory.mktemp("apache-scan")
    ports = (apache.strict, apache.misdirected, apache.shared, apache.served)
    listing = directory / "apache.yaml"
    listing.write_text(
        "defaults:\n  timeout: 3\nendpoints:\n"
        + "".join(f"  - {{host: {NAME}, port: {p}, address: 127.0.0.1}}\n" for p in ports)
    )
    report = directory / "report.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "snisweep", "scan", str(listing), "-o", str(report), "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(row["port"] for row in rows) == sorted(ports)
    assert all(row["address"] == "127.0.0.1" and row["sni"] == NAME for row in rows)
    return {row["port"]: seen(row) for row in rows}


def test_apache_strict_sni_vhost_check_refuses_with_403(
    apache: Apache, apache_rows: dict[int, Seen]
) -> None:
    assert apache_rows[apache.strict] == Seen(
        Verdict.REQUIRED, Reason.NOSNI_HTTP_REFUSED, 200, 403, ()
    )
    assert "AH02033" in apache.error_log.read_text()  # it was Apache's SNI check that said 403


def test_apache_default_vhost_certificate_covering_the_name_gives_421(
    apache: Apache, apache_rows: dict[int, Seen]
) -> None:
    row = apache_rows[apache.misdirected]
    if row.nosni_http_status == 200 and "AH02032" not in apache.error_log.read_text():
        # The check without SNI came with httpd 2.4.64 (CVE-2025-23048; some distributions
        # backported it): before, Host picked the vhost and the request was served.
        pytest.skip("this Apache serves requests without SNI whichever vhost Host picks")
    assert row == Seen(Verdict.REQUIRED, Reason.NOSNI_HTTP_MISDIRECTED, 200, 421, ())
    assert "AH02032" in apache.error_log.read_text()


def test_apache_serves_without_sni_when_the_vhosts_are_compatible(
    apache: Apache, apache_rows: dict[int, Seen]
) -> None:
    assert apache_rows[apache.shared] == Seen(
        Verdict.OPTIONAL, Reason.SAME_CERTIFICATE, 200, 200, ()
    )
    assert apache_rows[apache.served] == Seen(
        Verdict.OPTIONAL, Reason.SAME_CERTIFICATE, 200, 200, ()
    )
