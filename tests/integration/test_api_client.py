"""The typed ITFlow API client against ITFlow: the fake, and real ITFlow 26.08 (and April 2022).

Every test runs against both kinds of ``site`` (``tests/itflow_sites.py``; the
real one is marked ``real_itflow``), both starting from the contract dataset,
with the same literal expectations: where real ITFlow answers otherwise, the
fake is wrong.  Checks of the requests the client sent need the fake's request
log and are made on the fake only.
"""

import datetime as dt
import json
from decimal import Decimal

import pytest
import requests

from fake_writes import CREATE_FAILED, DELETE_FAILED, UPDATE_FAILED
from itflow_bridge.api import APIUsageError, connect
from itflow_bridge.core.errors import ITFlowNotFound, ITFlowNotSupported, ITFlowWriteRefused
from itflow_bridge.itflow import v1_reader
from itflow_bridge.itflow.legacy import LegacyAdapter
from real_itflow.harness import KEY_PASSWORD


@pytest.fixture
def site(v1_site):
    """An ITFlow JSON API: ``url``, ``api_key``, ``rows(table)``; ``fake`` on the fake only."""
    return v1_site


@pytest.fixture
def api(site):
    with connect(site.url, site.api_key) as client:
        yield client


def posts(fake):
    return [(r.path, json.loads(r.body)) for r in fake.requests if r.method == "POST"]


# --- reads ------------------------------------------------------------------------------


def test_read_pages_through_every_row(site, api, monkeypatch):
    monkeypatch.setattr(v1_reader, "PAGE_SIZE", 100)  # the 319 contacts span four pages
    base = site.rows("contacts")[0]
    site.insert("contacts", [dict(base, contact_id=str(1000 + n), contact_email="c%d@x.test" % n,
                                  contact_client_id="6", contact_primary="0") for n in range(250)])
    total = len(site.rows("contacts"))
    assert total == 69 + 250
    if site.fake:
        site.fake.clear_requests()
    rows = list(api.contacts.read())
    assert len(rows) == total and len({row.contact_id for row in rows}) == total
    assert [row.contact_id for row in rows] == sorted(row.contact_id for row in rows)
    if site.fake:
        reads = [r.query for r in site.fake.requests]
        assert [(q["limit"], q["offset"]) for q in reads] == [("100", str(100 * i)) for i in range(len(reads))]
        assert len(reads) == total // 100 + 1
        assert all(q["limit"] != "-1" for q in reads)


def test_one_page_and_client_filter_on_our_side(site, api):
    page = api.contacts.read(limit=3, offset=1)
    assert isinstance(page, list) and [row.contact_id for row in page] == [2, 3, 4]
    acme = list(api.contacts.read(client_id=1))
    assert acme and all(row.contact_client_id == 1 for row in acme)
    assert len(acme) < len(list(api.contacts.read()))


def test_values_are_typed_and_raw_is_kept(api):
    invoice = next(iter(api.invoices.read()))
    assert isinstance(invoice.invoice_id, int) and isinstance(invoice.invoice_client_id, int)
    assert isinstance(invoice.invoice_amount, Decimal)
    assert isinstance(invoice.invoice_date, dt.date)
    assert isinstance(invoice.raw["invoice_amount"], str)
    contact = api.contacts.get(1)
    assert isinstance(contact.contact_created_at, dt.datetime) and contact.contact_archived_at is None
    with pytest.raises(ITFlowNotFound):
        api.contacts.get(99999)


@pytest.mark.parametrize("name", ["assets", "certificates", "clients", "contacts", "documents", "domains",
                                  "expenses", "invoices", "locations", "networks", "products", "quotes",
                                  "software", "ticket_replies", "tickets", "vendors"])
def test_every_module_reads(api, name):
    rows = list(api[name].read())
    assert all(isinstance(row.raw, dict) for row in rows)


