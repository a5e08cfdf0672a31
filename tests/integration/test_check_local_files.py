"""``check`` names what is wrong with the files on the PBX, and the fix that applies.

The local directory file and the cache are sqlite files in ``[cache] dir``; the config file
holds the API key.  A file that exists but cannot be used is not "not synced yet" nor "create
the directory": ``check`` says whether this user cannot read it, or it is corrupt, or something
else stands in its place, and what to run.  A config file anyone can change fails the check.
"""

import os
import pwd
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from itflow_bridge.app import Bridge
from itflow_bridge.core.config import load_config
from itflow_bridge.directory.refresh import sync_directory
from itflow_bridge.health import run_checks

GARBAGE = b"\x00\xff this was never an sqlite file \xfe" * 64
NOBODY = 65534


def config_in(folder: Path, fake, text=None, mode=0o640):
    conf = folder / "bridge.conf"
    conf.write_text(text if text is not None else "[itflow]\nurl = %s\napi_key = %s\n[cache]\ndir = %s\n"
                    % (fake.url, fake.api_key, folder / "cache"), encoding="utf-8")
    os.chmod(conf, mode)
    return load_config(str(conf), env={})


def synced(config):
    """A real directory file synced from the fake ITFlow; its path."""
    bridge = Bridge(config)
    try:
        sync_directory(bridge)
        return bridge.directory_store().path
    finally:
        bridge.close()


def item(report, name):
    found = [entry for entry in report.items if entry.name == name]
    assert len(found) == 1, report.items
    return found[0]


def test_a_fresh_install_passes_the_file_checks(fake_itflow, tmp_path):
    config = config_in(tmp_path, fake_itflow)
    synced(config)
    report = run_checks(config)
    assert report.ok, [entry.line() for entry in report.items]
    assert item(report, "config file").status == "ok"
    assert item(report, "cache").status == "ok"
    assert item(report, "local directory").status == "ok"


# --- the local directory ------------------------------------------------------------------


def test_a_corrupt_directory_file_is_named_with_the_sync_that_replaces_it(fake_itflow, tmp_path):
    config = config_in(tmp_path, fake_itflow)
    path = synced(config)
    path.write_bytes(GARBAGE)
    line = item(run_checks(config), "local directory")
    assert line.status == "warning" and "not synced yet" not in line.detail
    assert line.detail.startswith("%s is corrupt" % path)
    assert "run itflow-bridge sync again" in line.fix

    synced(config)  # the advice works: sync writes a new file in its place
    assert item(run_checks(config), "local directory").status == "ok"


def test_a_directory_in_place_of_the_file_is_named(fake_itflow, tmp_path):
    config = config_in(tmp_path, fake_itflow)
    path = synced(config)
    path.unlink()
    path.mkdir()  # unreadable as a file even for root
    line = item(run_checks(config), "local directory")
    assert line.status == "warning" and "not synced yet" not in line.detail
    assert line.detail.startswith("%s is a directory, not a file" % path)
    assert "rm -r %s" % path in line.fix and "itflow-bridge sync" in line.fix


@pytest.fixture
def shared_folder():
    """A folder every user can enter (pytest's own tmp_path is its owner's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="itflow-bridge-check-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@contextmanager
def effective_user(uid, gid):
    """Run as ``uid``/``gid`` for file access (the kernel's own permission checks), then back to root."""
    groups = os.getgroups()
    os.setgroups([])
    os.setegid(gid)
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)


def test_a_directory_file_this_user_cannot_read_says_so_and_how_to_fix_it(fake_itflow, shared_folder):
    """As root: synced by root (mode 0640, root's group), checked as another user (nobody);
    as anyone else: the file made unreadable (mode 0000) for its owner."""
    config = config_in(shared_folder, fake_itflow, mode=0o644)
    path = synced(config)
    run_checks(config)  # every module the check imports is loaded before the user changes
    if os.geteuid() == 0:
        os.chmod(path.parent, 0o755)
        os.chmod(path, 0o640)
        with effective_user(NOBODY, NOBODY):
            report = run_checks(config)
        user = pwd.getpwuid(NOBODY).pw_name
    else:
        path.chmod(0)
        report = run_checks(config)
        user = pwd.getpwuid(os.geteuid()).pw_name
    line = item(report, "local directory")
    assert line.status == "warning" and "not synced yet" not in line.detail
    assert line.detail.startswith("%s cannot be read by user %s" % (path, user))
    assert "chmod 0660 %s" % path in line.fix and "chgrp" in line.fix and "the Asterisk group's" in line.fix


# --- the cache ------------------------------------------------------------------------------


def test_a_corrupt_cache_is_named_with_the_file_to_remove(fake_itflow, tmp_path):
    config = config_in(tmp_path, fake_itflow)
    bridge = Bridge(config)  # creates the cache file
    path = bridge.cache.path
    bridge.close()
    path.write_bytes(GARBAGE)
    line = item(run_checks(config), "cache")
    assert line.status == "warning"
    assert line.detail.startswith("%s is corrupt" % path)
    assert "create the directory" not in line.fix and "rm -f %s" % path in line.fix

    path.unlink()  # the advice works: the bridge creates a new cache
    assert item(run_checks(config), "cache").detail == "persistent cache at %s" % path


# --- the config file --------------------------------------------------------------------------


def test_a_config_file_everyone_may_change_fails(fake_itflow, tmp_path):
    config = config_in(tmp_path, fake_itflow, mode=0o666)
    report = run_checks(config)
    line = item(report, "config file")
    assert line.status == "FAIL" and not report.ok
    assert "writable by every user" in line.detail and "0666" in line.detail
    assert "chmod 0640 %s" % config.source in line.fix and "chown root:asterisk %s" % config.source in line.fix


def test_a_config_file_another_group_may_change_is_a_warning(fake_itflow, tmp_path):
    config = config_in(tmp_path, fake_itflow, mode=0o660)
    if os.geteuid() == 0:
        os.chown(config.source, 0, NOBODY)  # a group that is not root's
    assert os.stat(config.source).st_gid != 0
    line = item(run_checks(config), "config file")
    assert line.status == "warning" and "writable by group" in line.detail
    assert "chmod 0640 %s" % config.source in line.fix


def test_a_world_readable_config_file_holding_the_key_is_a_warning(fake_itflow, tmp_path):
    config = config_in(tmp_path, fake_itflow, mode=0o644)
    line = item(run_checks(config), "config file")
    assert line.status == "warning" and "every user can read the API key" in line.detail
    assert "chmod 0640 %s" % config.source in line.fix


def test_a_world_readable_config_file_without_the_key_passes(fake_itflow, tmp_path):
    conf_text = "[itflow]\nurl = %s\n" % fake_itflow.url
    config = config_in(tmp_path, fake_itflow, text=conf_text, mode=0o644)
    config = load_config(str(config.source), env={"ITFLOW_API_KEY": fake_itflow.api_key,
                                                  "ITFLOW_BRIDGE_CACHE_DIR": str(tmp_path / "cache")})
    line = item(run_checks(config), "config file")
    assert line.status == "ok" and stat.S_IMODE(os.stat(config.source).st_mode) == 0o644
