"""The outbox finds a client's entries by an index: planning a call costs the same with 10 entries or 100,000."""

import contextlib
import datetime as dt
import sqlite3

import pytest

from itflow_bridge.calls.outbox import PENDING, Outbox
from itflow_bridge.calls.tickets import MISSED, REPLY, TICKET, CallForTickets, TicketPlanner
from itflow_bridge.core.config import CallsSettings
from itflow_bridge.storage.layout import OUTBOX_DB

WHEN = dt.datetime(2026, 12, 7, 10, 0)

# The entries table as the outbox kept it before entries had a client_id column.
EARLIER_TABLE = """
CREATE TABLE entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, action TEXT NOT NULL, payload TEXT NOT NULL,
    parent TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT '', ticket_id INTEGER, ticket_number TEXT NOT NULL DEFAULT '',
    record_id INTEGER, uncertain INTEGER NOT NULL DEFAULT 0, added REAL NOT NULL, updated REAL NOT NULL
);
CREATE INDEX entries_state ON entries (state, id);
"""


def missed(n, client_id, minutes=0):
    return CallForTickets(call_id="1765101600.%d" % n, client_id=client_id, client_name="Client %d" % client_id,
                          outcome=MISSED, when=WHEN + dt.timedelta(minutes=minutes), caller_number="5551234567")


@pytest.fixture
def outbox(tmp_path):
    with Outbox.in_cache(tmp_path) as box:
        yield box


def test_a_clients_entries_of_one_action_oldest_first(outbox):
    outbox.add("1/missed", TICKET, {"client_id": 7})
    outbox.add("2/missed", TICKET, {"client_id": 8})
    outbox.add("3/answered", REPLY, {"client_id": 7}, parent="1/missed")
    outbox.add("4/missed", TICKET, {"client_id": "7"})  # as a payload read back from JSON may have it
    outbox.add("5/other", TICKET, {"subject": "no client"})
    assert [entry.key for entry in outbox.client_entries(7, TICKET)] == ["1/missed", "4/missed"]
    assert [entry.key for entry in outbox.client_entries(7, REPLY)] == ["3/answered"]
    assert outbox.client_entries(9, TICKET) == []


def test_the_query_uses_the_client_index(tmp_path, outbox):
    with contextlib.closing(sqlite3.connect(str(tmp_path / OUTBOX_DB))) as db:
        plan = " ".join(row[-1] for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM entries WHERE client_id = ? AND action = ? ORDER BY id", (7, TICKET)))
    assert plan.startswith("SEARCH entries USING INDEX entries_client") and "TEMP B-TREE" not in plan


def test_an_outbox_kept_before_the_client_column_gets_it_filled(tmp_path):
    path = tmp_path / OUTBOX_DB
    with contextlib.closing(sqlite3.connect(str(path))) as db:
        db.executescript(EARLIER_TABLE)
        for number, client in ((1, 7), (2, 8), (3, 7)):
            db.execute("INSERT INTO entries (key, action, payload, state, next_try, added, updated)"
                       " VALUES (?, ?, ?, ?, 0, 0, 0)",
                       ("%d/missed" % number, TICKET, '{"client_id": %d}' % client, PENDING))
        db.commit()
    with Outbox(path) as box:
        assert [entry.key for entry in box.client_entries(7, TICKET)] == ["1/missed", "3/missed"]
        box.add("4/missed", TICKET, {"client_id": 7})
        assert [entry.key for entry in box.client_entries(7, TICKET)][-1] == "4/missed"
    with Outbox(path) as again:  # opened again: nothing to add
        assert len(again.client_entries(7, TICKET)) == 3


def test_planning_a_call_reads_only_its_clients_entries(outbox, monkeypatch):
    planner = TicketPlanner(CallsSettings(repeat_window=3600, answered="reply"), outbox)
    for n in range(300):
        planner.plan(missed(n, client_id=100 + n))
    read = []
    select = outbox._select

    def counting(where, args):
        rows = select(where, args)
        read.extend(rows)
        return rows

    monkeypatch.setattr(outbox, "_select", counting)
    [entry] = planner.plan(missed(1000, client_id=5))
    assert entry.action == TICKET
    assert len(read) <= 3  # the call's own keys looked up, then added: none of the 300 other clients' entries
    [repeat] = planner.plan(missed(1001, client_id=5, minutes=10))
    assert repeat.action == REPLY and repeat.parent == entry.key  # the repeat still finds its client's ticket
