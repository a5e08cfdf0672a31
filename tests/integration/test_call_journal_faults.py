"""The call journal in the real daemon: ``itflow-bridge serve`` against a fake AMI and the fake ITFlow, under faults.

The fake AMI (tests/fake_ami.py) replays recorded Asterisk 22 calls, each with
ids of its own; the fake ITFlow has ITFlow's write endpoints.  Every case
counts the tickets and replies in the fake ITFlow by their ``Call ID:`` marker
lines: none lost, none doubled.  The catch-up from Asterisk's CDR is off
(``catch_up_hours = 0``): these tests are about the live events; a call the
daemon saw only in part stays unjournaled here (the catch-up's job).
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import pytest

import fake_writes
from ami_recordings import INBOUND, MISSED, as_call, call_id_of, encode, recording
from fake_ami import USER, FakeAMI
from faulty_itflow import FaultyITFlow
from itflow_bridge.calls.call_log import CallLog
from itflow_bridge.calls.outbox import DONE, FAILED, PENDING, SENDING, Entry, Outbox
from itflow_bridge.calls.tickets import carries_marker
from itflow_bridge.sample.wire import JSON_TYPE, Reply, Request
from polling import wait_for
from serve_process import ServeProcess

AMI_SECRET = "ami-secret-never-in-the-output-5f3a9c"
WAIT = 90.0  # seconds: delivery retries back off (5 s, 10 s, ...) and the machine may be loaded
OTHER_CLIENT = "+15557000000"  # Big Contact 00 of Big Client Inc (client 6) in the sample ITFlow


class CallsITFlow(FaultyITFlow):
    """The fake ITFlow with its writes; ``hold_next_create()``: the next ticket is inserted, its answer held.

    ``refuse_creates_of``: tickets of this client are refused as ITFlow refuses an insert it cannot make.
    """

    def __init__(self) -> None:
        super().__init__(writes=fake_writes, generations=("v1",))
        self.inserted = threading.Event()
        self.release = threading.Event()
        self._hold = False
        self.refuse_creates_of: Optional[int] = None  # a client whose tickets ITFlow does not insert

    def hold_next_create(self) -> None:
        self._hold = True

    def _answer(self, request: Request) -> Optional[Reply]:
        creating = request.path.endswith("/tickets/create.php")
        if creating and self.refuse_creates_of is not None and json.loads(request.body).get("client_id") == \
                self.refuse_creates_of:
            self._record(request)
            return Reply(200, json.dumps({"success": "False", "message": fake_writes.CREATE_FAILED}).encode(),
                         JSON_TYPE)
        reply = super()._answer(request)
        if creating and self._hold:
            self._hold = False
            self.inserted.set()
            self.release.wait(WAIT)
            return None  # the connection closes unanswered: ITFlow has the ticket, the sender never hears
        return reply

    def stop(self) -> None:
        self.release.set()
        super().stop()

    def tickets(self) -> List[dict]:
        return list(self.data.get("tickets") or [])

    def replies(self) -> List[dict]:
        return list(self.data.get("ticket_replies") or [])

    def creates(self) -> int:
        return self.count("/api/v1/tickets/create.php")


class Daemon(ServeProcess):
    """``itflow-bridge serve`` with ``[calls] enabled``, logging at debug."""

    def __init__(self, fake: CallsITFlow, tmp_path: Path, ami: FakeAMI, catch_up: str = "catch_up_hours = 0") -> None:
        super().__init__(fake, tmp_path, "\n".join([
            "[server]", "log_level = debug",
            "[calls]", "enabled = yes", "answered = ticket", "repeat_window = 0", catch_up,
            "ami_host = 127.0.0.1", "ami_port = %d" % ami.port, "ami_user = %s" % USER,
            "ami_secret = %s" % AMI_SECRET, ""]))

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or the OOM killer."""
        self.stop(signal.SIGKILL, WAIT)

    def terminate(self) -> int:
        return self.stop(signal.SIGTERM, WAIT)


@pytest.fixture
def fake() -> Iterator[CallsITFlow]:
    with CallsITFlow() as site:
        yield site


@pytest.fixture
def ami() -> Iterator[FakeAMI]:
    server = FakeAMI(secret=AMI_SECRET)
    yield server
    server.close()


@pytest.fixture
def daemons(fake, ami, tmp_path):
    """``start()`` a daemon (again, on the same cache directory); at the end: none of them printed a secret."""
    started: List[Daemon] = []

    def start(catch_up: str = "catch_up_hours = 0") -> Daemon:
        daemon = Daemon(fake, tmp_path, ami, catch_up)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()
    for number, daemon in enumerate(started, 1):
        output = daemon.output()
        (tmp_path / ("daemon-%d.log" % number)).write_text(output, encoding="utf-8")  # for a failing run
        assert AMI_SECRET not in output and fake.api_key not in output


