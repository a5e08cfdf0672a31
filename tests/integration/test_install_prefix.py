"""``itflow-bridge install --prefix`` on a plain-Asterisk tree in a tmp dir, against the fake ITFlow."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from install_run import NEEDS_ROOT, install as install_into

# install refuses to run without root (it chowns what it writes). Outside CI a non-root run
# skips these with the reason; under CI (CI set) they run, and fail, rather than hide.
pytestmark = NEEDS_ROOT

EXTENSIONS = b"[general]\nstatic=yes\n\n[globals]\nTRUNK=PJSIP/out\n\n[from-trunk]\nexten => _X.,1,Dial(PJSIP/100)\n"
STOCK = ["digits/%s" % n for n in (*range(21), *range(30, 100, 10), "hundred", "thousand", "million", "billion")] + [
    "vm-and", "privacy-incorrect", "one-moment-please", "vm-goodbye"]


@pytest.fixture
def pbx(tmp_path):
    root = tmp_path / "pbx"
    for directory in ("etc/asterisk", "var/lib/asterisk/agi-bin", "var/lib/asterisk/sounds/en/digits"):
        (root / directory).mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nasterisk:x:995:994::/var/lib/asterisk:/bin/false\n")
    (root / "etc/group").write_text("root:x:0:\nasterisk:x:994:\n")
    (root / "etc/asterisk/asterisk.conf").write_text("[options]\nrunuser = asterisk\nrungroup = asterisk\n")
    (root / "etc/asterisk/extensions.conf").write_bytes(EXTENSIONS)
    for name in STOCK:
        (root / "var/lib/asterisk/sounds/en" / (name + ".gsm")).write_bytes(b"")
    return root


def install(root, *args, expect=0):
    return install_into(root, *args, expect=expect, timeout=120)


def snapshot(root: Path, skip_cache: bool = False) -> dict:
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            relative = str(path.relative_to(root))
            if skip_cache and relative.startswith("var/cache/itflow-bridge/"):
                continue
            info = path.lstat()
            data = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else ""
            found[relative] = (info.st_mode, info.st_uid, info.st_gid, data)
    return found


def test_plain_asterisk_install_reinstall_uninstall(pbx, fake_itflow):
    before = snapshot(pbx)
    flags = ("--url", fake_itflow.url, "--api-key", fake_itflow.api_key)
    dry = install(pbx, *flags, "--dry-run")
    assert snapshot(pbx) == before and "plain Asterisk" in dry.stdout
    assert fake_itflow.api_key not in dry.stdout + dry.stderr

    done = install(pbx, *flags)
    assert fake_itflow.api_key not in done.stdout + done.stderr
    extensions = (pbx / "etc/asterisk/extensions.conf").read_bytes()
    assert extensions == EXTENSIONS + (edits_mark() + b"\n#include extensions_itflow.conf\n")  # FastAGI: no global
    assert "Asterisk is not running: skipped" in done.stdout
    cache = pbx / "var/cache/itflow-bridge"
    database = cache / "itflow-bridge-cache.sqlite3"
    info = database.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 994, 0o660)  # root's check, group's file
    assert stat.S_IMODE(cache.stat().st_mode) == 0o2770
    unit = (pbx / "etc/systemd/system/itflow-bridge.service").read_text()
    assert "ReadWritePaths=/var/cache/itflow-bridge" in unit

    installed = snapshot(pbx, skip_cache=True)
    assert "nothing to change" in install(pbx).stdout
    assert snapshot(pbx, skip_cache=True) == installed

    classic = install(pbx, "--transport", "classic")
    assert b"[globals]\nITFLOW_AGI=/usr/share/asterisk/agi-bin\n" not in extensions
    assert b"[globals]\nITFLOW_AGI=/var/lib/asterisk/agi-bin\nTRUNK" in (pbx / "etc/asterisk/extensions.conf").read_bytes()
    assert "remove /etc/systemd/system/itflow-bridge.service" in classic.stdout

    install(pbx, "--uninstall")
    assert snapshot(pbx) == before


def test_a_failing_check_leaves_asterisk_alone(pbx, fake_itflow):
    result = install(pbx, "--url", fake_itflow.url, "--api-key", "wrong-key-0a1b2c3d4e5f", expect=2)
    assert "[FAIL] API key" in result.stdout and "install stopped" in result.stderr
    assert "wrong-key-0a1b2c3d4e5f" not in result.stdout + result.stderr
    assert (pbx / "etc/asterisk/extensions.conf").read_bytes() == EXTENSIONS
    assert not (pbx / "etc/systemd/system/itflow-bridge.service").exists()
    # the fix: give the right key; the existing config is updated in place
    install(pbx, "--api-key", fake_itflow.api_key)
    assert b"#include extensions_itflow.conf" in (pbx / "etc/asterisk/extensions.conf").read_bytes()


def test_refuses_without_url_and_key_off_a_terminal(pbx):
    result = install(pbx, expect=3)
    assert "give --url and --api-key" in result.stderr


def edits_mark() -> bytes:
    from itflow_bridge.install.edits import MARK

    return MARK
