#!/usr/bin/env python3
"""Makes the README's picture of the agent's page, ``docs/agent-screen.png``: a maintainer's tool.

Run it again whenever the page changes (``itflow_bridge/screen/page/``)::

    python3 scripts/agent_screen_screenshot.py                 # a phone's width
    python3 scripts/agent_screen_screenshot.py --width 900 --out /tmp/desk.png

It serves the package's own agent screen (the ringing board, the caller's
cards, the live streams and the page's routes, on the directory's HTTP server)
with a made-up local directory and a made-up ITFlow, feeds it the AMI events of
a made-up morning at extension 201 (three calls over, one ringing now), opens
the page in Debian's headless Chromium and photographs it once the ringing
caller's tickets are shown.  Every name and number is fictional (555-01xx
numbers).  It needs what the browser tests need: ``apt-get install chromium
chromium-driver`` and selenium (the project's ``[test]`` extras).  The picture
is made smaller with Debian's ``pngquant`` and ``optipng`` when they are
installed (``apt-get install pngquant optipng``), else kept as Chromium made it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the working copy's package, installed or not

from itflow_bridge.calls.ami import AMIError  # noqa: E402
from itflow_bridge.calls.ami_protocol import Message  # noqa: E402
from itflow_bridge.directory.http_server import make_http_server  # noqa: E402
from itflow_bridge.screen.card import CardService, Details, OpenTicket  # noqa: E402
from itflow_bridge.screen.click_to_call import ClickToCall  # noqa: E402
from itflow_bridge.screen.live import LiveStreams  # noqa: E402
from itflow_bridge.screen.ringing import RingingBoard  # noqa: E402
from itflow_bridge.screen.tokens import AgentLinks  # noqa: E402
from itflow_bridge.screen.web import AgentRoutes  # noqa: E402
from itflow_bridge.storage.directory_file import DirectoryEntry  # noqa: E402

EXTENSION = "201"
ITFLOW = "https://itflow.example.com"
OUT = ROOT / "docs" / "agent-screen.png"
WAIT = 30.0  # seconds for the page to show what it is given


def _entry(number: str, name: str, title: str, client_id: int, client: str, record_id: int) -> DirectoryEntry:
    return DirectoryEntry(kind="contact", name=name, number=number, record_id=record_id, client_id=client_id,
                          client_name=client, title=title)


# The local directory: who each number is, as `sync` would have copied it from ITFlow.
JANE = _entry("+12125550147", "Jane Doe", "Office manager", 1, "ACME Corp", 11)
MARIA = _entry("+13125550123", "Maria Garcia", "IT coordinator", 2, "Globex Corp", 21)
SAM = _entry("+14155550168", "Sam Lee", "Accountant", 3, "Initech", 31)
UNKNOWN = "+16175550190"
DIRECTORY = {entry.number: entry for entry in (JANE, MARIA, SAM)}

# ITFlow's part of the cards: open tickets (newest first), the "important" flag, the balance.
DETAILS = {
    1: Details((OpenTicket(1042, "TCK-1042", "Outlook keeps asking for the password"),
                OpenTicket(1038, "TCK-1038", "New laptop for the front desk"),
                OpenTicket(1027, "TCK-1027", "Nightly backup failed on FILESRV01")), True, "USD 1240.50"),
    2: Details((OpenTicket(1035, "TCK-1035", "Printer on the 2nd floor jams"),), False, "USD 0.00"),
    3: Details((), False, None),
}


class Morning:
    """The AMI events of extension 201's morning: each call from a trunk channel, as Asterisk sends them."""

    def __init__(self, day: dt.date):
        self.day = day
        self.messages: List[Message] = []
        self._serial = 0

    def at(self, clock: str) -> float:
        hours, minutes = (int(part) for part in clock.split(":"))
        return dt.datetime.combine(self.day, dt.time(hours, minutes)).timestamp()

    def call(self, clock: str, number: str, name: str, phones: Sequence[str], answered_by: Optional[str],
             ringing: bool = False) -> None:
        """A call from ``number`` ringing ``phones`` at ``clock``: answered by one, by none, or ringing still."""
        start = self.at(clock)
        linkedid = "%d.%d" % (start, self._next())
        ids = {"Channel": "PJSIP/trunk-%08x" % self._serial, "Uniqueid": linkedid, "Linkedid": linkedid,
               "CallerIDNum": number, "CallerIDName": name}
        self._add("Newchannel", start, ids)
        legs = []
        for phone in phones:
            serial = self._next()
            legs.append((phone, {"DestChannel": "PJSIP/%s-%08x" % (phone, serial),
                                 "DestUniqueid": "%d.%d" % (start, serial)}))
        for _phone, leg in legs:
            self._add("DialBegin", start + 1, dict(ids, **leg))
        if ringing:
            return
        for phone, leg in legs:
            status = "ANSWER" if phone == answered_by else "CANCEL" if answered_by else "NOANSWER"
            self._add("DialEnd", start + 9, dict(ids, DialStatus=status, **leg))
        self._add("Hangup", start + (260 if answered_by else 25), ids)

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def _add(self, event: str, when: float, fields: Dict[str, str]) -> None:
        self.messages.append(Message([("Event", event), ("Timestamp", "%.6f" % when), *fields.items()]))