def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def ready(daemon: Daemon, ami: FakeAMI, tmp_path: Path, logins: int = 1) -> None:
    """Logged in to the fake AMI, the directory synced: callers are known without asking ITFlow."""
    wait_for(lambda: ami.logins >= logins, "login %d at the fake AMI" % logins, WAIT)
    wait_for(lambda: any(cache(tmp_path).glob("directory-*.sqlite3")), "the directory synced", WAIT)
    assert daemon.proc.poll() is None


def play(ami: FakeAMI, name: str, number: int, caller: Optional[str] = None) -> str:
    """One recorded call, with ids of its own, sent to the daemon's session; answers its call id."""
    messages = as_call(recording(name), number, caller)
    assert ami.push(encode(messages)) == 1
    return call_id_of(messages)


def entries(tmp_path: Path) -> List[Entry]:
    with Outbox.in_cache(cache(tmp_path)) as outbox:
        return outbox.entries()


def logged_calls(tmp_path: Path) -> "set[str]":
    with CallLog.in_cache(cache(tmp_path)) as log:
        return {call.call_id for call in log.recent(1000)}


def ids_by_key(rows: List[dict], column: str, id_column: str, keys: List[str]) -> List[List[int]]:
    """For each key, the ids of the rows carrying its marker (once each: a list of one)."""
    return [[int(row[id_column]) for row in rows if carries_marker(row.get(column), key)] for key in keys]


def assert_each_once_in_order(fake: CallsITFlow, tickets: List[str], replies: Sequence[str] = ()) -> None:
    """Each ticket and reply of these keys exactly once, made in this order, and nothing else."""
    for rows, column, id_column, keys in ((fake.tickets(), "ticket_details", "ticket_id", tickets),
                                          (fake.replies(), "ticket_reply", "ticket_reply_id", list(replies))):
        found = ids_by_key(rows, column, id_column, keys)
        assert all(len(ids) == 1 for ids in found), list(zip(keys, found))
        assert [ids[0] for ids in found] == sorted(ids[0] for ids in found)  # in the order the calls ended
        assert len(rows) == len(keys)


def writes_of(name: str, call_id: str) -> Tuple[List[str], List[str]]:
    """The outbox keys of the tickets and of the replies a recorded call makes with ``answered = ticket``."""
    if name in MISSED:
        return ["%s/missed" % call_id], []
    if name == "voicemail_left":
        return ["%s/voicemail" % call_id], []
    return ["%s/answered" % call_id], ["%s/answered-time" % call_id]


def play_calls(ami: FakeAMI, numbers: Sequence[int]) -> Tuple[List[str], List[str], List[str]]:
    """Every inbound recording in turn, one call per number: (every outbox key, ticket keys, reply keys)."""
    every: List[str] = []
    tickets: List[str] = []
    replies: List[str] = []
    for number in numbers:
        name = INBOUND[number % len(INBOUND)]
        made, replied = writes_of(name, play(ami, name, number))
        every += made + replied
        tickets += made
        replies += replied
    return every, tickets, replies


def missed_key(call_id: str) -> str:
    return "%s/missed" % call_id


@pytest.mark.parametrize("fault", ["refuse", "500_empty"])  # nothing listens; the web server answers HTTP 500
def test_itflow_down_while_10_calls_end_then_back_every_ticket_arrives_once_in_order(fake, ami, daemons, tmp_path,
                                                                                    fault):
    daemon = daemons()
    ready(daemon, ami, tmp_path)
    fake.set_fault(fault)
    every, tickets, replies = play_calls(ami, range(1, 11))
    wait_for(lambda: [e.key for e in entries(tmp_path)] == every, "10 calls in the outbox", WAIT)
    wait_for(lambda: entries(tmp_path)[0].attempts >= 1, "a delivery tried while ITFlow is down", WAIT)
    assert fake.tickets() == [] and fake.replies() == []
    fake.set_fault(None)
    wait_for(lambda: all(e.state == DONE for e in entries(tmp_path)), "every entry delivered", WAIT)
    assert_each_once_in_order(fake, tickets, replies)
    assert {e.key: e.ticket_id for e in entries(tmp_path) if e.key in tickets} == {
        key: ids[0] for key, ids in zip(tickets, ids_by_key(fake.tickets(), "ticket_details", "ticket_id", tickets))}
    assert logged_calls(tmp_path) == {key.split("/")[0] for key in every}
    assert fake.creates() == len(tickets)


