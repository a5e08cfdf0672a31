"""The agent screen's ringing board, fed the recorded real Asterisk 22 streams and a few made-up ones."""

from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from itflow_bridge.calls.ami_protocol import Message, parse_stream
from itflow_bridge.screen.ringing import ANSWERED, ENDED, RINGING, STOPPED, TRANSFERRED, RingingBoard

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "ami"
CALLER = "+15551234567"
DAY = 1796619581.0  # the recordings' time: "today" for the board's clock


def recorded(name: str) -> List[Message]:
    return parse_stream((RECORDINGS / name).read_bytes(), expect_banner=True)


def fed(messages, clock=DAY) -> Tuple[RingingBoard, List[Tuple[str, Dict]]]:
    board = RingingBoard(clock=lambda: clock)
    seen: List[Tuple[str, Dict]] = []
    board.subscribe(lambda extension, view: seen.append((extension, view)))
    for message in messages:
        board.on_event(message)
    return board, seen


def states(seen, extension):
    return [(view["state"], view["leg"]) for where, view in seen if where == extension]


def test_an_answered_call_rings_then_is_answered_then_ends_at_its_extension():
    board, seen = fed(recorded("answered.txt"))
    assert {where for where, _view in seen} == {"201"}  # the caller's own Local channel is no phone
    assert states(seen, "201") == [(RINGING, RINGING), (ANSWERED, ANSWERED), (ENDED, ANSWERED)]
    first = seen[0][1]
    assert (first["number"], first["name"]) == (CALLER, "ACME Corp")  # known while it rings
    [call] = board.calls_of("201")
    assert call["answered_by"] == "201" and call["state"] == ENDED and call["ended_at"] >= call["answered_at"]


def test_a_ring_group_rings_every_phone_at_once():
    messages = recorded("ring_group_no_answer.txt")
    board = RingingBoard(clock=lambda: DAY)
    both_ringing = False
    for message in messages:
        board.on_event(message)
        both_ringing = both_ringing or (board.ringing_at("202") and board.ringing_at("205")) != []
    assert both_ringing
    for extension in ("202", "205"):
        [call] = board.calls_of(extension)
        assert (call["state"], call["leg"], call["answered_by"]) == (ENDED, STOPPED, None)
        assert call["number"] == CALLER


def test_a_call_the_caller_gave_up_on_ends_unanswered():
    board, seen = fed(recorded("caller_hung_up_ringing.txt"))
    assert states(seen, "202")[0] == (RINGING, RINGING)
    [call] = board.calls_of("202")
    assert (call["state"], call["leg"], call["answered_by"]) == (ENDED, STOPPED, None)


def test_a_blind_transfer_shows_on_both_pages():
    board, seen = fed(recorded("transfer_after_answer.txt"))
    assert states(seen, "204")[:2] == [(RINGING, RINGING), (ANSWERED, ANSWERED)]
    assert (TRANSFERRED, ANSWERED) in states(seen, "204")
    assert states(seen, "203")[0] == (TRANSFERRED, RINGING)  # the target rings with the caller's number
    assert [view["number"] for where, view in seen if where == "203"][0] == CALLER
    for extension in ("204", "203"):
        [call] = board.calls_of(extension)
        assert (call["answered_by"], call["transferred_to"], call["state"]) == ("204", "203", ENDED)


@pytest.mark.parametrize("name", ["voicemail_left.txt", "voicemail_hung_up_at_greeting.txt", "queue_abandon.txt"])
def test_calls_that_nobody_answered_end_stopped_at_the_phone_that_rang(name):
    board, seen = fed(recorded(name))
    assert {where for where, _view in seen} == {"202"}
    [call] = board.calls_of("202")
    assert (call["state"], call["leg"], call["answered_by"]) == (ENDED, STOPPED, None)


def test_an_internal_call_shows_the_calling_extension():
    board, _seen = fed(recorded("internal.txt"))
    [call] = board.calls_of("201")
    assert (call["number"], call["answered_by"]) == ("202", "201")


def event(name, **headers):
    return Message([("Event", name)] + list(headers.items()))


