"""The outbox's state machine, with a writer in memory: durable before sent, in order, never doubled."""

import os
import sqlite3
from typing import Dict, List, Optional

import pytest

from itflow_bridge.calls.outbox import (
    DONE, FAILED, PENDING, SENDING, Delivered, Entry, Outbox, OutboxBusy, Refused, Writer, backoff,
)
from itflow_bridge.core.errors import ITFlowAuthError, ITFlowUnavailable, ITFlowWriteRefused
from itflow_bridge.storage.layout import FILE_MODE, OUTBOX_DB


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeWriter(Writer):
    """ITFlow in memory: tickets by id with their entry keys; ``down`` and ``refuse`` steer the answers."""

    def __init__(self) -> None:
        self.tickets: Dict[int, str] = {}
        self.sent: List[str] = []
        self.finds: List[str] = []
        self.down = False
        self.refuse: Optional[Exception] = None
        self.crash_after_write = False

    def send(self, entry: Entry, parent: Optional[Delivered]) -> Delivered:
        if self.down:
            raise ITFlowUnavailable("ITFlow could not be reached")
        if self.refuse is not None:
            raise self.refuse
        ticket_id = len(self.tickets) + 1
        self.tickets[ticket_id] = entry.key
        self.sent.append(entry.key)
        if self.crash_after_write:  # ITFlow has it; the process dies before it hears so
            raise KeyboardInterrupt
        return Delivered(ticket_id, "TCK-%d" % ticket_id)

    def find(self, entry: Entry, parent: Optional[Delivered]) -> Optional[Delivered]:
        self.finds.append(entry.key)
        if self.down:
            raise ITFlowUnavailable("ITFlow could not be reached")
        for ticket_id, key in self.tickets.items():
            if key == entry.key:
                return Delivered(ticket_id, "TCK-%d" % ticket_id)
        return None


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path, clock):
    with Outbox.in_cache(tmp_path, clock=clock) as box:
        yield box


def test_an_entry_is_on_disk_before_anything_is_sent(tmp_path, outbox):
    outbox.add("1.1/missed", "ticket", {"client_id": 1})
    other = sqlite3.connect(str(tmp_path / OUTBOX_DB))  # what another process (or a restart) reads
    assert other.execute("SELECT key, state FROM entries").fetchall() == [("1.1/missed", PENDING)]
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert os.stat(tmp_path / OUTBOX_DB).st_mode & 0o777 == FILE_MODE


def test_the_connection_commits_with_synchronous_full(outbox):
    assert outbox._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_the_same_key_is_one_entry(outbox):
    first = outbox.add("1.1/missed", "ticket", {"client_id": 1})
    again = outbox.add("1.1/missed", "ticket", {"client_id": 2})
    assert again.id == first.id and again.payload == {"client_id": 1}
    assert len(outbox.entries()) == 1


def test_entries_are_delivered_in_order_and_done_with_the_ticket(outbox):
    writer = FakeWriter()
    for n in range(5):
        outbox.add("call%d/missed" % n, "ticket", {"client_id": 1})
    result = outbox.deliver(writer)
    assert result.sent == 5 and writer.sent == ["call%d/missed" % n for n in range(5)]
    done = outbox.entries(DONE)
    assert [(e.key, e.ticket_id, e.ticket_number) for e in done] == [
        ("call%d/missed" % n, n + 1, "TCK-%d" % (n + 1)) for n in range(5)]
    assert outbox.deliver(writer).sent == 0 and len(writer.sent) == 5


