"""Calls into ITFlow, end to end: a real Asterisk 22 and a real ITFlow 26.08 (its JSON API).

The PBX is the AMI recorder's (ring group, voicemail, queue, transfer, internal
calls) with the shipped caller-ID lookup on the trunk's route, and a manager
user that may only listen (``read = call,cdr``, nothing to write).  The bridge
is ``itflow-bridge serve`` with ``[calls] enabled``, its directory synced from
ITFlow, writing to a scratch ITFlow seeded with the contract dataset.  Every
case reads ITFlow back and counts the ``Call ID:`` markers: each write of each
call exactly once, nothing for the calls that must make nothing.

Then the faults, in this order (each builds on the tickets before it): the
bridge restarted with ``answered = reply`` (nothing written twice), Asterisk
restarted under the running bridge (it logs in again, the calls after are
journaled), and the bridge stopped while calls end (its catch-up journals them
from Asterisk's CDR file once it is back).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from ami_recorder import CDR_FILE, SCENARIOS, AMIRecorder, Scenario
from asterisk_harness import AsteriskHarness

from itflow_bridge.api.typed import ITFlowAPI, connect
from itflow_bridge.calls.ami_protocol import Message, parse_stream
from itflow_bridge.calls.call_log import CATCH_UP, CallLog, LoggedCall
from itflow_bridge.calls.events import calls_in
from itflow_bridge.calls.outbox import DONE, Outbox
from itflow_bridge.storage.layout import DIRECTORY_PREFIX
from polling import wait_for
from real_itflow.harness import RealITFlow, ScratchSite

pytestmark = [pytest.mark.e2e, pytest.mark.real_itflow]

Daemon = Any  # tests/e2e/conftest.py's Daemon and Launcher (a conftest is not imported by name)
Launcher = Any

# The bridge's manager user (read = call,cdr, write = nothing); "manager show connected" cuts names at 15.
LISTENER = "itflow-bridge"
CALL_PATIENCE = 90.0  # seconds: a call's own length, settling, and a round trip to ITFlow, on a loaded machine
VOICEMAIL_SPOOL = "var/spool/asterisk/voicemail"  # in the chroot
MARKER = re.compile(r"Call ID: (?P<call>[^/\s<]+)/(?P<action>[\w-]+)")


@dataclass(frozen=True)
class Caller:
    number: str  # as the trunk presents it
    client_id: int
    client_name: str
    contact_id: Optional[int]
    contact_name: str


# Callers of the contract dataset (tests/real_itflow/dataset.py).
JOHN = Caller("+15551234567", 1, "Acme Corp", 1, "John Smith")
JANE = Caller("+15559876543", 1, "Acme Corp", 2, "Jane Doe")
MARY = Caller("+441632960123", 2, "O'Brien & Sons - Plumbing", 3, "Mary O'Brien")
KLAUS = Caller("+49301234567", 3, "Müller GmbH", 68, "Klaus Weber")
BIG = [Caller("+1555700000%d" % n, 6, "Big Client Inc", 7 + n, "Big Contact 0%d" % n) for n in range(4)]
UNKNOWN = "+15550009999"


# --- the PBX, the lab, the bridge --------------------------------------------------------


@dataclass
class PBX:
    asterisk: AsteriskHarness
    recorder: AMIRecorder
    secret: str  # the listener's
    _did_locks: Dict[str, threading.Lock] = field(default_factory=dict)
    streams: Dict[str, bytes] = field(default_factory=dict)  # each call's AMI stream, by Linkedid

    def call(self, scenario: str, caller_id: str) -> str:
        """Place one call of ``scenario`` from ``caller_id``; its Linkedid once it ended.

        One call at a time per DID: the recorder tells its call from others by where it entered.
        """
        chosen: Scenario = replace(SCENARIOS[scenario], caller_id=caller_id)
        with self._did_locks.setdefault(chosen.channel, threading.Lock()):
            recording = self.recorder.record_with_cdr(chosen)  # back once the CDR file holds the call too
        self.streams[recording.call_id] = recording.ami
        return recording.call_id

    def events(self, call_id: str) -> List[Message]:
        """What Asterisk posted about the call (every class: the recorder's own session reads all)."""
        [call] = [call for call in calls_in(parse_stream(self.streams[call_id], expect_banner=True))
                  if call.call_id == call_id]
        return call.events

    def point_at(self, daemon: Daemon) -> None:
        """The trunk's route runs the caller-ID lookup against this daemon."""
        self.asterisk.cli("dialplan set global ITFLOW_AGI %s" % daemon.agi_base)
        self.asterisk.cli("dialplan set global CALLERID_LOOKUP yes")

    def listener_connected(self) -> bool:
        return LISTENER in self.asterisk.cli("manager show connected")

    def restart(self) -> None:
        """``core restart now``: every session and call dropped, the same process boots again."""
        try:
            self.asterisk.cli("core restart now")
        except RuntimeError:
            pass  # the CLI may lose Asterisk before it answers
        wait_for(self._booted, "Asterisk back after its restart", patience=60.0)
        self.recorder.enable(listeners=[(LISTENER, self.secret)])

    def _booted(self) -> bool:
        try:
            return "fully booted" in self.asterisk.cli("core waitfullybooted").lower()
        except RuntimeError:
            return False


@pytest.fixture(scope="module")
def pbx(asterisk: AsteriskHarness) -> Iterator[PBX]:
    secret = secrets.token_hex(16)
    recorder = AMIRecorder(asterisk)
    recorder.enable(listeners=[(LISTENER, secret)])
    yield PBX(asterisk, recorder, secret)


@pytest.fixture(scope="module")
def lab(real_itflow: RealITFlow) -> Iterator[ScratchSite]:
    """Real ITFlow 26.08 on a database of its own, as seeded; put back afterwards."""
    site = real_itflow.scratch("v1")
    site.reset()
    try:
        yield site
    finally:
        site.reset()


class Peer:
    """What the e2e launcher needs of an ITFlow: its URL and a key (with write permission)."""

    def __init__(self, site: ScratchSite):
        self.url = site.url
        self.api_key = site.keys.good


class CallsBridge:
    """``itflow-bridge serve`` with ``[calls] enabled``, one cache across restarts."""

    def __init__(self, launcher: Launcher, pbx: PBX, site: ScratchSite, workdir: Path):
        self.launcher = launcher
        self.pbx = pbx
        self.peer = Peer(site)
        self.workdir = workdir
        self.cache = workdir / "cache"
        self.daemons: List[Daemon] = []

    @property
    def daemon(self) -> Daemon:
        return self.daemons[-1]

    def start(self, answered: str) -> Daemon:
        calls = {"enabled": "yes", "answered": answered, "ami_host": "127.0.0.1", "ami_port": self.pbx.recorder.port,
                 "ami_user": LISTENER, "ami_secret": self.pbx.secret,
                 "voicemail_spool": self.pbx.asterisk.root / VOICEMAIL_SPOOL,
                 "cdr_file": self.pbx.asterisk.root / CDR_FILE.lstrip("/")}
        overrides = {"cache": {"dir": str(self.cache)}, "directory": {"sync_interval": "3600"}, "calls": calls}
        daemon = self.launcher.daemon(self.peer, "v1", overrides, self.workdir / ("daemon%d" % len(self.daemons)))
        self.daemons.append(daemon)
        self.pbx.point_at(daemon)
        wait_for(lambda: any(self.cache.glob(DIRECTORY_PREFIX + "*")), "the directory synced from ITFlow")
        wait_for(self.pbx.listener_connected, "the bridge logged in to the manager")
        return daemon

    def stop(self) -> None:
        self.daemon.stop()

    def logged(self, call_id: str) -> Optional[LoggedCall]:
        if not (self.cache / "itflow-bridge-outbox.sqlite3").exists():
            return None
        with CallLog.in_cache(self.cache) as log:
            return next((call for call in log.recent(10000) if call.call_id == call_id), None)

    def journaled(self, call_id: str) -> LoggedCall:
        """The call as the call log holds it, once journaled and every write it made reached ITFlow."""
        wait_for(lambda: self.logged(call_id) is not None, "call %s in the call log" % call_id, CALL_PATIENCE)
        logged = self.logged(call_id)
        assert logged is not None
        wait_for(lambda: self._delivered(logged.keys), "the writes of call %s in ITFlow" % call_id, CALL_PATIENCE)
        return logged

    def _delivered(self, keys: Tuple[str, ...]) -> bool:
        with Outbox.in_cache(self.cache) as outbox:
            entries = [outbox.get(key) for key in keys]
        return all(entry is not None and entry.state == DONE for entry in entries)

    def logs(self) -> str:
        return "".join(daemon.output() for daemon in self.daemons)


@pytest.fixture(scope="module")
def bridge(launcher: Launcher, pbx: PBX, lab: ScratchSite, tmp_path_factory) -> Iterator[CallsBridge]:
    bridge = CallsBridge(launcher, pbx, lab, tmp_path_factory.mktemp("calls-bridge"))
    try:
        yield bridge
    finally:
        for daemon in bridge.daemons:
            daemon.stop()
        text = bridge.logs()
        assert lab.keys.good not in text and pbx.secret not in text, "a secret leaked into the bridge's log"
        assert "Traceback" not in text, text


@pytest.fixture(scope="module")
def api(lab: ScratchSite) -> Iterator[ITFlowAPI]:
    with connect(lab.url, lab.keys.good, read_timeout=30.0) as client:
        yield client


# --- what ITFlow holds -----------------------------------------------------------------


def markers(lab: ScratchSite) -> Counter:
    """Every ``Call ID:`` marker in ITFlow's tickets and replies: (call, action) -> how many."""
    found: Counter = Counter()
    for table, column in (("tickets", "ticket_details"), ("ticket_replies", "ticket_reply")):
        for row in lab.rows(table):
            for match in MARKER.finditer(row[column] or ""):
                found[(match.group("call"), match.group("action"))] += 1
    return found


def writes_of(lab: ScratchSite, call_id: str) -> Dict[str, int]:
    return {action: count for (call, action), count in markers(lab).items() if call == call_id}


def ticket_of(api: ITFlowAPI, call_id: str, action: str) -> dict:
    [ticket] = [row for row in api.tickets.read() if "Call ID: %s/%s<" % (call_id, action) in
                (row["ticket_details"] or "") + "<"]
    return dict(ticket)


def replies_of(api: ITFlowAPI, ticket_id: int) -> List[dict]:
    return [dict(row) for row in api.ticket_replies.read(ticket_id=ticket_id)]


def reply_of(api: ITFlowAPI, ticket_id: int, call_id: str, action: str) -> dict:
    [reply] = [row for row in replies_of(api, ticket_id)
               if "Call ID: %s/%s" % (call_id, action) in (row["ticket_reply"] or "")]
    return reply


def plain(html_text: str) -> str:
    """ITFlow's HTML as a PBX admin reads it."""
    return re.sub(r"<br>\s*", "\n", html_text or "").strip()


def worked(value: object) -> str:
    """ITFlow's ``ticket_reply_time_worked`` without a leading zero hour digit (its TIME column)."""
    text = str(value)
    return text[1:] if re.match(r"^0\d:", text) else text


# --- the user-facing cases -----------------------------------------------------------------


@dataclass
class Placed:
    """The calls of the first run (``answered = ticket``), by case: their Linkedids."""

    ids: Dict[str, str]
    before: Counter  # ITFlow's markers before the calls


@pytest.fixture(scope="module")
def placed(bridge: CallsBridge, pbx: PBX, lab: ScratchSite) -> Placed:
    """Every case of the first run, placed in parallel where calls do not depend on each other."""
    bridge.start(answered="ticket")
    before = markers(lab)
    ids: Dict[str, str] = {}

    def john() -> None:  # one client's calls in a row: each depends on the ticket the first one made
        for case, scenario in (("missed", "ring_group_no_answer"), ("missed_again", "ring_group_no_answer"),
                               ("hung_up_ringing", "caller_hung_up_ringing"), ("voicemail_reply", "voicemail_left")):
            ids[case] = pbx.call(scenario, JOHN.number)
            bridge.journaled(ids[case])

    def one(case: str, scenario: str, caller: str) -> None:
        ids[case] = pbx.call(scenario, caller)
        bridge.journaled(ids[case])

    independent = [
        ("voicemail_ticket", "voicemail_left", MARY.number),
        ("voicemail_greeting", "voicemail_hung_up_at_greeting", KLAUS.number),
        ("queue_abandon", "queue_abandon", BIG[0].number),
        ("answered_ticket", "answered", BIG[1].number),
        ("transfer", "transfer_after_answer", BIG[2].number),
        ("internal", "internal", '"Front Desk" <202>'),
        ("unknown", "ring_group_no_answer", UNKNOWN),
    ]
    with ThreadPoolExecutor(max_workers=len(independent) + 1) as pool:
        futures = [pool.submit(john)] + [pool.submit(one, *case) for case in independent]
        for future in futures:
            future.result()
    return Placed(ids, before)


def test_missed_call_makes_one_ticket_for_the_client_and_contact(placed: Placed, lab, api) -> None:
    call_id = placed.ids["missed"]
    assert writes_of(lab, call_id) == {"missed": 1}
    ticket = ticket_of(api, call_id, "missed")
    assert ticket["ticket_subject"] == "Missed call from John Smith (Acme Corp)"
    assert (int(ticket["ticket_client_id"]), int(ticket["ticket_contact_id"])) == (1, 1)
    details = plain(ticket["ticket_details"])
    assert details.startswith("Missed call\nFrom: John Smith %s\nAt: " % JOHN.number), details
    assert "\nDialled: 5550102\n" in details and re.search(r"\nRang: 202, 205, [5-7] s\n", details), details
    assert int(ticket["ticket_status"]) in (1, 2)


def test_the_same_caller_again_is_a_reply_on_that_ticket(placed: Placed, lab, api) -> None:
    first = ticket_of(api, placed.ids["missed"], "missed")
    call_id = placed.ids["missed_again"]
    assert writes_of(lab, call_id) == {"missed": 1}
    reply = reply_of(api, int(first["ticket_id"]), call_id, "missed")
    assert re.match(r"John Smith called again at \d\d:\d\d, rang [5-7] s \(202, 205\)\.$",
                    plain(reply["ticket_reply"]).splitlines()[0]), reply["ticket_reply"]


def test_caller_hung_up_while_ringing_is_missed_within_the_window(placed: Placed, lab, api) -> None:
    first = ticket_of(api, placed.ids["missed"], "missed")
    call_id = placed.ids["hung_up_ringing"]
    assert writes_of(lab, call_id) == {"missed": 1}
    reply = reply_of(api, int(first["ticket_id"]), call_id, "missed")
    assert re.match(r"John Smith called again at \d\d:\d\d, rang [3-5] s \(202\)\.$",
                    plain(reply["ticket_reply"]).splitlines()[0]), reply["ticket_reply"]


def test_voicemail_is_a_reply_on_the_open_missed_call_ticket(placed: Placed, lab, api) -> None:
    first = ticket_of(api, placed.ids["missed"], "missed")
    call_id = placed.ids["voicemail_reply"]
    assert writes_of(lab, call_id) == {"voicemail": 1}
    reply = reply_of(api, int(first["ticket_id"]), call_id, "voicemail")
    assert re.match(r"John Smith left a voicemail at \d\d:\d\d\. Voicemail of [1-9]\d* s: mailbox 100@default, message [\d-]+\.",
                    plain(reply["ticket_reply"])), reply["ticket_reply"]


def test_voicemail_without_an_open_ticket_is_a_voicemail_ticket(placed: Placed, lab, api) -> None:
    call_id = placed.ids["voicemail_ticket"]
    assert writes_of(lab, call_id) == {"voicemail": 1}
    ticket = ticket_of(api, call_id, "voicemail")
    assert ticket["ticket_subject"] == "Voicemail from Mary O'Brien (O'Brien & Sons - Plumbing)"
    assert (int(ticket["ticket_client_id"]), int(ticket["ticket_contact_id"])) == (2, 3)
    details = plain(ticket["ticket_details"])
    assert re.match(r"Voicemail of [1-9]\d* s: mailbox 100@default, message [\d-]+\n", details), details
    assert "\nDialled: 5550104\n" in details, details
    assert "\nFrom: Mary O'Brien +441632960123\n" in details, details  # an apostrophe reads as one


def test_voicemail_hung_up_at_the_greeting_is_missed(placed: Placed, lab, api) -> None:
    call_id = placed.ids["voicemail_greeting"]
    assert writes_of(lab, call_id) == {"missed": 1}
    ticket = ticket_of(api, call_id, "missed")
    assert ticket["ticket_subject"] == "Missed call from Klaus Weber (Müller GmbH)"
    assert (int(ticket["ticket_client_id"]), int(ticket["ticket_contact_id"])) == (3, 68)
    assert re.search(r"\nRang: 202, [3-5] s\n", plain(ticket["ticket_details"])), ticket["ticket_details"]


def test_queue_abandon_is_missed(placed: Placed, lab, api) -> None:
    call_id = placed.ids["queue_abandon"]
    assert writes_of(lab, call_id) == {"missed": 1}
    ticket = ticket_of(api, call_id, "missed")
    assert ticket["ticket_subject"] == "Missed call from Big Contact 00 (Big Client Inc)"
    assert (int(ticket["ticket_client_id"]), int(ticket["ticket_contact_id"])) == (6, BIG[0].contact_id)
    assert "\nRang: queue support, " in plain(ticket["ticket_details"]), ticket["ticket_details"]


def test_answered_call_is_a_resolved_ticket_with_time_worked(placed: Placed, lab, api) -> None:
    call_id = placed.ids["answered_ticket"]
    assert writes_of(lab, call_id) == {"answered": 1, "answered-time": 1}
    ticket = ticket_of(api, call_id, "answered")
    assert ticket["ticket_subject"] == "Call from Big Contact 01 (Big Client Inc)"
    assert (int(ticket["ticket_client_id"]), int(ticket["ticket_contact_id"])) == (6, BIG[1].contact_id)
    assert re.match(r"Call at \d\d:\d\d answered by 201, [3-5] s\.\n", plain(ticket["ticket_details"]))
    resolved = api.tickets.get(int(ticket["ticket_id"]))
    assert resolved.ticket_status_name == "Resolved" and resolved.ticket_resolved_at is not None
    [reply] = replies_of(api, int(ticket["ticket_id"]))
    assert worked(reply["ticket_reply_time_worked"]) == "0:15:00"  # [calls] time_step 15: a few seconds, rounded up
    assert "answered by 201" in reply["ticket_reply"]


def test_transfer_after_answer_names_the_final_extension(placed: Placed, lab, api) -> None:
    call_id = placed.ids["transfer"]
    assert writes_of(lab, call_id) == {"answered": 1, "answered-time": 1}
    ticket = ticket_of(api, call_id, "answered")
    details = plain(ticket["ticket_details"])
    assert re.match(r"Call at \d\d:\d\d answered by 204, transferred to 203, \d+ s\.\n", details), details
    assert re.search(r"\nRang: 204, \d+ s\n", details), details  # the transfer's own dial did not ring the caller


def test_internal_and_unknown_callers_make_nothing(placed: Placed, lab, bridge: CallsBridge) -> None:
    for case, note in (("internal", "internal call"), ("unknown", "caller not in ITFlow")):
        call_id = placed.ids[case]
        assert writes_of(lab, call_id) == {}
        logged = bridge.logged(call_id)
        assert logged is not None and (logged.note, logged.keys) == (note, ()), logged


def test_the_trunk_route_ran_the_caller_id_lookup(placed: Placed, pbx: PBX) -> None:
    """Asterisk asked the bridge for each inbound call's name, as a FreePBX inbound route does."""
    statuses = {case: [m.get("Value") for m in pbx.events(call_id)
                       if m.event == "VarSet" and m.get("Variable") == "ITFLOW_CID_STATUS"]
                for case, call_id in placed.ids.items()}
    expected = {case: ["FOUND"] for case in placed.ids}
    assert statuses == dict(expected, internal=[], unknown=["NOTFOUND"])


def test_every_write_is_in_itflow_once(placed: Placed, lab) -> None:
    expected = {"missed": 1, "missed_again": 1, "hung_up_ringing": 1, "voicemail_reply": 1, "voicemail_ticket": 1,
                "voicemail_greeting": 1, "queue_abandon": 1, "answered_ticket": 2, "transfer": 2}
    now = markers(lab) - placed.before
    assert all(count == 1 for count in now.values()), now
    by_case = {case: sum(1 for call, _action in now if call == placed.ids[case]) for case in placed.ids}
    assert by_case == dict(expected, internal=0, unknown=0)


# --- faults on the real peers ------------------------------------------------------------------


def test_bridge_restarted_with_answered_reply_writes_each_call_once(placed: Placed, bridge: CallsBridge, pbx: PBX,
                                                                   lab, api) -> None:
    """The bridge restarts (same cache): nothing is written again; answered calls now reply on the one open ticket."""
    bridge.stop()
    before = markers(lab)
    bridge.start(answered="reply")
    ids = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case: pool.submit(pbx.call, "answered", caller.number)
                   for case, caller in (("john", JOHN), ("jane", JANE))}
    ids = {case: future.result() for case, future in futures.items()}
    for call_id in ids.values():
        bridge.journaled(call_id)

    first = ticket_of(api, placed.ids["missed"], "missed")
    assert writes_of(lab, ids["john"]) == {"answered": 1}
    reply = reply_of(api, int(first["ticket_id"]), ids["john"], "answered")
    assert worked(reply["ticket_reply_time_worked"]) == "0:15:00"
    assert re.match(r"Call at \d\d:\d\d answered by 201, [3-5] s\.", plain(reply["ticket_reply"]))
    assert writes_of(lab, ids["jane"]) == {}  # no open ticket of hers: with answered = reply, nothing
    assert bridge.logged(ids["jane"]).keys == ()
    assert markers(lab) - before == Counter({(ids["john"], "answered"): 1})
    assert all(count == 1 for count in markers(lab).values())


