"""The offline release bundle as a PBX admin uses it: build, unpack, install with no network,
upgrade to a newer bundle, roll back to the older one.

Building runs ``./run-bundle`` (it needs the package index, or the wheels already in its
cache); every install runs ``install.sh`` with no index reachable: in a network namespace
of its own when root can make one, and always with pip told there is no index.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, List

import pytest

import itflow_bridge

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from build_bundle import copy_checkout, read_lock, sha256  # noqa: E402

PURE_WHEEL = re.compile(r"^[A-Za-z0-9_.]+-[^-]+-(py3|py2\.py3)-none-any\.whl$")


def bumped(version: str) -> str:
    """A release after ``version`` (its patch number plus one)."""
    major, minor, patch = re.match(r"(\d+)\.(\d+)\.(\d+)", version).groups()
    return "%s.%s.%d" % (major, minor, int(patch) + 1)


def run_bundle(checkout: Path, out: Path) -> Path:
    """``checkout/run-bundle --out out``, with this interpreter: the path of the tarball."""
    done = subprocess.run([str(checkout / "run-bundle"), "--out", str(out)], env=dict(os.environ, PYTHON=sys.executable),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    (tarball,) = out.glob("itflow-bridge-*-bundle.tar.gz")
    assert done.stdout.strip().splitlines()[-1] == str(tarball)
    return tarball


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> Dict[str, Path]:
    """Two bundles: this checkout's version, and a copy of the checkout with a bumped version."""
    work = tmp_path_factory.mktemp("bundles")
    current = run_bundle(ROOT, work / "current")
    newer_checkout = copy_checkout(ROOT, work / "newer-checkout")
    init = newer_checkout / "itflow_bridge" / "__init__.py"
    source = init.read_text(encoding="utf-8")
    line = '__version__ = "%s"' % itflow_bridge.__version__
    assert source.count(line) == 1
    init.write_text(source.replace(line, '__version__ = "%s"' % bumped(itflow_bridge.__version__)), encoding="utf-8")
    newer = run_bundle(newer_checkout, work / "newer")
    return {itflow_bridge.__version__: current, bumped(itflow_bridge.__version__): newer}


def unpack(tarball: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(tarball) as tar:
        tar.extractall(into, **safe)
    (top,) = into.iterdir()
    return top


def no_network_prefix() -> List[str]:
    """``unshare -n`` (a network namespace with no interface up) when root can make one."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
            return ["unshare", "-n", "--"]
    return []


def offline_env(**extra: str) -> Dict[str, str]:
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_INDEX_URL="", PIP_EXTRA_INDEX_URL="", PIP_FIND_LINKS="")
    env.update(extra)
    return env


def install(bundle_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``install.sh ARGS`` with no network, from a shell whose umask lets no one else read."""
    return subprocess.run(no_network_prefix() + ["sh", str(bundle_dir / "install.sh"), *args],
                          env=offline_env(**env), capture_output=True, text=True, timeout=600,
                          preexec_fn=lambda: os.umask(0o077))


def readable_by_all(venv: Path) -> bool:
    """The Asterisk user runs the venv: its interpreter and the installed package must be readable."""
    package = next((venv / "lib").glob("python3*/site-packages/itflow_bridge/__init__.py"))
    return all(path.stat().st_mode & 0o004 for path in (package, package.parent, venv / "bin" / "itflow-bridge"))


def version_of(venv: Path) -> str:
    done = subprocess.run([str(venv / "bin" / "itflow-bridge"), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_bundle_holds_the_installer_the_pinned_requirements_and_pure_wheels(bundles, tmp_path):
    version = itflow_bridge.__version__
    assert bundles[version].name == "itflow-bridge-%s-bundle.tar.gz" % version
    top = unpack(bundles[version], tmp_path)
    assert top.name == "itflow-bridge-%s" % version
    assert os.access(top / "install.sh", os.X_OK)
    assert "@MIN_PYTHON@" not in (top / "install.sh").read_text(encoding="utf-8")
    wheels = {path.name: sha256(path) for path in (top / "wheels").iterdir()}
    assert all(PURE_WHEEL.match(name) for name in wheels), sorted(wheels)
    assert "itflow_bridge-%s-py3-none-any.whl" % version in wheels
    # Every requirement pinned with the hash of a wheel the bundle carries, and every wheel required.
    pins = read_lock(top / "requirements.txt")
    assert sorted(h for _, hashes in pins for h in hashes) == sorted(wheels.values())
    # The bridge itself, then exactly the repository's lock.
    assert pins[0][0] == "itflow-bridge==%s" % version
    assert pins[1:] == read_lock(ROOT / "requirements" / "pbx.txt")


def test_installs_offline_upgrades_and_rolls_back(bundles, tmp_path):
    venv = tmp_path / "venv"
    older, newer = sorted(bundles, key=lambda v: tuple(int(p) for p in v.split(".")))
    older_dir = unpack(bundles[older], tmp_path / "older")
    newer_dir = unpack(bundles[newer], tmp_path / "newer")

    first = install(older_dir, "--venv", str(venv), "--", "--help")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "usage: itflow-bridge install" in first.stdout  # the arguments after -- reach install
    assert version_of(venv) == "itflow-bridge " + older
    assert readable_by_all(venv)

    upgrade = install(newer_dir, "--venv", str(venv))
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    assert "itflow-bridge " + newer in upgrade.stdout
    assert version_of(venv) == "itflow-bridge " + newer
    assert readable_by_all(venv)

    rollback = install(older_dir, "--venv", str(venv))
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert version_of(venv) == "itflow-bridge " + older
    assert "Next: %s/bin/itflow-bridge install" % venv in rollback.stdout


def stub_python(path: Path, script: str) -> Path:
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(0o755)
    return path


def test_without_venv_support_it_names_the_debian_package_and_leaves_no_half_venv(bundles, tmp_path):
    top = unpack(bundles[itflow_bridge.__version__], tmp_path / "bundle")
    # Debian's python3 without python3-venv: "-m venv" fails after making part of the venv.
    python = stub_python(tmp_path / "python3", 'if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin"; '
                         'echo "ensurepip is not available" >&2; exit 1; fi\nexec %s "$@"\n' % sys.executable)
    venv = tmp_path / "venv"
    done = install(top, "--venv", str(venv), PYTHON=str(python))
    assert done.returncode == 2
    assert "apt-get install python3-venv" in done.stderr
    assert not venv.exists()


def test_an_old_python_is_refused_with_the_version_needed(bundles, tmp_path):
    top = unpack(bundles[itflow_bridge.__version__], tmp_path / "bundle")
    python = stub_python(tmp_path / "python3", 'if [ "$1" = -V ]; then echo "Python 3.7.3"; fi\nexit 1\n')
    done = install(top, "--venv", str(tmp_path / "venv"), PYTHON=str(python))
    assert done.returncode == 2
    oldest = re.search(r'^requires-python = ">=(\d+\.\d+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    assert oldest, "pyproject.toml names no oldest Python"
    assert "needs Python %s or newer" % oldest.group(1) in done.stderr and "Python 3.7.3" in done.stderr
    assert not (tmp_path / "venv").exists()


def test_unknown_arguments_are_refused_before_anything_is_made(bundles, tmp_path):
    top = unpack(bundles[itflow_bridge.__version__], tmp_path / "bundle")
    done = install(top, "--venv", str(tmp_path / "venv"), "--url", "https://itflow.example.com")
    assert done.returncode == 2
    assert "unknown argument '--url'" in done.stderr and "after --" in done.stderr
    assert not (tmp_path / "venv").exists()
