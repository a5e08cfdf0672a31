"""The agents' pages' live streams: Server-Sent Events, one stream per open page.

A page gets its extension's whole state when it connects (calls of today and
their cards), then every change: ``call`` (a call's view changed), ``card``
(ITFlow's part of a caller's card arrived).  A reconnecting browser gets the
whole state again, so nothing is missed whatever ``Last-Event-ID`` it sends.

Each stream has a bounded queue filled without waiting: a page that reads too
slowly (or a dead connection) loses its stream, never holds up the AMI reader
or the other pages; its browser reconnects and starts from the whole state.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
from typing import Any, Dict, List, Optional

from .card import Card, CardService
from .ringing import ENDED, RingingBoard, View

log = logging.getLogger(__name__)

QUEUE_SIZE = 200  # events a page may lag behind before its stream is dropped
HEARTBEAT = 15.0  # seconds between comments on a quiet stream (proxies, dead peers, revoked links)
RETRY_MS = 2000  # the browser's wait before reconnecting
# Open pages at once: each holds one HTTP server thread (about 35 kB of memory measured, plus its stack's
# address space); beyond it a page is asked to come back later rather than the daemon growing without bound.
MAX_STREAMS = 500

Event = Dict[str, Any]


class Stream:
    """One open page: its events, in order, until ``closed``."""

    def __init__(self, extension: str, size: int = QUEUE_SIZE):
        self.extension = extension
        self.numbers: "set[str]" = set()  # callers on this page: their card updates concern it
        self._queue: "queue.Queue[Optional[Event]]" = queue.Queue(size)
        self.closed = threading.Event()

    def put(self, event: Event) -> None:
        if self.closed.is_set():
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.info("agent screen: a page of extension %s reads too slowly: its stream is dropped", self.extension)
            self.close()

    def next(self, timeout: float) -> Optional[Event]:
        """The next event, or None after ``timeout`` seconds or once closed."""
        if self.closed.is_set():
            return None
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.closed.set()
        try:
            self._queue.put_nowait(None)  # wakes a reader waiting in next()
        except queue.Full:
            pass


class LiveStreams:
    """Every open page, fed by the ringing board and the card service."""

    def __init__(self, board: RingingBoard, cards: CardService, *, queue_size: int = QUEUE_SIZE,
                 max_streams: int = MAX_STREAMS):
        self.board = board
        self.max_streams = max_streams
        self.cards = cards
        self.queue_size = queue_size
        self._lock = threading.Lock()
        # Card deliveries one at a time, so a page never gets an older card after a newer one; reentrant:
        # a fetch that is already done delivers its card from inside the call that started it.
        self._delivery = threading.RLock()
        self._card_updates = 0  # card updates delivered so far
        self._streams: List[Stream] = []
        self._ids = itertools.count(1)
        board.subscribe(self._call_changed)
        cards.on_update = self._card_changed

    def open(self, extension: str) -> Optional[Stream]:
        """A new stream for a page of ``extension``; None when ``max_streams`` are open already."""
        stream = Stream(extension, self.queue_size)
        with self._lock:
            if len(self._streams) >= self.max_streams:
                return None
            self._streams.append(stream)
        return stream

    def close(self, stream: Stream) -> None:
        stream.close()
        with self._lock:
            if stream in self._streams:
                self._streams.remove(stream)

    def close_all(self) -> None:
        with self._lock:
            streams, self._streams = self._streams, []
        for stream in streams:
            stream.close()

    def count(self) -> int:
        with self._lock:
            return len(self._streams)

    def state(self, stream: Stream) -> Event:
        """The whole state of ``stream``'s extension (sent first on every connection)."""
        calls = self.board.calls_of(stream.extension)
        cards: Dict[str, Card] = {}
        for call in calls:
            number = call["number"]
            if number and number not in cards:
                stream.numbers.add(number)  # before the fetch starts: an answer coming at once reaches this page too
                cards[number] = self.cards.card(number, fetch=call["state"] != ENDED)
        return {"type": "state", "extension": stream.extension, "calls": calls, "cards": cards}

    def event_id(self) -> int:
        return next(self._ids)

    # --- fed by the board and the cards (their threads) ------------------------------

    def _call_changed(self, extension: str, view: View) -> None:
        streams = self._of(extension)
        if not streams:
            return
        number = view["number"]
        with self._delivery:
            # The pages new to this caller are told of the caller's card updates before the fetch starts:
            # an answer coming at once (on ITFlow's thread, or on this one) reaches them too.
            new = [stream for stream in streams if number and number not in stream.numbers]
            for stream in new:
                stream.numbers.add(number)
            updates = self._card_updates
            card = self.cards.card(number, fetch=view["state"] != ENDED) if number else None
            current = self._card_updates == updates  # else a newer card of it reached them meanwhile
            for stream in streams:
                if card is not None and current and stream in new:
                    stream.put({"type": "card", "card": card})
                stream.put({"type": "call", "call": view})

    def _card_changed(self, card: Card) -> None:
        with self._delivery:
            self._card_updates += 1
            with self._lock:
                streams = [stream for stream in self._streams if card["number"] in stream.numbers]
            for stream in streams:
                stream.put({"type": "card", "card": card})

    def _of(self, extension: str) -> List[Stream]:
        with self._lock:
            return [stream for stream in self._streams if stream.extension == extension]


def encode(event: Event, event_id: int) -> bytes:
    """One SSE message (``id``, ``event``, one ``data`` line of JSON)."""
    data = json.dumps(event, separators=(",", ":"), default=str)
    return ("id: %d\nevent: %s\ndata: %s\n\n" % (event_id, event["type"], data)).encode("utf-8")


def comment(text: str) -> bytes:
    return (": %s\n\n" % text.replace("\n", " ")).encode("utf-8")
