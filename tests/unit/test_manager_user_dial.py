"""The click-to-call manager user: originate only, beside the events user in the same file, removed to the byte."""

from pathlib import Path

from itflow_bridge.install import manager_user
from itflow_bridge.install.asterisk_layout import Layout, read_asterisk_conf
from test_manager_user_file import ACCOUNT, DEBIAN_MANAGER, SECRET

DIAL_SECRET = "d" * 64
BOTH = [(manager_user.USER, SECRET), (manager_user.DIAL_USER, DIAL_SECRET)]


def layout(root: Path, freepbx: bool = False) -> Layout:
    (root / "etc/asterisk").mkdir(parents=True, exist_ok=True)
    return Layout(root=root, freepbx=freepbx, asterisk_etc="/etc/asterisk", agi_dir="/var/lib/asterisk/agi-bin",
                  sounds_dir="/var/lib/asterisk/sounds", run_dir="/var/run/asterisk", account=ACCOUNT,
                  fwconsole=None, asterisk_binary=None)


def test_the_dial_user_may_only_originate_from_this_machine():
    parsed = read_asterisk_conf(manager_user.section(DIAL_SECRET, manager_user.DIAL_USER).decode())
    assert parsed == {"itflow-bridge-dial": {"secret": DIAL_SECRET, "deny": "0.0.0.0/0.0.0.0",
                                             "permit": "127.0.0.1/255.255.255.255", "read": "", "write": "originate"}}


def test_both_sections_are_added_once_and_removed_to_the_byte():
    admin = b"[general]\r\nenabled = yes\r\n\r\n[admin]\r\nsecret = theirs\r\nread = all\r\nwrite = all"
    both = manager_user.set_section(admin, BOTH)
    assert both.startswith(admin) and both.endswith(manager_user.sections(BOTH))
    assert manager_user.set_section(both, BOTH) == both
    assert manager_user.remove_section(both).rstrip(b"\r\n") == admin
    assert manager_user.set_section(both, SECRET) == manager_user.set_section(admin, SECRET)  # click to call dropped
    later = both + b"[later]\nsecret = x\n"
    assert manager_user.remove_section(later).rstrip(b"\r\n") == admin + b"\r\n[later]\nsecret = x"


def test_an_admin_section_named_like_the_dial_user_is_not_ours():
    data = b"[itflow-bridge-dial]\nsecret = admins\nwrite = all\n"
    assert manager_user.remove_section(data) == data


def test_the_drop_in_holds_both_users(tmp_path):
    plain = layout(tmp_path)
    (tmp_path / "etc/asterisk/manager.conf").write_bytes(DEBIAN_MANAGER)
    [want] = manager_user.wants(plain, manager_user.USER, SECRET, manager_user.DIAL_USER, DIAL_SECRET)
    assert want.path == "/etc/asterisk/manager.d/itflow-bridge.conf" and want.mode == 0o640
    assert want.content == manager_user.sections(BOTH)
    assert "originate" in want.what and DIAL_SECRET not in want.what
    [alone] = manager_user.wants(plain, "admins-own", SECRET, manager_user.DIAL_USER, DIAL_SECRET)
    assert alone.content == manager_user.section(DIAL_SECRET, manager_user.DIAL_USER)
    assert manager_user.wants(plain, "admins-own", SECRET, "admins-dialler", DIAL_SECRET) == []
    assert manager_user.wants(plain, "admins-own", SECRET, manager_user.DIAL_USER, "") == []


def test_freepbx_custom_file_gets_both_sections_after_the_admins(tmp_path):
    freepbx = layout(tmp_path, freepbx=True)
    custom = tmp_path / "etc/asterisk/manager_custom.conf"
    custom.write_bytes(b"[crm]\nsecret = theirs\n")
    [want] = manager_user.wants(freepbx, manager_user.USER, SECRET, manager_user.DIAL_USER, DIAL_SECRET)
    assert want.content == b"[crm]\nsecret = theirs\n" + manager_user.sections(BOTH)
    assert "[itflow-bridge], [itflow-bridge-dial]" in want.what


def calls_of(values):
    return {key: value for (section, key), value in values.items() if section == "calls"}


def test_click_to_call_asks_for_the_dial_user_once():
    first = calls_of(manager_user.config_values(None, enable=False, click_to_call=True))
    assert first["originate_user"] == "itflow-bridge-dial" and len(first["originate_secret"]) == 64
    assert first["originate_secret"] != first["ami_secret"]
    written = "[calls]\nami_user = itflow-bridge\nami_secret = %s\noriginate_user = itflow-bridge-dial\n" \
              "originate_secret = %s\n" % (first["ami_secret"], first["originate_secret"])
    assert manager_user.config_values(written, enable=False, click_to_call=True) == {}
    assert manager_user.config_values(written, enable=False) == {}  # kept without the flag too
    named = "[calls]\nami_user = itflow-bridge\nami_secret = x\noriginate_user = itflow-bridge-dial\n"
    assert set(calls_of(manager_user.config_values(named, enable=False))) == {"originate_user", "originate_secret"}
    theirs = "[calls]\nami_user = itflow-bridge\nami_secret = x\noriginate_user = admins-dialler\n"
    assert manager_user.config_values(theirs, enable=False, click_to_call=True) == {}
    assert "originate_user" not in calls_of(manager_user.config_values(None, enable=False))


WRITTEN = "[calls]\nenabled = %s\nami_user = itflow-bridge\nami_secret = %s\noriginate_user = %s\n" \
          "originate_secret = %s\n"


def test_the_calls_bring_the_dial_user_unless_opted_out():
    added = calls_of(manager_user.config_values(None, enable=True))
    assert added["enabled"] == "yes" and added["originate_user"] == "itflow-bridge-dial"
    assert len(added["originate_secret"]) == 64 and added["originate_secret"] != added["ami_secret"]
    enabled = WRITTEN % ("yes", SECRET, "", "")  # calls already on (an earlier install, or the admin)
    assert set(calls_of(manager_user.config_values(enabled, enable=False))) == {"originate_user", "originate_secret"}
    assert manager_user.config_values(enabled, enable=True, click_to_call=False) == {}
    assert manager_user.config_values(WRITTEN % ("no", SECRET, "", ""), enable=False) == {}  # no calls: no dial


def test_opting_out_takes_ours_out_and_never_touches_the_admins_own():
    ours = WRITTEN % ("yes", SECRET, "itflow-bridge-dial", DIAL_SECRET)
    assert manager_user.config_values(ours, enable=True) == {}  # kept as it is
    assert calls_of(manager_user.config_values(ours, enable=True, click_to_call=False)) == {
        "originate_user": "", "originate_secret": ""}
    theirs = WRITTEN % ("yes", SECRET, "admins-dialler", "theirs")
    for flag in (None, True, False):
        assert manager_user.config_values(theirs, enable=True, click_to_call=flag) == {}


def test_taking_ours_out_writes_the_settings_empty_as_the_example_has_them():
    from itflow_bridge.install.settings import set_values

    ours = WRITTEN % ("yes", SECRET, "itflow-bridge-dial", DIAL_SECRET)
    out = set_values(ours, manager_user.config_values(ours, enable=True, click_to_call=False))
    assert out == ("[calls]\nenabled = yes\nami_user = itflow-bridge\nami_secret = %s\noriginate_user =\n"
                   "originate_secret =\n" % SECRET)
