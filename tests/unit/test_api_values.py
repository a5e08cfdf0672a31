"""Typed values of ITFlow rows, and the module table."""

import datetime as dt
from decimal import Decimal

import pytest

from itflow_bridge.api import MODULES, APIUsageError, Row
from itflow_bridge.api.registry import function, module
from itflow_bridge.api.values import typed

# The modules and functions of ITFlow 26.08's api/v1/, as its source tree has them.
ITFLOW_26_08 = {
    "assets": "create delete read update", "certificates": "create read",
    "clients": "archive create read unarchive update",
    "contacts": "archive create delete read unarchive update", "credentials": "create read update",
    "documents": "create read update", "domains": "read", "expenses": "read", "invoice_items": "create read",
    "invoices": "read", "locations": "create read", "networks": "read", "products": "read", "quotes": "read",
    "software": "read", "technicians": "time", "ticket_replies": "create read",
    "tickets": "create read resolve", "vendors": "read",
}


def test_the_table_has_exactly_itflows_modules_and_functions():
    assert {name: " ".join(sorted(spec.functions)) for name, spec in MODULES.items()} == ITFLOW_26_08


@pytest.mark.parametrize("column, value, expected", [
    ("contact_id", "12", 12),
    ("invoice_number", "7", 7),
    ("ticket_number", "TCK-12", "TCK-12"),
    ("client_tax_id_number", "0012", "0012"),
    ("contact_phone", "0301234567", "0301234567"),
    ("contact_primary", "1", 1),
    ("invoice_amount", "800.00", Decimal("800.00")),
    ("client_rate", "-25.5", Decimal("-25.5")),
    ("invoice_date", "2024-03-01", dt.date(2024, 3, 1)),
    ("invoice_due", "0000-00-00", None),
    ("contact_created_at", "2024-01-15 09:30:00", dt.datetime(2024, 1, 15, 9, 30)),
    ("contact_archived_at", None, None),
    ("contact_mobile", "", None),
    ("contact_name", "2024-01-01", "2024-01-01"),
    ("count", 3, 3),
])
def test_values_are_typed_by_column(column, value, expected):
    assert typed(column, value) == expected
    assert type(typed(column, value)) is type(expected)


def test_a_row_keeps_the_raw_strings():
    row = Row({"invoice_id": "3", "invoice_amount": "10.50", "invoice_note": ""})
    assert (row["invoice_id"], row.invoice_amount, row.invoice_note) == (3, Decimal("10.50"), None)
    assert row.raw == {"invoice_id": "3", "invoice_amount": "10.50", "invoice_note": ""}
    assert dict(row) == {"invoice_id": 3, "invoice_amount": Decimal("10.50"), "invoice_note": None}
    with pytest.raises(AttributeError):
        row.nothing  # noqa: B018 - the lookup itself must raise


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(APIUsageError, match="modules are: assets, certificates"):
        module("contact")
    with pytest.raises(APIUsageError, match="has no function 'delete'; it has: create, read"):
        function("certificates", "delete")
