"""The replay store: the exact AGI lines of a fresh caller-ID answer, kept for the next call.

A classic script is a new process per call; the full bridge costs several
times the interpreter's own start-up in imports alone.  So when the full path
answers from fresh data, it records the ``SET VARIABLE`` lines it sent, and the
next call with the same inputs and configuration sends them again without
loading the bridge.  One small file per replay key, replaced atomically, read
with ``os`` alone (no sqlite, no json: each costs as much as the interpreter).

The key holds everything that can change the answer: the route, the caller
number and name, the AGI argument, the config file's identity and the
``ITFLOW_*`` environment (the API key only as a checksum).  Any change simply
misses and takes the full path; a replay never outlives the freshness of the
lookup it came from.

File format (UTF-8, one item per line)::

    itflow-bridge replay 1
    <fresh until, seconds since the epoch>
    <the replay key>
    SET VARIABLE ... (one line per command)
"""

import os
import stat
import time
import zlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Callable, List, Mapping, Optional

HEADER = "itflow-bridge replay 1"
SUBDIR = "replay"
REPLAYABLE = "SET VARIABLE "  # nothing else is ever written back to Asterisk from a file
FINGERPRINT_ENV = ("ITFLOW_URL", "ITFLOW_API_MODE", "ITFLOW_BRIDGE_CACHE_DIR")
CALL_FIELDS = ("agi_callerid", "agi_calleridname", "agi_arg_1")
PRUNE_EVERY = 64  # about one write in this many also removes expired files


def configuration(environ: "Mapping[str, str]") -> str:
    """The configuration in force: the config file's identity and the ``ITFLOW_*`` environment.

    One line; the API key only as a checksum.  The answer book is keyed by it too.
    """
    path = environ.get("ITFLOW_BRIDGE_CONFIG") or "/etc/itflow-bridge/itflow-bridge.conf"
    try:
        stat = os.stat(path)
        config_id = "%s:%d:%d:%d" % (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    except OSError:
        config_id = path + ":absent"
    key_sum = zlib.crc32(environ.get("ITFLOW_API_KEY", "").encode("utf-8", "replace"))
    settings = "|".join(environ.get(name, "") for name in FINGERPRINT_ENV) + "|k%08x" % key_sum
    return ("%s:%s" % (config_id, settings)).replace("\r", " ").replace("\n", " ")


def replay_key(route: str, env: "Mapping[str, str]", environ: "Mapping[str, str]",
               settings: "Optional[str]" = None) -> str:
    """What makes two calls answer alike: the call's inputs and the configuration in force."""
    call = "|".join(env.get(name, "") for name in CALL_FIELDS)
    key = "replay:%s:%s:%s" % (route, configuration(environ) if settings is None else settings, call)
    return key.replace("\r", " ").replace("\n", " ")


def file_for(cache_dir: str, key: str) -> str:
    data = key.encode("utf-8", "replace")
    return os.path.join(cache_dir, SUBDIR, "%08x%08x" % (zlib.crc32(data), zlib.adler32(data)))


def recorded_lines(cache_dir: str, key: str, now: "Optional[float]" = None) -> "List[str]":
    """The lines recorded for ``key`` while still fresh; [] for anything else."""
    try:
        with open(file_for(cache_dir, key), "rb") as handle:
            text = handle.read(65536).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 4 or lines[0] != HEADER or lines[2] != key:
        return []
    try:
        fresh_until = float(lines[1])
    except ValueError:
        return []
    if not fresh_until > (time.time() if now is None else now):
        return []
    commands = lines[3:]
    # Only variable assignments are ever replayed, whatever the file holds.
    return commands if all(line.startswith(REPLAYABLE) for line in commands) else []


def replay(cache_dir: str, key: str, reader: "BinaryIO", writer: "BinaryIO") -> bool:
    """Send the recorded lines for ``key``, reading Asterisk's reply to each; False when none."""
    lines = recorded_lines(cache_dir, key)
    if not lines:
        return False
    send(lines, reader, writer)
    return True


def send(lines: "List[str]", reader: "BinaryIO", writer: "BinaryIO") -> None:
    """Send AGI command lines, reading Asterisk's reply to each; stop at a dead channel."""
    for line in lines:
        writer.write(line.encode("utf-8") + b"\n")
        writer.flush()
        reply = reader.readline()
        while reply.strip() == b"HANGUP":  # an unsolicited hangup notice, not the reply
            reply = reader.readline()
        if not reply.startswith(b"200"):
            break  # EOF or a dead channel: nothing more to say


def record(cache_dir: str, key: str, lines: "List[str]", fresh_until: float) -> None:
    """Keep ``lines`` for ``key`` until ``fresh_until`` (wall clock); atomic, readable by every caller."""
    commands = [line for line in lines if line.startswith(REPLAYABLE) and "\n" not in line]
    if not commands:
        return
    target = file_for(cache_dir, key)
    os.makedirs(cache_dir, exist_ok=True)
    shared_folder(os.path.dirname(target))
    text = "\n".join([HEADER, repr(float(fresh_until)), key, *commands]) + "\n"
    write_atomically(target, [text.encode("utf-8")])
    if time.time_ns() % PRUNE_EVERY == 0:
        prune(cache_dir)


def write_atomically(target: str, parts: "List[bytes]") -> None:
    """Replace ``target`` with ``parts`` in one step (a reader sees the old file or the new one), group-writable."""
    temporary = "%s.%d.tmp" % (target, os.getpid())
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o664)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for part in parts:
                handle.write(part)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def shared_folder(folder: str) -> None:
    """Create ``folder`` in the cache directory if missing: read-write for the group whatever the umask.

    Whoever creates it (a classic script as the Asterisk user, a sync as root),
    the others of the group write there too; the cache's setgid bit is kept.
    No chmod when ``mkdir`` already gave that mode (a umask of 0007 in the setgid
    cache does): under systemd's ``RestrictSUIDSGID=yes`` a chmod naming the
    setgid bit is refused.
    """
    try:
        os.mkdir(folder, 0o770)
    except FileExistsError:
        return
    wanted = 0o770 | (os.stat(os.path.dirname(folder)).st_mode & 0o2000)
    if stat.S_IMODE(os.stat(folder).st_mode) != wanted:
        os.chmod(folder, wanted)


def prune(cache_dir: str, now: "Optional[float]" = None) -> int:
    """Remove replay files whose freshness has passed (and stray temporaries); returns how many."""
    now = time.time() if now is None else now

    def expired(head: bytes) -> bool:
        lines = head.split(b"\n")
        return len(lines) < 2 or float(lines[1]) <= now

    return sweep(os.path.join(cache_dir, SUBDIR), expired, 256, temporary_age=60, now=now)


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
            if name.endswith(".tmp"):  # another writer's, unless left behind long ago
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
