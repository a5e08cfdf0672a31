"""The JSON API adapter against the fake ITFlow's /api/v1, quirks included."""

from decimal import Decimal

import pytest

from itflow_bridge.itflow import v1_reader

from itflow_bridge.core.errors import ITFlowAPIMissing, ITFlowAuthError, ITFlowNotSupported, ITFlowResponseError, ITFlowUnavailable


@pytest.fixture
def adapter(fake_itflow_v1, make_bridge):
    return make_bridge(fake_itflow_v1, "v1").adapter()


def test_contact_with_client_name(adapter):
    match = adapter.find_caller("5551234567")
    assert (match.kind, match.contact_name, match.client_name, match.client_id) == (
        "contact", "John Smith", "Acme Corp", 1)


def test_mobile_location_vendor(adapter):
    assert adapter.find_caller("5559876543").contact_name == "Jane Doe"
    location = adapter.find_caller("5552220000")
    assert (location.kind, location.name, location.client_name) == ("location", "Acme HQ", "Acme Corp")
    vendor = adapter.find_caller("5553330000")
    assert (vendor.kind, vendor.name) == ("vendor", "Telco Supplies")


def test_exact_match_only(adapter):
    assert adapter.find_caller("01632960123").contact_name == "Mary O'Brien"
    assert adapter.find_caller("1632960123") is None  # no normalisation in ITFlow


def test_success_string_false_is_a_miss(fake_itflow_v1, adapter):
    assert adapter.find_caller("5550009999") is None


def test_paging_over_more_than_fifty_rows_with_our_own_client_filter(fake_itflow_v1, adapter, monkeypatch):
    monkeypatch.setattr(v1_reader, "PAGE_SIZE", 50)  # client 6's 60 contacts span two pages
    fake_itflow_v1.clear_requests()
    contacts = adapter.client_contacts(6)
    assert len(contacts) == 60 and {c.client_id for c in contacts} == {6}
    offsets = sorted(int(r.query["offset"]) for r in fake_itflow_v1.requests if r.path.endswith("contacts/read.php"))
    assert offsets[:2] == [0, 50]


def test_client_id_is_ignored_by_itflow_so_we_filter(adapter):
    assert [c.name for c in adapter.client_contacts(1)] == ["John Smith", "Jane Doe"]
    assert adapter.get_client(3).name == "Müller GmbH" and adapter.get_client(3).currency == "EUR"
    assert adapter.get_client(999) is None


def test_balance_from_invoices(adapter):
    balance = adapter.get_balance(1)
    assert (balance.amount, balance.currency) == (Decimal("1700.50"), "USD")
    assert adapter.get_balance(3).amount == Decimal("1150.75")
    assert adapter.get_balance(8).amount == Decimal("1000000.01")


def test_partial_invoice_makes_the_balance_unknowable(adapter):
    with pytest.raises(ITFlowNotSupported, match="part-paid"):
        adapter.get_balance(2)


def test_unknown_client_balance_is_none(adapter):
    assert adapter.get_balance(999) is None


def test_pins_for_verification(adapter):
    assert "1234" in [c.pin for c in adapter.client_contacts(1)]
    assert "5552220000" in adapter.client_phone_numbers(1)


@pytest.mark.parametrize("fault, reason", [("bad_key", "invalid"), ("key_not_tied", "not_tied_to_user")])
def test_auth_errors(fake_itflow_v1, adapter, fault, reason):
    fake_itflow_v1.set_fault(fault)
    with pytest.raises(ITFlowAuthError) as info:
        adapter.find_caller("5551234567")
    assert info.value.reason == reason


def test_missing_key_is_reported(fake_itflow_v1, make_bridge):
    adapter = make_bridge(fake_itflow_v1, "v1").adapter()
    adapter.http._api_key = ""
    with pytest.raises(ITFlowAuthError) as info:
        adapter.find_caller("5551234567")
    assert info.value.reason == "missing"


def test_success_as_boolean_is_tolerated(fake_itflow_v1, adapter):
    fake_itflow_v1.set_fault("bool_success")
    assert adapter.find_caller("5551234567").contact_name == "John Smith"


@pytest.mark.parametrize("fault, error", [("truncated", ITFlowResponseError), ("garbage", ITFlowResponseError),
                                          ("500_empty", ITFlowUnavailable), ("huge", ITFlowResponseError)])
def test_broken_answers(fake_itflow_v1, adapter, fault, error):
    fake_itflow_v1.set_fault(fault)
    with pytest.raises(error):
        adapter.find_caller("5551234567")


def test_v1_missing_on_an_old_itflow(fake_itflow_legacy, make_bridge):
    adapter = make_bridge(fake_itflow_legacy, "v1").adapter()
    with pytest.raises(ITFlowAPIMissing, match="api/v1"):
        adapter.find_caller("5551234567")
