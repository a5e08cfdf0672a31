"""The ringing board and click to call: the agent's phone rung for their own click is not a caller."""

from typing import Dict, List, Tuple

from itflow_bridge.calls.ami_protocol import Message
from itflow_bridge.calls.originate import CLICK_VARIABLE, originate_headers
from itflow_bridge.screen.ringing import RINGING, STOPPED, RingingBoard

NOW = 1700000000.0
CLICK = "1700000000.1"  # the Originate's channel: the call's first channel
HOP = "Local/200@originate-skipvm-00000001"  # FreePBX's click-to-call channel, which dials the phone
PHONE = "PJSIP/200-00000002"


def event(name: str, **headers: str) -> Message:
    return Message([("Event", name)] + list(headers.items()))


def caller_id_of_the_originate() -> Tuple[str, str]:
    """(name, number) the Originate gives the agent's phone: what a caller's card would show."""
    value = dict(originate_headers("200", "+15550199000"))["CallerID"]
    name, number = value.split(" <")
    return name.strip('"'), number.rstrip(">")


def the_variable() -> Message:
    return event("VarSet", Channel=HOP + ";1", Uniqueid=CLICK, Linkedid=CLICK, Variable=CLICK_VARIABLE, Value="1")


def rings_then_dials(variable_seen_late: bool = False) -> List[Message]:
    """A click to call as Asterisk reports it on FreePBX: 200's phone rings, answers, the number is dialled."""
    name, number = caller_id_of_the_originate()
    out = [
        event("Newchannel", Channel=HOP + ";1", Uniqueid=CLICK, Linkedid=CLICK, CallerIDNum=number,
              CallerIDName=name, Timestamp="1700000000.0"),
        event("Newchannel", Channel=HOP + ";2", Uniqueid="1700000000.2", Linkedid=CLICK, CallerIDNum=number,
              CallerIDName=name, Timestamp="1700000000.0"),
        event("DialBegin", DestChannel=HOP + ";1", DestUniqueid=CLICK, DestLinkedid=CLICK, Timestamp="1700000000.0"),
        event("DialBegin", Channel=HOP + ";2", Uniqueid="1700000000.2", Linkedid=CLICK, CallerIDNum=number,
              CallerIDName=name, DestChannel=PHONE, DestUniqueid="1700000000.3", Timestamp="1700000000.1"),
        event("DialEnd", Channel=HOP + ";2", Linkedid=CLICK, DestChannel=PHONE, DestUniqueid="1700000000.3",
              DialStatus="ANSWER", Timestamp="1700000003.0"),
        event("BridgeEnter", Channel=PHONE, Uniqueid="1700000000.3", Linkedid=CLICK, Timestamp="1700000003.0"),
        event("Newexten", Channel=HOP + ";1", Uniqueid=CLICK, Linkedid=CLICK, Context="from-internal",
              Exten="+15550199000", Timestamp="1700000003.1"),
        event("Hangup", Channel=HOP + ";1", Uniqueid=CLICK, Linkedid=CLICK, Timestamp="1700000060.0"),
    ]
    out.insert(4 if variable_seen_late else 1, the_variable())
    return out


def fed(messages: List[Message]) -> Tuple[RingingBoard, List[Tuple[str, Dict]]]:
    board = RingingBoard(clock=lambda: NOW)
    seen: List[Tuple[str, Dict]] = []
    board.subscribe(lambda extension, view: seen.append((extension, view)))
    for message in messages:
        board.on_event(message)
    return board, seen


def test_the_agents_own_click_to_call_never_shows_on_their_page():
    board, seen = fed(rings_then_dials())
    assert seen == []
    assert board.calls_of("200") == []


def test_without_the_variable_the_same_call_would_pop_as_a_caller():
    """What the variable prevents: the agent's own number and "Call to ..." as a ringing caller's card."""
    board, seen = fed([message for message in rings_then_dials() if message.event != "VarSet"])
    first = seen[0][1]
    assert (seen[0][0], first["number"], first["name"], first["leg"]) == (
        "200", "200", "Call to +15550199000", RINGING)


def test_a_click_to_call_seen_after_its_phone_rang_is_withdrawn_from_the_page():
    board, seen = fed(rings_then_dials(variable_seen_late=True))
    assert [(where, view["leg"], view.get("withdrawn")) for where, view in seen] == [
        ("200", RINGING, None), ("200", STOPPED, True)]
    assert board.calls_of("200") == []


def test_the_variable_on_a_later_channel_of_a_call_hides_nothing():
    """Only the Originate's own channel (the call's first) marks a click; a dialplan's Set elsewhere does not."""
    messages = rings_then_dials()
    messages[1] = event("VarSet", Channel=PHONE, Uniqueid="1700000000.3", Linkedid=CLICK, Variable=CLICK_VARIABLE,
                        Value="1")
    board, seen = fed(messages)
    assert [where for where, _view in seen][:1] == ["200"]
    assert board.calls_of("200")[0]["answered_by"] == "200"
