"""``itflow-bridge serve`` as a real process for the integration tests.

The daemon picks its own free port (``--port 0``) and the helper reads which from
its log: a test never races another process for a port it just freed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
