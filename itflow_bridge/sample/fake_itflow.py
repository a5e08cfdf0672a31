"""A fake ITFlow: real HTTP on loopback, ITFlow's exact bytes and quirks, both API generations.

Why it exists: real ITFlow needs a web server, PHP and MariaDB, yet the bridge
has to be proven against exactly what ITFlow answers, for both API generations.
Integration tests, the Asterisk e2e tests, the benchmarks and ``itflow-bridge
demo`` run against this server, so it ships inside the package and uses only
the standard library.  ``python -m itflow_bridge.sample`` serves it.

This module is the server: the dataset (``data``, tables of ITFlow-shaped rows
loaded from ``sample_itflow.json``, read afresh by every request), routing to
the PHP scripts it re-enacts (``legacy_api.py`` for ``/api.php``,
``json_api.py`` for the reads of ``/api/v1/``), Apache's 404 page and
ITFlow's login page, and a log of every request.  The v1 write scripts are not
shipped: tests plug them in (``writes``); without them they answer 404.
ITFlow's own states are plain attributes: ``key_state`` (the key refused as
unknown or expired, not tied to a user, or its user invalid) and
``bool_success``.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import socketserver
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Protocol, Sequence, Set, Tuple
from urllib.parse import unquote, urlsplit

from . import json_api, legacy_api
from .json_api import KEY_REFUSED, KEY_STATES, KEY_VALID, V1_PREFIX
from .legacy_api import LEGACY_PATH
from .php import Dataset, php_get, php_intval
from .wire import APACHE_ERROR_TYPE, HTML_TYPE, SERVER_SIGNATURE, Reply, Request

SAMPLE_API_KEY = "sample-key-d8f3b2a9c1e0"
SAMPLE_DECRYPT_PASSWORD = "sample-decrypt-password"  # unwraps the key's master key (credentials)
SAMPLE_DATA_PATH = Path(__file__).with_name("sample_itflow.json")
GENERATIONS = ("legacy", "v1")
LOGIN_PATH = "/login.php"
SERVE_POLL_SECONDS = 0.05


def load_sample_data() -> Dataset:
    """A fresh deep copy of the sample dataset (sample_itflow.json) on every call."""
    with SAMPLE_DATA_PATH.open(encoding="utf-8") as handle:
        data: Dataset = json.load(handle)
    return data


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received; ``time`` is ``time.monotonic()`` at arrival."""

    method: str
    path: str
    query: Dict[str, str]
    time: float
    user_agent: Optional[str] = None
    body: bytes = b""


_APACHE_404 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found</title>\n'
    "</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n"
    "<hr>\n<address>%s Server at %s Port %d</address>\n</body></html>\n"
)

_LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    "<title>ITFlow | Login</title>\n</head>\n<body class=\"hold-transition login-page\">\n"
    '<div class="login-box">\n<h3>ITFlow</h3>\n<form method="post">\n'
    '<input type="email" name="email" placeholder="Agent Email" required autofocus>\n'
    '<input type="password" name="password" placeholder="Agent Password" required>\n'
    '<button type="submit" name="login">Sign In</button>\n</form>\n</div>\n</body>\n</html>\n'
)


class WriteEndpoints(Protocol):
    """v1 scripts beyond ``read.php`` (ITFlow's writes), plugged in by tests."""

    def handles(self, module: str, script: str) -> bool:
        """Whether ``/api/v1/<module>/<script>`` exists."""

    def answer(self, call: json_api.V1Call) -> Reply:
        """Its reply, once the key is accepted."""


def _v1_endpoint(path: str, writes: Optional[WriteEndpoints]) -> Optional[Tuple[str, str]]:
    """``(module, file)`` when ``path`` names an existing v1 PHP file, else None."""
    if not path.startswith(V1_PREFIX):
        return None
    parts = path[len(V1_PREFIX):].split("/")
    if len(parts) != 2:
        return None
    module, script = parts
    if (script == "read.php" and module in json_api.READS) or (writes is not None and writes.handles(module, script)):
        return module, script
    return None


