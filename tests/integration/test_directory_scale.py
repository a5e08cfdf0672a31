"""The sync at an MSP's scale: every row stored, every number found, every phonebook rendered.

How long it takes is measured by the benchmark (bench/directory.py, figures 10
and 11), not asserted here: a test's wall-clock limit only says how busy the
machine was.
"""

from directory_data import StubV1Adapter, build_dataset
from itflow_bridge.directory.phonebook import FORMATS, render
from itflow_bridge.directory.sync import SyncSettings, sync
from itflow_bridge.storage.directory_file import DirectoryStore


def test_scale_10000_contacts_2000_locations_200_vendors(tmp_path):
    data = build_dataset(contacts=10000, locations=2000, vendors=200, clients=500)
    store = DirectoryStore(tmp_path / "scale.sqlite3")
    report = sync(StubV1Adapter(data), store, SyncSettings())
    assert report.rows["contact"] >= 10000 + 3333 and report.rows["location"] >= 2000 and report.rows["vendor"] >= 200
    directory = store.open()
    entries = directory.entries()
    assert len(entries) == report.total
    for fmt in FORMATS:
        assert len(render(entries, fmt)) > 0, fmt
    for n in range(1000):
        assert directory.find("+1212%07d" % (5000000 + n)) is not None
