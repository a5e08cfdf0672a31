"""install: layout detection and the edits of Asterisk's files, in a tmp dir (no Asterisk needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from itflow_bridge.core.errors import ConfigError
from itflow_bridge.install import edits
from itflow_bridge.install.asterisk_layout import detect, read_asterisk_conf, resolve_in
from itflow_bridge.install.settings import DIALPLAN, EXAMPLE, set_values
from itflow_bridge.install.units import unit_text

ROOT = Path(__file__).resolve().parents[2]


def tree(tmp_path: Path, asterisk_conf: str = "", freepbx: bool = False) -> Path:
    (tmp_path / "etc/asterisk").mkdir(parents=True)
    (tmp_path / "var/lib/asterisk/agi-bin").mkdir(parents=True)
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nasterisk:x:995:994::/var/lib/asterisk:/bin/false\n"
                                         "pbx:x:1001:1001::/home/pbx:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\nasterisk:x:994:\npbx:x:1001:\nvoice:x:1500:\n")
    (tmp_path / "etc/asterisk/asterisk.conf").write_text(asterisk_conf)
    if freepbx:
        (tmp_path / "etc/freepbx.conf").write_text("<?php\n")
    return tmp_path


def test_freepbx_layout_from_asterisk_conf(tmp_path):
    root = tree(tmp_path, "[directories]\nastetcdir => /etc/asterisk\nastagidir => /var/lib/asterisk/agi-bin\n"
                          "astdatadir => /var/lib/asterisk ; FreePBX\n\n[options]\nrunuser = asterisk\n"
                          "rungroup = asterisk\n", freepbx=True)
    layout = detect(root)
    assert layout.freepbx and layout.agi_dir == "/var/lib/asterisk/agi-bin"
    assert layout.sounds_dir == "/var/lib/asterisk/sounds" and layout.asterisk_etc == "/etc/asterisk"
    assert (layout.account.user, layout.account.group, layout.account.uid, layout.account.gid) == \
        ("asterisk", "asterisk", 995, 994)
    assert not layout.asterisk_running


def test_debian_template_directories_and_owner_of_agi_bin(tmp_path):
    # Debian ships [directories](!): a template, so Asterisk's compiled-in paths apply.
    root = tree(tmp_path, "[directories](!)\nastagidir => /nowhere\n[options]\n;runuser = asterisk\n")
    (root / "usr/share/asterisk/sounds").mkdir(parents=True)
    (root / "usr/share/asterisk/agi-bin").mkdir(parents=True)
    # The owner of agi-bin names the user: whoever runs this test owns the directory,
    # so the target's passwd gives that uid the name pbx (no chown, no root needed).
    uid = (root / "usr/share/asterisk/agi-bin").stat().st_uid
    (root / "etc/passwd").write_text("asterisk:x:995:994::/var/lib/asterisk:/bin/false\n"
                                     "pbx:x:%d:1001::/home/pbx:/bin/sh\n" % uid)
    layout = detect(root)
    assert not layout.freepbx
    assert layout.agi_dir == "/usr/share/asterisk/agi-bin" and layout.sounds_dir == "/usr/share/asterisk/sounds"
    assert (layout.account.user, layout.account.group) == ("pbx", "pbx")


def test_flags_win(tmp_path):
    root = tree(tmp_path, "[options]\nrunuser = asterisk\n")
    layout = detect(root, agi_dir="/srv/agi", sounds_dir="/srv/sounds", user="pbx", group="voice", freepbx=True)
    assert (layout.agi_dir, layout.sounds_dir, layout.account.gid, layout.freepbx) == ("/srv/agi", "/srv/sounds", 1500, True)
    with pytest.raises(ConfigError, match="no user 'nobody-here'"):
        detect(root, user="nobody-here")
    with pytest.raises(ConfigError, match="no Asterisk configuration"):
        detect(tmp_path / "empty")


def test_absolute_symlinks_resolve_inside_the_prefix(tmp_path):
    (tmp_path / "etc/alternatives/prompts").mkdir(parents=True)
    (tmp_path / "var/run").mkdir(parents=True)
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds/en").symlink_to("/etc/alternatives/prompts")
    assert resolve_in(tmp_path, "/sounds/en/itflow") == tmp_path / "etc/alternatives/prompts/itflow"
    assert resolve_in(Path("/"), "/sounds/en") == Path("/sounds/en")


def test_asterisk_conf_parser():
    conf = read_asterisk_conf("[directories](!)\nastagidir => /x\n[options]\nrunuser=asterisk ; c\n[x](+)\na=b\n")
    assert conf == {"options": {"runuser": "asterisk"}, "x": {"a": "b"}}


# --- edits ------------------------------------------------------------------------------------

CUSTOM = b"; mine\r\n[from-internal-custom]\r\nexten => 1,1,Hangup()"  # CRLF, no final newline


def test_include_is_added_once_and_removed_to_the_byte():
    added = edits.add_include(CUSTOM)
    assert added.startswith(CUSTOM + b"\r\n") and added.endswith(b"#include extensions_itflow.conf\r\n")
    assert edits.add_include(added) == added
    assert edits.has_include(b'#include "extensions_itflow.conf"\n')
    assert edits.add_include(b"") == edits.MARK + b"\n" + edits.INCLUDE_LINE + b"\n"


def test_plain_global_set_changed_and_removed():
    original = b"FOO=1\nBAR = 2\n"
    classic = edits.set_plain_global(original, "/var/lib/asterisk/agi-bin")
    assert classic == original + b"ITFLOW_AGI=/var/lib/asterisk/agi-bin\n"
    assert edits.set_plain_global(classic, "/var/lib/asterisk/agi-bin") == classic
    fast = edits.set_plain_global(classic, "agi://127.0.0.1:4600")
    assert fast == original + b"ITFLOW_AGI=agi://127.0.0.1:4600\n"
    assert edits.set_plain_global(fast, None) == original
    assert edits.set_plain_global(original, None) == original


def test_section_global_only_in_globals():
    conf = b"[general]\nstatic=yes\n\n[globals]\nTRUNK=PJSIP/out\n\n[from-trunk]\nexten => _X.,1,Dial(PJSIP/100)\n"
    edited = edits.set_section_global(conf, "/agi")
    assert edited == conf.replace(b"[globals]\n", b"[globals]\nITFLOW_AGI=/agi\n")
    assert edits.set_section_global(edited, "/agi") == edited
    assert edits.set_section_global(edited, None) == conf
    nothing = b"[from-trunk]\nexten => s,1,Hangup()\n"
    assert edits.set_section_global(nothing, "/agi") == nothing + b"[globals]\nITFLOW_AGI=/agi\n"
    # a variable of that name in another context is not ours
    other = b"[ctx]\nITFLOW_AGI=x\n[globals]\n"
    assert edits.set_section_global(other, None) == other


def test_config_values_set_in_place():
    text = "# c\n[itflow]\nurl = https://old.example\n# api_key = x\n\n[server]\nhost = 127.0.0.1\n"
    out = set_values(text, {("itflow", "url"): "https://new.example", ("itflow", "api_key"): "k",
                            ("server", "port"): "4600", ("cache", "dir"): "/srv/cache"})
    assert out == ("# c\n[itflow]\nurl = https://new.example\napi_key = k\n# api_key = x\n\n[server]\nhost = 127.0.0.1\n"
                   "port = 4600\n\n[cache]\ndir = /srv/cache\n")


def test_the_repo_ships_the_packaged_data_itself():
    """One copy: the top-level files are links into the package, so a wheel install has them too."""
    assert (ROOT / "asterisk-conf/extensions_itflow.conf").resolve() == DIALPLAN.resolve()
    assert (ROOT / "contrib/itflow-bridge.conf.example").resolve() == EXAMPLE.resolve()


def test_unit_hardening():
    text = unit_text(python="/opt/itflow-bridge/venv/bin/python", user="asterisk", group="asterisk",
                     config="/etc/itflow-bridge/itflow-bridge.conf", cache_dir="/var/cache/itflow-bridge")
    for line in ("User=asterisk", "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/cache/itflow-bridge",
                 "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "ExecStart=/opt/itflow-bridge/venv/bin/python -m itflow_bridge.cli serve", "UMask=0007"):
        assert line + "\n" in text, line
    assert "ProtectHome=read-only" in unit_text(python="/root/venv/bin/python", user="a", group="a", config="c",
                                                cache_dir="d")
