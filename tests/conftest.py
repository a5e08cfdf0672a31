"""Shared pytest fixtures: a started fake ITFlow per test, so tests never share state.

Each fixture yields a running ``FakeITFlow`` on 127.0.0.1 with a fresh copy of the
sample dataset; ``fake.url`` is its base URL and ``fake.api_key`` the sample key.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from itflow_bridge.sample.fake_itflow import FakeITFlow


@pytest.fixture
def fake_itflow() -> Iterator[FakeITFlow]:
    """Both API generations (legacy /api.php and /api/v1/), PHP 8.2."""
    with FakeITFlow() as fake:
        yield fake


@pytest.fixture
def fake_itflow_legacy() -> Iterator[FakeITFlow]:
    """Only the legacy /api.php (an ITFlow that never upgraded past April 2022)."""
    with FakeITFlow(generations=("legacy",)) as fake:
        yield fake


@pytest.fixture
def fake_itflow_v1() -> Iterator[FakeITFlow]:
    """Only the JSON /api/v1/ (current ITFlow: /api.php answers 404)."""
    with FakeITFlow(generations=("v1",)) as fake:
        yield fake
