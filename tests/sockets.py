"""Socket helpers shared by the tests that talk over loopback."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on at this moment (connections to it are refused).

    Only for programs that cannot pick their own: bind it, release it, and pass
    the number on.  Where the program under test binds port 0 itself and says
    which port it got (``FastAGIServer.server_address``, ``serve --port 0``'s
    log line), use that instead: nothing can take the port in between.
    """
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def read_until_closed(connection: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the peer sends until it closes (FIN or reset)."""
    connection.settimeout(timeout)
    received = b""
    while True:
        try:
            chunk = connection.recv(4096)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
