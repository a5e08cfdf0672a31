"""Fixtures of the real-ITFlow tier: the same tests against the fake and against real ITFlow.

One real ITFlow per session (``harness.RealITFlow``: the JSON API and the legacy
``/api.php`` three ways); a fresh fake per test.  Both serve ``contract_dataset()``.

Without the snapshots (``<repo>/../shared/itflow/``) or without root the tier is
skipped with one reason, except in CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Tuple
from urllib.parse import urlencode

import pytest
import requests

import fake_writes
from itflow_bridge.sample.fake_itflow import FakeITFlow
from itflow_bridge.sample.json_api import KEY_NOT_TIED, KEY_USER_INVALID

from real_itflow.dataset import contract_dataset
from real_itflow.harness import KEY_PASSWORD, LEGACY_VARIANTS, RealITFlow, in_ci, unavailable_reason

TIER_DIR = Path(__file__).resolve().parent
USER_AGENT = "itflow-bridge-contract-tests"
FAKE_SCRIPT_DIR = "/var/www/html"  # where the fake's PHP messages say api.php lives


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        if TIER_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.real_itflow)


_UNAVAILABLE = unavailable_reason()
if _UNAVAILABLE and not in_ci():
    # One skip, one reason, for the whole tier: only tier_test.py is collected, and it skips.
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(autouse=True)
def _tier_requirements(real_itflow_available: None) -> None:
    """Every test of the tier, fake side included, runs only where the real side can
    (``real_itflow_available`` and ``real_itflow`` are in tests/conftest.py)."""


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes


@dataclass
class Backend:
    """One ITFlow to test against, fake or real, with the keys the tests need."""

    kind: str  # fake | real
    generation: str  # legacy | v1
    variant: str  # php82 | display_errors | php80 (legacy), "" (v1)
    url: str
    key: str
    wrong_key: str
    expired_key: str
    fake: Optional[FakeITFlow] = None
    script_dir: str = FAKE_SCRIPT_DIR
    _not_tied: str = ""
    _user_gone: str = ""
    _session: requests.Session = field(default_factory=requests.Session)

    @property
    def name(self) -> str:
        return "-".join(part for part in (self.kind, self.generation, self.variant) if part)

    def not_tied_key(self) -> str:
        """A key whose ``api_key_user_id`` is 0 (keys from before per-user keys)."""
        if self.fake is not None:
            self.fake.key_state = KEY_NOT_TIED
            return self.fake.api_key
        return self._not_tied

    def user_gone_key(self) -> str:
        """A key whose user no longer exists."""
        if self.fake is not None:
            self.fake.key_state = KEY_USER_INVALID
            return self.fake.api_key
        return self._user_gone

    def get(self, path: str, params: Optional[List[Tuple[str, str]]] = None, *, method: str = "GET",
            key: Optional[str] = "default", user_agent: Optional[str] = USER_AGENT, body: Optional[bytes] = None) -> Answer:
        query = list(params or [])
        if key is not None:
            query.insert(0, ("api_key", self.key if key == "default" else key))
        url = self.url + path + ("?" + urlencode(query) if query else "")
        response = self._session.request(method, url, headers={"User-Agent": user_agent,
                                                                "Accept-Encoding": None, "Accept": None},
                                         data=body,
                                         allow_redirects=False, timeout=20)
        text = response.content
        if self.kind == "real" and self.script_dir != FAKE_SCRIPT_DIR:
            text = text.replace(self.script_dir.encode("utf-8"), FAKE_SCRIPT_DIR.encode("utf-8"))
        return Answer(response.status_code, response.headers.get("Content-Type", ""), text)


def fake_backend(generation: str, variant: str = "") -> Tuple[FakeITFlow, Backend]:
    fake = FakeITFlow(contract_dataset(), generations=(generation,), decrypt_password=KEY_PASSWORD,
                      php_version="8.0" if variant == "php80" else "8.2",
                      display_errors=variant == "display_errors", writes=fake_writes).start()
    backend = Backend("fake", generation, variant, fake.url, fake.api_key, wrong_key="not-" + fake.api_key,
                      expired_key="expired-" + fake.api_key, fake=fake)
    return fake, backend


def real_backend(real: RealITFlow, generation: str, variant: str = "") -> Backend:
    keys = real.keys[generation]
    server = real.servers["v1" if generation == "v1" else "legacy-%s" % variant]
    return Backend("real", generation, variant, server.url, keys.good, wrong_key=keys.wrong,
                   expired_key=keys.expired, script_dir=str(real.trees[generation]),
                   _not_tied=keys.not_tied, _user_gone=keys.user_gone)


def _backend(request, generation: str, kind: str, variant: str) -> Iterator[Backend]:
    if kind == "real":
        yield real_backend(request.getfixturevalue("real_itflow"), generation, variant)
        return
    fake, backend = fake_backend(generation, variant)
    try:
        yield backend
    finally:
        fake.stop()


LEGACY_PARAMS = [(kind, variant) for variant in LEGACY_VARIANTS for kind in ("fake", "real")]


@pytest.fixture(params=LEGACY_PARAMS, ids=["%s-%s" % p for p in LEGACY_PARAMS])
def legacy(request) -> Iterator[Backend]:
    """Legacy /api.php: fake and real, each as PHP 8.2, with display_errors=On, and as PHP 8.0."""
    yield from _backend(request, "legacy", *request.param)


@pytest.fixture(params=["fake", "real"])
def legacy_82(request) -> Iterator[Backend]:
    """Legacy /api.php on PHP 8.2 defaults only (for answers the PHP variant does not change)."""
    yield from _backend(request, "legacy", request.param, "php82")


@pytest.fixture(params=["fake", "real"])
def v1(request) -> Iterator[Backend]:
    """The JSON API /api/v1: fake and real."""
    yield from _backend(request, "v1", request.param, "")


@pytest.fixture(params=["fake-v1", "real-v1", "fake-legacy", "real-legacy"])
def any_backend(request) -> Iterator[Backend]:
    kind, generation = request.param.split("-")
    yield from _backend(request, generation, kind, "" if generation == "v1" else "php82")
