"""One way the agent's routes answer a request: status, type, length, their headers, the body unless HEAD."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Tuple

Headers = Tuple[Tuple[str, str], ...]


def send(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str, head: bool,
         headers: Headers) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    for name, value in headers:
        request.send_header(name, value)
    request.end_headers()
    if not head:
        request.wfile.write(body)
