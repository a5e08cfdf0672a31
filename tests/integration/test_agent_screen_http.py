"""The agent screen over a real socket: the page, its SSE stream, revoked links, the allow-list, the log."""

import logging

import pytest

from agent_screen_harness import EventStream, Screen, recorded, until
from itflow_bridge.calls.ami_protocol import Message


@pytest.fixture
def screen(tmp_path):
    made = Screen(tmp_path)
    yield made
    made.close()


def test_the_stream_starts_with_the_whole_state_then_follows_the_call(screen):
    token = screen.links.issue("201")
    messages = recorded("answered.txt")
    ringing = until(messages, lambda m: m.event == "DialBegin" and m.get("DestChannel").startswith("Local/201@"))
    screen.feed(messages[:ringing])
    stream = EventStream(screen.port, "/agent/%s/events" % token)
    assert stream.response.status == 200
    assert stream.response.getheader("Content-Type").startswith("text/event-stream")
    state = stream.next_where(lambda event: True)
    assert state["type"] == "state" and state["extension"] == "201"
    [call] = state["calls"]
    assert (call["state"], call["number"]) == ("ringing", "+15551234567")
    assert state["cards"]["+15551234567"]["client_name"] == "ACME Corp"  # before ITFlow answered
    assert state["cards"]["+15551234567"]["status"] == "loading"
    screen.release.set()
    card = stream.next_where(lambda event: event["type"] == "card")["card"]
    assert (card["status"], card["open_tickets"]) == ("ready", 1)
    answered = until(messages, lambda m: m.event == "DialEnd" and m.get("DialStatus") == "ANSWER")
    screen.feed(messages[ringing:answered])
    update = stream.next_where(lambda event: event["type"] == "call")["call"]
    assert (update["state"], update["answered_by"]) == ("answered", "201")
    screen.feed(messages[answered:])
    assert stream.next_where(lambda event: event["type"] == "call")["call"]["state"] == "ended"
    stream.close()


def test_other_extensions_pages_get_nothing_of_the_call(screen):
    token = screen.links.issue("999")
    stream = EventStream(screen.port, "/agent/%s/events" % token)
    assert stream.next_where(lambda event: True)["calls"] == []
    screen.feed(recorded("answered.txt"))  # rings 201 only
    screen.feed([Message([("Event", "DialBegin"), ("Channel", "PJSIP/trunk-1"), ("Linkedid", "1796619599.1"),
                          ("CallerIDNum", "+15550001111"), ("DestChannel", "PJSIP/999-00000001"),
                          ("DestUniqueid", "1796619599.2")])])
    first = stream.next_where(lambda event: event["type"] == "call")["call"]
    assert (first["number"], first["extension"]) == ("+15550001111", "999")
    stream.close()


def test_a_revoked_link_is_not_found_and_its_open_stream_ends(screen):
    token = screen.links.issue("201")
    assert screen.get("/agent/%s" % token)[0].status == 200
    stream = EventStream(screen.port, "/agent/%s/events" % token)
    stream.next_where(lambda event: event["type"] == "state")
    screen.links.revoke("201")
    assert list(stream.events()) == []  # the server ended the stream (at its next heartbeat)
    stream.close()
    assert screen.get("/agent/%s" % token)[0].status == 404
    assert screen.get("/agent/%s/events" % token)[0].status == 404


def test_unknown_tokens_get_nothing(screen):
    screen.links.issue("201")
    for path in ("/agent/nonsense", "/agent/%s" % ("A" * 32), "/agent/%s/events" % ("A" * 32), "/agent/",
                 "/agent/static/../tokens.py"):
        response, body = screen.get(path)
        assert response.status == 404 and b"201" not in body


def test_the_page_and_its_files_with_headers_that_keep_the_token_home(screen):
    token = screen.links.issue("201")
    response, body = screen.get("/agent/%s" % token)
    assert response.status == 200 and b"/agent/static/app.js" in body
    assert response.getheader("Referrer-Policy") == "no-referrer"
    assert "frame-ancestors 'none'" in response.getheader("Content-Security-Policy")
    assert response.getheader("Access-Control-Allow-Origin") is None
    assert response.getheader("Cache-Control") == "no-store"
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        response, body = screen.get("/agent/static/" + name)
        assert response.status == 200 and response.getheader("Content-Type").startswith(kind) and body


def test_the_allow_list_applies(tmp_path):
    screen = Screen(tmp_path, allow=("10.0.0.0/8",))
    try:
        token = screen.links.issue("201")
        assert screen.get("/agent/%s" % token)[0].status == 403
        assert screen.get("/agent/%s/events" % token)[0].status == 403
    finally:
        screen.close()


def test_the_token_is_never_logged(screen, caplog):
    token = screen.links.issue("201")
    caplog.set_level(logging.DEBUG)
    screen.get("/agent/%s" % token)
    screen.get("/agent/%s/events" % token[:-1] + "x")  # a wrong one: 404, logged too
    stream = EventStream(screen.port, "/agent/%s/events" % token)
    stream.next_where(lambda event: True)
    stream.close()
    assert "GET /agent/<token>" in caplog.text
    assert token not in caplog.text and token[:-1] not in caplog.text


def test_fifty_open_pages_all_get_the_call(screen):
    token = screen.links.issue("201")
    streams = [EventStream(screen.port, "/agent/%s/events" % token) for _ in range(50)]
    for stream in streams:
        stream.next_where(lambda event: event["type"] == "state")
    assert screen.streams.count() == 50
    screen.feed(recorded("answered.txt"))
    for stream in streams:
        assert stream.next_where(lambda event: event["type"] == "call")["call"]["number"] == "+15551234567"
        stream.close()


def test_a_page_beyond_the_limit_is_asked_to_come_back_later(screen):
    token = screen.links.issue("201")
    screen.streams.max_streams = 1
    stream = EventStream(screen.port, "/agent/%s/events" % token)
    stream.next_where(lambda event: event["type"] == "state")
    response, _body = screen.get("/agent/%s/events" % token)
    assert (response.status, response.getheader("Retry-After")) == (503, "30")
    stream.close()
