"""The client check of new tickets reads ITFlow's clients listing once for a burst, not once per ticket."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List

import pytest

import fake_writes
from faulty_itflow import FaultyITFlow
from itflow_bridge.api.typed import connect
from itflow_bridge.calls.outbox import DONE, FAILED, Outbox
from itflow_bridge.calls.tickets import CLIENTS_FRESH, MISSED, CallForTickets, TicketPlanner, TicketWriter
from itflow_bridge.core.config import CallsSettings

START = dt.datetime(2026, 12, 7, 10, 0, 0)
CLIENTS_READ = "/api/v1/clients/read.php"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def missed(n: int, client_id: int) -> CallForTickets:
    return CallForTickets(call_id="1765101600.%d" % n, client_id=client_id, client_name="Client %d" % client_id,
                          outcome=MISSED, when=START, caller_number="5551234567")


def client_row(fake: FaultyITFlow, client_id: int) -> Dict[str, Any]:
    return next(row for row in fake.data["clients"] if row["client_id"] == str(client_id))


@pytest.fixture
def fake():
    with FaultyITFlow(writes=fake_writes, generations=("v1",)) as site:
        yield site


@pytest.fixture
def api(fake):
    with connect(fake.url, fake.api_key, read_timeout=30.0) as client:
        yield client


def plan(outbox: Outbox, calls: List[CallForTickets]) -> None:
    planner = TicketPlanner(CallsSettings(repeat_window=0), outbox)
    for one in calls:
        planner.plan(one)


def test_a_burst_of_tickets_reads_the_clients_listing_once(tmp_path, fake, api):
    with Outbox.in_cache(tmp_path) as outbox:
        plan(outbox, [missed(n, client_id) for n, client_id in enumerate((1, 2, 3, 1, 6))])
        fake.clear_requests()
        assert outbox.deliver(TicketWriter(api)).sent == 5
    assert fake.count(CLIENTS_READ) == 1
    assert len(fake.data["tickets"]) == 5


def test_a_client_archived_since_the_last_read_is_refused_once_the_listing_is_stale(tmp_path, fake, api):
    clock = Clock()
    writer = TicketWriter(api, clock=clock)
    with Outbox.in_cache(tmp_path) as outbox:
        plan(outbox, [missed(1, 2)])
        assert outbox.deliver(writer).sent == 1
        client_row(fake, 2)["client_archived_at"] = "2026-12-07 10:00:00"
        clock.now += CLIENTS_FRESH + 1
        plan(outbox, [missed(2, 2)])
        assert outbox.deliver(writer).failed == 1
        entry = outbox.get("1765101600.2/missed")
        assert entry.state == FAILED and "client 2 is archived" in entry.reason
    assert fake.count(CLIENTS_READ) == 2


def test_a_client_added_since_the_last_read_is_found_by_reading_again(tmp_path, fake, api):
    writer = TicketWriter(api, clock=Clock())  # the clock stands still: the listing is fresh
    with Outbox.in_cache(tmp_path) as outbox:
        plan(outbox, [missed(1, 1)])
        assert outbox.deliver(writer).sent == 1
        fake.data["clients"].append(dict(client_row(fake, 1), client_id="42", client_name="New Client"))
        plan(outbox, [missed(2, 42), missed(3, 99)])
        assert outbox.deliver(writer).sent == 1
        assert outbox.get("1765101600.2/missed").state == DONE
        missing = outbox.get("1765101600.3/missed")
        assert missing.state == FAILED and "no client 99" in missing.reason
    assert fake.count(CLIENTS_READ) == 3
