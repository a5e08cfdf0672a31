"""The cache directory: every store in it, one mode policy, one atomic writer.

Several processes share the directory: the daemon and the sync timer as the
Asterisk user (systemd units with ``UMask=0007`` and ``RestrictSUIDSGID=yes``),
a classic script as whatever user Asterisk runs it as, ``check`` and
``install`` as root.  The installer makes the directory the Asterisk user's,
``CACHE_DIR_MODE`` 2770 (setgid: whatever is created inside gets its group).

The stores, in the order a caller-ID answer is looked for (file; what it holds;
who writes it; when it is no longer used):

1. ``answers/<crc><adler>`` (``ANSWERS``, ``answer_book``): the classic fast
   path's lines for every form of every synced number; written by ``sync``
   right after the directory; misses once the directory file or the
   configuration changed (checked on every read).
2. ``replay/<crc><adler>`` (``REPLAY``, ``replay``): the lines of one fresh
   answer, for the next identical classic call; written by a classic call's
   full path; misses once its freshness ends or the call's inputs or the
   configuration changed.
3. ``directory-<identity>.sqlite3`` (``DIRECTORY_*``, ``directory_file``): the
   local directory of one ITFlow site, API generation and key; written by
   ``sync`` (daemon or timer), replaced whole by the next one.
4. ``itflow-bridge-cache.sqlite3`` and its -wal/-shm (``CACHE_DB``, ``cache``):
   names and misses ITFlow answered, cool-downs, the detected API; written by
   every lookup that asked ITFlow; each entry until its ttl, and only for the
   identity it was stored under.

then ITFlow itself.  The first two are read by the classic fast path only
(standard library, no sqlite); the daemon starts at the directory.

Beside them, two stores that are no cache: ``itflow-bridge-outbox.sqlite3``
and its -wal/-shm/.lock (``OUTBOX_DB``, ``calls.outbox``): the writes to ITFlow
that calls made (tickets, replies), each kept until ITFlow has it; written
by the call-events process before each request; never to be deleted while
entries are pending.  And ``itflow-bridge-voicemail-links.sqlite3`` and its
-wal/-shm (``VOICEMAIL_LINKS_DB``, ``calls.voicemail_links``): the hashes of
the tokens in tickets' voicemail links; written by the call-events process,
read by the daemon's HTTP server; each row until its link expires.  Deleting
it breaks every link already in a ticket.

And ``itflow-bridge-agents.sqlite3`` and its -wal/-shm (``AGENTS_DB``,
``screen.tokens``): the links of the agents' pages, as sha256 hashes of their
tokens; written by ``agent-link``, read by the daemon's HTTP server; deleting it
ends every link.

And ``itflow-bridge-todays-calls.sqlite3`` and its -wal/-shm
(``TODAYS_CALLS_DB``, ``screen.todays_calls``): each extension's calls of today
as its page shows them; written and read by the daemon, so a restarted daemon
still lists them; rows of earlier days are pruned; deleting it empties the
pages' lists of today.

Modes: every file is ``FILE_MODE`` (0660) whoever creates it and whatever
the umask, and of the directory's group (root chowns it, as root's files would
otherwise be root's group).  A folder is created 0770 and takes its group and
setgid bit from the parent, with no chmod: the hardened units refuse any
chmod naming a set-id bit (EPERM), and their umask 0007 leaves the group's
bits anyway.  Only when a looser umask took the group's bits (a classic script,
a shell) does the folder get them back, its setgid bit kept as it came.

Standard library only (``os``, ``time``): the classic fast path loads it.
"""

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path
    from typing import Callable, Iterable, List, Optional, Sequence, Tuple

