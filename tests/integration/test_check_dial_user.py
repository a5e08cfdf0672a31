"""``check`` logs in as the click-to-call user ([calls] originate_user) on a real loopback socket: works,
refused, nobody listening, no answer in time; the secret is never said."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from itflow_bridge.core.config import CallsSettings, Config
from itflow_bridge.health import FAIL, PASS, Report, check_screen, run_checks
from polling import wait_for
from sockets import free_port
from test_ami_client import SECRET, FakeAMI

DIAL_USER = "itflow-bridge-dial"


@pytest.fixture
def server():
    fake = FakeAMI(user=DIAL_USER)
    yield fake
    fake.close()


def dial_line(tmp_path, port: int, secret: str = SECRET, budget: float = 2.0):
    settings = Config(calls=CallsSettings(enabled=True, ami_host="127.0.0.1", ami_port=port,
                                          originate_user=DIAL_USER, originate_secret=secret))
    settings = replace(settings, cache=replace(settings.cache, dir=tmp_path / "cache"))
    report = Report()
    check_screen(settings, report, budget=budget)
    [item] = [item for item in report.items if item.name == "click to call"]
    return item


def test_the_dial_user_logging_in_passes_and_logs_off(server, tmp_path):
    item = dial_line(tmp_path, server.port)
    assert (item.status, item.detail) == (
        PASS, "logged in as %s on 127.0.0.1:%d (Asterisk Call Manager/11.0.0)" % (DIAL_USER, server.port))
    wait_for(lambda: [m.get("Action") for m in server.received] == ["Login", "Logoff"], what="the check's Logoff")
    assert [m.get("Username") for m in server.received][:1] == [DIAL_USER]


def test_a_refused_dial_user_names_its_settings_and_never_the_secret(server, tmp_path):
    wrong = "wrong-dial-secret-that-must-not-leak-42"
    item = dial_line(tmp_path, server.port, secret=wrong)
    assert (item.status, item.detail) == (FAIL, "AMI refused the login for user %s on 127.0.0.1:%d"
                                          % (DIAL_USER, server.port))
    assert item.fix == ("check [calls] originate_user/originate_secret and manager.conf (itflow-bridge install "
                        "writes both)")
    assert wrong not in item.line() and SECRET not in item.line()


def test_no_manager_listening_fails_with_where_it_looked(tmp_path):
    port = free_port()
    item = dial_line(tmp_path, port)
    assert item.status == FAIL and item.detail.startswith("no Asterisk manager on 127.0.0.1:%d: " % port)
    assert "enabled = yes" in item.fix and SECRET not in item.line()


def test_a_manager_that_never_answers_fails_in_time(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # the connection is accepted by the kernel; no banner ever comes
    try:
        item = dial_line(tmp_path, silent.getsockname()[1], budget=0.5)
    finally:
        silent.close()
    assert item.status == FAIL and "did not answer in time" in item.detail
    assert "manager show settings" in item.fix and SECRET not in item.line()


def test_check_has_the_screen_lines_after_the_calls_lines(server, fake_itflow, make_bridge, tmp_path):
    config = make_bridge(fake_itflow).config
    off = run_checks(config)
    assert not [item for item in off.items if item.name in ("agent links", "agent pages", "click to call")]
    calls = CallsSettings(enabled=True, ami_host="127.0.0.1", ami_port=server.port, ami_user=DIAL_USER,
                          ami_secret=SECRET, originate_user=DIAL_USER, originate_secret=SECRET,
                          cdr_file=tmp_path / "cdr.csv")
    on = run_checks(replace(config, calls=calls))
    names = [item.name for item in on.items]
    start = names.index("calls outbox") + 1
    assert names[start:start + 3] == ["agent links", "agent pages", "click to call"]
    assert [item.status for item in on.items if item.name == "click to call"] == [PASS]
