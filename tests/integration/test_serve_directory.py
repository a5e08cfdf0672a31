"""`itflow-bridge serve` keeps the local directory fresh and serves it over HTTP beside FastAGI."""

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from itflow_bridge.sample.simulated_asterisk import simulate_call
from sockets import free_port  # the directory's HTTP port cannot be 0 (0 is off)

START_TIMEOUT = 15.0


class Serve:
    """``itflow-bridge serve`` as a subprocess, its log in a file."""

    def __init__(self, fake, tmp_path, ini="", *flags):
        conf = tmp_path / "bridge.conf"
        conf.write_text("[callerid]\nbudget_ms = 3000\n" + ini, encoding="utf-8")
        self.log_path = tmp_path / "serve.log"
        env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(conf), ITFLOW_URL=fake.url, ITFLOW_API_KEY=fake.api_key,
                   ITFLOW_API_MODE="v1", ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cache"))
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "itflow_bridge.cli", "serve", "--port", "0", *flags],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

    @property
    def port(self):
        """The FastAGI port the daemon picked for itself (it logs it once listening)."""
        self.wait_for("FastAGI listening on ")
        return int(re.search(r"FastAGI listening on [^:]+:(\d+)", self.log()).group(1))

    def log(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text, count=1, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("no %r in the log:\n%s" % (text, self.log()))

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


@pytest.fixture
def serve(fake_itflow, tmp_path):
    started = []

    def start(ini="", *flags):
        started.append(Serve(fake_itflow, tmp_path, ini, *flags))
        return started[-1]

    yield start
    for process in started:
        process.stop()
        assert "Traceback" not in process.log() and fake_itflow.api_key not in process.log()


def get(port, path, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_serve_with_both_ports_answers_from_the_directory_and_stops_on_sigterm(serve, fake_itflow):
    http_port = free_port()
    daemon = serve("", "--http-port", str(http_port))
    daemon.wait_for("synced ")  # the first sync, in the background
    daemon.wait_for("directory HTTP server listening on 127.0.0.1:%d" % http_port)
    fake_itflow.clear_requests()

    assert get(http_port, "/cnam?number=+15551234567")[::2] == (200, b"Acme Corp - John Smith")
    call = simulate_call("127.0.0.1", daemon.port, "itflow-cid.agi", caller_num="5559876543")
    assert (call.variables["ITFLOW_CID_STATUS"], call.variables["CALLERID(name)"]) == ("FOUND", "Acme Corp - Jane Doe")
    assert fake_itflow.requests == []  # both named from the local directory

    status, headers, body = get(http_port, "/phonebook/yealink.xml")
    assert status == 200 and b"John Smith" in body and headers["ETag"].startswith('"')
    again = get(http_port, "/phonebook/yealink.xml", {"If-None-Match": headers["ETag"]})
    assert again[0] == 304 and again[2] == b""
    assert get(http_port, "/phonebook/yealink.xml", {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert fake_itflow.requests == []

    assert daemon.stop() == 0
    for port in (daemon.port, http_port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5)


def test_http_port_token_and_allow_list_from_the_config(serve):
    http_port = free_port()
    daemon = serve("[directory]\nhttp_port = %d\nhttp_token = s3cret\n" % http_port)
    daemon.wait_for("synced ")
    daemon.wait_for("directory HTTP server listening")
    assert get(http_port, "/cnam?number=5551234567")[0] == 403
    assert get(http_port, "/cnam?number=5551234567&token=s3cret")[::2] == (200, b"Acme Corp - John Smith")
    assert get(http_port, "/phonebook/snom.xml", {"X-Token": "s3cret"})[0] == 200
    assert "s3cret" not in daemon.log()

    other = serve("[directory]\nhttp_port = %d\nhttp_allow = 192.0.2.0/24\n" % free_port())
    other.wait_for("directory HTTP server listening")
    port = int(other.log().split("directory HTTP server listening on 127.0.0.1:")[1].split()[0])
    assert get(port, "/cnam?number=5551234567")[0] == 403  # 127.0.0.1 is not on the list


def test_a_taken_http_port_stops_the_daemon_with_one_line(serve, fake_itflow):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        daemon = serve("", "--http-port", str(taken.getsockname()[1]))
        assert daemon.process.wait(timeout=START_TIMEOUT) == 2
    assert "already in use" in daemon.log() and "http_port" in daemon.log()


def test_no_http_server_and_no_sync_when_off(serve, fake_itflow):
    daemon = serve("[directory]\nsync_interval = 0\n")
    daemon.wait_for("sync_interval = 0")
    call = simulate_call("127.0.0.1", daemon.port, "itflow-cid.agi", caller_num="5551234567")
    assert call.variables["ITFLOW_CID_STATUS"] == "FOUND"
    assert fake_itflow.count("/api/v1/vendors/read.php", offset="0") <= 1  # no sync: only the lookup's listings
    assert "HTTP server" not in daemon.log() and "synced" not in daemon.log()


def test_resyncs_on_the_interval_and_a_failure_keeps_the_old_directory(serve, fake_itflow):
    daemon = serve("[directory]\nsync_interval = 1\n")
    daemon.wait_for("synced ")
    fake_itflow.set_fault("500_empty")
    daemon.wait_for("directory sync failed", count=2, timeout=10)
    assert daemon.log().count("directory sync failed") <= 4  # one line per attempt, an attempt a second
    call = simulate_call("127.0.0.1", daemon.port, "itflow-cid.agi", caller_num="5551234567")
    assert call.variables["CALLERID(name)"] == "Acme Corp - John Smith"  # the previous directory answers
    fake_itflow.data["contacts"][0]["contact_name"] = "John Renamed"
    fake_itflow.set_fault(None)
    synced = daemon.log().count("synced ")
    daemon.wait_for("synced ", count=synced + 1, timeout=10)
    call = simulate_call("127.0.0.1", daemon.port, "itflow-cid.agi", caller_num="5551234567")
    assert call.variables["CALLERID(name)"] == "Acme Corp - John Renamed"
