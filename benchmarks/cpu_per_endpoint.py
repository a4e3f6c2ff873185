"""CPU per endpoint and throughput of ``snisweep scan`` against OpenSSL's own C client.

    python benchmarks/cpu_per_endpoint.py [--endpoints 3000] [--seconds 5]

Starts one local TLS server (nginx when installed, a fast C server; else ``openssl s_server``)
and measures, in the same run, against that same server:

- the C floor: the CPU (user + sys) that ``openssl s_time -new`` spends per full handshake,
  times two, since snisweep makes two handshakes per endpoint;
- snisweep: the CPU of a whole ``snisweep scan`` process per endpoint (interpreter start-up and
  imports included), on a list where every endpoint needs both handshakes;
- throughput: snisweep's endpoints/s against the manual method, an ``openssl s_client`` pair
  per endpoint run one after the other as a shell loop would.

Figures are printed, never asserted: benchmarks are not tests.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trustme

NAME = "bench.example.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"no server on port {port}")


@contextmanager
def tls_server(workdir: Path) -> Iterator[tuple[int, str]]:
    ca = trustme.CA()
    cert = ca.issue_cert(NAME, "*.bench.example.test")
    cert_path, key_path = workdir / "cert.pem", workdir / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    port = free_port()
    if shutil.which("nginx"):
        conf = workdir / "nginx.conf"
        conf.write_text(
            f"worker_processes 1; daemon off; pid {workdir}/nginx.pid; error_log {workdir}/e.log;\n"
            "events { worker_connections 1024; }\n"
            f"http {{ access_log off; client_body_temp_path {workdir}; proxy_temp_path {workdir};"
            f" fastcgi_temp_path {workdir}; uwsgi_temp_path {workdir}; scgi_temp_path {workdir};"
            f" server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {cert_path};"
            f" ssl_certificate_key {key_path}; return 200; }} }}\n"
        )
        command = ["nginx", "-c", str(conf), "-e", str(workdir / "e.log")]
        label = "nginx (1 worker)"
    else:
        command = ["openssl", "s_server", "-quiet", "-accept", f"127.0.0.1:{port}"]
        command += ["-cert", str(cert_path), "-key", str(key_path), "-naccept", "100000000"]
        label = "openssl s_server"
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port)
        yield port, label
    finally:
        server.terminate()
        server.wait(timeout=10)


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def c_floor(port: int, seconds: int) -> tuple[float, int]:
    """CPU seconds per handshake of ``openssl s_time -new``, and how many it made."""
    before = child_cpu()
    output = subprocess.run(
        ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spent = child_cpu() - before
    match = re.search(r"(\d+) connections in [\d.]+s", output)
    if match is None:
        raise SystemExit(f"cannot read s_time's output:\n{output}")
    count = int(match.group(1))
    return spent / count, count


def snisweep_run(port: int, endpoints: int, workdir: Path) -> tuple[float, float]:
    """CPU seconds per endpoint of a whole ``snisweep scan`` process, and its wall time."""
    config = workdir / "bench.yaml"
    with config.open("w") as f:
        f.write("defaults: {retries: 0, timeout: 10}\nendpoints:\n")
        for i in range(endpoints):
            f.write(f"  - {{host: h{i}.bench.example.test, address: 127.0.0.1, port: {port}}}\n")
    before, started = child_cpu(), time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "snisweep", "scan", str(config), "-o", os.devnull, "--quiet"],
        check=True,
    )
    wall = time.monotonic() - started
    return (child_cpu() - before) / endpoints, wall


def manual_pairs(port: int, endpoints: int) -> float:
    """Wall seconds for the manual method: two ``openssl s_client`` runs per endpoint."""
    started = time.monotonic()
    for i in range(endpoints):
        host = f"h{i}.bench.example.test"
        for sni in (["-servername", host], ["-noservername"]):
            subprocess.run(
                ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *sni],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=3000)
    parser.add_argument("--seconds", type=int, default=5, help="length of the s_time run")
    parser.add_argument("--manual", type=int, default=30, help="endpoints for the manual loop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, tls_server(Path(tmp)) as (port, label):
        floor, handshakes = c_floor(port, args.seconds)
        per_endpoint, wall = snisweep_run(port, args.endpoints, Path(tmp))
        manual_wall = manual_pairs(port, args.manual)
    rate, manual_rate = args.endpoints / wall, args.manual / manual_wall
    print(
        f"server: {label} on 127.0.0.1:{port}; {os.cpu_count()} cores, client and server share them"
    )
    print(
        f"C floor (openssl s_time -new, {handshakes} handshakes): "
        f"{floor * 1e3:.3f} ms CPU per handshake, {2 * floor * 1e3:.3f} ms per endpoint"
    )
    print(
        f"snisweep ({args.endpoints} endpoints, 2 handshakes each): "
        f"{per_endpoint * 1e3:.3f} ms CPU per endpoint, start-up included"
    )
    print(f"ratio snisweep / C floor: {per_endpoint / (2 * floor):.2f}")
    print(
        f"throughput: snisweep {rate:.0f} endpoints/s; manual s_client pairs "
        f"({args.manual} endpoints) {manual_rate:.1f} endpoints/s; ratio {rate / manual_rate:.0f}x"
    )


if __name__ == "__main__":
    main()
