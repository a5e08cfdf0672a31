"""sd_notify over a real datagram socket: a path socket and an abstract one (Linux)."""

from __future__ import annotations

import os
import socket
from pathlib import Path


from itflow_bridge.core import systemd


def test_notify_sends_the_state_to_a_path_socket(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(tmp_path / "notify"))
        assert systemd.notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "notify")})
        assert receiver.recv(100) == b"READY=1"


def test_notify_reaches_an_abstract_socket() -> None:
    name = "itflow-bridge-test-%d" % os.getpid()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        assert systemd.notify("STOPPING=1", {"NOTIFY_SOCKET": "@" + name})
        assert receiver.recv(100) == b"STOPPING=1"
