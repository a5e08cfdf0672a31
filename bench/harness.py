"""What every figure needs: the bridge under test, its baselines, the driver, the table.

Kept apart from the figures so each figure reads as its experiment only: set
up, interleave measured and baseline runs, check the run measured what it
claims (statuses, request counts), compare.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import select
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DRIVER_PATH = BENCH_DIR / "driver.py"
FAKE_PATH = BENCH_DIR / "fake_process.py"
AMI_PATH = BENCH_DIR / "ami_server.py"
CID_SCRIPT = "itflow-cid.agi"
HOST = "127.0.0.1"


# --- results ----------------------------------------------------------------------


@dataclass
class Row:
    """One line of the result table; ``passed`` is None for a figure without a target."""

    number: str
    figure: str
    api: str
    measured: str
    baseline: str
    ratio: str
    target: str
    passed: Optional[bool]
    details: List[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "INFO"}[self.passed]


TABLE_COLUMNS = ("#", "figure", "API", "measured", "baseline", "ratio", "target", "result")


def format_table(rows: Sequence[Row]) -> str:
    cells = [TABLE_COLUMNS] + [
        (r.number, r.figure, r.api, r.measured, r.baseline, r.ratio, r.target, r.verdict) for r in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 100 samples is the 99th smallest)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def bounded(count: int, seconds: float) -> Iterator[int]:
    """0..count-1, stopping early once ``seconds`` have passed (at least one run)."""
    deadline = time.monotonic() + seconds
    for index in range(count):
        if index and time.monotonic() > deadline:
            return
        yield index


class BenchError(RuntimeError):
    """The run did not measure what the figure claims (wrong status, unexpected requests)."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise BenchError(message)


