"""The plan/apply engine: desired state in, the changes that reach it out; a manifest to undo them.

The installer describes what it wants (``Want``: a file with its bytes, owner
and mode, or a directory); ``Plan.changes`` compares each with the target and
yields only what differs, so a second run changes nothing and ``--dry-run`` can
print exactly what a real run would do.  Before a file that existed is changed
for the first time, its bytes, owner and mode are copied into the state
directory and the manifest says so; ``uninstall`` puts every such file back
byte for byte and removes everything the installer created.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, List, Optional, TypedDict

from .asterisk_layout import resolve_in

STATE_DIR = "/var/lib/itflow-bridge"
MANIFEST = "install-manifest.json"
BACKUPS = "backup"


class _BeforeBase(TypedDict):
    mode: int
    uid: int
    gid: int


class Before(_BeforeBase, total=False):
    """A path's owner and mode before the first change; a file's also its backup and that backup's hash."""

    backup: str
    sha256: str


class _RecordBase(TypedDict):
    path: str
    kind: str  # "file" or "dir"
    before: Optional[Before]  # None: the installer created the path


class Record(_RecordBase, total=False):
    """One manifest entry: a path the installer changed and how to undo that."""

    purge: bool


class _ManifestBase(TypedDict):
    entries: List[Record]


class Manifest(_ManifestBase, total=False):
    """The install manifest (JSON in the state directory)."""

    transport: str
    version: str
    click_to_call: bool  # the last --click-to-call / --no-click-to-call given, kept for later installs


@dataclass
class Want:
    """``path`` (as the target sees it) should be this file or directory."""

    path: str
    kind: str  # "file" or "dir"
    mode: int
    uid: int
    gid: int
    what: str
    content: Optional[bytes] = None  # files
    secret: bool = False  # never describe the content (the config holds the API key)
    purge: bool = False  # dirs: on uninstall remove whatever is inside (the cache)


@dataclass
class Change:
    description: str
    apply: Callable[[], None]
    want: Optional[Want] = None  # what the change reaches, when it writes one


def owner_mode(uid: int, gid: int, mode: int) -> str:
    return "%d:%d %04o" % (uid, gid, mode)


