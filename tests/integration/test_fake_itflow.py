"""The fake ITFlow answers exactly as real ITFlow does (the real-ITFlow tier compares the two byte for byte).

Every other test of the bridge trusts this server, so each fact gets a test here,
driven over real HTTP with plain ``requests`` / ``http.client``.  "Fact:" in a
docstring quotes or paraphrases the facts-file line the test covers.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ElementTree
from typing import Dict, Optional

import pytest
import requests

from itflow_bridge.sample.fake_itflow import SAMPLE_API_KEY, FakeITFlow, load_sample_data
from itflow_bridge.sample.php import php_float_str
from polling import PATIENCE

TIMEOUT = 5
V1_MISS = (b'{"success":"False","message":"No resource (for this client and company) '
           b'with the specified parameter(s)."}')
V1_INVALID_KEY = (b'{"success":"False","message":"Authentication failed. '
                  b'API key is invalid or has expired."}')
V1_NOT_TIED = (b'{"success":"False","message":"This API key is not tied to a user and is no '
               b'longer valid. Please recreate it."}')
V1_GET_ONLY = b'{"success":"False","message":"Can only send GET requests to this endpoint."}'
V1_POST_ONLY = b'{"success":"False","message":"Can only send POST requests to this endpoint."}'
HTML_TYPE = "text/html; charset=UTF-8"


def legacy(fake: FakeITFlow, **params: str) -> requests.Response:
    """GET /api.php with the sample key plus ``params``."""
    return requests.get(fake.url + "/api.php", params={"api_key": fake.api_key, **params}, timeout=TIMEOUT)


def v1(fake: FakeITFlow, endpoint: str, **params: str) -> requests.Response:
    """GET /api/v1/<endpoint> with the sample key plus ``params``."""
    return requests.get("%s/api/v1/%s" % (fake.url, endpoint),
                        params={"api_key": fake.api_key, **params}, timeout=TIMEOUT)


def raw_get(fake: FakeITFlow, path_and_query: str, headers: Optional[Dict[str, str]] = None):
    """A GET with exactly ``headers`` (http.client adds no User-Agent); returns (status, body)."""
    host, port = fake.url[len("http://"):].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        connection.request("GET", path_and_query, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def contact_by_name(fake: FakeITFlow, name: str) -> dict:
    return next(contact for contact in fake.data["contacts"] if contact["contact_name"] == name)


# --- legacy /api.php: auth and framing --------------------------------------------


@pytest.mark.parametrize("params", [{}, {"api_key": ""}, {"api_key": "0"}])
def test_legacy_missing_key_is_401_missing(fake_itflow, params):
    """Fact: no or empty key: HTTP 401, body `Missing the API Key.` (PHP empty() also treats "0" as empty)."""
    response = requests.get(fake_itflow.url + "/api.php", params={"cid": "5551234567", **params}, timeout=TIMEOUT)
    assert (response.status_code, response.content) == (401, b"Missing the API Key.")
    assert response.headers["Content-Type"] == HTML_TYPE


def test_legacy_wrong_key_is_401_incorrect(fake_itflow):
    """Fact: wrong or expired key: HTTP 401, body `Incorrect or expired API Key.`"""
    response = requests.get(fake_itflow.url + "/api.php", params={"api_key": "nope", "cid": "1"}, timeout=TIMEOUT)
    assert (response.status_code, response.content) == (401, b"Incorrect or expired API Key.")


def test_legacy_key_sent_by_post_counts_as_missing(fake_itflow):
    """Fact: `api_key` in the query string only (a POSTed key counts as missing)."""
    response = requests.post(fake_itflow.url + "/api.php?cid=5551234567",
                             data={"api_key": fake_itflow.api_key}, timeout=TIMEOUT)
    assert (response.status_code, response.content) == (401, b"Missing the API Key.")


@pytest.mark.parametrize("params", [{}, {"client_id": "1"}])
def test_legacy_no_known_action_is_empty_200(fake_itflow, params):
    """Fact: a valid key with no known action, or `client_id=N` alone: HTTP 200, empty body."""
    response = legacy(fake_itflow, **params)
    assert (response.status_code, response.content) == (200, b"")


def test_legacy_bodies_are_html_without_trailing_newline(fake_itflow):
    """Fact: every body is `text/html; charset=UTF-8`, never JSON, no trailing newline."""
    response = legacy(fake_itflow, account_balance="1")
    assert response.headers["Content-Type"] == HTML_TYPE
    assert not response.content.endswith(b"\n")


def test_legacy_absent_when_only_v1_is_served(fake_itflow_v1):
    """Fact: current ITFlow has only /api/v1/: /api.php is Apache's 404 page."""
    response = legacy(fake_itflow_v1, cid="5551234567")
    assert response.status_code == 404
    assert "<title>404 Not Found</title>" in response.text
    assert response.headers["Content-Type"].startswith("text/html")


# --- legacy cid ---------------------------------------------------------------------


def test_cid_hit_on_modern_php_is_500_with_the_body(fake_itflow):
    """Fact: on PHP 8.1 and newer every `cid` request answers HTTP 500 with the correct body."""
    response = legacy(fake_itflow, cid="5551234567")
    assert (response.status_code, response.content) == (500, b"John Smith - 5551234567")


