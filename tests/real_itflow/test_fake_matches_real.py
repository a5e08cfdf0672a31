"""The fake ITFlow answers byte for byte what real ITFlow answers.

The same raw request goes to the fake and to the real server; status, content
type and body must be equal (the real server's script path is shown as the fake's
``/var/www/html``).  This is how differences are found; each one found was fixed
in the fake and is described in docs/itflow-api.md.
"""

from __future__ import annotations

import json

import pytest

from real_itflow.conftest import fake_backend, real_backend
from real_itflow.harness import LEGACY_VARIANTS

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
}


@pytest.mark.parametrize("name", sorted(V1_REQUESTS))
def test_v1_answers(v1_pair, name):
    module, params = V1_REQUESTS[name]
    answers = [side.get("/api/v1/%s/read.php" % module, params) for side in v1_pair]
    _compare(*answers)
    if answers[1].body:
        json.loads(answers[1].body)


@pytest.mark.parametrize("which", ["missing", "wrong", "expired", "not_tied", "user_gone"])
def test_v1_key_answers(v1_pair, which):
    answers = []
    for side in v1_pair:
        key = {"missing": lambda: None, "wrong": lambda: side.wrong_key, "expired": lambda: side.expired_key,
               "not_tied": side.not_tied_key, "user_gone": side.user_gone_key}[which]()
        answers.append(side.get("/api/v1/clients/read.php", [("limit", "1")], key=key))
    _compare(*answers)


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_v1_wrong_method(v1_pair, method):
    _compare(*(side.get("/api/v1/contacts/read.php", method=method) for side in v1_pair))


def test_v1_key_in_json_body(v1_pair):
    _compare(*(side.get("/api/v1/clients/create.php", key=None, method="POST",
                        body=json.dumps({"api_key": side.key}).encode()) for side in v1_pair))
