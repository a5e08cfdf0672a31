"""Parsing the legacy /api.php bodies exactly as real ITFlow sends them (facts file)."""

from decimal import Decimal

import pytest

from itflow_bridge.core.errors import ITFlowResponseError
from itflow_bridge.itflow.legacy import (
    parse_balance_body,
    parse_cid_body,
    parse_contact_emails,
    parse_contact_numbers,
    parse_phonebook,
)

FATAL = (
    "<br />\n<b>Fatal error</b>:  Uncaught mysqli_sql_exception: Table 'itflow.alerts' doesn't exist in "
    "/var/www/html/api.php:48\nStack trace:\n#0 /var/www/html/api.php(48): mysqli_query()\n#1 {main}\n"
    "  thrown in <b>/var/www/html/api.php</b> on line <b>48</b><br />\n"
)
WARNING = (
    "<br />\n<b>Warning</b>:  Trying to access array offset on value of type null in "
    "<b>/var/www/html/api.php</b> on line <b>45</b><br />\n"
)


def test_hit():
    assert parse_cid_body("John Smith - 5551234567", "5551234567") == "John Smith"


def test_miss_is_a_body_starting_with_a_space():
    assert parse_cid_body(" - 5550009999", "5550009999") is None


def test_name_containing_the_separator_splits_on_the_last_one():
    body = "O'Brien & Sons - Plumbing - 5551112222"
    assert parse_cid_body(body, "5551112222") == "O'Brien & Sons - Plumbing"


def test_echo_is_intval_so_leading_zeros_vanish():
    assert parse_cid_body("Mary O'Brien - 1632960123", "01632960123") == "Mary O'Brien"


def test_fatal_error_block_after_the_name_is_ignored():
    assert parse_cid_body("John Smith - 5551234567" + FATAL, "5551234567") == "John Smith"


def test_warning_before_a_miss_is_ignored():
    assert parse_cid_body(WARNING + " - 5550009999", "5550009999") is None


def test_a_body_that_is_not_an_answer_raises():
    for body in ("", "<html>login</html>", "\x00\xffgarbage", "John Smith - 123"):
        with pytest.raises(ITFlowResponseError):
            parse_cid_body(body, "5551234567")


@pytest.mark.parametrize(
    "body, amount",
    [("1700", "1700.00"), ("1150.75", "1150.75"), ("0", "0.00"), ("-25.5", "-25.50"),
     ("1000000.01", "1000000.01"), ("1.0E+15", "1000000000000000.00"), (WARNING + "12.5", "12.50")],
)
def test_balance_bodies_are_decimals(body, amount):
    value = parse_balance_body(body)
    assert isinstance(value, Decimal)
    assert value == Decimal(amount)


@pytest.mark.parametrize("body", ["", "abc", "12,50", "1 700", "<b>x</b>"])
def test_balance_garbage_raises(body):
    with pytest.raises(ITFlowResponseError):
        parse_balance_body(body)


def test_phonebook_tolerates_unescaped_ampersand():
    body = (
        '<?xml version="1.0" encoding="utf-8"?><AddressBook>\n        <Contact>\n'
        "            <LastName>John Smith</LastName>\n            <Phone>\n"
        "                <phonenumber>5551234567</phonenumber>\n            </Phone>\n"
        "            <Groups>\n                <groupid>0</groupid>\n            </Groups>\n"
        "        </Contact>\n                <Contact>\n            <LastName>AT&T</LastName>\n"
        "            <Phone>\n                <phonenumber>5558880000</phonenumber>\n            </Phone>\n"
        "            <Groups>\n                <groupid>1</groupid>\n            </Groups>\n        </Contact>\n"
        "\n        </AddressBook>"
    )
    entries = parse_phonebook(body)
    assert [(e.name, e.number, e.group) for e in entries] == [
        ("John Smith", "5551234567", "client"),
        ("AT&T", "5558880000", "vendor"),
    ]


def test_contact_emails_new_and_old_formats():
    new = parse_contact_emails("Acme Corp - John Smith - john@acme.example<br>O'Brien - X - Y - Mary - m@o.example<br>")
    assert (new[0].client_name, new[0].contact_name, new[0].email) == ("Acme Corp", "John Smith", "john@acme.example")
    assert (new[1].client_name, new[1].contact_name) == ("O'Brien - X - Y", "Mary")
    old = parse_contact_emails("Acme Corp - john@acme.example<br>")
    assert (old[0].client_name, old[0].contact_name, old[0].email) == ("Acme Corp", "", "john@acme.example")


def test_contact_numbers():
    rows = parse_contact_numbers("Acme Corp - John Smith - 5551234567 - <br>")
    assert rows == [{"client_name": "Acme Corp", "contact_name": "John Smith", "phone": "5551234567", "mobile": ""}]
