"""Session fixture for the real-Asterisk e2e tests.

One Asterisk per pytest session (booting is cheap, building the chroot is not and is
cached by asterisk_root).  The tests need root for chroot and mounts; without it
they fail loudly instead of skipping, so a CI that lost root cannot go green by
silently running nothing.  ITFLOW_E2E=skip is the explicit opt-out.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest

from asterisk_harness import AsteriskHarness
from asterisk_root import ensure_root

E2E_DIR = Path(__file__).resolve().parent
SKIP_ENV = "ITFLOW_E2E"
_timings: Dict[str, float] = {}


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_privileges() -> None:
    """Skip on explicit request, fail without root (chroot and mount need it)."""
    if os.environ.get(SKIP_ENV) == "skip":
        pytest.skip(f"{SKIP_ENV}=skip: real-Asterisk tests disabled on purpose")
    if os.geteuid() != 0:
        pytest.fail(
            "the e2e tests need root (chroot, mount) to run a real Asterisk; "
            f"run pytest as root, or set {SKIP_ENV}=skip to leave them out on purpose",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def asterisk(e2e_privileges: None) -> Iterator[AsteriskHarness]:
    """A running Asterisk 22 with our dialplan loaded, shared by the whole session."""
    started = time.monotonic()
    root = ensure_root()
    _timings["root ready"] = time.monotonic() - started
    harness = AsteriskHarness(root)
    _timings["Asterisk start"] = harness.start()
    try:
        yield harness
    finally:
        harness.stop()


def pytest_terminal_summary(terminalreporter) -> None:
    if _timings:
        summary = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in _timings.items())
        terminalreporter.write_line(f"e2e harness: {summary}")
