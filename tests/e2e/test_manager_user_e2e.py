"""The manager users install writes, loaded by the real Asterisk 22: the events user logs in, sees a call's
events, and may do nothing else; what it reads classifies every recorded scenario as ``read = all`` does.
With the calls (``install --calls``) the click-to-call user is in the same file: ``check`` logs in as both,
and says a wrong secret without showing it.

The recorder's PBX (manager on a free localhost port, its own all-powerful user
to place calls) gets ``#include "manager.d/*.conf"`` as Debian's manager.conf
has, so the installer puts the bridge's user in ``manager.d/itflow-bridge.conf``
and reloads the manager as install does; then ``AMIClient`` logs in with the
secret install would keep in ``[calls] ami_secret``.
"""

from __future__ import annotations

import os
import threading
from typing import Iterator, List

import pytest

from ami_recorder import AMI_USER, SCENARIOS, AMIRecorder, _Capture
from asterisk_harness import AsteriskHarness
from itflow_bridge.calls.ami import AMIClient, AMIError
from itflow_bridge.calls.ami_protocol import Message, parse_stream
from itflow_bridge.core.config import CacheSettings, CallsSettings, Config
from itflow_bridge.health import FAIL, PASS, Report, check_screen, _check_ami
from itflow_bridge.calls.classify import ClassifiedCall, classify
from itflow_bridge.calls.events import calls_in
from itflow_bridge.install import manager_user
from itflow_bridge.install.asterisk_layout import Layout, detect
from itflow_bridge.install.installer import reload_manager
from polling import wait_for

pytestmark = pytest.mark.e2e

DROP_IN_INCLUDE = b'#include "manager.d/*.conf"\n'


@pytest.fixture
def pbx(asterisk: AsteriskHarness) -> Iterator[AMIRecorder]:
    recorder = AMIRecorder(asterisk)
    recorder.enable()
    manager = asterisk.root / "etc/asterisk/manager.conf"
    original = manager.read_bytes()
    manager.write_bytes(original + DROP_IN_INCLUDE)
    yield recorder
    (asterisk.root / "etc/asterisk" / manager_user.DROP_IN).unlink(missing_ok=True)
    manager.write_bytes(original)
    asterisk.cli(manager_user.RELOAD)