def test_itflow_down_defers_the_round_with_backoff_and_keeps_the_order(outbox, clock):
    writer = FakeWriter()
    writer.down = True
    outbox.add("a/missed", "ticket", {"client_id": 1})
    outbox.add("b/missed", "ticket", {"client_id": 1})
    result = outbox.deliver(writer)
    assert result.deferred == 1 and result.sent == 0
    head = outbox.get("a/missed")
    assert head.attempts == 1 and head.next_try == clock.now + backoff(1)
    assert "could not be reached" in head.reason
    assert outbox.get("b/missed").state == PENDING  # nothing overtakes the head
    assert outbox.deliver(writer).deferred == 0  # not due yet: nothing tried
    assert outbox.get("a/missed").attempts == 1
    clock.now += backoff(1)
    outbox.deliver(writer)
    assert outbox.get("a/missed").attempts == 2
    assert outbox.next_due() == clock.now + backoff(2) > clock.now + backoff(1)
    writer.down = False
    clock.now += backoff(2)
    assert outbox.deliver(writer).sent == 2
    assert writer.sent == ["a/missed", "b/missed"]


def test_backoff_grows_and_is_capped():
    delays = [backoff(n) for n in range(1, 20)]
    assert delays == sorted(delays) and delays[0] < delays[3] and delays[-1] == delays[-2]


@pytest.mark.parametrize("refusal", [
    ITFlowAuthError("ITFlow refused the API key: invalid", reason="invalid"),
    ITFlowWriteRefused("ITFlow refused the create: missing or invalid fields"),
    Refused("client archived"),
])
def test_a_refusal_is_failed_with_the_reason_and_never_retried_by_itself(outbox, clock, refusal):
    writer = FakeWriter()
    writer.refuse = refusal
    outbox.add("a/missed", "ticket", {"client_id": 1})
    outbox.add("b/missed", "ticket", {"client_id": 2})
    result = outbox.deliver(writer)
    assert result.failed == 2 and result.deferred == 0
    failed = outbox.get("a/missed")
    assert failed.state == FAILED and failed.reason == str(refusal)
    writer.refuse = None
    clock.now += 10 ** 6
    assert outbox.deliver(writer).sent == 0 and writer.sent == []
    assert outbox.retry(["a/missed"]) == 1
    assert outbox.deliver(writer).sent == 1 and writer.sent == ["a/missed"]
    assert outbox.get("b/missed").state == FAILED
    assert outbox.retry() == 1 and outbox.deliver(writer).sent == 1


def test_a_crash_between_sending_and_done_adopts_the_ticket_itflow_has(tmp_path, clock):
    writer = FakeWriter()
    writer.crash_after_write = True
    box = Outbox.in_cache(tmp_path, clock=clock)
    box.add("a/missed", "ticket", {"client_id": 1})
    box.add("b/missed", "ticket", {"client_id": 1})
    with pytest.raises(KeyboardInterrupt):
        box.deliver(writer)
    box.close()
    writer.crash_after_write = False

    restarted = Outbox.in_cache(tmp_path, clock=clock)
    assert restarted.get("a/missed").state == SENDING  # uncertain: ITFlow may have it
    result = restarted.deliver(writer)
    assert (result.adopted, result.sent) == (1, 1)
    assert writer.finds == ["a/missed"]  # only the uncertain entry is looked for
    assert writer.sent == ["a/missed", "b/missed"]  # each once: nothing doubled
    adopted = restarted.get("a/missed")
    assert adopted.state == DONE and adopted.ticket_id == 1 and adopted.ticket_number == "TCK-1"


def test_an_uncertain_entry_itflow_does_not_have_is_sent_again(tmp_path, outbox):
    writer = FakeWriter()
    outbox.add("a/missed", "ticket", {"client_id": 1})
    outbox._mark_sending(outbox.get("a/missed"))  # the request never reached ITFlow
    assert outbox.deliver(writer).sent == 1
    assert writer.finds == ["a/missed"] and writer.sent == ["a/missed"]