def test_cid_hit_on_php_80_is_clean_200(fake_itflow):
    """Fact: with PHP 8.0 and older it is a clean 200."""
    fake_itflow.php_version = "8.0"
    response = legacy(fake_itflow, cid="5551234567")
    assert (response.status_code, response.content) == (200, b"John Smith - 5551234567")


def test_cid_miss_has_empty_name_part(fake_itflow):
    """Fact: no match: the name part is empty, so the body starts with a space."""
    response = legacy(fake_itflow, cid="5550009999")
    assert response.content == b" - 5550009999"


@pytest.mark.parametrize("number, name", [
    ("5551234567", "John Smith"),      # contact phone
    ("5559876543", "Jane Doe"),        # contact mobile
    ("5552220000", "Acme HQ"),         # location phone
    ("5553330000", "Telco Supplies"),  # vendor phone
    ("5556660000", "Old Timer"),       # archived contact
])
def test_cid_searches_contacts_locations_vendors(fake_itflow, number, name):
    """Fact: it searches contact phone, contact mobile, location phone and vendor phone (archived included)."""
    assert legacy(fake_itflow, cid=number).text == "%s - %s" % (name, number)


def test_cid_first_match_wins_in_union_order(fake_itflow):
    """Fact: first match wins: contacts before locations before vendors."""
    location = dict(fake_itflow.data["locations"][0], location_id="90", location_name="Shadow Site",
                    location_phone="5559876543")
    vendor = dict(fake_itflow.data["vendors"][0], vendor_id="90", vendor_name="Shadow Vendor",
                  vendor_phone="5552220000")
    fake_itflow.data["locations"].append(location)
    fake_itflow.data["vendors"].append(vendor)
    assert legacy(fake_itflow, cid="5559876543").text == "Jane Doe - 5559876543"
    assert legacy(fake_itflow, cid="5552220000").text == "Acme HQ - 5552220000"


def test_cid_name_may_itself_contain_the_separator(fake_itflow):
    """Fact: names can contain ` - ` (e.g. a location name), so split on the LAST ` - `."""
    body = legacy(fake_itflow, cid="1632960999").text
    assert body == "O'Brien & Sons - Yard - 1632960999"
    assert body.rsplit(" - ", 1) == ["O'Brien & Sons - Yard", "1632960999"]


@pytest.mark.parametrize("sent", ["01632960123", "1632960123", "001632960123"])
def test_cid_leading_zeros_are_ignored_on_both_sides(fake_itflow, sent):
    """Fact: the comparison is numeric: leading zeros are ignored, the echo is intval()."""
    assert contact_by_name(fake_itflow, "Mary O'Brien")["contact_phone"] == "01632960123"
    assert legacy(fake_itflow, cid=sent).text == "Mary O'Brien - 1632960123"


def test_cid_with_dashes_reads_only_the_leading_digits(fake_itflow):
    """Fact: `555-123-4567` is read as `555`."""
    assert legacy(fake_itflow, cid="555-123-4567").text == " - 555"


@pytest.mark.parametrize("sent", ["anonymous", "unknown", "", "(555) 123-4567", "0"])
def test_cid_non_numbers_read_as_zero_and_match_an_empty_phone(fake_itflow, sent):
    """Fact: `(555) 123-4567`, `anonymous`, `unknown` and empty read as 0 and MATCH contacts with an empty phone.

    The first contact (by id) with an empty phone is Jane Doe (phone "", mobile set).
    """
    assert contact_by_name(fake_itflow, "Jane Doe")["contact_phone"] == ""
    assert legacy(fake_itflow, cid=sent).text == "Jane Doe - 0"


def test_cid_zero_reaches_the_no_phone_person_once_jane_is_gone(fake_itflow):
    """Fact: cid 0 matches every contact whose phone or mobile is empty (phone searched before mobile)."""
    fake_itflow.data["contacts"] = [contact for contact in fake_itflow.data["contacts"]
                                    if contact["contact_name"] != "Jane Doe"]
    assert legacy(fake_itflow, cid="anonymous").text == "No Phone Person - 0"


def test_cid_with_display_errors_appends_the_fatal_block_and_answers_200(fake_itflow):
    """Fact: with display_errors=On it is HTTP 200 with an HTML "Fatal error" block after the name."""
    fake_itflow.display_errors = True
    response = legacy(fake_itflow, cid="5551234567")
    assert response.status_code == 200
    assert response.text.startswith("John Smith - 5551234567<br />\n<b>Fatal error</b>: ")
    assert "mysqli_sql_exception" in response.text


def test_cid_miss_with_display_errors_prints_the_warning_first(fake_itflow):
    """Fact: a miss can carry `<br />\\n<b>Warning</b>:  Trying to access ... line <b>45</b><br />\\n - N`."""
    fake_itflow.php_version = "8.0"
    fake_itflow.display_errors = True
    response = legacy(fake_itflow, cid="5550009999")
    assert response.status_code == 200
    assert response.text.startswith(
        "<br />\n<b>Warning</b>:  Trying to access array offset on value of type null in ")
    assert response.text.endswith(" on line <b>45</b><br />\n - 5550009999")