def test_a_daemon_killed_mid_send_finds_the_ticket_itflow_has_and_sends_the_rest(fake, ami, daemons, tmp_path):
    first = daemons()
    ready(first, ami, tmp_path)
    fake.hold_next_create()
    every, tickets, replies = play_calls(ami, range(7, 11))  # answered first: its ticket and its resolving reply
    assert fake.inserted.wait(WAIT), "the daemon never sent a ticket"
    wait_for(lambda: [e.key for e in entries(tmp_path)] == every, "every call journaled", WAIT)
    first.kill()  # ITFlow has the first ticket; the daemon never saw the answer
    fake.release.set()
    assert [e.state for e in entries(tmp_path)] == [SENDING] + [PENDING] * (len(every) - 1)
    assert len(fake.tickets()) == 1 and fake.replies() == []

    second = daemons()
    ready(second, ami, tmp_path, logins=2)
    more, more_tickets, more_replies = play_calls(ami, [11])  # the restarted daemon journals new calls too
    wait_for(lambda: [e.state for e in entries(tmp_path)] == [DONE] * len(every + more), "every entry delivered",
             WAIT)
    assert_each_once_in_order(fake, tickets + more_tickets, replies + more_replies)
    assert entries(tmp_path)[0].ticket_id == int(fake.tickets()[0]["ticket_id"])
    assert fake.creates() == len(tickets + more_tickets)  # the uncertain ticket was looked for, not sent again
    assert "%s was already in ITFlow" % every[0] in second.output()
    resolved = fake.tickets()[0]
    assert resolved["ticket_status"] == "4" and resolved["ticket_resolved_at"] is not None


def test_the_ami_connection_dropped_mid_stream_the_daemon_logs_in_again_and_journals(fake, ami, daemons, tmp_path,
                                                                                     record_property):
    daemon = daemons()
    ready(daemon, ami, tmp_path)
    ended = time.monotonic()
    first = missed_key(play(ami, "caller_hung_up_ringing", 1))
    wait_for(lambda: len(fake.tickets()) == 1, "the first call's ticket", WAIT)
    create = next(r for r in fake.requests if r.path.endswith("/tickets/create.php"))
    record_property("seconds_from_call_end_to_ticket", round(create.time - ended, 3))  # settling, then one send

    just_ended = missed_key(play(ami, "voicemail_hung_up_at_greeting", 2))  # whole, but not settled yet
    cut = as_call(recording("ring_group_no_answer"), 3)
    half = len(cut) // 2
    assert ami.push(encode(cut[:half])) == 1
    ami.drop_all()  # Asterisk restarted mid-call
    wait_for(lambda: ami.logins == 2, "the daemon's second login", WAIT)
    assert ami.push(encode(cut[half:])) == 1  # the rest of the cut call: seen only in part
    after = missed_key(play(ami, "queue_abandon", 4))
    wait_for(lambda: len(fake.tickets()) == 3, "the tickets of the call after the new login", WAIT)
    wait_for(lambda: [e.state for e in entries(tmp_path)] == [DONE] * 3, "every entry delivered", WAIT)
    assert_each_once_in_order(fake, [first, just_ended, after])
    assert call_id_of(cut) not in logged_calls(tmp_path)  # left to the catch-up, which is off here
    assert "AMI connection lost" in daemon.output()


@pytest.mark.parametrize("refusal, reason", [
    ("archived", "client 1 is archived"),  # the writer checks first: ITFlow would take the ticket all the same
    ("insert refused", "ITFlow refused the create"),  # ITFlow's own answer to a create it cannot insert
])
def test_a_refused_write_fails_with_its_reason_once_and_other_calls_go_on(fake, ami, daemons, tmp_path, refusal,
                                                                        reason):
    daemon = daemons()
    ready(daemon, ami, tmp_path)
    synced = len(fake.requests)
    if refusal == "archived":  # after the directory sync: still known as a caller
        acme = next(row for row in fake.data["clients"] if str(row["client_id"]) == "1")
        acme["client_archived_at"] = "2026-12-07 08:00:00"
    else:
        fake.refuse_creates_of = 1
    refused = missed_key(play(ami, "caller_hung_up_ringing", 1))
    others = [missed_key(play(ami, "queue_abandon", 2, caller=OTHER_CLIENT))]
    wait_for(lambda: [e.state for e in entries(tmp_path)] == [FAILED, DONE], "one refused, one delivered", WAIT)
    failed = entries(tmp_path)[0]
    assert failed.key == refused and reason in failed.reason
    others.append(missed_key(play(ami, "ring_group_no_answer", 3, caller=OTHER_CLIENT)))
    wait_for(lambda: [e.state for e in entries(tmp_path)] == [FAILED, DONE, DONE], "the next call delivered", WAIT)
    assert_each_once_in_order(fake, others)
    later = fake.requests[synced:]
    creates_for = [json.loads(r.body)["client_id"] for r in later if r.path.endswith("/tickets/create.php")]
    assert creates_for == ([] if refusal == "archived" else [1]) + [6, 6]  # the refused one tried once, not again
    assert 1 <= sum(1 for r in later if r.path.endswith("/clients/read.php")) <= 3  # at most one a send
    assert "ITFlow refused %s: %s" % (refused, reason) in daemon.output()


