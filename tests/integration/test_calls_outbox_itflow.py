"""Calls become tickets in the fake ITFlow (with ITFlow's writes): once each, in order, across outages and kills."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, List, Optional

import pytest

import fake_writes
from faulty_itflow import FaultyITFlow
from itflow_bridge.api.typed import connect
from itflow_bridge.calls.outbox import DONE, FAILED, SENDING, Outbox
from itflow_bridge.calls.tickets import (
    ANSWERED, MISSED, VOICEMAIL, CallForTickets, TicketPlanner, TicketWriter, carries_marker,
)
from itflow_bridge.core.config import CallsSettings
from itflow_bridge.sample.wire import Reply, Request

WORKER = Path(__file__).resolve().parents[1] / "outbox_worker.py"
WAIT = 60  # seconds an event may take on a loaded machine before the test fails
START = dt.datetime(2026, 12, 7, 10, 0, 0)


def call(n: int, outcome: str = MISSED, client_id: int = 1, minutes: int = 0, **extra: Any) -> CallForTickets:
    values: dict = {"call_id": "1765101600.%d" % n, "client_id": client_id, "client_name": "Acme Corp",
                    "outcome": outcome, "when": START + dt.timedelta(minutes=minutes), "contact_id": 1,
                    "contact_name": "John Smith", "caller_number": "5551234567", "rang_where": "Sales",
                    "rang_seconds": 25}
    values.update(extra)
    return CallForTickets(**values)


def tickets(fake: FaultyITFlow) -> List[dict]:
    return list(fake.data.get("tickets") or [])


def replies(fake: FaultyITFlow) -> List[dict]:
    return list(fake.data.get("ticket_replies") or [])


def with_marker(rows: List[dict], column: str, key: str) -> List[dict]:
    return [row for row in rows if carries_marker(row.get(column), key)]


@pytest.fixture
def fake():
    with FaultyITFlow(writes=fake_writes, generations=("v1",)) as site:
        yield site


@pytest.fixture
def api(fake):
    with connect(fake.url, fake.api_key, read_timeout=30.0) as client:
        yield client


def test_missed_calls_become_tickets_and_a_repeat_a_reply(tmp_path, fake, api):
    with Outbox.in_cache(tmp_path) as outbox:
        planner = TicketPlanner(CallsSettings(repeat_window=3600), outbox, api)
        planner.plan(call(1))
        outbox.deliver(TicketWriter(api))
        planner.plan(call(2, minutes=42))  # within the window, the ticket still open: a reply
        planner.plan(call(3, client_id=2, client_name="O'Brien", contact_id=3, contact_name="Mary O'Brien"))
        assert outbox.deliver(TicketWriter(api)).sent == 2
        first = outbox.get("1765101600.1/missed")
        assert first.state == DONE and first.ticket_number.startswith("TCK-")
        assert [t["ticket_subject"] for t in tickets(fake)] == [
            "Missed call from John Smith (Acme Corp)", "Missed call from Mary O'Brien (O'Brien)"]
        assert tickets(fake)[0]["ticket_priority"] == "Low" and tickets(fake)[0]["ticket_client_id"] == "1"
        reply = replies(fake)
        assert len(reply) == 1 and reply[0]["ticket_reply_ticket_id"] == str(first.ticket_id)
        assert "called again at 10:42, rang 25 s" in reply[0]["ticket_reply"]


def test_a_missed_call_after_the_window_or_once_resolved_is_a_new_ticket(tmp_path, fake, api):
    with Outbox.in_cache(tmp_path) as outbox:
        planner = TicketPlanner(CallsSettings(repeat_window=600), outbox, api)
        planner.plan(call(1))
        outbox.deliver(TicketWriter(api))
        planner.plan(call(2, minutes=11))  # after the window
        outbox.deliver(TicketWriter(api))
        api.tickets.resolve(outbox.get("1765101600.2/missed").ticket_id, client_id=1)
        planner.plan(call(3, minutes=12))  # within the window of ticket 2, which is resolved
        outbox.deliver(TicketWriter(api))
        assert len(tickets(fake)) == 3 and replies(fake) == []


def test_voicemail_and_answered_calls(tmp_path, fake, api):
    with Outbox.in_cache(tmp_path) as outbox:
        planner = TicketPlanner(CallsSettings(answered="ticket", time_step=15), outbox, api)
        planner.plan(call(1, VOICEMAIL, voicemail_seconds=31, voicemail_link="https://pbx.example/vm/1"))
        planner.plan(call(2, ANSWERED, client_id=3, client_name="Müller GmbH", contact_id=4,
                          contact_name="Jürgen Müller", answered_by="Alice", talk_seconds=16 * 60))
        outbox.deliver(TicketWriter(api))
        voicemail, answered = tickets(fake)
        assert voicemail["ticket_subject"] == "Voicemail from John Smith (Acme Corp)"
        assert 'Voicemail of 31 s: <a href="https://pbx.example/vm/1">listen</a>' in voicemail["ticket_details"]
        assert answered["ticket_status"] == "4" and answered["ticket_resolved_at"] is not None
        worked = [r["ticket_reply_time_worked"] for r in replies(fake)]
        assert worked == ["00:30:00"]  # 16 minutes rounded up to 15-minute steps
        # A later answered call of Acme's contact: the voicemail ticket is its one open ticket.
        planner.plan(call(3, ANSWERED, answered_by="Bob", talk_seconds=60, minutes=5))
        outbox.deliver(TicketWriter(api))
        assert len(tickets(fake)) == 2
        last = replies(fake)[-1]
        assert last["ticket_reply_ticket_id"] == voicemail["ticket_id"]
        assert last["ticket_reply_time_worked"] == "00:15:00"


def test_planning_a_call_twice_writes_it_once(tmp_path, fake, api):
    with Outbox.in_cache(tmp_path) as outbox:
        planner = TicketPlanner(CallsSettings(), outbox, api)
        planner.plan(call(1))
        outbox.deliver(TicketWriter(api))
        planner.plan(call(1))
        outbox.deliver(TicketWriter(api))
        assert len(tickets(fake)) == 1


def test_itflow_down_then_back_every_ticket_arrives_once_in_order(tmp_path, fake, api):
    clock = [1000.0]
    with Outbox.in_cache(tmp_path, clock=lambda: clock[0]) as outbox:
        planner = TicketPlanner(CallsSettings(repeat_window=0), outbox, None)
        fake.set_fault("refuse")  # ITFlow down: connections refused
        for n in range(1, 6):
            planner.plan(call(n, minutes=n))
        for _ in range(3):
            assert outbox.deliver(TicketWriter(api)).deferred == 1
            clock[0] = outbox.next_due()
        assert tickets(fake) == []
        fake.set_fault(None)
        assert outbox.deliver(TicketWriter(api)).deferred == 0
        assert [e.state for e in outbox.entries()] == [DONE] * 5
    keys = ["1765101600.%d/missed" % n for n in range(1, 6)]
    assert [[k for k in keys if carries_marker(t["ticket_details"], k)] for t in tickets(fake)] == [[k] for k in keys]


def test_itflow_answering_500_after_the_insert_does_not_double_the_ticket(tmp_path, api):
    class FailsAfterInsert(FaultyITFlow):
        failures = 1

        def _answer(self, request: Request) -> Optional[Reply]:
            reply = super()._answer(request)
            if request.path.endswith("/tickets/create.php") and self.failures:
                self.failures -= 1
                return Reply(500, b"", "text/html")
            return reply

    clock = [1000.0]
    with FailsAfterInsert(writes=fake_writes, generations=("v1",)) as site, \
            connect(site.url, site.api_key, read_timeout=30.0) as client, \
            Outbox.in_cache(tmp_path, clock=lambda: clock[0]) as outbox:
        TicketPlanner(CallsSettings(), outbox, None).plan(call(1))
        assert outbox.deliver(TicketWriter(client)).deferred == 1
        assert outbox.get("1765101600.1/missed").state == SENDING and len(tickets(site)) == 1
        clock[0] = outbox.next_due()
        assert outbox.deliver(TicketWriter(client)).adopted == 1
        assert len(tickets(site)) == 1
        assert outbox.get("1765101600.1/missed").ticket_id == int(tickets(site)[0]["ticket_id"])


@pytest.mark.parametrize("fault, reason", [("bad_key", "refused the API key"),
                                           ("archived", "client 5 is archived")])
def test_a_refusal_is_failed_with_its_reason_and_not_retried(tmp_path, fake, api, fault, reason):
    clock = [1000.0]
    with Outbox.in_cache(tmp_path, clock=lambda: clock[0]) as outbox:
        planner = TicketPlanner(CallsSettings(), outbox, None)
        if fault == "archived":
            planner.plan(call(1, client_id=5, client_name="Archived Ltd", contact_id=6))
        else:
            fake.set_fault(fault)
            planner.plan(call(1))
        assert outbox.deliver(TicketWriter(api)).failed == 1
        entry = outbox.get("1765101600.1/missed")
        assert entry.state == FAILED and reason in entry.reason and fake.api_key not in entry.reason
        fake.set_fault(None)
        fake.clear_requests()
        clock[0] += 10 ** 6
        assert outbox.deliver(TicketWriter(api)).sent == 0
        assert fake.requests == [] and tickets(fake) == []


class HoldsAfterInsert(FaultyITFlow):
    """Inserts a ticket, then holds the answer: the sender is mid-request while ITFlow has the ticket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inserted = threading.Event()
        self.release = threading.Event()
        self.hold = True

    def _answer(self, request: Request) -> Optional[Reply]:
        reply = super()._answer(request)
        if request.path.endswith("/tickets/create.php") and self.hold:
            self.hold = False
            self.inserted.set()
            self.release.wait(WAIT)
            return None  # the connection closes unanswered
        return reply


