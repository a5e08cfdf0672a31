"""The agent's page on a real Asterisk 22 ring group, served by the real ``itflow-bridge serve``.

The recorder's PBX (``ami_recorder``) routes DID 5550107 to a ring group that
rings phones 200 and 205 through ``Local/EXT@ami-phones`` channels, and DID
5550108 to one whose members are each a Local channel that dials the phone on (a
hop, as FreePBX's ring groups dial ``from-internal``); nobody answers until the
test redirects 200's phone channel to ``pickup``.  The bridge runs with ``[calls] enabled`` (its manager user may only
listen) and its HTTP server on; its local directory is synced from a fake ITFlow
(John Smith, CEO of Acme Corp, at +15551234567), and the pages are opened in
Debian's headless Chromium with links printed by ``itflow-bridge agent-link``.

* 200's page shows the caller's client and contact while Asterisk still rings
  200, then "Answered by 200" once picked up, then "Ended"; 205's page shows the
  same call, its own leg stopped (no longer marked ringing) once 200 answered.
* ``agent-link --revoke 200`` while a call rings 200: the page and its events
  stream answer 404, and a page open at that moment loses its stream (at the
  stream's next heartbeat) and then shows nothing of the caller.

The seconds from Asterisk's events to the page are printed (``-s`` shows them).
"""

from __future__ import annotations

import http.client
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from agent_screen_harness import EventStream
from ami_recorder import AMI_USER, CDR_FILE, AMIRecorder, _Capture
from asterisk_harness import AsteriskHarness
from browser import chromium_fixture, elements_of, text_of  # noqa: F401 - the fixture chromium
from itflow_bridge.calls.ami import AMIClient
from itflow_bridge.calls.ami_protocol import Message
from itflow_bridge.screen.live import HEARTBEAT
from itflow_bridge.storage.layout import DIRECTORY_PREFIX
from polling import PATIENCE, wait_for
from sockets import free_port

pytestmark = pytest.mark.e2e

Daemon = Any  # tests/e2e/conftest.py's Daemon (a conftest is not imported by name)

LISTENER = "itflow-bridge"  # the bridge's manager user: read = call,cdr, nothing to write
RING_GROUP = "Local/5550107@from-trunk"  # DID 5550107: Dial(Local/200@ami-phones&Local/205@ami-phones)
RING_GROUP_WITH_HOPS = "Local/5550108@from-trunk"  # Dial(Local/200@ami-ring-members&...), each dials the phone
PHONES = ("Local/200@", "Local/205@")  # every channel of the ring group's members (hops and phones)
CALLER = '"WIRELESS CALLER" <+15551234567>'  # the trunk's name says nothing: the client comes from the directory
RING_MS = 60000  # the caller waits that long for an answer: far longer than the test takes to answer
VOICEMAIL_SPOOL = "var/spool/asterisk/voicemail"


@pytest.fixture(scope="module")
def pbx(asterisk: AsteriskHarness) -> Iterator[Tuple[AMIRecorder, str]]:
    """The recorder's PBX with a listening manager user for the bridge: (recorder, that user's secret)."""
    secret = secrets.token_hex(16)
    recorder = AMIRecorder(asterisk)
    recorder.enable(listeners=[(LISTENER, secret)])
    asterisk.cli("dialplan set global CALLERID_LOOKUP no")  # the page alone names the caller here
    yield recorder, secret