def quiet_logs() -> None:
    """Warnings the figures provoke on purpose (timeouts, black hole) stay out of the table."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")


# --- the bridge under test --------------------------------------------------------


def bridge_config(fake, mode: str, workdir: Path, ini: str = ""):
    """A config against the fake ITFlow: ``ini`` is extra INI text, e.g. a [callerid] budget."""
    from itflow_bridge.core.config import load_config

    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "bench.conf"
    conf.write_text(ini, encoding="utf-8")
    return load_config(env=config_env(fake, mode, workdir, conf))


def config_env(fake, mode: str, workdir: Path, conf: Path) -> Dict[str, str]:
    """The environment variables a classic AGI script reads its config from."""
    return {
        "ITFLOW_BRIDGE_CONFIG": str(conf),
        "ITFLOW_URL": fake.url,
        "ITFLOW_API_KEY": fake.api_key,
        "ITFLOW_API_MODE": mode,
        "ITFLOW_BRIDGE_CACHE_DIR": str(workdir / "cache"),
    }


@contextlib.contextmanager
def running_daemon(fake, mode: str, workdir: Path, ini: str = "") -> Iterator[Tuple[object, int]]:
    """A Bridge behind a FastAGI server on a free loopback port, built as ``itflow-bridge serve``
    builds them; yields (bridge, port)."""
    from itflow_bridge.agi.fastagi import FastAGIServer
    from itflow_bridge.app import Bridge
    from itflow_bridge.routes import routes

    config = bridge_config(fake, mode, workdir, ini)
    bridge = Bridge(config)
    server = FastAGIServer(routes(bridge), HOST, 0, verbose_level=config.server.verbose_level).start()
    try:
        yield bridge, server.server_address[1]
    finally:
        server.shutdown(grace=2.0)
        bridge.close()


def v1_contacts_path(fake, digits: str) -> str:
    return "/api/v1/contacts/read.php?contact_phone_or_mobile=%s&api_key=%s" % (digits, fake.api_key)


# --- child processes: the simulated Asterisk and the fake ITFlow ---------------------------


class JsonChild:
    """A child process answering one JSON line on stdout per JSON line on stdin."""

    def __init__(self, script: Path) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(ROOT))
        self._name = script.name

    def call(self, request: Dict, timeout: float = 60.0) -> Dict:
        assert self._proc.stdin is not None
        self._proc.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
        self._proc.stdin.flush()
        reply = self.read_line(timeout)
        if "error" in reply:
            raise BenchError("%s: %s" % (self._name, reply["error"]))
        return reply

    def read_line(self, timeout: float) -> Dict:
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            raise BenchError("%s did not answer within %.0f s" % (self._name, timeout))
        line = self._proc.stdout.readline()
        if not line:
            raise BenchError("%s died" % self._name)
        return json.loads(line)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> "JsonChild":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Driver(JsonChild):
    """The simulated Asterisk (bench/driver.py)."""

    def __init__(self) -> None:
        super().__init__(DRIVER_PATH)

    def session(self, port: int, number: str) -> Dict:
        return self.call({"op": "session", "port": port, "script": CID_SCRIPT, "number": number})

    def burst(self, port: int, numbers: Sequence[str], timeout: float = 60.0) -> Dict:
        request = {"op": "burst", "port": port, "script": CID_SCRIPT, "numbers": list(numbers)}
        reply = self.call(request, timeout)
        require(not reply["errors"], "burst sessions failed: %s" % reply["errors"][:3])
        return reply

    def http_get(self, port: int, path: str) -> Dict:
        return self.call({"op": "http", "port": port, "path": path})


class RemoteFake(JsonChild):
    """The fake ITFlow in its own process (bench/fake_process.py), used like a FakeITFlow."""

    def __init__(self) -> None:
        super().__init__(FAKE_PATH)
        hello = self.read_line(30.0)
        self.url: str = hello["url"]
        self.api_key: str = hello["api_key"]
        self.port = int(self.url.rsplit(":", 1)[1])

    def __enter__(self) -> "RemoteFake":
        return self

    def add_contacts(self, first_phone: int, count: int) -> List[str]:
        return self.call({"op": "add_contacts", "first_phone": first_phone, "count": count})["phones"]

    def add_clients(self, first_phone: int, count: int) -> List[str]:
        """``count`` more clients, each with one contact of its own phone (consecutive numbers)."""
        return self.call({"op": "add_clients", "first_phone": first_phone, "count": count},
                         timeout=120.0)["phones"]

    def landed(self) -> List[Tuple[str, str, float]]:
        """The tickets and replies ITFlow stored: (what, the call's key, monotonic time stored)."""
        return [(what, key, at) for what, key, at in self.call({"op": "landed"})["writes"]]

    def scale(self, contacts: int, locations: int, vendors: int) -> Dict[str, int]:
        """Serve a big dataset: the sample plus generated clients, contacts, locations, vendors."""
        request = {"op": "scale", "contacts": contacts, "locations": locations, "vendors": vendors}
        return self.call(request, timeout=120.0)["rows"]

    def set_fault(self, fault: Optional[str], delay: float = 0.0) -> None:
        self.call({"op": "fault", "fault": fault, "delay": delay})

    def clear_requests(self) -> None:
        self.call({"op": "clear"})

    def count(self, path_prefix: str = "", **query: Optional[str]) -> int:
        return self.call({"op": "count", "path": path_prefix, "query": query})["count"]

    def arrivals(self, path_prefix: str = "") -> List[float]:
        """``time.monotonic()`` of each request's arrival (one clock for all processes on Linux)."""
        return self.call({"op": "arrivals", "path": path_prefix})["times"]


class RemoteAMI(JsonChild):
    """Asterisk's manager interface in its own process (bench/ami_server.py), replaying recorded calls."""

    def __init__(self) -> None:
        super().__init__(AMI_PATH)
        self.port = int(self.read_line(30.0)["port"])

    def __enter__(self) -> "RemoteAMI":
        return self

    def wait_login(self, timeout: float = 30.0) -> None:
        require(self.call({"op": "wait_login", "timeout": timeout}, timeout + 5.0)["logins"] > 0,
                "the bridge did not log in to the manager interface within %.0f s" % timeout)

    def send(self, calls: Sequence[Tuple[str, str]], interval: float, first: int) -> None:
        """Start sending ``calls`` ((recording, caller digits), ...), one every ``interval`` seconds;
        call ``first + i`` has the Linkedid ``call_id(first + i)``."""
        self.call({"op": "send", "calls": [list(call) for call in calls], "interval": interval, "first": first},
                  timeout=120.0)

    def sending(self) -> bool:
        return not self.call({"op": "status"})["done"]

    def wait(self, timeout: float = 300.0) -> List[float]:
        """Once all are sent: ``time.monotonic()`` when each call's last event left."""
        return self.call({"op": "wait", "timeout": timeout}, timeout + 5.0)["sent_at"]

    def ring(self, recording: str, caller: str, number: int, extension: str) -> float:
        """Write call ``number`` of ``recording`` up to its DialBegin to ``extension``: ``time.time()`` of the write."""
        return float(self.call({"op": "ring", "recording": recording, "caller": caller, "number": number,
                                "extension": extension})["written_at"])

    def finish(self) -> None:
        """Write the rest of the call last rung."""
        self.call({"op": "finish"})


# --- the protocol floor -------------------------------------------------------------


class ReplayAGIServer:
    """The least a FastAGI server can do: read the env block, send fixed command lines,
    read one reply to each, close.  Thread per connection, like the daemon."""

    def __init__(self, commands: Sequence[str]) -> None:
        self._lines = [(command + "\n").encode("utf-8") for command in commands]
        self._listener = socket.create_server((HOST, 0), backlog=128)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="replay-agi", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(2.0)
        self._listener.close()

    def __enter__(self) -> "ReplayAGIServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.settimeout(10.0)
            with connection.makefile("rb") as reader:
                for _ in range(1000):  # the env block
                    if not reader.readline().strip():
                        break
                for line in self._lines:
                    connection.sendall(line)
                    reader.readline()
