"""The agent-screen benchmarks' pure parts: a recorded call cut at its ring, a page's stream parsed."""

from __future__ import annotations

import json

import pytest

from ami_server import Recording
from page_streams import Page


def _blocks(data: bytes) -> list:
    return [block for block in data.split(b"\r\n\r\n") if block]


def test_a_call_is_cut_just_after_its_dialbegin_to_the_extension():
    recording = Recording("answered")
    ringing, rest = recording.ringing(7, "5559100007", "201")
    assert ringing + rest == recording.call(7, "5559100007")
    last = _blocks(ringing)[-1]
    assert last.startswith(b"Event: DialBegin\r\n") and b"\r\nDestChannel: Local/201@" in last
    assert ringing.endswith(b"\r\n\r\n")
    earlier = [block for block in _blocks(ringing)[:-1] if block.startswith(b"Event: DialBegin")]
    assert all(b"DestChannel: Local/201@" not in block for block in earlier)
    assert b"5559100007" in ringing and b"5551234567" not in ringing
    assert b"Linkedid: 1900000007.0" in ringing


def test_a_ring_group_is_cut_after_its_last_phone_rings():
    ringing, _rest = Recording("ring_group_no_answer").ringing(1, "5559200000", "205")
    dialled = [block for block in _blocks(ringing) if block.startswith(b"Event: DialBegin")]
    assert any(b"DestChannel: Local/202@" in block for block in dialled)
    assert b"DestChannel: Local/205@" in dialled[-1]


def test_an_extension_the_call_never_rings_is_an_error():
    with pytest.raises(ValueError):
        Recording("answered").ringing(1, "5559100000", "299")


def _event(name: str, data: dict) -> bytes:
    return ("id: 1\nevent: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode("utf-8")


def test_a_page_notes_its_state_and_the_calls_it_is_told_ring_across_reads():
    page = Page(0, sock=None)
    stream = (b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\nretry: 2000\n\n"
              + _event("state", {"type": "state", "calls": []})
              + _event("call", {"type": "call", "call": {"call_id": "1900000001.0", "state": "ringing"}})
              + _event("call", {"type": "call", "call": {"call_id": "1900000002.0", "state": "answered"}}))
    for offset in range(0, len(stream), 7):  # the bytes arrive in pieces
        page.feed(stream[offset:offset + 7])
    assert page.status == 200 and page.got_state
    assert set(page.ringing) == {"1900000001.0"}


def test_a_refused_page_is_seen_as_refused():
    page = Page(0, sock=None)
    page.feed(b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 30\r\n\r\ntoo many open pages\n")
    assert page.status == 503 and not page.got_state
