"""Caller lookups answered from the local directory: no ITFlow request for a synced number."""

import logging
from dataclasses import replace

import pytest

from itflow_bridge.app import Bridge
from itflow_bridge.storage.cache import Cache
from itflow_bridge.core.config import CacheSettings, CallerIDSettings, Config, ITFlowSettings
from itflow_bridge.storage.directory_file import CALLER_DETAILS, DirectoryEntry, DirectoryStore
from itflow_bridge.core.models import CallerMatch
from itflow_bridge.services.lookup import CallerLookup
from itflow_bridge.services.numbers import e164_numbers

from test_lookup import ScriptedAdapter

URL, KEY = "https://itflow.example.com", "k3y-0123456789"


def write(store, entries, **extra):
    with store.writer() as writer:
        writer.add(entries)
        writer.commit(duration=0.01, generation="v1", extra=extra)
    return store.open()


JOHN = DirectoryEntry(kind="contact", name="John Smith", number="+15551234567", digits="5551234567",
                      record_id=1, client_id=1, client_name="Acme Corp")
ENTRIES = [
    JOHN,
    DirectoryEntry(kind="location", name="Acme HQ", number="+15552220000", digits="5552220000",
                   client_id=1, client_name="Acme Corp"),
    DirectoryEntry(kind="vendor", name="Telco Supplies", number="+15553330000", digits="5553330000",
                   client_id=1, client_name="Acme Corp"),  # a client's vendor: still no client
    DirectoryEntry(kind="contact", name="Mary O'Brien", number="+441632960123", digits="01632960123",
                   client_id=2, client_name="O'Brien & Sons"),
    DirectoryEntry(kind="contact", name="Jürgen Müller", number="+4930123456", digits="4930123456",
                   client_id=3, client_name="Müller GmbH"),
    DirectoryEntry(kind="contact", name="Extension", number="55512", digits="55512", e164=False),
]


def make(adapter, tmp_path, directory, **settings):
    return CallerLookup(replace(CallerIDSettings(), **settings), CacheSettings(dir=tmp_path), Cache(tmp_path),
                        lambda: adapter, directory=lambda: directory)


@pytest.mark.parametrize("raw, name", [
    ("+15551234567", "John Smith"), ("5551234567", "John Smith"), ("15551234567", "John Smith"),
    ("(555) 123-4567", "John Smith"), ("011441632960123", "Mary O'Brien"), ("441632960123", "Mary O'Brien"),
    ("+441632960123", "Mary O'Brien"), ("+4930123456", "Jürgen Müller"), ("55512", "Extension"),
])
def test_a_synced_number_is_answered_without_asking_itflow(tmp_path, raw, name):
    adapter = ScriptedAdapter()
    service = make(adapter, tmp_path, write(DirectoryStore(tmp_path / "d.sqlite3"), ENTRIES))
    result = service.lookup(raw)
    assert (result.status, result.source, result.match.name) == ("FOUND", "directory", name)
    assert adapter.asked == []
    assert result.fresh_until > service.cache.now() + 3000  # as fresh as a cached hit (hit_ttl 3600)


def test_the_match_is_the_one_the_adapter_gives(tmp_path):
    directory = write(DirectoryStore(tmp_path / "d.sqlite3"), ENTRIES)
    john = directory.find_caller("+15551234567")
    assert john == CallerMatch("John Smith", "contact", 1, "Acme Corp", "John Smith", "5551234567", contact_id=1)
    hq = directory.find_caller("+15552220000")
    assert (hq.kind, hq.client_id, hq.client_name, hq.contact_name, hq.contact_id) == ("location", 1, "Acme Corp", None, None)
    vendor = directory.find_caller("+15553330000")  # the adapters' vendor listing gives no client
    assert (vendor.kind, vendor.client_id, vendor.client_name, vendor.contact_name) == ("vendor", None, None, None)


def test_a_name_only_api_gets_a_name_only_answer(tmp_path):
    directory = write(DirectoryStore(tmp_path / "d.sqlite3"), ENTRIES, **{CALLER_DETAILS: "0"})
    assert directory.find_caller("+15551234567") == CallerMatch("John Smith", "unknown", matched_number="5551234567")