def test_cid_miss_with_display_errors_on_modern_php_has_warning_and_fatal(fake_itflow):
    """Facts combined: the warning precedes ` - N`, the fatal block (every cid on 8.1+) follows it."""
    fake_itflow.display_errors = True
    text = legacy(fake_itflow, cid="5550009999").text
    warning, rest = text.split(" - 5550009999", 1)
    assert warning.startswith("<br />\n<b>Warning</b>:")
    assert rest.startswith("<br />\n<b>Fatal error</b>:")


def test_missing_user_agent_warning_only_with_display_errors(fake_itflow):
    """Fact: a request without a User-Agent logs (or, with display_errors, prints) a PHP warning."""
    path = "/api.php?api_key=%s&account_balance=1" % fake_itflow.api_key
    assert raw_get(fake_itflow, path) == (200, b"1700.5")
    fake_itflow.display_errors = True
    status, body = raw_get(fake_itflow, path)
    assert status == 200
    assert body.startswith(b'<br />\n<b>Warning</b>:  Undefined array key "HTTP_USER_AGENT"')
    assert body.endswith(b"<br />\n1700.5")
    assert raw_get(fake_itflow, path, {"User-Agent": "itflow-bridge"}) == (200, b"1700.5")


# --- legacy balance, phonebook, lists, assets ----------------------------------------


@pytest.mark.parametrize("client_id, balance", [
    ("1", "1700.5"),        # Paid+Sent+Viewed minus the payment; Draft and Cancelled excluded
    ("2", "600"),           # part payment, float printed without ".0"
    ("3", "1150.75"),
    ("4", "-25.5"),         # overpaid: a credit
    ("7", "12.5"),
    ("8", "1000000.01"),
    ("5", "0"),             # no invoices at all
    ("999", "0"),           # client that does not exist
    ("abc", "0"),           # intval("abc")
])
def test_account_balance_prints_a_bare_php_number(fake_itflow, client_id, balance):
    """Fact: `account_balance=CLIENT_ID`: a bare PHP number; an unknown client answers `0`."""
    response = legacy(fake_itflow, account_balance=client_id)
    assert (response.status_code, response.text) == (200, balance)


def test_account_balance_follows_the_live_data(fake_itflow):
    """Fact: balance = invoice amounts not Draft/Cancelled minus payments (computed, not canned)."""
    payment = dict(fake_itflow.data["payments"][0], payment_id="90", payment_amount="0.25",
                   payment_invoice_id="2")
    fake_itflow.data["payments"].append(payment)
    assert legacy(fake_itflow, account_balance="1").text == "1700.25"


@pytest.mark.parametrize("value, printed", [
    (1e15, "1.0E+15"), (0.00001, "1.0E-5"), (0.1 + 0.2, "0.3"), (1234567.891, "1234567.891"),
    (123456789012345.6, "1.2345678901235E+14"), (-0.5, "-0.5"),
])
def test_php_float_printing_uses_14_significant_digits(value, printed):
    """Fact: up to 14 significant digits, no currency, no thousands separators (PHP precision=14)."""
    assert php_float_str(value) == printed


def test_phonebook_is_unescaped_yealink_xml(fake_itflow):
    """Fact: `phonebook`: `text/xml;charset=UTF-8`, primary contacts (groupid 0) and vendors (groupid 1), unescaped."""
    response = legacy(fake_itflow, phonebook="")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml;charset=UTF-8"
    body = response.text
    assert body.startswith('<?xml version="1.0" encoding="utf-8"?><AddressBook>        <Contact>\n'
                           "            <LastName>John Smith</LastName>\n            <Phone>\n"
                           "                <phonenumber>5551234567</phonenumber>\n            </Phone>\n"
                           "            <Groups>\n                <groupid>0</groupid>\n")
    assert ("<LastName>AT&T</LastName>\n            <Phone>\n                <phonenumber>5558880000"
            "</phonenumber>\n            </Phone>\n            <Groups>\n                <groupid>1</groupid>"
            ) in body
    assert body.endswith("        </Contact>\n\n        </AddressBook>")
    assert "<LastName></LastName>" in body  # Big Client Inc has no primary contact
    with pytest.raises(ElementTree.ParseError):
        ElementTree.fromstring(response.content)


def test_phonebook_is_well_formed_xml_apart_from_the_names(fake_itflow):
    """The only malformation is the unescaped `&`: with it gone the document parses."""
    for vendor in fake_itflow.data["vendors"]:
        vendor["vendor_name"] = vendor["vendor_name"].replace("&", "and")
    for client in fake_itflow.data["clients"]:
        client["client_name"] = client["client_name"].replace("&", "and")
    root = ElementTree.fromstring(legacy(fake_itflow, phonebook="").content)
    entries = [(contact.findtext("LastName"), contact.findtext("Groups/groupid")) for contact in root]
    assert entries[0] == ("John Smith", "0")
    assert entries[-2:] == [("Telco Supplies", "1"), ("ATandT", "1")]
    assert len(entries) == len(fake_itflow.data["clients"]) + len(fake_itflow.data["vendors"])


def test_primary_contact_numbers_and_emails_lines(fake_itflow):
    """Fact: `client - contact - phone - mobile<br>` and `client - contact - email<br>`, one per client."""
    numbers = legacy(fake_itflow, primary_contact_numbers="").text
    assert numbers.startswith("Acme Corp - John Smith - 5551234567 - <br>O'Brien & Sons - Plumbing - ")
    assert "Big Client Inc -  -  - <br>" in numbers  # LEFT JOIN: no primary contact, empty fields
    assert numbers.count("<br>") == len(fake_itflow.data["clients"])
    emails = legacy(fake_itflow, primary_contact_emails="").text
    assert emails.startswith("Acme Corp - John Smith - john.smith@acme.example<br>")