def test_unknown_names_fail_before_any_request(site, api):
    calls = [
        lambda: api.contact, lambda: api.domains.create(client_id=1), lambda: api.invoices.delete(1),
        lambda: list(api.contacts.read(contact_phone="555")), lambda: api.contacts.create(client_id=1, name="x"),
        lambda: api.call("nope", "read"), lambda: api.call("tickets", "archive"),
        lambda: api.invoice_items.read(limit=5), lambda: api.contacts.read(limit=-1),
        lambda: api.assets.create(asset_name="no client"), lambda: api.clients.create(client_id=1, client_name="x"),
        lambda: list(api.products.read(client_id=1)), lambda: api.technicians.time(month=13),
    ]
    for call in calls:
        with pytest.raises(APIUsageError):
            call()
    if site.fake:
        assert site.fake.requests == []


# --- writes -------------------------------------------------------------------------------


def test_contacts_lifecycle(site, api):
    contact_id = api.contacts.create(client_id=1, contact_name="Zoe Adams", contact_email="zoe@acme.example",
                                     contact_phone="(555) 010-2030")
    row = api.contacts.get(contact_id)
    assert (row.contact_name, row.contact_phone, row.contact_client_id) == ("Zoe Adams", "5550102030", 1)
    assert api.contacts.update(contact_id, contact_title="CTO") == 1
    assert api.contacts.get(contact_id).contact_title == "CTO"
    assert api.contacts.archive(contact_id) == 1
    assert api.contacts.get(contact_id).contact_archived_at is not None
    with pytest.raises(ITFlowWriteRefused):
        api.contacts.archive(contact_id)
    assert api.contacts.unarchive(contact_id) == 1
    assert api.contacts.delete(contact_id, client_id=1) == 1
    with pytest.raises(ITFlowNotFound):
        api.contacts.delete(contact_id)


def test_clients_lifecycle_and_the_lead_quirk(site, api):
    client_id = api.clients.create(client_name="NewCo", client_currency_code="CAD")
    assert api.clients.update(client_id, client_notes="signed") == 1
    row = next(c for c in api.clients.read() if c.client_id == client_id)
    assert (row.client_notes, row.client_currency_code) == ("signed", "CAD")
    assert api.clients.archive(client_id) == 1 and api.clients.unarchive(client_id) == 1
    if site.fake:
        update = [body for path, body in posts(site.fake) if path.endswith("clients/update.php")][-1]
        assert update == {"client_notes": "signed", "client_id": client_id, "client_is_lead": 0}


def test_assets_certificates_locations_documents_credentials(api):
    asset_id = api.assets.create(1, asset_name="FS01", asset_type="Server", asset_make="Dell")
    assert api.assets.get(asset_id).asset_make == "Dell"
    assert api.assets.update(asset_id, asset_serial="SN1") == 1
    assert api.assets.delete(asset_id) == 1
    assert api.certificates.create(1, certificate_name="web", certificate_domain="acme.example") >= 1
    assert next(iter(api.certificates.read())).certificate_domain == "acme.example"
    location_id = api.locations.create(1, location_name="Branch", location_city="Springfield")
    assert api.locations.get(location_id).location_city == "Springfield"
    document_id = api.documents.create(1, document_name="Runbook", document_content="<p>steps</p>")
    assert api.documents.update(document_id, document_name="Runbook v2") == 1
    assert api.documents.get(document_id).document_name == "Runbook v2"
    credential_id = api.credentials.create(1, credential_name="router", credential_password="s3cret",
                                           api_key_decrypt_password="decrypt")
    assert api.credentials.update(credential_id, client_id=1, credential_note="rotated",
                                  api_key_decrypt_password="decrypt") == 1
    with pytest.raises(APIUsageError):
        api.credentials.update(credential_id, client_id=1, credential_note="x")


