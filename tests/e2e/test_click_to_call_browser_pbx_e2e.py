"""Click to call end to end: a click in the browser rings extension 200 on the real Asterisk 22, then dials.

The real ``itflow-bridge serve`` runs with calls and its HTTP server on, logged in to the recorder's PBX
as the manager users install writes (``itflow-bridge`` listens, ``itflow-bridge-dial`` may only
originate); its click to call rings ``Local/{ext}@ami-phones`` (phone 200 rings until the test picks
it up) and dials in ``click-outside`` (standing in for FreePBX's outbound routes: any number answers).
Headless Chromium opens 200's page from ``agent-link 200``, presses "Call phone links from this phone",
opens a page standing in for ITFlow (served here, a number as ITFlow renders it: a ``tel:`` link),
follows the link to the handler the page registered and clicks Call on the confirm page.  A read-all
manager session watches Asterisk ring 200, then, once 200 picks up, dial the number with
``ITFLOW_CLICK_TO_CALL=1``.

Headless Chromium cannot answer the browser's "open tel: links?" question: the page's call to
``navigator.registerProtocolHandler`` is recorded by a stub, and a click on the link opens the URL the
browser would (the registered URL, its ``%s`` the escaped link).  The seconds from the click to
Asterisk's events are printed (``-s`` shows them).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Tuple

import pytest

from agent_pbx import OUTSIDE, ClickPBX, Daemon, Page, agent_link, install_users, start_screen_daemon
from ami_recorder import AMI_USER, AMIRecorder, _Capture
from asterisk_harness import AsteriskHarness
from browser import browser_fixture, text_of  # noqa: F401 - the fixture browser
from itflow_bridge.calls.originate import CLICK_VARIABLE
from itflow_bridge.install import manager_user
from itflow_bridge.install.asterisk_layout import detect
from itflow_bridge.install.installer import reload_manager
from polling import wait_for

pytestmark = pytest.mark.e2e

EXTENSION = "200"
PHONE = "Local/200@ami-phones-"  # the agent's phone's channels (;1 rung by the Originate, ;2 its dialplan)
NUMBER = "+15550199000"  # as the bridge cleans the link's number
ITFLOW_PAGE = (b"<!doctype html><title>Acme Corp - ITFlow</title>"
               b"<p>Main office: <a id='number' href='tel:+1-555-019-9000'>(555) 019-9000</a></p>")
STUB = "navigator.registerProtocolHandler = function (scheme, url) { window.registered = [scheme, url]; };"
# What the browser does with a click on a tel: link once a page registered as its handler.
FOLLOW_AS_HANDLER = """var handler = arguments[0];
document.getElementById("number").addEventListener("click", function (event) {
  event.preventDefault();
  location.href = handler.replace("%s", encodeURIComponent(event.currentTarget.href));
});"""


@pytest.fixture
def pbx(asterisk: AsteriskHarness) -> Iterator[Tuple[AMIRecorder, str, str]]:
    """The recorder's PBX with both manager users as install writes them: (recorder, secret, dial secret)."""
    recorder = AMIRecorder(asterisk)
    recorder.enable()
    click_pbx = ClickPBX(asterisk)
    secret, dial_secret = manager_user.new_secret(), manager_user.new_secret()
    layout = detect(asterisk.root)
    install_users(layout, secret, dial_secret)
    reload_manager(layout)
    wait_for(lambda: manager_user.DIAL_USER in asterisk.cli("manager show users"), "Asterisk to know the users")
    yield recorder, secret, dial_secret
    click_pbx.restore()


@pytest.fixture
def click_daemon(daemon, pbx, asterisk: AsteriskHarness, tmp_path) -> Daemon:
    recorder, secret, dial_secret = pbx
    return start_screen_daemon(daemon, asterisk, tmp_path, recorder.port, manager_user.USER, secret,
                               originate_user=manager_user.DIAL_USER, originate_secret=dial_secret,
                               originate_channel="Local/{ext}@ami-phones", originate_context=OUTSIDE)


