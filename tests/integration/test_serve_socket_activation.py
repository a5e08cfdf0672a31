"""``serve`` started the way systemd starts it: a listening socket as fd 3, a notify socket.

The daemon must accept on the socket it was given (never bind its own), say
``READY=1`` once it answers calls, ``STOPPING=1`` on SIGTERM, and still apply
the allow-list to connections on the inherited socket.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from itflow_bridge.sample.simulated_asterisk import simulate_call

NOTIFY_TIMEOUT = 15.0
# LISTEN_PID must be the daemon's own pid: the shell sets it, then becomes the daemon.
LAUNCH = 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -m itflow_bridge.cli serve'


def start_activated(fake, tmp_path: Path, ini: str,
                    host: str = "127.0.0.1") -> Tuple[subprocess.Popen, socket.socket, socket.socket]:
    """(daemon, the listening socket systemd would hold, the notify socket it reports to)."""
    listener = socket.create_server((host, 0))
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(NOTIFY_TIMEOUT)
    conf = tmp_path / "bridge.conf"
    conf.write_text(ini, encoding="utf-8")
    env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(conf), ITFLOW_URL=fake.url, ITFLOW_API_KEY=fake.api_key,
               ITFLOW_API_MODE="v1", ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cache"),
               NOTIFY_SOCKET=str(tmp_path / "notify"))
    fd = listener.fileno()
    daemon = subprocess.Popen(["sh", "-c", LAUNCH, sys.executable], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, pass_fds=(3,),
                              preexec_fn=lambda: os.dup2(fd, 3))
    return daemon, listener, notify


def messages_until(notify: socket.socket, state: str) -> List[str]:
    seen: List[str] = []
    while state not in seen:
        seen.append(notify.recv(4096).decode())
    return seen


@pytest.fixture
def activated(fake_itflow, tmp_path) -> Iterator[Tuple[subprocess.Popen, socket.socket, socket.socket]]:
    daemon, listener, notify = start_activated(
        fake_itflow, tmp_path, "[server]\nport = 1\n[directory]\nsync_interval = 0\n")  # port 1: never bound
    yield daemon, listener, notify
    if daemon.poll() is None:
        daemon.kill()
    daemon.wait()
    listener.close()
    notify.close()


def test_serves_the_inherited_socket_and_says_ready_then_stopping(activated) -> None:
    daemon, listener, notify = activated
    assert messages_until(notify, "READY=1")[-1] == "READY=1"
    port = listener.getsockname()[1]
    call = simulate_call("127.0.0.1", port, "itflow-cid.agi", caller_num="+15551234567")
    assert call.variables["ITFLOW_CID_STATUS"] == "FOUND"
    daemon.send_signal(signal.SIGTERM)
    assert "STOPPING=1" in messages_until(notify, "STOPPING=1")
    assert daemon.wait(timeout=NOTIFY_TIMEOUT) == 0
    # The daemon closed only its copy: the port still listens for the next process.
    with socket.create_connection(("127.0.0.1", port), timeout=NOTIFY_TIMEOUT):
        pass


def test_the_allow_list_applies_to_the_inherited_socket(fake_itflow, tmp_path) -> None:
    daemon, listener, notify = start_activated(
        fake_itflow, tmp_path, "[directory]\nsync_interval = 0\n", host="0.0.0.0")  # default allow: 127.0.0.1, ::1
    try:
        messages_until(notify, "READY=1")
        port = listener.getsockname()[1]
        assert _reply_from_127_0_0_2(port) == b""
        call = simulate_call("127.0.0.1", port, "itflow-cid.agi", caller_num="+15551234567")
        assert call.variables["ITFLOW_CID_STATUS"] == "FOUND"
    finally:
        daemon.kill()
        daemon.wait()
        listener.close()
        notify.close()


def _reply_from_127_0_0_2(port: int) -> bytes:
    """A caller-ID AGI environment sent from 127.0.0.2; everything that comes back (a reset: nothing)."""
    with socket.socket() as connection:
        connection.settimeout(NOTIFY_TIMEOUT)
        connection.bind(("127.0.0.2", 0))
        connection.connect(("127.0.0.1", port))
        received = b""
        try:
            connection.sendall(b"agi_network: yes\nagi_network_script: itflow-cid.agi\n"
                               b"agi_callerid: +15551234567\n\n")
            while True:
                chunk = connection.recv(4096)
                if not chunk:
                    return received
                received += chunk
        except ConnectionResetError:
            return received
