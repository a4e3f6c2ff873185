"""The embedded lab, seen from a plain ``ssl`` client: what each server really does on the wire.

These tests use blocking standard-library sockets, not snisweep's scanner, so that they pin down
the servers themselves (and what Python's ssl module reports for each failure, which the scanner's
failure mapping relies on). They do I/O on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from snisweep.lab import Lab, Scenario
from snisweep.lab.clienthello import (
    RECORD_HEADER_LENGTH,
    ClientHello,
    parse_client_hello,
    record_length,
)
from snisweep.model import Reason, Verdict, WarningCode

CLIENT_TIMEOUT = 0.5
TLS12 = ssl.TLSVersion.TLSv1_2
TLS13 = ssl.TLSVersion.TLSv1_3
NOT_TLS_ANSWER = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

JAVA = WarningCode.JAVA_SENDS_NO_SNI
EXPECTED: dict[str, tuple[Verdict, Reason, tuple[WarningCode, ...]]] = {
    "same-certificate": (Verdict.OPTIONAL, Reason.SAME_CERTIFICATE, ()),
    "default-certificate": (Verdict.MISMATCHED, Reason.DEFAULT_CERTIFICATE, ()),
    "covering-default": (Verdict.OPTIONAL, Reason.COVERING_CERTIFICATE, ()),
    "wildcard": (Verdict.OPTIONAL, Reason.SAME_CERTIFICATE, ()),
    "strict-alert": (Verdict.REQUIRED, Reason.NOSNI_ALERT_UNRECOGNIZED_NAME, ()),
    "sni-rejected": (Verdict.ERROR, Reason.SNI_REJECTED, ()),
    "handshake-failure": (Verdict.REQUIRED, Reason.NOSNI_ALERT_HANDSHAKE_FAILURE, ()),
    "reset": (Verdict.REQUIRED, Reason.NOSNI_RESET, ()),
    "close": (Verdict.REQUIRED, Reason.NOSNI_CLOSED, ()),
    "hang": (Verdict.REQUIRED, Reason.NOSNI_TIMEOUT, ()),
    "silent": (Verdict.ERROR, Reason.HANDSHAKE_TIMEOUT, ()),
    "not-tls": (Verdict.ERROR, Reason.NOT_TLS, ()),
    "ip-literal": (Verdict.OPTIONAL, Reason.IP_LITERAL, (JAVA,)),
    "refused": (Verdict.ERROR, Reason.CONNECT_REFUSED, ()),
    "http-refused": (Verdict.REQUIRED, Reason.NOSNI_HTTP_REFUSED, ()),
    "http-misdirected": (Verdict.REQUIRED, Reason.NOSNI_HTTP_MISDIRECTED, ()),
    "sni-warning-alert": (
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
        (WarningCode.SNI_WARNING_ALERT,),
    ),
    "long-chain": (Verdict.OPTIONAL, Reason.SAME_CERTIFICATE, (WarningCode.CHAIN_TOO_LONG,)),
    "legacy-tls": (Verdict.OPTIONAL, Reason.SAME_CERTIFICATE, (WarningCode.LEGACY_TLS,)),
    "ip-literal-rejected": (Verdict.ERROR, Reason.IP_LITERAL_REJECTED, (JAVA,)),
    "java-no-sni": (Verdict.OPTIONAL, Reason.SAME_CERTIFICATE, (JAVA,)),
    "placeholder-default": (
        Verdict.MISMATCHED,
        Reason.DEFAULT_CERTIFICATE,
        (WarningCode.PLACEHOLDER_CERTIFICATE,),
    ),
    "expired": (Verdict.OPTIONAL, Reason.SAME_CERTIFICATE, (WarningCode.CERT_EXPIRED,)),
    "sni-cert-not-covering": (
        Verdict.OPTIONAL,
        Reason.SAME_CERTIFICATE,
        (WarningCode.SNI_CERT_NOT_COVERING,),
    ),
    "ip-literal-no-ip-san": (Verdict.OPTIONAL, Reason.IP_LITERAL, (JAVA, WarningCode.NO_IP_SAN)),
}
IP_LITERALS = ("ip-literal", "ip-literal-rejected", "ip-literal-no-ip-san")
# TLS 1.2 with a warning unrecognized_name alert (level 1, description 112).
WARNING_ALERT = b"\x15\x03\x03\x00\x02\x01\x70"
LISTENERS = 19  # every server but the refused port


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


def client_context(max_version: ssl.TLSVersion = TLS13) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = max_version
    return context


def legacy_client_context() -> ssl.SSLContext:
    """Like the scanner's: every version OpenSSL still has, at security level 0."""
    context = client_context()
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def dial(scenario: Scenario) -> tuple[str, int]:
    return (scenario.address or scenario.host, scenario.port)


