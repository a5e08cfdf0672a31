"""The CDR fixtures stay true to Asterisk: each scenario, recorded again now, reads from the CDR file as
its AMI stream classifies, and as its CDR fixture does.

Also the bridge's cdr_custom mapping's first real use: Asterisk loads it and writes the file the reader reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from call_records import what_both_tell
from ami_recorder import CDR_DEFAULT_FIXTURES, CDR_FIXTURES, SCENARIOS, AMIRecorder
from itflow_bridge.calls.ami_protocol import parse_stream
from itflow_bridge.calls.cdr import classify_cdrs, group_by_call, read_cdr
from itflow_bridge.calls.classify import ClassifiedCall, classify
from itflow_bridge.calls.events import calls_in


def from_cdr(path: Path) -> ClassifiedCall:
    reading = read_cdr(path, since=0)
    assert reading.garbage_lines == 0 and not reading.partial_line
    calls = group_by_call(reading.records)
    assert len(calls) == 1, "one call per recording"
    ((call_id, records),) = calls.items()
    return classify_cdrs(call_id, records)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fresh_cdr_lines_classify_like_the_events_and_the_fixture(recorder: AMIRecorder, name: str,
                                                                   tmp_path: Path) -> None:
    recording = recorder.record_with_cdr(SCENARIOS[name])
    (tmp_path / f"{name}.txt").write_bytes(recording.ami)  # kept for a look when this fails
    fresh = tmp_path / f"{name}.csv"
    fresh.write_bytes(recording.cdr)
    calls = calls_in(parse_stream(recording.ami, expect_banner=True))
    assert len(calls) == 1
    events = classify(calls[0].call_id, calls[0].events)
    record = from_cdr(fresh)
    assert record.call_id == events.call_id
    assert what_both_tell(record) == what_both_tell(events)
    assert what_both_tell(record) == what_both_tell(from_cdr(CDR_FIXTURES / f"{name}.csv"))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_with_asterisks_default_unanswered_no_too(recorder: AMIRecorder, name: str, tmp_path: Path) -> None:
    recorder.cdr_unanswered(False)
    try:
        recording = recorder.record_with_cdr(SCENARIOS[name])
    finally:
        recorder.cdr_unanswered(True)
    fresh = tmp_path / f"{name}.csv"
    fresh.write_bytes(recording.cdr)
    calls = calls_in(parse_stream(recording.ami, expect_banner=True))
    assert len(calls) == 1
    record = from_cdr(fresh)
    assert what_both_tell(record) == what_both_tell(classify(calls[0].call_id, calls[0].events))
    assert what_both_tell(record) == what_both_tell(from_cdr(CDR_DEFAULT_FIXTURES / f"{name}.csv"))
