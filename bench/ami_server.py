"""Asterisk's manager interface for the benchmarks, run as its own process.

It replays calls recorded from a real Asterisk 22 (``tests/data/ami/*.txt``,
read as data files) to whoever logs in, each call with fresh unique ids and
Linkedid and its caller's number swapped for the one asked, so one recording
becomes any number of distinct calls.  A process of its own for the same
reason as the driver: Asterisk's work must not share the bridge's GIL.

The first line printed is {"port": P}.  Then one JSON request per line on
stdin, one JSON answer per line on stdout:
  {"op": "wait_login", "timeout": S}          -> {"logins": N}  once someone logged in
  {"op": "send", "calls": [[recording, caller_digits], ...], "interval": S, "first": K}
      -> {}  starts sending in the background: one call every S seconds (0: as fast as
         the socket takes them), the calls' Linkedids numbered from K
  {"op": "status"}                            -> {"sent": N, "done": bool}
  {"op": "wait", "timeout": S}                -> {"sent_at": [monotonic after each call's last byte]}
  {"op": "ring", "recording": R, "caller": DIGITS, "number": K, "extension": EXT}
      -> {"written_at": epoch seconds}  writes call K's events up to its DialBegin to EXT in one
         ``sendall``; ``written_at`` is ``time.time()`` just before that write (the agent screen's clock
         is the browser's, so the epoch, not the monotonic clock)
  {"op": "finish"}                            -> {}  writes the rest of the call last rung
A call is sent with one ``sendall`` of all its events, late ones included (a
DialEnd after LINKEDID_END, the CDR): ``sent_at`` is when its last event left.
Any action gets ``Response: Success`` (a Login, Ping or Logoff as Asterisk answers them).
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from pipe_commands import serve_commands

RECORDINGS = Path(__file__).resolve().parent.parent / "tests" / "data" / "ami"
HOST = "127.0.0.1"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
LOGIN_ACCEPTED = b"Message: Authentication accepted\r\n\r\n"
RECORDED_CALLER = b"5551234567"  # the recorder's caller, +15551234567 (see the recordings)
ID_HEADERS = re.compile(rb"^(?:Uniqueid|Linkedid|DestUniqueid|DestLinkedid): (\d+\.\d+)\r?$", re.I | re.M)
FRESH_EPOCH = 1900000000  # fresh ids: FRESH_EPOCH + call number, then the recording's channel order


class Recording:
    """One recorded call, after the login: its bytes and the unique ids to replace."""

    def __init__(self, name: str) -> None:
        raw = (RECORDINGS / (name + ".txt")).read_bytes()
        logged_in = raw.index(LOGIN_ACCEPTED) + len(LOGIN_ACCEPTED)
        self.body = raw[logged_in:]  # what Asterisk sent after the recorder's login
        ids: List[bytes] = []
        for found in ID_HEADERS.finditer(self.body):
            if found.group(1) not in ids:
                ids.append(found.group(1))
        self.ids = ids
        self._pattern = re.compile(rb"(?<![\d.])(" + b"|".join(re.escape(i) for i in ids) + rb")(?!\d)")

    def call(self, number: int, caller: str) -> bytes:
        """This recording as call ``number`` (its Linkedid ``FRESH_EPOCH+number.0``) from ``caller``."""
        fresh = {old: b"%d.%d" % (FRESH_EPOCH + number, index) for index, old in enumerate(sorted(
            self.ids, key=lambda i: int(i.split(b".")[1])))}
        body = self._pattern.sub(lambda m: fresh[m.group(1)], self.body)
        return body.replace(RECORDED_CALLER, caller.encode("ascii"))

    def ringing(self, number: int, caller: str, extension: str) -> Tuple[bytes, bytes]:
        """Call ``number`` split just after its first DialBegin to ``extension``: (ringing part, the rest)."""
        body = self.call(number, caller)
        dialled = re.compile(rb"^DestChannel: (?:Local/%s@|(?:PJSIP|SIP|IAX2)/%s-)"
                             % (re.escape(extension.encode("ascii")), re.escape(extension.encode("ascii"))), re.M)
        start = 0
        while True:
            start = body.index(b"Event: DialBegin\r\n", start)
            end = body.index(b"\r\n\r\n", start) + 4
            if dialled.search(body, start, end):
                return body[:end], body[end:]
            start = end


class ManagerServer:
    """Accepts the bridge's AMI client, answers its actions, sends it calls."""

    def __init__(self) -> None:
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._connection: Optional[socket.socket] = None
        self._logged_in = threading.Condition(self._lock)
        self.logins = 0
        self.sent_at: List[float] = []
        self._sender: Optional[threading.Thread] = None
        self._recordings: Dict[str, Recording] = {}
        self._rest = b""  # what is left of the call last rung (``ring``), for ``finish``
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while True:
            connection, _ = self._listener.accept()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.sendall(BANNER)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        buffer = b""
        with connection:
            while True:
                try:
                    data = connection.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    block, buffer = buffer.split(b"\r\n\r\n", 1)
                    self._answer(connection, block)

    def _answer(self, connection: socket.socket, block: bytes) -> None:
        headers: Dict[str, str] = {}
        for line in block.decode("utf-8", errors="replace").split("\r\n"):
            key, _, value = line.partition(": ")
            headers.setdefault(key.lower(), value)
        action = headers.get("action", "").lower()
        reply = {"login": "Response: Success\r\nActionID: %s\r\nMessage: Authentication accepted\r\n\r\n",
                 "ping": "Response: Success\r\nActionID: %s\r\nPing: Pong\r\n\r\n",
                 "logoff": "Response: Goodbye\r\nActionID: %s\r\nMessage: Thanks for all the fish.\r\n\r\n",
                 }.get(action, "Response: Success\r\nActionID: %s\r\n\r\n") % headers.get("actionid", "")
        with self._write_lock:
            connection.sendall(reply.encode("utf-8"))
        if action == "login":
            with self._lock:
                self._connection = connection
                self.logins += 1
                self._logged_in.notify_all()

    def wait_login(self, timeout: float) -> int:
        with self._lock:
            self._logged_in.wait_for(lambda: self.logins > 0, timeout)
            return self.logins

    def send(self, calls: List[Tuple[str, str]], interval: float, first: int) -> None:
        if self._sender is not None and self._sender.is_alive():
            raise RuntimeError("still sending the previous calls")
        rendered = [self._recording(name).call(first + index, caller) for index, (name, caller) in enumerate(calls)]
        self.sent_at = []
        self._sender = threading.Thread(target=self._send_all, args=(rendered, interval), daemon=True)
        self._sender.start()

    def _recording(self, name: str) -> Recording:
        if name not in self._recordings:
            self._recordings[name] = Recording(name)
        return self._recordings[name]

    def _send_all(self, rendered: List[bytes], interval: float) -> None:
        with self._lock:
            connection = self._connection
        if connection is None:
            return
        start = time.monotonic()
        for index, data in enumerate(rendered):
            delay = start + index * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the pace of the calls ending, not a wait for a result
            with self._write_lock:
                connection.sendall(data)
            self.sent_at.append(time.monotonic())

    def ring(self, name: str, caller: str, number: int, extension: str) -> float:
        """Write call ``number`` up to its DialBegin to ``extension``; the epoch time just before the write."""
        ringing, self._rest = self._recording(name).ringing(number, caller, extension)
        with self._lock:
            connection = self._connection
        if connection is None:
            raise RuntimeError("nobody logged in")
        with self._write_lock:
            written_at = time.time()
            connection.sendall(ringing)
        return written_at

    def finish(self) -> None:
        """Write the rest of the call last rung (its answer, its end)."""
        rest, self._rest = self._rest, b""
        with self._lock:
            connection = self._connection
        if connection is not None and rest:
            with self._write_lock:
                connection.sendall(rest)

    def done(self) -> bool:
        return self._sender is None or not self._sender.is_alive()

    def wait(self, timeout: float) -> List[float]:
        if self._sender is not None:
            self._sender.join(timeout)
            if self._sender.is_alive():
                raise RuntimeError("the calls were not all sent within %.0f s" % timeout)
        return list(self.sent_at)


def answer(server: ManagerServer, request: Dict) -> Dict:
    op = request.get("op")
    if op == "wait_login":
        return {"logins": server.wait_login(float(request.get("timeout", 30.0)))}
    if op == "send":
        calls = [(str(name), str(caller)) for name, caller in request["calls"]]
        server.send(calls, float(request.get("interval", 0.0)), int(request.get("first", 0)))
        return {}
    if op == "status":
        return {"sent": len(server.sent_at), "done": server.done()}
    if op == "wait":
        return {"sent_at": server.wait(float(request.get("timeout", 300.0)))}
    if op == "ring":
        return {"written_at": server.ring(str(request["recording"]), str(request["caller"]), int(request["number"]),
                                          str(request["extension"]))}
    if op == "finish":
        server.finish()
        return {}
    raise ValueError("unknown op %r" % op)


def main() -> int:
    server = ManagerServer()
    return serve_commands({"port": server.port}, lambda command: answer(server, command))


if __name__ == "__main__":
    sys.exit(main())
