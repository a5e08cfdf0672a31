"""``[directory] dial_prefix``: what the phone dials is a number it can dial, never a ``+`` after the prefix."""

import xml.etree.ElementTree as ET

import pytest

from itflow_bridge.directory.normalise import dialable
from itflow_bridge.directory.phonebook import PhonebookOptions, render
from itflow_bridge.storage.directory_file import DirectoryEntry


@pytest.mark.parametrize("number_format", ["e164", "national"])
@pytest.mark.parametrize("number, region, prefix, expected", [
    # the PBX's own country: the prefix, then the national form
    ("+15552220000", "US", "9", "95552220000"),
    ("+49301234567", "DE", "0", "00301234567"),
    # abroad: the prefix, the region's international dialling prefix, country code and number
    ("+4930123456", "US", "9", "90114930123456"),
    ("+442079460000", "DE", "0", "000442079460000"),
    ("+15552220000", "GB", "9", "90015552220000"),
])
def test_with_a_dial_prefix_every_number_is_digits_the_phone_can_dial(number_format, number, region, prefix,
                                                                      expected):
    assert dialable(number, True, number_format, region, prefix) == expected


@pytest.mark.parametrize("number, number_format, region, expected", [
    ("+15552220000", "e164", "US", "+15552220000"),
    ("+15552220000", "national", "US", "5552220000"),
    ("+4930123456", "national", "US", "+4930123456"),
])
def test_without_a_dial_prefix_numbers_are_as_before(number, number_format, region, expected):
    assert dialable(number, True, number_format, region) == expected


def test_a_number_kept_as_digits_is_dialled_after_the_prefix_as_stored():
    assert dialable("0301234567", False, "e164", "US", "9") == "90301234567"


def test_the_phonebooks_hold_no_plus_after_a_dial_prefix():
    entries = [DirectoryEntry(kind="location", name="Acme HQ", number="+15552220000", digits="5552220000"),
               DirectoryEntry(kind="contact", name="Jürgen Müller", number="+4930123456", digits="4930123456")]
    root = ET.fromstring(render(entries, "cisco", PhonebookOptions(dial_prefix="9", default_region="US")))
    assert sorted(entry.findtext("Telephone") for entry in root.iter("DirectoryEntry")) == [
        "90114930123456", "95552220000"]
