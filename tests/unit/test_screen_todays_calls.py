"""Today's calls kept on disk: a new board (a restarted daemon's) lists what the old one listed, nothing older."""

import logging
import sqlite3
import stat
from pathlib import Path
from typing import Dict, List, Tuple

from itflow_bridge.calls.ami_protocol import Message, parse_stream
from itflow_bridge.screen.card import CardService, Details
from itflow_bridge.screen.live import LiveStreams
from itflow_bridge.screen.ringing import ENDED, RINGING, RingingBoard
from itflow_bridge.screen.todays_calls import TodaysCalls, keep_todays_calls
from itflow_bridge.storage.directory_file import DirectoryEntry
from itflow_bridge.storage.layout import FILE_MODE, TODAYS_CALLS_DB

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "ami"
DAY = 1796619581.0  # the recordings' time: "today" for the board's clock
WAIT = 30.0
JOHN = DirectoryEntry(kind="contact", name="John Smith", number="+15551234567", record_id=1, client_id=1,
                      client_name="ACME Corp")


def recorded(name: str) -> List[Message]:
    return parse_stream((RECORDINGS / name).read_bytes(), expect_banner=True)


def event(name, **headers):
    return Message([("Event", name)] + list(headers.items()))


def ring(extension: str, call: str, number: str = "+15551234567", when: float = DAY) -> Message:
    return event("DialBegin", Channel="PJSIP/trunk-1", Linkedid=call, CallerIDNum=number,
                 DestChannel="PJSIP/%s-%s" % (extension, call), DestUniqueid=call + "1", Timestamp=repr(when))


def hang_up(call: str, when: float = DAY + 60) -> Message:
    return event("Hangup", Channel="PJSIP/trunk-1", Uniqueid=call, Linkedid=call, Timestamp=repr(when))


class Clock:
    def __init__(self, now: float = DAY) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def daemon(cache: Path, clock: Clock, keep: int = 50) -> Tuple[RingingBoard, TodaysCalls]:
    """What a daemon starts with: a board, and the store giving it the calls kept before."""
    board = RingingBoard(clock=clock, keep=keep)
    store = keep_todays_calls(board, cache)
    assert store is not None
    return board, store


def feed(board: RingingBoard, store: TodaysCalls, messages: List[Message]) -> None:
    for message in messages:
        board.on_event(message)
    assert store.flush(WAIT)


def rows(cache: Path) -> List[Tuple[str, str]]:
    with sqlite3.connect(str(cache / TODAYS_CALLS_DB)) as db:
        return [(str(row[0]), str(row[1])) for row in
                db.execute("SELECT extension, call_id FROM todays_calls ORDER BY started, call_id")]


def test_a_restarted_board_lists_the_calls_that_ended_today_as_they_were_shown(tmp_path):
    clock = Clock()
    board, store = daemon(tmp_path, clock)
    for name in ("answered.txt", "ring_group_no_answer.txt", "transfer_after_answer.txt"):
        feed(board, store, recorded(name))
    before: Dict[str, List[Dict]] = {ext: board.calls_of(ext) for ext in ("201", "202", "203", "204", "205")}
    assert all(len(calls) == 1 and calls[0]["state"] == ENDED for calls in before.values())
    store.close()

    again, store = daemon(tmp_path, clock)
    assert {ext: again.calls_of(ext) for ext in before} == before
    assert stat.S_IMODE((tmp_path / TODAYS_CALLS_DB).stat().st_mode) == FILE_MODE
    feed(again, store, [ring("201", "1796700000.1")])  # the restarted board follows new calls as before
    assert [view["state"] for view in again.calls_of("201")] == [RINGING, ENDED]
    assert again.calls_of("201")[1] == before["201"][0]
    store.close()


def test_the_pages_whole_state_on_connect_includes_the_calls_kept_before(tmp_path):
    clock = Clock()
    board, store = daemon(tmp_path, clock)
    feed(board, store, recorded("answered.txt"))
    store.close()

    again, store = daemon(tmp_path, clock)
    streams = LiveStreams(again, CardService({JOHN.number: JOHN}.get, lambda client, contact: Details(), ""))
    state = streams.state(streams.open("201"))
    [call] = state["calls"]
    assert (call["state"], call["answered_by"], call["number"]) == (ENDED, "201", JOHN.number)
    assert state["cards"][JOHN.number]["client_name"] == "ACME Corp"
    store.close()


