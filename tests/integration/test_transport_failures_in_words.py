"""Two transport failures an admin meets early, said in words by every command and the API client.

* An ``https://`` URL on a port that speaks plain HTTP: the TLS handshake reads an HTTP answer.
  That is no certificate problem, so the message says what is wrong and gives no certificate advice.
* A server that accepts the connection and never answers (the fake's ``blackhole``): the read
  times out, and the message says so with the time waited, not urllib3's repr.
"""

import json
import os
import socket
import subprocess
import sys

import pytest

from itflow_bridge.api import connect
from itflow_bridge.core.errors import ITFlowTimeout, ITFlowTLSError
from itflow_bridge.core.exits import Exit

READ_TIMEOUT = 1  # seconds: the black-hole cases wait this long, once per command
REPRS = ("SSLError", "WRONG_VERSION_NUMBER", "ReadTimeoutError", "HTTPConnectionPool", "HTTPSConnectionPool",
         "Caused by", "_ssl.c")
COMMANDS = [("lookup", "5551234567"), ("sync",), ("api", "clients", "read"), ("check",)]


def not_https(url):
    return "the server at %s does not speak HTTPS on that port (plain HTTP?): use http:// or the HTTPS port" % url


def no_answer(url):
    return "ITFlow at %s accepted the connection but did not answer within %d s" % (url, READ_TIMEOUT)


def run(tmp_path, url, key, *args):
    conf = tmp_path / "bridge.conf"
    conf.write_text("[itflow]\nread_timeout = %d\n" % READ_TIMEOUT, encoding="utf-8")
    env = {name: value for name, value in os.environ.items() if not name.startswith("ITFLOW")}
    env.update({"ITFLOW_BRIDGE_CONFIG": str(conf), "ITFLOW_URL": url, "ITFLOW_API_KEY": key,
                "ITFLOW_BRIDGE_CACHE_DIR": str(tmp_path / "cache")})
    return subprocess.run([sys.executable, "-m", "itflow_bridge.cli", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def said(out, key):
    """What the command told the admin: check's report, or the one line on stderr."""
    assert out.returncode == Exit.FAILURE, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and key not in out.stdout + out.stderr
    text = out.stdout + out.stderr
    for noise in REPRS:
        assert noise not in text, text
    return text


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_https_to_a_plain_http_port_is_named_without_certificate_advice(fake_itflow, tmp_path, command):
    url = fake_itflow.url.replace("http://", "https://")
    text = said(run(tmp_path, url, fake_itflow.api_key, *command), fake_itflow.api_key)
    assert not_https(url) in text
    assert "certificate" not in text and "ca_bundle" not in text


def test_check_gives_the_url_fix_for_a_plain_http_port(fake_itflow, tmp_path):
    url = fake_itflow.url.replace("http://", "https://")
    out = run(tmp_path, url, fake_itflow.api_key, "check", "--json")
    assert out.returncode == Exit.FAILURE
    failed = [item for item in json.loads(out.stdout)["checks"] if item["status"] == "FAIL"]
    assert [item["name"] for item in failed] == ["reach ITFlow"]
    assert failed[0]["detail"] == not_https(url)
    assert "http://" in failed[0]["fix"] and "[itflow] url" in failed[0]["fix"]
    assert "certificate" not in failed[0]["fix"]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_server_that_never_answers_is_named_with_the_time_waited(fake_itflow, tmp_path, command):
    fake_itflow.set_fault("blackhole")
    text = said(run(tmp_path, fake_itflow.url, fake_itflow.api_key, *command), fake_itflow.api_key)
    assert no_answer(fake_itflow.url) in text


def test_the_api_client_raises_the_same_words(fake_itflow):
    url = fake_itflow.url.replace("http://", "https://")
    with connect(url, fake_itflow.api_key) as api:
        with pytest.raises(ITFlowTLSError) as raised:
            list(api.clients.read())
    assert str(raised.value) == not_https(url)

    fake_itflow.set_fault("blackhole")
    with connect(fake_itflow.url, fake_itflow.api_key, read_timeout=READ_TIMEOUT) as api:
        with pytest.raises(ITFlowTimeout) as timed_out:  # a timeout, as callers that tell "too slow" expect
            list(api.clients.read())
    assert str(timed_out.value) == no_answer(fake_itflow.url)


@pytest.fixture
def never_accepting_url():
    """A listener whose backlog is full: the kernel drops further connection attempts unanswered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    pending = []
    for _ in range(3):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        pending.append(client)
    yield "http://127.0.0.1:%d" % port
    for client in pending:
        client.close()
    listener.close()


def test_a_host_that_never_accepts_is_named_with_the_time_waited(never_accepting_url):
    with connect(never_accepting_url, "some-key-0123", connect_timeout=READ_TIMEOUT, retries=0) as api:
        with pytest.raises(ITFlowTimeout) as timed_out:
            list(api.clients.read())
    assert str(timed_out.value) == ("ITFlow at %s did not accept the connection within %d s (host down, or a "
                                    "firewall dropping the packets)" % (never_accepting_url, READ_TIMEOUT))