def freepbx_ring_group():
    """A trunk call to ring group 600: FreePBX dials Local/201@from-internal and Local/202@..., each of which
    dials the phone; 202 answers."""
    call = "1700000000.1"
    trunk = "PJSIP/trunk-00000001"
    out = [event("Newchannel", Channel=trunk, Uniqueid=call, Linkedid=call, CallerIDNum="+4930123456",
                 CallerIDName="Mueller", Timestamp="1700000000.0")]
    for n, ext in ((2, "201"), (4, "202")):
        local = "Local/%s@from-internal-0000000%d" % (ext, n)
        out.append(event("DialBegin", Channel=trunk, Uniqueid=call, Linkedid=call, CallerIDNum="+4930123456",
                         DestChannel=local + ";1", DestUniqueid="1700000000.%d" % n, Timestamp="1700000000.1"))
    for n, ext in ((2, "201"), (4, "202")):
        local = "Local/%s@from-internal-0000000%d" % (ext, n)
        out.append(event("DialBegin", Channel=local + ";2", Uniqueid="1700000000.%d" % (n + 1), Linkedid=call,
                         CallerIDNum="+4930123456", DestChannel="PJSIP/%s-0000000%d" % (ext, n),
                         DestUniqueid="1700000000.%d" % (n + 10), Timestamp="1700000000.2"))
    out += [
        event("DialEnd", Channel="Local/202@from-internal-00000004;2", Linkedid=call, DestUniqueid="1700000000.14",
              DestChannel="PJSIP/202-00000004", DialStatus="ANSWER", Timestamp="1700000003.0"),
        event("DialEnd", Channel="Local/201@from-internal-00000002;2", Linkedid=call, DestUniqueid="1700000000.12",
              DestChannel="PJSIP/201-00000002", DialStatus="CANCEL", Timestamp="1700000003.0"),
        event("DialEnd", Channel=trunk, Linkedid=call, DestUniqueid="1700000000.4",
              DestChannel="Local/202@from-internal-00000004;1", DialStatus="ANSWER", Timestamp="1700000003.1"),
        event("Hangup", Channel=trunk, Uniqueid=call, Linkedid=call, Timestamp="1700000060.0"),
    ]
    return out


def test_local_channels_of_a_ring_group_resolve_to_the_phones_they_dial():
    board, seen = fed(freepbx_ring_group(), clock=1700000000.0)
    assert {where for where, _view in seen} == {"201", "202"}
    assert board.calls_of("201")[0]["leg"] == STOPPED
    assert board.calls_of("202")[0]["answered_by"] == "202"
    assert board.calls_of("201")[0]["answered_by"] == "202"  # the other phone's page says who took it
    assert board.calls_of("201")[0]["number"] == "+4930123456"


def test_a_hop_shown_before_it_dialled_on_is_withdrawn_from_its_page():
    messages = freepbx_ring_group()
    messages[2] = event("DialBegin", Channel="PJSIP/trunk-00000001", Uniqueid="1700000000.1", Linkedid="1700000000.1",
                        DestChannel="Local/600@from-internal-00000004;1", DestUniqueid="1700000000.4")
    messages[4] = event("DialBegin", Channel="Local/600@from-internal-00000004;2", Uniqueid="1700000000.5",
                        Linkedid="1700000000.1", DestChannel="PJSIP/202-00000004", DestUniqueid="1700000000.14")
    board, seen = fed(messages, clock=1700000000.0)
    assert [view.get("withdrawn") for where, view in seen if where == "600"] == [None, True]
    assert board.calls_of("600") == []
    assert board.calls_of("202")[0]["answered_by"] == "202"


def test_an_attended_transfer_reaches_the_target_extensions_page():
    messages = freepbx_ring_group()[:-1] + [
        event("AttendedTransfer", Result="Success", TransfereeLinkedid="1700000000.1",
              TransferTargetChannel="PJSIP/203-00000009", Timestamp="1700000030.0")]
    board, _seen = fed(messages, clock=1700000000.0)
    [call] = board.calls_of("203")
    assert (call["state"], call["transferred_to"], call["leg"]) == (TRANSFERRED, "203", ANSWERED)


def test_a_lost_connection_ends_every_call_in_progress():
    board, _seen = fed(freepbx_ring_group()[:5], clock=1700000000.0)
    assert board.ringing_at("201")
    board.connection_lost()
    assert board.ringing_at("201") == [] and board.calls_of("201")[0]["state"] == ENDED


def test_only_todays_calls_are_listed_and_only_the_last_few():
    clock = [1700000000.0]
    board = RingingBoard(clock=lambda: clock[0], keep=3)
    for n in range(5):
        call = "17000%05d.0" % n
        board.on_event(event("DialBegin", Channel="PJSIP/trunk-1", Linkedid=call, CallerIDNum=str(n),
                             DestChannel="PJSIP/201-%d" % n, DestUniqueid=call + "1", Timestamp="1700000000.0"))
        board.on_event(event("Hangup", Channel="PJSIP/trunk-1", Uniqueid=call, Linkedid=call))
    assert [view["number"] for view in board.calls_of("201")] == ["4", "3", "2"]
    clock[0] += 2 * 86400  # the day after tomorrow: nothing of that day is listed any more
    assert board.calls_of("201") == []
    assert len(board._calls) == 3  # dropped calls are forgotten, not kept