def test_a_number_not_in_the_directory_asks_itflow_and_is_cached(tmp_path):
    adapter = ScriptedAdapter({"5559876543": "Jane Doe"})
    service = make(adapter, tmp_path, write(DirectoryStore(tmp_path / "d.sqlite3"), ENTRIES))
    first = service.lookup("+15559876543")  # added to ITFlow after the last sync
    assert (first.status, first.source, first.match.name) == ("FOUND", "itflow", "Jane Doe")
    assert service.lookup("+15559876543").source == "cache"
    assert adapter.asked == ["5559876543"]


def test_the_directory_wins_over_a_cached_miss(tmp_path):
    adapter = ScriptedAdapter()
    store = DirectoryStore(tmp_path / "d.sqlite3")
    holder = {"directory": None}
    service = CallerLookup(CallerIDSettings(), CacheSettings(dir=tmp_path), Cache(tmp_path), lambda: adapter,
                           directory=lambda: holder["directory"])
    assert service.lookup("+15551234567").status == "NOTFOUND"  # not yet in ITFlow, nor synced
    holder["directory"] = write(store, ENTRIES)  # the next sync brings the new contact
    result = service.lookup("+15551234567")
    assert (result.status, result.source) == ("FOUND", "directory")


def test_a_broken_directory_falls_back_to_itflow(tmp_path, caplog):
    class Broken:
        def find_caller(self, number):
            raise OSError("disk on fire")

    adapter = ScriptedAdapter({"5551234567": "John Smith"})
    service = make(adapter, tmp_path, Broken())
    with caplog.at_level(logging.WARNING):
        assert [service.lookup("5551234567").source for _ in range(2)] == ["itflow", "cache"]
    assert sum("local directory unreadable" in r.getMessage() for r in caplog.records) == 1


def test_withheld_numbers_never_reach_the_directory(tmp_path):
    class Counting:
        asked = []

        def find_caller(self, number):
            self.asked.append(number)

    directory = Counting()
    service = make(ScriptedAdapter(), tmp_path, directory)
    assert service.lookup("anonymous").status == "SKIPPED" and directory.asked == []


def test_e164_forms_most_likely_first():
    assert e164_numbers("+15551234567", "US") == ["+15551234567"]
    assert e164_numbers("5551234567", "US") == ["+15551234567", "5551234567"]
    assert e164_numbers("441632960123", "US") == ["+441632960123", "441632960123"]
    assert e164_numbers("01632960123", "GB") == ["+441632960123", "01632960123"]
    assert e164_numbers("0049301234567", "DE") == ["+49301234567", "0049301234567"]


def bridge_for(tmp_path, url=URL, key=KEY, mode="v1"):
    config = Config(itflow=ITFlowSettings(url=url, api_key=key, api_mode=mode), cache=CacheSettings(dir=tmp_path))
    return Bridge(config)


def test_the_bridge_uses_only_its_own_itflows_directory(tmp_path):
    write(DirectoryStore.for_identity(tmp_path, URL, "v1", "another-key"), ENTRIES)
    write(DirectoryStore.for_identity(tmp_path, "https://other.example.com", "v1", KEY), ENTRIES)
    write(DirectoryStore.for_identity(tmp_path, URL, "legacy", KEY), ENTRIES)
    bridge = bridge_for(tmp_path)  # api_mode v1: only the v1 directory of this URL and key
    try:
        assert bridge.directory() is None
        write(DirectoryStore.for_identity(tmp_path, URL, "v1", KEY), ENTRIES[:1])
        assert bridge.directory().find_caller("+15551234567").name == "John Smith"
        assert bridge.lookup._from_directory("+15551234567").source == "directory"
    finally:
        bridge.close()


def test_callers_gives_each_number_once_with_its_best_entry_across_batches(tmp_path):
    entries = []
    for n in range(50):
        number = "+1555000%04d" % n
        entries += [DirectoryEntry(kind="vendor", name="Vendor %d" % n, number=number),
                    DirectoryEntry(kind="contact", name="Contact %d" % n, number=number, client_name="C")]
    directory = write(DirectoryStore(tmp_path / "d.sqlite3"), entries)
    for batch in (1, 2, 3, 7, 1000):
        callers = list(directory.callers(batch=batch))
        assert [number for number, _ in callers] == directory.numbers() == sorted({e.number for e in entries})
        assert all(match.kind == "contact" for _, match in callers)  # a contact's number names the contact
