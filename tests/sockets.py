"""Socket helpers shared by the FastAGI tests."""

import socket


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