@pytest.fixture
def screen_daemon(daemon, pbx, asterisk: AsteriskHarness, tmp_path: Path) -> Daemon:
    """``itflow-bridge serve`` with calls and its HTTP server on, logged in to the PBX, its directory synced."""
    recorder, secret = pbx
    http_port = free_port()  # [directory] http_port has no "pick one": 0 is off
    cache = tmp_path / "cache"
    calls = {"enabled": "yes", "ami_host": "127.0.0.1", "ami_port": recorder.port, "ami_user": LISTENER,
             "ami_secret": secret, "link_base_url": "http://127.0.0.1:%d" % http_port,
             "cdr_file": asterisk.root / CDR_FILE.lstrip("/"), "voicemail_spool": asterisk.root / VOICEMAIL_SPOOL}
    started = daemon("v1", cache={"dir": str(cache)}, calls=calls,
                     directory={"sync_interval": "3600", "http_port": str(http_port)})
    started.http_port = http_port
    wait_for(lambda: "directory HTTP server listening" in started.output(), "the bridge's HTTP server")
    wait_for(lambda: any(cache.glob(DIRECTORY_PREFIX + "*")), "the directory synced from ITFlow")
    # Its own log, not "manager show connected": that may still list the previous test's bridge.
    wait_for(lambda: "AMI logged in to 127.0.0.1:%d as %s" % (recorder.port, LISTENER) in started.output(),
             "the bridge logged in to the manager")
    return started


