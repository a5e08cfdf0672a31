"""The package's type annotations are checked, not decoration: mypy --strict passes."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_strict_passes_on_the_package():
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "itflow_bridge"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