def test_a_timeout_mid_send_leaves_the_entry_uncertain(outbox, clock):
    writer = FakeWriter()

    class TimesOutAfterWriting(FakeWriter):
        def send(self, entry, parent):
            writer.send(entry, parent)
            raise ITFlowUnavailable("ITFlow did not answer in 5 s")

    outbox.add("a/missed", "ticket", {"client_id": 1})
    assert outbox.deliver(TimesOutAfterWriting()).deferred == 1
    assert outbox.get("a/missed").state == SENDING
    clock.now += backoff(1)
    assert outbox.deliver(writer).adopted == 1
    assert writer.sent == ["a/missed"]


def test_a_reply_waits_for_its_ticket_and_uses_its_id(outbox):
    seen = []

    class Replies(FakeWriter):
        def send(self, entry, parent):
            seen.append((entry.key, parent))
            return super().send(entry, parent)

    writer = Replies()
    outbox.add("a/missed", "ticket", {"client_id": 1})
    outbox.add("b/missed", "reply", {"client_id": 1}, parent="a/missed")
    outbox.deliver(writer)
    assert seen == [("a/missed", None), ("b/missed", Delivered(1, "TCK-1"))]


def test_a_reply_whose_ticket_failed_fails_too(outbox):
    writer = FakeWriter()
    writer.refuse = Refused("client archived")
    outbox.add("a/missed", "ticket", {"client_id": 1})
    outbox.add("b/missed", "reply", {"client_id": 1}, parent="a/missed")
    outbox.deliver(writer)
    reply = outbox.get("b/missed")
    assert reply.state == FAILED and "client archived" in reply.reason


def test_one_process_delivers_at_a_time(tmp_path, clock):
    first = Outbox.in_cache(tmp_path, clock=clock)
    second = Outbox.in_cache(tmp_path, clock=clock)
    first.add("a/missed", "ticket", {"client_id": 1})

    class Nested(FakeWriter):
        def send(self, entry, parent):
            with pytest.raises(OutboxBusy):
                second.deliver(FakeWriter())
            return super().send(entry, parent)

    assert first.deliver(Nested()).sent == 1
    assert second.deliver(FakeWriter()).sent == 0  # the lock is free again; nothing left


def test_a_refused_look_up_keeps_the_entry_uncertain_through_retry(outbox):
    writer = FakeWriter()
    outbox.add("a/missed", "ticket", {"client_id": 1})
    outbox._mark_sending(outbox.get("a/missed"))
    writer.tickets[7] = "a/missed"  # ITFlow has it, but the key is refused while looking

    class RefusesLookUp(FakeWriter):
        def find(self, entry, parent):
            raise ITFlowAuthError("ITFlow refused the API key: invalid")

    assert outbox.deliver(RefusesLookUp()).failed == 1
    assert outbox.get("a/missed").state == FAILED
    assert outbox.retry() == 1 and outbox.get("a/missed").state == SENDING
    assert outbox.deliver(writer).adopted == 1 and writer.sent == []
    assert outbox.get("a/missed").ticket_id == 7


def test_a_refused_send_is_certain_and_retried_as_a_fresh_send(outbox):
    writer = FakeWriter()
    writer.refuse = ITFlowWriteRefused("ITFlow refused the create")
    outbox.add("a/missed", "ticket", {"client_id": 1})
    outbox.deliver(writer)
    writer.refuse = None
    assert outbox.retry() == 1 and outbox.get("a/missed").state == PENDING
    assert outbox.deliver(writer).sent == 1 and writer.finds == []


def test_an_unexpected_error_while_sending_keeps_the_entry_uncertain(outbox, clock):
    class Broken(FakeWriter):
        def send(self, entry, parent):
            raise ValueError("an answer that could not be read")

    outbox.add("a/missed", "ticket", {"client_id": 1})
    assert outbox.deliver(Broken()).deferred == 1
    entry = outbox.get("a/missed")
    assert entry.state == SENDING and "could not be read" in entry.reason
    clock.now += backoff(1)
    writer = FakeWriter()
    assert outbox.deliver(writer).sent == 1 and writer.finds == ["a/missed"]