# --- HTTP plumbing ----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_SIGNATURE

    server: "_Server"

    def version_string(self) -> str:
        return SERVER_SIGNATURE

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle plus the
        # client's delayed ACK would add ~40 ms to every reply (Apache sets it too).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track_connection(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track_connection(self.connection, open_=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent on purpose: request lines carry the API key."""

    def _handle(self) -> None:
        target = urlsplit(self.path)
        request = Request(
            method=self.command, path=unquote(target.path), query=php_get(target.query),
            user_agent=self.headers.get("User-Agent"), body=self._read_body())
        reply = self.server.fake._answer(request)
        if reply is None:
            self.close_connection = True
            return
        self._send(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _read_body(self) -> bytes:
        length = php_intval(self.headers.get("Content-Length", "0"))
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 511  # Apache's default backlog; Python's 5 drops connection bursts

    def __init__(self, address: Tuple[str, int], fake: "FakeITFlow") -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host (slow without DNS)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # client went away, or a fault cut it off
            return
        super().handle_error(request, client_address)


def _loopback_host(host: str) -> str:
    address = "127.0.0.1" if host == "localhost" else host
    if not (ipaddress.ip_address(address).version == 4 and ipaddress.ip_address(address).is_loopback):
        raise ValueError("the fake ITFlow listens on IPv4 loopback only, not %r" % host)
    return address


class FakeITFlow:
    """A started-on-demand fake ITFlow; see the module docstring for what it re-enacts.

    ``key_state`` (``json_api.KEY_STATES``): what ITFlow makes of the key, ``"valid"``,
    ``"refused"`` (unknown or expired: both generations answer 401), ``"not_tied"`` (a key
    from before per-user keys: v1 answers 403) or ``"user_invalid"`` (its user was deleted,
    archived or disabled: v1 answers 403).  ``bool_success``: the JSON API answers
    ``"success"`` as a JSON boolean.  Both may be changed while the server runs.
    ``decrypt_password``: what unwraps the key's master key, which credentials need.
    ``writes``: the v1 write scripts, when a test plugs them in.
    """

    def __init__(self, data: Optional[Dataset] = None, *, generations: Sequence[str] = GENERATIONS,
                 api_key: str = SAMPLE_API_KEY, php_version: str = "8.2",
                 display_errors: bool = False, key_state: str = KEY_VALID, bool_success: bool = False,
                 decrypt_password: str = SAMPLE_DECRYPT_PASSWORD, host: str = "127.0.0.1", port: int = 0,
                 tls: Optional[ssl.SSLContext] = None, writes: Optional[WriteEndpoints] = None) -> None:
        unknown = set(generations) - set(GENERATIONS)
        if unknown or not generations:
            raise ValueError("generations must be a non-empty subset of %s" % (GENERATIONS,))
        self.data = load_sample_data() if data is None else data
        self.generations = frozenset(generations)
        self.api_key = api_key
        self.php_version = php_version
        self.display_errors = display_errors
        self.key_state = key_state
        self.bool_success = bool_success
        self.decrypt_password = decrypt_password
        self.writes = writes
        self.url = ""
        self._host = _loopback_host(host)
        self._port = port
        self._tls = tls  # a server-side SSLContext: serve HTTPS (certificate tests)
        self._lock = threading.Lock()
        self._requests: List[RecordedRequest] = []
        self._connections: Set[socket.socket] = set()
        self._stopped = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def key_state(self) -> str:
        return self._key_state

    @key_state.setter
    def key_state(self, state: str) -> None:
        if state not in KEY_STATES:
            raise ValueError("unknown key state %r; known: %s" % (state, ", ".join(KEY_STATES)))
        self._key_state = state

    # -- lifecycle

    def start(self) -> "FakeITFlow":
        self._stopped.clear()
        self._open_listener()
        self.url = "%s://%s:%d" % ("https" if self._tls else "http", self._host, self._port)
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._close_listener()

    def __enter__(self) -> "FakeITFlow":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _open_listener(self) -> None:
        server = _Server((self._host, self._port), self)
        self._port = server.server_address[1]  # port 0 becomes the real port, kept for reopening
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SERVE_POLL_SECONDS},
                                  name="fake-itflow:%d" % self._port, daemon=True)
        thread.start()
        self._server, self._thread = server, thread

    def _close_listener(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()
        self._drop_connections()

    def _track_connection(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _drop_connections(self) -> None:
        """Cut open (keep-alive) connections so clients see the server gone, as a real restart does."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- request log

    @property
    def requests(self) -> List[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def count(self, path_prefix: str = "", **query_match: Optional[str]) -> int:
        """Requests under ``path_prefix`` whose query has each name (value None) or name=value."""
        return sum(1 for recorded in self.requests
                   if recorded.path.startswith(path_prefix) and _query_matches(recorded.query, query_match))

    # -- answering

    def _answer(self, request: Request) -> Optional[Reply]:
        """The reply for one request, or None to send nothing and close; subclasses wrap this."""
        self._record(request)
        return self._route(request)

    def _record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(RecordedRequest(
                request.method, request.path, dict(request.query), time.monotonic(),
                request.user_agent, request.body))

    def _route(self, request: Request) -> Reply:
        if request.path == LOGIN_PATH:
            return Reply(200, _LOGIN_PAGE.encode("utf-8"), HTML_TYPE)
        if request.path == LEGACY_PATH and "legacy" in self.generations:
            accepted_key = None if self.key_state == KEY_REFUSED else self.api_key
            return legacy_api.answer(self.data, request, accepted_key=accepted_key,
                                     php_version=self.php_version, display_errors=self.display_errors)
        endpoint = _v1_endpoint(request.path, self.writes) if "v1" in self.generations else None
        if endpoint is not None:
            return self._json_api(request, *endpoint)
        body = _APACHE_404 % (SERVER_SIGNATURE, self._host, self._port)
        return Reply(404, body.encode("ascii"), APACHE_ERROR_TYPE)

    def _json_api(self, request: Request, module: str, script: str) -> Reply:
        call = json_api.V1Call(self.data, request, module, script, bool_success=self.bool_success,
                               decrypt_password=self.decrypt_password)
        refused = json_api.authenticate(call, self.api_key, self.key_state)
        if refused is not None:
            return refused
        if script == "read.php" or self.writes is None:  # without writes only read.php is routed here
            return json_api.read(call)
        return self.writes.answer(call)


def _query_matches(query: Dict[str, str], wanted: Dict[str, Optional[str]]) -> bool:
    return all((name in query) if value is None else query.get(name) == value
               for name, value in wanted.items())
