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

import secrets
import time
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

from agent_pbx import RING_GROUP, RING_GROUP_WITH_HOPS, Daemon, Page, agent_link, get, start_screen_daemon
from agent_pbx import place_fixture  # noqa: F401 - the fixture place
from agent_screen_harness import EventStream
from ami_recorder import AMIRecorder
from asterisk_harness import AsteriskHarness
from browser import chromium_fixture, elements_of, text_of  # noqa: F401 - the fixture chromium
from itflow_bridge.calls.ami_protocol import Message
from itflow_bridge.screen.live import HEARTBEAT
from polling import PATIENCE, wait_for

pytestmark = pytest.mark.e2e

LISTENER = "itflow-bridge"  # the bridge's manager user: read = call,cdr, nothing to write


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
    return start_screen_daemon(daemon, asterisk, tmp_path, recorder.port, LISTENER, secret)


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