def test_a_call_that_ended_just_before_a_stop_is_kept_and_sent_after_the_restart(fake, ami, daemons, tmp_path):
    first = daemons()
    ready(first, ami, tmp_path)
    every, tickets, replies = play_calls(ami, [1])
    wait_for(lambda: ami.unread() == 0, "the daemon to read the call's events", WAIT)
    assert first.terminate() == 0  # SIGTERM within the call's settling time: journaled as the daemon stops
    assert [e.key for e in entries(tmp_path)] == every
    second = daemons()
    ready(second, ami, tmp_path, logins=2)
    wait_for(lambda: all(e.state == DONE for e in entries(tmp_path)), "the entry delivered", WAIT)
    assert_each_once_in_order(fake, tickets, replies)


def test_secrets_appear_in_no_output_even_when_the_ami_login_is_refused(fake, daemons, tmp_path, ami):
    ami.secret = "what-asterisk-expects-now"  # the manager user's secret changed in Asterisk
    daemon = daemons()
    wait_for(lambda: ami.refused_logins >= 1, "the refused login", WAIT)
    wait_for(lambda: "Asterisk refused the manager login" in daemon.output(), "the daemon saying so", WAIT)
    assert ami.logins == 0
    assert daemon.terminate() == 0
    output = daemon.output()
    assert "user %r" % USER in output
    assert AMI_SECRET not in output and fake.api_key not in output and ami.secret not in output


CDR_FIXTURE = Path(__file__).resolve().parents[1] / "data" / "cdr" / "ring_group_no_answer.csv"


def cdr_lines_of_a_missed_call(number: int, ended: float) -> Tuple[str, str]:
    """(call id, CDR lines) of a missed call recorded from Asterisk 22, given ids of its own and an end time."""
    text = CDR_FIXTURE.read_text()
    old_base = text.split('"', 2)[1].split(".")[0]  # the linkedid's seconds part, shared by every id of the call
    times = [float(t) for t in re.findall(r",(1\d{9}\.\d{6})", text)]
    shift = ended - max(times)
    text = re.sub(r"(?<=,)1\d{9}\.\d{6}", lambda m: "%.6f" % (float(m.group(0)) + shift), text)
    new_base = str(int(old_base) + 1000 + number)
    text = text.replace('"%s.' % old_base, '"%s.' % new_base)
    return '%s.%s' % (new_base, text.split('"', 2)[1].split(".")[1]), text


def test_20_calls_that_end_while_the_daemon_is_stopped_are_journaled_from_the_cdr_once(fake, ami, daemons,
                                                                                     tmp_path):
    cdr_file = tmp_path / "cdr" / "itflow-bridge.csv"
    cdr_file.parent.mkdir()
    cdr_file.write_text("")
    catch_up = "catch_up_hours = 24\ncdr_file = %s" % cdr_file
    first = daemons(catch_up)
    ready(first, ami, tmp_path)
    assert first.terminate() == 0
    call_ids = []
    with open(cdr_file, "a") as handle:  # as Asterisk's cdr_custom appends them while the bridge is away
        for number in range(20):
            call_id, lines = cdr_lines_of_a_missed_call(number, time.time())
            handle.write(lines)
            call_ids.append(call_id)
    daemons(catch_up)
    keys = [missed_key(call_id) for call_id in call_ids]
    wait_for(lambda: len(fake.tickets()) == 20 and all(e.state == DONE for e in entries(tmp_path)),
             "the 20 calls in ITFlow", WAIT)
    assert_each_once_in_order(fake, keys)
    assert logged_calls(tmp_path) == set(call_ids)
    third = daemons(catch_up)  # started again: the same CDR is read again, and nothing is written twice
    ready(third, ami, tmp_path, logins=3)
    wait_for(lambda: "catch-up: 20 call(s) in the CDR since" in third.output(), "the third daemon's catch-up", WAIT)
    assert third.terminate() == 0
    assert_each_once_in_order(fake, keys)
    assert fake.creates() == 20
