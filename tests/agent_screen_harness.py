"""An agent screen served over a real socket, for the tests: a stub directory (John Smith of ACME Corp at
+15551234567), an ITFlow held until ``release`` is set, a ringing board fed recorded AMI events by the test."""

import http.client
import json
import threading
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from itflow_bridge.calls.ami_protocol import Message, parse_stream
from itflow_bridge.directory.http_server import make_http_server
from itflow_bridge.screen.card import CardService, Details, OpenTicket
from itflow_bridge.screen.live import LiveStreams
from itflow_bridge.screen.ringing import RingingBoard
from itflow_bridge.screen.tokens import AgentLinks
from itflow_bridge.screen.web import AgentRoutes
from itflow_bridge.storage.directory_file import DirectoryEntry

RECORDINGS = Path(__file__).resolve().parent / "data" / "ami"
JOHN = DirectoryEntry(kind="contact", name="John Smith", number="+15551234567", record_id=1, client_id=1,
                      client_name="ACME Corp", title="CEO")
DAY = 1796619581.0


def recorded(name: str) -> List[Message]:
    return parse_stream((RECORDINGS / name).read_bytes(), expect_banner=True)


def until(messages: List[Message], predicate) -> int:
    """The index just after the first message ``predicate`` accepts."""
    return next(index for index, message in enumerate(messages) if predicate(message)) + 1


class Screen:
    def __init__(self, tmp_path: Path, allow=("127.0.0.1",), heartbeat: float = 0.2, click=None):
        self.release = threading.Event()
        self.links = AgentLinks.in_cache(tmp_path)
        self.board = RingingBoard(clock=lambda: DAY)
        self.cards = CardService({JOHN.number: JOHN}.get, self.fetch, "https://itflow.example")
        self.streams = LiveStreams(self.board, self.cards)
        self.routes = AgentRoutes(self.links, self.streams, heartbeat=heartbeat, click=click)
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
