"""`itflow-bridge serve` bound to every address serves only the peers in [server] allow."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from itflow_bridge.sample.simulated_asterisk import simulate_call


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def open_daemon(fake_itflow, tmp_path):
    """The daemon on 0.0.0.0 with the default allow-list (127.0.0.1 and ::1)."""
    conf = tmp_path / "bridge.conf"
    conf.write_text("[server]\nhost = 0.0.0.0\n", encoding="utf-8")
    port = free_port()
    env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(conf), ITFLOW_URL=fake_itflow.url,
               ITFLOW_API_KEY=fake_itflow.api_key, ITFLOW_API_MODE="v1",
               ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen([sys.executable, "-m", "itflow_bridge.cli", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _from_127_0_0_2(port: int) -> bytes:
    """Connect from 127.0.0.2, send a whole caller-ID AGI environment, return all that comes back."""
    with socket.socket() as connection:
        connection.settimeout(5)
        connection.bind(("127.0.0.2", 0))
        connection.connect(("127.0.0.1", port))
        env = ("agi_network: yes\nagi_network_script: itflow-cid.agi\nagi_request: agi://127.0.0.1/itflow-cid.agi\n"
               "agi_channel: SIP/x\nagi_callerid: +15551234567\n\n").encode()
        received = b""
        try:
            connection.sendall(env)
            while True:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                received += chunk
        except ConnectionResetError:
            pass
        return received


def test_a_peer_from_127_0_0_2_gets_nothing_and_is_logged_once(open_daemon, fake_itflow):
    proc, port = open_daemon
    for _ in range(5):
        assert _from_127_0_0_2(port) == b""
    time.sleep(0.3)
    asked = [r.query for r in fake_itflow.requests]
    assert not any("5551234567" in str(query) for query in asked), asked  # ITFlow never asked for them
    # 127.0.0.1 still gets its answer from the same daemon.
    call = simulate_call("127.0.0.1", port, "itflow-cid.agi", caller_num="+15551234567")
    assert call.variables["CALLERID(name)"] == "Acme Corp - John Smith"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    log = proc.stderr.read().decode()
    assert log.count("refused a connection from 127.0.0.2") == 1, log
    assert "Traceback" not in log and fake_itflow.api_key not in log
