"""Shared pytest fixtures: a started fake ITFlow per test, so tests never share state.

Each ``fake_itflow*`` fixture yields a running fake ITFlow (``FaultyITFlow``: the
package's ``FakeITFlow`` plus ``set_fault``) on 127.0.0.1 with a fresh copy of
the sample dataset; ``fake.url`` is its base URL and ``fake.api_key`` the sample
key.  ``real_itflow`` is real ITFlow of both generations, one per session
(``real_itflow/harness.py``); it needs root and the ITFlow snapshots.
"""

from __future__ import annotations

import sys
import time
from typing import Iterator

import pytest

import fake_writes
from faulty_itflow import FaultyITFlow
from real_itflow.dataset import contract_dataset
from real_itflow.harness import RealITFlow, in_ci, unavailable_reason


@pytest.fixture
def fake_itflow() -> Iterator[FaultyITFlow]:
    """Both API generations (legacy /api.php and /api/v1/), PHP 8.2."""
    with FaultyITFlow(writes=fake_writes) as fake:
        yield fake


@pytest.fixture
def fake_itflow_legacy() -> Iterator[FaultyITFlow]:
    """Only the legacy /api.php (an ITFlow that never upgraded past April 2022)."""
    with FaultyITFlow(writes=fake_writes, generations=("legacy",)) as fake:
        yield fake


@pytest.fixture
def fake_itflow_v1() -> Iterator[FaultyITFlow]:
    """Only the JSON /api/v1/ (current ITFlow: /api.php answers 404)."""
    with FaultyITFlow(writes=fake_writes, generations=("v1",)) as fake:
        yield fake


@pytest.fixture(scope="session")
def real_itflow_available() -> None:
    """Skips (with the reason) where real ITFlow cannot run; under CI that is a failure."""
    reason = unavailable_reason()
    if reason and in_ci():
        pytest.fail("real ITFlow cannot run in CI: %s" % reason, pytrace=False)
    if reason:
        pytest.skip("real ITFlow: %s" % reason)


@pytest.fixture(scope="session")
def real_itflow(real_itflow_available: None) -> Iterator[RealITFlow]:
    started = time.monotonic()
    real = RealITFlow(contract_dataset()).start()
    sys.stderr.write("\nreal ITFlow ready in %.1f s %s\n" % (time.monotonic() - started, real.timings))
    try:
        yield real
    finally:
        real.stop()
