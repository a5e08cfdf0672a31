"""Click to call on the real Asterisk 22: the installed-style ``itflow-bridge-dial`` user (write = originate,
nothing to read) logs in; the confirm page's POST places an Originate; Asterisk rings the agent's phone and,
once it answers, dials the number in the context standing in for FreePBX's ``from-internal``.

The recorder's PBX gives the phones (Local channels into ``ami-phones``: 201 answers after 2 s) and a
read-all session that watches; ``click-outside`` stands in for the outbound routes (any number answers).
"""

from __future__ import annotations

import http.client
import re
from typing import Iterator
from urllib.parse import urlencode

import pytest

from agent_pbx import OUTSIDE, ClickPBX, install_users
from agent_screen_harness import Screen
from ami_recorder import AMI_USER, AMIRecorder, _Capture
from asterisk_harness import AsteriskHarness
from itflow_bridge.calls.ami import AMIClient, AMIError
from itflow_bridge.calls.originate import CLICK_VARIABLE, Originator
from itflow_bridge.install import manager_user
from itflow_bridge.install.asterisk_layout import detect
from itflow_bridge.install.installer import reload_manager
from itflow_bridge.screen.click_to_call import ClickToCall, call_url
from polling import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def pbx(asterisk: AsteriskHarness) -> Iterator[AMIRecorder]:
    recorder = AMIRecorder(asterisk)
    recorder.enable()
    click_pbx = ClickPBX(asterisk)
    yield recorder
    click_pbx.restore()


def test_a_confirmed_click_rings_the_agents_phone_then_dials_the_number(pbx: AMIRecorder, asterisk: AsteriskHarness,
                                                                       tmp_path) -> None:
    layout = detect(asterisk.root)
    dial_secret = manager_user.new_secret()
    install_users(layout, manager_user.new_secret(), dial_secret)
    reload_manager(layout)
    wait_for(lambda: manager_user.DIAL_USER in asterisk.cli("manager show users"), what="Asterisk to know the user")
    shown = asterisk.cli("manager show user %s" % manager_user.DIAL_USER)
    assert re.search(r"write perm: originate\s*$", shown, re.M), shown
    assert re.search(r"read perm:\s*(<none>)?\s*$", shown, re.M), shown

    # The user may originate and nothing else.
    with AMIClient("127.0.0.1", pbx.port, manager_user.DIAL_USER, dial_secret, ping_interval=None,
                   events="off") as client:
        with pytest.raises(AMIError):
            client.send_action("Command", [("Command", "core show version")])

    watcher = _Capture(pbx.port, AMI_USER, pbx.secret)
    originator = Originator("127.0.0.1", pbx.port, manager_user.DIAL_USER, dial_secret,
                            channel_template="Local/{ext}@ami-phones", context=OUTSIDE)
    screen = Screen(tmp_path, click=ClickToCall(originator.call))
    try:
        token = screen.links.issue("201")
        connection = http.client.HTTPConnection("127.0.0.1", screen.port, timeout=30)
        connection.request("GET", call_url("/agent/%s" % token, "+1-555-019-9000"))
        page = connection.getresponse().read().decode()
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
        assert fields["number"] == "+15550199000"
        connection.request("POST", "/agent/%s/call" % token, urlencode(fields),
                           {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin",
                            "Origin": "http://127.0.0.1:%d" % screen.port})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        connection.close()

        phone = watcher.wait_for(lambda m: m.event == "Newchannel" and m.get("Channel").startswith(
            "Local/201@ami-phones-"), "the agent's phone rung")
        watcher.wait_for(lambda m: m.event == "Newstate" and m.get("Channel").startswith("Local/201@ami-phones-")
                         and m.get("ChannelStateDesc") == "Up", "the agent's phone answered")
        dialled = watcher.wait_for(lambda m: m.event == "Newexten" and m.get("Context") == OUTSIDE
                                   and m.get("Exten") == "+15550199000", "the number dialled")
        assert dialled.get("Channel").startswith("Local/201@ami-phones-") and dialled.get("Channel").endswith(";1")
        variable = watcher.wait_for(lambda m: m.event == "VarSet" and m.get("Variable") == CLICK_VARIABLE,
                                    "the click-to-call variable")
        assert variable.get("Value") == "1" and variable.get("Linkedid") == phone.get("Linkedid")
        caller = watcher.wait_for(lambda m: m.event == "Newexten" and m.get("Context") == OUTSIDE
                                  and m.get("Exten") == "15550199000", "the outside number answering")
        assert caller.get("Linkedid") == phone.get("Linkedid")
    finally:
        screen.close()
        watcher.close()