def run_worker(cache: Path, site: FaultyITFlow) -> "subprocess.Popen[str]":
    return subprocess.Popen([sys.executable, str(WORKER), str(cache), site.url, site.api_key],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ))


def test_a_process_killed_mid_send_is_resumed_without_a_duplicate_or_a_loss(tmp_path):
    with HoldsAfterInsert(writes=fake_writes, generations=("v1",)) as site:
        with Outbox.in_cache(tmp_path) as outbox:
            planner = TicketPlanner(CallsSettings(repeat_window=0), outbox, None)
            for n in range(1, 5):
                planner.plan(call(n, minutes=n))
        worker = run_worker(tmp_path, site)
        try:
            assert site.inserted.wait(WAIT), "the worker never sent a ticket"
            os.kill(worker.pid, signal.SIGKILL)
            assert worker.wait(WAIT) == -signal.SIGKILL
        finally:
            site.release.set()
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        with Outbox.in_cache(tmp_path) as outbox:
            assert [e.state for e in outbox.entries()] == [SENDING, "pending", "pending", "pending"]
        assert len(tickets(site)) == 1  # ITFlow has the first ticket; the killed process never heard so

        resumed = run_worker(tmp_path, site)
        out, _ = resumed.communicate(timeout=WAIT)
        assert resumed.returncode == 0
        assert json.loads(out) == {"sent": 3, "adopted": 1, "failed": 0, "deferred": 0}
        with Outbox.in_cache(tmp_path) as outbox:
            entries = outbox.entries()
        assert [e.state for e in entries] == [DONE] * 4
        keys = ["1765101600.%d/missed" % n for n in range(1, 5)]
        for key, entry in zip(keys, entries):  # each ticket once, and the outbox knows which one
            found = with_marker(tickets(site), "ticket_details", key)
            assert [int(t["ticket_id"]) for t in found] == [entry.ticket_id]
        assert len(tickets(site)) == 4
