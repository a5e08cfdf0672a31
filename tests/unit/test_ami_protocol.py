"""The AMI wire parser and action encoder over awkward input: splits, repeats, garbage, bad bytes."""

from __future__ import annotations

import pytest

from itflow_bridge.calls.ami_protocol import (
    MAX_MESSAGE_BYTES, Message, MessageParser, encode_action, parse_stream,
)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
ORIGINATE_RESPONSE = (
    b"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: itflow-7\r\nResponse: Success\r\n"
    b"Channel: PJSIP/201-0000000b\r\nReason: 4\r\n\r\n"
)


def test_banner_then_messages_split_at_every_byte():
    stream = BANNER + b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n" + ORIGINATE_RESPONSE
    parser = MessageParser(expect_banner=True)
    messages = []
    for index in range(len(stream)):
        messages += parser.feed(stream[index:index + 1])
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert [m.get("ActionID") for m in messages] == ["1", "itflow-7"]
    assert messages[0].is_response and not messages[0].is_event


def test_a_message_with_event_and_response_is_an_event():
    [message] = MessageParser().feed(ORIGINATE_RESPONSE)
    assert message.is_event and not message.is_response
    assert message.event == "OriginateResponse"
    assert message.action_id == "itflow-7"
    assert message.get("Response") == "Success"


def test_repeated_keys_are_all_kept_in_order():
    [message] = MessageParser().feed(b"Event: VarSet\r\nVariable: A=1\r\nVariable: B=2\r\nvariable: C=3\r\n\r\n")
    assert message.get("Variable") == "A=1"
    assert message.get_all("VARIABLE") == ["A=1", "B=2", "C=3"]
    assert len(message.pairs) == 4


def test_values_keep_colons_and_empty_values_stay_empty():
    [message] = MessageParser().feed(b"Event: Cdr\r\nStartTime: 2026-12-07 02:14:43\r\nAccountCode: \r\nUserField:\r\n\r\n")
    assert message.get("StartTime") == "2026-12-07 02:14:43"
    assert message.get("AccountCode") == ""
    assert "UserField" in message and message.get("UserField") == ""
    assert message.get("Missing", "default") == "default"


def test_invalid_utf8_is_replaced_not_raised():
    [message] = MessageParser().feed(b"Event: Newchannel\r\nCallerIDName: Caf\xe9 \xff\xfe\r\n\r\n")
    assert message.get("CallerIDName") == "Caf\ufffd \ufffd\ufffd"


def test_garbage_lines_and_empty_blocks_are_skipped():
    data = b"\r\n\r\nnot a header\r\n: no key\r\nEvent: Ping\r\n\r\n\r\n\r\ngarbage only\r\n\r\n"
    messages = MessageParser().feed(data)
    assert messages == [Message([("Event", "Ping")])]


def test_bare_lf_line_ends_are_accepted():
    messages = MessageParser().feed(b"Event: A\nX: 1\n\nEvent: B\n\n")
    assert [m.event for m in messages] == ["A", "B"]
    assert messages[0].get("X") == "1"


def test_an_unterminated_giant_message_is_dropped_and_parsing_recovers():
    parser = MessageParser()
    assert parser.feed(b"Event: Huge\r\nData: " + b"x" * (MAX_MESSAGE_BYTES + 1)) == []
    assert parser.dropped == 1
    assert [m.event for m in parser.feed(b"Event: Next\r\n\r\n")] == ["Next"]


def test_parse_stream_keeps_a_last_message_without_its_blank_line():
    messages = parse_stream(BANNER + b"Event: A\r\n\r\nEvent: B\r\n", expect_banner=True)
    assert [m.event for m in messages] == ["A", "B"]


def test_encode_action_orders_headers_and_keeps_repeats():
    data = encode_action("Originate", "itflow-3", [("Variable", "A=1"), ("Variable", "B=2")])
    assert data == b"Action: Originate\r\nActionID: itflow-3\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"


@pytest.mark.parametrize("headers", [
    [("Variable", "A=1\r\nAction: Command")],
    [("Channel", "PJSIP/201\n")],
    [("Bad\r\nKey", "x")],
    [("Bad: key", "x")],
    [("", "x")],
])
def test_encode_action_refuses_header_injection(headers):
    with pytest.raises(ValueError):
        encode_action("Originate", "itflow-1", headers)
