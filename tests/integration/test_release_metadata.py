"""The release's metadata: one version, printed by --version, and a lock that honours pyproject.

The version is written once, in ``itflow_bridge/__init__.py``; ``pyproject.toml`` must read it
from there rather than repeat it.  ``requirements/pbx.txt`` pins every dependency the package
declares, at a version inside the declared range, with a hash.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import itflow_bridge

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from build_bundle import read_lock  # noqa: E402


def pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def declared_dependencies() -> list:
    block = re.search(r"^dependencies = \[(.*?)^\]", pyproject(), re.S | re.M)
    assert block, "no dependencies list in pyproject.toml"
    return [Requirement(item) for item in re.findall(r'"([^"]+)"', block.group(1))]


def test_the_version_is_written_once_and_pyproject_reads_it_from_the_package():
    text = pyproject()
    assert re.search(r'^dynamic = \[[^\]]*"version"', text, re.M)
    assert re.search(r"^version = \{attr = \"itflow_bridge.__version__\"\}", text, re.M)
    assert not re.search(r'^version = "', text, re.M)
    assert re.fullmatch(r"\d+\.\d+\.\d+", itflow_bridge.__version__)


def test_version_flag_prints_the_package_version():
    done = subprocess.run([sys.executable, "-c", "from itflow_bridge.cli import main; main()", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "itflow-bridge " + itflow_bridge.__version__


def test_the_pbx_lock_pins_every_declared_dependency_inside_its_range_with_a_hash():
    pinned = {}
    for pin, hashes in read_lock(ROOT / "requirements" / "pbx.txt"):
        name, version = pin.split("==")
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), pin
        pinned[canonicalize_name(name)] = version
    for requirement in declared_dependencies():
        name = canonicalize_name(requirement.name)
        assert name in pinned, "%s is declared but not pinned" % requirement
        assert requirement.specifier.contains(pinned[name]), "%s pinned at %s" % (requirement, pinned[name])
    # requests' own dependencies come with it.
    assert {"certifi", "charset-normalizer", "idna"} <= set(pinned)


def test_the_changelog_has_this_version_and_an_unreleased_section():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "\n## Unreleased\n" in changelog
    assert "\n## %s\n" % itflow_bridge.__version__ in changelog
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("GNU GENERAL PUBLIC LICENSE")