def test_asterisk_restarted_the_bridge_reconnects_and_journals_the_calls_after(
        placed: Placed, bridge: CallsBridge, pbx: PBX, lab, api) -> None:
    before = markers(lab)
    pbx.restart()
    pbx.point_at(bridge.daemon)
    wait_for(pbx.listener_connected, "the bridge logged in again after Asterisk's restart", patience=60.0)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case: pool.submit(pbx.call, scenario, caller.number)
                   for case, scenario, caller in (("big", "ring_group_no_answer", BIG[3]),
                                                  ("mary", "answered", MARY))}
    ids = {case: future.result() for case, future in futures.items()}
    for call_id in ids.values():
        bridge.journaled(call_id)

    queue_ticket = ticket_of(api, placed.ids["queue_abandon"], "missed")  # the client's missed call, in the window
    reply_of(api, int(queue_ticket["ticket_id"]), ids["big"], "missed")
    voicemail_ticket = ticket_of(api, placed.ids["voicemail_ticket"], "voicemail")  # Mary's one open ticket
    reply = reply_of(api, int(voicemail_ticket["ticket_id"]), ids["mary"], "answered")
    assert worked(reply["ticket_reply_time_worked"]) == "0:15:00"
    assert markers(lab) - before == Counter({(ids["big"], "missed"): 1, (ids["mary"], "answered"): 1})
    assert all(count == 1 for count in markers(lab).values())