CACHE_DIR_MODE = 0o2770  # set by ``install`` (as root): setgid, so everything inside is the group's
FILE_MODE = 0o660
FOLDER_MODE = 0o770
ANSWERS = "answers"
REPLAY = "replay"
DIRECTORY_PREFIX = "directory-"
DIRECTORY_SUFFIX = ".sqlite3"
CACHE_DB = "itflow-bridge-cache.sqlite3"
CACHE_DB_FILES = (CACHE_DB, CACHE_DB + "-wal", CACHE_DB + "-shm")
OUTBOX_DB = "itflow-bridge-outbox.sqlite3"
OUTBOX_LOCK = ".lock"  # beside the outbox: held by the one process delivering it
OUTBOX_DB_FILES = (OUTBOX_DB, OUTBOX_DB + "-wal", OUTBOX_DB + "-shm", OUTBOX_DB + OUTBOX_LOCK)
VOICEMAIL_LINKS_DB = "itflow-bridge-voicemail-links.sqlite3"
AGENTS_DB = "itflow-bridge-agents.sqlite3"
TODAYS_CALLS_DB = "itflow-bridge-todays-calls.sqlite3"
TEMPORARY_SUFFIX = ".tmp"
# Nothing else is ever sent to Asterisk from a file of the cache: a variable assignment cannot run anything.
REPLAYABLE = "SET VARIABLE "

def replayable(lines: "Iterable[str]") -> "List[str]":
    """The lines a store may keep: single-line variable assignments, nothing else."""
    return [line for line in lines if line.startswith(REPLAYABLE) and "\n" not in line]


def shared_folder(folder: str) -> None:
    """Create ``folder`` if missing, read-write for the group; never chmods a setgid bit (see above)."""
    try:
        os.mkdir(folder, FOLDER_MODE)
    except FileExistsError:
        return
    mode = os.stat(folder).st_mode
    if mode & 0o070 != 0o070:  # a umask took the group's bits: give them back, setgid as it came
        os.chmod(folder, (mode & 0o7777) | 0o070)


def create_file(path: str, flags: int = 0) -> int:
    """Open a new file ``path`` (``O_EXCL``): ``FILE_MODE`` whatever the umask, group of its folder."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | flags, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # root's files would be root's group otherwise
            os.fchown(descriptor, -1, os.stat(os.path.dirname(path) or ".").st_gid)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def create_shared_file(path: str) -> None:
    """Create ``path`` empty if it is missing (sqlite then opens it), with the policy's mode and group."""
    try:
        os.close(create_file(path))
    except FileExistsError:
        return


def open_durable_store(path: "Path", schema: str) -> "sqlite3.Connection":
    """The call subsystem's sqlite stores (outbox, call log, links): shared by the processes of the
    cache directory (the policy's mode and group), WAL, and ``synchronous = FULL``, so a committed row
    survives a power cut (a write is on disk before the request that relies on it).  One connection
    usable from several threads, each statement its own transaction; callers serialise their use."""
    import sqlite3  # here: the classic fast path imports this module and never sqlite

    path.parent.mkdir(parents=True, exist_ok=True)
    create_shared_file(str(path))
    db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.executescript(schema)
    return db


class WriteTransaction:
    """``with WriteTransaction(db):`` one ``BEGIN IMMEDIATE`` ... ``COMMIT`` on a store of
    ``open_durable_store`` (the write lock taken first, so another process cannot slip in between);
    rolled back when the body raises.  A class: the classic fast path imports this module, not contextlib."""

    def __init__(self, db: "sqlite3.Connection") -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *exc_info: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            self.db.execute("ROLLBACK")


def temporary_for(target: str) -> "Tuple[str, int]":
    """A new temporary file beside ``target`` (its name ends ``.tmp``, so sweeps know it) and its descriptor."""
    while True:
        path = "%s.%d.%s%s" % (target, os.getpid(), os.urandom(4).hex(), TEMPORARY_SUFFIX)
        try:
            return path, create_file(path)
        except FileExistsError:
            continue


def install_file(temporary: str, target: str, durable: bool) -> None:
    """Put the finished ``temporary`` in place of ``target`` in one step (a reader sees one or the other).

    ``durable``: fsync the file before the rename and the folder after, so a
    power cut leaves the old file or the whole new one, never an empty one
    under the final name.
    """
    if durable:
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    os.replace(temporary, target)
    if durable:
        _fsync_folder(os.path.dirname(target) or ".")


