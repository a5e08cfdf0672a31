"""The answer book: every synced caller number's answer, ready for the classic fast path.

A classic script is a new process per call, and the local directory is keyed
by E.164, which takes ``phonenumbers`` (and the whole bridge) to compute.  So
``itflow-bridge sync`` also writes this book: for each form a trunk may send a
synced number in (``+4930...``, ``4930...``, ``004930...``, national with and
without the trunk 0), the exact ``SET VARIABLE`` lines the full path would send
for it.  A first call from a synced number is then answered with ``os`` and
``zlib`` alone: no requests, no phonenumbers, no ITFlow.

A book belongs to one configuration (the replay store's ``configuration``: the
config file's identity and the ``ITFLOW_*`` environment) and to one directory
file (its path, inode, size and mtime): a sync that replaced the directory, an
edited config or another ITFlow makes it miss, and the full path answers.

File layout (one file, read with three ``os.pread`` calls per lookup)::

    itflow-bridge answers 2
    <configuration>
    <directory file path>
    <inode>:<size>:<mtime_ns> of that file
    <number of buckets>
    <bucket table: (buckets + 1) offsets, 12 hex digits each, into the key area>
    <key area: per bucket, lines "key offset length" (offset into the answer area)>
    <answer area: blocks of SET VARIABLE lines, one per distinct answer>

A key goes to bucket ``zlib.crc32(key) % buckets``.
"""

import os
import zlib

from .caller_key import caller_key
from .layout import ANSWERS, REPLAYABLE, replayable, shared_folder, sweep, write_atomically
from .replay import send

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Dict, List, Mapping, Optional, Tuple

# The number changes whenever what a book holds changes (2: ITFLOW_CONTACT_ID and ITFLOW_CLIENT_URL),
# so a book written by an older bridge misses and the full path answers, until the next sync rewrites it.
HEADER = "itflow-bridge answers 2"
OFFSET_DIGITS = 12
HEADER_MAX = 65536
KEYS_PER_BUCKET = 4


def book_path(cache_dir: str, configuration: str) -> str:
    data = configuration.encode("utf-8", "replace")
    return os.path.join(cache_dir, ANSWERS, "%08x%08x" % (zlib.crc32(data), zlib.adler32(data)))


def call_number(env: "Mapping[str, str]") -> "Optional[str]":
    """The number the caller-ID flow looks up: ``AGI(...,NUMBER)`` wins over the channel's caller number."""
    argument = env.get("agi_arg_1", "").strip()
    return argument if argument else env.get("agi_callerid")