class _ITFlowPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(ITFLOW_PAGE)))
        self.end_headers()
        self.wfile.write(ITFLOW_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def itflow_page() -> Iterator[str]:
    """The URL of a page standing in for ITFlow's client page, served on its own port (another origin)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ITFlowPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/client.php?client_id=1" % server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def watcher(pbx) -> Iterator[_Capture]:
    recorder = pbx[0]
    session = _Capture(recorder.port, AMI_USER, recorder.secret)
    yield session
    session.close()


def channel_state(asterisk: AsteriskHarness, channel: str) -> str:
    """The channel's state as Asterisk shows it now (Ringing, Up, ...); "" once it is gone."""
    for line in asterisk.cli("core show channels concise").splitlines():
        fields = line.split("!")
        if fields[0] == channel and len(fields) > 4:
            return fields[4]
    return ""


def test_a_click_on_a_tel_link_rings_200_then_dials_the_number(
        click_daemon, browser, itflow_page, watcher, asterisk: AsteriskHarness) -> None:
    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": STUB})
    link = agent_link(click_daemon, EXTENSION)
    page = Page(browser, link, first=True)
    button = browser.find_element(By.ID, "click-to-call")
    wait_for(lambda: button.is_displayed(), "the page to offer handling phone links")
    button.click()
    wait_for(lambda: browser.execute_script("return window.registered || null") is not None, "the handler asked for")
    scheme, handler = browser.execute_script("return window.registered")
    assert (scheme, handler) == ("tel", link + "/call?number=%s")

    browser.get(itflow_page)
    browser.execute_script(FOLLOW_AS_HANDLER, handler)
    browser.find_element(By.ID, "number").click()
    wait_for(lambda: "Call %s from extension %s?" % (NUMBER, EXTENSION) in text_of(browser, "#confirm"),
             "the confirm page")
    assert not any(m.event == "Newchannel" and m.get("Channel").startswith(PHONE) for m in watcher.messages)
    clicked = time.time()
    browser.find_element(By.CSS_SELECTOR, "#confirm button").click()

    rung = watcher.wait_for(lambda m: m.event == "Newchannel" and m.get("Channel").startswith(PHONE)
                            and m.get("Channel").endswith(";1"), "200's phone rung")
    call_id, phone = rung.get("Linkedid"), rung.get("Channel")
    ringing = watcher.wait_for(lambda m: m.event == "Newstate" and m.get("Channel") == phone
                               and m.get("ChannelStateDesc") == "Ringing", "200's phone ringing")
    wait_for(lambda: "rings now" in text_of(browser, "main"), "the confirm page saying the phone rings")
    assert channel_state(asterisk, phone) == "Ringing"  # nobody answered: the number is not dialled yet
    assert not any(m.event == "Newexten" and m.get("Linkedid") == call_id and m.get("Context") == OUTSIDE
                   for m in watcher.messages)

    asterisk.cli("channel redirect %s ami-phones,pickup,1" % (phone[:-1] + "2"))  # 200 picks up
    answered = watcher.wait_for(lambda m: m.event == "Newstate" and m.get("Channel") == phone
                                and m.get("ChannelStateDesc") == "Up", "200 answering")
    dialled = watcher.wait_for(lambda m: m.event == "Newexten" and m.get("Context") == OUTSIDE
                               and m.get("Exten") == NUMBER, "the number dialled")
    assert dialled.get("Channel") == phone and dialled.get("Linkedid") == call_id
    variable = watcher.wait_for(lambda m: m.event == "VarSet" and m.get("Variable") == CLICK_VARIABLE
                                and m.get("Channel") == phone, "the click-to-call variable")
    assert variable.get("Value") == "1"
    outside = watcher.wait_for(lambda m: m.event == "Newexten" and m.get("Context") == OUTSIDE
                               and m.get("Exten") == NUMBER[1:], "the outside number answering")
    assert outside.get("Linkedid") == call_id
    print("click to call on the real PBX: click to 200 ringing: %.3f s"
          % (float(ringing.get("Timestamp")) - clicked))
    print("click to call on the real PBX: 200's answer to the number dialled: %.3f s"
          % (float(dialled.get("Timestamp")) - float(answered.get("Timestamp"))))

    browser.switch_to.window(page.handle)
    browser.get(link)
    print("PAGE:", page.text("main"))
    watcher.wait_for(lambda m: m.event == "Hangup" and m.get("Uniqueid") == call_id, "the call to end")
    print("PAGE after:", page.text("main"))
