"""Calls written as tickets: what the outbox sends, ITFlow (fake and real 26.08) stores and gives back.

The check-and-adopt path relies on the marker line surviving ITFlow's storage of
ticket details and replies: read back here from both.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Iterator, Optional

import pytest

from itflow_bridge.api.typed import connect
from itflow_bridge.calls.outbox import DONE, Outbox
from itflow_bridge.calls.tickets import (
    ANSWERED, MISSED, TICKET, CallForTickets, TicketPlanner, TicketWriter, carries_marker, entry_key,
)
from itflow_bridge.core.config import CallsSettings
from real_itflow.conftest import Backend, fake_backend

WHEN = dt.datetime(2026, 12, 7, 10, 0)


@pytest.fixture(params=["fake", "real"])
def v1(request) -> Iterator[Backend]:
    """The JSON API on a database of its own: these tests write tickets, which the read contract
    tests (on the shared sites) must never see."""
    if request.param == "fake":
        fake, side = fake_backend("v1")
        try:
            yield side
        finally:
            fake.stop()
        return
    scratch = request.getfixturevalue("real_itflow").scratch("v1")
    scratch.reset()
    try:
        yield Backend("real", "v1", "", scratch.url, scratch.keys.good, wrong_key=scratch.keys.wrong,
                      expired_key=scratch.keys.expired)
    finally:
        scratch.reset()


def call(call_id: str, outcome: str, client_id: int, contact_id: Optional[int], minutes: int = 0, **extra: object) -> CallForTickets:
    return CallForTickets(call_id=call_id, client_id=client_id, client_name="Client %d" % client_id, outcome=outcome,
                      when=WHEN + dt.timedelta(minutes=minutes), contact_id=contact_id, contact_name="Caller",
                      caller_number="5550001111", rang_seconds=20, **extra)  # type: ignore[arg-type]


def test_tickets_replies_and_resolution_read_back_with_their_markers(v1, tmp_path):
    run = uuid.uuid4().hex[:8]  # real ITFlow lives for the session: this test's calls are its own
    with connect(v1.url, v1.key, read_timeout=30.0) as api, Outbox.in_cache(tmp_path) as outbox:
        planner = TicketPlanner(CallsSettings(answered="ticket", repeat_window=3600, time_step=15), outbox, api)
        writer = TicketWriter(api)
        planner.plan(call(run + ".1", MISSED, 8, None))
        planner.plan(call(run + ".2", MISSED, 8, None, minutes=10))  # a repeat: a reply to the first ticket
        planner.plan(call(run + ".3", ANSWERED, 6, 7, talk_seconds=70, answered_by="Alice"))
        assert outbox.deliver(writer).sent == 4
        assert [e.state for e in outbox.entries()] == [DONE] * 4

        missed = outbox.get(entry_key(run + ".1", MISSED))
        ticket = api.tickets.get(missed.ticket_id)
        assert ticket.ticket_subject == "Missed call from Caller (Client 8)"
        assert int(ticket.ticket_client_id) == 8 and carries_marker(ticket.ticket_details, missed.key)
        assert missed.ticket_number == "%s%s" % (ticket.ticket_prefix, ticket.ticket_number)
        repeat = outbox.get(entry_key(run + ".2", MISSED))
        assert repeat.ticket_id == missed.ticket_id
        [reply] = [r for r in api.ticket_replies.read(ticket_id=missed.ticket_id)
                   if carries_marker(r.ticket_reply, repeat.key)]
        assert "called again at 10:10, rang 20 s" in reply.ticket_reply

        answered = outbox.get(entry_key(run + ".3", ANSWERED))
        resolved = api.tickets.get(answered.ticket_id)
        assert resolved.ticket_status_name == "Resolved" and resolved.ticket_resolved_at is not None
        worked = [str(r.ticket_reply_time_worked) for r in api.ticket_replies.read(ticket_id=answered.ticket_id)]
        assert worked == ["0:15:00"] or worked == ["00:15:00"], worked


def test_an_entry_itflow_already_has_is_adopted_not_sent_again(v1, tmp_path):
    key = entry_key(uuid.uuid4().hex[:8], MISSED)
    with connect(v1.url, v1.key, read_timeout=30.0) as api, Outbox.in_cache(tmp_path) as outbox:
        writer = TicketWriter(api)
        entry = outbox.add(key, TICKET, {"client_id": 8, "ticket_subject": "Adopt me",
                                         "ticket_details": "Missed call<br>\nCall ID: %s" % key})
        outbox._mark_sending(entry)
        sent = writer.send(entry, None)  # the killed process's request, which ITFlow carried out
        result = outbox.deliver(writer)
        assert (result.adopted, result.sent) == (1, 0)
        assert outbox.get(key).ticket_id == sent.ticket_id
        assert [t.ticket_id for t in api.tickets.read(client_id=8) if carries_marker(t.ticket_details, key)] == [
            sent.ticket_id]