def sans(der: bytes | None) -> list[str]:
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = names.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    return sorted(dns + ips)


def handshake(
    scenario: Scenario,
    sni: str | None,
    *,
    max_version: ssl.TLSVersion = TLS13,
    timeout: float = CLIENT_TIMEOUT,
) -> list[str]:
    """Complete a handshake with ``sni`` (None: no SNI) and return the certificate's SANs."""
    with (
        socket.create_connection(dial(scenario), timeout=timeout) as raw,
        client_context(max_version).wrap_socket(raw, server_hostname=sni) as tls,
    ):
        return sans(tls.getpeercert(binary_form=True))


def leaf(scenario: Scenario, sni: str | None) -> x509.Certificate:
    with (
        socket.create_connection(dial(scenario), timeout=CLIENT_TIMEOUT) as raw,
        client_context().wrap_socket(raw, server_hostname=sni) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def http_status(scenario: Scenario, sni: str | None, context: ssl.SSLContext | None = None) -> int:
    """Send the scanner's kind of request after a handshake; the status code of the answer."""
    request = (
        f"GET / HTTP/1.1\r\nHost: {scenario.host}:{scenario.port}\r\n"
        "User-Agent: snisweep-test\r\nConnection: close\r\n\r\n"
    )
    with (
        socket.create_connection(dial(scenario), timeout=2) as raw,
        (context or client_context()).wrap_socket(raw, server_hostname=sni) as tls,
    ):
        tls.sendall(request.encode())
        answer = b""
        while chunk := tls.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"\r\nContent-Length: %d\r\n" % len(body) in head
    return int(head.split(b" ", 2)[1])


def chain_length(tls: ssl.SSLSocket) -> int:
    """How many certificates the server sent, whether or not they verify."""
    if sys.version_info >= (3, 13):
        chain = tls.get_unverified_chain()
    else:  # there since 3.10, on the object the SSLSocket wraps
        chain = tls._sslobj.get_unverified_chain()  # type: ignore[attr-defined,unused-ignore]
    assert chain is not None
    return len(chain)


def first_bytes_answered(scenario: Scenario, sni: str | None, size: int) -> bytes:
    """The first ``size`` bytes the server sends back to a ClientHello with ``sni``."""
    with socket.create_connection(dial(scenario), timeout=2) as raw:
        raw.sendall(captured_client_hello(sni))
        data = b""
        while len(data) < size and (chunk := raw.recv(size - len(data))):
            data += chunk
    return data


def captured_client_hello(
    server_hostname: str | None, max_version: ssl.TLSVersion = TLS13
) -> bytes:
    outgoing = ssl.MemoryBIO()
    client = client_context(max_version).wrap_bio(
        ssl.MemoryBIO(), outgoing, server_hostname=server_hostname
    )
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


def lab_threads(since: set[threading.Thread]) -> list[threading.Thread]:
    """Lab threads started after ``since`` (the module's lab runs alongside) and still alive."""
    return [
        t for t in threading.enumerate() if t.name.startswith("snisweep-lab-") and t not in since
    ]


# --- the scenario table ---------------------------------------------------------------------


def test_every_scenario_has_its_expected_verdict_reason_and_warnings(lab: Lab) -> None:
    assert [s.name for s in lab.scenarios] == list(EXPECTED)
    for scenario in lab.scenarios:
        assert (scenario.verdict, scenario.reason, scenario.warnings) == EXPECTED[scenario.name]
        assert scenario.description.endswith(".")
        assert scenario.sni is None
        # The column lists warnings in the order of the closed list.
        order = list(WarningCode)
        assert list(scenario.warnings) == sorted(scenario.warnings, key=order.index)


def test_name_hosts_dial_the_lab_address_and_ip_hosts_dial_themselves(lab: Lab) -> None:
    for scenario in lab.scenarios:
        if scenario.name in IP_LITERALS:
            assert (scenario.host, scenario.address) == ("127.0.0.1", None)
        else:
            assert scenario.host.endswith(".lab.test")
            assert scenario.address == "127.0.0.1"


SHARED = {
    "ip-literal": "same-certificate",
    "sni-rejected": "strict-alert",
    "ip-literal-rejected": "strict-alert",
    "java-no-sni": "wildcard",
    "ip-literal-no-ip-san": "wildcard",
}


def test_scenarios_sharing_a_server_share_its_port(lab: Lab) -> None:
    for name, server in SHARED.items():
        assert lab.scenario(name).port == lab.scenario(server).port
    others = [s.port for s in lab.scenarios if s.name not in SHARED]
    assert len(set(others)) == len(others) == LISTENERS + 1  # and the refused port


def test_unknown_scenario_name_is_a_key_error(lab: Lab) -> None:
    with pytest.raises(KeyError):
        lab.scenario("nope")


# --- what a client sees ---------------------------------------------------------------------


@pytest.mark.parametrize("max_version", [TLS12, TLS13])
@pytest.mark.parametrize(
    ("name", "with_sni", "without_sni"),
    [
        ("same-certificate", ["127.0.0.1", "same.lab.test"], ["127.0.0.1", "same.lab.test"]),
        ("default-certificate", ["mismatch.lab.test"], ["default.lab.test"]),
        ("covering-default", ["covering.lab.test"], ["*.lab.test"]),
        ("wildcard", ["*.wild.lab.test"], ["*.wild.lab.test"]),
        ("strict-alert", ["strict.lab.test"], None),
        ("handshake-failure", ["handshake-failure.lab.test"], None),
        ("reset", ["reset.lab.test"], None),
        ("close", ["close.lab.test"], None),
        ("hang", ["hang.lab.test"], None),
        ("http-refused", ["vhost-check.lab.test"], ["vhost-check.lab.test"]),
        ("http-misdirected", ["misdirected.lab.test"], ["*.lab.test"]),
        ("sni-warning-alert", ["*.warn.lab.test"], ["*.warn.lab.test"]),
        ("long-chain", ["chain.lab.test"], ["chain.lab.test"]),
        ("java-no-sni", ["*.wild.lab.test"], ["*.wild.lab.test"]),
        ("placeholder-default", ["ingress.lab.test"], ["ingress.local"]),
        ("expired", ["expired.lab.test"], ["expired.lab.test"]),
        ("sni-cert-not-covering", ["elsewhere.lab.test"], ["elsewhere.lab.test"]),
    ],
)
def test_certificates_with_and_without_sni(
    lab: Lab,
    name: str,
    with_sni: list[str],
    without_sni: list[str] | None,
    max_version: ssl.TLSVersion,
) -> None:
    scenario = lab.scenario(name)
    assert handshake(scenario, scenario.host, max_version=max_version) == with_sni
    if without_sni is not None:
        assert handshake(scenario, None, max_version=max_version) == without_sni


def test_default_server_serves_its_default_for_an_unknown_name(lab: Lab) -> None:
    assert handshake(lab.scenario("default-certificate"), "who.lab.test") == ["default.lab.test"]


def test_sni_matching_ignores_case(lab: Lab) -> None:
    assert handshake(lab.scenario("strict-alert"), "STRICT.Lab.Test") == ["strict.lab.test"]
    assert handshake(lab.scenario("reset"), "Reset.LAB.test") == ["reset.lab.test"]


def test_ip_literals_are_servers_by_address(lab: Lab) -> None:
    assert handshake(lab.scenario("ip-literal"), None) == ["127.0.0.1", "same.lab.test"]
    assert handshake(lab.scenario("ip-literal-no-ip-san"), None) == ["*.wild.lab.test"]


def test_certificates_chain_to_the_lab_ca(lab: Lab) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    lab.ca.configure_trust(context)
    scenario = lab.scenario("same-certificate")
    with (
        socket.create_connection(dial(scenario), timeout=CLIENT_TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname="same.lab.test") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_the_long_chain_is_sent_whole_and_verifies_to_the_lab_ca(lab: Lab) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    lab.ca.configure_trust(context)  # the root only: the intermediates must come from the server
    scenario = lab.scenario("long-chain")
    for sni in ("chain.lab.test", None):
        context.check_hostname = sni is not None
        with (
            socket.create_connection(dial(scenario), timeout=CLIENT_TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=sni) as tls,
        ):
            assert chain_length(tls) == 12  # the leaf and 11 intermediates: Java allows 10
    with (
        socket.create_connection(dial(lab.scenario("same-certificate")), timeout=1) as raw,
        client_context().wrap_socket(raw, server_hostname="same.lab.test") as tls,
    ):
        assert chain_length(tls) == 1


def test_the_placeholder_default_is_ingress_nginx_s_fake_certificate(lab: Lab) -> None:
    default = leaf(lab.scenario("placeholder-default"), None).subject
    assert [a.value for a in default.get_attributes_for_oid(NameOID.COMMON_NAME)] == [
        "Kubernetes Ingress Controller Fake Certificate"
    ]
    assert [a.value for a in default.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "Acme Co"
    ]
    own = leaf(lab.scenario("placeholder-default"), "ingress.lab.test").subject
    assert [a.value for a in own.get_attributes_for_oid(NameOID.COMMON_NAME)] == [
        "ingress.lab.test"
    ]


def test_the_expired_certificate_has_expired(lab: Lab) -> None:
    now = datetime.now(UTC)
    for sni in ("expired.lab.test", None):
        cert = leaf(lab.scenario("expired"), sni)
        assert cert.not_valid_before_utc < cert.not_valid_after_utc < now
    assert leaf(lab.scenario("same-certificate"), None).not_valid_after_utc > now


def test_the_legacy_server_speaks_tls_1_0_only(lab: Lab) -> None:
    scenario = lab.scenario("legacy-tls")
    for sni in ("tls10.lab.test", None):
        with (
            socket.create_connection(dial(scenario), timeout=CLIENT_TIMEOUT) as raw,
            legacy_client_context().wrap_socket(raw, server_hostname=sni) as tls,
        ):
            assert tls.version() == "TLSv1"
            assert sans(tls.getpeercert(binary_form=True)) == ["tls10.lab.test"]
    assert http_status(scenario, "tls10.lab.test", legacy_client_context()) == 200
    # A client with today's defaults (TLS 1.2 and up) cannot talk to it at all.
    with pytest.raises(ssl.SSLError):
        handshake(scenario, "tls10.lab.test")


def test_the_warning_alert_server_speaks_tls_1_2_at_most(lab: Lab) -> None:
    scenario = lab.scenario("sni-warning-alert")
    with (
        socket.create_connection(dial(scenario), timeout=CLIENT_TIMEOUT) as raw,
        client_context(TLS13).wrap_socket(raw, server_hostname=scenario.host) as tls,
    ):
        assert tls.version() == "TLSv1.2"


@pytest.mark.parametrize("max_version", [TLS12, TLS13])
@pytest.mark.parametrize(
    ("name", "sni", "reason"),
    [
        ("strict-alert", None, "TLSV1_UNRECOGNIZED_NAME"),
        ("strict-alert", "unknown.lab.test", "TLSV1_UNRECOGNIZED_NAME"),
        ("sni-rejected", "other.lab.test", "TLSV1_UNRECOGNIZED_NAME"),
        ("handshake-failure", None, "SSLV3_ALERT_HANDSHAKE_FAILURE"),
        ("handshake-failure", "unknown.lab.test", "SSLV3_ALERT_HANDSHAKE_FAILURE"),
        ("ip-literal-rejected", None, "TLSV1_UNRECOGNIZED_NAME"),
    ],
)
def test_fatal_alerts(
    lab: Lab, name: str, sni: str | None, reason: str, max_version: ssl.TLSVersion
) -> None:
    with pytest.raises(ssl.SSLError) as raised:
        handshake(lab.scenario(name), sni, max_version=max_version)
    assert type(raised.value) is ssl.SSLError
    assert (raised.value.library, raised.value.reason) == ("SSL", reason)


@pytest.mark.parametrize("sni", [None, "unknown.lab.test"])
def test_reset_router_resets(lab: Lab, sni: str | None) -> None:
    with pytest.raises(ConnectionResetError):
        handshake(lab.scenario("reset"), sni)


@pytest.mark.parametrize("sni", [None, "unknown.lab.test"])
def test_close_router_closes(lab: Lab, sni: str | None) -> None:
    with pytest.raises(ssl.SSLEOFError) as raised:
        handshake(lab.scenario("close"), sni)
    assert raised.value.reason == "UNEXPECTED_EOF_WHILE_READING"


def test_close_router_sends_not_a_byte(lab: Lab) -> None:
    with socket.create_connection(dial(lab.scenario("close")), timeout=CLIENT_TIMEOUT) as raw:
        raw.sendall(captured_client_hello(None))
        assert raw.recv(1024) == b""


@pytest.mark.parametrize(("name", "sni"), [("hang", None), ("silent", None), ("silent", "x")])
def test_hang_and_silent_time_out(lab: Lab, name: str, sni: str | None) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        handshake(lab.scenario(name), sni)
    assert time.monotonic() - started >= CLIENT_TIMEOUT * 0.9


def test_silent_server_ignores_anything(lab: Lab) -> None:
    with socket.create_connection(dial(lab.scenario("silent")), timeout=0.3) as raw:
        raw.sendall(b"GET / HTTP/1.0\r\n\r\n" + captured_client_hello("silent.lab.test"))
        with pytest.raises(TimeoutError):
            raw.recv(1)


@pytest.mark.parametrize("sni", [None, "not-tls.lab.test"])
def test_not_tls_fails_the_handshake(lab: Lab, sni: str | None) -> None:
    with pytest.raises(ssl.SSLError) as raised:
        handshake(lab.scenario("not-tls"), sni)
    assert (raised.value.library, raised.value.reason) == ("SSL", "WRONG_VERSION_NUMBER")


def test_not_tls_answers_in_plain_http(lab: Lab) -> None:
    with socket.create_connection(dial(lab.scenario("not-tls")), timeout=2) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := raw.recv(1024):
            received += chunk
    assert received == NOT_TLS_ANSWER


def test_refused(lab: Lab) -> None:
    with pytest.raises(ConnectionRefusedError):
        handshake(lab.scenario("refused"), "refused.lab.test")


def test_tls_servers_answer_a_request_after_the_handshake(lab: Lab) -> None:
    scenario = lab.scenario("same-certificate")
    with (
        socket.create_connection(dial(scenario), timeout=2) as raw,
        client_context().wrap_socket(raw, server_hostname=scenario.host) as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: same.lab.test\r\n\r\n")
        assert tls.recv(1024).startswith(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize(
    ("name", "with_sni", "without_sni"),
    [
        ("same-certificate", 200, 200),
        ("default-certificate", 200, 200),
        ("covering-default", 200, 200),
        ("strict-alert", 200, None),
        ("reset", 200, None),
        ("http-refused", 200, 403),
        ("http-misdirected", 200, 421),
        ("sni-warning-alert", 200, 200),
        ("long-chain", 200, 200),
        ("placeholder-default", 200, 200),
        ("expired", 200, 200),
        ("sni-cert-not-covering", 200, 200),
    ],
)
def test_http_status_with_and_without_sni(
    lab: Lab, name: str, with_sni: int, without_sni: int | None
) -> None:
    scenario = lab.scenario(name)
    assert http_status(scenario, scenario.host) == with_sni
    if without_sni is not None:
        assert http_status(scenario, None) == without_sni


@pytest.mark.parametrize("name", ["http-refused", "http-misdirected"])
def test_http_refusal_follows_the_client_hello_not_the_host_header(lab: Lab, name: str) -> None:
    scenario = lab.scenario(name)
    # Any name sent as SNI counts as SNI sent, as with Apache's check.
    assert http_status(scenario, "who.lab.test") == 200
    with (
        socket.create_connection(dial(scenario), timeout=2) as raw,
        client_context().wrap_socket(raw, server_hostname=None) as tls,
    ):
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert not tls.recv(1024).startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("name", ["same-certificate", "http-refused", "sni-warning-alert"])
def test_a_client_that_sends_no_request_gets_no_answer(lab: Lab, name: str) -> None:
    # A plain-TLS endpoint (protocol: tls): the client completes the handshake and hangs up.
    scenario = lab.scenario(name)
    with (
        socket.create_connection(dial(scenario), timeout=2) as raw,
        client_context().wrap_socket(raw, server_hostname=None) as tls,
    ):
        socket.socket.shutdown(tls, socket.SHUT_WR)  # a FIN, the TLS session left as it is
        assert tls.recv(1024) == b""


@pytest.mark.parametrize("max_version", [TLS12, TLS13])
def test_warning_alert_precedes_the_server_hello_for_an_unknown_name(
    lab: Lab, max_version: ssl.TLSVersion
) -> None:
    scenario = lab.scenario("sni-warning-alert")
    with socket.create_connection(dial(scenario), timeout=2) as raw:
        raw.sendall(captured_client_hello(scenario.host, max_version))
        data = b""
        while len(data) < 13 and (chunk := raw.recv(13 - len(data))):
            data += chunk
    assert data[:7] == WARNING_ALERT
    assert data[7:10] == b"\x16\x03\x03"  # a TLS 1.2 handshake record...
    assert data[12] == 0x02  # ... with the ServerHello


@pytest.mark.parametrize("sni", [None, "warn.lab.test", "WARN.lab.test"])
def test_no_warning_alert_without_sni_or_for_the_known_name(lab: Lab, sni: str | None) -> None:
    answer = first_bytes_answered(lab.scenario("sni-warning-alert"), sni, 6)
    assert answer[:3] == b"\x16\x03\x03"
    assert answer[5] == 0x02


def test_the_known_name_gets_its_own_certificate_on_the_warning_server(lab: Lab) -> None:
    assert handshake(lab.scenario("sni-warning-alert"), "warn.lab.test") == ["warn.lab.test"]


@pytest.mark.parametrize("name", ["same-certificate", "covering-default", "http-refused"])
def test_other_servers_send_no_warning_alert(lab: Lab, name: str) -> None:
    scenario = lab.scenario(name)
    assert first_bytes_answered(scenario, "unknown.lab.test", 1) == b"\x16"


# --- robustness -----------------------------------------------------------------------------


def test_held_connections_do_not_block_others(lab: Lab) -> None:
    held = [socket.create_connection(dial(lab.scenario(name))) for name in ("silent", "hang")]
    try:
        for sock in held:
            sock.sendall(captured_client_hello(None))
        started = time.monotonic()
        for name in ("hang", "silent"):
            with socket.create_connection(dial(lab.scenario(name))) as another:
                another.sendall(captured_client_hello(None))
        for _ in range(3):
            assert handshake(lab.scenario("hang"), "hang.lab.test") == ["hang.lab.test"]
            assert handshake(lab.scenario("wildcard"), None) == ["*.wild.lab.test"]
        assert time.monotonic() - started < 1
    finally:
        for sock in held:
            sock.close()


GARBAGE = [
    b"",
    b"\x16",
    b"\x16\x03\x01",
    b"\x16\x03\x01\xff\xff",  # a record longer than TLS allows
    b"\x16\x03\x01\x00\x10" + b"\x01" + b"\xff" * 15,  # a ClientHello with lying lengths
    b"\x80\x2e\x01\x03\x01",  # an SSLv2-style hello
    b"GET / HTTP/1.1\r\n\r\n",
    bytes(range(256)) * 4,
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_every_server_survives_garbage(lab: Lab, garbage: bytes) -> None:
    for scenario in lab.scenarios:
        if scenario.name == "refused" or scenario.name in SHARED:
            continue
        # Whatever the server answers, or whether it already reset, is not the point here.
        with (
            socket.create_connection(dial(scenario), timeout=0.2) as raw,
            contextlib.suppress(OSError),
        ):
            if garbage:
                raw.sendall(garbage)
            raw.shutdown(socket.SHUT_WR)
            while raw.recv(4096):
                pass
    for name, sni in [
        ("reset", "reset.lab.test"),
        ("strict-alert", "strict.lab.test"),
        ("sni-warning-alert", "api.warn.lab.test"),
        ("http-refused", "vhost-check.lab.test"),
    ]:
        assert handshake(lab.scenario(name), sni)


def test_a_client_that_stops_mid_hello_only_ends_its_own_connection(lab: Lab) -> None:
    hello = captured_client_hello(None)
    for name in ("reset", "close", "hang", "strict-alert", "sni-warning-alert", "http-refused"):
        with socket.create_connection(dial(lab.scenario(name)), timeout=0.2) as raw:
            raw.sendall(hello[: len(hello) // 2])
    assert handshake(lab.scenario("close"), "close.lab.test") == ["close.lab.test"]


def test_a_hello_sent_in_pieces_is_still_routed(lab: Lab) -> None:
    scenario = lab.scenario("reset")
    with socket.create_connection(dial(scenario), timeout=2) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        outgoing = ssl.MemoryBIO()
        incoming = ssl.MemoryBIO()
        client = client_context().wrap_bio(incoming, outgoing, server_hostname=scenario.host)
        with pytest.raises(ssl.SSLWantReadError):
            client.do_handshake()
        hello = outgoing.read()
        for start in range(0, len(hello), 100):
            raw.sendall(hello[start : start + 100])
            time.sleep(0.005)
        # The router found the name and handed over to TLS: a ServerHello comes back.
        assert raw.recv(1)[:1] == b"\x16"


# --- lifecycle ------------------------------------------------------------------------------


def test_close_stops_every_thread_even_with_held_connections() -> None:
    before = set(threading.enumerate())
    lab = Lab()
    lab.start()
    held = [socket.create_connection(dial(lab.scenario(name))) for name in ("silent", "hang")]
    try:
        for sock in held:
            sock.sendall(captured_client_hello(None))
        deadline = time.monotonic() + 2
        while len(lab_threads(before)) < LISTENERS + len(held) and time.monotonic() < deadline:
            time.sleep(0.01)
        # A thread per listener and one per held connection.
        assert len(lab_threads(before)) == LISTENERS + len(held)
        started = time.monotonic()
        lab.close()
        assert time.monotonic() - started < 1
        assert lab_threads(before) == []
        for sock in held:
            # Stopped servers hang up: FIN, or RST when the hello was still unread.
            sock.settimeout(1)
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(1) == b""
    finally:
        for sock in held:
            sock.close()
    lab.close()  # idempotent


def test_a_lab_starts_and_stops_twice() -> None:
    before = set(threading.enumerate())
    lab = Lab()
    for _ in range(2):
        with lab:
            assert handshake(lab.scenario("strict-alert"), "strict.lab.test")
            with pytest.raises(RuntimeError):
                lab.start()
        assert lab_threads(before) == []
    with Lab() as other:
        assert handshake(other.scenario("wildcard"), None) == ["*.wild.lab.test"]
    assert lab_threads(before) == []


def test_config_yaml_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        Lab().config_yaml()


def test_config_yaml_lists_every_scenario(lab: Lab) -> None:
    text = lab.config_yaml(timeout=0.5, retries=2)
    config = yaml.safe_load(text)
    assert config["defaults"] == {"timeout": 0.5, "retries": 2, "tags": ["lab"]}
    endpoints = config["endpoints"]
    assert len(endpoints) == len(lab.scenarios)
    for entry, scenario in zip(endpoints, lab.scenarios, strict=True):
        expected: dict[str, object] = {
            "host": scenario.host,
            "port": scenario.port,
            "label": scenario.name,
        }
        if scenario.address is not None:
            expected["address"] = scenario.address
        assert entry == expected
        expectation = f"# Expected: {scenario.verdict} / {scenario.reason}"
        if scenario.warnings:
            expectation += ", warnings: " + ", ".join(scenario.warnings)
        assert expectation + "\n" in text
    assert all(len(line) <= 100 for line in text.splitlines())


# --- the ClientHello parser -----------------------------------------------------------------


@pytest.mark.parametrize("max_version", [TLS12, TLS13])
def test_parser_reads_the_server_name_of_real_hellos(max_version: ssl.TLSVersion) -> None:
    with_sni = captured_client_hello("api.Example.com", max_version)
    assert record_length(with_sni) == len(with_sni)
    assert parse_client_hello(with_sni) == ClientHello(server_name="api.example.com")
    without = captured_client_hello(None, max_version)
    assert parse_client_hello(without) == ClientHello(server_name=None)


def test_parser_reads_only_the_first_record() -> None:
    hello = captured_client_hello("a.lab.test")
    assert parse_client_hello(hello + b"\x17\x03\x03junk") == ClientHello("a.lab.test")


def test_record_length_tells_a_peeker_when_to_stop() -> None:
    hello = captured_client_hello("a.lab.test")
    assert record_length(b"") == RECORD_HEADER_LENGTH
    assert record_length(hello[:3]) == RECORD_HEADER_LENGTH
    assert record_length(hello[:5]) == len(hello)
    assert record_length(b"G") == 0
    assert record_length(b"\x16\x02") == 0
    assert record_length(b"\x16\x03\x01\x00\x00") == 0
    assert record_length(b"\x16\x03\x01\xff\xff") == 0


def test_parser_says_not_a_client_hello_for_every_truncation() -> None:
    hello = captured_client_hello("a.lab.test")
    for end in range(len(hello)):
        assert parse_client_hello(hello[:end]) is None


@pytest.mark.parametrize("garbage", GARBAGE)
def test_parser_never_raises_on_garbage(garbage: bytes) -> None:
    assert parse_client_hello(garbage) is None


def test_parser_never_raises_on_corrupted_hellos() -> None:
    rng = random.Random(6066)
    hello = bytearray(captured_client_hello("a.lab.test"))
    for position in range(len(hello)):
        corrupted = bytearray(hello)
        corrupted[position] ^= rng.randrange(1, 256)
        result = parse_client_hello(bytes(corrupted))
        assert result is None or isinstance(result, ClientHello)
    for _ in range(2000):
        noise = bytes([0x16, 0x03, 0x01]) + rng.randbytes(rng.randrange(0, 300))
        result = parse_client_hello(noise)
        assert result is None or isinstance(result, ClientHello)


def test_parser_ignores_non_host_names_and_bad_bytes() -> None:
    def hello_with(server_name_extension: bytes) -> bytes:
        body = b"\x03\x03" + b"\x00" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
        extension = b"\x00\x00" + len(server_name_extension).to_bytes(2, "big")
        extensions = extension + server_name_extension
        body += len(extensions).to_bytes(2, "big") + extensions
        handshake_message = b"\x01" + len(body).to_bytes(3, "big") + body
        return b"\x16\x03\x01" + len(handshake_message).to_bytes(2, "big") + handshake_message

    def names(*entries: tuple[int, bytes]) -> bytes:
        listed = b"".join(bytes([kind]) + len(n).to_bytes(2, "big") + n for kind, n in entries)
        return len(listed).to_bytes(2, "big") + listed

    assert parse_client_hello(hello_with(names((0, b"ok.test")))) == ClientHello("ok.test")
    assert parse_client_hello(hello_with(names((7, b"x"), (0, b"b.test")))) == ClientHello("b.test")
    assert parse_client_hello(hello_with(names((0, b"\xff\xfe")))) == ClientHello(None)
    assert parse_client_hello(hello_with(names((0, b"a\nb")))) == ClientHello(None)
    assert parse_client_hello(hello_with(names((0, b"")))) == ClientHello(None)
    assert parse_client_hello(hello_with(names((0, b"a" * 300)))) == ClientHello(None)
    assert parse_client_hello(hello_with(names())) == ClientHello(None)