class Plan:
    def __init__(self, root: Path, names: Callable[[int, int], str], state_dir: str = STATE_DIR) -> None:
        self.root = root
        self._names = names  # (uid, gid) -> "user:group" for messages
        self.state_dir = state_dir
        self.manifest = self._load()
        self._saved = json.dumps(self.manifest, indent=2, sort_keys=True)

    # --- paths and the manifest ------------------------------------------------------

    def host(self, path: str) -> Path:
        return resolve_in(self.root, path)

    @property
    def manifest_path(self) -> Path:
        return self.host(self.state_dir + "/" + MANIFEST)

    def _load(self) -> Manifest:
        try:
            data: Manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {"entries": []}
        data.setdefault("entries", [])
        return data

    @property
    def installed(self) -> bool:
        return bool(self.manifest["entries"])

    def entry(self, path: str) -> Optional[Record]:
        return next((item for item in self.manifest["entries"] if item["path"] == path), None)

    def save(self) -> bool:
        """Write the manifest if it changed (root only, 0600); True when written."""
        text = json.dumps(self.manifest, indent=2, sort_keys=True)
        if text == self._saved:
            return False
        state = self.host(self.state_dir)
        state.mkdir(parents=True, exist_ok=True)
        state.chmod(0o700)
        _atomic_write(self.manifest_path, (text + "\n").encode(), 0o600, 0, 0)
        self._saved = text
        return True

    # --- from wants to changes -----------------------------------------------------------

    def changes(self, wants: Iterable[Want]) -> List[Change]:
        result = []
        for want in wants:
            change = self._change(want)
            if change is not None:
                result.append(change)
        return result

    def _change(self, want: Want) -> Optional[Change]:
        path = self.host(want.path)
        exists = os.path.lexists(path)
        current = os.lstat(path) if exists else None
        who = "%s %04o" % (self._names(want.uid, want.gid), want.mode)
        if want.kind == "dir":
            if current is not None and stat.S_ISDIR(current.st_mode):
                if _same_owner_mode(current, want):
                    return None
                verb = "set owner/mode of directory"
            else:
                verb = "create directory"
        else:
            same_bytes = current is not None and stat.S_ISREG(current.st_mode) and path.read_bytes() == want.content
            if same_bytes and current is not None and _same_owner_mode(current, want):
                return None
            verb = "set owner/mode of" if same_bytes else ("update" if current is not None else "create")
        description = "%s %s (%s): %s" % (verb, want.path, who, want.what)
        return Change(description, lambda: self._apply(want), want)

    def bookkeeping(self, changes: List[Change]) -> List[str]:
        """What applying ``changes`` writes besides their own paths: the missing parent directories, a
        backup of each file changed for the first time, the manifest (for ``--dry-run`` to list)."""
        wants = [change.want for change in changes if change.want is not None]
        own = {want.path for want in wants}
        lines: List[str] = []
        listed = set()
        for want in wants:
            missing = []
            parent = os.path.dirname(want.path)
            while parent not in ("/", "") and not self.host(parent).exists():
                if parent not in own and parent not in listed:
                    missing.append(parent)
                    listed.add(parent)
                parent = os.path.dirname(parent)
            lines += ["create directory %s (root:root 0755): holds %s" % (directory, want.path)
                      for directory in reversed(missing)]
        for want in wants:
            if want.kind == "file" and self.entry(want.path) is None and os.path.lexists(self.host(want.path)):
                lines.append("copy %s to %s (root:root 0600): the original, for uninstall"
                             % (want.path, self.state_dir + "/" + BACKUPS + want.path))
        if changes:
            verb = "update" if self.manifest_path.exists() else "create"
            lines.append("%s %s (root:root 0600): what install changed, for uninstall" % (
                verb, self.state_dir + "/" + MANIFEST))
        return lines

    def _apply(self, want: Want) -> None:
        path = self.host(want.path)
        self._make_parents(want.path)
        if self.entry(want.path) is None:
            self.manifest["entries"].append(self._record(want))
        if want.kind == "dir":
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, want.uid, want.gid)
            os.chmod(path, want.mode)  # after chown, which clears set-id bits
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, want.content or b"", want.mode, want.uid, want.gid)
        self.save()

    def _make_parents(self, path: str) -> None:
        """Create missing parent directories (0755 root), each recorded so that uninstall removes it."""
        missing: List[str] = []
        parent = os.path.dirname(path)
        while parent not in ("/", "") and not self.host(parent).exists():
            missing.append(parent)
            parent = os.path.dirname(parent)
        for directory in reversed(missing):
            self.manifest["entries"].append({"path": directory, "kind": "dir", "before": None, "purge": False})
            self.host(directory).mkdir()
            os.chmod(self.host(directory), 0o755)

    def _record(self, want: Want) -> Record:
        """What to undo: nothing existed (remove it), or what it was (restore it)."""
        path = self.host(want.path)
        record: Record = {"path": want.path, "kind": want.kind, "before": None, "purge": want.purge}
        if os.path.lexists(path):
            info = os.lstat(path)
            before: Before = {"mode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid}
            if want.kind == "file":
                backup = self.state_dir + "/" + BACKUPS + want.path
                host_backup = self.host(backup)
                host_backup.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(self.host(self.state_dir), 0o700)
                data = path.read_bytes()
                _atomic_write(host_backup, data, 0o600, 0, 0)
                before["backup"] = backup
                before["sha256"] = hashlib.sha256(data).hexdigest()
            record["before"] = before
        return record

    # --- undoing -----------------------------------------------------------------------

    def undo_changes(self, keep: Callable[[Record], bool] = lambda record: False) -> List[Change]:
        """Changes that put back every recorded path except those ``keep`` selects, newest first."""
        return [self._undo(record) for record in reversed(self.manifest["entries"]) if not keep(record)]

    def _undo(self, record: Record) -> Change:
        before = record["before"]
        if before is None:
            verb = "remove directory" if record["kind"] == "dir" else "remove"
            if record["kind"] == "dir" and record.get("purge"):
                verb += " and its contents"
            description = "%s %s" % (verb, record["path"])
        elif record["kind"] == "dir":
            description = "restore owner/mode of %s (%s)" % (
                record["path"], owner_mode(before["uid"], before["gid"], before["mode"]))
        else:
            description = "restore %s from its backup (byte for byte, %s)" % (
                record["path"], owner_mode(before["uid"], before["gid"], before["mode"]))
        return Change(description, lambda: self._restore(record))

    def _restore(self, record: Record) -> None:
        path = self.host(record["path"])
        before = record["before"]
        if before is None:
            if record["kind"] == "dir":
                if record.get("purge"):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    try:
                        path.rmdir()
                    except FileNotFoundError:
                        pass
                    except OSError:
                        print("itflow-bridge: kept %s: it holds files the installer did not put there" % record["path"])
            elif os.path.lexists(path):
                path.unlink()
        elif record["kind"] == "dir":
            if path.is_dir():
                os.chown(path, before["uid"], before["gid"])
                os.chmod(path, before["mode"])
        else:
            backup = self.host(before["backup"])
            _atomic_write(path, backup.read_bytes(), before["mode"], before["uid"], before["gid"])
            backup.unlink()
        self.manifest["entries"] = [item for item in self.manifest["entries"] if item["path"] != record["path"]]
        self.save()

    def state_description(self) -> str:
        """What ``forget_state`` removes, for ``--dry-run`` to list."""
        return "remove %s/%s and the rest of %s (the manifest and backups)" % (self.state_dir, MANIFEST, self.state_dir)

    def forget_state(self) -> None:
        """After an uninstall: remove the manifest, the backups left and the state directory."""
        shutil.rmtree(self.host(self.state_dir), ignore_errors=True)
        self.manifest = {"entries": []}
        self._saved = json.dumps(self.manifest, indent=2, sort_keys=True)


def _same_owner_mode(info: os.stat_result, want: Want) -> bool:
    return (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (want.uid, want.gid, want.mode)


def _atomic_write(path: Path, data: bytes, mode: int, uid: int, gid: int) -> None:
    """Replace ``path`` with ``data`` in one step (a reader sees the old or the new file, never half)."""
    partial = path.with_name(".%s.itflow-bridge-partial" % path.name)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        try:
            partial.unlink()
        except OSError:
            pass
        raise


