"""The bridge's manager user: where it goes, what it may do, its secret kept across installs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from itflow_bridge.calls.ami_protocol import parse_stream
from itflow_bridge.calls.classify import ClassifiedCall, classify
from itflow_bridge.calls.events import calls_in
from itflow_bridge.install import manager_user
from itflow_bridge.install.asterisk_layout import Account, Layout, read_asterisk_conf

ACCOUNT = Account(user="asterisk", group="asterisk", uid=os.getuid(), gid=os.getgid())
DEBIAN_MANAGER = b'[general]\nenabled = yes\nport = 5038\nbindaddr = 127.0.0.1\n\n#include "manager.d/*.conf"\n'
SECRET = "f" * 64


def layout(root: Path, freepbx: bool = False) -> Layout:
    (root / "etc/asterisk").mkdir(parents=True, exist_ok=True)
    return Layout(root=root, freepbx=freepbx, asterisk_etc="/etc/asterisk", agi_dir="/var/lib/asterisk/agi-bin",
                  sounds_dir="/var/lib/asterisk/sounds", run_dir="/var/run/asterisk", account=ACCOUNT,
                  fwconsole=None, asterisk_binary=None)


def test_the_section_gives_call_events_only_from_this_machine_only():
    parsed = read_asterisk_conf(manager_user.section(SECRET).decode())
    assert parsed == {"itflow-bridge": {"secret": SECRET, "deny": "0.0.0.0/0.0.0.0",
                                        "permit": "127.0.0.1/255.255.255.255", "read": "call,cdr,dialplan", "write": ""}}


def test_a_new_secret_is_long_random_and_plain():
    first, second = manager_user.new_secret(), manager_user.new_secret()
    assert first != second and len(first) == 64 and all(c in "0123456789abcdef" for c in first)


def test_the_section_is_added_once_and_removed_to_the_byte():
    admin = b"[general]\r\nenabled = yes\r\n\r\n[admin]\r\nsecret = theirs\r\nread = all\r\nwrite = all"  # no EOL
    once = manager_user.set_section(admin, SECRET)
    assert once.startswith(admin) and once.endswith(manager_user.section(SECRET))
    assert manager_user.set_section(once, SECRET) == once
    assert manager_user.remove_section(once).rstrip(b"\r\n") == admin
    other = manager_user.set_section(once, "e" * 64)  # a new secret replaces ours, nothing else
    assert other.count(b"[itflow-bridge]") == 1 and b"e" * 64 in other and SECRET.encode() not in other
    assert b"[admin]\r\nsecret = theirs" in other


def test_an_include_or_a_section_after_ours_stays():
    ours = manager_user.section(SECRET)
    data = b"[general]\nenabled = yes\n" + ours + b'#include "manager.d/*.conf"\n[later]\nsecret = x\n'
    assert manager_user.remove_section(data) == b'[general]\nenabled = yes\n#include "manager.d/*.conf"\n[later]\nsecret = x\n'


def test_an_admin_section_of_that_name_without_our_heading_is_not_ours():
    data = b"[itflow-bridge]\nsecret = admins\nread = all\n"
    assert manager_user.remove_section(data) == data


def test_debian_style_includes_of_manager_d_are_recognised():
    for line in (b'#include "manager.d/*.conf"', b"#tryinclude manager.d/*.conf", b"#include /etc/asterisk/manager.d/*"):
        assert manager_user.includes_drop_ins(b"[general]\nenabled = yes\n" + line + b"\n"), line
    assert not manager_user.includes_drop_ins(b"[general]\n;#include \"manager.d/*.conf\"\n#include other.conf\n")


def test_where_the_user_goes(tmp_path):
    plain = layout(tmp_path / "plain")
    assert manager_user.target(plain) == ("/etc/asterisk/manager.conf", False)
    (tmp_path / "plain/etc/asterisk/manager.conf").write_bytes(DEBIAN_MANAGER)
    assert manager_user.target(plain) == ("/etc/asterisk/manager.d/itflow-bridge.conf", True)
    freepbx = layout(tmp_path / "freepbx", freepbx=True)
    (tmp_path / "freepbx/etc/asterisk/manager.conf").write_bytes(DEBIAN_MANAGER)  # FreePBX: always its custom file
    assert manager_user.target(freepbx) == ("/etc/asterisk/manager_custom.conf", False)
    assert manager_user.target(plain)[0] in manager_user.places(plain)


def test_our_own_file_is_root_and_the_asterisk_groups_0640(tmp_path):
    plain = layout(tmp_path)
    (tmp_path / "etc/asterisk/manager.conf").write_bytes(DEBIAN_MANAGER)
    [want] = manager_user.wants(plain, manager_user.USER, SECRET)
    assert (want.path, want.mode, want.uid, want.gid) == ("/etc/asterisk/manager.d/itflow-bridge.conf", 0o640, 0,
                                                          ACCOUNT.gid)
    assert want.content == manager_user.section(SECRET) and want.secret and SECRET not in want.what


def test_an_edited_file_keeps_its_owner_and_loses_access_for_others(tmp_path):
    plain = layout(tmp_path)
    path = tmp_path / "etc/asterisk/manager.conf"
    path.write_bytes(b"[general]\nenabled = yes\n")
    path.chmod(0o664)
    [want] = manager_user.wants(plain, manager_user.USER, SECRET)
    assert (want.path, want.mode, want.uid, want.gid) == ("/etc/asterisk/manager.conf", 0o660, ACCOUNT.uid,
                                                          ACCOUNT.gid)
    assert want.content == b"[general]\nenabled = yes\n" + manager_user.section(SECRET)


def test_no_manager_conf_on_plain_asterisk_is_not_created_and_freepbx_gets_its_custom_file(tmp_path):
    assert manager_user.wants(layout(tmp_path / "plain"), manager_user.USER, SECRET) == []
    [want] = manager_user.wants(layout(tmp_path / "freepbx", freepbx=True), manager_user.USER, SECRET)
    assert (want.path, want.mode, want.uid) == ("/etc/asterisk/manager_custom.conf", 0o640, 0)


def test_another_manager_user_chosen_by_the_admin_is_left_alone(tmp_path):
    plain = layout(tmp_path)
    (tmp_path / "etc/asterisk/manager.conf").write_bytes(DEBIAN_MANAGER)
    assert manager_user.wants(plain, "admins-own", SECRET) == []
    assert manager_user.wants(plain, manager_user.USER, "") == []


def calls_of(values):
    return {key: value for (section, key), value in values.items() if section == "calls"}


def test_a_new_config_gets_our_user_and_a_secret_and_a_second_install_keeps_them():
    first = calls_of(manager_user.config_values(None, enable=False))
    assert first["ami_user"] == "itflow-bridge" and len(first["ami_secret"]) == 64 and "enabled" not in first
    written = "[calls]\nenabled = no\nami_user = itflow-bridge\nami_secret = %s\n" % first["ami_secret"]
    assert manager_user.config_values(written, enable=False) == {}
    assert calls_of(manager_user.config_values(written, enable=True, click_to_call=False)) == {"enabled": "yes"}
    on = written.replace("enabled = no", "enabled = yes")
    assert manager_user.config_values(on, enable=True, click_to_call=False) == {}
    with_dial = calls_of(manager_user.config_values(written, enable=True))  # the calls bring click to call
    assert set(with_dial) == {"enabled", "originate_user", "originate_secret"}


def test_an_empty_secret_gets_one_and_another_user_is_kept():
    assert set(calls_of(manager_user.config_values("[calls]\nami_user = itflow-bridge\nami_secret =\n", False))) == {
        "ami_user", "ami_secret"}
    assert manager_user.config_values("[calls]\nami_user = admins-own\nami_secret = theirs\n", False) == {}


def test_ami_switched_off_is_said_with_the_file_to_change(tmp_path):
    plain = layout(tmp_path)
    path = tmp_path / "etc/asterisk/manager.conf"
    assert "there is no /etc/asterisk/manager.conf" in (manager_user.disabled(plain) or "")
    path.write_bytes(b"[general]\nenabled = no\n")
    assert "/etc/asterisk/manager.conf has no enabled = yes" in (manager_user.disabled(plain) or "")
    path.write_bytes(b"[general]\nport = 5038\n")  # Asterisk's default: off
    assert manager_user.disabled(plain) is not None
    path.write_bytes(DEBIAN_MANAGER)
    assert manager_user.disabled(plain) is None
    assert "enabled = yes in [general] of /etc/asterisk/manager.conf" in manager_user.enable_fix(plain)



def test_the_port_manager_conf_listens_on(tmp_path):
    plain = layout(tmp_path)
    assert manager_user.port(plain) is None
    (tmp_path / "etc/asterisk/manager.conf").write_bytes(DEBIAN_MANAGER.replace(b"5038", b"5039"))
    assert manager_user.port(plain) == 5039
    (tmp_path / "etc/asterisk/manager.conf").write_bytes(b"[general]\nenabled = yes\n")
    assert manager_user.port(plain) is None


RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "ami"


def classified_with(name: str, classes) -> ClassifiedCall:
    """The recorded call as a user reading only ``classes`` (None: all) would see it, classified."""
    messages = parse_stream((RECORDINGS / (name + ".txt")).read_bytes(), expect_banner=True)
    if classes is not None:
        messages = [m for m in messages if not m.is_event or set(m.get("Privilege").split(",")) & set(classes)]
    [call] = calls_in(messages)
    return classify(call.call_id, call.events)


@pytest.mark.parametrize("name", sorted(path.stem for path in RECORDINGS.glob("*.txt")))
def test_the_manager_users_read_classes_classify_every_recorded_call_as_read_all_does(name):
    assert classified_with(name, manager_user.READ.split(",")) == classified_with(name, None)


def test_without_the_dialplan_class_a_voicemails_message_is_lost():
    voicemail = classified_with("voicemail_left", ("call", "cdr")).voicemail
    assert voicemail is not None and voicemail.message_file is None  # VMSTATUS and the file are dialplan variables
