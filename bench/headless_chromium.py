"""A real headless Chromium for figure 16, driven as the browser tests drive it (selenium, Debian's packages).

Debian's ``chromium`` and ``chromium-driver`` are installed here when missing and
the bench runs as root (as the browser tests and ``scripts/bootstrap.sh``
install what they need); otherwise the figure fails with the command to run.

``arm(name)`` injects a ``MutationObserver`` into the open page; ``shown()``
waits (in the page, no polling) until an element ``#current .client`` reads
``name`` and answers the epoch time it appeared, from the page's own clock
(``performance.timeOrigin + performance.now()``), and whether the card still
said ITFlow's part was being fetched at that moment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Tuple

from harness import BenchError

PACKAGES = ("chromium", "chromium-driver")
OPTIONS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=420,900")
WAIT_SECONDS = 10.0  # a name not shown within this is a failed measurement

_ARM = """
var want = arguments[0];
window.benchWatch = {want: want, shown: null, loading: null, done: null};
if (!window.benchObserver) {
  window.benchCheck = function () {
    var watch = window.benchWatch;
    if (!watch || watch.shown !== null) { return; }
    var found = document.querySelectorAll("#current .client");
    for (var i = 0; i < found.length; i++) {
      if (found[i].textContent === watch.want) {
        watch.shown = performance.timeOrigin + performance.now();
        var card = found[i].closest(".card");
        watch.loading = !!(card && card.querySelector(".loading"));
        if (watch.done) { watch.done([watch.shown, watch.loading]); }
        return;
      }
    }
  };
  window.benchObserver = new MutationObserver(window.benchCheck);
  window.benchObserver.observe(document.body, {childList: true, subtree: true, characterData: true});
}
window.benchCheck();
"""
_SHOWN = """
var done = arguments[arguments.length - 1];
var watch = window.benchWatch;
if (watch.shown !== null) { done([watch.shown, watch.loading]); } else { watch.done = done; }
"""
_LIVE_CALLS = """return document.querySelectorAll("#current [data-state]:not([data-state='ended'])").length;"""


def binaries() -> Tuple[str, str]:
    """(chromium, chromedriver), installed from Debian if missing (root only)."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")) and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", *PACKAGES], env=env, check=False,
                       stdout=subprocess.DEVNULL)
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        raise BenchError("figure 16 needs Debian's chromium and chromium-driver: apt-get install %s"
                         % " ".join(PACKAGES))
    return chromium, driver


class Browser:
    """One headless Chromium with one page open."""

    def __init__(self) -> None:
        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
        except ImportError:
            raise BenchError("figure 16 needs selenium (pip install -e '.[test]')") from None
        chromium, driver = binaries()
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in OPTIONS:
            options.add_argument(argument)
        self.session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
        self.session.set_script_timeout(WAIT_SECONDS)

    def open(self, url: str) -> None:
        self.session.get(url)

    def run(self, script: str, *args: object) -> object:
        return self.session.execute_script(script, *args)

    def arm(self, name: str) -> None:
        self.session.execute_script(_ARM, name)

    def shown(self) -> Tuple[float, bool]:
        """Epoch seconds when the armed name appeared, and whether ITFlow's part was still loading then."""
        from selenium.common.exceptions import TimeoutException

        try:
            at_ms, loading = self.session.execute_async_script(_SHOWN)
        except TimeoutException:
            raise BenchError("the name did not appear on the page within %.0f s" % WAIT_SECONDS) from None
        return float(at_ms) / 1000.0, bool(loading)

    def live_calls(self) -> int:
        """Calls the agent's page shows as not ended."""
        return int(self.session.execute_script(_LIVE_CALLS))

    def close(self) -> None:
        self.session.quit()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
