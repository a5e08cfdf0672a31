"""``itflow-bridge sync`` from the fake and from real ITFlow of both generations: the same directory.

The contract dataset (``dataset.py``) synced through each API generation, with
literal expectations on the counts and on numbers stored in every way ITFlow
stores them (national, with the trunk 0, with the country code typed in, in
the country-code column).  And what the directory answers for a synced number
is what ITFlow's own lookup answers (the adapter, live), so a call is named
alike either way.
"""

from __future__ import annotations

import json
from pathlib import Path

from itflow_bridge.directory.service import store_for
from itflow_bridge.directory.sync import SyncSettings, sync

from test_contract import cli, make_bridge

V1_ROWS = {"client": 0, "contact": 69, "location": 4, "vendor": 2}
LEGACY_ROWS = {"client": 0, "contact": 5, "location": 0, "vendor": 2}

# E.164 (or the digits of a number with no E.164 reading) -> (kind, name, client, number kind), JSON API
V1_NUMBERS = {
    "+15551234567": ("contact", "John Smith", "Acme Corp", "office"),       # stored national
    "+15559876543": ("contact", "Jane Doe", "Acme Corp", "mobile"),
    "+15552220000": ("location", "Acme HQ", "Acme Corp", "office"),
    "+4930123456": ("contact", "Jürgen Müller", "Müller GmbH", "office"),  # country code typed in
    "+49301234567": ("contact", "Klaus Weber", "Müller GmbH", "office"),   # 49 + 0301234567 (column)
    "+491511234567": ("contact", "Klaus Weber", "Müller GmbH", "mobile"),
    "+49897654321": ("location", "Müller Lager", "Müller GmbH", "office"),
    "+353214567890": ("contact", "Fiona Byrne", "O'Brien & Sons - Plumbing", "office"),
    "+447700900123": ("contact", "Fiona Byrne", "O'Brien & Sons - Plumbing", "mobile"),
    "01632960123": ("contact", "Mary O'Brien", "O'Brien & Sons - Plumbing", "office"),  # no plausible E.164
    "+15558880000": ("vendor", "AT&T", "", "office"),
}
# The legacy API's phonebook: each client's primary contact, and the vendors.
LEGACY_NUMBERS = {
    "+15551234567": ("contact", "John Smith", "Acme Corp", "office"),
    "+4930123456": ("contact", "Jürgen Müller", "Müller GmbH", "office"),
    "01632960123": ("contact", "Mary O'Brien", "O'Brien & Sons - Plumbing", "office"),
    "+15553330000": ("vendor", "Telco Supplies", "", "office"),
}
# number as the directory has it -> the digits ITFlow's own lookup is asked with
LIVE = {"+15551234567": "5551234567", "+15552220000": "5552220000", "+49301234567": "0301234567",
        "+15558880000": "5558880000", "01632960123": "01632960123"}


def synced(backend, tmp_path: Path, mode: str):
    bridge = make_bridge(backend, tmp_path, mode)
    adapter = bridge.adapter()
    report = sync(adapter, store_for(bridge.config, mode), SyncSettings.from_config(bridge.config))
    return bridge, adapter, report


def check_numbers(directory, numbers) -> None:
    for number, (kind, name, client, number_kind) in numbers.items():
        entry = directory.find(number)
        assert entry is not None, number
        assert (entry.kind, entry.name, entry.client_name, entry.number_kind) == (kind, name, client, number_kind)
        assert entry.e164 == number.startswith("+")


def same_as_itflow(directory, adapter, numbers) -> None:
    for number, digits in numbers.items():
        synced_match, live = directory.find_caller(number), adapter.find_caller(digits)
        assert live is not None, digits
        assert synced_match.to_dict() | {"matched_number": ""} == live.to_dict() | {"matched_number": ""}, number


def test_sync_from_the_json_api(v1, tmp_path) -> None:
    bridge, adapter, report = synced(v1, tmp_path, "v1")
    try:
        assert report.rows == V1_ROWS and report.total == 75
        assert (report.unparsable, report.skipped_archived, report.requests) == (2, 1, 4)
        directory = bridge.directory()
        check_numbers(directory, V1_NUMBERS)
        assert directory.find("+15556660000") is None  # archived contact of an archived client: left out
        assert directory.info().generation == "v1"
        same_as_itflow(directory, adapter, LIVE)
    finally:
        bridge.close()


def test_sync_from_the_legacy_api(legacy_82, tmp_path) -> None:
    bridge, adapter, report = synced(legacy_82, tmp_path, "legacy")
    try:
        assert report.rows == LEGACY_ROWS and report.total == 7
        assert (report.unparsable, report.notes) == (1, ())  # primary_contact_numbers answered: client names
        directory = bridge.directory()
        check_numbers(directory, LEGACY_NUMBERS)
        assert directory.find("+15559876543") is None  # not a primary contact: out of this API's reach
        assert directory.find("+15552220000") is None  # locations too
        # The legacy lookup names the caller and nothing else; so does the directory built from it.
        same_as_itflow(directory, adapter, {"+15551234567": "5551234567", "+15553330000": "5553330000",
                                            "01632960123": "01632960123"})
    finally:
        bridge.close()


def test_sync_command_report(any_backend, tmp_path) -> None:
    generation = any_backend.generation
    out = cli(any_backend, tmp_path, "sync", "--json", mode=generation)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["generation"] == generation
    assert report["rows"] == (V1_ROWS if generation == "v1" else LEGACY_ROWS)
    book = report["answer_book"]
    assert 0 < book["numbers"] <= report["total"] <= book["forms"]
    assert any_backend.key not in out.stdout + out.stderr