def agent_link(daemon: Daemon, *arguments: str) -> str:
    """``itflow-bridge agent-link ARGUMENTS`` with the daemon's config file (start_daemon writes it beside its log)."""
    config = daemon.log_path.with_name("itflow-bridge.conf")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ITFLOW_")}
    done = subprocess.run([sys.executable, "-m", "itflow_bridge.cli", "--config", str(config), "agent-link",
                           *arguments], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def get(url: str) -> Tuple[int, bytes]:
    host_port, path = url.split("://", 1)[1].split("/", 1)
    host, port = host_port.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", "/" + path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Page:
    """One agent page in a tab of the shared browser; every read first brings its tab forward."""

    def __init__(self, session: Any, url: str, first: bool) -> None:
        self.browser = session
        if not first:
            session.switch_to.new_window("tab")
        session.get(url)
        self.handle = session.current_window_handle
        wait_for(lambda: self.text("#connection") == "live", "the page's stream to connect")

    def text(self, selector: str) -> str:
        self.browser.switch_to.window(self.handle)
        return text_of(self.browser, selector)

    def elements(self, selector: str) -> List[Dict[str, Any]]:
        self.browser.switch_to.window(self.handle)
        return elements_of(self.browser, selector)


class RingGroupCall:
    """One call from the trunk into the ring group, watched on a read-all manager session of its own."""

    def __init__(self, asterisk: AsteriskHarness, recorder: AMIRecorder, caller_id: str, ring_group: str) -> None:
        self.asterisk = asterisk
        self.ring_group = ring_group
        self.watcher = _Capture(recorder.port, AMI_USER, recorder.secret)
        with AMIClient("127.0.0.1", recorder.port, AMI_USER, recorder.secret, events="off",
                       ping_interval=None) as control:
            control.send_action("Originate", [
                ("Channel", ring_group), ("Context", "ami-callers"), ("Exten", "listen"), ("Priority", "1"),
                ("CallerID", caller_id), ("Timeout", str(RING_MS)), ("Async", "true")])
        first = self.watcher.wait_for(lambda m: m.event == "Newchannel" and m.get("Channel").startswith(
            ring_group + "-") and m.get("Channel").endswith(";1"), "the caller's channel")
        self.call_id = first.get("Linkedid")

    def rang(self) -> Message:
        """The call's first DialBegin: the moment the first phone (or hop) of the ring group rings."""
        return self.watcher.wait_for(lambda m: m.event == "DialBegin" and m.get("Linkedid") == self.call_id,
                                     "the ring group ringing")

    def dialled(self, extension: str) -> Message:
        """The ring group's DialBegin to ``extension``'s phone."""
        return self.watcher.wait_for(lambda m: m.event == "DialBegin" and m.get("Linkedid") == self.call_id
                                     and m.get("DestChannel").startswith("Local/%s@ami-phones-" % extension),
                                     "the ring group ringing %s" % extension)

    def phone(self, extension: str) -> str:
        """The phone's own half of its Local channel (``;2``: the one running the phone's dialplan)."""
        return self.dialled(extension).get("DestChannel")[:-1] + "2"

    def state_of(self, channel: str) -> str:
        """The channel's state as Asterisk shows it now (Ringing, Up, ...); "" once it is gone."""
        for line in self.asterisk.cli("core show channels concise").splitlines():
            fields = line.split("!")
            if fields[0] == channel and len(fields) > 4:
                return fields[4]
        return ""

    def pick_up(self, extension: str) -> None:
        """The phone answers: its channel leaves its ringing dialplan for ``pickup`` (Answer, then talk)."""
        self.asterisk.cli("channel redirect %s ami-phones,pickup,1" % self.phone(extension))

    def hang_up(self, extension: str) -> None:
        """The phone hangs up (the ring group's Dial ends, and with it the caller's call)."""
        self.asterisk.cli("channel request hangup %s" % self.phone(extension))

    def hang_up_everything(self) -> None:
        """Whatever is left of the call (one call at a time rings this ring group)."""
        for line in self.asterisk.cli("core show channels concise").splitlines():
            channel = line.split("!", 1)[0]
            if channel.startswith((self.ring_group + "-",) + PHONES):
                self.asterisk.cli("channel request hangup %s" % channel)

    def close(self) -> None:
        self.hang_up_everything()
        wait_for(lambda: self.call_id not in self.asterisk.cli("core show channels concise"),
                 "the channels of call %s to go" % self.call_id)
        self.watcher.close()


@pytest.fixture
def place(asterisk: AsteriskHarness, pbx) -> Iterator[Any]:
    """``place(caller_id)`` -> a RingGroupCall; whatever is left of it is hung up afterwards."""
    placed: List[RingGroupCall] = []

    def call(caller_id: str = CALLER, ring_group: str = RING_GROUP) -> RingGroupCall:
        placed.append(RingGroupCall(asterisk, pbx[0], caller_id, ring_group))
        return placed[-1]

    yield call
    for made in placed:
        made.close()


def since(stamp: Message) -> float:
    """Seconds from Asterisk's event (its Timestamp, the same clock as this machine's) to now."""
    return time.time() - float(stamp.get("Timestamp"))


@pytest.mark.parametrize("ring_group", [RING_GROUP, RING_GROUP_WITH_HOPS], ids=["phones", "through-hops"])
def test_a_ring_group_call_pops_on_both_pages_then_answered_by_200_then_ended(
        screen_daemon, place, chromium, ring_group: str) -> None:
    page_200 = Page(chromium.session, agent_link(screen_daemon, "200"), first=True)
    page_205 = Page(chromium.session, agent_link(screen_daemon, "205"), first=False)
    assert page_200.text("#extension") == "200" and page_205.text("#extension") == "205"
    stream_205 = EventStream(screen_daemon.http_port, "/agent/%s/events" % agent_link(
        screen_daemon, "205").rsplit("/", 1)[1])
    timings: Dict[str, float] = {}
    try:
        call = place(ring_group=ring_group)
        rang, phone_200 = call.rang(), call.phone("200")

        wait_for(lambda: "Acme Corp" in page_200.text("#current .client"), "the caller's client on 200's page")
        timings["ring to the client on 200's page"] = since(rang)
        assert call.state_of(phone_200[:-1] + "1") == "Ringing"  # Asterisk still rings 200: nobody answered
        assert page_200.text("#current .state") == "Ringing"
        assert page_200.text("#current .contact") == "John Smith - CEO"
        assert page_200.text("#current .number") == "+15551234567"
        [card] = page_200.elements("#current .card")
        assert card["className"].split() == ["card", "ringing"]
        wait_for(lambda: "Acme Corp" in page_205.text("#current .client"), "the caller's client on 205's page")
        assert page_205.text("#current .state") == "Ringing"
        wait_for(lambda: "0 open tickets" in page_200.text("#current .open-tickets"), "ITFlow's part of the card")
        assert page_200.text("#current .balance") == "Balance: USD 1700.50"
        assert call.state_of(phone_200[:-1] + "1") == "Ringing"  # still: the whole card came before any answer

        call.pick_up("200")
        answered = call.watcher.wait_for(lambda m: m.event == "DialEnd" and m.get("Linkedid") == call.call_id
                                         and m.get("DestChannel").startswith("Local/200@ami-phones-")
                                         and m.get("DialStatus") == "ANSWER", "200 answering")
        wait_for(lambda: page_200.text("#current .state") == "Answered by 200", "answered on 200's page")
        timings["answer to 'Answered by 200' on 200's page"] = since(answered)
        wait_for(lambda: page_205.text("#current .state") == "Answered by 200", "answered on 205's page")
        [card] = page_205.elements("#current .card")
        assert card["className"].split() == ["card"]  # 205 no longer rings
        assert "Acme Corp" in page_205.text("#current .client")
        # 205's own leg stops as Asterisk cancels its phone: just before 200's answer is posted, or (through
        # a hop) just after it; either way 205's page ends up with the call answered by 200 and its leg stopped.
        seen_205 = stream_205.next_where(lambda e: e["type"] == "call" and e["call"]["state"] == "answered"
                                         and e["call"]["leg"] == "stopped")
        assert seen_205["call"]["answered_by"] == "200"

        call.hang_up("200")
        ended = call.watcher.wait_for(lambda m: m.event == "Hangup" and m.get("Uniqueid") == call.call_id,
                                      "the caller's channel to hang up")
        wait_for(lambda: page_200.text("#current .state") == "Ended (answered by 200)", "ended on 200's page")
        timings["hangup to 'Ended' on 200's page"] = since(ended)
        wait_for(lambda: page_205.text("#current .state") == "Ended (answered by 200)", "ended on 205's page")
        for page in (page_200, page_205):
            assert "+15551234567 - Acme Corp" in page.text("#today")
            assert len(page.elements("#today li")) == 1
    finally:
        stream_205.close()
    for name, seconds in timings.items():
        print("agent page on the real ring group (%s): %s: %.3f s" % (ring_group, name, seconds))


def test_a_revoked_link_sees_nothing_and_its_open_page_empties(
        screen_daemon, place, chromium) -> None:
    link = agent_link(screen_daemon, "200")
    token = link.rsplit("/", 1)[1]
    page = Page(chromium.session, link, first=True)
    stream = EventStream(screen_daemon.http_port, "/agent/%s/events" % token)
    try:
        assert stream.next_where(lambda e: True)["type"] == "state"
        call = place()
        call.dialled("200")
        wait_for(lambda: "Acme Corp" in page.text("#current .client"), "the ringing call on the page")
        # Everything the page had to see (ITFlow's part of the card is in): from here on, nothing happens.
        stream.next_where(lambda e: e["type"] == "card" and e["card"]["status"] != "loading")

        assert agent_link(screen_daemon, "--revoke", "200") == "1 link(s) of extension 200 revoked"
        revoked = time.monotonic()
        assert get(link) == (404, b"not found\n")
        assert get(link + "/events") == (404, b"not found\n")
        # The open stream ends at its next heartbeat, having sent nothing more (the call just rings on).
        assert list(stream.events()) == []
        print("agent page on the real ring group: revoke to the open stream's end: %.3f s"
              % (time.monotonic() - revoked))
        wait_for(lambda: page.text("#connection") == "link revoked", "the open page to learn its link is revoked",
                 patience=PATIENCE + 2 * HEARTBEAT)
        print("agent page on the real ring group: revoke to the open page emptied: %.3f s"
              % (time.monotonic() - revoked))
        shown = page.text("main")
        assert "Acme Corp" not in shown and "+15551234567" not in shown and "John Smith" not in shown, shown
        assert call.state_of(call.phone("200")[:-1] + "1") == "Ringing"  # the call goes on: only the page is gone
    finally:
        stream.close()
