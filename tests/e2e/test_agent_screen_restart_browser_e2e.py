"""An agent's page left open across a restart of the real daemon, in Debian's headless Chromium.

``itflow-bridge serve`` runs with ``[calls]`` enabled, its AMI connection to the
fake AMI (recorded real Asterisk 22 calls replayed, with ids of their own and
today's time), the fake ITFlow, and its HTTP server on a fixed port, so the
page's URL stays the same.  A call ends and is listed under today; the daemon
stops (SIGTERM, or SIGKILL: no shutdown code runs) and the page says it lost the
stream; a new daemon on the same port and cache directory brings the SAME page
(never reloaded) back live, still listing today's call, and then a new one.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from ami_recordings import as_call, call_id_of, encode, recording
from browser import browser_fixture, chromium_fixture, elements_of, firefox_fixture, text_of  # noqa: F401 - the fixtures browser, chromium, firefox
from fake_ami import USER, FakeAMI
from faulty_itflow import FaultyITFlow
from itflow_bridge.calls.ami_protocol import Message
from itflow_bridge.screen.tokens import AgentLinks
from itflow_bridge.storage.layout import TODAYS_CALLS_DB
import fake_writes
from polling import wait_for
from serve_process import ServeProcess
from sockets import free_port

AMI_SECRET = "ami-secret-of-the-restart-test-8d1f0c"
WAIT = 60.0  # seconds: two daemons and a browser on a loaded machine
EXTENSION = "201"  # the extension answered.txt rings (through a Local channel)
OTHER_CALLER = "+15557000000"  # Big Contact 00 of Big Client Inc in the sample ITFlow


class Daemon(ServeProcess):
    """``itflow-bridge serve`` on the test's cache directory, its HTTP server on ``http_port``."""

    def __init__(self, fake: FaultyITFlow, tmp_path: Path, ami: FakeAMI, http_port: int) -> None:
        super().__init__(fake, tmp_path, "\n".join([
            "[directory]", "http_host = 127.0.0.1", "http_port = %d" % http_port,
            "[calls]", "enabled = yes", "catch_up_hours = 0", "ami_host = 127.0.0.1", "ami_port = %d" % ami.port,
            "ami_user = %s" % USER, "ami_secret = %s" % AMI_SECRET, ""]))

    def stop(self, signum: int = signal.SIGTERM, patience: float = WAIT) -> int:
        return super().stop(signum, patience)


@pytest.fixture
def fake() -> Iterator[FaultyITFlow]:
    with FaultyITFlow(writes=fake_writes, generations=("v1",)) as site:
        yield site


@pytest.fixture
def ami() -> Iterator[FakeAMI]:
    server = FakeAMI(secret=AMI_SECRET)
    yield server
    server.close()


@pytest.fixture
def daemons(fake, ami, tmp_path):
    """``start()`` a daemon (again: the same HTTP port and cache directory); killed at the end if still running."""
    http_port = free_port()
    started: List[Daemon] = []

    def start() -> Daemon:
        daemon = Daemon(fake, tmp_path, ami, http_port)
        started.append(daemon)
        wait_for(lambda: ami.logins >= len(started), "daemon %d's login at the fake AMI" % len(started), WAIT)
        wait_for(lambda: "directory HTTP server listening" in daemon.output(), "the HTTP server", WAIT)
        wait_for(lambda: any((tmp_path / "cache").glob("directory-*.sqlite3")), "the directory synced", WAIT)
        return daemon

    start.http_port = http_port  # type: ignore[attr-defined]
    yield start
    for number, daemon in enumerate(started, 1):
        daemon.stop(signal.SIGKILL)
        output = daemon.output()
        (tmp_path / ("daemon-%d.log" % number)).write_text(output, encoding="utf-8")  # for a failing run
        assert AMI_SECRET not in output and fake.api_key not in output


def call_now(number: int, caller: str = "") -> List[Message]:
    """answered.txt as call ``number`` (and ``caller``), its timestamps moved to now: a call of today."""
    messages = as_call(recording("answered"), number, caller or None)
    shift = time.time() - min(float(m.get("Timestamp")) for m in messages if m.get("Timestamp"))

    def moved(key: str, value: str) -> str:
        return "%.6f" % (float(value) + shift) if key == "Timestamp" else value

    return [Message([(key, moved(key, value)) for key, value in message.pairs]) for message in messages]


