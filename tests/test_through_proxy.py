"""Scans through a real HTTP CONNECT proxy: tinyproxy (a Debian package `.ci/run` installs),
started from the test on a free port, in front of the embedded lab, on loopback.

Skipped where tinyproxy is not installed. Each test checks what the user sees in the row:
the same verdict as a direct scan, the ``proxy`` column (never credentials), and a ``proxy-*``
reason, verdict ``error``, when the proxy is the one that fails.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from processes import free_port, stop, wait_for

from snisweep.core.record import Record
from snisweep.lab import Lab
from snisweep.model import Endpoint, Proxy, Reason, Verdict
from snisweep.net.probe import TLSProber
from snisweep.net.resolve import SystemResolver
from snisweep.report.writers import CSVEncoder
from snisweep.run.scheduler import Limits, Scanner

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("tinyproxy") is None, reason="tinyproxy is not installed"),
]

USER, PASSWORD = "scanner", "s3cret-pw"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


@dataclass(frozen=True)
class Tinyproxy:
    port: int
    log: Path

    def proxy(self, user: str | None = None, password: str | None = None) -> Proxy:
        authorization = None
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            authorization = f"Basic {token}"
        return Proxy("127.0.0.1", self.port, authorization)


def start_tinyproxy(directory: Path, *lines: str) -> Iterator[Tinyproxy]:
    port = free_port()
    log = directory / "tinyproxy.log"
    config = directory / "tinyproxy.conf"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "Listen 127.0.0.1",
                "Timeout 10",
                "MaxClients 100",
                "LogLevel Info",
                f'LogFile "{log}"',
                f'PidFile "{directory / "tinyproxy.pid"}"',
                *lines,
            ]
        )
        + "\n"
    )
    process = subprocess.Popen(
        ["tinyproxy", "-d", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(port, process, log)
        yield Tinyproxy(port, log)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def tinyproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tinyproxy]:
    yield from start_tinyproxy(tmp_path_factory.mktemp("open"))


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tinyproxy]:
    """A proxy that wants a user and password, and tunnels to port 443 only besides the lab's."""
    yield from start_tinyproxy(tmp_path_factory.mktemp("guarded"), f"BasicAuth {USER} {PASSWORD}")


async def scan(endpoint: Endpoint) -> Record:
    scanner = Scanner(TLSProber(), SystemResolver(), Limits())
    return await scanner.scan_endpoint(endpoint)


def through(lab: Lab, name: str, proxy: Proxy | None) -> Endpoint:
    scenario = lab.scenario(name)
    return Endpoint(
        host=scenario.host,
        port=scenario.port,
        address=scenario.address,
        sni=scenario.sni or scenario.host,
        timeout=3.0,
        retries=1,
        proxy=proxy,
    )


@pytest.mark.parametrize(
    "name", ["same-certificate", "strict-alert", "default-certificate", "http-refused"]
)
async def test_verdicts_through_the_proxy_are_those_of_a_direct_scan(
    lab: Lab, tinyproxy: Tinyproxy, name: str
) -> None:
    scenario = lab.scenario(name)
    direct = await scan(through(lab, name, None))
    proxied = await scan(through(lab, name, tinyproxy.proxy()))
    assert (proxied.verdict, proxied.reason) == (scenario.verdict, scenario.reason)
    assert (proxied.verdict, proxied.reason) == (direct.verdict, direct.reason)
    assert proxied.sni_cert_sha256 == direct.sni_cert_sha256
    assert proxied.proxy == f"127.0.0.1:{tinyproxy.port}"
    assert direct.proxy is None


async def test_the_proxy_resolves_the_name_when_no_address_is_given(
    lab: Lab, tinyproxy: Tinyproxy
) -> None:
    # localhost is in the proxy's hosts file; the scan itself resolves only the proxy.
    scenario = lab.scenario("same-certificate")
    endpoint = Endpoint(
        host="localhost", port=scenario.port, sni="localhost", proxy=tinyproxy.proxy()
    )
    record = await scan(endpoint)
    assert (record.verdict, record.reason) == (Verdict.OPTIONAL, Reason.SAME_CERTIFICATE)
    assert record.address is None
    assert f"CONNECT localhost:{scenario.port}" in tinyproxy.log.read_text(errors="replace")


async def test_credentials_open_the_guarded_proxy(lab: Lab, guarded: Tinyproxy) -> None:
    record = await scan(through(lab, "strict-alert", guarded.proxy(USER, PASSWORD)))
    assert (record.verdict, record.reason) == (
        Verdict.REQUIRED,
        Reason.NOSNI_ALERT_UNRECOGNIZED_NAME,
    )
    row = CSVEncoder().rows([record])
    for secret in (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()):
        assert secret not in row
        assert secret not in repr(record)


@pytest.mark.parametrize(
    ("user", "password", "detail"),
    [
        (None, None, "requires authentication"),
        (USER, "wrong", "refused the credentials"),
    ],
)
async def test_a_proxy_that_wants_credentials_is_a_proxy_failure(
    lab: Lab, guarded: Tinyproxy, user: str | None, password: str | None, detail: str
) -> None:
    record = await scan(through(lab, "same-certificate", guarded.proxy(user, password)))
    assert (record.verdict, record.reason) == (Verdict.ERROR, Reason.PROXY_AUTH_REQUIRED)
    assert detail in record.detail
    assert "wrong" not in record.detail
    assert "wrong" not in (record.sni_error or "")


async def test_a_destination_the_proxy_cannot_reach(lab: Lab, tinyproxy: Tinyproxy) -> None:
    endpoint = Endpoint(
        host="nothing.test",
        port=free_port(),
        address="127.0.0.1",
        sni="nothing.test",
        timeout=3.0,
        proxy=tinyproxy.proxy(),
    )
    record = await scan(endpoint)
    assert (record.verdict, record.reason) == (Verdict.ERROR, Reason.PROXY_CONNECT_FAILED)


async def test_a_proxy_that_is_not_there(lab: Lab) -> None:
    gone = Proxy("127.0.0.1", free_port())
    record = await scan(through(lab, "same-certificate", gone))
    assert (record.verdict, record.reason) == (Verdict.ERROR, Reason.PROXY_REFUSED)
    assert record.proxy == gone.display


async def test_a_proxy_name_that_does_not_resolve(lab: Lab) -> None:
    record = await scan(through(lab, "same-certificate", Proxy("proxy.invalid", 3128)))
    assert (record.verdict, record.reason) == (Verdict.ERROR, Reason.PROXY_UNREACHABLE)
