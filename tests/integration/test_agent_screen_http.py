"""The agent screen over a real socket: the page, its SSE stream, revoked links, the allow-list, the log."""

import http.client
import json
import logging
import threading
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from itflow_bridge.calls.ami_protocol import Message, parse_stream
from itflow_bridge.directory.http_server import make_http_server
from itflow_bridge.screen.card import CardService, Details, OpenTicket
from itflow_bridge.screen.live import LiveStreams
from itflow_bridge.screen.ringing import RingingBoard
from itflow_bridge.screen.tokens import AgentLinks
from itflow_bridge.screen.web import AgentRoutes
from itflow_bridge.storage.directory_file import DirectoryEntry

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "ami"
JOHN = DirectoryEntry(kind="contact", name="John Smith", number="+15551234567", record_id=1, client_id=1,
                      client_name="ACME Corp", title="CEO")
DAY = 1796619581.0


def recorded(name: str) -> List[Message]:
    return parse_stream((RECORDINGS / name).read_bytes(), expect_banner=True)


def until(messages: List[Message], predicate) -> int:
    """The index just after the first message ``predicate`` accepts."""
    return next(index for index, message in enumerate(messages) if predicate(message)) + 1


class Screen:
    def __init__(self, tmp_path: Path, allow=("127.0.0.1",), heartbeat: float = 0.2):
        self.release = threading.Event()
        self.links = AgentLinks.in_cache(tmp_path)
        self.board = RingingBoard(clock=lambda: DAY)
        self.cards = CardService({JOHN.number: JOHN}.get, self.fetch, "https://itflow.example")
        self.streams = LiveStreams(self.board, self.cards)
        self.routes = AgentRoutes(self.links, self.streams, heartbeat=heartbeat)
        self.server = make_http_server("127.0.0.1", 0, lambda number: "", lambda format: None, allow=allow,
                                       extra_routes=self.routes)
        self.server.start()
        self.port = self.server.server_address[1]

    def fetch(self, client_id: int, contact_id: Optional[int]) -> Details:
        self.release.wait(30)
        return Details((OpenTicket(12, "TCK-12", "Printer jams"),), False, None)

    def feed(self, messages: List[Message]) -> None:
        for message in messages:
            self.board.on_event(message)

    def get(self, path: str):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response, body

    def close(self) -> None:
        self.release.set()
        self.streams.close_all()
        self.server.shutdown()
        self.server.server_close()
        self.links.close()


class EventStream:
    """An SSE client reading one event at a time."""

    def __init__(self, port: int, path: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.connection.request("GET", path, headers={"Accept": "text/event-stream"})
        self.response = self.connection.getresponse()

    def events(self) -> Iterator[Dict]:
        fields: Dict[str, str] = {}
        while True:
            line = self.response.readline()
            if not line:
                return
            text = line.decode("utf-8").rstrip("\n")
            if text:
                name, _, value = text.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
            elif "data" in fields:
                yield dict(json.loads(fields["data"]), _id=fields.get("id"))
                fields = {}
            else:
                fields = {}

    def next_where(self, predicate) -> Dict:
        for event in self.events():
            if predicate(event):
                return event
        raise AssertionError("the stream ended first")

    def close(self) -> None:
        self.connection.close()


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
