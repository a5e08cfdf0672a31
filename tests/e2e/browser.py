"""The real browsers the agent's page is tested in, behind one small interface.

Chromium is Debian's ``chromium`` driven by selenium through Debian's ``chromium-driver``.
Firefox is Debian's ``firefox-esr`` driven through Marionette, the remote protocol built into
Firefox, with Mozilla's own Python client (``marionette-driver``): Debian ships no geckodriver.
Missing packages are installed from Debian when the tests run as root; otherwise the test fails
and names the packages.

The ``browser`` fixture runs each test that takes it once per browser; ``chromium`` and ``firefox``
are one of them (one browser process per test module and browser). ``text_of`` and ``elements_of``
read the page in one script each.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import warnings
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from polling import wait_for

PACKAGES = ("chromium", "chromium-driver")
FIREFOX_PACKAGES = ("firefox-esr",)
BROWSERS = ("chromium", "firefox")
PHONE_WINDOW = (420, 900)  # a phone's width; both browsers widen a window narrower than 500 to 500
# Firefox's preferences for a test profile: Marionette on a port of the system's choosing (Firefox
# writes it to MARIONETTE_PORT_FILE); a blank first tab (from its privileged home page, Marionette
# may not open data: URLs); desktop notifications in Firefox's own alert window (a test machine
# has no desktop's notification service, where Firefox would send them otherwise).
FIREFOX_PREFS = {"marionette.port": 0, "browser.startup.page": 0, "alerts.useSystemBackend": False}
MARIONETTE_PORT_FILE = "MarionetteActivePort"
FIREFOX_START_PATIENCE = 60.0
FIREFOX_STOP_PATIENCE = 30.0


def debian_programs(programs: Tuple[str, ...], packages: Tuple[str, ...]) -> List[str]:
    """The paths of ``programs``, their Debian ``packages`` installed first if one is missing (root only)."""
    if not all(shutil.which(program) for program in programs) and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env, check=True, stdout=subprocess.DEVNULL)
    found = [shutil.which(program) for program in programs]
    if not all(found):
        pytest.fail("the browser test needs Debian's %s: apt-get install -y %s"
                    % (" and ".join(packages), " ".join(packages)), pytrace=False)
    return [str(path) for path in found]


def browser_binaries() -> Tuple[str, str]:
    """(chromium, chromedriver)."""
    chromium, driver = debian_programs(("chromium", "chromedriver"), PACKAGES)
    return chromium, driver


def firefox_binary() -> str:
    """Firefox ESR."""
    [firefox] = debian_programs(("firefox-esr",), FIREFOX_PACKAGES)
    return firefox


@contextmanager
def chromium_session() -> Iterator[Any]:
    """A selenium session of headless Chromium at a phone's width."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = browser_binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=%d,%d" % PHONE_WINDOW):
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield session
    finally:
        session.quit()


