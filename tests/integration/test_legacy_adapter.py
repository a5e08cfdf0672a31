"""The legacy adapter against the fake ITFlow's /api.php, byte-exact answers and quirks."""

from decimal import Decimal

import pytest

from itflow_bridge.itflow.script_features import script_features
from itflow_bridge.core.errors import ITFlowAPIMissing, ITFlowAuthError, ITFlowResponseError, ITFlowUnavailable


@pytest.fixture
def adapter(fake_itflow_legacy, make_bridge):
    return make_bridge(fake_itflow_legacy, "legacy").adapter()


def test_contact_phone_found_despite_http_500_on_php_8(fake_itflow_legacy, adapter):
    fake_itflow_legacy.php_version = "8.2"
    match = adapter.find_caller("5551234567")
    assert match.name == "John Smith" and match.kind == "unknown"
    assert fake_itflow_legacy.count("/api.php", cid="5551234567") == 1


def test_clean_200_on_php_8_0(fake_itflow_legacy, adapter):
    fake_itflow_legacy.php_version = "8.0"
    assert adapter.find_caller("5559876543").name == "Jane Doe"  # a mobile


def test_location_vendor_and_archived_contact(adapter):
    assert adapter.find_caller("5552220000").name == "Acme HQ"
    assert adapter.find_caller("5553330000").name == "Telco Supplies"
    assert adapter.find_caller("5556660000").name == "Old Timer"


def test_trunk_zero_is_ignored_by_intval(adapter):
    assert adapter.find_caller("1632960123").name == "Mary O'Brien"
    assert adapter.find_caller("01632960123").name == "Mary O'Brien"


def test_miss(adapter):
    assert adapter.find_caller("5550009999") is None


def test_display_errors_blocks_are_stripped(fake_itflow_legacy, adapter):
    fake_itflow_legacy.display_errors = True
    assert adapter.find_caller("5551234567").name == "John Smith"
    assert adapter.find_caller("5550009999") is None


@pytest.mark.parametrize("bad", ["", "0", "000", "555-123-4567", "anonymous", "1" * 19])
def test_numbers_itflow_would_misread_are_never_sent(fake_itflow_legacy, adapter, bad):
    with pytest.raises(ValueError):
        adapter.find_caller(bad)
    assert fake_itflow_legacy.count("/api.php", cid=None) == 0


@pytest.mark.parametrize("client_id, amount", [(1, "1700.50"), (2, "600.00"), (3, "1150.75"), (4, "-25.50"),
                                               (7, "12.50"), (8, "1000000.01")])
def test_balances_are_exact_decimals(adapter, client_id, amount):
    balance = adapter.get_balance(client_id)
    assert balance.amount == Decimal(amount) and isinstance(balance.amount, Decimal)
    assert balance.client_confirmed


def test_unknown_client_answers_zero_and_is_marked_unconfirmed(adapter):
    balance = adapter.get_balance(999)
    assert balance.amount == Decimal("0.00") and not balance.client_confirmed


def test_phonebook_and_emails(adapter):
    names = {(e.name, e.group) for e in adapter.phonebook()}
    assert ("John Smith", "client") in names and ("AT&T", "vendor") in names
    emails = script_features(adapter).contact_emails()
    assert any(e.client_name == "O'Brien & Sons - Plumbing" and e.contact_name == "Mary O'Brien" for e in emails)


def test_add_asset(fake_itflow_legacy, adapter):
    assert script_features(adapter).add_asset(1, "PBX phone 12", type="Phone", make="Yealink") is None
    assert fake_itflow_legacy.count("/api.php", add_asset="PBX phone 12", client_id="1") == 1


def test_wrong_key(fake_itflow_legacy, make_bridge):
    adapter = make_bridge(fake_itflow_legacy, "legacy", key="wrong-key-0a1b2c3d4e5f").adapter()
    with pytest.raises(ITFlowAuthError) as info:
        adapter.find_caller("5551234567")
    assert info.value.reason == "invalid"


def test_faults(fake_itflow_legacy, adapter):
    fake_itflow_legacy.set_fault("500_empty")
    with pytest.raises(ITFlowUnavailable):
        adapter.find_caller("5551234567")
    fake_itflow_legacy.set_fault("garbage")
    with pytest.raises(ITFlowResponseError):
        adapter.find_caller("5551234567")
    fake_itflow_legacy.set_fault("redirect_login")
    with pytest.raises(ITFlowResponseError, match="redirected"):
        adapter.get_balance(1)


def test_api_php_missing_on_current_itflow(fake_itflow_v1, make_bridge):
    adapter = make_bridge(fake_itflow_v1, "legacy").adapter()
    with pytest.raises(ITFlowAPIMissing, match="api.php"):
        adapter.find_caller("5551234567")
