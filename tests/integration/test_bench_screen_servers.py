"""The agent-screen benchmarks' servers and clients over real sockets: the SSE floor and the open pages."""

from __future__ import annotations

import http.client
import threading
import time

from agent_screen_harness import Screen, recorded, until
from page_streams import Pages
from polling import wait_for
from screen_floor import FloorServer


def test_the_floor_pushes_a_name_to_its_open_stream_at_once():
    server = FloorServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        page = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        page.request("GET", "/")
        assert b"new EventSource(\"/events\")" in page.getresponse().read()
        stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        stream.request("GET", "/events")
        response = stream.getresponse()
        assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
        assert server.wait_stream(10.0) == 1
        before = time.time()
        written_at = server.push("Bench Client 3")
        assert before <= written_at <= time.time()
        lines = [response.readline() for _ in range(5)]
        assert lines[2:4] == [b"id: 1\n", b"event: call\n"]
        assert lines[4] == b'data: {"client_name": "Bench Client 3"}\n'
        stream.close()
    finally:
        server.shutdown()
        server.server_close()


def test_the_open_pages_see_a_ring_on_their_extension_only(tmp_path):
    screen = Screen(tmp_path)
    pages = Pages()
    try:
        extensions = ["201", "202", "201", "202", "201"]
        paths = ["/agent/%s/events" % screen.links.issue(extension) for extension in extensions]
        assert pages.open(screen.port, paths, 30.0) == 5
        assert screen.streams.count() == 5
        messages = recorded("answered.txt")
        ringing = until(messages, lambda m: m.event == "DialBegin" and m.get("DestChannel").startswith("Local/201@"))
        call = messages[ringing - 1].get("Linkedid")
        screen.feed(messages[:ringing])
        wait_for(lambda: len(pages.seen(call)["streams"]) == 3, "the ring on the pages of 201")
        seen = pages.seen(call)
        assert seen["streams"] == [0, 2, 4] and seen["last_at"] is not None
        assert pages.close() == 5
    finally:
        pages.close()
        screen.close()
