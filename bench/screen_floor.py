"""Figure 16's floor: the least any server and page can do to show a pushed name, in a process of its own.

A trivial Server-Sent Events server: ``GET /`` is a page whose ``EventSource``
puts each event's name in ``#current .client`` (the element the agent's page
shows the caller's client in), ``GET /events`` its stream.  Told over stdin to
push a name, it writes one event to the open stream at once and answers the
epoch time just before the write: what is left is the socket and the browser.
A process of its own, as the manager interface is for the bridge.

The first line printed is {"port": P}.  Then one JSON request per line on stdin:
  {"op": "wait_stream", "timeout": S}  -> {"streams": N}  once a page's stream is open
  {"op": "push", "name": TEXT}         -> {"written_at": epoch seconds}
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List

from pipe_commands import serve_commands

HOST = "127.0.0.1"
PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>floor</title></head>
<body><section id="current"></section>
<script>
"use strict";
var current = document.getElementById("current");
new EventSource("/events").addEventListener("call", function (message) {
  var call = JSON.parse(message.data);
  var client = document.createElement("div");
  client.className = "client";
  client.textContent = call.client_name;
  current.textContent = "";
  current.appendChild(client);
});
</script></body></html>
"""


class FloorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), FloorHandler)
        self.streams: List[BaseHTTPRequestHandler] = []
        self.opened = threading.Condition()
        self.write_lock = threading.Lock()
        self.next_id = 0

    def wait_stream(self, timeout: float) -> int:
        with self.opened:
            self.opened.wait_for(lambda: bool(self.streams), timeout)
            return len(self.streams)

    def push(self, name: str) -> float:
        with self.opened:
            streams = list(self.streams)
        if not streams:
            raise RuntimeError("no page is open")
        with self.write_lock:
            self.next_id += 1
            data = ("id: %d\nevent: call\ndata: %s\n\n" % (self.next_id, json.dumps({"client_name": name})))
            written_at = time.time()
            for stream in streams:
                stream.wfile.write(data.encode("utf-8"))
                stream.wfile.flush()
        return written_at


class FloorHandler(BaseHTTPRequestHandler):
    server: FloorServer

    def log_message(self, format: str, *args: object) -> None:  # quiet: the bench prints one table
        pass

    def do_GET(self) -> None:
        if self.path != "/events":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"retry: 2000\n\n")
        self.wfile.flush()
        self.close_connection = True
        with self.server.opened:
            self.server.streams.append(self)
            self.server.opened.notify_all()
        try:
            while self.rfile.read(1):  # the page holds the stream open until it goes away
                pass
        except OSError:
            pass
        finally:
            with self.server.opened:
                self.server.streams.remove(self)


def answer(server: FloorServer, request: Dict) -> Dict:
    op = request.get("op")
    if op == "wait_stream":
        return {"streams": server.wait_stream(float(request.get("timeout", 30.0)))}
    if op == "push":
        return {"written_at": server.push(str(request["name"]))}
    raise ValueError("unknown op %r" % op)


def main() -> int:
    server = FloorServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return serve_commands({"port": server.server_address[1]}, lambda command: answer(server, command))


if __name__ == "__main__":
    sys.exit(main())
