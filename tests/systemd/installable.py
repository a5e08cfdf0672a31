"""How the tier gets the software into a container that has no network: one function.

``build_installable`` builds the offline release bundle (``./run-bundle``) of the
project at a given version: the tarball a PBX admin copies over and installs with
its ``install.sh``.  A bumped version is what an upgrade installs.  The bundle
builder's wheel cache is shared with ``./run-bundle``, so only the bridge's own
wheel is built each run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT / "scripts"))
from build_bundle import DEFAULT_CACHE, copy_checkout  # noqa: E402

BUNDLE_NAME = "itflow-bridge-%s-bundle.tar.gz"


def build_installable(version: str, out: Path) -> Path:
    """The release bundle of the project at ``version``, written into ``out``: its path."""
    checkout = copy_checkout(PROJECT, out.with_name(out.name + "-checkout"))
    try:
        _set_version(checkout / "itflow_bridge/__init__.py", r'(?m)^__version__ = "[^"]*"$',
                     '__version__ = "%s"' % version)
        # The copy's own builder, so the bundle is built from the copy's sources.
        done = subprocess.run([sys.executable, str(checkout / "scripts/build_bundle.py"), "--out", str(out),
                               "--cache", str(DEFAULT_CACHE)],
                              env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    finally:
        shutil.rmtree(checkout)
    if done.returncode != 0:
        raise RuntimeError("building the bundle of %s failed:\n%s" % (version, done.stdout))
    bundle = out / (BUNDLE_NAME % version)
    if not bundle.is_file():
        raise RuntimeError("the bundle builder wrote no %s:\n%s" % (bundle.name, done.stdout))
    return bundle


def _set_version(path: Path, pattern: str, line: str) -> None:
    text, count = re.subn(pattern, line, path.read_text())
    if count != 1:
        raise RuntimeError("no single version line to set in %s" % path)
    path.write_text(text)