def test_add_asset_answers_and_stores_the_asset(fake_itflow):
    """Fact: `add_asset=NAME&client_id=N&type=&make=&model=&serial=&os=`: body `Asset added!`."""
    response = legacy(fake_itflow, add_asset="PC-01", client_id="3", type="Desktop", make="Dell",
                      model="", serial="SN1", os="Linux")
    assert (response.status_code, response.text) == (200, "Asset added!")
    stored = fake_itflow.data["assets"][-1]
    assert (stored["asset_name"], stored["asset_client_id"], stored["asset_serial"]) == ("PC-01", "3", "SN1")
    listed = v1(fake_itflow, "assets/read.php").json()
    assert listed["data"][-1]["asset_name"] == "PC-01"


# --- v1 auth and framing ------------------------------------------------------------------


def test_v1_missing_key_is_401_with_empty_body(fake_itflow):
    """Fact: missing key: HTTP 401 with an EMPTY body."""
    response = requests.get(fake_itflow.url + "/api/v1/clients/read.php", timeout=TIMEOUT)
    assert (response.status_code, response.content) == (401, b"")


def test_v1_wrong_key_is_401_json(fake_itflow):
    """Fact: wrong/expired key: HTTP 401 with the exact JSON body."""
    response = requests.get(fake_itflow.url + "/api/v1/clients/read.php", params={"api_key": "nope"},
                            timeout=TIMEOUT)
    assert (response.status_code, response.content) == (401, V1_INVALID_KEY)
    assert response.headers["Content-Type"] == "application/json"


def test_v1_key_may_come_in_a_json_body(fake_itflow):
    """Fact: `api_key` in the query string (or in a JSON body)."""
    response = requests.get(fake_itflow.url + "/api/v1/contacts/read.php?contact_id=1",
                            json={"api_key": fake_itflow.api_key}, timeout=TIMEOUT)
    assert response.json()["data"][0]["contact_name"] == "John Smith"


def test_v1_post_to_a_read_endpoint_is_405(fake_itflow):
    """Fact: POST to a read endpoint: 405 with the exact JSON body."""
    response = requests.post(fake_itflow.url + "/api/v1/contacts/read.php",
                             params={"api_key": fake_itflow.api_key}, timeout=TIMEOUT)
    assert (response.status_code, response.content) == (405, V1_GET_ONLY)


def test_v1_other_methods_get_php_var_dump(fake_itflow):
    """validate_api_key.php declines methods other than GET/POST with a var_dump() of the method."""
    response = requests.put(fake_itflow.url + "/api/v1/contacts/read.php",
                            params={"api_key": fake_itflow.api_key}, timeout=TIMEOUT)
    assert (response.status_code, response.content) == (405, b'string(3) "PUT"\n')


def test_v1_write_endpoints_exist_but_want_post(fake_itflow):
    """Create/update endpoints exist (not 404) and refuse GET."""
    response = v1(fake_itflow, "contacts/create.php")
    assert (response.status_code, response.content) == (405, V1_POST_ONLY)


@pytest.mark.parametrize("endpoint", ["nosuchmodule/read.php", "contacts/nosuchfunction.php",
                                      "contacts/read", "contacts/read.php/extra"])
def test_v1_missing_file_is_apache_404(fake_itflow, endpoint):
    """A module/function that does not exist is Apache's HTML 404, not JSON."""
    response = v1(fake_itflow, endpoint)
    assert response.status_code == 404
    assert "<h1>Not Found</h1>" in response.text
    assert response.headers["Content-Type"] == "text/html; charset=iso-8859-1"


def test_v1_absent_when_only_legacy_is_served(fake_itflow_legacy):
    """An ITFlow from before the JSON API has no /api/v1/."""
    assert v1(fake_itflow_legacy, "clients/read.php").status_code == 404
    assert legacy(fake_itflow_legacy, account_balance="1").text == "1700.5"


def test_v1_hit_is_compact_json_with_string_columns(fake_itflow):
    """Fact: `success` is the STRING "True"; every column a string or null; `count` an integer; no trailing newline."""
    response = v1(fake_itflow, "contacts/read.php", contact_phone_or_mobile="5551234567")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.content.startswith(
        b'{"success":"True","count":1,"data":[{"contact_id":"1","contact_name":"John Smith",')
    assert not response.content.endswith(b"\n")
    assert b'": ' not in response.content and b'", ' not in response.content
    payload = response.json()
    assert isinstance(payload["count"], int)
    assert all(value is None or isinstance(value, str) for value in payload["data"][0].values())
    assert payload["data"][0] == contact_by_name(fake_itflow, "John Smith")