def test_tickets_replies_time_and_invoice_items(api):
    ticket_id = api.tickets.create(client_id=1, ticket_subject="Printer jam")
    ticket = api.tickets.get(ticket_id)
    assert (ticket.ticket_status, ticket.ticket_contact_id, ticket.ticket_priority) == (1, 1, "Low")
    reply_id = api.ticket_replies.create(ticket_id=ticket_id, ticket_reply="On it", ticket_reply_time_worked="0:45:00")
    assert [r.ticket_reply_id for r in api.ticket_replies.read(ticket_id=ticket_id)] == [reply_id]
    worked = list(api.technicians.time())
    assert [(w.ticket_id, w.time_worked) for w in worked] == [(ticket_id, "00:45:00")]
    assert api.tickets.resolve(ticket_id) == 1
    assert api.tickets.get(ticket_id).ticket_status == 4
    invoice = next(i for i in api.invoices.read() if i.invoice_status != "Paid")
    item_id = api.invoice_items.create(invoice_id=invoice.invoice_id, name="Labour", qty=2, price="60")
    items = api.invoice_items.read(invoice_id=invoice.invoice_id, limit=50)
    assert [(i.item_id, i.item_total) for i in items] == [(item_id, Decimal("120.00"))]


def test_asset_delete_is_reported_as_refused_so_the_client_looks(site, api):
    """ITFlow 26.08 answers every asset delete with its delete refusal: the client checks the asset is gone."""
    asset_id = api.assets.create(1, asset_name="NAS", asset_ip="10.0.0.9")
    with pytest.raises(ITFlowWriteRefused):
        api.assets.delete(asset_id, client_id=2)
    assert api.assets.get(asset_id).asset_name == "NAS"
    assert api.assets.delete(asset_id) == 1
    with pytest.raises(ITFlowNotFound):
        api.assets.get(asset_id)


def test_asset_update_without_ip_and_mac_clears_them(site, api):
    """ITFlow's asset_model.php looks for the interface in the asset row: unsent IP and MAC become ''."""
    asset_id = api.assets.create(1, asset_name="FS02", asset_ip="10.0.0.7", asset_mac="aa:bb:cc:00:11:22")
    listed = {row.asset_id: row for row in api.assets.read()}
    assert (listed[asset_id].interface_ip, listed[asset_id].interface_mac) == ("10.0.0.7", "aa:bb:cc:00:11:22")
    assert [row.asset_id for row in api.assets.read(asset_mac="AA:BB:CC:00:11:22")] == [asset_id]
    assert api.assets.update(asset_id, asset_serial="SN2") == 1
    listed = {row.asset_id: row for row in api.assets.read()}
    raw = listed[asset_id].raw
    assert (raw["asset_serial"], raw["interface_ip"], raw["interface_mac"]) == ("SN2", "", "")


def test_filtered_reads_are_filtered_by_itflow(site, api):
    first = api.invoice_items.create(invoice_id=2, name="Labour", qty=1, price="10")
    api.invoice_items.create(invoice_id=3, name="Parts", qty=1, price="5")
    assert [item.item_id for item in api.invoice_items.read(invoice_id=2)] == [first]
    ticket_id = api.tickets.create(client_id=1, ticket_subject="A")
    other = api.tickets.create(client_id=2, ticket_subject="B")
    mine = api.ticket_replies.create(ticket_id=ticket_id, ticket_reply="one")
    api.ticket_replies.create(ticket_id=other, ticket_reply="two")
    replies = list(api.ticket_replies.read(ticket_id=ticket_id))
    assert [(r.ticket_reply_id, r.ticket_subject, r.ticket_reply_by_name) for r in replies] == [
        (mine, "A", "Lab Admin")]
    assert api.tickets.get(ticket_id).ticket_status_name == "New"


def test_credentials_round_trip_with_the_decrypt_password(site, api):
    credential_id = api.credentials.create(1, credential_name="router", credential_username="admin",
                                           credential_password="s3cret", api_key_decrypt_password=KEY_PASSWORD)
    row = api.credentials.get(credential_id, api_key_decrypt_password=KEY_PASSWORD)
    assert (row.credential_username, row.credential_password) == ("admin", "s3cret")
    assert list(api.credentials.read()) == []  # without the decrypt password ITFlow shows none


