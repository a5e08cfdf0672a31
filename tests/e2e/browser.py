"""The agents' pages in a real browser for the e2e tests: Debian's headless Chromium driven by selenium.

Chromium and its driver come from Debian (``apt-get install chromium
chromium-driver``, done here when missing, as root); without them a test fails
and says so.  ``text_of`` and ``elements_of`` read the page in one script each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Dict, Iterator, List, Optional

import pytest

PACKAGES = ("chromium", "chromium-driver")


def browser_binaries() -> tuple:
    """(chromium, chromedriver), installed from Debian if missing (root only)."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")) and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", *PACKAGES], env=env, check=True, stdout=subprocess.DEVNULL)
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail("the browser test needs Debian's chromium and chromium-driver: apt-get install -y %s"
                    % " ".join(PACKAGES), pytrace=False)
    return chromium, driver


@pytest.fixture(scope="module", name="browser")
def browser_fixture(e2e_privileges: None) -> Iterator[object]:
    """A headless Chromium session, one per test module (import ``browser_fixture`` to use ``browser``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = browser_binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=420,900"):  # a phone's width
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield session
    finally:
        session.quit()


# The page re-renders as events arrive: each read is one script in the page, so no element it
# found can be replaced between finding and reading it (selenium's stale element reference).
_READ = """return Array.from(document.querySelectorAll(arguments[0])).map(function (e) {
    return {text: e.innerText.trim(), href: e.getAttribute("href"), rel: e.getAttribute("rel"),
            className: e.className}; });"""


def elements_of(browser: object, selector: str) -> List[Dict[str, Optional[str]]]:
    return browser.execute_script(_READ, selector)  # type: ignore[attr-defined,no-any-return]


def text_of(browser: object, selector: str) -> str:
    return " ".join(str(element["text"]) for element in elements_of(browser, selector))
