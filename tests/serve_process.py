"""``itflow-bridge serve`` as a real process for the integration tests.

The daemon picks its own free port (``--port 0``) and the helper reads which from
its log: a test never races another process for a port it just freed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List, Tuple

BOOT_TIMEOUT = 15.0


def start_serve(fake, tmp_path: Path, ini: str) -> Tuple[subprocess.Popen, int, List[str]]:
    """(process, port, log lines read so far); the rest of its log stays on ``process.stderr``."""
    conf = tmp_path / "bridge.conf"
    conf.write_text(ini, encoding="utf-8")
    env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(conf), ITFLOW_URL=fake.url, ITFLOW_API_KEY=fake.api_key,
               ITFLOW_API_MODE="v1", ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen([sys.executable, "-m", "itflow_bridge.cli", "serve", "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    seen: List[str] = []
    deadline = time.monotonic() + BOOT_TIMEOUT
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline().decode("utf-8", "replace")
        if not line and proc.poll() is not None:
            raise RuntimeError("itflow-bridge serve exited with %s:\n%s" % (proc.returncode, "".join(seen)))
        seen.append(line)
        listening = re.search(r"FastAGI listening on [^:]+:(\d+)", line)
        if listening:
            return proc, int(listening.group(1)), seen
    proc.kill()
    raise RuntimeError("itflow-bridge serve did not start in %.0f s:\n%s" % (BOOT_TIMEOUT, "".join(seen)))


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


class ServeProcess:
    """``itflow-bridge serve`` started with ``ini``; its whole log (stderr) kept in ``lines`` by a thread of its own."""

    def __init__(self, fake, tmp_path: Path, ini: str) -> None:
        self.proc, self.port, seen = start_serve(fake, tmp_path, ini)
        self.lines: List[str] = list(seen)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in iter(self.proc.stderr.readline, b""):
            self.lines.append(raw.decode("utf-8", "replace"))

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, signum: int = signal.SIGTERM, patience: float = 60.0) -> int:
        """Send ``signum`` (SIGKILL: no shutdown code runs, as in a power cut) and wait for the exit."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)
        code = self.proc.wait(patience)
        self._reader.join(patience)
        return code
