"""The recorded Asterisk 22 AMI streams (tests/data/ami), as messages, and as many distinct calls as a test needs.

A recording is one call; replaying it N times must make N calls, so ``as_call``
gives every copy ids of its own (Uniqueid, Linkedid and their Dest*/CDR twins)
and, when asked, another caller number.  Timestamps stay as recorded: the
classification reads durations from them, never the wall clock.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional

from itflow_bridge.calls.ami_protocol import Message, parse_stream

RECORDINGS = Path(__file__).resolve().parent / "data" / "ami"
CALLER = "+15551234567"  # the recorder's caller: John Smith of Acme Corp (client 1) in the sample ITFlow
INBOUND = ("answered", "caller_hung_up_ringing", "queue_abandon", "ring_group_no_answer", "transfer_after_answer",
           "voicemail_hung_up_at_greeting", "voicemail_left")
MISSED = ("caller_hung_up_ringing", "queue_abandon", "ring_group_no_answer", "voicemail_hung_up_at_greeting")

_ID = re.compile(r"^(\d+)\.(\d+)$")


def recording(name: str) -> List[Message]:
    """Every event of the recording ``name`` (the login response dropped), in the order Asterisk sent them."""
    messages = parse_stream((RECORDINGS / ("%s.txt" % name)).read_bytes(), expect_banner=True)
    return [message for message in messages if message.is_event]


def _is_id_key(key: str) -> bool:
    return key.lower().endswith(("uniqueid", "linkedid"))


def as_call(messages: List[Message], number: int, caller: Optional[str] = None) -> List[Message]:
    """The messages with ids of call ``number`` (epoch part ``9000000000 + number``) and, if given, the caller."""

    def rewritten(key: str, value: str) -> str:
        found = _ID.match(value) if _is_id_key(key) else None
        if found:
            return "%d.%s" % (9000000000 + number, found.group(2))
        if caller is not None and value == CALLER:
            return caller
        return value

    return [Message([(key, rewritten(key, value)) for key, value in message.pairs]) for message in messages]


def call_id_of(messages: List[Message]) -> str:
    """The Linkedid of the call the messages make (the first channel's)."""
    return next(m.get("Linkedid") for m in messages if m.event == "Newchannel")


def encode(messages: List[Message]) -> bytes:
    """The messages as Asterisk sends them: ``Key: Value`` lines, a blank line after each message."""
    return b"".join(b"".join(("%s: %s\r\n" % pair).encode("utf-8") for pair in message.pairs) + b"\r\n"
                    for message in messages)
