"""Each vendor's phonebook XML, parsed back: well-formed, escaped, grouped, dialable."""

import xml.etree.ElementTree as ET

import pytest

from itflow_bridge.directory.phonebook import FORMATS, PhonebookOptions, groups, render
from itflow_bridge.storage.directory_file import DirectoryEntry

HOSTILE_CLIENT = 'O\'Brien & Sons <"Plumbing">'


def e(kind, name, number, number_kind="office", client="", record_id=None, e164=True):
    return DirectoryEntry(kind=kind, name=name, number=number, number_kind=number_kind, digits=number.lstrip("+"),
                          e164=e164, record_id=record_id, client_name=client, client_id=1 if client else None)


ENTRIES = [
    e("contact", "John Smith", "+12025550123", client="Acme Corp", record_id=1),
    e("contact", "John Smith", "+12025550199", "mobile", client="Acme Corp", record_id=1),
    e("location", "Acme HQ", "+12025550100", client="Acme Corp", record_id=1),
    e("contact", 'Mary "Mo" <O\'Brien>', "+442079460000", client=HOSTILE_CLIENT, record_id=3),
    e("contact", "Jürgen Müller", "+49301234567", client="Müller GmbH", record_id=4),
    e("contact", "Line\r\nBreak\x00 ${X}", "+12025550111", client="Evil Co", record_id=5),
    e("vendor", "AT&T", "+12025550188", record_id=2),
]


def parse(body: bytes) -> ET.Element:
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(body)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_well_formed_and_keeps_names_intact(fmt):
    body = render(ENTRIES, fmt)
    root = parse(body)
    texts = " ".join(list(root.itertext()) + [v for el in root.iter() for v in el.attrib.values()])
    for name in ("AT&T", 'Mary "Mo" <O\'Brien>', "Jürgen Müller", "Line Break ${X}"):
        assert name in texts, (fmt, name)
    assert b"AT&amp;T" in body and b"&lt;O'Brien&gt;" in body  # escaped on the wire
    assert "Jürgen".encode("utf-8") in body  # non-ASCII as declared UTF-8
    assert b"\r" not in body and b"\x00" not in body


def test_yealink_groups_per_client_with_office_and_mobile():
    root = parse(render(ENTRIES, "yealink"))
    assert root.tag == "YealinkIPPhoneBook"
    menus = {menu.get("Name"): menu for menu in root.findall("Menu")}
    assert list(menus) == ["Acme Corp", "Evil Co", "Müller GmbH", HOSTILE_CLIENT, "Vendors"]
    units = {unit.get("Name"): unit for unit in menus["Acme Corp"].findall("Unit")}
    assert units["John Smith"].get("Phone1") == "+12025550123"
    assert units["John Smith"].get("Phone2") == "+12025550199"
    assert units["Acme HQ"].get("Phone1") == "+12025550100"
    assert menus["Vendors"].find("Unit").get("Name") == "AT&T"


def test_grandstream_groups_and_phone_types():
    root = parse(render(ENTRIES, "grandstream"))
    assert root.tag == "AddressBook" and root.findtext("version") == "1"
    group_ids = {g.findtext("name"): g.findtext("id") for g in root.findall("pbgroup")}
    john = next(c for c in root.findall("Contact") if c.findtext("FirstName") == "John Smith")
    assert john.findtext("Group") == group_ids["Acme Corp"]
    phones = [(p.get("type"), p.findtext("phonenumber"), p.findtext("accountindex")) for p in john.findall("Phone")]
    assert phones == [("Work", "+12025550123", "0"), ("Mobile", "+12025550199", "0")]
    assert group_ids[HOSTILE_CLIENT]


def test_cisco_is_flat_with_the_client_in_the_name():
    root = parse(render(ENTRIES, "cisco"))
    assert root.tag == "CiscoIPPhoneDirectory" and root.findtext("Title")
    entries = [(d.findtext("Name"), d.findtext("Telephone")) for d in root.findall("DirectoryEntry")]
    assert ("Acme Corp - John Smith", "+12025550123") in entries
    assert ("Acme Corp - John Smith (mobile)", "+12025550199") in entries
    assert ("AT&T", "+12025550188") in entries


def test_snom_items_have_unique_indexes_and_number_types():
    root = parse(render(ENTRIES, "snom"))
    assert root.tag == "tbook" and root.get("complete") == "true"
    items = root.findall("item")
    assert len({item.get("index") for item in items}) == len(items) == 7
    john = [(i.findtext("number"), i.findtext("number_type")) for i in items
            if i.findtext("name") == "Acme Corp - John Smith"]
    assert john == [("+12025550123", "business"), ("+12025550199", "mobile")]


def test_fanvil_has_telephone_and_mobile_per_entry():
    root = parse(render(ENTRIES, "fanvil"))
    assert root.tag == "FanvilIPPhoneDirectory"
    john = next(d for d in root.findall("DirectoryEntry") if d.findtext("Name") == "Acme Corp - John Smith")
    assert (john.findtext("Telephone"), john.findtext("Mobile")) == ("+12025550123", "+12025550199")


def test_national_numbers_and_dial_prefix():
    options = PhonebookOptions(number_format="national", dial_prefix="9", default_region="US")
    root = parse(render(ENTRIES, "cisco", options))
    numbers = {d.findtext("Name"): d.findtext("Telephone") for d in root.findall("DirectoryEntry")}
    assert numbers["Acme Corp - John Smith"] == "92025550123"
    assert numbers["Müller GmbH - Jürgen Müller"] == "901149301234567"  # abroad: 9, then 011 as dialled from the US


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="yealink"):
        render(ENTRIES, "polycom")


def test_empty_directory_still_renders_valid_xml():
    for fmt in FORMATS:
        parse(render([], fmt))


def test_groups_put_vendors_last_and_merge_numbers_of_one_record():
    book = groups(ENTRIES)
    assert book[-1].name == "Vendors"
    acme = book[0]
    john = next(card for card in acme.cards if card.name == "John Smith")
    assert (john.office, john.mobile) == (["+12025550123"], ["+12025550199"])