def test_v1_escapes_like_php_json_encode(fake_itflow):
    """Fact: non-ASCII is `\\u00fc`-escaped, `/` is `\\/` (astral characters as surrogate pairs)."""
    contact_by_name(fake_itflow, "Jane Doe")["contact_title"] = "IT \U0001F600"
    contacts = v1(fake_itflow, "contacts/read.php").content
    assert b'"contact_name":"J\\u00fcrgen M\\u00fcller"' in contacts
    assert b'"contact_title":"IT \\ud83d\\ude00"' in contacts
    assert b'"contact_name":"Line\\r\\nBreak ${HANGUP} ;x"' in contacts
    clients = v1(fake_itflow, "clients/read.php").content
    assert b'"client_website":"https:\\/\\/acme.example\\/"' in clients
    assert b'"client_name":"Evil \\"Quote\\" \\\\ Co"' in clients
    assert json.loads(clients)["data"][3]["client_name"] == 'Evil "Quote" \\ Co'


# --- v1 contacts/read.php?contact_phone_or_mobile -----------------------------------------


@pytest.mark.parametrize("number, name", [
    ("5551234567", "John Smith"),     # phone
    ("5559876543", "Jane Doe"),       # mobile
    ("01632960123", "Mary O'Brien"),  # exactly as stored, trunk 0 included
    ("5556660000", "Old Timer"),      # archived contacts included
])
def test_v1_phone_or_mobile_exact_hit(fake_itflow, number, name):
    """Fact: exact string match on `contact_phone` or `contact_mobile`, archived contacts included."""
    payload = v1(fake_itflow, "contacts/read.php", contact_phone_or_mobile=number).json()
    assert (payload["count"], payload["data"][0]["contact_name"]) == (1, name)


@pytest.mark.parametrize("number", ["+15551234567", "555-123-4567", "1632960123", "930123456",
                                    "15551234567", "5552220000", "5553330000"])
def test_v1_phone_or_mobile_does_no_normalisation(fake_itflow, number):
    """Fact: `+1...`, dashes, a missing leading 0 or country code all miss; only contacts are searched."""
    response = v1(fake_itflow, "contacts/read.php", contact_phone_or_mobile=number)
    assert (response.status_code, response.content) == (200, V1_MISS)


def test_v1_phone_or_mobile_empty_value_matches_an_empty_field(fake_itflow):
    """Fact: an EMPTY value matches contacts with an empty field: never send one."""
    found = v1(fake_itflow, "contacts/read.php", contact_phone_or_mobile="").json()["data"][0]
    assert "" in (found["contact_phone"], found["contact_mobile"])


def test_v1_phone_or_mobile_returns_at_most_one_row(fake_itflow):
    """Fact: at most one row (the first by id)."""
    twin = dict(contact_by_name(fake_itflow, "John Smith"), contact_id="500", contact_name="John Twin")
    fake_itflow.data["contacts"].append(twin)
    payload = v1(fake_itflow, "contacts/read.php", contact_phone_or_mobile="5551234567").json()
    assert payload["count"] == 1
    assert [row["contact_name"] for row in payload["data"]] == ["John Smith"]


# --- v1 paging, client_id, other reads ------------------------------------------------------


def test_v1_paging_default_limit_and_offset(fake_itflow):
    """Fact: `limit` (default 50) and `offset`; page until a short or "False" page."""
    total = len(fake_itflow.data["contacts"])
    assert total > 50
    first = v1(fake_itflow, "contacts/read.php").json()
    second = v1(fake_itflow, "contacts/read.php", offset="50").json()
    assert first["count"] == 50 and second["count"] == total - 50
    ids = [row["contact_id"] for row in first["data"] + second["data"]]
    assert ids == sorted((c["contact_id"] for c in fake_itflow.data["contacts"]), key=int)
    small = v1(fake_itflow, "contacts/read.php", limit="5", offset="10").json()
    assert [row["contact_id"] for row in small["data"]] == ids[10:15]
    assert v1(fake_itflow, "contacts/read.php", offset=str(total)).content == V1_MISS


def test_v1_limit_zero_is_the_miss_answer(fake_itflow):
    """Fact: `limit=0` gives the miss answer."""
    response = v1(fake_itflow, "clients/read.php", limit="0")
    assert (response.status_code, response.content) == (200, V1_MISS)


@pytest.mark.parametrize("params", [{"limit": "-1"}, {"offset": "-1"}])
def test_v1_negative_paging_is_500_empty(fake_itflow, params):
    """Fact: `limit=-1` gives HTTP 500 with an empty body."""
    response = v1(fake_itflow, "contacts/read.php", **params)
    assert (response.status_code, response.content) == (500, b"")


def test_v1_client_id_is_ignored_by_reads(fake_itflow):
    """Fact: `client_id` is IGNORED by read endpoints; `clients/read.php?client_id=N` still returns all."""
    contacts = v1(fake_itflow, "contacts/read.php", client_id="1").json()["data"]
    assert {row["contact_client_id"] for row in contacts} != {"1"}
    clients = v1(fake_itflow, "clients/read.php", client_id="2").json()
    assert clients["count"] == len(fake_itflow.data["clients"])


def test_v1_client_name_filters_exactly(fake_itflow):
    """Fact: `client_name=EXACT` filters by name."""
    payload = v1(fake_itflow, "clients/read.php", client_name="O'Brien & Sons - Plumbing").json()
    assert [(row["client_id"], row["client_currency_code"]) for row in payload["data"]] == [("2", "EUR")]
    assert v1(fake_itflow, "clients/read.php", client_name="O'Brien").content == V1_MISS


