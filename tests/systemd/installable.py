"""How the tier gets the software into a container that has no network: one function.

``build_installable`` builds the project at a given version into a directory of
wheels (the project's and its dependencies', for this Python) that
``pip install --no-index --find-links DIR itflow-bridge`` installs offline.  A
bumped version is what an upgrade installs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
# What a wheel is built from; the rest of a checkout (tests, benchmarks, caches) is not shipped.
SOURCES = ("pyproject.toml", "README.md", "itflow_bridge")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def build_installable(version: str, out: Path) -> Path:
    """Wheels of the project at ``version`` and of its dependencies, in ``out`` (returned)."""
    source = out.with_name(out.name + "-source")
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    for name in SOURCES:
        path = PROJECT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=_IGNORED)
        elif path.exists():
            shutil.copy2(path, source / name)
    _set_version(source / "itflow_bridge/__init__.py", r'(?m)^__version__ = "[^"]*"$', '__version__ = "%s"' % version)
    _set_version(source / "pyproject.toml", r'(?m)^version = "[^"]*"$', 'version = "%s"' % version,
                 optional=True)  # a static version, when pyproject does not read __version__
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(out), str(source)],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    shutil.rmtree(source)
    return out


def _set_version(path: Path, pattern: str, line: str, optional: bool = False) -> None:
    text, count = re.subn(pattern, line, path.read_text())
    if count > 1 or (count == 0 and not optional):
        raise RuntimeError("no version line to set in %s" % path)
    path.write_text(text)
