"""The call classifier over raw AMI streams recorded from a real Asterisk 22.

The recordings (tests/data/ami) come from tests/e2e/ami_recorder.py: the caller is
``"ACME Corp" <+15551234567>`` on DIDs 555010x in ``from-trunk``; phones are Local
channels into a context that answers (201, 203, 204) or keeps ringing (202, 205).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from itflow_bridge.calls.ami_protocol import Message, parse_stream
from itflow_bridge.calls.classify import (
    ClassifiedCall, MissedReason, Outcome, classify, extension_of,
)
from itflow_bridge.calls.events import CallTracker, calls_in

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "ami"
CALLER = "+15551234567"

# scenario: (outcome, dialled, rung, answered_by, transferred_to, missed_reason, queue)
EXPECTED = {
    "answered": (Outcome.ANSWERED, "5550101", ("201",), "201", None, None, None),
    "ring_group_no_answer": (Outcome.MISSED, "5550102", ("202", "205"), None, None, MissedReason.RING_TIMEOUT, None),
    "caller_hung_up_ringing": (Outcome.MISSED, "5550103", ("202",), None, None, MissedReason.CALLER_HUNG_UP, None),
    "voicemail_left": (Outcome.VOICEMAIL, "5550104", ("202",), None, None, MissedReason.RING_TIMEOUT, None),
    "voicemail_hung_up_at_greeting": (
        Outcome.VOICEMAIL_NO_MESSAGE, "5550104", ("202",), None, None, MissedReason.RING_TIMEOUT, None),
    "queue_abandon": (Outcome.QUEUE_ABANDON, "5550105", ("202",), None, None, MissedReason.CALLER_HUNG_UP, "support"),
    "transfer_after_answer": (Outcome.TRANSFERRED, "5550106", ("204",), "204", "203", None, None),
    "internal": (Outcome.INTERNAL, "201", ("201",), "201", None, None, None),
}


def recording(name: str) -> List[Message]:
    return parse_stream((RECORDINGS / f"{name}.txt").read_bytes(), expect_banner=True)


def only_call(messages: List[Message]) -> ClassifiedCall:
    calls = calls_in(messages)
    assert len(calls) == 1
    return classify(calls[0].call_id, calls[0].events)


def test_every_recording_has_an_expected_outcome():
    assert sorted(path.stem for path in RECORDINGS.glob("*.txt")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recording_is_classified(name):
    outcome, dialled, rung, answered_by, transferred_to, missed_reason, queue = EXPECTED[name]
    record = only_call(recording(name))
    assert record.outcome is outcome
    assert record.dialled_number == dialled
    assert record.extensions_rung == rung
    assert record.answered_by == answered_by
    assert record.transferred_to == transferred_to
    assert record.missed_reason == missed_reason
    assert record.queue == queue
    assert record.inbound is (name != "internal")
    assert record.caller_number == ("202" if name == "internal" else CALLER)
    assert record.start is not None and record.end is not None and record.start < record.end
    assert (record.answer is not None) is (answered_by is not None)
    assert (record.talk_seconds is not None) is (answered_by is not None)


def test_answered_call_times():
    # Phone 201 rings 2 s, then talks 4 s (the recorder's dialplan).
    record = only_call(recording("answered"))
    assert record.caller_name == "ACME Corp"
    assert record.ring_seconds == pytest.approx(2.0, abs=0.5)
    assert record.talk_seconds == pytest.approx(4.0, abs=0.5)
    assert record.start < record.answer < record.end


def test_caller_gave_up_after_the_originate_timeout():
    record = only_call(recording("caller_hung_up_ringing"))
    assert record.ring_seconds == pytest.approx(4.0, abs=0.8)
    assert record.dial_statuses == ("CANCEL",)


def test_ring_group_rang_both_until_the_dial_timeout():
    record = only_call(recording("ring_group_no_answer"))
    assert record.ring_seconds == pytest.approx(6.0, abs=0.5)
    assert record.dial_statuses == ("NOANSWER", "NOANSWER")


def test_voicemail_left_names_the_mailbox_and_the_message_file():
    voicemail = only_call(recording("voicemail_left")).voicemail
    assert voicemail is not None
    assert voicemail.mailbox == "100@default"
    assert voicemail.message_file == "/var/spool/asterisk/voicemail/default/100/INBOX/msg0000"
    assert voicemail.status == "SUCCESS"
    assert voicemail.seconds is not None and voicemail.seconds > 5


def test_voicemail_without_a_message_has_no_file():
    voicemail = only_call(recording("voicemail_hung_up_at_greeting")).voicemail
    assert voicemail is not None
    assert voicemail.mailbox == "100@default"
    assert voicemail.message_file is None


def test_transfer_talk_time_covers_the_final_extension():
    record = only_call(recording("transfer_after_answer"))
    assert record.talk_seconds == pytest.approx(3.0, abs=0.6)  # 203 talks 3 s; 204 is transferred at once


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_without_cel_a_call_ends_when_its_channels_are_gone(name):
    messages = [m for m in recording(name) if m.event != "CEL"]
    calls = calls_in(messages)
    assert len(calls) == 1
    assert classify(calls[0].call_id, calls[0].events).outcome is EXPECTED[name][0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_with_only_the_call_and_cdr_classes(name):
    """A least-privilege user (read = call,cdr) still gets the same outcome."""
    allowed = {"call", "cdr"}
    messages = [m for m in recording(name)
                if not m.is_event or set(m.get("Privilege").split(",")) & allowed]
    record = only_call(messages)
    assert record.outcome is EXPECTED[name][0]
    assert record.answered_by == EXPECTED[name][3]


def test_without_timestamps_talk_time_comes_from_the_cdr():
    messages = [Message([pair for pair in m.pairs if pair[0] != "Timestamp"]) for m in recording("answered")]
    tracker = CallTracker()
    for message in messages:
        tracker.feed(message)
    ended = tracker.flush()
    record = classify(ended[0].call_id, ended[0].events)
    assert record.outcome is Outcome.ANSWERED
    assert record.start is None and record.answer is None
    assert record.talk_seconds is not None and 3 <= record.talk_seconds <= 5


def test_the_caller_id_flow_marks_a_call_inbound_whatever_its_context():
    messages = recording("internal")
    call = calls_in(messages)[0]
    marker = Message([("Event", "VarSet"), ("Privilege", "dialplan,all"), ("Variable", "ITFLOW_CID_STATUS"),
                      ("Value", "FOUND"), ("Linkedid", call.call_id)])
    record = classify(call.call_id, [marker] + call.events)
    assert record.inbound and record.outcome is Outcome.ANSWERED


def test_events_of_two_interleaved_calls_are_kept_apart():
    first, second = recording("answered"), recording("ring_group_no_answer")
    mixed: List[Message] = []
    for index in range(max(len(first), len(second))):
        mixed += first[index:index + 1] + second[index:index + 1]
    outcomes = sorted(classify(c.call_id, c.events).outcome.value for c in calls_in(mixed))
    assert outcomes == ["answered", "missed"]


def test_late_events_of_a_handed_over_call_start_no_new_call():
    messages = recording("answered")
    tracker = CallTracker()
    for message in messages:
        tracker.feed(message)
    assert len(tracker.flush()) == 1
    for message in messages:
        tracker.feed(message)
    assert tracker.flush() == [] and tracker.unfinished() == []


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _dial_end_after_the_end(name: str) -> List[Message]:
    """The recording with its DialEnd moved behind LINKEDID_END, as Asterisk 22 sometimes posts it."""
    messages = recording(name)
    dial_end = next(m for m in messages if m.event == "DialEnd" and m.get("DialStatus") == "CANCEL")
    rest = [m for m in messages if m is not dial_end]
    end = next(i for i, m in enumerate(rest) if m.get("EventName") == "LINKEDID_END")
    return rest[:end + 1] + [dial_end] + rest[end + 1:]


def test_a_call_is_handed_over_once_it_settled_with_its_late_events():
    clock = _Clock()
    tracker = CallTracker(settle=2.0, clock=clock)
    messages = _dial_end_after_the_end("caller_hung_up_ringing")
    end = next(i for i, m in enumerate(messages) if m.get("EventName") == "LINKEDID_END")
    for message in messages[:end + 1]:
        tracker.feed(message)
    clock.now += 1.9
    assert tracker.settled() == []
    for message in messages[end + 1:]:
        tracker.feed(message)
    clock.now += 0.1
    [call] = tracker.settled()
    record = classify(call.call_id, call.events)
    assert record.dial_statuses == ("CANCEL",)
    assert record.missed_reason is MissedReason.CALLER_HUNG_UP
    assert tracker.settled() == [] and tracker.unfinished() == []


def test_a_recording_keeps_the_events_posted_after_the_end():
    [call] = calls_in(_dial_end_after_the_end("caller_hung_up_ringing"))
    assert classify(call.call_id, call.events).missed_reason is MissedReason.CALLER_HUNG_UP


def test_settled_calls_come_in_the_order_they_ended():
    clock = _Clock()
    tracker = CallTracker(settle=1.0, clock=clock)
    first, second = recording("ring_group_no_answer"), recording("answered")
    for message in second[:5] + first:
        tracker.feed(message)
    clock.now += 0.5
    for message in second[5:]:
        tracker.feed(message)
    clock.now += 0.6
    assert [c.call_id for c in tracker.settled()] == [calls_in(first)[0].call_id]
    clock.now += 0.5
    assert [c.call_id for c in tracker.settled()] == [calls_in(second)[0].call_id]


@pytest.mark.parametrize("channel, extension", [
    ("PJSIP/201-0000000a", "201"),
    ("Local/201@ext-local-00000001;1", "201"),
    ("Local/202@ami-phones-0000001b;2", "202"),
    ("SIP/trunk-a-00000002", "trunk-a"),
    ("DAHDI/1", "1"),
])
def test_extension_names(channel, extension):
    assert extension_of(channel) == extension


def _edited(name: str, drop: str = "", **set_headers: str) -> List[Message]:
    """A recording with one event type dropped and headers of the events that carry them replaced."""
    edited = []
    for message in recording(name):
        if message.event == drop:
            continue
        edited.append(Message([(key, set_headers.get(key, value)) for key, value in message.pairs]))
    return edited


def test_a_queue_that_timed_out_is_missed_not_abandoned():
    messages = _edited("queue_abandon", drop="QueueCallerAbandon")
    call = calls_in(messages)[0]
    timeout = Message([("Event", "VarSet"), ("Variable", "QUEUESTATUS"), ("Value", "TIMEOUT"),
                       ("Linkedid", call.call_id)])
    record = classify(call.call_id, call.events + [timeout])
    assert record.outcome is Outcome.MISSED and record.queue == "support"


@pytest.mark.parametrize("status, reason", [
    ("BUSY", MissedReason.BUSY), ("CHANUNAVAIL", MissedReason.UNAVAILABLE), ("CONGESTION", MissedReason.UNAVAILABLE),
])
def test_missed_reasons_from_the_dial_status(status, reason):
    record = only_call(_edited("ring_group_no_answer", DialStatus=status))
    assert record.outcome is Outcome.MISSED and record.missed_reason is reason