def morning(day: dt.date) -> Tuple[List[Message], float]:
    """The events, and the time the picture is taken (the last call rings then)."""
    made = Morning(day)
    made.call("08:47", MARIA.number, "Globex Corp - Maria Garcia", [EXTENSION], answered_by=EXTENSION)
    made.call("09:58", UNKNOWN, "", [EXTENSION], answered_by=None)
    made.call("10:41", SAM.number, "Initech - Sam Lee", [EXTENSION, "202"], answered_by="202")
    made.call("11:32", JANE.number, "ACME Corp - Jane Doe", [EXTENSION, "202"], answered_by=None, ringing=True)
    return made.messages, made.at("11:32") + 5


def fetch(client_id: int, contact_id: Optional[int]) -> Details:
    return DETAILS[client_id]


def refuse(extension: str, number: str) -> None:
    raise AMIError("the picture's page places no calls")


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("the page did not show %s within %.0f s" % (what, WAIT))
        time.sleep(0.1)


_TEXT = "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText.trim()).join(' ');"


def photograph(url: str, width: int, scale: float) -> bytes:
    """The page at ``url`` in headless Chromium, ``width`` CSS pixels wide and as tall as its content."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        raise SystemExit("needs Debian's browser: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", "--force-color-profile=srgb", "--window-size=%d,900" % width):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": 900, "deviceScaleFactor": scale, "mobile": False})
        browser.get(url)

        def text(selector: str) -> str:
            return str(browser.execute_script(_TEXT, selector))

        wait_until(lambda: text("#connection") == "live", "its stream connected")
        wait_until(lambda: "open ticket" in text("#current .open-tickets"), "the ringing caller's tickets")
        wait_until(lambda: len(browser.find_elements("css selector", "#today li")) == 4, "today's four calls")
        height = int(browser.execute_script(  # the content's, not the window's
            "return Math.ceil(document.documentElement.getBoundingClientRect().height);"))
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": False})
        wait_until(lambda: int(browser.execute_script("return window.innerHeight;")) == height, "its full height")
        return bytes(browser.get_screenshot_as_png())
    finally:
        browser.quit()


def shrink(path: Path) -> List[str]:
    """Makes the PNG at ``path`` smaller with what Debian has (a palette, then lossless); the tools used."""
    used = []
    if shutil.which("pngquant"):
        subprocess.run(["pngquant", "--force", "--skip-if-larger", "--quality", "70-95", "--speed", "1",
                        "--strip", "--output", str(path), "--", str(path)], check=False)
        used.append("pngquant")
    if shutil.which("optipng"):
        subprocess.run(["optipng", "-quiet", "-o5", "-strip", "all", str(path)], check=True)
        used.append("optipng")
    return used


@contextlib.contextmanager
def served(cache: Path, clock: float) -> Iterator[Tuple[str, RingingBoard]]:
    links = AgentLinks.in_cache(cache)
    board = RingingBoard(clock=lambda: clock)
    cards = CardService(DIRECTORY.get, fetch, ITFLOW)
    streams = LiveStreams(board, cards)
    routes = AgentRoutes(links, streams, click=ClickToCall(refuse))
    server = make_http_server("127.0.0.1", 0, lambda number: "", lambda format: None, allow=("127.0.0.1",),
                              extra_routes=routes)
    server.start()
    try:
        yield "http://127.0.0.1:%d/agent/%s" % (server.server_address[1], links.issue(EXTENSION)), board
    finally:
        streams.close_all()
        server.shutdown()
        server.server_close()
        links.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNG goes (default: %(default)s)")
    parser.add_argument("--width", type=int, default=420, help="the page's width in CSS pixels (default: 420: a phone)")
    parser.add_argument("--scale", type=float, default=2.0, help="device pixels per CSS pixel (default: 2: sharp)")
    args = parser.parse_args(argv)
    os.environ["TZ"] = "UTC"  # the bridge and the browser tell the same times, wherever this runs
    time.tzset()
    messages, now = morning(dt.date.today())
    with tempfile.TemporaryDirectory(prefix="agent-screen-") as cache:
        with served(Path(cache), now) as (url, board):
            for message in messages:
                board.on_event(message)
            picture = photograph(url, args.width, args.scale)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(picture)
    used = shrink(args.out)
    print("%s: %d bytes%s" % (args.out, args.out.stat().st_size,
                              " (made smaller with %s)" % " and ".join(used) if used else " (not made smaller)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
