"""``check`` lists every store of the cache directory: path, age, size, and whether this user can write it."""

import json
import os

from itflow_bridge.health import PASS, WARN, Report, _list_stores, store_states
from itflow_bridge.storage import layout

NOW = 2_000_000_000.0


def written(path, data, age):
    path.write_bytes(data)
    os.utime(path, (NOW - age, NOW - age))


def test_every_store_in_lookup_order_with_size_and_age(tmp_path):
    (tmp_path / layout.ANSWERS).mkdir()
    written(tmp_path / layout.ANSWERS / "0000000100000001", b"x" * 2048, 90)
    written(tmp_path / layout.ANSWERS / "0000000200000002", b"x" * 1024, 30)
    written(tmp_path / "directory-aaaa.sqlite3", b"d" * 100, 7200)
    states = store_states(str(tmp_path), now=NOW)
    assert [(state.store, state.path) for state in states] == [
        ("answer book", str(tmp_path / layout.ANSWERS) + "/"),
        ("replay", str(tmp_path / layout.REPLAY)),
        ("local directory", str(tmp_path / "directory-aaaa.sqlite3")),
        ("lookup cache", str(tmp_path / layout.CACHE_DB))]
    book, replay, directory, cache = states
    assert (book.exists, book.files, book.size, book.age, book.writable) == (True, 2, 3072, 30.0, True)
    assert "2 files, 3.0 KiB, written 30 s ago; writable by this user" in book.describe()
    assert (directory.files, directory.size, directory.age) == (1, 100, 7200.0)
    assert directory.describe().endswith(": 100 bytes, written 2 h ago; writable by this user")
    assert not replay.exists and not cache.exists and replay.age is None
    assert "not written yet; writable by this user" in replay.describe()  # the cache directory is writable


def test_a_store_this_user_cannot_write_is_a_warning_with_its_fix(tmp_path, monkeypatch):
    written(tmp_path / layout.CACHE_DB, b"", 5)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path).endswith(layout.CACHE_DB)
                        else real_access(path, mode))
    report = Report()
    _list_stores(str(tmp_path), report)
    items = {item.name: item for item in report.items}
    assert list(items) == ["store: answer book", "store: replay", "store: local directory",
                                        "store: lookup cache"]
    cache = items["store: lookup cache"]
    assert cache.status == WARN and "NOT writable by this user" in cache.detail and "install" in cache.fix
    assert items["store: replay"].status == PASS


def test_the_json_report_holds_every_store(tmp_path):
    written(tmp_path / "directory-aaaa.sqlite3", b"d" * 10, 1)
    report = Report()
    _list_stores(str(tmp_path), report)
    stores = json.loads(json.dumps(report.to_dict()))["stores"]
    assert [store["store"] for store in stores] == ["answer book", "replay", "local directory", "lookup cache"]
    directory = stores[2]
    assert directory["path"] == str(tmp_path / "directory-aaaa.sqlite3")
    assert (directory["size"], directory["exists"], directory["writable"]) == (10, True, True)
    assert directory["age"] is not None
