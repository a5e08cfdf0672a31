"""Fixtures: real bridge objects pointed at a running fake ITFlow."""

from dataclasses import replace
from pathlib import Path
from typing import Optional

import pytest

from itflow_bridge.app import Bridge
from itflow_bridge.config import load_config


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
