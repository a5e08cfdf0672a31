"""The pages' streams: state on connect, updates to the right pages, cards, slow pages dropped."""

import threading

from itflow_bridge.calls.ami_protocol import Message
from itflow_bridge.screen.card import CardService, Details
from itflow_bridge.screen.live import LiveStreams, Stream, encode
from itflow_bridge.screen.ringing import RingingBoard
from itflow_bridge.storage.directory_file import DirectoryEntry

JOHN = DirectoryEntry(kind="contact", name="John Smith", number="+15551234567", record_id=1, client_id=1,
                      client_name="ACME Corp")


def ring(extension, call="1.1", number="+15551234567"):
    return Message([("Event", "DialBegin"), ("Channel", "PJSIP/trunk-1"), ("Linkedid", call),
                    ("CallerIDNum", number), ("DestChannel", "PJSIP/%s-1" % extension),
                    ("DestUniqueid", call + "0")])


def setup(queue_size=50):
    release = threading.Event()

    def fetch(client_id, contact_id):
        release.wait(30)
        return Details()

    board = RingingBoard(clock=lambda: 1.0)
    cards = CardService({JOHN.number: JOHN}.get, fetch, "")
    return board, cards, LiveStreams(board, cards, queue_size=queue_size), release


def drain(stream):
    events = []
    while True:
        event = stream.next(0)
        if event is None:
            return events
        events.append(event)


def test_a_page_gets_its_state_then_its_extensions_calls_with_their_cards():
    board, cards, streams, release = setup()
    board.on_event(ring("201", "1.1"))
    mine, other = streams.open("201"), streams.open("202")
    state = streams.state(mine)
    assert [call["call_id"] for call in state["calls"]] == ["1.1"]
    assert state["cards"]["+15551234567"]["client_name"] == "ACME Corp"
    board.on_event(ring("201", "2.1", "+4930999"))
    events = drain(mine)
    assert [event["type"] for event in events] == ["card", "call"]
    assert events[0]["card"]["known"] is False and events[1]["call"]["call_id"] == "2.1"
    assert drain(other) == []
    release.set()  # ITFlow answers: the card of the caller on the page fills in
    event = mine.next(30)
    assert event is not None and event["type"] == "card"
    assert (event["card"]["number"], event["card"]["status"]) == ("+15551234567", "ready")


def test_a_page_that_reads_too_slowly_loses_its_stream_and_holds_up_nobody():
    board, _cards, streams, release = setup(queue_size=3)
    release.set()
    slow, quick = streams.open("201"), streams.open("201")
    for n in range(10):
        board.on_event(ring("201", "%d.1" % n, "+1555000%04d" % n))
        drain(quick)
    assert slow.closed.is_set() and not quick.closed.is_set()
    slow.put({"type": "call"})  # closed: ignored, never blocks
    assert slow.next(0) is None


def test_closing_wakes_a_waiting_reader():
    stream = Stream("201")
    got = []
    reader = threading.Thread(target=lambda: got.append(stream.next(30)))
    reader.start()
    stream.close()
    reader.join(30)
    assert not reader.is_alive() and got == [None]


def test_an_event_is_one_sse_message():
    assert encode({"type": "call", "call": {"name": "a\nb"}}, 7) == (
        b'id: 7\nevent: call\ndata: {"type":"call","call":{"name":"a\\nb"}}\n\n')


def test_no_more_than_max_streams_are_open_at_once():
    board, cards, _streams, _release = setup()
    streams = LiveStreams(board, cards, max_streams=2)
    first, second = streams.open("201"), streams.open("202")
    assert first is not None and second is not None and streams.open("201") is None
    streams.close(first)
    assert streams.open("201") is not None


def test_a_card_itflow_fills_in_while_the_state_is_made_still_reaches_the_page():
    board, cards, streams, release = setup()
    board.on_event(ring("201", "1.1"))
    stream = streams.open("201")
    arrived = threading.Event()
    changed = cards.on_update

    def update(card):
        changed(card)
        arrived.set()

    card = cards.card
    asked = []

    def card_then_itflow_answers(number, fetch=True):
        made = card(number, fetch)
        if not asked:  # the state's own question: ITFlow answers before the state is sent
            asked.append(number)
            release.set()
            assert arrived.wait(30)
        return made

    cards.on_update = update
    cards.card = card_then_itflow_answers
    state = streams.state(stream)
    assert state["cards"]["+15551234567"]["status"] == "loading"
    [event] = drain(stream)
    assert (event["type"], event["card"]["status"]) == ("card", "ready")


def test_a_card_itflow_fills_in_while_a_call_rings_reaches_the_page_and_is_never_overwritten():
    board, cards, streams, release = setup()
    stream = streams.open("201")
    card = cards.card

    def card_itflow_already_answered(number, fetch=True):
        made = card(number, fetch)
        if fetch:  # a fetch done at once: its card is delivered from inside the call that started it
            cards.on_update(dict(made, status="ready"))
        return made

    cards.card = card_itflow_already_answered
    board.on_event(ring("201", "1.1"))
    release.set()
    shown = [event["card"]["status"] for event in drain(stream) if event["type"] == "card"]
    assert shown == ["ready"]  # the ringing call's own (older) card does not come after it


def test_a_card_itflow_sends_from_its_own_thread_while_a_call_rings_comes_after_the_calls_card():
    board, cards, streams, release = setup()
    stream = streams.open("201")
    card = cards.card
    senders = []

    def card_itflow_answers_meanwhile(number, fetch=True):
        made = card(number, fetch)
        if fetch:
            sender = threading.Thread(target=cards.on_update, args=(dict(made, status="ready"),))
            sender.start()  # ITFlow's thread: its card must reach the page, and after the call's own
            senders.append(sender)
        return made

    cards.card = card_itflow_answers_meanwhile
    board.on_event(ring("201", "1.1"))
    release.set()
    for sender in senders:
        sender.join(30)
    shown = [event["card"]["status"] for event in drain(stream) if event["type"] == "card"]
    assert shown[-1] == "ready", shown