def directory_stamp(path: str) -> "Optional[str]":
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return "%d:%d:%d" % (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def lookup(cache_dir: str, configuration: str, key: str) -> "List[str]":
    """The lines the book holds for ``key`` under ``configuration``; [] for anything else."""
    try:
        descriptor = os.open(book_path(cache_dir, configuration), os.O_RDONLY)
    except OSError:
        return []
    try:
        return _lookup(descriptor, configuration, key)
    except Exception:  # whatever the file holds, the full path answers instead
        return []
    finally:
        os.close(descriptor)


def _lookup(descriptor: int, configuration: str, key: str) -> "List[str]":
    head = os.pread(descriptor, HEADER_MAX, 0)
    parts = head.split(b"\n", 5)
    if len(parts) < 6 or parts[0].decode("utf-8") != HEADER or parts[1].decode("utf-8") != configuration:
        return []
    if directory_stamp(parts[2].decode("utf-8")) != parts[3].decode("ascii"):
        return []  # the directory was replaced (or removed) since this book was written
    buckets = int(parts[4])
    if buckets < 1:
        return []
    table = len(head) - len(parts[5])
    keys_start = table + (buckets + 1) * OFFSET_DIGITS
    bucket = zlib.crc32(key.encode("utf-8")) % buckets
    bounds = os.pread(descriptor, 2 * OFFSET_DIGITS, table + bucket * OFFSET_DIGITS)
    start, end = int(bounds[:OFFSET_DIGITS], 16), int(bounds[OFFSET_DIGITS:], 16)
    answers_start = keys_start + int(os.pread(descriptor, OFFSET_DIGITS, table + buckets * OFFSET_DIGITS), 16)
    wanted = key.encode("utf-8") + b" "
    for line in os.pread(descriptor, end - start, keys_start + start).split(b"\n"):
        if line.startswith(wanted):
            offset, length = line[len(wanted):].split(b" ")
            block = os.pread(descriptor, int(length), answers_start + int(offset)).decode("utf-8")
            lines = block.split("\n")
            # Only variable assignments are ever sent, whatever the file holds.
            return lines if lines and all(item.startswith(REPLAYABLE) for item in lines) else []
    return []


def write_book(cache_dir: str, configuration: str, directory_path: str,
               answers: "Mapping[str, List[str]]") -> str:
    """Write the book for ``configuration`` from ``key -> lines``, atomically; returns its path."""
    stamp = directory_stamp(directory_path)
    if stamp is None:
        raise OSError("the directory %s is gone" % directory_path)
    buckets = max(1, len(answers) // KEYS_PER_BUCKET)
    blocks: "Dict[bytes, Tuple[int, int]]" = {}  # each distinct answer once: keys (and numbers) share them
    by_list: "Dict[int, Tuple[int, int]]" = {}  # keys of one number share one list: joined once
    area: "List[bytes]" = []
    size = 0
    per_bucket: "List[List[bytes]]" = [[] for _ in range(buckets)]
    for key, lines in answers.items():
        if not key or " " in key or "\n" in key:
            continue
        where = by_list.get(id(lines))
        if where is None:
            commands = replayable(lines)
            data = "\n".join(commands).encode("utf-8")
            where = blocks.get(data)
            if where is None:
                where = blocks[data] = (size, len(data))
                area.append(data)
                size += len(data)
            by_list[id(lines)] = where
        offset, length = where
        if length:
            per_bucket[zlib.crc32(key.encode("utf-8")) % buckets].append(
                ("%s %d %d\n" % (key, offset, length)).encode("utf-8"))
    table: "List[bytes]" = []
    keys: "List[bytes]" = []
    position = 0
    for entries in per_bucket:
        table.append(b"%0*x" % (OFFSET_DIGITS, position))
        chunk = b"".join(entries)
        keys.append(chunk)
        position += len(chunk)
    table.append(b"%0*x" % (OFFSET_DIGITS, position))  # the end of the last bucket: where answers start
    head = "\n".join([HEADER, configuration, directory_path, stamp, str(buckets)]) + "\n"
    target = book_path(cache_dir, configuration)
    os.makedirs(cache_dir, exist_ok=True)
    shared_folder(os.path.dirname(target))
    write_atomically(target, [head.encode("utf-8"), b"".join(table), b"".join(keys), b"".join(area)], durable=True)
    return target


def remove_outdated(cache_dir: str, keep: str) -> int:
    """Remove books (other than ``keep``) whose directory file changed or is gone; returns how many."""

    def outdated(head: bytes) -> bool:
        lines = head.split(b"\n", 4)
        return not (len(lines) > 4 and lines[0] == HEADER.encode()
                    and directory_stamp(lines[2].decode("utf-8")) == lines[3].decode("ascii"))

    return sweep(os.path.join(cache_dir, ANSWERS), outdated, HEADER_MAX, temporary_age=600, keep=keep)


def answer(cache_dir: str, configuration: str, env: "Mapping[str, str]", reader: "BinaryIO",
           writer: "BinaryIO") -> bool:
    """Send the book's lines for this call's caller number; False when the book has none."""
    key = caller_key(call_number(env))
    lines = lookup(cache_dir, configuration, key) if key else []
    if not lines:
        return False
    send(lines, reader, writer)
    return True
