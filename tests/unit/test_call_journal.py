"""The call journal without threads or sockets: recorded AMI streams in, call log and outbox entries out.

Each test builds a ``CallJournal`` on a temporary cache directory, feeds it the
events of recorded calls (tests/data/ami) through ``on_event`` as the AMI
reader does, and hands the ended calls on with ``hand_on_settled`` (settling
time 0: every event of a recording is fed before the hand-over).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

from ami_recordings import CALLER, INBOUND, MISSED as MISSED_RECORDINGS, as_call, call_id_of, recording
from itflow_bridge.calls.ami_protocol import Message
from itflow_bridge.calls.call_log import CATCH_UP, LIVE, LoggedCall
from itflow_bridge.calls.callers import CallerNotKnownYet, Identify, KnownCaller
from itflow_bridge.calls.classify import ClassifiedCall, Outcome, classify
from itflow_bridge.calls.events import calls_in
from itflow_bridge.calls.journal import DELIVERY_PAUSE, CallJournal, for_tickets
from itflow_bridge.calls.outbox import DONE, Delivered, Entry, Writer
from itflow_bridge.calls.tickets import REPLY, TICKET
from itflow_bridge.core.config import CallsSettings
from itflow_bridge.storage.layout import OUTBOX_DB, OUTBOX_LOCK

ACME = KnownCaller(1, "Acme Corp", 1, "John Smith")


class Directory:
    """``identify`` over a dict of numbers; numbers listed in ``down`` raise as when ITFlow cannot answer."""

    def __init__(self, known: Optional[Dict[str, KnownCaller]] = None) -> None:
        self.known = {CALLER: ACME} if known is None else known
        self.down: "set[str]" = set()
        self.asked: List[str] = []

    def __call__(self, number: str) -> Optional[KnownCaller]:
        self.asked.append(number)
        if number in self.down:
            raise CallerNotKnownYet("ITFlow is not answering")
        return self.known.get(number)


class NumberingWriter(Writer):
    """Delivers every entry as ticket 100, 101, ... (or into its parent's ticket)."""

    def __init__(self) -> None:
        self.sent: List[str] = []

    def send(self, entry: Entry, parent: Optional[Delivered]) -> Delivered:
        self.sent.append(entry.key)
        if parent is not None:
            return Delivered(parent.ticket_id, parent.ticket_number, len(self.sent))
        ticket_id = 99 + len(self.sent)
        return Delivered(ticket_id, "TCK-%d" % ticket_id)

    def find(self, entry: Entry, parent: Optional[Delivered]) -> Optional[Delivered]:
        return None


def make_journal(tmp_path: Path, identify: Optional[Identify] = None, *, catch_up=None, voicemail=None,
                 **settings: object) -> CallJournal:
    return CallJournal(CallsSettings(**settings), tmp_path, identify or Directory(), None, NumberingWriter(),
                       catch_up=catch_up, voicemail=voicemail, settle=0.0)


@pytest.fixture
def journals(tmp_path):
    made: List[CallJournal] = []

    def make(identify: Optional[Identify] = None, **options: object) -> CallJournal:
        journal = make_journal(tmp_path, identify, **options)
        made.append(journal)
        return journal

    yield make
    for journal in made:
        journal.close()


def feed(journal: CallJournal, messages: Sequence[Message]) -> None:
    for message in messages:
        journal.on_event(message)
    journal.hand_on_settled()


def the_call(name: str, number: int = 1) -> List[Message]:
    return as_call(recording(name), number)


def classified(messages: List[Message]) -> ClassifiedCall:
    calls = calls_in(messages)
    assert len(calls) == 1
    return classify(calls[0].call_id, calls[0].events)


def keys(journal: CallJournal) -> List[str]:
    return [entry.key for entry in journal.outbox.entries()]


def only_logged(journal: CallJournal) -> LoggedCall:
    logged = journal.log.recent()
    assert len(logged) == 1
    return logged[0]


# --- what each recorded call makes ------------------------------------------------------------


@pytest.mark.parametrize("name", MISSED_RECORDINGS)
def test_a_missed_call_of_a_client_is_a_ticket(journals, name):
    journal = journals()
    call = the_call(name)
    feed(journal, call)
    call_id = call_id_of(call)
    assert keys(journal) == ["%s/missed" % call_id]
    entry = journal.outbox.entries()[0]
    assert entry.action == TICKET and entry.payload["client_id"] == 1 and entry.payload["ticket_contact_id"] == 1
    assert "Call ID: %s/missed" % call_id in entry.payload["ticket_details"]
    logged = only_logged(journal)
    assert (logged.call_id, logged.caller, logged.client_id, logged.client_name, logged.source, logged.note,
            tuple(logged.keys)) == (call_id, CALLER, 1, "Acme Corp", LIVE, "", ("%s/missed" % call_id,))
    assert logged.outcome == classified(call).outcome.value
    assert journal.journaled == 1


def test_a_voicemail_is_a_voicemail_ticket_with_its_length_and_link(journals):
    asked: List[str] = []

    def voicemail(record: ClassifiedCall):
        asked.append(record.call_id)
        return 31, "https://pbx.example/vm/1"

    journal = journals(voicemail=voicemail)
    call = the_call("voicemail_left")
    feed(journal, call)
    call_id = call_id_of(call)
    assert keys(journal) == ["%s/voicemail" % call_id] and asked == [call_id]
    payload = journal.outbox.entries()[0].payload
    assert payload["ticket_subject"] == "Voicemail from John Smith (Acme Corp)"
    assert "Voicemail of 31 s: " in payload["ticket_details"] and "https://pbx.example/vm/1" in payload["ticket_details"]
    assert only_logged(journal).outcome == "voicemail"


@pytest.mark.parametrize("name", ["answered", "transfer_after_answer"])
def test_an_answered_call_with_answered_off_is_only_logged_with_why(journals, name):
    journal = journals(answered="off")
    feed(journal, the_call(name))
    assert keys(journal) == []
    logged = only_logged(journal)
    assert logged.client_id == 1 and logged.keys == ()
    assert logged.note.startswith("answered calls are not written")


@pytest.mark.parametrize("name", ["answered", "transfer_after_answer"])
def test_an_answered_call_with_answered_ticket_is_a_resolved_ticket_with_time(journals, name):
    journal = journals(answered="ticket", time_step=15)
    call = the_call(name)
    feed(journal, call)
    call_id = call_id_of(call)
    assert keys(journal) == ["%s/answered" % call_id, "%s/answered-time" % call_id]
    ticket, time_reply = journal.outbox.entries()
    assert ticket.action == TICKET and time_reply.action == REPLY and time_reply.parent == ticket.key
    assert time_reply.payload["ticket_reply_time_worked"] == "00:15:00"  # a few seconds: one step
    assert tuple(only_logged(journal).keys) == (ticket.key, time_reply.key)


def test_two_answered_calls_before_any_delivery_are_two_resolved_tickets(journals):
    journal = journals(answered="ticket")  # ITFlow down, or simply not sent yet: the first ticket is in the outbox
    first, second = the_call("answered", 1), the_call("transfer_after_answer", 2)
    feed(journal, first)
    feed(journal, second)
    assert keys(journal) == ["%s/%s" % (call_id_of(call), action) for call in (first, second)
                             for action in ("answered", "answered-time")]
    assert [entry.parent for entry in journal.outbox.entries()] == [
        None, "%s/answered" % call_id_of(first), None, "%s/answered" % call_id_of(second)]


def test_an_answered_call_with_answered_reply_and_no_open_ticket_makes_nothing(journals):
    journal = journals(answered="reply")
    feed(journal, the_call("answered"))
    assert keys(journal) == []
    assert only_logged(journal).note.startswith("answered calls are not written")


def test_an_answered_call_with_answered_reply_goes_to_the_open_ticket(journals):
    journal = journals(answered="reply")
    voicemail, answered = the_call("voicemail_left", 1), the_call("answered", 2)
    feed(journal, voicemail)
    feed(journal, answered)
    ticket_key = "%s/voicemail" % call_id_of(voicemail)
    assert keys(journal) == [ticket_key, "%s/answered" % call_id_of(answered)]
    reply = journal.outbox.entries()[1]
    assert reply.action == REPLY and reply.parent == ticket_key
    assert "answered by 201" in reply.payload["ticket_reply"]
    round_ = journal.outbox.deliver(journal.writer)
    assert round_.sent == 2
    assert [entry.state for entry in journal.outbox.entries()] == [DONE, DONE]
    assert journal.outbox.entries()[1].ticket_id == journal.outbox.entries()[0].ticket_id


def test_an_internal_call_is_logged_as_internal_and_never_looked_up(journals):
    directory = Directory()
    journal = journals(directory)
    feed(journal, the_call("internal"))
    assert keys(journal) == [] and directory.asked == []
    logged = only_logged(journal)
    assert (logged.note, logged.outcome, logged.client_id) == ("internal call", "internal", None)


def test_a_caller_not_in_itflow_is_logged_with_why(journals):
    directory = Directory(known={})
    journal = journals(directory)
    feed(journal, the_call("ring_group_no_answer"))
    assert keys(journal) == [] and directory.asked == [CALLER]
    logged = only_logged(journal)
    assert (logged.note, logged.client_id, logged.caller) == ("caller not in ITFlow", None, CALLER)


def test_a_withheld_number_is_logged_with_why(journals):
    journal = journals(Directory(known={}))
    feed(journal, as_call(recording("ring_group_no_answer"), 1, caller=""))
    assert keys(journal) == []
    assert only_logged(journal).note == "number withheld"


def test_every_inbound_recording_is_journaled_once_each(journals):
    journal = journals(answered="ticket")
    for number, name in enumerate(INBOUND):
        feed(journal, the_call(name, number))
    assert journal.journaled == len(INBOUND)
    logged = {call.call_id: call for call in journal.log.recent()}
    assert len(logged) == len(INBOUND)
    assert all(call.client_id == 1 and call.keys for call in logged.values())


# --- calls the journal must leave for later -------------------------------------------------


def test_a_caller_not_identified_yet_is_not_logged_and_the_catch_up_journals_it(journals):
    call = the_call("caller_hung_up_ringing")
    record = classified(call)
    asked_since: List[float] = []

    def catch_up(since: float) -> Sequence[ClassifiedCall]:
        asked_since.append(since)
        return [record]

    directory = Directory()
    directory.down.add(CALLER)
    journal = journals(directory, catch_up=catch_up)
    feed(journal, call)
    assert journal.log.recent() == [] and keys(journal) == [] and journal.journaled == 0
    assert journal.run_catch_up() == 0  # ITFlow still cannot say who called: left for the next one
    assert journal.log.recent() == []
    directory.down.clear()
    assert journal.run_catch_up() == 1
    logged = only_logged(journal)
    assert (logged.call_id, logged.source, logged.keys) == (record.call_id, CATCH_UP, ("%s/missed" % record.call_id,))
    assert keys(journal) == ["%s/missed" % record.call_id]
    assert journal.run_catch_up() == 0  # known now: never twice
    assert len(asked_since) == 3 and asked_since[0] == asked_since[-1]  # from when journaling began


def test_the_catch_up_is_off_with_catch_up_hours_0(journals):
    called: List[float] = []
    journal = journals(catch_up=lambda since: called.append(since) or [], catch_up_hours=0)
    assert journal.run_catch_up() == 0 and called == []


def test_the_catch_up_leaves_calls_in_progress_to_the_live_events(journals):
    call = the_call("answered")
    record = classified(call)
    journal = journals(catch_up=lambda since: [record])
    for message in call[:len(call) // 2]:  # still going: its end not seen yet
        journal.on_event(message)
    assert journal.run_catch_up() == 0 and journal.log.recent() == []
    for message in call[len(call) // 2:]:
        journal.on_event(message)
    journal.hand_on_settled()
    assert only_logged(journal).source == LIVE


def test_an_unreadable_cdr_does_not_stop_the_journal(journals):
    def catch_up(since: float) -> Sequence[ClassifiedCall]:
        raise OSError("Permission denied")

    journal = journals(catch_up=catch_up)
    assert journal.run_catch_up() == 0
    feed(journal, the_call("ring_group_no_answer"))
    assert len(keys(journal)) == 1


def test_a_call_seen_only_in_part_is_left_to_the_catch_up(journals):
    call = the_call("ring_group_no_answer")
    first_channel = next(index for index, m in enumerate(call) if m.event == "Newchannel")
    cdr: List[ClassifiedCall] = []  # Asterisk writes the call's CDR record as it ends
    journal = journals(catch_up=lambda since: cdr)
    assert journal.catch_up_due  # at start: the calls that ended while the bridge was away
    assert journal.run_catch_up() == 0
    assert not journal.catch_up_due
    feed(journal, call[:first_channel] + call[first_channel + 1:])  # it began before the login
    assert journal.log.recent() == [] and keys(journal) == []
    assert journal.catch_up_due
    cdr.append(classified(call))
    assert journal.run_catch_up() == 1
    assert only_logged(journal).source == CATCH_UP
    assert keys(journal) == ["%s/missed" % call_id_of(call)]


def test_a_call_that_fails_to_journal_does_not_take_the_others_of_its_turn_with_it(journals, caplog):
    def identify(number: str) -> Optional[KnownCaller]:
        if number == CALLER:
            raise RuntimeError("the directory file is damaged")
        return KnownCaller(6, "Big Client Inc")

    journal = journals(identify)
    failing, fine = the_call("ring_group_no_answer", 1), as_call(recording("queue_abandon"), 2, caller="+15557000000")
    for message in failing + fine:  # both end before the journal's next turn
        journal.on_event(message)
    journal.hand_on_settled()
    assert keys(journal) == ["%s/missed" % call_id_of(fine)]
    assert [call.call_id for call in journal.log.recent()] == [call_id_of(fine)]  # the other: the catch-up's
    assert "the journal failed on call %s" % call_id_of(failing) in caplog.text


class CountedWaits:
    """Stands in for the delivery thread's wake-up event: records each wait, stops the loop after ``rounds``."""

    def __init__(self, journal: CallJournal, rounds: int) -> None:
        self.journal = journal
        self.rounds = rounds
        self.waits: List[float] = []

    def clear(self) -> None:
        pass

    def set(self) -> None:
        pass

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        if len(self.waits) == self.rounds:
            self.journal._stopping.set()
        return False


def test_delivery_pauses_while_the_outbox_cannot_be_delivered(journals, tmp_path, caplog):
    journal = journals()
    feed(journal, the_call("ring_group_no_answer"))
    lock = os.open(str(tmp_path / (OUTBOX_DB + OUTBOX_LOCK)), os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process is delivering this outbox
        waits = journal._send = CountedWaits(journal, 3)  # type: ignore[assignment]
        journal._deliver_loop()  # in this thread: three rounds, then it stops
    finally:
        os.close(lock)
    assert waits.waits == [DELIVERY_PAUSE] * 3  # not a busy loop while the other process holds it
    assert caplog.text.count("another process is delivering") == 3
    assert [entry.state for entry in journal.outbox.entries()] == ["pending"]


# --- twice is once ----------------------------------------------------------------------------


def test_the_same_stream_fed_twice_is_one_call_and_one_entry(journals):
    journal = journals()
    call = the_call("queue_abandon")
    feed(journal, call)
    feed(journal, call)
    assert len(journal.log.recent()) == 1 and keys(journal) == ["%s/missed" % call_id_of(call)]
    assert journal.journaled == 1


def test_a_call_journaled_before_a_restart_is_not_journaled_again(journals):
    call = the_call("voicemail_left")
    feed(journals(), call)
    again = journals()  # the daemon restarted on the same cache directory: a fresh tracker
    feed(again, call)
    assert again.journaled == 0
    assert len(again.log.recent()) == 1 and keys(again) == ["%s/voicemail" % call_id_of(call)]
    assert again.journal(classified(call), CATCH_UP) is None


def test_a_call_planned_but_not_logged_is_planned_again_into_the_same_entries(journals, tmp_path):
    call = the_call("answered")
    record = classified(call)
    journal = journals(answered="ticket")
    journal.planner.plan(for_tickets(record, ACME))  # planned, then the process died before the log line
    planned = keys(journal)
    feed(journal, call)
    assert keys(journal) == planned and len(planned) == 2
    assert tuple(only_logged(journal).keys) == tuple(planned)


def test_stop_journals_the_calls_that_ended_but_did_not_settle(tmp_path):
    journal = CallJournal(CallsSettings(), tmp_path, Directory(), None, NumberingWriter(), settle=3600.0)
    try:
        call = the_call("caller_hung_up_ringing")
        for message in call:
            journal.on_event(message)
        journal.hand_on_settled()
        assert journal.log.recent() == []  # still settling
        journal.stop(timeout=0.0)
        assert keys(journal) == ["%s/missed" % call_id_of(call)]
    finally:
        journal.close()


# --- the planner's view of a call ---------------------------------------------------------------


def test_for_tickets_of_a_transfer_names_both_extensions():
    record = classified(recording("transfer_after_answer"))
    call = for_tickets(record, ACME)
    assert call is not None
    assert (call.outcome, call.answered_by, call.rang_where) == ("answered", "204, transferred to 203", "204")
    assert call.talk_seconds == int(round(record.talk_seconds or 0)) and call.talk_seconds > 0
    assert (call.client_id, call.contact_id, call.contact_name) == (1, 1, "John Smith")


def test_for_tickets_of_a_queue_names_the_queue():
    record = classified(recording("queue_abandon"))
    call = for_tickets(record, ACME)
    assert call is not None
    assert (call.outcome, call.rang_where, call.dialled) == ("missed", "queue support", "5550105")
    assert call.rang_seconds == 5  # 4.98 s, rounded


def test_for_tickets_of_an_answered_call():
    record = classified(recording("answered"))
    call = for_tickets(record, ACME)
    assert call is not None
    assert (call.outcome, call.answered_by, call.rang_where, call.rang_seconds) == ("answered", "201", "201", 2)
    assert call.caller_number == CALLER and call.caller_name == "ACME Corp"
    assert call.when.timestamp() == pytest.approx(record.start)


def test_for_tickets_passes_the_voicemail_on():
    call = for_tickets(classified(recording("voicemail_left")), ACME, (31, "https://pbx.example/vm/1"))
    assert call is not None
    assert (call.outcome, call.voicemail_seconds, call.voicemail_link) == ("voicemail", 31,
                                                                            "https://pbx.example/vm/1")


def test_for_tickets_of_an_internal_call_is_none():
    assert for_tickets(classified(recording("internal")), ACME) is None


@pytest.mark.parametrize("outcome, expected", [(Outcome.VOICEMAIL_NO_MESSAGE, "missed"),
                                               (Outcome.QUEUE_ABANDON, "missed"), (Outcome.TRANSFERRED, "answered")])
def test_for_tickets_maps_every_outcome(outcome, expected):
    record = ClassifiedCall("9.1", CALLER, "", "5550101", True, outcome, start=1000.0, end=1010.0)
    call = for_tickets(record, ACME)
    assert call is not None and call.outcome == expected
    assert call.rang_seconds == 0 and call.talk_seconds == 0
