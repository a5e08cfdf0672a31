"""``itflow-bridge check``'s line on the local directory: age, size, and what keeps it fresh."""

import time

import pytest

from itflow_bridge.app import Bridge
from itflow_bridge.core.config import CacheSettings, Config, DirectorySettings, ITFlowSettings
from itflow_bridge.directory.service import directory_check
from itflow_bridge.storage.directory_file import DirectoryEntry

URL, KEY = "https://itflow.example.com", "k3y-0123456789"


@pytest.fixture
def bridge(tmp_path):
    made = []

    def make(interval=900):
        config = Config(itflow=ITFlowSettings(url=URL, api_key=KEY, api_mode="v1"),
                        cache=CacheSettings(dir=tmp_path), directory=DirectorySettings(sync_interval=interval))
        made.append(Bridge(config))
        return made[-1]

    yield make
    for item in made:
        item.close()


def sync(bridge, age):
    with bridge.directory_store().writer() as writer:
        writer.add([DirectoryEntry(kind="contact", name="John", number="+1555%07d" % n) for n in range(3)]
                   + [DirectoryEntry(kind="vendor", name="Telco", number="+15553330000")])
        writer.commit(duration=0.1, generation="v1", synced_at=time.time() - age)


def test_a_fresh_directory_is_ok_with_its_age_size_and_keeper(bridge):
    b = bridge()
    sync(b, 300)
    level, detail, fix = directory_check(b, "fastagi")
    assert level == "ok" and fix == ""
    assert "4 numbers (3 contacts, 1 vendors)" in detail and "synced 5 min ago from the v1 API" in detail
    assert "kB" in detail and "the daemon syncs it every 900 s" in detail


def test_older_than_three_intervals_is_a_warning(bridge):
    b = bridge(interval=600)
    sync(b, 3 * 600 + 60)
    level, detail, fix = directory_check(b, "classic")
    assert level == "warning" and "itflow-bridge-sync.timer syncs it every 600 s" in detail
    assert "itflow-bridge sync" in fix
    assert directory_check(bridge(interval=0), "classic")[0] == "ok"  # nothing is supposed to keep it fresh


def test_absent_is_a_warning_only_for_classic_scripts(bridge):
    b = bridge()
    assert directory_check(b, "fastagi")[0] == "ok"
    assert directory_check(b, None)[0] == "ok"
    level, detail, fix = directory_check(b, "classic")
    assert level == "warning" and "not synced yet" in detail and "itflow-bridge-sync.timer" in fix
