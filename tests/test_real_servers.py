"""Verdicts against servers nobody here wrote: ``openssl s_server``, nginx and HAProxy on loopback.

Each test is skipped when its server binary is not installed (`.ci/run` installs nginx and HAProxy
when the machine lets it). Certificates are made on the fly with trustme.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from snisweep.model import Endpoint, Reason, Verdict
from snisweep.probe import TLSProber
from snisweep.scan import Scanner

pytestmark = pytest.mark.anyio

NAME = "api.example.test"
DEFAULT_NAME = "default.example.test"


@dataclass(frozen=True)
class Pems:
    named_cert: Path
    named_key: Path
    default_cert: Path
    default_key: Path
    named_combined: Path  # HAProxy wants certificate and key in one file
    directory: Path


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> Pems:
    directory = tmp_path_factory.mktemp("pems")
    ca = trustme.CA()
    named, default = ca.issue_cert(NAME), ca.issue_cert(DEFAULT_NAME)
    paths = Pems(
        named_cert=directory / "named.pem",
        named_key=directory / "named.key",
        default_cert=directory / "default.pem",
        default_key=directory / "default.key",
        named_combined=directory / "crts" / "named.pem",
        directory=directory,
    )
    named.cert_chain_pems[0].write_to_path(str(paths.named_cert))
    named.private_key_pem.write_to_path(str(paths.named_key))
    default.cert_chain_pems[0].write_to_path(str(paths.default_cert))
    default.private_key_pem.write_to_path(str(paths.default_key))
    paths.named_combined.parent.mkdir()
    paths.named_combined.write_bytes(
        named.cert_chain_pems[0].bytes() + named.private_key_pem.bytes()
    )
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


StartServer = Callable[..., None]


@pytest.fixture
def run_server() -> Iterator[StartServer]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(command: list[str], *ports: int) -> None:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(process)
        for port in ports:
            wait_for(port, process)

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def verdict(host: str, port: int) -> tuple[Verdict, Reason]:
    endpoint = Endpoint(host=host, port=port, sni=host, address="127.0.0.1", timeout=3)
    record = await Scanner(TLSProber()).scan_endpoint(endpoint)
    return record.verdict, record.reason


def needs(binary: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(binary) is None, reason=f"{binary} is not installed")


@needs("openssl")
async def test_openssl_s_server(pems: Pems, run_server: StartServer) -> None:
    lenient, fatal = free_port(), free_port()
    common = [
        "openssl", "s_server", "-quiet", "-www",
        "-cert", str(pems.default_cert), "-key", str(pems.default_key),
        "-cert2", str(pems.named_cert), "-key2", str(pems.named_key),
        "-servername", NAME,
    ]  # fmt: skip
    run_server([*common, "-accept", f"127.0.0.1:{lenient}"], lenient)
    run_server([*common, "-accept", f"127.0.0.1:{fatal}", "-servername_fatal"], fatal)
    # Without SNI s_server falls back to its default certificate for another name.
    assert await verdict(NAME, lenient) == (Verdict.MISMATCHED, Reason.DEFAULT_CERTIFICATE)
    # An unknown name gets the default too (with only a warning alert): same certificate.
    assert await verdict("other.example.test", lenient) == (
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
    )
    # -servername_fatal turns that warning into a fatal alert for unknown names.
    assert await verdict("other.example.test", fatal) == (Verdict.ERROR, Reason.SNI_REJECTED)


@needs("nginx")
async def test_nginx(pems: Pems, run_server: StartServer, tmp_path: Path) -> None:
    strict, default = free_port(), free_port()
    certs = f"ssl_certificate {pems.named_cert}; ssl_certificate_key {pems.named_key};"
    default_certs = f"ssl_certificate {pems.default_cert}; ssl_certificate_key {pems.default_key};"
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
}}
"""
    )
    run_server(["nginx", "-c", str(conf), "-e", str(tmp_path / "error.log")], strict, default)
    assert await verdict(NAME, strict) == (Verdict.REQUIRED, Reason.NOSNI_ALERT_UNRECOGNIZED_NAME)
    assert await verdict("other.example.test", strict) == (Verdict.ERROR, Reason.SNI_REJECTED)
    assert await verdict(NAME, default) == (Verdict.MISMATCHED, Reason.DEFAULT_CERTIFICATE)


@needs("haproxy")
async def test_haproxy(pems: Pems, run_server: StartServer, tmp_path: Path) -> None:
    strict, router, backend = free_port(), free_port(), free_port()
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(
        f"""
defaults
  mode tcp
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend strict
  bind 127.0.0.1:{strict} ssl crt {pems.named_combined.parent}/ strict-sni
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
  bind 127.0.0.1:{backend} ssl crt {pems.named_combined.parent}/
  mode http
  http-request return status 200
"""
    )
    run_server(["haproxy", "-db", "-f", str(conf)], strict, router)
    assert (await verdict(NAME, strict))[0] is Verdict.REQUIRED
    assert await verdict(NAME, router) == (Verdict.REQUIRED, Reason.NOSNI_CLOSED)
