"""calls.cdr: the CDR file as cdr_custom writes it, and what a call's records say it was.

The fixtures in tests/data/cdr are the lines a real Asterisk 22 wrote for the
scenarios whose AMI streams are in tests/data/ami (tests/e2e/ami_recorder.py
records both from the same call): both must tell the same story.
"""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path, PurePosixPath
from typing import List

import pytest

from call_records import what_both_tell
from itflow_bridge.calls.ami_protocol import parse_stream
from itflow_bridge.calls.cdr import (
    CDR_CUSTOM_DIR, COLUMNS, MAPPING_VALUE, CdrRecord, classify_cdrs, group_by_call, mapping_line, mapping_target, parse_line,
    read_cdr, read_cdr_file,
)
from itflow_bridge.calls.classify import ClassifiedCall, MissedReason, Outcome, classify
from itflow_bridge.calls.events import calls_in
from itflow_bridge.core.config import CallsSettings

DATA = Path(__file__).resolve().parents[1] / "data"
CDR_FIXTURES = DATA / "cdr"
DEFAULT_FIXTURES = CDR_FIXTURES / "unanswered_no"  # Asterisk's (and FreePBX's) default: no unanswered legs
AMI_FIXTURES = DATA / "ami"
EXPECTED = {
    "answered": Outcome.ANSWERED,
    "ring_group_no_answer": Outcome.MISSED,
    "caller_hung_up_ringing": Outcome.MISSED,
    "voicemail_left": Outcome.VOICEMAIL,
    "voicemail_hung_up_at_greeting": Outcome.VOICEMAIL,  # the CDR cannot tell whether a message was left
    "queue_abandon": Outcome.QUEUE_ABANDON,
    "transfer_after_answer": Outcome.TRANSFERRED,
    "internal": Outcome.INTERNAL,
}


# --- the fixtures against the AMI classifier ------------------------------------------------------

def from_cdr(name: str, fixtures: Path = CDR_FIXTURES) -> ClassifiedCall:
    calls = group_by_call(read_cdr_file(fixtures / f"{name}.csv", since=0))
    assert len(calls) == 1, "one call per recording"
    ((call_id, records),) = calls.items()
    return classify_cdrs(call_id, records)


def from_ami(name: str) -> ClassifiedCall:
    calls = calls_in(parse_stream((AMI_FIXTURES / f"{name}.txt").read_bytes(), expect_banner=True))
    assert len(calls) == 1
    return classify(calls[0].call_id, calls[0].events)


