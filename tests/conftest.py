"""Shared pytest fixtures: a started fake ITFlow per test, so tests never share state.

Each fixture yields a running fake ITFlow (``FaultyITFlow``: the package's
``FakeITFlow`` plus ``set_fault``) on 127.0.0.1 with a fresh copy of the sample
dataset; ``fake.url`` is its base URL and ``fake.api_key`` the sample key.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from faulty_itflow import FaultyITFlow


@pytest.fixture
def fake_itflow() -> Iterator[FaultyITFlow]:
    """Both API generations (legacy /api.php and /api/v1/), PHP 8.2."""
    with FaultyITFlow() as fake:
        yield fake


@pytest.fixture
def fake_itflow_legacy() -> Iterator[FaultyITFlow]:
    """Only the legacy /api.php (an ITFlow that never upgraded past April 2022)."""
    with FaultyITFlow(generations=("legacy",)) as fake:
        yield fake


@pytest.fixture
def fake_itflow_v1() -> Iterator[FaultyITFlow]:
    """Only the JSON /api/v1/ (current ITFlow: /api.php answers 404)."""
    with FaultyITFlow(generations=("v1",)) as fake:
        yield fake
