"""The card's ITFlow part read from the fake ITFlow's JSON API (with ITFlow's writes): open tickets, the flag."""

from __future__ import annotations

import pytest

import fake_writes
from faulty_itflow import FaultyITFlow
from itflow_bridge.api.typed import connect
from itflow_bridge.screen.card import itflow_fetch


@pytest.fixture
def api():
    with FaultyITFlow(writes=fake_writes, generations=("v1",)) as site:
        with connect(site.url, site.api_key, read_timeout=30.0) as client:
            yield client


def test_open_tickets_newest_first_without_resolved_ones_and_the_contacts_flag(api):
    first = api.tickets.create(client_id=1, ticket_subject="Printer jams", ticket_details="x", ticket_priority="Low",
                               ticket_contact_id=1)
    done = api.tickets.create(client_id=1, ticket_subject="Old one", ticket_details="x", ticket_priority="Low")
    api.tickets.resolve(done, client_id=1)
    latest = api.tickets.create(client_id=1, ticket_subject="VPN down", ticket_details="x", ticket_priority="Low")
    api.tickets.create(client_id=2, ticket_subject="Another client's", ticket_details="x", ticket_priority="Low")
    details = itflow_fetch(api, balance=lambda client_id: "USD %d.00" % client_id)(1, 1)
    assert [(ticket.ticket_id, ticket.subject) for ticket in details.open_tickets] == [
        (latest, "VPN down"), (first, "Printer jams")]
    assert all(ticket.number for ticket in details.open_tickets)
    assert details.important is False  # John Smith is not marked important in the sample
    assert details.balance == "USD 1.00"
    assert itflow_fetch(api)(1, None).important is None  # no contact: no flag asked
