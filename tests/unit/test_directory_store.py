"""The directory file: identity, indexed lookup, atomic replacement, standard-library reads."""

import os
import sqlite3

import pytest

from itflow_bridge.storage.identity import itflow_identity
from itflow_bridge.storage.directory_file import (
    Directory, DirectoryEntry, DirectoryStore, directory_path,
)

KEY = "s3cr3t-api-key-0123456789"


def write(store, entries, generation="v1"):
    with store.writer() as writer:
        writer.add(entries)
        return writer.commit(duration=0.01, generation=generation)


def entry(number, name="John Smith", kind="contact", **fields):
    return DirectoryEntry(kind=kind, name=name, number=number, digits=number.lstrip("+"), **fields)


def test_identity_is_a_hash_that_never_holds_the_key():
    identity = itflow_identity("https://itflow.example.com", "v1", KEY)
    assert KEY not in identity and "itflow.example.com" not in identity
    assert len(identity) == 20 and all(ch in "0123456789abcdef" for ch in identity)
    assert identity == itflow_identity("https://itflow.example.com/", "v1", KEY)  # trailing slash
    others = {itflow_identity("https://itflow.example.com", "legacy", KEY),
              itflow_identity("https://itflow.example.com", "v1", KEY + "x"),
              itflow_identity("https://other.example.com", "v1", KEY)}
    assert identity not in others and len(others) == 3
    path = directory_path("/var/cache/itflow-bridge", identity)
    assert path.name == "directory-%s.sqlite3" % identity


def test_find_returns_the_best_entry_and_info_the_sync_metadata(tmp_path):
    store = DirectoryStore(tmp_path / "d.sqlite3")
    info = write(store, [
        entry("+15552220000", "Acme HQ", kind="location", client_id=1, client_name="Acme Corp"),
        entry("+15552220000", "Jane Doe", number_kind="mobile", client_id=1, client_name="Acme Corp"),
        entry("+15552220000", "Old Jane", archived=True),
        entry("+15553330000", "Telco", kind="vendor"),
        DirectoryEntry(kind="contact", name="Short", number="123", digits="123", e164=False),
    ])
    directory = store.open()
    best = directory.find("+15552220000")
    assert (best.name, best.kind, best.number_kind, best.client_name) == ("Jane Doe", "contact", "mobile", "Acme Corp")
    assert [e.name for e in directory.find_all("+15552220000")] == ["Jane Doe", "Acme HQ", "Old Jane"]
    assert directory.find("+15550000000") is None
    read = directory.info()
    assert read.rows == {"contact": 3, "location": 1, "vendor": 1, "client": 0} == info.rows
    assert read.unparsable == 1 and read.generation == "v1" and read.version == info.version
    match = best.to_caller_match()
    assert (match.kind, match.client_name, match.contact_name, match.matched_number) == \
        ("contact", "Acme Corp", "Jane Doe", "15552220000")


def test_lookup_by_number_uses_the_index(tmp_path):
    store = DirectoryStore(tmp_path / "d.sqlite3")
    write(store, [entry("+1555%07d" % n) for n in range(100)])
    db = sqlite3.connect(str(store.path))
    plan = " ".join(str(row) for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM entries WHERE number = ? ORDER BY rank LIMIT 1", ("+15550000001",)))
    assert "USING INDEX entries_by_number" in plan


def test_a_failed_sync_leaves_the_previous_directory_answering(tmp_path):
    store = DirectoryStore(tmp_path / "d.sqlite3")
    first = write(store, [entry("+15551234567")])
    directory = store.open()
    assert directory.find("+15551234567").name == "John Smith"
    with pytest.raises(RuntimeError):
        with store.writer() as writer:
            writer.add([entry("+15559999999", "Half Way")])
            raise RuntimeError("ITFlow went away half way")
    assert directory.find("+15551234567").name == "John Smith"
    assert directory.find("+15559999999") is None
    assert directory.info().version == first.version
    assert sorted(os.listdir(tmp_path)) == ["d.sqlite3"]  # no temporary file left behind


def test_a_long_lived_reader_sees_the_next_sync(tmp_path):
    store = DirectoryStore(tmp_path / "d.sqlite3")
    write(store, [entry("+15551234567", "Before")])
    directory = store.open()
    assert directory.find("+15551234567").name == "Before"
    write(store, [entry("+15551234567", "After")])
    assert directory.find("+15551234567").name == "After"
    store.path.unlink()
    assert directory.find("+15551234567") is None and not directory.available


def test_no_directory_yet_answers_nothing(tmp_path):
    directory = Directory(tmp_path / "missing.sqlite3")
    assert directory.find("+15551234567") is None and directory.entries() == [] and directory.info() is None


def test_a_corrupt_file_answers_nothing(tmp_path):
    path = tmp_path / "d.sqlite3"
    path.write_bytes(b"not a database" * 100)
    assert Directory(path).find("+15551234567") is None



def test_the_file_is_not_world_readable(tmp_path):
    store = DirectoryStore(tmp_path / "d.sqlite3")
    write(store, [entry("+15551234567")])
    assert store.path.stat().st_mode & 0o007 == 0