@contextmanager
def firefox_session() -> Iterator[Any]:
    """A Marionette session of headless Firefox, in a profile of its own, at a phone's width."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # raised by its dependencies as they load
        from marionette_driver.marionette import Marionette

    firefox = firefox_binary()
    with tempfile.TemporaryDirectory(prefix="itflow-bridge-firefox-") as directory:
        profile = Path(directory)
        (profile / "user.js").write_text("".join("user_pref(%s, %s);\n" % (json.dumps(name), json.dumps(value))
                                                 for name, value in FIREFOX_PREFS.items()))
        with open(profile / "firefox.log", "wb") as log:
            process = subprocess.Popen([firefox, "--headless", "--marionette", "-remote-allow-system-access",
                                        "--no-remote", "--profile", directory], stdout=log, stderr=subprocess.STDOUT)
        try:
            port_file = profile / MARIONETTE_PORT_FILE
            wait_for(lambda: process.poll() is not None or _written(port_file), "Firefox's Marionette port",
                     patience=FIREFOX_START_PATIENCE)
            if process.poll() is not None:
                pytest.fail("Firefox exited at start (%s): %s" % (process.returncode, _tail(profile / "firefox.log")),
                            pytrace=False)
            session = Marionette(host="127.0.0.1", port=int(port_file.read_text()))
            session.start_session()
            try:
                session.set_window_rect(width=PHONE_WINDOW[0], height=PHONE_WINDOW[1])
                yield session
            finally:
                session.delete_session()
        finally:
            process.terminate()
            try:
                process.wait(timeout=FIREFOX_STOP_PATIENCE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _written(path: Path) -> bool:
    return path.is_file() and path.read_text().strip().isdigit()


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


class Browser:
    """What the browser tests do with a browser, the same in every browser."""

    name = ""

    def get(self, url: str) -> None:
        """Open ``url`` in the tab and wait until it has loaded."""
        raise NotImplementedError

    def execute_script(self, script: str, *args: object) -> Any:
        """Run ``script`` in the page (its own scope: what it sets, the page sees); its return value."""
        raise NotImplementedError

    def click(self, selector: str) -> None:
        """Click the element ``selector`` finds, as a user would."""
        raise NotImplementedError

    @property
    def current_url(self) -> str:
        return str(self.execute_script("return location.href;"))

    @property
    def title(self) -> str:
        return str(self.execute_script("return document.title"))

    def attribute(self, selector: str, name: str) -> Optional[str]:
        found = self.execute_script("var e = document.querySelector(arguments[0]); "
                                    "return e ? e.getAttribute(arguments[1]) : null;", selector, name)
        return None if found is None else str(found)

    def displayed(self, selector: str) -> bool:
        """Whether ``selector`` finds an element that is rendered (not hidden, with a box)."""
        return bool(self.execute_script("var e = document.querySelector(arguments[0]); "
                                        "return !!e && e.getClientRects().length > 0;", selector))


class Chromium(Browser):
    name = "chromium"

    def __init__(self, session: Any) -> None:
        self.session = session

    def get(self, url: str) -> None:
        self.session.get(url)

    def execute_script(self, script: str, *args: object) -> Any:
        return self.session.execute_script(script, *args)

    def click(self, selector: str) -> None:
        from selenium.webdriver.common.by import By

        self.session.find_element(By.CSS_SELECTOR, selector).click()


# Firefox's own window (its notification bars and the dialogs of a tab), read and answered the way
# a user's clicks would: scripts run in the browser's chrome, which -remote-allow-system-access allows.
_BAR = """
let bar = gBrowser.getNotificationBox(gBrowser.selectedBrowser).getNotificationWithValue(arguments[0]);
if (!bar) { return null; }
let buttons = Array.from(bar.buttonContainer.children);
let seen = {text: bar.messageText.textContent.replace(/\\s+/g, " ").trim(), buttons: buttons.map(b => b.label)};
let press = buttons.find(b => b.label === arguments[1]);
if (press) { press.click(); }
return seen;
"""
_DIALOG = """
let box = gBrowser.getTabDialogBox(gBrowser.selectedBrowser);
let open = box.getTabDialogManager()._dialogs.concat(box.getContentDialogManager()._dialogs);
let doc = open.length ? open[0].frameContentWindow.document : null;
let dialog = doc ? doc.querySelector("dialog") : null;
if (!dialog || doc.readyState !== "complete") { return null; }
let items = doc.getElementById("items");
let choices = items ? Array.from(items.children).map(i => (i.getAttribute("name") || i.textContent).trim()) : [];
let seen = {url: open[0]._openedURL, choices: choices, ready: !dialog.getButton("accept").disabled,
            text: Array.from(doc.querySelectorAll("description")).map(d => d.textContent.trim()).filter(t => t)};
if (items && arguments[0] !== null) { items.selectedIndex = choices.indexOf(arguments[0]); }
if (arguments[1] && seen.ready) { dialog.acceptDialog(); }
return seen;
"""
_POPUP = """
let popup = PopupNotifications.getNotification(arguments[0], gBrowser.selectedBrowser);
let shown = popup && Array.from(PopupNotifications.panel.children).find(p => p.notification === popup);
if (!shown) { return null; }
let seen = {text: popup.message, button: shown.button.label};
if (arguments[1]) { shown.button.click(); }
return seen;
"""
_ALERTS = """
let found = [];
for (let alert of Services.wm.getEnumerator("alert:alert")) {
  let title = alert.document.getElementById("alertTitleLabel"), text = alert.document.getElementById("alertTextLabel");
  if (title && title.getAttribute("value")) { found.push({title: title.getAttribute("value"), text: text.textContent}); }
}
return found;
"""
_HANDLERS = """
let info = Cc["@mozilla.org/uriloader/external-protocol-service;1"].getService(Ci.nsIExternalProtocolService)
    .getProtocolHandlerInfo(arguments[0]);
