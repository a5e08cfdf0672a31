"""`itflow-bridge serve` bound to every address serves only the peers in [server] allow."""

import signal
import socket

import pytest

from agi_script import env_block
from itflow_bridge.sample.simulated_asterisk import simulate_call
from serve_process import start_serve, stop
from sockets import read_until_closed


@pytest.fixture
def open_daemon(fake_itflow, tmp_path):
    """The daemon on 0.0.0.0 with the default allow-list (127.0.0.1 and ::1)."""
    proc, port, _ = start_serve(fake_itflow, tmp_path, '[server]\nhost = 0.0.0.0\n')
    yield proc, port
    stop(proc)


def _from_127_0_0_2(port: int) -> bytes:
    """Connect from 127.0.0.2, send a whole caller-ID AGI environment, return all that comes back."""
    with socket.socket() as connection:
        connection.settimeout(5)
        connection.bind(("127.0.0.2", 0))
        connection.connect(("127.0.0.1", port))
        try:
            connection.sendall(env_block({"agi_callerid": "+15551234567"}, network_script="itflow-cid.agi"))
        except ConnectionResetError:
            return b""
        return read_until_closed(connection)


def asked_for_the_number(fake):
    return [r.query for r in fake.requests if "5551234567" in str(r.query)]


def test_a_peer_from_127_0_0_2_gets_nothing_and_is_logged_once(open_daemon, fake_itflow):
    proc, port = open_daemon
    for _ in range(5):
        assert _from_127_0_0_2(port) == b""
    assert asked_for_the_number(fake_itflow) == []  # ITFlow never asked for them
    # 127.0.0.1 still gets its answer from the same daemon.
    call = simulate_call("127.0.0.1", port, "itflow-cid.agi", caller_num="+15551234567")
    assert call.variables["CALLERID(name)"] == "Acme Corp - John Smith"
    after_the_call = asked_for_the_number(fake_itflow)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    # Once the daemon is gone nothing is left running: a refused peer's lookup, had one
    # started late, would be here beside the allowed call's.
    assert asked_for_the_number(fake_itflow) == after_the_call
    log = proc.stderr.read().decode()
    assert log.count("refused a connection from 127.0.0.2") == 1, log
    assert "Traceback" not in log and fake_itflow.api_key not in log
