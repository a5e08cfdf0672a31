"""The Asterisk side of the benchmarks, run as its own process.

Why a separate process: Asterisk is one (written in C), so the client work of a
simulated call must not share the daemon's GIL, or 100 concurrent simulated
callers would be billed to the bridge.  The parent sends one JSON request per
line on stdin and reads one JSON answer per line on stdout; every time is taken
here, next to the socket, so the pipe round trip is never part of a figure.

Requests:
  {"op": "session", "port": P, "script": S, "number": N}      one FastAGI call
  {"op": "burst", "port": P, "script": S, "numbers": [...]}     concurrent calls
  {"op": "http", "port": P, "path": "/api.php?..."}             one plain HTTP GET

A call reports its whole time (connect to close) and when its first command
arrived.  It answers every command with ``200 result=1``: right for everything the
caller-ID flow sends (SET VARIABLE, VERBOSE), and the same canned bytes the
protocol-floor server receives, so both sides of a ratio exchange equal bytes.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from typing import Dict, List, Optional

from itflow_bridge.sample.simulated_asterisk import environment, tokenize

HOST = "127.0.0.1"
CANNED_REPLY = b"200 result=1\n"
MAX_COMMANDS = 1000  # a session sending more is broken: stop answering
MAX_BURST = 1000
SOCKET_TIMEOUT = 30.0
USER_AGENT = "itflow-bridge-bench/1 (FreePBX CallerID Lookup imitation)"


def run_session(port: int, script: str, number: str, start: Optional[threading.Barrier] = None) -> Dict:
    """One whole FastAGI call: connect, env block, answer each command, until the server closes."""
    env_block = environment(script, number, "", port)
    commands: List[str] = []
    first_command_at: Optional[float] = None
    if start is not None:
        start.wait(SOCKET_TIMEOUT)
    began = time.perf_counter()
    with socket.create_connection((HOST, port), timeout=SOCKET_TIMEOUT) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(env_block)
        with conn.makefile("rb") as reader:
            for raw in reader:
                if first_command_at is None:
                    first_command_at = time.perf_counter()
                commands.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
                if len(commands) > MAX_COMMANDS:
                    break
                conn.sendall(CANNED_REPLY)
    ended = time.perf_counter()
    first_ms = None if first_command_at is None else (first_command_at - began) * 1000.0
    return {"ms": (ended - began) * 1000.0, "first_ms": first_ms, "commands": commands,
            "status": cid_status(commands)}


def cid_status(commands: List[str]) -> Optional[str]:
    """The ITFLOW_CID_STATUS the handler set, read after the call (never timed)."""
    for line in commands:
        tokens = tokenize(line)
        if len(tokens) >= 4 and [t.upper() for t in tokens[:2]] == ["SET", "VARIABLE"] \
                and tokens[2] == "ITFLOW_CID_STATUS":
            return tokens[3]
    return None


def run_burst(port: int, script: str, numbers: List[str]) -> Dict:
    """All calls released at once by a barrier; each one timed on its own."""
    numbers = numbers[:MAX_BURST]
    start = threading.Barrier(len(numbers))
    results: List[Optional[Dict]] = [None] * len(numbers)

    def call(index: int) -> None:
        try:
            results[index] = run_session(port, script, numbers[index], start)
        except (OSError, threading.BrokenBarrierError) as exc:
            results[index] = {"ms": None, "status": None, "error": repr(exc)}

    threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(len(numbers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SOCKET_TIMEOUT * 2)
    finished = [r if r is not None else {"ms": None, "status": None, "error": "no answer"} for r in results]
    return {
        "ms": [r["ms"] for r in finished],
        "first_ms": [r.get("first_ms") for r in finished],
        "statuses": [r["status"] for r in finished],
        "errors": [r["error"] for r in finished if r.get("error")],
    }


def run_http(port: int, path: str) -> Dict:
    """One GET on a new connection, as Asterisk's CURL() does per call."""
    began = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=SOCKET_TIMEOUT)
    try:
        conn.request("GET", path, headers={"User-Agent": USER_AGENT})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    elapsed_ms = (time.perf_counter() - began) * 1000.0
    return {"ms": elapsed_ms, "status": response.status, "body": body.decode("utf-8", errors="replace")}


def answer(request: Dict) -> Dict:
    op = request.get("op")
    if op == "session":
        return run_session(request["port"], request["script"], request["number"])
    if op == "burst":
        return run_burst(request["port"], request["script"], list(request["numbers"]))
    if op == "http":
        return run_http(request["port"], request["path"])
    raise ValueError("unknown op %r" % op)


def main() -> int:
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except Exception as exc:
            reply = {"error": "%s: %s" % (type(exc).__name__, exc)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
