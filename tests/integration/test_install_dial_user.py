"""install --click-to-call adds the originate-only manager user beside the events user, in the same file,
once; uninstall gives the file back to the byte; neither secret is printed."""

from __future__ import annotations

import os
import re


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


def cycle(root, fake_itflow, path, kept: bytes):
    before = snapshot(root)
    dry = install(root, *flags(fake_itflow), "--click-to-call", "--dry-run")
    assert snapshot(root) == before and not SECRET_LIKE.search(said(dry))
    done = install(root, *flags(fake_itflow), "--click-to-call")
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


def test_debian_drop_in_holds_both_users(pbx, fake_itflow):  # noqa: F811
    etc = pbx / "etc/asterisk"
    (etc / "manager.conf").write_bytes(DEBIAN_MANAGER)
    (etc / "manager.d").mkdir()
    path = etc / "manager.d/itflow-bridge.conf"
    cycle(pbx, fake_itflow, path, b"")
    assert not path.exists()


def test_manager_conf_gets_both_sections_after_the_admins(pbx, fake_itflow):  # noqa: F811
    path = pbx / "etc/asterisk/manager.conf"
    path.write_bytes(ADMIN_MANAGER)
    path.chmod(0o644)
    os.chown(path, 0, 0)
    cycle(pbx, fake_itflow, path, ADMIN_MANAGER)
    assert path.read_bytes() == ADMIN_MANAGER and owner_mode(path) == (0, 0, 0o644)


def test_freepbx_custom_file_gets_both_users(pbx, fake_itflow):  # noqa: F811
    etc = pbx / "etc/asterisk"
    (pbx / "etc/freepbx.conf").write_text("<?php\n")
    for name, data in (("manager.conf", FREEPBX_MANAGER), ("manager_custom.conf", FREEPBX_CUSTOM),
                       ("extensions_custom.conf", b""), ("globals_custom.conf", b"")):
        (etc / name).write_bytes(data)
        os.chown(etc / name, 995, ASTERISK_GID)
        (etc / name).chmod(0o664)
    cycle(pbx, fake_itflow, etc / "manager_custom.conf", FREEPBX_CUSTOM)
    assert (etc / "manager_custom.conf").read_bytes() == FREEPBX_CUSTOM
