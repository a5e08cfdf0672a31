"""``itflow-bridge install`` run against a whole system tree (``--prefix``), as the install tests need it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from real_itflow.harness import in_ci

# install chowns what it writes, so it runs as root; outside CI a user without root skips these tests
# (under CI they always run, and fail without root).
NEEDS_ROOT = pytest.mark.skipif(os.geteuid() != 0 and not in_ci(), reason="install chowns files: needs root")


def install(root: Path, *args: str, expect: int = 0, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run install into ``root`` with no ITFLOW_* environment; assert its exit code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITFLOW_")}
    result = subprocess.run([sys.executable, "-m", "itflow_bridge.cli", "install", "--prefix", str(root), *args],
                            capture_output=True, text=True, env=env, timeout=timeout)
    assert result.returncode == expect, result.stdout + result.stderr
    return result
