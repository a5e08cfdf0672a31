"""Fixtures: real bridge objects pointed at a running fake ITFlow."""

from dataclasses import replace
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

from itflow_bridge.app import Bridge
from itflow_bridge.core.config import load_config
from itflow_sites import Site, fake_sites, real_site


def config_for(fake, tmp_path: Path, mode: str = "auto", url: Optional[str] = None, key: Optional[str] = None, **itflow):
    conf = tmp_path / "bridge.conf"
    if not conf.exists():
        conf.write_text("", encoding="utf-8")
    config = load_config(env={
        "ITFLOW_BRIDGE_CONFIG": str(conf),
        "ITFLOW_URL": url or fake.url,
        "ITFLOW_API_KEY": key or fake.api_key,
        "ITFLOW_API_MODE": mode,
        "ITFLOW_BRIDGE_CACHE_DIR": str(tmp_path / "cache"),
    })
    if itflow:
        config = replace(config, itflow=replace(config.itflow, **itflow))
    return config


def bridge_for(fake, tmp_path: Path, mode: str = "auto", **kwargs) -> Bridge:
    return Bridge(config_for(fake, tmp_path, mode, **kwargs))


@pytest.fixture
def make_bridge(tmp_path):
    """``make_bridge(fake, mode="auto", key=..., url=..., **itflow_settings)`` -> Bridge."""
    made = []

    def make(fake, mode="auto", **kwargs):
        bridge = bridge_for(fake, tmp_path, mode, **kwargs)
        made.append(bridge)
        return bridge

    yield make
    for bridge in made:
        bridge.close()


# --- the same test against the fake and against real ITFlow ---------------------------------

SITE_KINDS = ["fake", pytest.param("real", marks=pytest.mark.real_itflow)]


@pytest.fixture(params=SITE_KINDS)
def site_kind(request) -> str:
    """``fake`` or ``real`` (marked ``real_itflow``: real ITFlow of the real-ITFlow tier)."""
    return request.param


@pytest.fixture
def sites(request, site_kind) -> Iterator[Dict[str, Site]]:
    """Both generations, by name: one fake serving both, or real ITFlow 26.08 and April 2022."""
    if site_kind == "real":
        real = request.getfixturevalue("real_itflow")
        yield {generation: real_site(real, generation) for generation in ("legacy", "v1")}
        return
    with fake_sites(("legacy", "v1")) as made:
        yield made


@pytest.fixture
def v1_site(request, site_kind) -> Iterator[Site]:
    """The JSON API: a fake serving only /api/v1, or real ITFlow 26.08."""
    if site_kind == "real":
        yield real_site(request.getfixturevalue("real_itflow"), "v1")
        return
    with fake_sites(("v1",)) as made:
        yield made["v1"]
