"""From a call to outbox entries, without ITFlow: keys, markers, time worked, repeats and answered calls."""

import datetime as dt

import pytest

from itflow_bridge.calls.outbox import DONE, Outbox
from itflow_bridge.calls.tickets import (
    ANSWERED, MISSED, REPLY, TICKET, VOICEMAIL, CallForTickets, TicketPlanner, carries_marker, entry_key, marker,
    time_worked,
)
from itflow_bridge.core.config import CallsSettings

WHEN = dt.datetime(2026, 12, 7, 10, 0)


def call(n, outcome=MISSED, minutes=0, **extra):
    values = {"call_id": "1765101600.%d" % n, "client_id": 1, "client_name": "Acme Corp", "outcome": outcome,
              "when": WHEN + dt.timedelta(minutes=minutes), "contact_id": 1, "contact_name": "John Smith",
              "caller_number": "5551234567", "rang_seconds": 25}
    values.update(extra)
    return CallForTickets(**values)


@pytest.fixture
def outbox(tmp_path):
    with Outbox.in_cache(tmp_path) as box:
        yield box


@pytest.mark.parametrize("seconds, step, worked", [
    (0, 15, "00:00:00"), (1, 15, "00:15:00"), (900, 15, "00:15:00"), (901, 15, "00:30:00"),
    (3600 * 2 + 1, 60, "03:00:00"), (61, 1, "00:02:00")])
def test_time_worked_is_rounded_up_to_the_step(seconds, step, worked):
    assert time_worked(seconds, step) == worked


def test_the_marker_is_found_only_for_its_own_key():
    key = entry_key("1765101600.1", MISSED)
    details = "Missed call<br>\n%s<br>" % marker(key)
    assert carries_marker(details, key)
    assert not carries_marker(details.replace(".1/", ".12/"), key)
    assert not carries_marker("Missed call<br>\n%s<br>" % marker(entry_key("1765101600.12", MISSED)), key)
    assert not carries_marker(None, key)


def test_a_call_id_must_be_one_line():
    with pytest.raises(ValueError):
        entry_key("1.2\r\nX", MISSED)


def test_a_missed_call_is_a_ticket_carrying_its_marker(outbox):
    [entry] = TicketPlanner(CallsSettings(priority="High", billable=True), outbox).plan(call(1))
    assert (entry.key, entry.action) == ("1765101600.1/missed", TICKET)
    assert entry.payload["ticket_subject"] == "Missed call from John Smith (Acme Corp)"
    assert entry.payload["ticket_priority"] == "High" and entry.payload["ticket_billable"] == 1
    assert entry.payload["ticket_contact_id"] == 1
    assert carries_marker(entry.payload["ticket_details"], entry.key)


def test_a_repeat_within_the_window_replies_to_the_ticket_still_in_the_outbox(outbox):
    planner = TicketPlanner(CallsSettings(repeat_window=1800), outbox)
    first = planner.plan(call(1))[0]
    [repeat] = planner.plan(call(2, minutes=30))
    assert repeat.action == REPLY and repeat.parent == first.key and "ticket_id" not in repeat.payload
    assert "called again at 10:30, rang 25 s" in repeat.payload["ticket_reply"]
    [late] = planner.plan(call(3, minutes=61))  # 31 minutes after the first ticket's call: out of the window
    assert late.action == TICKET


def test_a_voicemail_after_a_missed_call_is_a_reply_with_length_and_link(outbox):
    planner = TicketPlanner(CallsSettings(), outbox)
    planner.plan(call(1))
    [voicemail] = planner.plan(call(2, VOICEMAIL, minutes=1, voicemail_seconds=42,
                                    voicemail_link="https://pbx/vm?a=1&b=2"))
    assert voicemail.action == REPLY
    assert 'Voicemail of 42 s: <a href="https://pbx/vm?a=1&amp;b=2">listen</a>' in voicemail.payload["ticket_reply"]


def test_a_voicemail_without_a_link_says_where_the_message_is(outbox):
    [ticket] = TicketPlanner(CallsSettings(), outbox).plan(
        call(1, VOICEMAIL, voicemail_seconds=7, voicemail_link="mailbox 100@default, message 17-0<1>"))
    assert "Voicemail of 7 s: mailbox 100@default, message 17-0&lt;1&gt;" in ticket.payload["ticket_details"]


@pytest.mark.parametrize("mode, actions", [("off", []), ("reply", []), ("ticket", [TICKET, REPLY])])
def test_an_answered_call_without_an_open_ticket(outbox, mode, actions):
    entries = TicketPlanner(CallsSettings(answered=mode), outbox).plan(
        call(1, ANSWERED, talk_seconds=100, answered_by="Alice"))
    assert [entry.action for entry in entries] == actions
    if actions:
        resolve = entries[1]
        assert resolve.parent == entries[0].key
        assert resolve.payload["ticket_status"] == 4 and resolve.payload["ticket_reply_time_worked"] == "00:15:00"


def test_an_answered_call_replies_with_time_on_the_single_open_ticket(outbox):
    planner = TicketPlanner(CallsSettings(answered="reply", time_step=10), outbox)
    ticket = planner.plan(call(1))[0]
    [reply] = planner.plan(call(2, ANSWERED, minutes=5, talk_seconds=601))
    assert reply.action == REPLY and reply.parent == ticket.key
    assert reply.payload["ticket_reply_time_worked"] == "00:20:00" and "ticket_status" not in reply.payload


def test_planning_the_same_call_again_gives_the_same_entries(outbox):
    planner = TicketPlanner(CallsSettings(answered="ticket"), outbox)
    first = planner.plan(call(1, ANSWERED, talk_seconds=5))
    assert [e.id for e in planner.plan(call(1, ANSWERED, talk_seconds=5))] == [e.id for e in first]
    assert len(outbox.entries()) == 2 and all(e.state != DONE for e in outbox.entries())
