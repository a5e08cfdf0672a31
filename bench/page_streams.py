"""Figure 17's open pages: many agent pages' event streams held by plain HTTP clients, in a process of its own.

What a browser tab holds open is one ``GET /agent/<token>/events``: this process
opens as many as asked (no browser) and reads them all on one thread, noting
which calls each stream was told about.  A process of its own so reading 200
streams does not share the daemon's GIL.

The first line printed is {"ready": true}.  Then one JSON request per line on stdin:
  {"op": "open", "port": P, "paths": [...], "timeout": S, "paced": B} -> {"open": N}
      once every stream answered 200 and got its first event (the extension's whole state); the
      streams connect one right after the other, or with ``paced`` each once the one before got its state
  {"op": "seen", "call_id": ID}  -> {"streams": [index of each stream told of that call's ringing],
                                     "last_at": epoch seconds the last of them was told, or null}
  {"op": "close"}                -> {"closed": N}
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
import threading
import time
from typing import Dict, List, Optional

from pipe_commands import serve_commands

HOST = "127.0.0.1"
READ_SIZE = 65536


class Page:
    """One open stream: its bytes so far and what it was told."""

    def __init__(self, index: int, sock: socket.socket):
        self.index = index
        self.sock = sock
        self.buffer = b""
        self.headers_done = False
        self.status = 0
        self.got_state = False
        self.ringing: Dict[str, float] = {}  # call id -> epoch time this page was told it rings

    def feed(self, data: bytes) -> None:
        self.buffer += data
        if not self.headers_done:
            if b"\r\n\r\n" not in self.buffer:
                return
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.status = int(head.split(b" ", 2)[1])
            self.headers_done = True
        while b"\n\n" in self.buffer:
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            self._event(block.decode("utf-8", errors="replace"))

    def _event(self, block: str) -> None:
        fields: Dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if fields.get("event") == "state":
            self.got_state = True
        elif fields.get("event") == "call":
            call = json.loads(fields.get("data", "{}")).get("call", {})
            if call.get("state") == "ringing":
                self.ringing.setdefault(str(call.get("call_id")), time.time())


class Pages:
    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # a stream got bytes
        self.pages: List[Page] = []
        self.wake_r, self.wake_w = socket.socketpair()
        self.selector.register(self.wake_r, selectors.EVENT_READ, None)
        threading.Thread(target=self._read_loop, daemon=True).start()

    def _read_loop(self) -> None:
        while True:
            for key, _ in self.selector.select():
                page: Optional[Page] = key.data
                if page is None:
                    self.wake_r.recv(4096)
                    continue
                with self.lock:
                    if page.sock.fileno() < 0:  # closed meanwhile
                        continue
                    try:
                        data = page.sock.recv(READ_SIZE)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if data:
                        page.feed(data)
                        self.changed.notify_all()
                    else:
                        self.selector.unregister(page.sock)

    def open(self, port: int, paths: List[str], timeout: float, paced: bool = False) -> int:
        deadline = time.monotonic() + timeout
        for path in paths:
            if paced:
                self._wait_ready(deadline, timeout)
            sock = socket.create_connection((HOST, port), timeout=timeout)
            sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n"
                          % (path, HOST, port)).encode("ascii"))
            sock.setblocking(False)
            with self.lock:
                page = Page(len(self.pages), sock)
                self.pages.append(page)
                self.selector.register(sock, selectors.EVENT_READ, page)
        return self._wait_ready(deadline, timeout)

    def _wait_ready(self, deadline: float, timeout: float) -> int:
        """Until every stream opened so far got its state; how many that is."""
        self.wake_w.send(b"x")
        with self.changed:
            while True:
                failed = [page.status for page in self.pages if page.headers_done and page.status != 200]
                ready = sum(1 for page in self.pages if page.got_state)
                if failed:
                    raise RuntimeError("%d stream(s) refused: HTTP %s" % (len(failed), failed[:3]))
                if ready == len(self.pages):
                    return ready
                if time.monotonic() > deadline:
                    raise RuntimeError("only %d of %d streams got their state within %.0f s"
                                       % (ready, len(self.pages), timeout))
                self.changed.wait(0.1)

    def seen(self, call_id: str) -> Dict[str, object]:
        with self.lock:
            told = [(page.index, page.ringing[call_id]) for page in self.pages if call_id in page.ringing]
        return {"streams": [index for index, _ in told], "last_at": max((at for _, at in told), default=None)}

    def close(self) -> int:
        with self.lock:
            pages, self.pages = self.pages, []
            for page in pages:
                try:
                    self.selector.unregister(page.sock)
                except (KeyError, ValueError):
                    pass
                page.sock.close()
        return len(pages)


def answer(pages: Pages, request: Dict) -> Dict:
    op = request.get("op")
    if op == "open":
        return {"open": pages.open(int(request["port"]), [str(p) for p in request["paths"]],
                                   float(request.get("timeout", 60.0)), bool(request.get("paced", False)))}
    if op == "seen":
        return pages.seen(str(request["call_id"]))
    if op == "close":
        return {"closed": pages.close()}
    raise ValueError("unknown op %r" % op)


def main() -> int:
    pages = Pages()
    return serve_commands({"ready": True}, lambda command: answer(pages, command))


if __name__ == "__main__":
    sys.exit(main())
