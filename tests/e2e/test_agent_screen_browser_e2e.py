"""The agent's page in real browsers: Debian's headless Chromium and Firefox ESR (``browser.py``).

Recorded real Asterisk 22 events are fed to a running server while the page is
open: the caller's client shows while it rings (ITFlow's tickets fill in after),
then "answered", then "ended"; an unknown caller shows "not in ITFlow".
The browsers come from Debian (installed here when missing, as root); without
them the test fails and says so.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from agent_screen_harness import Screen, recorded, until
from browser import Firefox, browser_fixture, chromium_fixture, elements_of, firefox_fixture, text_of  # noqa: F401 - the fixtures browser, chromium, firefox
from itflow_bridge.calls.ami_protocol import Message
from polling import wait_for


# Nothing to scroll sideways: the page fits the window (a phone's width, see browser.py).
FITS_THE_WIDTH = "return document.documentElement.scrollWidth <= window.innerWidth;"


@pytest.fixture
def screen(tmp_path) -> Iterator[Screen]:
    made = Screen(tmp_path)
    yield made
    made.close()


def test_the_page_shows_the_caller_while_it_rings_then_answered_then_ended(browser, screen):
    token = screen.links.issue("201")
    browser.get("http://127.0.0.1:%d/agent/%s" % (screen.port, token))
    wait_for(lambda: text_of(browser, "#connection") == "live", "the page's stream to connect")
    wait_for(lambda: text_of(browser, "#extension") == "201", "the page's extension")
    messages = recorded("answered.txt")
    ringing = until(messages, lambda m: m.event == "DialBegin" and m.get("DestChannel").startswith("Local/201@"))
    answered = until(messages, lambda m: m.event == "DialEnd" and m.get("DialStatus") == "ANSWER")

    screen.feed(messages[:ringing])
    wait_for(lambda: "ACME Corp" in text_of(browser, "#current .client"), "the caller's client on the page")
    assert text_of(browser, "#current .state") == "Ringing"
    assert "John Smith - CEO" in text_of(browser, "#current .contact")
    assert "+15551234567" in text_of(browser, "#current .number")
    assert "Fetching tickets" in text_of(browser, "#current")  # ITFlow has not answered: the name is there anyway
    links = {a["text"]: a["href"] for a in elements_of(browser, "#current .actions a")}
    assert links["Open client in ITFlow"] == "https://itflow.example/agent/client_overview.php?client_id=1"

    screen.release.set()  # ITFlow answers
    wait_for(lambda: "1 open ticket" in text_of(browser, "#current .open-tickets"), "the open tickets")
    [ticket] = elements_of(browser, "#current .tickets a")
    assert ticket["text"] == "TCK-12 Printer jams"
    assert ticket["href"] == "https://itflow.example/agent/ticket.php?ticket_id=12"
    assert ticket["rel"] == "noopener noreferrer"
    assert browser.execute_script(FITS_THE_WIDTH), "the card does not fit a phone's width"

    screen.feed(messages[ringing:answered])
    wait_for(lambda: text_of(browser, "#current .state") == "Answered by 201", "answered on the page")
    screen.feed(messages[answered:])
    wait_for(lambda: text_of(browser, "#current .state").startswith("Ended"), "ended on the page")
    assert text_of(browser, "#current .state") == "Ended (answered by 201)"
    assert "ACME Corp" in text_of(browser, "#today") and len(elements_of(browser, "#today li")) == 1


def test_an_unknown_caller_is_not_in_itflow_with_a_link_to_add_the_contact(browser, screen):
    token = screen.links.issue("202")
    browser.get("http://127.0.0.1:%d/agent/%s" % (screen.port, token))
    wait_for(lambda: text_of(browser, "#connection") == "live", "the page's stream to connect")
    screen.feed([Message([("Event", "DialBegin"), ("Channel", "PJSIP/trunk-1"), ("Linkedid", "1796619599.1"),
                          ("CallerIDNum", "+15550001111"), ("DestChannel", "PJSIP/202-00000001"),
                          ("DestUniqueid", "1796619599.2")])])
    wait_for(lambda: "not in ITFlow" in text_of(browser, "#current"), "the unknown caller")
    assert "+15550001111" in text_of(browser, "#current .number")
    [add] = elements_of(browser, "#current .actions a")
    assert (add["text"], add["href"]) == ("Add contact in ITFlow", "https://itflow.example/agent/contacts.php")


def test_the_page_comes_back_with_the_whole_state_after_the_stream_is_lost(browser, screen):
    token = screen.links.issue("201")
    browser.get("http://127.0.0.1:%d/agent/%s" % (screen.port, token))
    wait_for(lambda: text_of(browser, "#connection") == "live", "the page's stream to connect")
    screen.streams.close_all()  # every stream dropped (as a slow page's is)
    messages = recorded("answered.txt")
    screen.feed(messages[:until(messages, lambda m: m.event == "DialBegin" and m.get("DestChannel").startswith("Local/201@"))])
    # Fed while the page was away: the browser reconnects and the whole state brings the call.
    wait_for(lambda: "ACME Corp" in text_of(browser, "#current .client"), "the call after reconnecting")
    assert text_of(browser, "#connection") == "live"


def test_a_page_left_open_empties_once_its_link_is_revoked(browser, screen):
    token = screen.links.issue("201")
    browser.get("http://127.0.0.1:%d/agent/%s" % (screen.port, token))
    wait_for(lambda: text_of(browser, "#connection") == "live", "the page's stream to connect")
    messages = recorded("answered.txt")
    screen.feed(messages[:until(messages, lambda m: m.event == "DialBegin" and m.get("DestChannel").startswith("Local/201@"))])
    wait_for(lambda: "ACME Corp" in text_of(browser, "#current .client"), "the ringing call on the page")

    screen.links.revoke("201")  # as agent-link --revoke does: the stream ends at its next heartbeat
    wait_for(lambda: text_of(browser, "#connection") == "link revoked", "the page to learn its link is revoked")
    shown = text_of(browser, "main")
    assert "ACME Corp" not in shown and "+15551234567" not in shown and "John Smith" not in shown, shown
    assert "This link no longer works" in text_of(browser, "#current")


def test_a_page_refused_with_an_error_answer_keeps_trying_until_its_stream_opens(browser, screen):
    screen.streams.max_streams = 0  # every stream refused with 503, as when 500 pages are open
    token = screen.links.issue("201")
    browser.get("http://127.0.0.1:%d/agent/%s" % (screen.port, token))
    wait_for(lambda: text_of(browser, "#connection") == "reconnecting…", "the page to see its stream refused")
    refused = screen.get("/agent/%s/events" % token)[0]
    assert refused.status == 503  # browsers never retry a stream answered so: the page must
    screen.streams.max_streams = 500  # a page elsewhere was closed
    wait_for(lambda: text_of(browser, "#connection") == "live", "the page's stream to open after all")
    messages = recorded("answered.txt")
    screen.feed(messages[:until(messages, lambda m: m.event == "DialBegin" and m.get("DestChannel").startswith("Local/201@"))])
    wait_for(lambda: "ACME Corp" in text_of(browser, "#current .client"), "the ringing call on the page")


def test_the_page_offers_phone_links_only_when_the_bridge_places_calls(browser, screen):
    token = screen.links.issue("201")
    page = "http://127.0.0.1:%d/agent/%s" % (screen.port, token)
    browser.get(page)
    wait_for(lambda: text_of(browser, "#connection") == "live", "the page's stream to connect")
    # The page asks the bridge whether it places calls; this one does not (its /call is not found).
    wait_for(lambda: browser.execute_script("return performance.getEntriesByName(arguments[0]).length;", page + "/call") > 0,
             "the page's question to the bridge")
    assert not browser.displayed("#click-to-call")
    permission = browser.execute_script("return window.Notification ? Notification.permission : 'unsupported';")
    assert browser.displayed("#notify") == (permission == "default")  # offered until the browser was asked
    assert browser.execute_script(FITS_THE_WIDTH), "the header does not fit a phone's width"


def test_firefox_asks_then_shows_a_desktop_notification_when_a_call_rings(firefox: Firefox, screen):
    token = screen.links.issue("201")
    firefox.get("http://127.0.0.1:%d/agent/%s" % (screen.port, token))
    wait_for(lambda: text_of(firefox, "#connection") == "live", "the page's stream to connect")
    assert firefox.execute_script("return Notification.permission;") == "default"
    firefox.click("#notify")
    wait_for(lambda: firefox.permission_question("web-notifications") is not None, "Firefox asking about notifications")
    assert firefox.permission_question("web-notifications", allow=True) == {
        "text": "Allow <> to send notifications?", "button": "Allow"}  # <>: Firefox shows the page's site there
    wait_for(lambda: not firefox.displayed("#notify"), "the button gone once the browser was asked")
    assert firefox.execute_script("return Notification.permission;") == "granted"
    assert firefox.desktop_notifications() == []

    messages = recorded("answered.txt")
    ringing = until(messages, lambda m: m.event == "DialBegin" and m.get("DestChannel").startswith("Local/201@"))
    screen.feed(messages[:ringing])
    wait_for(lambda: firefox.desktop_notifications() != [], "the desktop notification")
    assert firefox.desktop_notifications() == [{"title": "Call from +15551234567", "text": "ACME Corp - John Smith"}]
