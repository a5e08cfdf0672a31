"""Numbers with no E.164 reading: kept as their digits, found by the digit forms ITFlow finds them by."""

import sqlite3

import pytest

from itflow_bridge.directory.normalise import to_e164
from itflow_bridge.storage.directory_file import DIGITS_AS_NUMBERS, DirectoryEntry, DirectoryStore


@pytest.mark.parametrize("digits, region", [
    ("0301234567", "US"),  # German, stored nationally: no NANP number starts with 0
    ("301234567", "US"),  # the same without its trunk 0: too short for the US
    ("01632960123", "US"),
])
def test_a_number_with_no_valid_reading_is_kept_as_its_digits(digits, region):
    assert to_e164(digits, "", region) == (digits, False)


@pytest.mark.parametrize("digits, expected", [
    ("5551234567", "+15551234567"),  # fictional, but shaped as NANP numbers are
    ("2125550100", "+12125550100"),  # valid
    ("4930123456", "+4930123456"),  # valid only as international, missing its +
])
def test_a_number_shaped_as_the_regions_numbers_keeps_its_e164_reading(digits, expected):
    assert to_e164(digits, "", "US") == (expected, True)


def digits_entry(number, name, kind="contact", number_kind="office"):
    return DirectoryEntry(kind=kind, name=name, number=number, number_kind=number_kind, digits=number, e164=False)


def write(tmp_path, entries, digits_as_numbers):
    store = DirectoryStore(tmp_path / "d.sqlite3")
    with store.writer() as writer:
        writer.add(entries)
        writer.commit(duration=0.01, generation="legacy" if digits_as_numbers else "v1",
                      extra={DIGITS_AS_NUMBERS: "1" if digits_as_numbers else "0"})
    return store


def test_an_api_comparing_whole_numbers_finds_a_digits_row_whatever_its_leading_zeros(tmp_path):
    directory = write(tmp_path, [digits_entry("0301234567", "Dieter Berlin")], digits_as_numbers=True).open()
    for asked in ("0301234567", "301234567", "00301234567"):
        match = directory.find_caller(asked)
        assert match is not None and match.name == "Dieter Berlin", asked
        assert match.matched_number == asked  # what ITFlow was asked for, as ITFlow reports it
    assert directory.find_caller("3012345670") is None
    assert directory.find_caller("+10301234567") is None


def test_an_api_comparing_digits_as_they_are_finds_a_digits_row_only_so(tmp_path):
    directory = write(tmp_path, [digits_entry("0301234567", "Dieter Berlin")], digits_as_numbers=False).open()
    assert directory.find_caller("0301234567").name == "Dieter Berlin"
    assert directory.find_caller("301234567") is None


def test_rows_of_one_value_answer_by_itflows_order_and_the_book_agrees(tmp_path):
    store = write(tmp_path, [digits_entry("0301234567", "Vera Vendor", kind="vendor"),
                             digits_entry("301234567", "Carl Contact")], digits_as_numbers=True)
    directory = store.open()
    assert directory.find_caller("0301234567").name == "Carl Contact"  # a contact comes before a vendor
    assert {number: match.name for number, match in directory.callers()} == {
        "0301234567": "Carl Contact", "301234567": "Carl Contact"}


def test_the_digits_rows_are_found_through_an_index(tmp_path):
    store = write(tmp_path, [digits_entry("0301234567", "Dieter Berlin")], digits_as_numbers=True)
    db = sqlite3.connect(str(store.path))
    try:
        plan = " ".join(row[-1] for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM entries WHERE e164 = 0 AND ltrim(number, '0') = ? ORDER BY rank "
            "LIMIT 1", ("301234567",)))
    finally:
        db.close()
    assert "entries_by_digits_value" in plan
