"""Where things are on this PBX: Asterisk's directories and user, FreePBX or not.

Everything is read from the target system, which is ``/`` on a PBX or any
directory holding a whole system tree (``--prefix``, e.g. a chroot): paths are
kept as the PBX sees them and resolved inside the prefix only to read or write
them (absolute symlinks inside the tree point into the tree, not to the host).
Users and groups come from the tree's own ``/etc/passwd`` and ``/etc/group``
when it is not ``/``.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Tuple

from ..core.errors import ConfigError

ASTERISK_CONF = "asterisk.conf"
DEFAULT_ETC = "/etc/asterisk"
DEFAULT_VARLIB = "/var/lib/asterisk"
DEFAULT_RUN = "/var/run/asterisk"
FREEPBX_CONF = "/etc/freepbx.conf"
FWCONSOLE_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin",
                  "/var/lib/asterisk/bin")
ASTERISK_BINARIES = ("/usr/sbin/asterisk", "/usr/bin/asterisk", "/usr/local/sbin/asterisk", "/sbin/asterisk")
_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(\(([^)]*)\))?")


@dataclass(frozen=True)
class Account:
    user: str
    group: str
    uid: int
    gid: int


@dataclass(frozen=True)
class Layout:
    """The target PBX, its paths as the PBX sees them (``host()`` maps one into the prefix)."""

    root: Path
    freepbx: bool
    asterisk_etc: str
    agi_dir: str
    sounds_dir: str
    run_dir: str
    account: Account
    fwconsole: Optional[str]
    asterisk_binary: Optional[str]

    def host(self, path: str) -> Path:
        return resolve_in(self.root, path)

    @property
    def is_live(self) -> bool:
        """The running system itself (not a tree under a prefix)."""
        return str(self.root) == "/"

    @property
    def asterisk_running(self) -> bool:
        return self.host(self.run_dir + "/asterisk.ctl").exists()

    def run(self, command: List[str], timeout: float = 300.0) -> Tuple[bool, str]:
        """Run a PBX command (``asterisk -rx ...``, ``fwconsole``) on the target: in its tree when it is
        not this system.  Answers (ok, what it printed); ok is False when Asterisk could not be reached."""
        if not self.is_live:
            command = ["chroot", str(self.root)] + command
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
        output = (result.stdout + result.stderr).strip()
        return result.returncode == 0 and "Unable to connect" not in output, output

    def describe(self) -> str:
        kind = "FreePBX" if self.freepbx else "plain Asterisk"
        where = "" if self.is_live else " under %s" % self.root
        return ("%s%s: config %s, agi-bin %s, sounds %s, runs as %s:%s"
                % (kind, where, self.asterisk_etc, self.agi_dir, self.sounds_dir,
                   self.account.user, self.account.group))


def resolve_in(root: Path, path: str) -> Path:
    """``path`` (absolute, as the target sees it) inside ``root``, symlinks followed as the target sees them."""
    if str(root) == "/":
        return Path(path)
    current = PurePosixPath("/")
    for part in PurePosixPath(path).parts[1:]:
        candidate = current / part
        for _ in range(40):
            inside = root / str(candidate).lstrip("/")
            if not inside.is_symlink():
                break
            target = PurePosixPath(os.readlink(inside))
            joined = target if target.is_absolute() else candidate.parent / target
            candidate = PurePosixPath(os.path.normpath(str(joined)))
        current = candidate
    return root / str(current).lstrip("/")


def read_asterisk_conf(text: str) -> Dict[str, Dict[str, str]]:
    """``[section]`` -> key -> value of an Asterisk config file; templates (``(!)``) are skipped."""
    sections: Dict[str, Dict[str, str]] = {}
    current: Optional[Dict[str, str]] = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        header = _SECTION.match(line)
        if header:
            template = "!" in (header.group(3) or "")
            current = None if template else sections.setdefault(header.group(1).strip().lower(), {})
            continue
        if current is None:
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key.strip().lower()] = value.lstrip(">").strip()
    return sections


def detect(root: Path, *, asterisk_etc: Optional[str] = None, agi_dir: Optional[str] = None,
           sounds_dir: Optional[str] = None, user: Optional[str] = None, group: Optional[str] = None,
           freepbx: Optional[bool] = None) -> Layout:
    """The layout of the target under ``root``; each argument given wins over what is detected."""
    root = Path(os.path.abspath(root))
    etc = asterisk_etc or DEFAULT_ETC
    conf_path = resolve_in(root, etc + "/" + ASTERISK_CONF)
    conf: Dict[str, Dict[str, str]] = {}
    if conf_path.is_file():
        conf = read_asterisk_conf(conf_path.read_text(encoding="utf-8", errors="replace"))
    elif asterisk_etc is None and not resolve_in(root, etc).is_dir():
        raise ConfigError("no Asterisk configuration in %s: is Asterisk installed? (or pass --asterisk-etc)"
                          % resolve_in(root, etc))
    directories = conf.get("directories", {})
    options = conf.get("options", {})
    etc = asterisk_etc or directories.get("astetcdir") or etc
    varlib = directories.get("astvarlibdir") or DEFAULT_VARLIB
    datadir = directories.get("astdatadir") or _default_datadir(root, varlib)
    agi = agi_dir or directories.get("astagidir") or datadir + "/agi-bin"
    sounds = sounds_dir or datadir + "/sounds"
    run_dir = directories.get("astrundir") or DEFAULT_RUN
    account = _account(root, user or options.get("runuser"), group or options.get("rungroup"), agi)
    fwconsole = _find(root, "fwconsole", ["%s/fwconsole" % d for d in FWCONSOLE_DIRS])
    if freepbx is None:
        freepbx = fwconsole is not None or resolve_in(root, FREEPBX_CONF).is_file()
    return Layout(root=root, freepbx=freepbx, asterisk_etc=etc, agi_dir=agi, sounds_dir=sounds, run_dir=run_dir,
                  account=account, fwconsole=fwconsole,
                  asterisk_binary=_find(root, "asterisk", list(ASTERISK_BINARIES)))


def _default_datadir(root: Path, varlib: str) -> str:
    """Asterisk's compiled-in data dir: the var-lib dir, or /usr/share/asterisk (Debian's packages)."""
    if not resolve_in(root, varlib + "/sounds").exists() and resolve_in(root, "/usr/share/asterisk/sounds").exists():
        return "/usr/share/asterisk"
    return varlib


def _find(root: Path, program: str, candidates: List[str]) -> Optional[str]:
    """``program`` on PATH (the live system), else the first executable of ``candidates`` in the tree."""
    if str(root) == "/" and shutil.which(program):
        return shutil.which(program)
    for candidate in candidates:
        path = resolve_in(root, candidate)
        if path.is_file() and os.access(path, os.X_OK):
            return candidate
    return None


def _account(root: Path, user: Optional[str], group: Optional[str], agi_dir: str) -> Account:
    users, groups = _accounts(root)
    if not user:
        owner = resolve_in(root, agi_dir)
        if not owner.exists():
            raise ConfigError("cannot tell which user runs Asterisk: asterisk.conf has no runuser and %s is missing; "
                              "pass --user" % agi_dir)
        uid = owner.stat().st_uid
        user = next((name for name, (number, _gid) in users.items() if number == uid), None)
        if user is None:
            raise ConfigError("the owner (uid %d) of %s has no name in /etc/passwd: pass --user" % (uid, agi_dir))
    if user not in users:
        raise ConfigError("no user %r on this system: pass --user (the user Asterisk runs as)" % user)
    uid, primary_gid = users[user]
    if not group:
        group = next((name for name, number in groups.items() if number == primary_gid), None)
        if group is None:
            raise ConfigError("user %s's primary group (gid %d) has no name: pass --group" % (user, primary_gid))
    if group not in groups:
        raise ConfigError("no group %r on this system: pass --group" % group)
    return Account(user=user, group=group, uid=uid, gid=groups[group])


def _accounts(root: Path) -> Tuple[Dict[str, Tuple[int, int]], Dict[str, int]]:
    """name -> (uid, gid) and group name -> gid, of the target system."""
    if str(root) == "/":
        return ({entry.pw_name: (entry.pw_uid, entry.pw_gid) for entry in pwd.getpwall()},
                {entry.gr_name: entry.gr_gid for entry in grp.getgrall()})
    users: Dict[str, Tuple[int, int]] = {}
    groups: Dict[str, int] = {}
    for line in _lines(root / "etc/passwd"):
        fields = line.split(":")
        if len(fields) >= 4 and fields[2].isdigit() and fields[3].isdigit():
            users.setdefault(fields[0], (int(fields[2]), int(fields[3])))
    for line in _lines(root / "etc/group"):
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            groups.setdefault(fields[0], int(fields[2]))
    return users, groups


def _lines(path: Path) -> List[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
