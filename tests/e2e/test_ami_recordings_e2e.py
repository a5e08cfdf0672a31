"""The AMI fixtures stay true to Asterisk: each scenario, recorded again now, classifies as its fixture does.

Also the AMI client's first real use: the recorder logs in and originates with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ami_recorder import FIXTURES, SCENARIOS, AMIRecorder
from itflow_bridge.calls.ami_protocol import parse_stream
from itflow_bridge.calls.classify import ClassifiedCall, classify
from itflow_bridge.calls.events import calls_in


def classified(stream: bytes) -> ClassifiedCall:
    calls = calls_in(parse_stream(stream, expect_banner=True))
    assert len(calls) == 1, "one call per recording"
    return classify(calls[0].call_id, calls[0].events)


def comparable(record: ClassifiedCall) -> dict:
    """What must not change between two recordings of one scenario (ids and times do)."""
    voicemail = record.voicemail
    return {
        "outcome": record.outcome,
        "inbound": record.inbound,
        "caller": record.caller_number,
        "dialled": record.dialled_number,
        "rung": record.extensions_rung,
        "answered_by": record.answered_by,
        "transferred_to": record.transferred_to,
        "missed_reason": record.missed_reason,
        "queue": record.queue,
        "dial_statuses": record.dial_statuses,
        "voicemail": None if voicemail is None else (voicemail.mailbox, voicemail.message_file),
        "answered": record.answer is not None,
    }


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fresh_recording_classifies_like_the_fixture(recorder: AMIRecorder, name: str, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    fresh = recorder.record(scenario)
    (tmp_path / f"{name}.txt").write_bytes(fresh)  # kept for a look when this fails
    record = classified(fresh)
    assert record.outcome.value == scenario.expected
    assert comparable(record) == comparable(classified((FIXTURES / f"{name}.txt").read_bytes()))