let apps = info.possibleApplicationHandlers, found = [];
for (let i = 0; i < apps.length; i++) {
  let app = apps.queryElementAt(i, Ci.nsIHandlerApp);
  if (app instanceof Ci.nsIWebHandlerApp) { found.push(app.uriTemplate); }
}
return found;
"""


class Firefox(Browser):
    name = "firefox"

    def __init__(self, session: Any) -> None:
        self.session = session

    def get(self, url: str) -> None:
        self.session.navigate(url)

    def execute_script(self, script: str, *args: object) -> Any:
        # No sandbox: the script runs in the page's own scope, as WebDriver's does in Chromium.
        return self.session.execute_script(script, script_args=list(args), sandbox=None)

    def click(self, selector: str) -> None:
        from marionette_driver.by import By

        self.session.find_element(By.CSS_SELECTOR, selector).click()

    def in_chrome(self, script: str, *args: object) -> Any:
        """Run ``script`` in Firefox's own window rather than in the page."""
        self.session.set_context(self.session.CONTEXT_CHROME)
        try:
            return self.session.execute_script(script, script_args=list(args), sandbox="system")
        finally:
            self.session.set_context(self.session.CONTEXT_CONTENT)

    def notification_bar(self, value: str, press: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The tab's notification bar ``value`` (its text and buttons), pressing its button ``press``."""
        return self.in_chrome(_BAR, value, press)  # type: ignore[no-any-return]

    def tab_dialog(self, choose: Optional[str] = None, accept: bool = False) -> Optional[Dict[str, Any]]:
        """The dialog open over the tab (its text, its choices, whether it can be accepted yet);
        choosing the choice ``choose`` and accepting it when asked and ready."""
        return self.in_chrome(_DIALOG, choose, accept)  # type: ignore[no-any-return]

    def permission_question(self, name: str, allow: bool = False) -> Optional[Dict[str, Any]]:
        """The question ``name`` Firefox shows under its address bar (its text and main button), pressing
        that button when ``allow``."""
        return self.in_chrome(_POPUP, name, allow)  # type: ignore[no-any-return]

    def desktop_notifications(self) -> List[Dict[str, str]]:
        """The desktop notifications on screen: title and text of each."""
        return self.in_chrome(_ALERTS)  # type: ignore[no-any-return]

    def web_handlers(self, scheme: str) -> List[str]:
        """The URL templates of the web pages Firefox has been allowed to open ``scheme`` links with."""
        return self.in_chrome(_HANDLERS, scheme)  # type: ignore[no-any-return]


@pytest.fixture(scope="module", name="chromium")
def chromium_fixture(e2e_privileges: None) -> Iterator[Chromium]:
    """Headless Chromium, one per test module (import ``chromium_fixture`` to use ``chromium``)."""
    with chromium_session() as session:
        yield Chromium(session)


@pytest.fixture(scope="module", name="firefox")
def firefox_fixture(e2e_privileges: None) -> Iterator[Firefox]:
    """Headless Firefox, one per test module (import ``firefox_fixture`` to use ``firefox``)."""
    with firefox_session() as session:
        yield Firefox(session)


@pytest.fixture(scope="module", params=BROWSERS, name="browser")
def browser_fixture(request: Any) -> Browser:
    """Each browser in turn, the same process as the fixture of its name (import ``browser_fixture``, and
    ``chromium_fixture`` and ``firefox_fixture``, to use ``browser``)."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


# The page re-renders as events arrive: each read is one script in the page, so no element it
# found can be replaced between finding and reading it (a stale element reference).
_READ = """return Array.from(document.querySelectorAll(arguments[0])).map(function (e) {
    return {text: e.innerText.trim(), href: e.getAttribute("href"), rel: e.getAttribute("rel"),
            className: e.className}; });"""


def elements_of(browser: Any, selector: str) -> List[Dict[str, Optional[str]]]:
    found = browser.execute_script(_READ, selector)
    # None: the page went away under the script (Firefox, when a navigation the browser itself
    # started replaces the page), so none of its elements are there.
    return [] if found is None else found  # type: ignore[no-any-return]


def text_of(browser: Any, selector: str) -> str:
    return " ".join(str(element["text"]) for element in elements_of(browser, selector))


@contextmanager
def page_served(body: bytes, path: str, url_host: str = "127.0.0.1") -> Iterator[str]:
    """``body`` (HTML) served on a port of its own, so from another origin than the bridge's: its URL at ``path``."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://%s:%d%s" % (url_host, server.server_address[1], path)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
