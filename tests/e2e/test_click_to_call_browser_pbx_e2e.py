"""Click to call end to end: a click in the browser rings extension 200 on the real Asterisk 22, then dials.

The real ``itflow-bridge serve`` runs with calls and its HTTP server on, logged in to the recorder's PBX
as the manager users install writes (``itflow-bridge`` listens, ``itflow-bridge-dial`` may only
originate); its click to call rings ``Local/{ext}@ami-ring-members``, a Local channel that dials the
phone (as FreePBX's ``originate-skipvm`` does; phone 200 rings until the test picks it up), and dials
in ``click-outside`` (standing in for FreePBX's outbound routes: any number answers).
Headless Chromium opens 200's page from ``agent-link 200``, presses "Call phone links from this phone",
opens a page standing in for ITFlow (served here, a number as ITFlow renders it: a ``tel:`` link),
follows the link to the handler the page registered and clicks Call on the confirm page.  A read-all
manager session watches Asterisk ring 200, then, once 200 picks up, dial the number with
``ITFLOW_CLICK_TO_CALL=1``.  200's page never shows that call (the agent's own click is not a caller):
a call from the trunk placed after it is the only one the page lists.

Headless Chromium cannot answer the browser's "open tel: links?" question: the page's call to
``navigator.registerProtocolHandler`` is recorded by a stub, and a click on the link opens the URL the
browser would (the registered URL, its ``%s`` the escaped link).  The seconds from the click to
Asterisk's events are printed (``-s`` shows them).
"""

from __future__ import annotations

import time
from typing import Iterator, Tuple

import pytest

from agent_pbx import OUTSIDE, ClickPBX, Daemon, Page, agent_link, install_users, start_screen_daemon
from agent_pbx import place_fixture  # noqa: F401 - the fixture place
from ami_recorder import AMI_USER, AMIRecorder, _Capture
from asterisk_harness import AsteriskHarness
from browser import chromium_fixture, page_served, text_of  # noqa: F401 - the fixture chromium
from itflow_bridge.calls.originate import CLICK_VARIABLE
from itflow_bridge.install import manager_user
from itflow_bridge.install.asterisk_layout import detect
from itflow_bridge.install.installer import reload_manager
from polling import wait_for

pytestmark = pytest.mark.e2e

EXTENSION = "200"
CLICK_CHANNEL = "Local/{ext}@ami-ring-members"  # dials the phone, as FreePBX's Local/{ext}@originate-skipvm
ORIGINATED = "Local/200@ami-ring-members-"  # the Originate's channel (;1) and its half that dials the phone (;2)
PHONE = "Local/200@ami-phones-"  # the agent's phone's channels (;1 rung, ;2 its ringing dialplan)
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
    asterisk.cli("dialplan set global CALLERID_LOOKUP no")  # the page alone names the trunk's caller here
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
                               originate_channel=CLICK_CHANNEL, originate_context=OUTSIDE)


@pytest.fixture
def itflow_page() -> Iterator[str]:
    """The URL of a page standing in for ITFlow's client page, served on its own port (another origin)."""
    with page_served(ITFLOW_PAGE, "/client.php?client_id=1") as url:
        yield url


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


def register_the_page(browser, link: str) -> str:
    """Press the page's "Call phone links from this phone": the handler URL it registered for tel: links."""
    from selenium.webdriver.common.by import By

    button = browser.find_element(By.ID, "click-to-call")
    wait_for(lambda: button.is_displayed(), "the page to offer handling phone links")
    button.click()
    wait_for(lambda: browser.execute_script("return window.registered || null") is not None, "the handler asked for")
    scheme, handler = browser.execute_script("return window.registered")
    assert (scheme, handler) == ("tel", link + "/call?number=%s")
    return str(handler)


