"""``itflow-bridge install`` on a FreePBX-like PBX with the real Asterisk 22, running as its own user.

The shared Asterisk root is never written: the test mounts an overlay on it
(copy-on-write, its own upper dir in a scratch directory) and lays out what a
FreePBX 17 host has there: ``asterisk.conf`` with ``runuser = asterisk``,
agi-bin and sounds under /var/lib/asterisk, ``extensions.conf`` including
``globals_custom.conf`` and ``extensions_custom.conf`` (both with content of
their own), /etc/freepbx.conf.  Asterisk runs as the ``asterisk`` user of that
tree; the daemon runs as the installed systemd unit says (its user, its
ExecStart, its environment), inside the tree; classic scripts run as Asterisk
runs them.  Then: a dry run changes no byte; install makes calls work through
both transports, with one cache written by root (``check``) and by the
``asterisk`` user's processes; a second install changes nothing; uninstall
gives back the tree byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from install_run import install
from sockets import free_port

from asterisk_harness import (
    AsteriskHarness,
    MODULES,
    _asterisk_env,
    _python_mount_sources,
    e2e_dialplan,
)
from asterisk_root import ensure_root

pytestmark = pytest.mark.e2e

ASTERISK_UID = ASTERISK_GID = 101  # the chroot's asterisk user and group
CONFIG = "/etc/itflow-bridge/itflow-bridge.conf"
CACHE = "/var/cache/itflow-bridge"
AGI_DIR = "/var/lib/asterisk/agi-bin"
UNIT = "/etc/systemd/system/itflow-bridge.service"
CUSTOM = b"; FreePBX: extensions_custom.conf, the admin's own dialplan\n[from-internal-custom]\nexten => 1234,1,Playback(demo-congrats)\n same => n,Hangup()\n"
GLOBALS = b"; FreePBX: globals_custom.conf\nACME_NIGHT_MODE=0\n"
LOOKUP_LINE = re.compile(r"itflow-bridge: caller .*\(([a-z]+|-), (\d+) ms\)")
# Snapshots cover what install may touch; Asterisk's own state (astdb, logs, spool) changes by itself.
SNAPSHOT_DIRS = ("etc", "var/lib", "var/cache", "opt")
SNAPSHOT_SKIP = ("var/lib/asterisk/astdb", "var/cache/asterisk", "var/cache/apt", "var/lib/apt", "var/lib/dpkg")
DAEMON_BOOT_TIMEOUT = 15.0


class FreePBXLikeAsterisk(AsteriskHarness):
    """The harness on an overlay of the shared root, configured like FreePBX, Asterisk as ``asterisk``."""

    def _write_config(self) -> None:
        root = self.root
        etc = root / "etc/asterisk"
        module_dir = self._module_dir()
        present = [name for name in MODULES if (root / module_dir.lstrip("/") / f"{name}.so").exists()]
        directories = {
            "astetcdir": "/etc/asterisk", "astmoddir": module_dir, "astvarlibdir": "/var/lib/asterisk",
            "astdbdir": "/var/lib/asterisk", "astkeydir": "/var/lib/asterisk", "astdatadir": "/var/lib/asterisk",
            "astagidir": AGI_DIR, "astspooldir": "/var/spool/asterisk", "astrundir": "/run/asterisk",
            "astlogdir": "/var/log/asterisk", "astsbindir": "/usr/sbin", "astcachedir": "/var/cache/asterisk",
        }
        files = {
            "asterisk.conf": "[directories]\n" + "".join(f"{k} => {v}\n" for k, v in directories.items())
            + "\n[options]\nverbose = 4\nrunuser = asterisk\nrungroup = asterisk\nhideconnect = yes\n"
            "transmit_silence = yes\n",
            "modules.conf": "[modules]\nautoload = no\n" + "".join(f"load = {name}.so\n" for name in present),
            "logger.conf": "[general]\ndateformat = %F %T.%6q\n\n[logfiles]\n"
                           "e2e.log => notice,warning,error,dtmf,verbose(4)\n",
            "extensions.conf": "[general]\nstatic = yes\nwriteprotect = yes\n\n[globals]\n#include globals_custom.conf\n\n"
                               "#include extensions_custom.conf\n#include extensions_e2e.conf\n",
            "extensions_e2e.conf": e2e_dialplan(),
        }
        for name, text in files.items():
            (etc / name).write_text(text)
        (etc / "extensions_custom.conf").write_bytes(CUSTOM)
        (etc / "globals_custom.conf").write_bytes(GLOBALS)
        (etc / "extensions_itflow.conf").unlink(missing_ok=True)  # the shared root's tests put one there
        for stale in (root / AGI_DIR.lstrip("/")).glob("*.agi"):
            stale.unlink()
        shutil.rmtree(root / "etc/itflow-bridge", ignore_errors=True)
        (root / "etc/freepbx.conf").write_text("<?php\n// FreePBX bootstrap (marker for the installer)\n")
        # FreePBX's sounds live under /var/lib/asterisk/sounds/<language>.
        language = root / "var/lib/asterisk/sounds/en"
        if language.is_symlink() or language.exists():
            shutil.rmtree(language) if language.is_dir() and not language.is_symlink() else language.unlink()
        language.mkdir(parents=True)
        for entry in sorted((root / "usr/share/asterisk/sounds/en_US_f_Allison").iterdir()):
            (language / entry.name).symlink_to("../../../../../usr/share/asterisk/sounds/en_US_f_Allison/" + entry.name)
        # The rest of the data dir (XML docs, keys, ...) where astdatadir now says.
        for entry in sorted((root / "usr/share/asterisk").iterdir()):
            link = root / "var/lib/asterisk" / entry.name
            if entry.name not in ("sounds", "agi-bin") and not os.path.lexists(link):
                link.symlink_to("../../../usr/share/asterisk/" + entry.name)
        # Asterisk's own files belong to its user, as on FreePBX.
        for relative in ("etc/asterisk", "var/log/asterisk", "var/spool/asterisk", "var/cache/asterisk", "run/asterisk"):
            subprocess.run(["chown", "-R", f"{ASTERISK_UID}:{ASTERISK_GID}", str(root / relative)], check=True)
        for relative in ("var/lib/asterisk", AGI_DIR.lstrip("/"), "var/lib/asterisk/sounds", "var/lib/asterisk/sounds/en"):
            os.chown(root / relative, ASTERISK_UID, ASTERISK_GID)
        # An interpreter under /root (pyenv) must be reachable by the asterisk user, as a PBX's
        # /opt/itflow-bridge/venv is: let it traverse the tree's /root (never list it).
        if Path(os.path.realpath(sys.executable)).is_relative_to("/root"):
            os.chmod(root / "root", 0o711)
        for leftover in (root / "var/lib/asterisk").glob("astdb*"):
            leftover.unlink()
        self._log_path.unlink(missing_ok=True)

    def _boot(self) -> None:
        """As the harness boots, minus ``-U root``: Asterisk drops to runuser itself."""
        output = open(self.root / "var/log/asterisk/stdout.log", "wb")
        self._session.callback(output.close)
        self._process = subprocess.Popen(
            ["chroot", str(self.root), "/usr/sbin/asterisk", "-f"],
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=_asterisk_env(),
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stdout = (self.root / "var/log/asterisk/stdout.log").read_text(errors="replace")
                raise RuntimeError(f"Asterisk exited with {self._process.returncode}:\n{stdout}\n{self._log_tail()}")
            try:
                self.cli("core waitfullybooted")
                return
            except RuntimeError:
                time.sleep(0.1)
        raise RuntimeError(f"Asterisk did not boot; log:\n{self._log_tail()}")

    def mount_python(self) -> None:
        """This interpreter, venv and checkout at the same paths inside (read-only), as on the PBX."""
        for source in _python_mount_sources(self.root):
            self._mount(source, source=source, read_only=True)

    def asterisk_uid(self) -> int:
        return int(subprocess.run(["chroot", str(self.root), "sh", "-c", "ps -o uid= -C asterisk || true"],
                                  capture_output=True, text=True).stdout.split()[0]) if shutil.which("ps") else -1


@pytest.fixture(scope="module")
def pbx(e2e_privileges) -> Iterator[FreePBXLikeAsterisk]:
    base = ensure_root()
    scratch = Path(tempfile.mkdtemp(prefix="itflow-install-e2e-", dir="/var/tmp"))
    merged = scratch / "root"
    for name in ("upper", "work", "root"):
        (scratch / name).mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={base},upperdir={scratch / 'upper'},workdir={scratch / 'work'}", str(merged)],
                   check=True)
    harness = FreePBXLikeAsterisk(merged)
    try:
        harness.start()
        harness.mount_python()
        yield harness
    finally:
        harness.stop()
        _unmount(merged)
        if not any(line.split()[4] == str(merged) for line in open("/proc/self/mountinfo")):
            subprocess.run(["rm", "-rf", "--one-file-system", str(scratch)], check=False)


def _unmount(path: Path) -> None:
    """The overlay stays busy for a moment after Asterisk exits: retry, then detach it lazily."""
    deadline = time.monotonic() + 5
    while subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            subprocess.run(["umount", "-l", str(path)], check=False)
            return
        time.sleep(0.2)


# --- helpers -----------------------------------------------------------------------------


def snapshot(root: Path, skip_cache_data: bool = False) -> Dict[str, Tuple]:
    """path -> (type, mode, uid, gid, sha256 of the bytes or link target) for what install may touch."""
    found: Dict[str, Tuple] = {}
    for top in SNAPSHOT_DIRS:
        for directory, dirs, files in os.walk(root / top):
            relative_dir = os.path.relpath(directory, root)
            dirs[:] = [d for d in dirs if not os.path.join(relative_dir, d).startswith(SNAPSHOT_SKIP)]
            for name in dirs + files:
                path = Path(directory) / name
                relative = os.path.relpath(path, root)
                if relative.startswith(SNAPSHOT_SKIP):
                    continue
                info = path.lstat()
                if stat.S_ISLNK(info.st_mode):
                    digest = os.readlink(path)
                elif stat.S_ISREG(info.st_mode):
                    digest = "" if skip_cache_data and relative.startswith(CACHE[1:] + "/") else \
                        hashlib.sha256(path.read_bytes()).hexdigest()
                else:
                    digest = ""
                if skip_cache_data and relative.startswith(CACHE[1:] + "/"):
                    continue  # the cache's own files come and go with calls (-wal, -shm)
                found[relative] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid,
                                   digest)
    return found


def differences(before: Dict[str, Tuple], after: Dict[str, Tuple]) -> List[str]:
    return sorted(
        [f"added {p}" for p in after.keys() - before.keys()]
        + [f"removed {p}" for p in before.keys() - after.keys()]
        + [f"changed {p}: {before[p]} -> {after[p]}" for p in before.keys() & after.keys() if before[p] != after[p]]
    )


class UnitDaemon:
    """The FastAGI daemon as the installed unit runs it: its User/Group, Environment and ExecStart, in the tree."""

    def __init__(self, root: Path, log_path: Path) -> None:
        unit = (root / UNIT.lstrip("/")).read_text()
        settings = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
        assert settings["User"] == "asterisk" and settings["Group"] == "asterisk"
        env_name, env_value = settings["Environment"].split("=", 1)
        command = shlex.split(settings["ExecStart"])
        self.log_path = log_path
        with open(log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                ["chroot", f"--userspec={ASTERISK_UID}:{ASTERISK_GID}", "--groups=", str(root),
                 "/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "LANG=C.UTF-8", f"{env_name}={env_value}", *command],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + DAEMON_BOOT_TIMEOUT
        while "FastAGI listening on" not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.05)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def source_of(result) -> str:
    ((source, _ms),) = LOOKUP_LINE.findall(result.log)
    return source


def as_asterisk(root: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["chroot", f"--userspec={ASTERISK_UID}:{ASTERISK_GID}", "--groups=", str(root), "/usr/bin/env", "-i",
         "PATH=/usr/bin:/bin", "LANG=C.UTF-8", f"ITFLOW_BRIDGE_CONFIG={CONFIG}", *command],
        capture_output=True, text=True, timeout=60)


# --- the test ---------------------------------------------------------------------------------


def test_install_dry_run_calls_reinstall_and_uninstall(pbx, fake, tmp_path) -> None:
    root = pbx.root
    key = fake.api_key
    port = free_port()
    assert "asterisk" in (root / "etc/asterisk/asterisk.conf").read_text()
    original = snapshot(root)

    # A dry run says everything it would do and changes nothing.
    dry = install(root, "--url", fake.url, "--api-key", key, "--port", str(port), "--dry-run")
    assert differences(original, snapshot(root)) == []
    assert "FreePBX under" in dry.stdout and "runs as asterisk:asterisk" in dry.stdout
    for path in (CONFIG, CACHE, AGI_DIR + "/itflow-cid.agi", "/etc/asterisk/extensions_itflow.conf",
                 "/etc/asterisk/extensions_custom.conf", "/etc/asterisk/globals_custom.conf", UNIT):
        assert path in dry.stdout, path
    assert "[ok] API key" in dry.stdout
    assert key not in dry.stdout + dry.stderr

    # Install.
    first = install(root, "--url", fake.url, "--api-key", key, "--port", str(port))
    output = first.stdout + first.stderr
    assert key not in output
    assert "[ok] API key" in output and "[FAIL]" not in output
    assert "dialplan reloaded" in output, output
    assert "systemd is not running here" in output
    assert "Custom Destinations" in output
    etc = root / "etc/asterisk"
    assert (etc / "extensions_custom.conf").read_bytes() == CUSTOM + (
        b"; itflow-bridge: caller-ID names and the balance IVR from ITFlow (itflow-bridge install)\n"
        b"#include extensions_itflow.conf\n")
    assert (etc / "globals_custom.conf").read_bytes() == GLOBALS + b"ITFLOW_AGI=agi://127.0.0.1:%d\n" % port
    shipped = Path(__file__).resolve().parents[2] / "asterisk-conf/extensions_itflow.conf"
    assert (etc / "extensions_itflow.conf").read_bytes() == shipped.read_bytes()
    expected = {  # path -> (uid, gid, mode)
        "/etc/itflow-bridge": (0, ASTERISK_GID, 0o750),
        CONFIG: (0, ASTERISK_GID, 0o640),
        CACHE: (ASTERISK_UID, ASTERISK_GID, 0o2770),
        AGI_DIR + "/itflow-cid.agi": (ASTERISK_UID, ASTERISK_GID, 0o755),
        AGI_DIR + "/itflow-balance.agi": (ASTERISK_UID, ASTERISK_GID, 0o755),
        "/var/lib/asterisk/sounds/en/itflow": (ASTERISK_UID, ASTERISK_GID, 0o755),
        "/var/lib/asterisk/sounds/en/itflow/your-balance-is.gsm": (ASTERISK_UID, ASTERISK_GID, 0o644),
        "/etc/asterisk/extensions_itflow.conf": (ASTERISK_UID, ASTERISK_GID, 0o644),
        "/etc/asterisk/extensions_custom.conf": (ASTERISK_UID, ASTERISK_GID, 0o644),
        "/etc/asterisk/globals_custom.conf": (ASTERISK_UID, ASTERISK_GID, 0o644),
        UNIT: (0, 0, 0o644),
        "/var/lib/itflow-bridge/install-manifest.json": (0, 0, 0o600),
    }
    for path, wanted in expected.items():
        info = (root / path.lstrip("/")).stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == wanted, path
    assert (root / AGI_DIR.lstrip("/") / "itflow-cid.agi").read_text().startswith("#!%s " % sys.executable)  # -S: see wrapper.py
    assert "itflow-cid" in pbx.cli("dialplan show itflow-cid")
    assert f"agi://127.0.0.1:{port}" in pbx.cli("dialplan show globals")
    installed = snapshot(root, skip_cache_data=True)

    # A second install (as after an upgrade) keeps the config and changes nothing.
    second = install(root)
    assert "nothing to change" in second.stdout, second.stdout
    assert differences(installed, snapshot(root, skip_cache_data=True)) == []

    # This test is about one cache shared by the daemon and the scripts: no local directory to answer first.
    config = root / CONFIG.lstrip("/")
    config.write_text(config.read_text().replace("\nsync_interval = 900\n", "\nsync_interval = 0\n"))

    # FastAGI: the daemon as the unit runs it, reached through ITFLOW_AGI from globals_custom.conf.
    daemon = UnitDaemon(root, tmp_path / "daemon.log")
    try:
        call = pbx.call("cid", caller_num="+15551234567", caller_name="WIRELESS CALLER", agi_base="", timeout=20)
        assert call.vars["ITFLOW_CID_STATUS"] == "FOUND", call.log
        assert call.vars["CALLERID_NAME"] == "Acme Corp - John Smith"
        assert source_of(call) == "itflow"
        assert f"agi://127.0.0.1:{port}/itflow-cid.agi" in call.log
    finally:
        daemon.stop()
    daemon_log = daemon.output()
    assert "Traceback" not in daemon_log and key not in daemon_log
    assert "persistent cache" not in daemon_log, daemon_log  # no "unusable"/"failed": it wrote root's file

    # Classic: switch the transport; the global now points at agi-bin, the unit is gone.
    third = install(root, "--transport", "classic")
    assert (etc / "globals_custom.conf").read_bytes() == GLOBALS + AGI_DIR.encode() .join([b"ITFLOW_AGI=", b"\n"])
    assert not (root / UNIT.lstrip("/")).exists()
    assert "dialplan reloaded" in third.stdout
    stdout_start = (root / "var/log/asterisk/stdout.log").stat().st_size
    cached = pbx.call("cid", caller_num="+15551234567", caller_name="WIRELESS CALLER", agi_base="", timeout=20)
    assert cached.vars["ITFLOW_CID_STATUS"] == "FOUND", cached.log
    assert f"{AGI_DIR}/itflow-cid.agi" in cached.log and "agi://" not in cached.log, cached.log
    assert source_of(cached) == "cache", cached.log  # the answer the daemon (asterisk) cached
    fresh = pbx.call("cid", caller_num="5559876543", caller_name="WIRELESS CALLER", agi_base="", timeout=20)
    assert fresh.vars["ITFLOW_CID_STATUS"] == "FOUND", fresh.log
    assert fresh.vars["CALLERID_NAME"] == "Acme Corp - Jane Doe"
    assert source_of(fresh) == "itflow"
    script_output = (root / "var/log/asterisk/stdout.log").read_bytes()[stdout_start:].decode(errors="replace")
    assert "persistent cache" not in script_output and "Traceback" not in script_output, script_output

    # One cache: created by root (check), written by the daemon and the scripts as asterisk.
    cache = root / CACHE.lstrip("/")
    database = cache / "itflow-bridge-cache.sqlite3"
    assert database.stat().st_uid == 0, "the first writer was install's check, as root"
    for path in cache.iterdir():
        info = path.stat()
        assert info.st_gid == ASTERISK_GID and info.st_mode & 0o660 == 0o660, (path, oct(info.st_mode))
    with sqlite3.connect(database) as db:
        keys = [row[0] for row in db.execute("SELECT key FROM entries")]
    assert any("5551234567" in k for k in keys) and any("5559876543" in k for k in keys), keys
    checked = as_asterisk(root, sys.executable, "-m", "itflow_bridge.cli", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "[ok] cache: persistent cache" in checked.stdout, checked.stdout

    # Uninstall: every edited file back byte for byte, everything added gone.
    removed = install(root, "--uninstall")
    assert "restore /etc/asterisk/extensions_custom.conf" in removed.stdout
    assert differences(original, snapshot(root)) == []
    assert "There is no existence of 'itflow-cid' context" in pbx.cli("dialplan show itflow-cid")
