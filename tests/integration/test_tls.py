"""TLS is verified: a self-signed ITFlow fails closed with a clear message; ca_bundle fixes it.

A handshake refused for another reason is said without certificate advice.
"""

import ssl
import subprocess
from pathlib import Path

import pytest

from itflow_bridge.api import connect
from itflow_bridge.health import run_checks
from itflow_bridge.core.errors import ITFlowTLSError
from itflow_bridge.sample.fake_itflow import FakeITFlow


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True)
    return folder


@pytest.fixture
def https_itflow(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    with FakeITFlow(tls=context) as fake:
        yield fake


def test_self_signed_certificate_fails_closed(https_itflow, make_bridge, caplog):
    bridge = make_bridge(https_itflow, "v1")
    with pytest.raises(ITFlowTLSError, match="ca_bundle"):
        bridge.adapter().find_caller("5551234567")
    result = bridge.lookup.lookup("5551234567")
    assert result.status == "ERROR" and "TLS verification failed" in result.error
    assert any("TLS verification failed" in r.getMessage() for r in caplog.records)
    assert https_itflow.api_key not in result.error + caplog.text


def test_ca_bundle_makes_it_work(https_itflow, make_bridge, certificate):
    bridge = make_bridge(https_itflow, "v1", ca_bundle=certificate / "cert.pem")
    assert bridge.adapter().find_caller("5551234567").contact_name == "John Smith"


def test_check_explains_tls(https_itflow, make_bridge):
    report = run_checks(make_bridge(https_itflow, "auto").config)
    assert not report.ok
    assert any(item.status == "FAIL" and "ca_bundle" in item.fix for item in report.items)


def test_a_self_signed_certificate_is_said_in_words(https_itflow):
    with connect(https_itflow.url, https_itflow.api_key) as api:
        with pytest.raises(ITFlowTLSError) as raised:
            list(api.clients.read())
    assert raised.value.reason == "certificate"
    assert str(raised.value) == ("TLS verification failed for %s: self-signed certificate (fix the certificate, or "
                                 "set [itflow] ca_bundle to the CA that signed it)" % https_itflow.url)


@pytest.fixture
def client_certificate_itflow(certificate):
    """An ITFlow whose web server demands a client certificate: the handshake fails, the certificate is fine."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # so the refusal comes inside the handshake
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(certificate / "cert.pem")
    with FakeITFlow(tls=context) as fake:
        yield fake


def test_a_refused_handshake_is_said_without_certificate_advice(client_certificate_itflow, make_bridge, certificate):
    bridge = make_bridge(client_certificate_itflow, "v1", ca_bundle=certificate / "cert.pem")
    with pytest.raises(ITFlowTLSError) as raised:
        bridge.adapter().find_caller("5551234567")
    message = str(raised.value)
    assert raised.value.reason == "handshake"
    assert message.startswith("the TLS handshake with %s failed: " % client_certificate_itflow.url)
    for noise in ("SSLError", "_ssl.c", "[SSL:", "ca_bundle", "certificate"):
        assert noise not in message, message
    failed = [item for item in run_checks(bridge.config).items if item.status == "FAIL"]
    assert [item.name for item in failed] == ["reach ITFlow"] and "protocols and ciphers" in failed[0].fix