def test_v1_contact_by_id(fake_itflow):
    """contacts/read.php?contact_id=N returns that one contact."""
    payload = v1(fake_itflow, "contacts/read.php", contact_id="3").json()
    assert [row["contact_name"] for row in payload["data"]] == ["Mary O'Brien"]
    assert v1(fake_itflow, "contacts/read.php", contact_id="9999").content == V1_MISS


def test_v1_invoices_locations_vendors(fake_itflow):
    """Fact: invoices rows carry string amounts and statuses; locations and vendors have no phone filter."""
    invoices = v1(fake_itflow, "invoices/read.php").json()["data"]
    first = invoices[0]
    assert (first["invoice_amount"], first["invoice_status"], first["invoice_client_id"]) == ("500.00", "Paid", "1")
    assert len(invoices) == len(fake_itflow.data["invoices"])
    locations = v1(fake_itflow, "locations/read.php", location_phone="5552220000").json()
    assert locations["count"] == len(fake_itflow.data["locations"])  # the unknown filter is ignored
    vendors = v1(fake_itflow, "vendors/read.php").json()["data"]
    assert [row["vendor_name"] for row in vendors] == ["Telco Supplies", "AT&T"]


def test_v1_read_modules_without_rows_answer_the_miss(fake_itflow):
    """Read endpoints of tables the sample lacks answer like an empty ITFlow table."""
    response = v1(fake_itflow, "tickets/read.php")
    assert (response.status_code, response.content) == (200, V1_MISS)


def test_v1_string_filters_compare_like_mysql(fake_itflow):
    """utf8mb4_general_ci: case, accents and trailing spaces do not count (checked on real ITFlow)."""
    assert v1(fake_itflow, "clients/read.php", client_name="muller gmbh  ").json()["data"][0]["client_id"] == "3"
    assert v1(fake_itflow, "contacts/read.php", contact_email="MARY@OBRIEN.EXAMPLE").json()["count"] == 1
    found = v1(fake_itflow, "contacts/read.php", contact_phone_or_mobile="5551234567 ").json()
    assert found["data"][0]["contact_name"] == "John Smith"


def test_v1_invoice_items_need_a_filter(fake_itflow):
    response = v1(fake_itflow, "invoice_items/read.php")
    assert (response.status_code, response.content) == (400, (
        b'{"success":"False","message":"A filter is required. Please supply either invoice_id or item_id.",'
        b'"count":0,"data":[]}'))
    post = lambda path, body: requests.post(  # noqa: E731
        "%s/api/v1/%s?api_key=%s" % (fake_itflow.url, path, fake_itflow.api_key), json=body, timeout=TIMEOUT)
    assert post("invoice_items/create.php", {"invoice_id": 2, "name": "B", "qty": 1, "item_order": 2}).ok
    assert post("invoice_items/create.php", {"invoice_id": 2, "name": "A", "qty": 1, "item_order": 1}).ok
    assert post("invoice_items/create.php", {"invoice_id": 3, "name": "C", "qty": 1}).ok
    items = v1(fake_itflow, "invoice_items/read.php", invoice_id="2").json()["data"]
    assert [(i["item_id"], i["item_name"]) for i in items] == [("2", "A"), ("1", "B")]
    assert v1(fake_itflow, "invoice_items/read.php", item_id="3").json()["data"][0]["item_name"] == "C"


def test_v1_one_ticket_comes_with_its_status_and_replies_with_their_ticket(fake_itflow):
    post = lambda path, body: requests.post(  # noqa: E731
        "%s/api/v1/%s?api_key=%s" % (fake_itflow.url, path, fake_itflow.api_key), json=body, timeout=TIMEOUT)
    post("tickets/create.php", {"client_id": 1, "ticket_subject": "Printer"})
    post("ticket_replies/create.php", {"ticket_id": 1, "ticket_reply": "On it", "ticket_reply_time_worked": "0:45:00"})
    ticket = v1(fake_itflow, "tickets/read.php", ticket_id="1").json()["data"][0]
    assert (ticket["ticket_status"], ticket["ticket_status_id"], ticket["ticket_status_name"]) == ("1", "1", "New")
    assert "ticket_status_name" not in v1(fake_itflow, "tickets/read.php").json()["data"][0]
    reply = v1(fake_itflow, "ticket_replies/read.php", ticket_id="1").json()["data"][0]
    assert (reply["ticket_reply_time_worked"], reply["ticket_number"], reply["ticket_reply_by_name"]) == (
        "00:45:00", "1", "Administrator")
    assert v1(fake_itflow, "ticket_replies/read.php", type="public").content == V1_MISS


def test_v1_credentials_need_the_decrypt_password(fake_itflow):
    def call(method, path, body, **params):
        return requests.request(method, "%s/api/v1/%s" % (fake_itflow.url, path),
                                params={"api_key": fake_itflow.api_key, **params}, json=body, timeout=TIMEOUT)

    right = {"api_key_decrypt_password": fake_itflow.decrypt_password}
    call("POST", "credentials/create.php", dict(right, client_id=1, credential_name="r", credential_username="admin",
                                                credential_password="s3cret"))
    assert call("GET", "credentials/read.php", None).content == V1_MISS
    row = call("GET", "credentials/read.php", right).json()["data"][0]
    assert (row["credential_username"], row["credential_password"]) == ("admin", "s3cret")
    assert fake_itflow.data["credentials"][0]["credential_password"] != "s3cret"  # stored encrypted
    wrong = call("GET", "credentials/read.php", {"api_key_decrypt_password": "wrong"}).json()["data"][0]
    assert (wrong["credential_username"], wrong["credential_password"]) == (False, False)


