"""The fake ITFlow answers byte for byte what real ITFlow answers.

The same raw request goes to the fake and to the real server; status, content
type and body must be equal (the real server's script path is shown as the fake's
``/var/www/html``).  This is how differences are found; each one found was fixed
in the fake and is described in docs/itflow-api.md.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from real_itflow.conftest import Backend, fake_backend, real_backend
from real_itflow.harness import KEY_PASSWORD, LEGACY_VARIANTS, WRONG_DECRYPT_PASSWORDS

LEGACY_REQUESTS = {
    "cid-contact": [("cid", "5551234567")],
    "cid-apostrophe": [("cid", "01632960123")],  # the name breaks api.php's unescaped alerts INSERT
    "cid-location-apostrophe": [("cid", "1632960999")],
    "cid-utf8": [("cid", "4930123456")],
    "cid-crlf-name": [("cid", "5554440000")],
    "cid-vendor-ampersand": [("cid", "5558880000")],
    "cid-miss": [("cid", "5550009999")],
    "cid-zero": [("cid", "0")],                 # matches the first contact without a phone
    "cid-anonymous": [("cid", "anonymous")],    # intval("anonymous") = 0: same
    "cid-dashes": [("cid", "555-123-4567")],    # intval: 555
    "cid-empty": [("cid", "")],
    "cid-overflow": [("cid", "99999999999999999999")],
    "balance-1": [("account_balance", "1")],
    "balance-partial": [("account_balance", "2")],
    "balance-credit": [("account_balance", "4")],
    "balance-no-invoices": [("account_balance", "6")],
    "balance-unknown": [("account_balance", "999")],
    "balance-not-a-number": [("account_balance", "abc")],
    "no-action": [],
    "client-id-alone": [("client_id", "1")],
    "primary-contact-numbers": [("primary_contact_numbers", "")],
    "primary-contact-emails": [("primary_contact_emails", "")],
    "old-client-emails": [("client_emails", "")],
    "phonebook": [("phonebook", "")],
}
LEGACY_KEYS = ("missing", "empty", "wrong", "expired")


def _compare(fake_answer, real_answer):
    assert (real_answer.status, real_answer.content_type, real_answer.body.decode("utf-8", "replace")) == (
        fake_answer.status, fake_answer.content_type, fake_answer.body.decode("utf-8", "replace"))


@pytest.fixture(params=LEGACY_VARIANTS)
def legacy_pair(request, real_itflow):
    fake, fake_side = fake_backend("legacy", request.param)
    try:
        yield fake_side, real_backend(real_itflow, "legacy", request.param)
    finally:
        fake.stop()


@pytest.fixture
def v1_pair(real_itflow):
    fake, fake_side = fake_backend("v1")
    try:
        yield fake_side, real_backend(real_itflow, "v1")
    finally:
        fake.stop()


@pytest.mark.parametrize("name", sorted(LEGACY_REQUESTS))
def test_legacy_answers(legacy_pair, name):
    fake_side, real_side = legacy_pair
    _compare(fake_side.get("/api.php", LEGACY_REQUESTS[name]), real_side.get("/api.php", LEGACY_REQUESTS[name]))


@pytest.mark.parametrize("which", LEGACY_KEYS)
def test_legacy_key_answers(legacy_pair, which):
    answers = []
    for side in legacy_pair:
        key = {"missing": None, "empty": "", "wrong": side.wrong_key, "expired": side.expired_key}[which]
        answers.append(side.get("/api.php", [("cid", "5551234567")], key=key))
    _compare(*answers)


def test_legacy_without_user_agent(legacy_pair):
    _compare(*(side.get("/api.php", [("account_balance", "1")], user_agent=None) for side in legacy_pair))


def test_legacy_key_posted_counts_as_missing(legacy_pair):
    _compare(*(side.get("/api.php", [("cid", "5551234567")], key=None, method="POST",
                        body=("api_key=%s" % side.key).encode()) for side in legacy_pair))


V1_REQUESTS = {
    "contact-by-phone": ("contacts", [("contact_phone_or_mobile", "5551234567")]),
    "contact-by-mobile": ("contacts", [("contact_phone_or_mobile", "5559876543")]),
    "contact-country-code-column": ("contacts", [("contact_phone_or_mobile", "0301234567")]),
    "contact-plus-form-misses": ("contacts", [("contact_phone_or_mobile", "+15551234567")]),
    "contact-empty-number": ("contacts", [("contact_phone_or_mobile", "")]),  # matches empty phones!
    "contact-miss": ("contacts", [("contact_phone_or_mobile", "5550009999")]),
    "contact-by-id": ("contacts", [("contact_id", "3")]),
    "contact-by-email": ("contacts", [("contact_email", "mary@obrien.example")]),
    "contacts-first-page": ("contacts", []),
    "contacts-page": ("contacts", [("limit", "5"), ("offset", "60")]),
    "contacts-past-the-end": ("contacts", [("offset", "1000")]),
    "contacts-limit-zero": ("contacts", [("limit", "0")]),
    "contacts-limit-minus-one": ("contacts", [("limit", "-1")]),
    "contacts-limit-not-a-number": ("contacts", [("limit", "abc")]),
    "contacts-client-id-ignored": ("contacts", [("client_id", "3"), ("limit", "3")]),
    "clients": ("clients", []),
    "client-by-name": ("clients", [("client_name", "Müller GmbH")]),
    "client-by-name-miss": ("clients", [("client_name", "Nobody Inc")]),
    "invoices": ("invoices", []),
    "invoice-by-id": ("invoices", [("invoice_id", "6")]),
    "locations": ("locations", []),
    "vendors": ("vendors", []),
    # String filters compare as MySQL does (utf8mb4_general_ci): case, accents, trailing spaces ignored.
    "client-by-name-any-case": ("clients", [("client_name", "muller gmbh  ")]),
    "contact-by-email-any-case": ("contacts", [("contact_email", "MARY@OBRIEN.EXAMPLE")]),
    "contact-by-phone-trailing-space": ("contacts", [("contact_phone_or_mobile", "5551234567 ")]),
    "assets-none": ("assets", []),
    "assets-by-type": ("assets", [("asset_type", "server")]),
    "credentials-without-decrypt-password": ("credentials", []),
    "invoice-items-without-filter": ("invoice_items", []),
    "invoice-items-of-an-invoice": ("invoice_items", [("invoice_id", "2")]),
    "software-by-key": ("software", [("software_key", "ABC")]),
    "software-by-name": ("software", [("software_name", "Office")]),  # ORDER BY asset_id: SQL error
    "software-by-type": ("software", [("software_type", "1")]),
    "tickets-none": ("tickets", []),
    "ticket-by-id-none": ("tickets", [("ticket_id", "1")]),
    "ticket-replies-none": ("ticket_replies", [("type", "public"), ("include_archived", "1")]),
    "quotes": ("quotes", [("quote_id", "1")]),
    "products": ("products", []),
    "expenses": ("expenses", []),
    "domains-by-name": ("domains", [("domain_name", "acme.example")]),
    "networks": ("networks", []),
    "documents": ("documents", []),
    "certificates": ("certificates", []),
    "technicians-time": ("technicians", [("year", "2025"), ("month", "1")]),
}


@pytest.mark.parametrize("name", sorted(V1_REQUESTS))
def test_v1_answers(v1_pair, name):
    module, params = V1_REQUESTS[name]
    script = "time.php" if module == "technicians" else "read.php"
    answers = [side.get("/api/v1/%s/%s" % (module, script), params) for side in v1_pair]
    _compare(*answers)
    if answers[1].body:
        json.loads(answers[1].body)


@pytest.mark.parametrize("which", ["missing", "wrong", "expired", "not_tied", "user_gone"])
def test_v1_key_answers(v1_pair, which):
    answers = []
    for side in v1_pair:
        key = {"missing": None, "wrong": side.wrong_key, "expired": side.expired_key,
               "not_tied": side.not_tied_key, "user_gone": side.user_gone_key}[which]
        answers.append(side.get("/api/v1/clients/read.php", [("limit", "1")], key=key))
    _compare(*answers)


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_v1_wrong_method(v1_pair, method):
    _compare(*(side.get("/api/v1/contacts/read.php", method=method) for side in v1_pair))


def test_v1_key_in_json_body(v1_pair):
    _compare(*(side.get("/api/v1/clients/create.php", key=None, method="POST",
                        body=json.dumps({"api_key": side.key}).encode()) for side in v1_pair))


# --- JSON API writes: the same requests, in order, on a fresh fake and on real ITFlow 26.08 ------------

# A time the request itself wrote (NOW()) differs between the two; so does a random key.
_WRITTEN_NOW = re.compile(r'"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"')
_RANDOM_KEY = re.compile(r'"ticket_url_key":"[A-Za-z0-9_-]{32}"')


def _normalised(body: bytes) -> str:
    now = time.time()

    def stamp(match):
        written = time.mktime(time.strptime(match.group(1), "%Y-%m-%d %H:%M:%S"))
        return '"<now>"' if abs(written - now) < 86400 else match.group(0)

    text = _WRITTEN_NOW.sub(stamp, body.decode("utf-8", "replace"))
    return _RANDOM_KEY.sub('"ticket_url_key":"<random>"', text)


@pytest.fixture
def v1_write_pair(real_itflow):
    """A fresh fake and real ITFlow 26.08 on a database reset to the contract dataset."""
    fake, fake_side = fake_backend("v1")
    scratch = real_itflow.scratch("v1")
    scratch.reset()
    real_side = Backend("real", "v1", "", scratch.url, scratch.keys.good, wrong_key=scratch.keys.wrong,
                        expired_key=scratch.keys.expired)
    try:
        yield fake_side, real_side
    finally:
        fake.stop()


def _post(path, body):
    return ("POST", path, [], body)


def _get(path, *params, body=None):
    return ("GET", path, list(params), body)


V1_WRITES = {
    "contacts": [
        _post("contacts/create.php", {"client_id": 1, "contact_name": "Zoe Adams", "contact_email": "zoe@acme.example",
                                      "contact_phone": "(555) 010-2030", "contact_title": " <b>CTO</b> "}),
        _get("contacts/read.php", ("contact_id", "70")),
        _post("contacts/create.php", {"client_id": 1, "contact_name": "Dup", "contact_email": "zoe@acme.example"}),
        _post("contacts/create.php", {"client_id": 1, "contact_name": "No email"}),
        _post("contacts/create.php", {"contact_name": "No client", "contact_email": "x@y.example"}),
        _post("contacts/update.php", {"contact_id": 70, "client_id": 1, "contact_title": "CEO", "contact_primary": 1,
                                      "contact_mobile": "+1 555 010 9999"}),
        _get("contacts/read.php", ("contact_id", "70")),
        _get("contacts/read.php", ("contact_id", "1")),
        _post("contacts/update.php", {"contact_id": 70, "client_id": 1, "contact_title": "CEO"}),  # nothing changed
        _post("contacts/update.php", {"contact_id": 70, "client_id": 2, "contact_title": "x"}),  # not that client's
        _post("contacts/archive.php", {"contact_id": 70, "client_id": 1}),
        _get("contacts/read.php", ("contact_id", "70")),
        _post("contacts/archive.php", {"contact_id": 70, "client_id": 1}),
        _post("contacts/unarchive.php", {"contact_id": 70, "client_id": 1}),
        _post("contacts/unarchive.php", {"contact_id": 70, "client_id": 1}),
        _post("contacts/delete.php", {"contact_id": 70, "client_id": 2}),
        _post("contacts/delete.php", {"contact_id": 70, "client_id": 1}),
        _get("contacts/read.php", ("contact_id", "70")),
        _post("contacts/delete.php", {"contact_id": 70, "client_id": 1}),
    ],
    "clients": [
        _post("clients/create.php", {"client_name": "NewCo <i>Ltd</i>", "client_currency_code": "CAD",
                                     "client_website": "https://newco.example", "client_abbreviation": "NEWCOMPANY",
                                     "client_rate": "95.5", "client_net_terms": "15"}),
        _get("clients/read.php", ("client_name", "NewCo Ltd")),
        _post("clients/create.php", {"client_id": 1, "client_name": "Named a client"}),
        _post("clients/create.php", {"client_type": "no name"}),
        _post("clients/update.php", {"client_id": 9, "client_notes": "signed"}),  # no client_is_lead: SQL error
        _post("clients/update.php", {"client_id": 9, "client_notes": "signed", "client_is_lead": 0}),
        _post("clients/update.php", {"client_id": 9, "client_notes": "signed", "client_is_lead": 0}),
        _get("clients/read.php", ("client_name", "NewCo Ltd")),
        _post("clients/archive.php", {"client_id": 9}),
        _post("clients/archive.php", {"client_id": 9}),
        _post("clients/unarchive.php", {"client_id": 9}),
        _post("clients/unarchive.php", {"client_id": 9}),
        _post("clients/archive.php", {"client_id": 999}),
    ],
    "assets": [
        _post("assets/create.php", {"client_id": 1, "asset_name": "FS01", "asset_type": "server", "asset_make": "Dell",
                                    "asset_ip": "10.0.0.5", "asset_mac": "aa:bb:cc:dd:ee:ff",
                                    "asset_purchase_date": "2024-02-01", "asset_uri_2": "ignored"}),
        _post("assets/create.php", {"client_id": 2, "asset_name": "Printer"}),
        _post("assets/create.php", {"asset_name": "no client"}),
        _get("assets/read.php", ("asset_id", "1")),
        _get("assets/read.php"),
        _get("assets/read.php", ("asset_type", "server")),
        _get("assets/read.php", ("asset_mac", "aa:bb:cc:dd:ee:ff")),
        _get("assets/read.php", ("asset_name", "Printer")),
        _post("assets/update.php", {"asset_id": 1, "client_id": 1, "asset_serial": "SN1", "asset_ip": "10.0.0.6"}),
        _post("assets/update.php", {"asset_id": 1, "client_id": 1, "asset_serial": "SN1"}),
        _get("assets/read.php"),
        _post("assets/delete.php", {"asset_id": 1, "client_id": 2}),
        _get("assets/read.php"),  # still there, without its interface
        _post("assets/delete.php", {"asset_id": 1, "client_id": 1}),
        _get("assets/read.php"),
    ],
    "certificates-documents-locations": [
        _post("certificates/create.php", {"client_id": 1, "certificate_name": "web",
                                          "certificate_domain": "acme.example",
                                          "certificate_expire": "2027-01-01"}),
        _post("certificates/create.php", {"client_id": 1, "certificate_name": "no domain"}),
        _get("certificates/read.php"),
        _get("certificates/read.php", ("certificate_id", "1")),
        _post("documents/create.php", {"client_id": 1, "document_name": "Runbook", "document_description": "How",
                                       "document_content": "<p>steps</p><p>more</p>"}),
        _post("documents/create.php", {"client_id": 1, "document_name": "Empty"}),
        _post("documents/update.php", {"document_id": 1, "client_id": 1, "document_name": "Runbook v2"}),
        _post("documents/update.php", {"document_id": 1, "client_id": 2, "document_name": "x"}),
        _get("documents/read.php", ("document_id", "1")),
        _post("locations/create.php", {"client_id": 1, "location_name": "Branch", "location_city": "Springfield",
                                       "location_primary": 1}),
        _post("locations/create.php", {"location_name": "No client"}),
        _get("locations/read.php", ("location_id", "5")),
        _get("locations/read.php", ("location_id", "1")),
    ],
    "credentials": [
        _post("credentials/create.php", {"client_id": 1, "credential_name": "router", "credential_username": "admin",
                                         "credential_password": "s3cret", "api_key_decrypt_password": KEY_PASSWORD}),
        _post("credentials/create.php", {"client_id": 1, "credential_name": "no key", "credential_password": "x"}),
        _post("credentials/create.php", {"client_id": 1, "credential_name": "key 0", "credential_password": "x",
                                         "api_key_decrypt_password": "0"}),
        # A wrong decrypt password: encrypted with an empty key, readable only with a wrong password.
        _post("credentials/create.php", {"client_id": 2, "credential_name": "wifi", "credential_password": "",
                                         "api_key_decrypt_password": "wrong"}),
        _post("credentials/create.php", {"client_id": 1, "credential_name": "no password",
                                         "api_key_decrypt_password": KEY_PASSWORD}),
        _post("credentials/create.php", {"client_id": 1, "credential_name": "x" * 201, "credential_password": "x",
                                         "api_key_decrypt_password": KEY_PASSWORD}),
        _post("credentials/create.php", {"client_id": 1, "credential_name": "long", "credential_password": "ü" * 176,
                                         "api_key_decrypt_password": KEY_PASSWORD}),
        _get("credentials/read.php"),
        _get("credentials/read.php", body={"api_key_decrypt_password": KEY_PASSWORD}),
        _get("credentials/read.php", body={"api_key_decrypt_password": "another wrong one"}),
        _get("credentials/read.php", ("credential_id", "1"), body={"api_key_decrypt_password": KEY_PASSWORD}),
        _get("credentials/read.php", ("limit", "1"), ("offset", "1"), body={"api_key_decrypt_password": "x"}),
        _post("credentials/update.php", {"credential_id": 1, "client_id": 1, "credential_note": "rotated",
                                         "api_key_decrypt_password": KEY_PASSWORD}),
        _post("credentials/update.php", {"credential_id": 1, "client_id": 1, "credential_note": "rotated",
                                         "api_key_decrypt_password": KEY_PASSWORD}),
        _post("credentials/update.php", {"credential_id": 1, "client_id": 1, "credential_password": "n3w",
                                         "api_key_decrypt_password": KEY_PASSWORD}),
        _post("credentials/update.php", {"credential_id": 1, "client_id": 1, "credential_uri": "u" * 501,
                                         "api_key_decrypt_password": KEY_PASSWORD}),
        _post("credentials/update.php", {"credential_id": 1, "client_id": 2, "credential_note": "x",
                                         "api_key_decrypt_password": KEY_PASSWORD}),
        _post("credentials/update.php", {"credential_id": 1, "client_id": 1, "credential_note": "rotated"}),
        _get("credentials/read.php", ("credential_id", "1"), body={"api_key_decrypt_password": KEY_PASSWORD}),
    ],
    "tickets": [
        _post("tickets/create.php", {"client_id": 1, "ticket_subject": "Printer jam", "ticket_details": "<p>Help</p>"}),
        _post("tickets/create.php", {"ticket_subject": "No client", "ticket_priority": "High"}),
        _post("tickets/create.php", {"client_id": 1}),
        _get("tickets/read.php", ("ticket_id", "1")),
        _get("tickets/read.php"),
        _post("ticket_replies/create.php", {"ticket_id": 1, "ticket_reply": "On it",
                                            "ticket_reply_time_worked": "0:45:00",
                                            "ticket_reply_type": "public"}),
        _post("ticket_replies/create.php", {"ticket_id": 1, "ticket_reply": "Done", "ticket_status": 3,
                                            "ticket_reply_time_worked": "1:99:00"}),
        _post("ticket_replies/create.php", {"ticket_id": 1, "client_id": 2, "ticket_reply": "wrong client"}),
        _post("ticket_replies/create.php", {"ticket_id": 99, "ticket_reply": "no ticket"}),
        _get("ticket_replies/read.php"),
        _get("ticket_replies/read.php", ("ticket_id", "1")),
        _get("ticket_replies/read.php", ("ticket_reply_id", "2")),
        _get("ticket_replies/read.php", ("ticket_id", "1"), ("type", "internal")),
        _get("ticket_replies/read.php", ("ticket_id", "2")),
        _get("tickets/read.php", ("ticket_id", "1")),
        _get("technicians/time.php"),
        _get("technicians/time.php", ("month", "13")),
        _post("tickets/resolve.php", {"ticket_id": 1, "client_id": 1}),
        _post("tickets/resolve.php", {"ticket_id": 1, "client_id": 1}),
        _post("tickets/resolve.php", {"ticket_id": 2, "client_id": 0}),
        _get("tickets/read.php", ("ticket_id", "1")),
    ],
    "technicians-time-order": [  # by client name, then the ticket NUMBER (2 before 10), then technician
        *[_post("tickets/create.php", {"client_id": 1 if n % 3 else 3, "ticket_subject": "T%d" % n})
          for n in range(1, 12)],
        *[_post("ticket_replies/create.php", {"ticket_id": n, "ticket_reply": "r",
                                              "ticket_reply_time_worked": "0:10:00"})
          for n in (11, 10, 2, 3, 9)],
        _post("ticket_replies/create.php", {"ticket_id": 2, "ticket_reply": "more",
                                            "ticket_reply_time_worked": "1:55:30"}),
        _get("technicians/time.php"),
        _get("technicians/time.php", ("limit", "2"), ("offset", "1")),
        _get("technicians/time.php", ("technician_id", "2")),
    ],
    "invoice_items": [
        _get("invoice_items/read.php"),
        _post("invoice_items/create.php", {"invoice_id": 2, "name": "Labour", "qty": 2, "price": "60"}),
        _post("invoice_items/create.php", {"invoice_id": 2, "name": "Parts", "qty": "1.5", "price": 10.25,
                                           "item_order": 1}),
        _post("invoice_items/create.php", {"invoice_id": 1, "name": "On a paid invoice", "qty": 1, "price": 1}),
        _post("invoice_items/create.php", {"invoice_id": 2, "name": "No quantity"}),
        _get("invoice_items/read.php", ("invoice_id", "2")),
        _get("invoice_items/read.php", ("invoice_id", "3")),
        _get("invoice_items/read.php", ("item_id", "2")),
        _get("invoices/read.php", ("invoice_id", "2")),
    ],
    "wrong-methods": [
        _get("contacts/create.php"),
        ("POST", "technicians/time.php", [], {}),
        _post("clients/archive.php", {}),
    ],
}


@pytest.mark.parametrize("name", sorted(V1_WRITES))
def test_v1_writes(v1_write_pair, real_itflow, name):
    for method, path, params, body in V1_WRITES[name]:
        step = "%s %s %s %s" % (method, path, params, body)
        decrypt_password = (body or {}).get("api_key_decrypt_password")
        assert decrypt_password in (None, "0", KEY_PASSWORD) + WRONG_DECRYPT_PASSWORDS, \
            "%s: a wrong decrypt password the key was not made for (harness.WRONG_DECRYPT_PASSWORDS)" % step
        answers = [side.get("/api/v1/" + path, params, method=method,
                            body=None if body is None else json.dumps(body).encode()) for side in v1_write_pair]
        if method == "POST" and path.startswith("credentials/"):
            real_itflow.scratch("v1").settle_credentials()  # reads with the other key fail, as in the fake
        fake_answer, real_answer = answers
        real, fake = (_normalised(answer.body) for answer in (real_answer, fake_answer))
        assert (step, real_answer.status, real_answer.content_type, real) == (
            step, fake_answer.status, fake_answer.content_type, fake), _differences(real, fake)


def _differences(real: str, fake: str) -> str:
    """Where two JSON answers differ, row by row and column by column (real first)."""
    try:
        real_rows, fake_rows = (json.loads(text).get("data") or [] for text in (real, fake))
    except (ValueError, AttributeError):
        return ""
    lines = []
    for number, (real_row, fake_row) in enumerate(zip(real_rows, fake_rows)):
        if list(real_row) != list(fake_row):
            lines.append("row %d columns: real %s, fake %s" % (number, list(real_row), list(fake_row)))
        lines += ["row %d %s: real %r, fake %r" % (number, key, real_row.get(key), fake_row.get(key))
                  for key in real_row if key in fake_row and real_row[key] != fake_row[key]]
    if len(real_rows) != len(fake_rows):
        lines.append("rows: real %d, fake %d" % (len(real_rows), len(fake_rows)))
    return "\n".join(lines)


# --- legacy /api.php add_asset: the answer and the row it stores ---------------------------------------


@pytest.fixture
def legacy_write_pair(real_itflow):
    """A fresh fake and real April-2022 ITFlow (PHP 8.2) on a database reset to the contract dataset."""
    fake, fake_side = fake_backend("legacy", "php82")
    scratch = real_itflow.scratch("legacy")
    scratch.reset()
    real_side = Backend("real", "legacy", "php82", scratch.url, scratch.keys.good, wrong_key=scratch.keys.wrong,
                        expired_key=scratch.keys.expired, script_dir=str(scratch.server.tree))
    try:
        yield fake_side, real_side, scratch
    finally:
        fake.stop()


LEGACY_ADD_ASSET = [
    [("add_asset", " <b>NAS-1</b> "), ("client_id", "2"), ("type", "Server"), ("make", "Synology"),
     ("model", "DS920+"), ("serial", "SN 1"), ("os", "DSM")],
    [("add_asset", "PC-2"), ("client_id", "abc")],  # the optional fields missing: PHP warnings, not shown
    [("add_asset", "O'Brien \"PC\"\n"), ("client_id", "3"), ("type", " a\\b "), ("make", "<i>"), ("model", ""),
     ("serial", "\t"), ("os", "\u00dc")],  # escaped before trim(): the newline stays, the tab goes
    [("add_asset", "no client id")],  # nothing happens
]


def test_legacy_add_asset(legacy_write_pair):
    fake_side, real_side, scratch = legacy_write_pair
    for params in LEGACY_ADD_ASSET:
        _compare(fake_side.get("/api.php", params), real_side.get("/api.php", params))
    stored = [[(column, value) for column, value in row.items() if column != "asset_created_at"]
              for row in scratch.rows("assets")]
    assert stored == [[(column, value) for column, value in row.items() if column != "asset_created_at"]
                      for row in fake_side.fake.data["assets"]]
    assert [row["asset_name"] for row in scratch.rows("assets")] == ["NAS-1", "PC-2", "O'Brien \"PC\"\n"]