def kept_calls(tmp_path: Path) -> List[str]:
    """The call ids the daemon wrote to its store of today's calls."""
    path = tmp_path / "cache" / TODAYS_CALLS_DB
    if not path.exists():
        return []
    with sqlite3.connect(str(path), timeout=WAIT) as db:
        return [str(row[0]) for row in db.execute("SELECT call_id FROM todays_calls")]


def today(browser) -> List[str]:
    return [str(item["text"]) for item in elements_of(browser, "#today li")]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_page_left_open_comes_back_live_after_a_restart_with_todays_calls(browser, daemons, ami, tmp_path,
                                                                           signum):
    first = daemons()
    with AgentLinks.in_cache(tmp_path / "cache") as links:
        token = links.issue(EXTENSION)
    page = "http://127.0.0.1:%d/agent/%s" % (daemons.http_port, token)
    browser.get(page)
    wait_for(lambda: text_of(browser, "#connection") == "live", "the page's stream", WAIT)
    wait_for(lambda: text_of(browser, "#extension") == EXTENSION, "the page's extension", WAIT)

    first_call = call_now(1)
    assert ami.push(encode(first_call)) == 1
    wait_for(lambda: len(today(browser)) == 1 and "Ended" in today(browser)[0], "the call ended under today", WAIT)
    [before] = today(browser)
    assert "+15551234567 - Acme Corp" in before and "answered by %s" % EXTENSION in before
    if signum == signal.SIGKILL:  # no shutdown code will run: the daemon must have written the call already
        wait_for(lambda: kept_calls(tmp_path) == [call_id_of(first_call)], "the ended call in the daemon's store",
                 WAIT)

    code = first.stop(signum)
    assert code == (0 if signum == signal.SIGTERM else -signal.SIGKILL)
    wait_for(lambda: text_of(browser, "#connection") == "reconnecting…", "the page saying it lost the stream", WAIT)
    assert today(browser) == [before]  # the page keeps what it showed meanwhile

    daemons()  # the same port and cache directory
    wait_for(lambda: text_of(browser, "#connection") == "live", "the same page live again", WAIT)
    assert browser.current_url == page
    assert ami.push(encode(call_now(2, OTHER_CALLER))) == 1
    # The page took the new daemon's whole state on connecting, then this call: had the new daemon lost
    # the first call, the whole state would have taken it off the page.
    wait_for(lambda: ended_from(browser, "Big Client Inc"), "the new call under today", WAIT)
    assert today(browser)[1:] == [before] and len(today(browser)) == 2


def test_a_call_ringing_during_the_restart_leaves_the_page_and_its_later_events_show_nothing(browser, daemons,
                                                                                               ami, tmp_path):
    first = daemons()
    with AgentLinks.in_cache(tmp_path / "cache") as links:
        token = links.issue(EXTENSION)
    browser.get("http://127.0.0.1:%d/agent/%s" % (daemons.http_port, token))
    wait_for(lambda: text_of(browser, "#connection") == "live", "the page's stream", WAIT)
    messages = call_now(3)
    answered = next(n for n, m in enumerate(messages) if m.event == "DialEnd" and m.get("DialStatus") == "ANSWER")
    assert ami.push(encode(messages[:answered])) == 1
    wait_for(lambda: text_of(browser, "#current .state") == "Ringing", "the call ringing on the page", WAIT)

    assert first.stop(signal.SIGTERM) == 0
    wait_for(lambda: text_of(browser, "#connection") == "reconnecting…", "the page saying it lost the stream", WAIT)
    daemons()
    wait_for(lambda: text_of(browser, "#connection") == "live", "the same page live again", WAIT)
    assert ami.push(encode(messages[answered:])) == 1  # answered and ended: the new daemon never saw it ring
    assert ami.push(encode(call_now(4, OTHER_CALLER))) == 1  # after it: once shown, the events before are read
    wait_for(lambda: ended_from(browser, "Big Client Inc"), "the next call under today", WAIT)
    assert len(today(browser)) == 1
    wait_for(lambda: kept_calls(tmp_path) == [call_id_of(call_now(4))], "only the next call kept", WAIT)


def ended_from(browser, client: str) -> bool:
    """Whether today's list has an ended call of ``client``."""
    return any(client in item and "Ended" in item for item in today(browser))
