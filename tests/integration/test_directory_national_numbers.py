"""Numbers legacy ITFlow keeps without a country code: named from the directory exactly as ITFlow names them.

Legacy ITFlow has no country-code column, so a German office stored as
``0301234567`` on a PBX whose ``default_region`` is US has no reading as a
number of any country; ITFlow itself still names the caller, comparing the
digits as whole numbers (``intval``).  With ITFlow down the directory must
name the same callers with the same answer, and the phonebooks must show the
number as stored, never a made-up ``+1`` reading.
"""

import xml.etree.ElementTree as ET

import pytest

from directory_data import build_dataset, client, contact
import fake_writes
from faulty_itflow import FaultyITFlow
from itflow_bridge.app import Bridge
from itflow_bridge.core.config import load_config
from itflow_bridge.directory.phonebook import PhonebookOptions, render
from itflow_bridge.directory.service import store_for
from itflow_bridge.directory.sync import SyncSettings, sync
from itflow_bridge.services.lookup import FOUND

BERLIN_OFFICE = "0301234567"
# The caller as a trunk may send it: E.164, nationally as stored, without the trunk 0.
CALLERS = ("+49301234567", "0301234567", "301234567")


def bridge_for(fake, folder, mode):
    """A bridge of the default configuration (``default_region`` US) with its own cache in ``folder``."""
    folder.mkdir()
    conf = folder / "bridge.conf"
    conf.write_text("", encoding="utf-8")
    return Bridge(load_config(env={"ITFLOW_BRIDGE_CONFIG": str(conf), "ITFLOW_URL": fake.url,
                                   "ITFLOW_API_KEY": fake.api_key, "ITFLOW_API_MODE": mode,
                                   "ITFLOW_BRIDGE_CACHE_DIR": str(folder / "cache")}))


def berlin_dataset():
    data = build_dataset(contacts=0, locations=0, vendors=0, clients=0)
    client_id = max(int(row["client_id"]) for row in data["clients"]) + 1
    contact_id = max(int(row["contact_id"]) for row in data["contacts"]) + 1
    data["clients"].append(client(client_id, "Berlin Office GmbH"))
    # primary: the contacts legacy lists
    data["contacts"].append(contact(contact_id, client_id, "Dieter Berlin", phone=BERLIN_OFFICE, primary=True))
    return data


@pytest.mark.parametrize("generation", ["legacy", "v1"])
def test_a_number_without_country_code_is_named_from_the_directory_as_itflow_names_it(tmp_path, generation):
    with FaultyITFlow(writes=fake_writes, data=berlin_dataset(), generations=(generation,)) as fake:
        asking = bridge_for(fake, tmp_path / "asking", generation)
        try:
            from_itflow = {caller: asking.lookup.lookup(caller) for caller in CALLERS}
        finally:
            asking.close()

        offline = bridge_for(fake, tmp_path / "offline", generation)
        try:
            report = sync(offline.adapter(), store_for(offline.config, generation),
                          SyncSettings.from_config(offline.config))
            assert offline.config.callerid.default_region == "US"
            assert report.unparsable >= 1  # kept as its digits: no +1 reading of it exists
            fake.set_fault("refuse")
            from_directory = {caller: offline.lookup.lookup(caller) for caller in CALLERS}
        finally:
            fake.set_fault(None)
            offline.close()
    named = {caller for caller, result in from_itflow.items() if result.status == FOUND}
    # legacy compares whole numbers (leading zeros ignored); v1 compares the digits as they are
    assert named == (set(CALLERS) if generation == "legacy" else {"+49301234567", "0301234567"})
    for caller in CALLERS:
        if caller in named:
            assert from_directory[caller].source == "directory", caller
            assert from_directory[caller].match == from_itflow[caller].match, caller
        else:
            assert from_directory[caller].status != FOUND, caller


def test_the_phonebook_shows_a_number_without_country_code_as_stored(tmp_path):
    with FaultyITFlow(writes=fake_writes, data=berlin_dataset(), generations=("legacy",)) as fake:
        bridge = bridge_for(fake, tmp_path / "bridge", "legacy")
        try:
            store = store_for(bridge.config, "legacy")
            sync(bridge.adapter(), store, SyncSettings.from_config(bridge.config))
            entries = store.open().entries()
        finally:
            bridge.close()
    for number_format in ("e164", "national"):
        root = ET.fromstring(render(entries, "yealink", PhonebookOptions(number_format=number_format)))
        phones = {unit.get("Name"): unit.get("Phone1") for unit in root.iter("Unit")}
        assert phones["Dieter Berlin"] == BERLIN_OFFICE, number_format
        assert not any(phone.startswith("+10") for phone in phones.values())