def write_atomically(target: str, parts: "Iterable[bytes]", durable: bool = True) -> None:
    """Replace ``target`` with ``parts`` in one step, with the policy's mode and group.

    fsync policy: ``durable`` (the default, for the local directory and the
    answer book, which a sync writes once and every call then reads) fsyncs
    the file and its folder (``install_file``).  The replay store passes
    False: it is written on a call's own time, a file lives a freshness window
    at most, and a file a crash left torn fails its header and key check and
    simply misses.
    """
    temporary, descriptor = temporary_for(target)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for part in parts:
                handle.write(part)
        install_file(temporary, target, durable)
    except BaseException:
        remove_quietly(temporary)
        raise


def remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_folder(folder: str) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some filesystems cannot fsync a folder; the rename itself is still atomic
    finally:
        os.close(descriptor)


def store_paths(cache_dir: str) -> "List[Tuple[str, str]]":
    """(store, path) of every store of ``cache_dir``, in lookup order; a directory file per synced identity."""
    try:
        names = sorted(os.listdir(cache_dir))
    except OSError:
        names = []
    directories = [("local directory", os.path.join(cache_dir, name)) for name in names
                   if name.startswith(DIRECTORY_PREFIX) and name.endswith(DIRECTORY_SUFFIX)]
    return ([("answer book", os.path.join(cache_dir, ANSWERS)), ("replay", os.path.join(cache_dir, REPLAY))]
            + (directories or [("local directory", os.path.join(cache_dir, DIRECTORY_PREFIX + "*" + DIRECTORY_SUFFIX))])
            + [("lookup cache", os.path.join(cache_dir, CACHE_DB))])


def cache_files(cache_dir: str) -> "List[str]":
    """Every regular file the stores keep in ``cache_dir`` and its store folders (not the temporaries)."""
    files: "List[str]" = []
    for folder in (cache_dir, os.path.join(cache_dir, ANSWERS), os.path.join(cache_dir, REPLAY)):
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        files += [entry.path for entry in entries
                  if entry.is_file(follow_symlinks=False) and not entry.name.endswith(TEMPORARY_SUFFIX)]
    return files



def write_problem(directory: str, names: "Sequence[str]" = ()) -> "Optional[str]":
    """Why the current user cannot use ``directory`` (and the files ``names`` in it) read-write, or None."""
    if not os.path.exists(directory):
        return "%s does not exist" % directory
    if not os.path.isdir(directory):
        return "%s is not a directory" % directory
    if not os.access(directory, os.W_OK | os.X_OK):
        return "%s is not writable by %s" % (directory, current_user())
    for name in names:
        path = os.path.join(directory, name)
        if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
            return "%s is not writable by %s" % (path, current_user())
    return None


def current_user() -> str:
    import getpass  # only ``check`` asks

    try:
        return "user %s" % getpass.getuser()
    except (KeyError, OSError):
        return "uid %d" % os.getuid()


def sweep(folder: str, outdated: "Callable[[bytes], bool]", head_bytes: int, *, temporary_age: float,
          keep: str = "", now: "Optional[float]" = None) -> int:
    """Remove the files of ``folder`` whose first ``head_bytes`` are ``outdated`` (or unreadable), and
    temporaries (``*.tmp``) older than ``temporary_age`` seconds; ``keep`` is spared.  Returns how many."""
    now = time.time() if now is None else now
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        path = os.path.join(folder, name)
        if path == keep:
            continue
        try:
            if name.endswith(TEMPORARY_SUFFIX):  # another writer's, unless left behind long ago
                stale = os.stat(path).st_mtime < now - temporary_age
            else:
                with open(path, "rb") as handle:
                    stale = outdated(handle.read(head_bytes))
            if stale:
                os.unlink(path)
                removed += 1
        except (OSError, ValueError):
            continue
    return removed


def files_off_policy(cache_dir: str, gid: int) -> "List[str]":
    """Store files the group ``gid`` could not read and write (an earlier version's, a copy): ``install`` fixes them.

    Every file the bridge writes follows the policy, so after any number of
    syncs and calls this is empty and a second ``install`` changes nothing.
    """
    wrong: "List[str]" = []
    for path in cache_files(cache_dir):
        try:
            info = os.lstat(path)
        except OSError:
            continue  # removed meanwhile (a sweep, a sync's replace)
        if info.st_gid != gid or info.st_mode & 0o060 != 0o060:
            wrong.append(path)
    return wrong
