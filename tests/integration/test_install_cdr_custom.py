"""``itflow-bridge install --prefix``: the CDR mapping in cdr_custom.conf once calls are on, and its undoing."""

from __future__ import annotations

import configparser
import hashlib
import os
import stat
from pathlib import Path
from typing import Dict, Tuple

import pytest

from install_run import NEEDS_ROOT, install as install_into
from itflow_bridge.calls.cdr import mapping_line
from itflow_bridge.install.cdr_custom import MARK
from test_install_prefix import STOCK

pytestmark = NEEDS_ROOT

CDR_FILE = "/var/log/asterisk/cdr-custom/itflow-bridge.csv"
ADMIN = b"; billing export\n[mappings]\nMaster.csv => ${CSV_QUOTE(${CDR(clid)})},${CDR(billsec)}\n"
CONFIG = "etc/itflow-bridge/itflow-bridge.conf"


@pytest.fixture
def pbx(tmp_path: Path) -> Path:
    root = tmp_path / "pbx"
    for directory in ("etc/asterisk", "var/lib/asterisk/agi-bin", "var/lib/asterisk/sounds/en", "var/log/asterisk"):
        (root / directory).mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nasterisk:x:995:994::/var/lib/asterisk:/bin/false\n")
    (root / "etc/group").write_text("root:x:0:\nasterisk:x:994:\n")
    (root / "etc/asterisk/asterisk.conf").write_text("[options]\nrunuser = asterisk\nrungroup = asterisk\n")
    (root / "etc/asterisk/extensions.conf").write_bytes(b"[from-trunk]\nexten => _X.,1,Dial(PJSIP/100)\n")
    # Debian's own manager.conf: the manager on, on localhost, users in manager.d (calls need it)
    (root / "etc/asterisk/manager.conf").write_bytes(
        b"[general]\nenabled = yes\nport = 5038\nbindaddr = 127.0.0.1\n#include \"manager.d/*.conf\"\n")
    (root / "etc/asterisk/manager.d").mkdir()
    (root / "var/lib/asterisk/sounds/en/digits").mkdir()
    for name in STOCK:
        (root / "var/lib/asterisk/sounds/en" / (name + ".gsm")).write_bytes(b"")
    return root


def snapshot(root: Path) -> Dict[str, Tuple[int, int, int, str]]:
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            relative = str(path.relative_to(root))
            if relative.startswith("var/cache/itflow-bridge/"):
                continue
            info = path.lstat()
            data = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else ""
            found[relative] = (info.st_mode, info.st_uid, info.st_gid, data)
    return found


def enable_calls(root: Path, enabled: bool = True) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(root / CONFIG)
    if not parser.has_section("calls"):
        parser.add_section("calls")
    parser.set("calls", "enabled", "yes" if enabled else "no")
    with open(root / CONFIG, "w") as handle:
        parser.write(handle)


def install(root: Path, *args: str) -> str:
    return install_into(root, *args, timeout=120).stdout


def test_mapping_added_with_calls_on_kept_alongside_the_admins_and_undone(pbx, fake_itflow):
    conf = pbx / "etc/asterisk/cdr_custom.conf"
    conf.write_bytes(ADMIN)
    os.chown(conf, 0, 994)
    conf.chmod(0o640)
    pristine = snapshot(pbx)
    flags = ("--url", fake_itflow.url, "--api-key", fake_itflow.api_key)
    install(pbx, *flags)
    assert conf.read_bytes() == ADMIN  # calls off: Asterisk's CDR is not touched

    enable_calls(pbx)
    done = install(pbx)
    assert conf.read_bytes() == ADMIN.replace(b"[mappings]\n", b"[mappings]\n%s\n%s\n" % (
        MARK, mapping_line(CDR_FILE).encode()))
    info = conf.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 994, 0o640)  # the admin's owner and mode
    directory = (pbx / CDR_FILE.lstrip("/")).parent
    info = directory.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (995, 994, 0o755)  # Asterisk writes in it
    assert "Asterisk is not running: it loads cdr_custom.so" in done

    installed = snapshot(pbx)
    again = install(pbx)
    assert "nothing to change" in again, again
    assert snapshot(pbx) == installed

    enable_calls(pbx, False)  # calls off again: the mapping goes, the file is the admin's again
    install(pbx)
    assert conf.read_bytes() == ADMIN and not directory.exists()
    enable_calls(pbx)
    install(pbx)
    assert b"itflow-bridge.csv =>" in conf.read_bytes()

    install(pbx, "--uninstall")
    assert conf.read_bytes() == ADMIN
    assert snapshot(pbx) == pristine  # byte for byte, owners and modes too


def test_fresh_pbx_without_cdr_custom_conf(pbx, fake_itflow):
    install(pbx, "--url", fake_itflow.url, "--api-key", fake_itflow.api_key)
    enable_calls(pbx)
    (pbx / "var/log/asterisk/cdr-custom").mkdir()  # as Asterisk's packages ship it: kept as it is
    install(pbx)
    conf = pbx / "etc/asterisk/cdr_custom.conf"
    assert conf.read_bytes() == b"[mappings]\n%s\n%s\n" % (MARK, mapping_line(CDR_FILE).encode())
    install(pbx, "--uninstall")
    assert not conf.exists() and (pbx / "var/log/asterisk/cdr-custom").is_dir()
