"""The two-tier cache: TTLs, stale grace, sharing between processes, surviving a corrupt file."""

import logging
import sqlite3
import threading

from itflow_bridge.storage import cache as cache_module
from itflow_bridge.storage.cache import Cache
from itflow_bridge.storage.layout import CACHE_DB as DB_NAME
from polling import PATIENCE, wait_for


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_fresh_then_stale_then_gone(tmp_path):
    clock = Clock()
    cache = Cache(tmp_path, clock=clock)
    cache.put("k", {"a": 1}, ttl=10, stale_grace=100)
    assert cache.get("k").is_fresh(clock.now)
    clock.now += 11
    entry = cache.get("k")
    assert entry is not None and not entry.is_fresh(clock.now) and entry.value == {"a": 1}
    clock.now += 100
    assert cache.get("k") is None



def test_miss_values_are_cached_as_none(tmp_path):
    cache = Cache(tmp_path)
    cache.put("miss", None, ttl=60)
    entry = Cache(tmp_path).get("miss")
    assert entry is not None and entry.value is None


def test_corrupt_file_degrades_to_memory_with_one_warning(tmp_path, caplog):
    (tmp_path / DB_NAME).write_bytes(b"this is not a sqlite database" * 100)
    with caplog.at_level(logging.WARNING):
        cache = Cache(tmp_path)
        cache.put("k", 1, ttl=60)
        assert cache.get("k").value == 1
    assert not cache.persistent
    assert len([r for r in caplog.records if "memory only" in r.getMessage()]) == 1


def test_unwritable_directory_degrades(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with caplog.at_level(logging.WARNING):
        cache = Cache(blocker / "sub")
    cache.put("k", 2, ttl=60)
    assert cache.get("k").value == 2 and not cache.persistent


def test_events_are_counted_across_instances_within_the_window(tmp_path):
    clock = Clock()
    first = Cache(tmp_path, clock=clock)
    for _ in range(3):
        first.record_event("fail:5551234567")
    second = Cache(tmp_path, clock=clock)
    assert second.count_events("fail:5551234567", window=3600) == 3
    clock.now += 3601
    assert second.count_events("fail:5551234567", window=3600) == 0


def test_memory_only_cache(tmp_path):
    cache = Cache(None)
    cache.put("k", [1, 2], ttl=5)
    assert cache.get("k").value == [1, 2] and not cache.persistent


def test_write_behind_reaches_disk_in_the_background_and_on_close(tmp_path):
    daemon = Cache(tmp_path, write_behind=True)
    daemon.put("early", "on disk soon", ttl=60)
    assert daemon.get("early").value == "on disk soon"  # at once, from memory
    other = Cache(tmp_path)
    wait_for(lambda: other.get("early") is not None, "the write-behind thread to write the entry")
    assert other.get("early").value == "on disk soon"
    daemon.put("late", "written by close", ttl=60)
    daemon.close()
    assert Cache(tmp_path).get("late").value == "written by close"


def test_a_delete_not_yet_on_disk_hides_the_row_still_there(tmp_path):
    Cache(tmp_path).put("marker", True, ttl=60)
    daemon = Cache(tmp_path, write_behind=True)
    assert daemon.get("marker").value is True  # read from disk into memory
    daemon.delete("marker")
    assert daemon.get("marker") is None  # not read back from the row the writer has yet to delete
    daemon.close()
    assert Cache(tmp_path).get("marker") is None


def test_a_read_does_not_wait_behind_a_write_held_up_by_another_process(tmp_path, monkeypatch):
    Cache(tmp_path).put("on-disk", "answer", ttl=60)
    # The writer waits for the other process as long as the test holds it up, not 200 ms.
    monkeypatch.setattr(cache_module, "BUSY_TIMEOUT_MS", int(PATIENCE * 1000))
    cache = Cache(tmp_path)
    blocker = sqlite3.connect(str(tmp_path / DB_NAME), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process writing: our writer waits for its busy timeout
    try:
        writer = threading.Thread(target=cache.put, args=("other", 1, 60))
        writer.start()
        wait_for(cache._db_lock.locked, "the write to start")  # held until the blocker lets go
        entry = cache.get("on-disk")  # from the file: the reading connection is not the blocked one
        still_writing = writer.is_alive()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    writer.join(5)
    assert entry.value == "answer"
    assert still_writing, "the write was not held up, so this test proved nothing"
