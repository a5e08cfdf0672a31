"""The sync over the adapter's paging: rows, normalisation, archived rows, failures, scale."""

import time

import pytest

from itflow_bridge.itflow.base import ITFlowAdapter
from directory_data import StubV1Adapter, build_dataset, client, contact, empty_dataset, location, vendor
from itflow_bridge.storage.directory_file import DirectoryStore
from itflow_bridge.directory.sync import SyncSettings, sync
from itflow_bridge.core.errors import ITFlowNotSupported, ITFlowResponseError, ITFlowUnavailable


def small_dataset():
    data = empty_dataset()
    data["clients"] = [client(1, "Acme Corp"), client(2, "Gone Ltd", archived=True), client(3, "Müller GmbH")]
    data["contacts"] = [
        contact(1, 1, "John Smith", phone="2025550123", mobile="2025550199", primary=True),
        contact(2, 1, "Old Timer", phone="2025550124", archived=True),
        contact(3, 2, "Gone Person", phone="2025550125"),
        contact(4, 3, "Jürgen Müller", phone="0301234567", phone_cc="49", mobile="1701234567", mobile_cc="49"),
        contact(5, 3, "UK Desk", phone="02079460000", phone_cc="44"),
        contact(6, 3, "UK Desk No Trunk", phone="2079460001", phone_cc="44"),
        contact(7, 1, "Shorty", phone="123"),
        contact(8, 1, "No Phone"),
    ]
    data["locations"] = [location(1, 1, "Acme HQ", "2025550100"), location(2, 3, "Berlin Office", "301234500", "49")]
    data["vendors"] = [vendor(1, "AT&T", "8005550101"), vendor(2, "Old Vendor", "8005550102", archived=True)]
    return data


def run(tmp_path, data, **settings):
    store = DirectoryStore(tmp_path / "directory.sqlite3")
    adapter = StubV1Adapter(data)
    report = sync(adapter, store, SyncSettings(**settings))
    return report, store.open(), adapter


def test_contacts_locations_and_vendors_with_office_and_mobile(tmp_path):
    report, directory, _ = run(tmp_path, small_dataset())
    john = directory.find("+12025550123")
    assert (john.kind, john.name, john.client_id, john.client_name, john.number_kind) == \
        ("contact", "John Smith", 1, "Acme Corp", "office")
    assert directory.find("+12025550199").number_kind == "mobile"
    hq = directory.find("+12025550100")
    assert (hq.kind, hq.name, hq.client_name) == ("location", "Acme HQ", "Acme Corp")
    att = directory.find("+18005550101")
    assert (att.kind, att.name, att.client_id, att.client_name) == ("vendor", "AT&T", None, "")
    assert report.rows == {"contact": 7, "location": 2, "vendor": 1, "client": 0}
    assert report.unparsable == 1 and directory.find_all("123") and not directory.find_all("+1123")


def test_country_code_columns_give_e164(tmp_path):
    _, directory, _ = run(tmp_path, small_dataset())
    assert directory.find("+49301234567").name == "Jürgen Müller"
    assert directory.find("+491701234567").number_kind == "mobile"
    assert directory.find("+442079460000").name == "UK Desk"
    assert directory.find("+442079460001").name == "UK Desk No Trunk"
    assert directory.find("+49301234500").name == "Berlin Office"


def test_default_region_reads_numbers_without_country_code(tmp_path):
    data = empty_dataset()
    data["clients"] = [client(1, "Berlin")]
    data["contacts"] = [contact(1, 1, "Anna", phone="0301234567"), contact(2, 1, "Ben", phone="301234568")]
    _, directory, _ = run(tmp_path, data, default_region="DE")
    assert directory.find("+49301234567").name == "Anna"
    assert directory.find("+49301234568").name == "Ben"


def test_archived_rows_are_left_out_unless_asked_for(tmp_path):
    report, directory, _ = run(tmp_path, small_dataset())
    assert directory.find("+12025550124") is None  # archived contact
    assert directory.find("+12025550125") is None  # contact of an archived client
    assert directory.find("+18005550102") is None  # archived vendor
    assert report.skipped_archived == 3
    report, directory, _ = run(tmp_path, small_dataset(), include_archived=True)
    assert directory.find("+12025550124").archived and directory.find("+12025550125").archived
    assert report.skipped_archived == 0


def test_paging_reads_every_row_with_large_pages(tmp_path):
    data = build_dataset(contacts=1234, locations=10, vendors=5)
    report, directory, adapter = run(tmp_path, data, page_size=500)
    contact_pages = [params for module, params in adapter.requests if module == "contacts"]
    assert [p["offset"] for p in contact_pages] == [0, 500, 1000]
    assert all(p["limit"] == 500 for p in contact_pages)
    assert directory.find("+12125001233").name == "Generated Person 01233"
    assert report.rows["contact"] >= 1234


def test_an_exact_multiple_of_the_page_size_ends_on_the_empty_page(tmp_path):
    data = empty_dataset()
    data["clients"] = [client(1, "Acme")]
    data["contacts"] = [contact(n, 1, "P%d" % n, phone="2125%06d" % n) for n in range(1, 11)]
    report, directory, adapter = run(tmp_path, data, page_size=5)
    assert [p["offset"] for m, p in adapter.requests if m == "contacts"] == [0, 5, 10]
    assert report.rows["contact"] == 10


def test_too_many_rows_fail_instead_of_truncating(tmp_path):
    data = build_dataset(contacts=60, locations=0, vendors=0, base=empty_dataset())
    with pytest.raises(ITFlowResponseError, match="more than 50 contacts"):
        run(tmp_path, data, page_size=10, max_rows=50)


def test_a_sync_failing_half_way_leaves_the_previous_directory(tmp_path):
    store = DirectoryStore(tmp_path / "directory.sqlite3")
    sync(StubV1Adapter(small_dataset()), store, SyncSettings())
    directory = store.open()
    before = directory.info().version
    data = build_dataset(contacts=1200)
    with pytest.raises(ITFlowUnavailable):
        sync(StubV1Adapter(data, fail_on="contacts", fail_after_pages=1), store, SyncSettings(page_size=500))
    assert directory.find("+12025550123").name == "John Smith"
    assert directory.find("+12125000000") is None  # nothing of the failed sync
    assert directory.info().version == before
    assert [p.name for p in tmp_path.iterdir()] == ["directory.sqlite3"]


def test_a_source_that_cannot_list_numbers_is_refused_and_the_old_directory_stays(tmp_path):
    class NoListings(ITFlowAdapter):
        generation = "another PSA"

    store = DirectoryStore(tmp_path / "d.sqlite3")
    sync(StubV1Adapter(small_dataset()), store, SyncSettings())
    before = store.path.read_bytes()
    with pytest.raises(ITFlowNotSupported, match="cannot list phone numbers"):
        sync(NoListings(http=None), store, SyncSettings())
    assert store.path.read_bytes() == before


def test_report_line_and_metadata(tmp_path):
    report, directory, _ = run(tmp_path, small_dataset())
    assert "10 numbers from the v1 API" in report.line()
    assert "1 unparsable" in report.line() and "3 archived left out" in report.line()
    info = directory.info()
    assert info.rows == report.rows and info.unparsable == 1 and info.duration >= 0
    assert info.extra["default_region"] == "US" and abs(info.synced_at - time.time()) < 60
