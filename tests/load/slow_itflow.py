"""A fake ITFlow that is slow and sometimes fails at random, for the load test.

The test faults (``faulty_itflow.FaultyITFlow.set_fault``) are global switches, while a load test
needs every request to draw its own fate: a random delay (0 to
``latency_max`` seconds) and, with probability ``error_rate``, an error.  So
this is a small HTTP proxy on 127.0.0.1 in front of an unmodified
``FakeITFlow``: it adds the delay, injects the error (HTTP 500 with an empty
body, or the connection dropped without an answer, half each) and otherwise
relays the fake's answer byte for byte.  Injecting errors can be switched off and
on (``GET /_load/errors/off`` and ``/on`` on the proxy), so a warm-up can run
without them.

Run as a script it serves until SIGTERM, printing ``URL: ...`` and
``API key: ...`` first and a JSON line of request counts last, so the load
driver can run it in a process of its own (its threads then never count as
the daemon's).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import signal
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from itflow_bridge.sample.fake_itflow import FakeITFlow

ERROR_KINDS = ("http_500", "dropped")
CONTROL_PATH = "/_load/errors/"  # + "on" or "off"; never a path the bridge asks for
RELAYED_HEADERS = ("Content-Type", "Location")
UPSTREAM_TIMEOUT = 30.0


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, latency_max: float, error_rate: float, seed: Optional[int],
                 errors_on: bool) -> None:
        super().__init__(("127.0.0.1", 0), _RelayHandler)
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.latency_max = latency_max
        self.error_rate = error_rate
        self.errors_on = errors_on
        self.stopping = threading.Event()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: Dict[str, int] = {"requests": 0, "relayed": 0, **dict.fromkeys(ERROR_KINDS, 0)}

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def fate(self) -> Dict[str, Any]:
        """This request's delay and injected error (None: relay it)."""
        with self._lock:
            delay = self._random.uniform(0.0, self.latency_max)
            failing = self.errors_on and self._random.random() < self.error_rate
            error = self._random.choice(ERROR_KINDS) if failing else None
            self.counts["requests"] += 1
            self.counts[error or "relayed"] += 1
        return {"delay": delay, "error": error}

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # the bridge gave up on a slow answer
            return
        super().handle_error(request, client_address)


class _RelayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Apache in front of ITFlow does
    server: _Proxy

    def do_GET(self) -> None:
        self._relay()

    def do_POST(self) -> None:
        self._relay()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a load test makes tens of thousands of requests."""

    def _relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith(CONTROL_PATH):
            self.server.errors_on = self.path == CONTROL_PATH + "on"
            self._answer(204, b"", {})
            return
        fate = self.server.fate()
        if self.server.stopping.wait(fate["delay"]):
            self.close_connection = True
            return
        if fate["error"] == "dropped":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fate["error"] == "http_500":
            self._answer(500, b"", {"Content-Type": "text/html; charset=UTF-8"})
            return
        status, answer, headers = self._ask_upstream(body)
        self._answer(status, answer, headers)

    def _ask_upstream(self, body: bytes) -> Tuple[int, bytes, Dict[str, str]]:
        connection = http.client.HTTPConnection(*self.server.upstream, timeout=UPSTREAM_TIMEOUT)
        try:
            headers = {name: value for name, value in self.headers.items()
                       if name.lower() in ("user-agent", "content-type")}
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            return response.status, answer, {name: response.getheader(name) for name in RELAYED_HEADERS
                                             if response.getheader(name) is not None}
        finally:
            connection.close()

    def _answer(self, status: int, body: bytes, headers: Dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SlowITFlow:
    """A started ``FakeITFlow`` behind the latency/error proxy; ``url`` is the proxy's."""

    def __init__(self, latency_max: float = 0.8, error_rate: float = 0.05, seed: Optional[int] = None,
                 errors_on: bool = True) -> None:
        self.fake = FakeITFlow()
        self.api_key = self.fake.api_key
        self._settings = (latency_max, error_rate, seed, errors_on)
        self._proxy: Optional[_Proxy] = None
        self._thread: Optional[threading.Thread] = None
        self.url = ""

    def start(self) -> "SlowITFlow":
        self.fake.start()
        self._proxy = _Proxy(self.fake.url, *self._settings)
        self._thread = threading.Thread(target=self._proxy.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="slow-itflow", daemon=True)
        self._thread.start()
        self.url = "http://127.0.0.1:%d" % self._proxy.server_address[1]
        return self

    def counts(self) -> Dict[str, int]:
        assert self._proxy is not None
        with self._proxy._lock:
            return dict(self._proxy.counts)

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.stopping.set()
            self._proxy.shutdown()
            self._proxy.server_close()
        self.fake.stop()

    def __enter__(self) -> "SlowITFlow":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Fake ITFlow with random latency and errors, on 127.0.0.1.")
    parser.add_argument("--latency-max", type=float, default=0.8, help="seconds; each request waits 0..this")
    parser.add_argument("--error-rate", type=float, default=0.05, help="share of requests that fail")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--start-quiet", action="store_true", help="inject no errors until GET %son" % CONTROL_PATH)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    with SlowITFlow(args.latency_max, args.error_rate, args.seed, errors_on=not args.start_quiet) as slow:
        print("URL: %s" % slow.url, flush=True)
        print("API key: %s" % slow.api_key, flush=True)
        while not stop.wait(0.5):
            pass
        counts = slow.counts()
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
