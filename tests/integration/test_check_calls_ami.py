"""``check`` logs in to the Asterisk manager as [calls] says: a small AMI server on a real loopback socket."""

from __future__ import annotations

from dataclasses import replace

import pytest

from itflow_bridge.core.config import CallsSettings
from itflow_bridge.health import FAIL, PASS, Report, _check_ami, run_checks
from polling import wait_for
from sockets import free_port
from test_ami_client import SECRET, USER, FakeAMI


@pytest.fixture
def server():
    fake = FakeAMI()
    yield fake
    fake.close()


def calls(port: int, user: str = USER, secret: str = SECRET) -> CallsSettings:
    return CallsSettings(enabled=True, ami_host="127.0.0.1", ami_port=port, ami_user=user, ami_secret=secret)


def ami_line(settings: CallsSettings):
    from itflow_bridge.core.config import Config

    report = Report()
    _check_ami(Config(calls=settings), report, budget=2.0)
    [item] = report.items
    return item


def test_a_login_that_works_passes_and_logs_off(server):
    item = ami_line(calls(server.port))
    assert (item.status, item.detail) == (
        PASS, "logged in as %s on 127.0.0.1:%d (Asterisk Call Manager/11.0.0)" % (USER, server.port))
    wait_for(lambda: [m.get("Action") for m in server.received] == ["Login", "Logoff"], what="the check's Logoff")


def test_a_wrong_secret_fails_naming_the_user_and_never_the_secret(server):
    wrong = "wrong-secret-that-must-not-leak-0123"
    item = ami_line(calls(server.port, secret=wrong))
    assert (item.status, item.detail) == (FAIL, "AMI refused the login for user %s on 127.0.0.1:%d"
                                          % (USER, server.port))
    assert item.fix == "check [calls] ami_user/ami_secret and manager.conf (itflow-bridge install writes both)"
    assert wrong not in item.line() and SECRET not in item.line()


def test_nothing_listening_fails_with_where_it_looked():
    port = free_port()
    item = ami_line(calls(port))
    assert item.status == FAIL
    assert item.detail.startswith("no Asterisk manager on 127.0.0.1:%d: cannot connect to 127.0.0.1:%d: " % (port, port))
    assert "refused" in item.detail.lower() and "enabled = yes" in item.fix and SECRET not in item.line()


def test_check_reports_the_calls_lines_only_when_calls_are_enabled(server, fake_itflow, make_bridge, tmp_path):
    config = make_bridge(fake_itflow).config
    off = run_checks(config)
    assert not [item for item in off.items if item.name in ("Asterisk manager", "calls catch-up", "calls outbox")]
    on = run_checks(replace(config, calls=replace(calls(server.port), cdr_file=tmp_path / "cdr.csv")))
    names = [item.name for item in on.items]
    assert names[names.index("Asterisk manager"):names.index("Asterisk manager") + 3] == [
        "Asterisk manager", "calls catch-up", "calls outbox"]
    assert [item.status for item in on.items if item.name == "Asterisk manager"] == [PASS]
