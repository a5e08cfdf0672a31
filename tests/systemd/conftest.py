"""The systemd tier: the installed units run by a real systemd 252 in a booted container.

Needs root (debootstrap, systemd-nspawn, nsenter).  Without root the tier is
skipped with one reason, except under CI, where a missing prerequisite fails:
a CI that lost root must not go green by running nothing.  ITFLOW_SYSTEMD=skip
is the explicit opt-out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from itflow_bridge import __version__

from installable import build_installable
from systemd_container import Container, ensure_tarball, install_host_tools
from systemd_pbx import PBX, bumped

SYSTEMD_DIR = Path(__file__).resolve().parent
SKIP_ENV = "ITFLOW_SYSTEMD"


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        if SYSTEMD_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.systemd)
            item.add_marker(pytest.mark.e2e)  # end to end on a booted PBX: outside the quick tiers


@pytest.fixture(scope="session")
def systemd_privileges() -> None:
    if os.environ.get(SKIP_ENV) == "skip":
        pytest.skip(f"{SKIP_ENV}=skip: systemd tests disabled on purpose")
    if os.geteuid() != 0:
        reason = ("the systemd tests need root (debootstrap, systemd-nspawn) to boot a container; "
                  f"run pytest as root, or set {SKIP_ENV}=skip to leave them out on purpose")
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    install_host_tools()


@pytest.fixture(scope="module")
def pbx(systemd_privileges: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PBX]:
    """One PBX for the module: its tests are the life of an installation, in order."""
    work = tmp_path_factory.mktemp("systemd")
    tarball = ensure_tarball()
    bundles = {version: build_installable(version, work / ("bundle-" + version))
               for version in (__version__, bumped(__version__))}
    container = Container.unpack(tarball, work / "root", "itflow-sd-%d" % os.getpid())
    try:
        container.boot()
        pbx = PBX(container, bundles)
        pbx.prepare()
        yield pbx
    finally:
        container.stop()