def test_calls_that_end_while_the_bridge_is_stopped_are_journaled_from_the_cdr(
        placed: Placed, bridge: CallsBridge, pbx: PBX, lab, api) -> None:
    """Stopped bridge: Asterisk's calls go on (the lookup fails over, nothing waits); once started, its
    catch-up journals them from Asterisk's CDR file, each once."""
    bridge.stop()
    before = markers(lab)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case: pool.submit(pbx.call, scenario, caller.number)
                   for case, scenario, caller in (("jane", "ring_group_no_answer", JANE),
                                                  ("klaus", "caller_hung_up_ringing", KLAUS))}
    ids = {case: future.result() for case, future in futures.items()}
    assert markers(lab) == before and all(bridge.logged(call_id) is None for call_id in ids.values())
    bridge.start(answered="reply")
    logged = {case: bridge.journaled(call_id) for case, call_id in ids.items()}
    assert {case: call.source for case, call in logged.items()} == {"jane": CATCH_UP, "klaus": CATCH_UP}

    john_ticket = ticket_of(api, placed.ids["missed"], "missed")  # Acme Corp's missed call, in the window
    reply = reply_of(api, int(john_ticket["ticket_id"]), ids["jane"], "missed")
    assert re.match(r"Jane Doe called again at \d\d:\d\d, rang [5-7] s \(202, 205\)\.$",
                    plain(reply["ticket_reply"]).splitlines()[0]), reply["ticket_reply"]
    klaus_ticket = ticket_of(api, placed.ids["voicemail_greeting"], "missed")
    reply_of(api, int(klaus_ticket["ticket_id"]), ids["klaus"], "missed")
    assert markers(lab) - before == Counter({(ids["jane"], "missed"): 1, (ids["klaus"], "missed"): 1})
    assert all(count == 1 for count in markers(lab).values())
