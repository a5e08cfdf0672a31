"""install --calls (or --click-to-call) adds the originate-only manager user beside the events user, in the
same file, once; uninstall gives the file back to the byte; neither secret is printed; --no-click-to-call
leaves it out, takes an earlier install's out, and later installs remember; the admin's own is kept."""

from __future__ import annotations

import os
import re

import pytest

from install_run import NEEDS_ROOT

from itflow_bridge.install import manager_user

from test_install_prefix import install, pbx, snapshot  # noqa: F401 - pbx is a fixture
from test_install_manager_user import (ADMIN_MANAGER, CONFIG, DEBIAN_MANAGER, FREEPBX_CUSTOM, FREEPBX_MANAGER,
                                       SECRET_LIKE, flags, owner_mode, said, secret_of)

pytestmark = NEEDS_ROOT

ASTERISK_GID = 994


def dial_secret_of(root) -> str:
    found = re.search(r"^originate_secret = (\S+)$", (root / CONFIG).read_text(), re.M)
    assert found, "no [calls] originate_secret written"
    return found.group(1)


def both(root) -> bytes:
    return manager_user.sections([(manager_user.USER, secret_of(root)),
                                  (manager_user.DIAL_USER, dial_secret_of(root))])


def cycle(root, fake_itflow, path, kept: bytes, flag: str = "--click-to-call"):
    before = snapshot(root)
    dry = install(root, *flags(fake_itflow), flag, "--dry-run")
    assert snapshot(root) == before and not SECRET_LIKE.search(said(dry))
    assert manager_user.DIAL_USER in dry.stdout
    done = install(root, *flags(fake_itflow), flag)
    assert re.search(r"^originate_user = itflow-bridge-dial$", (root / CONFIG).read_text(), re.M)
    assert path.read_bytes() == kept + both(root)
    assert dial_secret_of(root) != secret_of(root)
    assert dial_secret_of(root) not in said(done) and not SECRET_LIKE.search(said(done))
    installed = snapshot(root, skip_cache=True)
    again = install(root)  # without the flag: the config names the user, so it stays
    assert "nothing to change" in again.stdout and snapshot(root, skip_cache=True) == installed
    gone = install(root, "--uninstall")
    assert not SECRET_LIKE.search(said(gone))
    assert snapshot(root) == before


@pytest.mark.parametrize("flag", ["--calls", "--click-to-call"])
def test_debian_drop_in_holds_both_users(pbx, fake_itflow, flag):  # noqa: F811
    etc = pbx / "etc/asterisk"
    (etc / "manager.conf").write_bytes(DEBIAN_MANAGER)
    (etc / "manager.d").mkdir()
    path = etc / "manager.d/itflow-bridge.conf"
    cycle(pbx, fake_itflow, path, b"", flag)
    assert not path.exists()


def test_manager_conf_gets_both_sections_after_the_admins(pbx, fake_itflow):  # noqa: F811
    path = pbx / "etc/asterisk/manager.conf"
    path.write_bytes(ADMIN_MANAGER)
    path.chmod(0o644)
    os.chown(path, 0, 0)
    cycle(pbx, fake_itflow, path, ADMIN_MANAGER)
    assert path.read_bytes() == ADMIN_MANAGER and owner_mode(path) == (0, 0, 0o644)


@pytest.mark.parametrize("flag", ["--calls", "--click-to-call"])
def test_freepbx_custom_file_gets_both_users(pbx, fake_itflow, flag):  # noqa: F811
    etc = pbx / "etc/asterisk"
    (pbx / "etc/freepbx.conf").write_text("<?php\n")
    for name, data in (("manager.conf", FREEPBX_MANAGER), ("manager_custom.conf", FREEPBX_CUSTOM),
                       ("extensions_custom.conf", b""), ("globals_custom.conf", b"")):
        (etc / name).write_bytes(data)
        os.chown(etc / name, 995, ASTERISK_GID)
        (etc / name).chmod(0o664)
    cycle(pbx, fake_itflow, etc / "manager_custom.conf", FREEPBX_CUSTOM, flag)
    assert (etc / "manager_custom.conf").read_bytes() == FREEPBX_CUSTOM


def events_user_only(root) -> bytes:
    return manager_user.section(secret_of(root))


def originate_user(root) -> str:
    found = re.search(r"^originate_user =(.*)$", (root / CONFIG).read_text(), re.M)
    assert found, "no [calls] originate_user in the config"
    return found.group(1).strip()


def test_no_click_to_call_is_kept_by_later_installs_and_takes_ours_out(pbx, fake_itflow):  # noqa: F811
    etc = pbx / "etc/asterisk"
    (etc / "manager.conf").write_bytes(DEBIAN_MANAGER)
    (etc / "manager.d").mkdir()
    path = etc / "manager.d/itflow-bridge.conf"
    before = snapshot(pbx)
    install(pbx, *flags(fake_itflow), "--calls", "--no-click-to-call")
    assert originate_user(pbx) == "" and path.read_bytes() == events_user_only(pbx)
    opted_out = snapshot(pbx, skip_cache=True)
    again = install(pbx)  # the calls are on, but the opt-out is remembered
    assert "nothing to change" in again.stdout and snapshot(pbx, skip_cache=True) == opted_out

    added = install(pbx, "--click-to-call")
    assert originate_user(pbx) == manager_user.DIAL_USER and path.read_bytes() == both(pbx)
    assert not SECRET_LIKE.search(said(added))
    removed = install(pbx, "--no-click-to-call")
    assert originate_user(pbx) == "" and path.read_bytes() == events_user_only(pbx)
    assert not SECRET_LIKE.search(said(removed))
    assert "nothing to change" in install(pbx).stdout
    install(pbx, "--uninstall")
    assert snapshot(pbx) == before


def test_an_admins_own_originate_user_is_kept(pbx, fake_itflow):  # noqa: F811
    etc = pbx / "etc/asterisk"
    (etc / "manager.conf").write_bytes(DEBIAN_MANAGER)
    (etc / "manager.d").mkdir()
    path = etc / "manager.d/itflow-bridge.conf"
    install(pbx, *flags(fake_itflow))
    config = pbx / CONFIG
    config.write_text(re.sub(r"^originate_user =.*$", "originate_user = admins-dialler", config.read_text(),
                             flags=re.M).replace("\noriginate_secret =\n", "\noriginate_secret = theirs\n"))
    mine = config.read_bytes()
    install(pbx, "--calls")
    assert originate_user(pbx) == "admins-dialler" and "originate_secret = theirs\n" in config.read_text()
    assert path.read_bytes() == events_user_only(pbx)  # their user is theirs to create
    assert config.read_bytes() == mine.replace(b"\nenabled = no\n", b"\nenabled = yes\n")
