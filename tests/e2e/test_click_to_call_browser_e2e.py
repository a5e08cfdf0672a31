"""Click to call in real browsers (Debian's headless Chromium and Firefox ESR): the page offers itself as the
tel: handler, a tel: link on a page standing in for ITFlow opens the confirm page, its button places the call at
a fake AMI; the same form posted from another site is refused by what the browser says about it.

A headless browser cannot answer its "open tel: links?" question, so once the page has loaded (and has found
the browser's ``navigator.registerProtocolHandler``), the test puts a stub in its place that records the call;
the URL the browser would open for the link is built the way browsers do (the ``%s`` replaced by the escaped
link). In Firefox the whole way is also taken for real: its bar asking to add the page as the application for
tel: links, then a tel: link clicked, its "Allow this site to open the tel link?" and "Choose an application"
dialogs answered as a user would.
"""

from __future__ import annotations

import json
from typing import Iterator
from urllib.parse import quote

import pytest

from agent_screen_harness import Screen
from browser import Firefox, browser_fixture, chromium_fixture, firefox_fixture, page_served, text_of  # noqa: F401 - the fixtures browser, chromium, firefox
from fake_ami import FakeAMI
from itflow_bridge.calls.originate import Originator
from itflow_bridge.screen.click_to_call import ClickToCall
from polling import wait_for

pytestmark = pytest.mark.e2e

DIAL_USER = "itflow-bridge-dial"
DIAL_SECRET = "dial-secret-for-the-browser-test-0123456789"
STUB = "navigator.registerProtocolHandler = function (scheme, url) { window.registered = [scheme, url]; };"
ITFLOW_PAGE = "data:text/html,<a id='number' href='tel:+1-555-123-4567'>+1 555 123 4567</a>"
FIREFOX_TEL_BAR = "Protocol Registration: tel"  # Firefox's name for the bar asking to add a tel: handler


@pytest.fixture
def ami() -> Iterator[FakeAMI]:
    server = FakeAMI(secret=DIAL_SECRET, user=DIAL_USER)
    yield server
    server.close()


@pytest.fixture
def screen(tmp_path, ami) -> Iterator[Screen]:
    made = Screen(tmp_path, click=ClickToCall(Originator("127.0.0.1", ami.port, DIAL_USER, DIAL_SECRET).call))
    yield made
    made.close()


@pytest.fixture
def itflow_page() -> Iterator[str]:
    """ITFLOW_PAGE served over HTTP from an origin of its own (localhost; the agent's page is on 127.0.0.1)."""
    with page_served(ITFLOW_PAGE.partition(",")[2].encode(), "/client_overview.php", url_host="localhost") as url:
        yield url


def originates(ami: FakeAMI) -> list:
    with ami.lock:
        return [action for action in ami.received if action.get("Action") == "Originate"]


def test_a_tel_link_opens_the_confirm_page_and_its_button_calls(browser, screen, ami):
    token = screen.links.issue("201")
    page = "http://127.0.0.1:%d/agent/%s" % (screen.port, token)
    browser.get(page)
    wait_for(lambda: browser.displayed("#click-to-call"), "the page to offer handling phone links")
    browser.execute_script(STUB)
    browser.click("#click-to-call")
    wait_for(lambda: browser.execute_script("return window.registered || null") is not None, "the handler asked for")
    assert browser.execute_script("return window.registered") == ["tel", page + "/call?number=%s"]

    browser.get(ITFLOW_PAGE)
    link = browser.attribute("#number", "href")
    assert link == "tel:+1-555-123-4567"
    browser.get((page + "/call?number=%s").replace("%s", quote(link, safe="")))
    assert "Call +15551234567 from extension 201?" in text_of(browser, "#confirm")
    assert originates(ami) == []  # opening the link called nobody
    browser.click("#confirm button")
    wait_for(lambda: len(originates(ami)) == 1, "the Originate at the manager")
    [originate] = originates(ami)
    assert (originate.get("Channel"), originate.get("Exten")) == ("Local/201@originate-skipvm", "+15551234567")
    wait_for(lambda: "rings now" in text_of(browser, "main"), "the page saying the phone rings")


def test_firefox_takes_the_page_for_tel_links_and_a_clicked_number_opens_the_confirm_page(
        firefox: Firefox, screen, ami, itflow_page):
    token = screen.links.issue("201")
    page = "http://127.0.0.1:%d/agent/%s" % (screen.port, token)
    firefox.get(page)
    wait_for(lambda: firefox.displayed("#click-to-call"), "the page to offer handling phone links")
    firefox.click("#click-to-call")
    wait_for(lambda: firefox.notification_bar(FIREFOX_TEL_BAR) is not None, "Firefox asking about tel: links")
    bar = firefox.notification_bar(FIREFOX_TEL_BAR, press="Add application")
    assert bar == {"text": "Add \u201c127.0.0.1\u201d as an application for tel links?", "buttons": ["Add application"]}
    assert text_of(firefox, "#click-to-call") == "Phone links: asked the browser"
    assert firefox.web_handlers("tel") == [page + "/call?number=%s"]

    firefox.get(itflow_page)
    firefox.click("#number")  # the first tel: link: Firefox asks before opening it, then with what
    wait_for(lambda: (firefox.tab_dialog() or {}).get("ready") is True, "Firefox asking to open the tel: link")
    asked = firefox.tab_dialog(accept=True)
    assert asked is not None and asked["text"][0] == "Allow this site to open the tel link?"
    handler = "127.0.0.1:%d" % screen.port
    wait_for(lambda: handler in (firefox.tab_dialog() or {}).get("choices", ()), "the choice of application")
    wait_for(lambda: (firefox.tab_dialog() or {}).get("ready") is True, "the choice ready to accept")
    assert firefox.tab_dialog(choose=handler, accept=True)["url"].endswith("/appChooser.xhtml")
    opened = page + "/call?number=tel%3A%2B1-555-123-4567"
    wait_for(lambda: firefox.current_url == opened, "Firefox opening the page for the link")
    wait_for(lambda: "Call +15551234567 from extension 201?" in text_of(firefox, "#confirm"), "the confirm page")
    assert originates(ami) == []  # opening the link called nobody
    firefox.click("#confirm button")
    wait_for(lambda: len(originates(ami)) == 1, "the Originate at the manager")
    [originate] = originates(ami)
    assert (originate.get("Channel"), originate.get("Exten")) == ("Local/201@originate-skipvm", "+15551234567")


def test_the_same_form_from_another_site_is_refused(browser, screen, ami):
    token = screen.links.issue("201")
    form_token = screen.routes.click.form_tokens.issue(token)  # even a leaked form token does not help
    target = "http://127.0.0.1:%d/agent/%s/call" % (screen.port, token)
    forged = ("<form id='f' method='post' action=%s><input name='number' value='+15551234567'>"
              "<input name='csrf' value=%s></form><script>document.getElementById('f').submit()</script>"
              % (json.dumps(target), json.dumps(form_token)))
    browser.get("data:text/html," + quote(forged))
    wait_for(lambda: "Not from the agent" in browser.title or "Not from the agent" in text_of(browser, "body"),
             "the refusal")
    assert originates(ami) == []