def test_a_call_ringing_at_the_restart_is_not_kept_and_its_later_events_show_nothing(tmp_path):
    messages = recorded("answered.txt")
    answered = next(n for n, m in enumerate(messages) if m.event == "DialEnd" and m.get("DialStatus") == "ANSWER")
    clock = Clock()
    board, store = daemon(tmp_path, clock)
    feed(board, store, messages[:answered])
    assert board.ringing_at("201")
    store.close()  # stopped while it rings: only ended calls are kept
    assert rows(tmp_path) == []

    again, store = daemon(tmp_path, clock)
    feed(again, store, messages[answered:])  # answered and ended: the new board never saw it ring
    assert again.calls_of("201") == [] and rows(tmp_path) == []
    store.close()


def test_a_phone_rung_again_after_the_restart_shows_the_call_from_then_on(tmp_path):
    clock = Clock()
    board, store = daemon(tmp_path, clock)
    feed(board, store, [ring("202", "1796620000.1")])  # ringing when the daemon stops
    store.close()

    again, store = daemon(tmp_path, clock)
    feed(again, store, [event("DialBegin", Channel="PJSIP/trunk-1", Linkedid="1796620000.1", CallerIDNum="+4930123",
                              DestChannel="PJSIP/205-9", DestUniqueid="1796620000.9", Timestamp=repr(DAY + 20)),
                        hang_up("1796620000.1")])
    [call] = again.calls_of("205")
    assert (call["state"], call["started"], call["number"]) == (ENDED, DAY + 20, "+4930123")
    assert again.calls_of("202") == []
    assert rows(tmp_path) == [("205", "1796620000.1")]
    store.close()


def test_only_todays_calls_come_back_and_earlier_days_are_pruned(tmp_path):
    clock = Clock()
    board, store = daemon(tmp_path, clock)
    feed(board, store, [ring("201", "1.1"), hang_up("1.1")])
    store.close()
    assert rows(tmp_path) == [("201", "1.1")]

    clock.now = DAY + 86400  # the next day
    again, store = daemon(tmp_path, clock)
    assert again.calls_of("201") == [] and rows(tmp_path) == []
    feed(again, store, [ring("201", "2.1", when=clock.now), hang_up("2.1", clock.now + 5)])
    clock.now += 86400  # a day later still, the daemon never stopped: the next write prunes it
    feed(again, store, [ring("202", "3.1", when=clock.now), hang_up("3.1", clock.now + 5)])
    assert rows(tmp_path) == [("202", "3.1")]
    store.close()


def test_a_call_that_started_yesterday_is_not_kept(tmp_path):
    clock = Clock(DAY + 86400)
    board, store = daemon(tmp_path, clock)
    feed(board, store, [ring("201", "1.1", when=DAY), hang_up("1.1", DAY + 86400)])
    assert rows(tmp_path) == []
    store.close()


def test_at_most_keep_calls_per_extension_are_kept(tmp_path):
    clock = Clock()
    board, store = daemon(tmp_path, clock, keep=3)
    for n in range(5):
        call = "%d.1" % n
        feed(board, store, [ring("201", call, number=str(n), when=DAY + n), hang_up(call, DAY + n + 1)])
    feed(board, store, [ring("202", "9.1", when=DAY + 9), hang_up("9.1", DAY + 10)])
    assert rows(tmp_path) == [("201", "2.1"), ("201", "3.1"), ("201", "4.1"), ("202", "9.1")]
    store.close()

    again, store = daemon(tmp_path, clock, keep=2)  # fewer kept now: the newest of each extension
    assert [view["number"] for view in again.calls_of("201")] == ["4", "3"]
    feed(again, store, [ring("201", "5.1", number="5", when=DAY + 20), hang_up("5.1", DAY + 21)])
    assert [view["number"] for view in again.calls_of("201")] == ["5", "4"]
    assert len(again._calls) == 3  # 5, 4 of 201 and 9 of 202: the calls pushed out are forgotten
    store.close()


