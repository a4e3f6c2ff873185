"""The local TLS servers the benchmarks measure against, and endpoint lists that point at them.
Does I/O: writes certificates and a config, starts and stops a server.

nginx when the machine has it (a fast C server, e.g. Debian's ``nginx-light``); otherwise the
embedded lab (``snisweep.lab``: Python ``ssl`` servers in threads of this process, much slower).
Either way there are three servers, one per verdict of a mixed fleet:

- ``optional``: one certificate, served with or without SNI (every endpoint needs two full
  handshakes that both succeed: the CPU and latency sections use this one);
- ``required``: without SNI the handshake ends in a fatal ``unrecognized_name`` alert (nginx
  ``ssl_reject_handshake on`` in the default server);
- ``mismatched``: without SNI a default certificate for another name.

Every endpoint is a distinct name pinned to 127.0.0.1 with ``address:``, so no DNS is involved
and no two endpoints are de-duplicated.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme
from measure import stop

LOOPBACK = "127.0.0.1"
_DOMAIN = "bench.test"


@dataclass(frozen=True, slots=True)
class Service:
    """One TLS server; its endpoints are ``h{index}.{kind}.bench.test``."""

    kind: str  # the verdict every endpoint of this server gets
    port: int
    sni: str | None = None  # sent instead of the host, for servers that know a single name

    def host(self, index: int) -> str:
        return f"h{index}.{self.kind}.{_DOMAIN}"

    def entry(self, index: int, *, port: int | None = None) -> str:
        """One endpoint, a line of a YAML list (``port`` to dial a relay instead)."""
        sni = f", sni: {self.sni}" if self.sni else ""
        return (
            f"  - {{host: {self.host(index)}, address: {LOOPBACK}, "
            f"port: {port or self.port}{sni}}}\n"
        )

    def server_name(self, index: int) -> str:
        return self.sni or self.host(index)


@dataclass(frozen=True, slots=True)
class Servers:
    description: str  # which server this is, printed with every figure
    optional: Service
    required: Service
    mismatched: Service

    @property
    def mixed(self) -> tuple[Service, Service, Service]:
        return (self.required, self.mismatched, self.optional)


def write_list(path: Path, entries: Iterable[str], *, timeout: float, retries: int) -> Path:
    with path.open("w") as f:
        f.write(f"defaults: {{timeout: {timeout:g}, retries: {retries}}}\nendpoints:\n")
        f.writelines(entries)
    return path


def mixed_entries(servers: Servers, count: int) -> Iterator[str]:
    """``count`` endpoints, the three kinds interleaved."""
    for index in range(count):
        yield servers.mixed[index % 3].entry(index)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {LOOPBACK}:{port}")


def nginx_binary() -> str | None:
    # Debian puts it in /usr/sbin, which is not on every user's PATH.
    return shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))


@contextmanager
def start(workdir: Path, choice: str = "auto") -> Iterator[Servers]:
    """Start the servers (``choice``: auto, nginx or lab) and stop them on the way out."""
    nginx = nginx_binary()
    if choice == "nginx" and nginx is None:
        raise SystemExit("--server nginx: nginx is not installed")
    if nginx is not None and choice != "lab":
        with _nginx(nginx, workdir) as servers:
            yield servers
    else:
        with _lab("nginx is not installed" if nginx is None else "--server lab") as servers:
            yield servers


@contextmanager
def _nginx(binary: str, workdir: Path) -> Iterator[Servers]:
    ca = trustme.CA()
    names = {kind: f"*.{kind}.{_DOMAIN}" for kind in ("optional", "required", "mismatched")}
    names["default"] = f"default.{_DOMAIN}"
    certs: dict[str, str] = {}
    for key, name in names.items():
        leaf = ca.issue_cert(name)
        cert, private = workdir / f"{key}.pem", workdir / f"{key}.key"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(private))
        certs[key] = f"ssl_certificate {cert}; ssl_certificate_key {private};"
    optional, required, mismatched = free_port(), free_port(), free_port()
    workers = os.cpu_count() or 1
    conf = workdir / "nginx.conf"
    # A directory of its own: nginx hands its temporary paths over to its worker user.
    scratch = workdir / "nginx-temp"
    scratch.mkdir()
    temp = " ".join(
        f"{kind}_temp_path {scratch};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf.write_text(
        f"""
worker_processes {workers};
worker_rlimit_nofile 8192;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log crit;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  ssl_protocols TLSv1.2 TLSv1.3;
  {temp}
  server {{ listen {LOOPBACK}:{optional} ssl; {certs["optional"]} return 200; }}
  server {{ listen {LOOPBACK}:{required} ssl default_server; ssl_reject_handshake on; }}
  server {{
    listen {LOOPBACK}:{required} ssl; server_name {names["required"]};
    {certs["required"]} return 200;
  }}
  server {{ listen {LOOPBACK}:{mismatched} ssl default_server; {certs["default"]} return 200; }}
  server {{
    listen {LOOPBACK}:{mismatched} ssl; server_name {names["mismatched"]};
    {certs["mismatched"]} return 200;
  }}
}}
"""
    )
    version = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False).stderr
    found = re.search(r"nginx/(\S+)", version)
    process = subprocess.Popen(
        [binary, "-c", str(conf), "-e", str(workdir / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for port in (optional, required, mismatched):
            wait_for(port, process)
        yield Servers(
            description=f"nginx {found.group(1) if found else '?'} ({workers} worker processes)",
            optional=Service("optional", optional),
            required=Service("required", required),
            mismatched=Service("mismatched", mismatched),
        )
    finally:
        stop(process)


@contextmanager
def _lab(why: str) -> Iterator[Servers]:
    from snisweep.lab import Lab  # noqa: PLC0415 - only without nginx

    with Lab() as lab:

        def service(kind: str, scenario: str) -> Service:
            found = lab.scenario(scenario)
            return Service(kind, found.port, sni=found.host)

        yield Servers(
            description=f"the embedded lab (snisweep.lab: Python ssl in threads of the benchmark's"
            f" process; {why})",
            optional=service("optional", "same-certificate"),
            required=service("required", "strict-alert"),
            mismatched=service("mismatched", "default-certificate"),
        )
