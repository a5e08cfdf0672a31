"""The wheel ships the product only, and the demo runs from it alone.

Test-only code (the fake ITFlow's writes, reading speech back, the fault
injection) lives in ``tests/``; this builds the wheel as a user's pip would and
checks none of it is inside, then runs ``itflow-bridge demo`` from a fresh
venv that holds the wheel plus its dependencies and nothing of the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEST_MODULES = sorted(path.stem for path in (REPO / "tests").rglob("*.py"))
TEST_ONLY_NAMES = ("json_api_writes", "fake_writes", "words_to_amount", "prompts_to_words", "set_fault")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the tree (the build leaves nothing in the repository)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "itflow_bridge", source / "itflow_bridge",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("itflow_bridge-*.whl")
    return path


def test_the_wheel_holds_the_package_only(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        sources = {name: archive.read(name).decode("utf-8") for name in names if name.endswith(".py")}
    assert "itflow_bridge/sample/demo.py" in names and "itflow_bridge/sample/sample_itflow.json" in names
    assert all(name.startswith(("itflow_bridge/", "itflow_bridge-")) for name in names), names
    shipped_modules = {Path(name).stem for name in sources}
    assert not shipped_modules & (set(TEST_MODULES) - {"__init__"}), shipped_modules & set(TEST_MODULES)
    for name, text in sources.items():
        assert not [word for word in TEST_ONLY_NAMES if word in text], name


def test_the_demo_runs_from_the_wheel_alone(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    # The dependencies come from this venv's site-packages, added as a plain path: its .pth
    # files (the editable install of the source tree among them) are not run.
    site_packages = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip()
    Path(site_packages, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "ITFLOW"))}
    where = subprocess.run([str(python), "-c", "import itflow_bridge; print(itflow_bridge.__file__)"],
                           cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr
    demo = subprocess.run([str(python), "-m", "itflow_bridge.cli", "demo"], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0 and "Traceback" not in demo.stderr, demo.stderr
    assert "phones show \"Acme Corp - John Smith\"" in demo.stdout
    assert "caller hears: Your balance is one thousand seven hundred dollars and fifty cents." in demo.stdout
