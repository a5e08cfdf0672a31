"""Which numbers are looked up, and the forms ITFlow may store them in."""

import pytest

from itflow_bridge.services.numbers import candidate_numbers, lookup_number


@pytest.mark.parametrize(
    "raw", ["", None, "anonymous", "Anonymous", "unknown", "PRIVATE", "withheld", "restricted",
            "12ab3456", "555*1234", "1234", "0000000", "+", "1" * 30, "sip:555@x", "s"],
)
def test_numbers_never_sent_to_itflow(raw):
    assert lookup_number(raw, 5) is None


@pytest.mark.parametrize(
    "raw, cleaned",
    [("+15551234567", "+15551234567"), ("555-123-4567", "5551234567"), ("(555) 123-4567", "5551234567"),
     (" 01632 960123 ", "01632960123"), ("5551234", "5551234")],
)
def test_numbers_are_cleaned_to_digits(raw, cleaned):
    assert lookup_number(raw, 5) == cleaned


@pytest.mark.parametrize(
    "number, region, expected",
    [
        ("+15551234567", "US", ["5551234567", "15551234567"]),
        ("5551234567", "US", ["5551234567", "15551234567"]),
        ("+441632960123", "US", ["1632960123", "01632960123", "441632960123"]),
        ("441632960123", "US", ["1632960123", "01632960123", "441632960123"]),  # trunk dropped the '+'
        ("011441632960123", "US", ["1632960123", "01632960123", "441632960123", "011441632960123"]),
        ("01632960123", "GB", ["1632960123", "01632960123", "441632960123"]),
        ("+4930123456", "US", ["30123456", "030123456", "4930123456"]),
        ("+390612345678", "US", ["0612345678", "390612345678"]),  # Italy keeps its leading 0
    ],
)
def test_candidate_forms_national_first(number, region, expected):
    assert candidate_numbers(number, region) == expected


def test_candidates_are_bounded_and_never_zero():
    for number in ("+15551234567", "4930123456", "011441632960123", "0012125550100"):
        forms = candidate_numbers(number, "US")
        assert 1 <= len(forms) <= 4
        assert all(f.isdigit() and int(f) != 0 and len(f) <= 18 for f in forms)