# --- faults (bench/faulty_itflow.py: the fixtures are FaultyITFlow) --------------------------


def test_fault_slow_delays_then_answers(fake_itflow):
    fake_itflow.set_fault("slow", delay=0.3)
    started = time.monotonic()
    response = legacy(fake_itflow, account_balance="1")
    assert time.monotonic() - started >= 0.3
    assert response.text == "1700.5"


def test_fault_blackhole_reads_but_never_answers(fake_itflow):
    fake_itflow.set_fault("blackhole")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(fake_itflow.url + "/api.php", params={"api_key": fake_itflow.api_key, "cid": "1"},
                     timeout=0.3)
    assert fake_itflow.count("/api.php", cid="1") == 1
    stopping = threading.Thread(target=fake_itflow.stop, daemon=True)
    stopping.start()
    stopping.join(PATIENCE)
    assert not stopping.is_alive(), "stop() hangs behind the request it never answered"


def test_fault_refuse_then_reopen_on_the_same_port(fake_itflow):
    with requests.Session() as session:
        url = fake_itflow.url + "/api.php"
        params = {"api_key": fake_itflow.api_key, "account_balance": "1"}
        assert session.get(url, params=params, timeout=TIMEOUT).text == "1700.5"
        fake_itflow.set_fault("refuse")
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(url, params=params, timeout=TIMEOUT)
        fake_itflow.set_fault(None)
        assert session.get(url, params=params, timeout=TIMEOUT).text == "1700.5"


@pytest.mark.parametrize("path", ["/api.php", "/api/v1/clients/read.php"])
def test_fault_500_empty(fake_itflow, path):
    fake_itflow.set_fault("500_empty")
    response = requests.get(fake_itflow.url + path, params={"api_key": fake_itflow.api_key}, timeout=TIMEOUT)
    assert (response.status_code, response.content) == (500, b"")


def test_fault_garbage(fake_itflow):
    fake_itflow.set_fault("garbage")
    response = v1(fake_itflow, "clients/read.php")
    assert (response.status_code, response.content) == (200, b"\x00\xffnot what you expected")