def test_every_ami_scenario_has_its_cdr_fixtures():
    assert sorted(path.stem for path in CDR_FIXTURES.glob("*.csv")) == sorted(
        path.stem for path in AMI_FIXTURES.glob("*.txt")) == sorted(EXPECTED) == sorted(
        path.stem for path in DEFAULT_FIXTURES.glob("*.csv"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_without_the_unanswered_legs_the_call_reads_the_same(name):
    """Asterisk's default ``unanswered = no`` drops the phones' unanswered legs, not the caller's Dial."""
    quiet = from_cdr(name, DEFAULT_FIXTURES)
    assert quiet.outcome == EXPECTED[name]
    assert what_both_tell(quiet) == what_both_tell(from_ami(name))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cdr_fixture_tells_what_the_ami_stream_tells(name):
    cdr, ami = from_cdr(name), from_ami(name)
    assert cdr.outcome == EXPECTED[name]
    assert what_both_tell(cdr) == what_both_tell(ami)
    assert cdr.call_id == ami.call_id
    for moment in ("start", "answer", "end"):  # the same clock, the same call: within a second
        ours, theirs = getattr(cdr, moment), getattr(ami, moment)
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert abs(ours - theirs) < 1.0, moment
    if ami.talk_seconds is not None:
        assert cdr.talk_seconds is not None and abs(cdr.talk_seconds - ami.talk_seconds) <= 1.0 + (
            1.0 if cdr.outcome == Outcome.TRANSFERRED else 0.0)  # whole seconds per answered segment


def test_what_the_cdr_cannot_tell_is_left_unknown():
    assert from_ami("caller_hung_up_ringing").missed_reason == MissedReason.CALLER_HUNG_UP
    assert from_cdr("caller_hung_up_ringing").missed_reason is None  # NO ANSWER: a timeout looks the same
    assert from_cdr("ring_group_no_answer").missed_reason is None
    assert from_cdr("voicemail_hung_up_at_greeting").voicemail.message_file is None  # type: ignore[union-attr]
    assert from_cdr("queue_abandon").missed_reason == MissedReason.CALLER_HUNG_UP


# --- the file ---------------------------------------------------------------------------------------

BASE = CdrRecord(
    linkedid="1700000000.1", uniqueid="1700000000.1", sequence=1, start=1700000000.25, answer=None,
    end=1700000010.5, duration=10, billsec=0, src="+15551234567", dst="5550101", dcontext="from-trunk",
    clid='"ACME Corp" <+15551234567>', channel="PJSIP/trunk-00000001", dstchannel="PJSIP/201-00000002",
    lastapp="Dial", lastdata="PJSIP/201,20", disposition="NO ANSWER", did="")


def line(record: CdrRecord) -> str:
    """The record as cdr_custom writes it: text columns quoted (CSV_QUOTE), numbers bare, answer 0 when none."""
    values = asdict(record)
    fields: List[str] = []
    for name in COLUMNS:
        value = values[name]
        if name in ("start", "answer", "end"):
            fields.append("%.6f" % (value or 0))
        elif isinstance(value, int):
            fields.append(str(value))
        else:
            fields.append('"%s"' % str(value).replace('"', '""'))
    return ",".join(fields) + "\n"


def write(path: Path, *records: CdrRecord, tail: str = "") -> Path:
    path.write_text("".join(line(record) for record in records) + tail)
    return path


def test_a_line_reads_back_as_written_quotes_and_commas_included():
    record = replace(BASE, clid='"Smith, "Bob" & Co" <+15550000>', lastdata="PJSIP/201&PJSIP/202,20,tT",
                     answer=1700000002.75, disposition="ANSWERED")
    assert parse_line(line(record).rstrip("\n")) == record
    assert classify_cdrs("x", [replace(record, billsec=8)]).caller_name == 'Smith, "Bob" & Co'


def test_partial_last_line_and_garbage_are_skipped_and_counted(tmp_path):
    good = replace(BASE, linkedid="a")
    half = line(replace(BASE, linkedid="b"))[:40]
    path = write(tmp_path / "cdr.csv", good, tail="not,a,cdr\n\n" + line(good).replace("NO ANSWER", "X\",\"Y") + half)
    reading = read_cdr(path, since=0)
    assert reading.records == [good]
    assert reading.garbage_lines == 2 and reading.partial_line
    path.write_text(path.read_text() + line(replace(BASE, linkedid="b"))[40:])  # Asterisk finished the line
    again = read_cdr(path, since=0)
    assert [record.linkedid for record in again.records] == ["a", "b"] and not again.partial_line


def test_only_records_that_ended_since_and_a_missing_file_is_empty(tmp_path):
    old, recent = replace(BASE, linkedid="old", end=1000.0), replace(BASE, linkedid="new", end=2000.0)
    path = write(tmp_path / "cdr.csv", old, recent)
    assert [record.linkedid for record in read_cdr_file(path, since=1500.0)] == ["new"]
    assert [record.linkedid for record in read_cdr_file(path, since=2000.0)] == ["new"]
    assert read_cdr_file(tmp_path / "absent.csv", since=0) == []


def test_the_rotated_copy_is_read_when_it_was_written_since(tmp_path):
    path = write(tmp_path / "itflow-bridge.csv", replace(BASE, linkedid="now", end=3000.0))
    rotated = write(tmp_path / "itflow-bridge.csv.1", replace(BASE, linkedid="before", end=2000.0),
                    replace(BASE, linkedid="long-ago", end=500.0))
    os.utime(rotated, (2001.0, 2001.0))
    os.utime(path, (3001.0, 3001.0))
    assert [record.linkedid for record in read_cdr_file(path, since=1000.0)] == ["before", "now"]
    assert [record.linkedid for record in read_cdr_file(path, since=2500.0)] == ["now"]  # .1 not opened
    rotated.write_text("garbage\n")
    os.utime(rotated, (2001.0, 2001.0))
    assert read_cdr(path, since=2500.0).garbage_lines == 0  # proof: it was not read
    assert read_cdr(path, since=1000.0).garbage_lines == 1
    path.unlink()  # rotated, Asterisk has not written the new file yet
    assert read_cdr_file(path, since=1000.0) == []


def test_group_by_call_orders_each_call_by_sequence():
    records = [replace(BASE, linkedid="a", sequence=3), replace(BASE, linkedid="b", sequence=2),
               replace(BASE, linkedid="a", sequence=1)]
    grouped = group_by_call(records)
    assert list(grouped) == ["a", "b"] and [record.sequence for record in grouped["a"]] == [1, 3]


# --- the mapping ------------------------------------------------------------------------------------

def test_the_default_cdr_file_is_in_cdr_customs_own_directory():
    # The default needs only a bare file name in the mapping, which every cdr_custom version takes.
    default = str(CallsSettings().cdr_file)
    assert PurePosixPath(default).parent == PurePosixPath(CDR_CUSTOM_DIR)
    assert mapping_target(default) == "itflow-bridge.csv"


def test_mapping_line_has_every_column_in_order_with_epoch_times():
    assert mapping_target("/var/log/asterisk/cdr-custom/itflow-bridge.csv") == "itflow-bridge.csv"
    assert mapping_target("/srv/cdr/calls.csv") == "/srv/cdr/calls.csv"
    assert mapping_line("/var/log/asterisk/cdr-custom/itflow-bridge.csv") == "itflow-bridge.csv => " + MAPPING_VALUE
    expressions = MAPPING_VALUE.split(",")
    assert len(expressions) == len(COLUMNS) + 3  # the CDR(x,u) commas of start, answer and end
    assert "${CDR(start,u)}" in MAPPING_VALUE and "${CSV_QUOTE(${CDR(clid)})}" in MAPPING_VALUE
    positions = [MAPPING_VALUE.index("${CDR(%s" % name) for name in COLUMNS]
    assert positions == sorted(positions)
    assert "\n" not in MAPPING_VALUE and "\r" not in MAPPING_VALUE


# --- classify_cdrs, scenario by scenario (records as a PBX with PJSIP phones writes them) -----------------

def inbound(**changes: object) -> CdrRecord:
    return replace(BASE, **changes)  # type: ignore[arg-type]


def test_busy_and_failed_say_why_no_answer_does_not():
    busy = classify_cdrs("c", [inbound(disposition="BUSY")])
    assert (busy.outcome, busy.missed_reason, busy.dial_statuses) == (Outcome.MISSED, MissedReason.BUSY, ("BUSY",))
    failed = classify_cdrs("c", [inbound(disposition="FAILED")])
    assert failed.missed_reason == MissedReason.UNAVAILABLE
    assert classify_cdrs("c", [inbound()]).missed_reason is None


def test_answered_through_a_ring_group_hop_names_the_phone():
    records = [
        inbound(sequence=1, dstchannel="Local/600@from-internal-00000003;1", lastdata="Local/600@from-internal,20",
                answer=1700000004.0, billsec=6, disposition="ANSWERED"),
        inbound(sequence=2, channel="Local/600@from-internal-00000003;2", dcontext="ext-group",
                dstchannel="PJSIP/201-00000004", answer=1700000004.0, billsec=6, disposition="ANSWERED"),
        inbound(sequence=3, channel="Local/600@from-internal-00000003;2", dcontext="ext-group",
                dstchannel="PJSIP/202-00000005", disposition="NO ANSWER"),
    ]
    call = classify_cdrs("c", records)
    assert (call.outcome, call.answered_by, call.extensions_rung) == (Outcome.ANSWERED, "201", ("201", "202"))
    assert call.talk_seconds == 6.0 and call.answer == 1700000004.0 and call.ring_seconds == 3.75
    assert (call.caller_number, call.caller_name, call.dialled_number) == ("+15551234567", "ACME Corp", "5550101")


def test_freepbx_did_marks_inbound_whatever_the_context():
    # FreePBX's inbound route sets CDR(did); the Dial runs in from-did-direct, not in the trunk's context.
    record = inbound(dcontext="from-did-direct", dst="201", did="5550199", disposition="ANSWERED",
                     answer=1700000003.0, billsec=7)
    call = classify_cdrs("c", [record])
    assert call.inbound and call.dialled_number == "5550199" and call.outcome == Outcome.ANSWERED
    internal = classify_cdrs("c", [replace(record, did="", src="202", clid='"Desk" <202>')])
    assert (internal.outcome, internal.inbound, internal.dialled_number) == (Outcome.INTERNAL, False, "201")
    assert classify_cdrs("c", [replace(record, did="", dcontext="from-pstn")]).inbound


def test_voicemail_after_no_answer_names_the_mailbox():
    call = classify_cdrs("c", [
        inbound(sequence=1, disposition="NO ANSWER"),
        inbound(sequence=2, dstchannel="", lastapp="VoiceMail", lastdata="201@default,u", answer=1700000011.0,
                end=1700000030.0, disposition="ANSWERED"),
    ])
    assert call.outcome == Outcome.VOICEMAIL and call.voicemail is not None
    assert call.voicemail.mailbox == "201@default" and call.voicemail.message_file is None
    assert call.answered_by is None and call.end == 1700000030.0


def test_queue_abandon_or_timeout():
    waited = inbound(sequence=1, lastapp="Queue", lastdata="400,t,,,30", dstchannel="Local/201@from-queue-1;1",
                     end=BASE.start + 12)
    abandon = classify_cdrs("c", [waited])
    assert (abandon.outcome, abandon.queue, abandon.missed_reason) == (
        Outcome.QUEUE_ABANDON, "400", MissedReason.CALLER_HUNG_UP)
    timed_out = classify_cdrs("c", [replace(waited, end=BASE.start + 30)])
    assert timed_out.outcome == Outcome.MISSED
    went_on = classify_cdrs("c", [waited, inbound(sequence=2, lastapp="Playback", lastdata="goodbye", dstchannel="")])
    assert went_on.outcome == Outcome.MISSED
    answered = classify_cdrs("c", [replace(waited, answer=BASE.start + 5, billsec=7, disposition="ANSWERED")])
    assert (answered.outcome, answered.answered_by, answered.queue) == (Outcome.ANSWERED, "201", "400")
