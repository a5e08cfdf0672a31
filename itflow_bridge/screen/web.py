"""The agent screen's HTTP routes, served by the directory's HTTP server (its allow-list applies).

* ``GET /agent/<token>``: the page (plain HTML; ``/agent/static/<file>`` its CSS and JS).
* ``GET /agent/<token>/events``: the page's Server-Sent Events stream (see ``live``).
* ``GET|POST /agent/<token>/call``: click to call (see ``click_to_call``; 404 when it is off).

No client data without a valid token: an unknown or revoked token is a 404, and
an open stream ends at its next heartbeat once its link is revoked.  Nothing
here changes state but the click-to-call POST, which checks that it comes from
the bridge's own page, so a request from another site cannot do anything (and
reads nothing: no CORS header is sent).  The page sends no Referer to the ITFlow
pages it links to, so the token does not leave in one; request lines are logged
with the token replaced.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Dict, Optional
from urllib.parse import urlsplit

from .click_to_call import CALL_PATH, ClickToCall

from .replies import Headers, send
from .live import HEARTBEAT, RETRY_MS, LiveStreams, comment, encode
from .tokens import AGENT_PATH, AgentLinks

log = logging.getLogger(__name__)

_ROUTE = re.compile(r"/agent/([^/]+)(/events|%s)?" % re.escape(CALL_PATH))
_TOKEN_IN_TEXT = re.compile(r"(/agent/)(?!static/)[^/\s?\"']+")
STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
          "confirm.js": "text/javascript; charset=utf-8"}
PAGE = "index.html"
SECURITY_HEADERS = (
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
)


def hide_tokens(text: str) -> str:
    """``text`` (a request line, a URL) with every agent token replaced."""
    return _TOKEN_IN_TEXT.sub(r"\1<token>", text)


def _read_page_file(name: str) -> bytes:
    return resources.files(__package__).joinpath("page", name).read_bytes()


class AgentRoutes:
    """The routes above, for the directory HTTP server's ``extra_routes``."""

    served = AGENT_PATH + "<link>"

    def __init__(self, links: AgentLinks, streams: LiveStreams, *, heartbeat: float = HEARTBEAT,
                 click: Optional[ClickToCall] = None):
        self.links = links
        self.streams = streams
        self.click = click
        self.heartbeat = heartbeat
        self._files: Dict[str, bytes] = {name: _read_page_file(name) for name in (PAGE, *STATIC)}

    def redact(self, text: str) -> str:
        return hide_tokens(text)

    def handle(self, request: BaseHTTPRequestHandler, path: str, head: bool) -> bool:
        """Answer ``path`` if it is one of ours (True), else leave it to the server (False)."""
        if not path.startswith(AGENT_PATH):
            return False
        name = path[len(AGENT_PATH):]
        if name.startswith("static/") and name[len("static/"):] in STATIC:
            file = name[len("static/"):]
            _send(request, 200, self._files[file], STATIC[file], head)
            return True
        match = _ROUTE.fullmatch(path)
        extension = self.links.extension_of(match.group(1)) if match else None
        if match is None or extension is None or (match.group(2) == CALL_PATH and self.click is None):
            _send(request, 404, b"not found\n", "text/plain; charset=utf-8", head)
            return True
        if match.group(2) == CALL_PATH and self.click is not None:
            self.click.get(request, match.group(1), extension, urlsplit(request.path).query, head)
        elif match.group(2):
            self._events(request, match.group(1), extension, head)
        else:
            _send(request, 200, self._files[PAGE], "text/html; charset=utf-8", head)
        return True

    def handle_post(self, request: BaseHTTPRequestHandler, path: str) -> bool:
        """Answer a POST to ``path`` if it is ours (True): only click to call takes one."""
        if not path.startswith(AGENT_PATH):
            return False
        match = _ROUTE.fullmatch(path)
        extension = self.links.extension_of(match.group(1)) if match else None
        if match is None or extension is None or match.group(2) != CALL_PATH or self.click is None:
            request.close_connection = True  # the body, if any, is not read
            _send(request, 404, b"not found\n", "text/plain; charset=utf-8", False)
            return True
        self.click.post(request, match.group(1), extension)
        return True

    def _events(self, request: BaseHTTPRequestHandler, token: str, extension: str, head: bool) -> None:
        streams = self.streams
        stream = streams.open(extension) if not head else None
        if stream is None and not head:
            log.warning("agent screen: %d pages open already: one more is asked to come back later",
                        streams.max_streams)
            _send(request, 503, b"too many open pages\n", "text/plain; charset=utf-8", head,
                  SECURITY_HEADERS + (("Retry-After", "30"),))
            return
        request.send_response(200)
        request.send_header("Content-Type", "text/event-stream; charset=utf-8")
        request.send_header("Connection", "close")
        request.send_header("X-Accel-Buffering", "no")
        for name, value in SECURITY_HEADERS:
            request.send_header(name, value)
        request.end_headers()
        request.close_connection = True
        if stream is None:  # HEAD
            return
        try:
            request.wfile.write(("retry: %d\n\n" % RETRY_MS).encode("ascii"))
            request.wfile.write(encode(streams.state(stream), streams.event_id()))
            request.wfile.flush()
            checked = time.monotonic()
            while not stream.closed.is_set():
                event = stream.next(self.heartbeat)
                if time.monotonic() - checked >= self.heartbeat:  # revoked meanwhile (by agent-link --revoke)?
                    if self.links.extension_of(token) != extension:
                        break
                    checked = time.monotonic()
                if event is not None:
                    request.wfile.write(encode(event, streams.event_id()))
                elif stream.closed.is_set():
                    break
                else:  # quiet: tells proxies and the browser the stream is alive, and finds a page gone
                    request.wfile.write(comment("heartbeat"))
                request.wfile.flush()
        except (ConnectionError, socket.timeout, OSError):
            pass  # the page went away
        finally:
            streams.close(stream)


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str, head: bool,
          headers: Headers = SECURITY_HEADERS) -> None:
    send(request, status, body, content_type, head, headers)

