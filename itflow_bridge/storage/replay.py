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

    itflow-bridge replay 2
    <fresh until, seconds since the epoch>
    <the replay key>
    SET VARIABLE ... (one line per command)
"""

import os
import time
import zlib

from ..core.paths import API_KEY_ENV, SETTING_ENV, config_file
from .layout import REPLAY, REPLAYABLE, replayable, shared_folder, sweep, write_atomically

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, List, Mapping, Optional

# Changes whenever the recorded lines change meaning (2: ITFLOW_CONTACT_ID and ITFLOW_CLIENT_URL), so a
# recording of an older bridge misses instead of replaying fewer variables.
HEADER = "itflow-bridge replay 2"
CALL_FIELDS = ("agi_callerid", "agi_calleridname", "agi_arg_1")
PRUNE_EVERY = 64  # about one write in this many also removes expired files


def configuration(environ: "Mapping[str, str]") -> str:
    """The configuration in force: the config file's identity and the ``ITFLOW_*`` environment.

    One line; the API key only as a checksum.  The answer book is keyed by it too.
    """
    path = config_file(environ)[0]
    try:
        stat = os.stat(path)
        config_id = "%s:%d:%d:%d" % (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    except OSError:
        config_id = path + ":absent"
    key_sum = zlib.crc32(environ.get(API_KEY_ENV, "").encode("utf-8", "replace"))
    plain = [environ.get(name, "") for name in SETTING_ENV if name != API_KEY_ENV]
    settings = "|".join(plain) + "|k%08x" % key_sum
    return ("%s:%s" % (config_id, settings)).replace("\r", " ").replace("\n", " ")


def replay_key(route: str, env: "Mapping[str, str]", environ: "Mapping[str, str]",
               settings: "Optional[str]" = None) -> str:
    """What makes two calls answer alike: the call's inputs and the configuration in force."""
    call = "|".join(env.get(name, "") for name in CALL_FIELDS)
    key = "replay:%s:%s:%s" % (route, configuration(environ) if settings is None else settings, call)
    return key.replace("\r", " ").replace("\n", " ")


def file_for(cache_dir: str, key: str) -> str:
    data = key.encode("utf-8", "replace")
    return os.path.join(cache_dir, REPLAY, "%08x%08x" % (zlib.crc32(data), zlib.adler32(data)))


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
    commands = replayable(lines)
    if not commands:
        return
    target = file_for(cache_dir, key)
    os.makedirs(cache_dir, exist_ok=True)
    shared_folder(os.path.dirname(target))
    text = "\n".join([HEADER, repr(float(fresh_until)), key, *commands]) + "\n"
    write_atomically(target, [text.encode("utf-8")], durable=False)  # why not durable: write_atomically
    if time.time_ns() % PRUNE_EVERY == 0:
        prune(cache_dir)


def prune(cache_dir: str, now: "Optional[float]" = None) -> int:
    """Remove replay files whose freshness has passed (and stray temporaries); returns how many."""
    now = time.time() if now is None else now

    def expired(head: bytes) -> bool:
        lines = head.split(b"\n")
        return len(lines) < 2 or float(lines[1]) <= now

    return sweep(os.path.join(cache_dir, REPLAY), expired, 256, temporary_age=60, now=now)