def click_and_watch(browser, itflow_page: str, handler: str, watcher: _Capture, asterisk: AsteriskHarness) -> str:
    """Click the number on the ITFlow page, then Call on the confirm page; Asterisk rings 200 and, once the test
    picks 200 up, dials the number.  The call's Linkedid."""
    from selenium.webdriver.common.by import By

    browser.get(itflow_page)
    browser.execute_script(FOLLOW_AS_HANDLER, handler)
    browser.find_element(By.ID, "number").click()
    wait_for(lambda: "Call %s from extension %s?" % (NUMBER, EXTENSION) in text_of(browser, "#confirm"),
             "the confirm page")
    assert not any(m.event == "Newchannel" and m.get("Channel").startswith(ORIGINATED) for m in watcher.messages)
    clicked = time.time()
    browser.find_element(By.CSS_SELECTOR, "#confirm button").click()

    originated = watcher.wait_for(lambda m: m.event == "Newchannel" and m.get("Channel").startswith(ORIGINATED)
                                  and m.get("Channel").endswith(";1"), "the Originate's channel")
    call_id, channel = originated.get("Linkedid"), originated.get("Channel")
    rung = watcher.wait_for(lambda m: m.event == "DialBegin" and m.get("Linkedid") == call_id
                            and m.get("DestChannel").startswith(PHONE), "200's phone rung")
    phone = rung.get("DestChannel")
    ringing = watcher.wait_for(lambda m: m.event == "Newstate" and m.get("Channel") == phone
                               and m.get("ChannelStateDesc") == "Ringing", "200's phone ringing")
    wait_for(lambda: "rings now" in text_of(browser, "main"), "the confirm page saying the phone rings")
    assert channel_state(asterisk, phone) == "Ringing"  # nobody answered: the number is not dialled yet
    assert not any(m.event == "Newexten" and m.get("Linkedid") == call_id and m.get("Context") == OUTSIDE
                   for m in watcher.messages)

    asterisk.cli("channel redirect %s ami-phones,pickup,1" % (phone[:-1] + "2"))  # 200 picks up
    answered = watcher.wait_for(lambda m: m.event == "DialEnd" and m.get("DestChannel") == phone
                                and m.get("DialStatus") == "ANSWER", "200 answering")
    # The watcher sees every call (another test's may still be talking): this call's events only.
    dialled = watcher.wait_for(lambda m: m.event == "Newexten" and m.get("Linkedid") == call_id
                               and m.get("Context") == OUTSIDE and m.get("Exten") == NUMBER, "the number dialled")
    assert dialled.get("Channel") == channel  # the Originate's own channel, once 200 picked up
    variable = watcher.wait_for(lambda m: m.event == "VarSet" and m.get("Variable") == CLICK_VARIABLE
                                and m.get("Channel") == channel, "the click-to-call variable")
    assert variable.get("Value") == "1"
    watcher.wait_for(lambda m: m.event == "Newexten" and m.get("Linkedid") == call_id and m.get("Context") == OUTSIDE
                     and m.get("Exten") == NUMBER[1:], "the outside number answering")
    print("click to call on the real PBX: click to 200 ringing: %.3f s" % (float(ringing.get("Timestamp")) - clicked))
    print("click to call on the real PBX: 200's answer to the number dialled: %.3f s"
          % (float(dialled.get("Timestamp")) - float(answered.get("Timestamp"))))
    return call_id


def test_a_click_on_a_tel_link_rings_200_then_dials_the_number_and_200s_page_shows_no_caller(
        click_daemon, chromium, itflow_page, watcher, place, asterisk: AsteriskHarness) -> None:
    browser = chromium.session  # tabs and Chromium's DevTools: selenium's own session
    link = agent_link(click_daemon, EXTENSION)
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": STUB})
    page = Page(browser, link, first=True)
    handler = register_the_page(browser, link)
    browser.switch_to.new_window("tab")  # the agent's page stays open in its own tab
    call_id = click_and_watch(browser, itflow_page, handler, watcher, asterisk)
    watcher.wait_for(lambda m: m.event == "Hangup" and m.get("Uniqueid") == call_id, "the click's call to end")

    # A caller after it: once the page shows them, it has been sent everything of the click's call before.
    call = place()
    call.dialled(EXTENSION)
    wait_for(lambda: "Acme Corp" in page.text("#current .client"), "the next caller on 200's page")
    today = page.elements("#today li")
    assert len(today) == 1 and "+15551234567 - Acme Corp" in today[0]["text"], today
    assert "Call to" not in page.text("main") and NUMBER not in page.text("main")