def test_fault_truncated_cuts_the_body_in_half(fake_itflow):
    full_json = v1(fake_itflow, "contacts/read.php", contact_id="1")
    full_text = legacy(fake_itflow, cid="5551234567")
    fake_itflow.set_fault("truncated")
    cut_json = v1(fake_itflow, "contacts/read.php", contact_id="1")
    cut_text = legacy(fake_itflow, cid="5551234567")
    assert (cut_json.status_code, cut_json.content) == (200, full_json.content[:len(full_json.content) // 2])
    with pytest.raises(ValueError):
        cut_json.json()
    assert (cut_text.status_code, cut_text.content) == (500, full_text.content[:len(full_text.content) // 2])
    assert cut_text.content == b"John Smith "


def test_fault_bool_success(fake_itflow):
    fake_itflow.set_fault("bool_success")
    assert v1(fake_itflow, "contacts/read.php", contact_id="1").json()["success"] is True
    assert v1(fake_itflow, "contacts/read.php", contact_id="9999").content.startswith(b'{"success":false,')


def test_fault_huge(fake_itflow):
    fake_itflow.set_fault("huge")
    response = legacy(fake_itflow, cid="5551234567")
    assert response.status_code == 200
    assert len(response.content) == 5 * 1024 * 1024
    assert set(response.content) == {ord("A")}


def test_fault_redirect_login(fake_itflow):
    fake_itflow.set_fault("redirect_login")
    response = requests.get(fake_itflow.url + "/api/v1/clients/read.php", params={"api_key": fake_itflow.api_key},
                            allow_redirects=False, timeout=TIMEOUT)
    assert (response.status_code, response.headers["Location"]) == (302, "/login.php")
    followed = v1(fake_itflow, "clients/read.php")
    assert followed.status_code == 200
    assert followed.headers["Content-Type"] == HTML_TYPE
    assert '<input type="password"' in followed.text


def test_fault_bad_key(fake_itflow):
    fake_itflow.set_fault("bad_key")
    assert (legacy(fake_itflow, cid="5551234567").content) == b"Incorrect or expired API Key."
    response = v1(fake_itflow, "clients/read.php")
    assert (response.status_code, response.content) == (401, V1_INVALID_KEY)


def test_fault_key_not_tied(fake_itflow):
    """Fact: key not tied to a user (old keys after an upgrade): HTTP 403 with the exact JSON body."""
    fake_itflow.set_fault("key_not_tied")
    response = v1(fake_itflow, "clients/read.php")
    assert (response.status_code, response.content) == (403, V1_NOT_TIED)
    assert legacy(fake_itflow, account_balance="1").text == "1700.5"  # legacy keys had no users


def test_fault_cleared_answers_normally_again(fake_itflow):
    fake_itflow.set_fault("garbage")
    fake_itflow.set_fault(None)
    assert legacy(fake_itflow, account_balance="2").text == "600"


def test_unknown_fault_is_rejected(fake_itflow):
    with pytest.raises(ValueError):
        fake_itflow.set_fault("on_fire")


# --- request log, construction, dataset, command line --------------------------------------


def test_request_log_records_what_the_client_sent(fake_itflow):
    legacy(fake_itflow, cid="5551234567")
    legacy(fake_itflow, account_balance="1")
    requests.post(fake_itflow.url + "/api/v1/contacts/read.php?api_key=other", data=b"{}", timeout=TIMEOUT)
    recorded = fake_itflow.requests
    assert [(r.method, r.path) for r in recorded] == [
        ("GET", "/api.php"), ("GET", "/api.php"), ("POST", "/api/v1/contacts/read.php")]
    assert recorded[0].query == {"api_key": SAMPLE_API_KEY, "cid": "5551234567"}
    assert recorded[2].query["api_key"] == "other" and recorded[2].body == b"{}"
    assert recorded[0].user_agent.startswith("python-requests")
    assert recorded[0].time <= recorded[1].time
    assert fake_itflow.count("/api.php", cid=None) == 1
    assert fake_itflow.count("/api.php", account_balance="1") == 1
    assert fake_itflow.count("/api/v1/") == 1
    assert fake_itflow.count() == 3
    fake_itflow.clear_requests()
    assert fake_itflow.count() == 0


def test_answers_are_fast_on_a_kept_alive_connection(fake_itflow):
    """Benchmarks measure the bridge, not the fake: no Nagle/delayed-ACK stall (~40 ms) per reply.

    The fake writes headers and body separately, so only TCP_NODELAY on its end of the
    connection prevents the stall; that setting is what is checked, not a duration.
    """
    with requests.Session() as session:
        for _ in range(3):
            reply = session.get(fake_itflow.url + "/api.php",
                                params={"api_key": fake_itflow.api_key, "account_balance": "1"}, timeout=TIMEOUT)
            assert reply.text == "1700.5"
        with fake_itflow._lock:
            server_ends = list(fake_itflow._connections)
        assert len(server_ends) == 1  # one kept-alive connection served them all
        assert server_ends[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_fixtures_serve_one_generation_each(fake_itflow_legacy, fake_itflow_v1):
    assert fake_itflow_legacy.api_key == fake_itflow_v1.api_key == SAMPLE_API_KEY
    assert legacy(fake_itflow_v1, account_balance="1").status_code == 404
    assert v1(fake_itflow_legacy, "clients/read.php").status_code == 404


def test_only_loopback_hosts_are_accepted():
    with pytest.raises(ValueError):
        FakeITFlow(host="0.0.0.0")


def test_load_sample_data_returns_fresh_copies():
    first = load_sample_data()
    first["contacts"].clear()
    assert load_sample_data()["contacts"]


def test_sample_contacts_have_every_documented_column():
    documented = {"contact_id", "contact_name", "contact_title", "contact_email", "contact_phone_country_code",
                  "contact_phone", "contact_extension", "contact_mobile_country_code", "contact_mobile",
                  "contact_pin", "contact_primary", "contact_billing", "contact_archived_at", "contact_client_id"}
    for contact in load_sample_data()["contacts"]:
        assert documented <= set(contact)


def test_command_line_serves_until_sigterm(tmp_path):
    """``python -m itflow_bridge.sample`` from any directory: URL, key, an export line, then serves."""
    process = subprocess.Popen(
        [sys.executable, "-m", "itflow_bridge.sample", "--port", "0", "--v1-only"], cwd=str(tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip().split("URL: ", 1)[1]
        key = process.stdout.readline().strip().split("API key: ", 1)[1]
        assert key == SAMPLE_API_KEY
        assert process.stdout.readline() == "export ITFLOW_URL=%s ITFLOW_API_KEY=%s\n" % (url, key)
        response = requests.get(url + "/api/v1/clients/read.php", params={"api_key": key}, timeout=TIMEOUT)
        assert response.json()["success"] == "True"
        assert requests.get(url + "/api.php", timeout=TIMEOUT).status_code == 404
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "RuntimeWarning" not in process.stderr.read()


# --- ITFlow's own states, as plain attributes of the packaged fake ---------------------------


def test_the_packaged_fake_has_no_transport_faults():
    assert not hasattr(FakeITFlow, "set_fault")


@pytest.mark.parametrize("state, legacy_body, v1_status, v1_body", [
    ("refused", b"Incorrect or expired API Key.", 401, V1_INVALID_KEY),
    ("not_tied", b"1700.5", 403, V1_NOT_TIED),  # legacy keys had no users
    ("user_invalid", b"1700.5", 403,
     b'{"success":"False","message":"The user linked to this API key is inactive, archived, or invalid."}'),
])
def test_key_states(state, legacy_body, v1_status, v1_body):
    with FakeITFlow(key_state=state) as fake:
        assert legacy(fake, account_balance="1").content == legacy_body
        response = v1(fake, "clients/read.php")
        assert (response.status_code, response.content) == (v1_status, v1_body)
        fake.key_state = "valid"
        assert v1(fake, "clients/read.php").json()["success"] == "True"
    with pytest.raises(ValueError):
        FakeITFlow(key_state="lost")


def test_bool_success_attribute():
    with FakeITFlow(bool_success=True) as fake:
        assert v1(fake, "contacts/read.php", contact_id="1").json()["success"] is True
        fake.bool_success = False
        assert v1(fake, "contacts/read.php", contact_id="1").json()["success"] == "True"