def test_a_call_withdrawn_from_a_page_after_it_was_kept_is_dropped(tmp_path):
    store = TodaysCalls.in_cache(tmp_path, clock=Clock())
    board = RingingBoard(clock=Clock())
    store.follow(board)
    view = {"call_id": "1.1", "extension": "600", "number": "", "name": "", "state": ENDED, "leg": "stopped",
            "answered_by": None, "transferred_to": None, "started": DAY, "answered_at": None, "ended_at": DAY + 1}
    store.on_change("600", view)
    assert store.flush(WAIT) and rows(tmp_path) == [("600", "1.1")]
    store.on_change("600", dict(view, withdrawn=True))
    assert store.flush(WAIT) and rows(tmp_path) == []
    store.close()


def test_damaged_rows_are_left_out(tmp_path):
    clock = Clock()
    board, store = daemon(tmp_path, clock)
    feed(board, store, [ring("201", "1.1"), hang_up("1.1")])
    store.close()
    with sqlite3.connect(str(tmp_path / TODAYS_CALLS_DB)) as db:
        db.executemany("INSERT INTO todays_calls (extension, call_id, started, view) VALUES (?, ?, ?, ?)",
                       [("201", "2.1", DAY + 1, "not json"), ("201", "3.1", DAY + 2, '{"call_id": "3.1"}'),
                        ("202", "4.1", DAY + 3, '["a list"]')])
    again, store = daemon(tmp_path, clock)
    assert [view["call_id"] for view in again.calls_of("201")] == ["1.1"] and again.calls_of("202") == []
    store.close()


def test_a_failing_store_is_logged_once_and_the_board_goes_on(tmp_path, caplog):
    clock = Clock()
    board, store = daemon(tmp_path, clock)
    seen: List[str] = []
    board.subscribe(lambda extension, view: seen.append(view["state"]))
    store._db.execute("DROP TABLE todays_calls")  # the file broke under the daemon
    with caplog.at_level(logging.WARNING, logger="itflow_bridge.screen.todays_calls"):
        feed(board, store, [ring("201", "1.1"), hang_up("1.1")])
        feed(board, store, [ring("201", "2.1"), hang_up("2.1")])
    assert seen == [RINGING, ENDED, RINGING, ENDED]
    assert [view["call_id"] for view in board.calls_of("201")] == ["2.1", "1.1"]
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "cannot be kept" in warnings[0]
    store.close()


def test_a_store_that_cannot_be_opened_leaves_the_board_in_memory_only(tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    board = RingingBoard(clock=Clock())
    with caplog.at_level(logging.WARNING, logger="itflow_bridge.screen.todays_calls"):
        assert keep_todays_calls(board, blocked) is None
    assert "cannot be kept" in caplog.text
    board.on_event(ring("201", "1.1"))
    assert [view["call_id"] for view in board.calls_of("201")] == ["1.1"]


def test_the_listener_only_queues_and_drops_past_its_bound(tmp_path, caplog):
    store = TodaysCalls.in_cache(tmp_path, clock=Clock(), max_unwritten=2)  # no writer: nothing drains the queue
    view = {"call_id": "1.1", "extension": "201", "state": ENDED, "started": DAY}
    with caplog.at_level(logging.WARNING, logger="itflow_bridge.screen.todays_calls"):
        for n in range(4):
            store.on_change("201", dict(view, call_id="%d.1" % n))
    store.on_change("201", dict(view, state=RINGING))  # a call going on is not kept
    assert [change[1] for change in store._unwritten] == ["0.1", "1.1"]
    assert rows(tmp_path) == []  # nothing written on the caller's thread
    assert len(caplog.records) == 1 and "not kept" in caplog.records[0].getMessage()
    store.close()


def test_a_call_transferred_after_the_restart_shows_at_the_target_from_then_on(tmp_path):
    messages = recorded("transfer_after_answer.txt")
    transfer = next(n for n, m in enumerate(messages) if m.event == "BlindTransfer")
    clock = Clock()
    board, store = daemon(tmp_path, clock)
    feed(board, store, messages[:transfer])  # answered at 204 when the daemon stops
    assert board.calls_of("204")[0]["answered_by"] == "204"
    store.close()

    again, store = daemon(tmp_path, clock)
    feed(again, store, messages[transfer:])
    assert again.calls_of("204") == []
    [call] = again.calls_of("203")
    assert (call["state"], call["answered_by"], call["number"]) == (ENDED, "203", "+15551234567")
    store.close()