def test_a_refused_create_names_the_keys_only(site, api):
    email = api.contacts.get(1).contact_email
    with pytest.raises(ITFlowWriteRefused) as refused:
        api.contacts.create(client_id=1, contact_name="Dup", contact_email=email)
    message = str(refused.value)
    assert message == ("ITFlow refused the create: missing or invalid fields "
                       "(sent client_id, contact_email, contact_name)")
    assert email not in message and site.api_key not in message
    assert refused.value.keys == ("client_id", "contact_email", "contact_name")


# --- the fake's exact answers -----------------------------------------------------------------


def test_write_answers_are_itflows_bytes(site):
    def post(path, body):
        return requests.post("%s/api/v1/%s?api_key=%s" % (site.url, path, site.api_key), json=body, timeout=10)

    created = post("tickets/create.php", {"ticket_subject": "x"})
    assert created.content == b'{"success":"True","count":"1","data":[{"insert_id":1}]}'
    assert post("tickets/resolve.php", {"ticket_id": 1, "client_id": 0}).content == b'{"success":"True","count":1}'
    refused = post("assets/create.php", {"asset_name": "no client"})
    assert refused.json() == {"success": "False", "message": CREATE_FAILED}
    assert post("contacts/update.php", {"contact_id": 1, "client_id": 2}).json()["message"] == UPDATE_FAILED
    assert post("assets/delete.php", {"asset_id": 5, "client_id": 1}).json()["message"] == DELETE_FAILED
    broken = post("clients/update.php", {"client_id": 1, "client_notes": "x"})
    assert (broken.status_code, broken.content) == (500, b"")
    got = requests.get("%s/api/v1/contacts/create.php?api_key=%s" % (site.url, site.api_key), timeout=10)
    assert (got.status_code, got.json()["message"]) == (405, "Can only send POST requests to this endpoint.")


# --- the legacy features on both generations ---------------------------------------------------


@pytest.fixture
def both(sites):
    from itflow_bridge.core.config import ITFlowSettings
    from itflow_bridge.itflow.http import ITFlowHTTP
    from itflow_bridge.itflow.script_features import script_features
    from itflow_bridge.itflow.v1 import V1Adapter

    https = {generation: ITFlowHTTP(ITFlowSettings(url=site.url, api_key=site.api_key))
             for generation, site in sites.items()}
    yield {"legacy": script_features(LegacyAdapter(https["legacy"])), "v1": script_features(V1Adapter(https["v1"]))}
    for http in https.values():
        http.close()


def test_emails_agree_on_both_generations(both):
    legacy, v1 = both["legacy"].contact_emails(), both["v1"].contact_emails()
    assert legacy[0].client_name == "Acme Corp" and legacy[0].email == "john.smith@acme.example"
    assert [(e.client_name, e.email) for e in v1] == [(e.client_name, e.email) for e in legacy]


def test_add_asset_on_both_generations(both, sites):
    assert both["legacy"].add_asset(1, "PC-1", type="Desktop", make="HP") is None
    new_id = both["v1"].add_asset(2, "PC-2", type="Laptop", os="Windows 11")
    legacy = {a["asset_name"]: a for a in sites["legacy"].rows("assets")}
    v1 = {a["asset_name"]: a for a in sites["v1"].rows("assets")}
    assert (legacy["PC-1"]["asset_type"], legacy["PC-1"]["asset_make"], legacy["PC-1"]["asset_client_id"]) == (
        "Desktop", "HP", "1")
    assert (v1["PC-2"]["asset_type"], v1["PC-2"]["asset_os"], v1["PC-2"]["asset_id"],
            v1["PC-2"]["asset_client_id"]) == ("Laptop", "Windows 11", str(new_id), "2")


def test_phonebook_is_legacy_only(both):
    assert both["legacy"].raw_phonebook().startswith('<?xml version="1.0" encoding="utf-8"?><AddressBook>')
    with pytest.raises(ITFlowNotSupported):
        both["v1"].raw_phonebook()
