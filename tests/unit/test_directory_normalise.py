"""ITFlow's digits and country-code columns to E.164, and back to what a phone dials."""

import pytest

from itflow_bridge.directory.normalise import dialable, to_e164


@pytest.mark.parametrize("digits, country_code, region, expected", [
    # US: national, with the trunk 1, with the country code column
    ("2025550123", "", "US", "+12025550123"),
    ("12025550123", "", "US", "+12025550123"),
    ("2025550123", "1", "DE", "+12025550123"),
    ("12025550123", "1", "DE", "+12025550123"),
    # UK: with and without the trunk 0, country code column or PBX region
    ("02079460000", "44", "US", "+442079460000"),
    ("2079460000", "44", "US", "+442079460000"),
    ("02079460000", "", "GB", "+442079460000"),
    ("442079460000", "44", "US", "+442079460000"),
    # DE: 030 Berlin with and without the trunk 0; country code typed in too
    ("0301234567", "49", "US", "+49301234567"),
    ("301234567", "49", "US", "+49301234567"),
    ("49301234567", "49", "US", "+49301234567"),
    ("0301234567", "", "DE", "+49301234567"),
    # no country code, PBX in the US, digits that only make sense as international
    ("4930123456", "", "US", "+4930123456"),
    # punctuation typed in older releases
    ("(202) 555-0123", "", "US", "+12025550123"),
    ("+49 30 1234567", "", "US", "+49301234567"),
])
def test_numbers_become_e164(digits, country_code, region, expected):
    assert to_e164(digits, country_code, region) == (expected, True)


@pytest.mark.parametrize("digits", ["123", "0000000", "99999999999999999999"])
def test_unparsable_numbers_stay_digits(digits):
    number, ok = to_e164(digits, "", "US")
    assert not ok and number == digits


def test_empty_is_empty():
    assert to_e164("", "49", "DE") == ("", False)
    assert to_e164(None, None, "US") == ("", False)


def test_an_unknown_country_code_falls_back_to_the_region():
    assert to_e164("2025550123", "999", "US") == ("+12025550123", True)


@pytest.mark.parametrize("number, fmt, region, prefix, expected", [
    ("+49301234567", "e164", "DE", "", "+49301234567"),
    ("+49301234567", "national", "DE", "", "0301234567"),
    ("+49301234567", "national", "DE", "0", "00301234567"),
    ("+12025550123", "national", "US", "9", "92025550123"),
    ("+442079460000", "national", "US", "", "+442079460000"),  # abroad: stays E.164
])
def test_dialable(number, fmt, region, prefix, expected):
    assert dialable(number, True, fmt, region, prefix) == expected


def test_unparsable_numbers_are_dialled_as_stored():
    assert dialable("123", False, "national", "US", "9") == "9123"