def write_wanted(layout: Layout, secret: str, dial_secret: str = "") -> str:
    """What install writes for the user (and the click-to-call user, given ``dial_secret``): the file, its
    owner and mode (the plan's Want, applied)."""
    [want] = manager_user.wants(layout, manager_user.USER, secret, manager_user.DIAL_USER if dial_secret else "",
                                dial_secret)
    path = layout.host(want.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(want.content or b"")
    os.chown(path, want.uid, want.gid)
    os.chmod(path, want.mode)
    return want.path


def test_the_installed_manager_user_logs_in_and_receives_a_calls_events(pbx: AMIRecorder,
                                                                       asterisk: AsteriskHarness) -> None:
    layout = detect(asterisk.root)
    secret = manager_user.new_secret()
    assert write_wanted(layout, secret) == "/etc/asterisk/manager.d/itflow-bridge.conf"
    assert layout.asterisk_running
    reload_manager(layout)  # as install does: asterisk -rx 'manager reload' inside the root
    wait_for(lambda: manager_user.USER in asterisk.cli("manager show users"), what="Asterisk to know the user")
    assert manager_user.READ in asterisk.cli("manager show user %s" % manager_user.USER)

    events: List[Message] = []
    lock = threading.Lock()

    def keep(message: Message) -> None:
        with lock:
            events.append(message)

    def seen(name: str) -> bool:
        with lock:
            return any(message.event == name for message in events)

    bridge = AMIClient("127.0.0.1", pbx.port, manager_user.USER, secret, on_event=keep, ping_interval=None)
    control = AMIClient("127.0.0.1", pbx.port, AMI_USER, pbx.secret, events="off", ping_interval=None)
    bridge.connect()
    control.connect()
    try:
        bridge.ping()  # no write class needed
        with pytest.raises(AMIError, match="Originate refused: Permission denied"):  # and nothing more: no write class
            bridge.send_action("Originate", [("Channel", "Local/201@ami-phones"), ("Application", "Wait"),
                                             ("Data", "1")])
        control.send_action("Originate", [
            ("Channel", "Local/5550101@from-trunk"), ("Context", "ami-callers"), ("Exten", "listen"),
            ("Priority", "1"), ("CallerID", '"ACME Corp" <+15551234567>'), ("Timeout", "30000"),
            ("Async", "true")])
        wait_for(lambda: seen("Newchannel"), what="a Newchannel event for the bridge's user")
        wait_for(lambda: seen("Hangup"), what="the call's Hangup event", patience=60.0)
    finally:
        control.close()
        bridge.close()


def classified(stream: bytes) -> ClassifiedCall:
    calls = calls_in(parse_stream(stream, expect_banner=True))
    assert len(calls) == 1, "one call per recording"
    return classify(calls[0].call_id, calls[0].events)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_what_the_manager_user_reads_classifies_each_call_as_read_all_does(
        pbx: AMIRecorder, asterisk: AsteriskHarness, name: str) -> None:
    layout = detect(asterisk.root)
    secret = manager_user.new_secret()
    write_wanted(layout, secret)
    reload_manager(layout)
    wait_for(lambda: manager_user.USER in asterisk.cli("manager show users"), what="Asterisk to know the user")
    ours = _Capture(pbx.port, manager_user.USER, secret)
    try:
        everything = pbx.record(SCENARIOS[name])  # read = all, returned once the call's CDRs are posted
        ours.ping()  # what Asterisk sent before the Pong is in
        assert classified(ours.finish()) == classified(everything)
    finally:
        ours.close()


def test_with_the_calls_check_logs_in_as_both_installed_users(pbx: AMIRecorder, asterisk: AsteriskHarness,
                                                              tmp_path) -> None:
    layout = detect(asterisk.root)
    secret, dial_secret = manager_user.new_secret(), manager_user.new_secret()
    assert write_wanted(layout, secret, dial_secret) == "/etc/asterisk/manager.d/itflow-bridge.conf"
    reload_manager(layout)
    wait_for(lambda: manager_user.DIAL_USER in asterisk.cli("manager show users"),
             what="Asterisk to know the click-to-call user")
    shown = asterisk.cli("manager show user %s" % manager_user.DIAL_USER)
    assert "originate" in shown and manager_user.READ not in shown

    def lines(dial: str) -> Report:
        calls = CallsSettings(enabled=True, ami_host="127.0.0.1", ami_port=pbx.port, ami_user=manager_user.USER,
                              ami_secret=secret, originate_user=manager_user.DIAL_USER, originate_secret=dial)
        report = Report()
        settings = Config(calls=calls, cache=CacheSettings(dir=tmp_path / "cache"))
        _check_ami(settings, report, 5.0)
        check_screen(settings, report, 5.0)
        return report

    report = lines(dial_secret)
    logins = {item.name: item for item in report.items if item.name in ("Asterisk manager", "click to call")}
    assert [logins[name].status for name in ("Asterisk manager", "click to call")] == [PASS, PASS], report.items
    assert logins["click to call"].detail.startswith("logged in as %s on 127.0.0.1:%d (Asterisk Call Manager/"
                                                     % (manager_user.DIAL_USER, pbx.port))
    wrong = manager_user.new_secret()
    refused = [item for item in lines(wrong).items if item.name == "click to call"]
    assert [(item.status, item.detail) for item in refused] == [
        (FAIL, "AMI refused the login for user %s on 127.0.0.1:%d" % (manager_user.DIAL_USER, pbx.port))]
    assert wrong not in refused[0].line() and dial_secret not in refused[0].line()
