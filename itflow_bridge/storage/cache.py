"""Two-tier cache: memory for the daemon, sqlite for classic AGI processes.

A classic AGI script is a new process per call, so without the sqlite tier
every call would ask ITFlow.  Each entry carries two deadlines: until
``fresh_until`` it is served as is; until ``stale_until`` it is served only
when ITFlow fails (stale-on-error).  The persistent tier is best effort: a
corrupt or unwritable file costs one warning and the bridge goes on with
memory only; a lock held by another process skips that write.  Calls never
wait on the disk for longer than a read: see ``Cache``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from cachetools import TLRUCache

from ..core.constants import CACHE_MAX_ENTRIES
from .layout import CACHE_DB, create_shared_file

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 200  # never hold a call up behind another process's write
PRUNE_EVERY = 500  # writes between purges of long-dead rows
WRITE_BEHIND_SECONDS = 0.25  # the daemon's batches: a crash loses at most this much of the cache

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, fresh_until REAL NOT NULL, stale_until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_key_at ON events (key, at);
"""


class CacheEntry(NamedTuple):
    value: Any
    fresh_until: float
    stale_until: float

    def is_fresh(self, now: float) -> bool:
        return now < self.fresh_until


class Cache:
    """get/put of JSON-able values with per-entry TTLs, plus timestamped events for rate limits.

    A call must never queue behind a disk write, so there are three locks:
    ``_lock`` guards the memory tier and the writes not yet on disk, and each
    of the two sqlite connections has its own (WAL lets the reading one go on
    while the writing one commits).  With ``write_behind`` (the daemon) puts and
    deletes reach sqlite from one background thread, a batch per transaction, at
    most ``WRITE_BEHIND_SECONDS`` later; otherwise (classic scripts, which exit
    right after the call) before ``put`` returns.
    """

    def __init__(self, directory: Optional[Path], *, max_entries: int = CACHE_MAX_ENTRIES,
                 clock: Callable[[], float] = time.time, write_behind: bool = False):
        self._clock = clock
        self._lock = threading.Lock()
        self._db_lock = threading.Lock()  # the writing connection
        self._read_lock = threading.Lock()  # the reading connection
        self._memory: "TLRUCache[str, CacheEntry]" = TLRUCache(
            maxsize=max_entries, ttu=lambda _key, entry, _now: entry.stale_until, timer=clock
        )
        self._pending: Dict[str, Optional[Tuple[CacheEntry, str]]] = {}  # key -> (entry, JSON) or None: delete
        self._writing: Dict[str, Optional[Tuple[CacheEntry, str]]] = {}  # the batch being written
        self._events: Dict[str, List[float]] = {}  # memory fallback for events
        self._writes = 0
        self._db: Optional[sqlite3.Connection] = None
        self._reader: Optional[sqlite3.Connection] = None
        self.path: Optional[Path] = None
        self._stop = threading.Event()
        self._writer: Optional[threading.Thread] = None
        if directory is not None:
            self._open(Path(directory) / CACHE_DB)
        if write_behind and self._db is not None:
            self._writer = threading.Thread(target=self._write_behind, name="cache-writer", daemon=True)
            self._writer.start()

    @property
    def persistent(self) -> bool:
        return self._db is not None

    def now(self) -> float:
        return self._clock()

    # --- entries ------------------------------------------------------------

    def get(self, key: str) -> Optional[CacheEntry]:
        """The entry, fresh or stale, or None when absent or past its stale deadline."""
        now = self._clock()
        with self._lock:
            entry = self._memory.get(key)
            if entry is not None:
                return entry
            for batch in (self._pending, self._writing):
                if key in batch:  # written or deleted moments ago, not on disk yet
                    queued = batch[key]
                    return queued[0] if queued is not None and queued[0].stale_until > now else None
        row = self._db_read(
            lambda db: db.execute(
                "SELECT value, fresh_until, stale_until FROM entries WHERE key = ? AND stale_until > ?", (key, now)
            ).fetchone()
        )
        if not row:
            return None
        try:
            entry = CacheEntry(json.loads(row[0]), row[1], row[2])
        except ValueError:
            return None
        with self._lock:
            if key not in self._memory and key not in self._pending:  # not overtaken by a put meanwhile
                self._memory[key] = entry
        return entry

    def put(self, key: str, value: Any, ttl: float, stale_grace: float = 0.0) -> CacheEntry:
        now = self._clock()
        entry = CacheEntry(value, now + ttl, now + ttl + stale_grace)
        encoded = json.dumps(value, separators=(",", ":"))
        with self._lock:
            self._memory[key] = entry
            if self._db is not None:
                self._pending[key] = (entry, encoded)
        if self._writer is None:
            self.flush()
        return entry

    def delete(self, key: str) -> None:
        with self._lock:
            self._memory.pop(key, None)
            if self._db is not None:
                self._pending[key] = None
        if self._writer is None:
            self.flush()

    def flush(self) -> None:
        """Write what is pending to sqlite now (one transaction)."""
        with self._db_lock:
            with self._lock:
                batch, self._pending = self._pending, {}
                self._writing = batch
            try:
                if batch and self._db is not None:
                    prune = (self._writes + len(batch)) // PRUNE_EVERY > self._writes // PRUNE_EVERY
                    self._writes += len(batch)
                    self._guarded(self._db, lambda db: self._write(db, batch, prune, self._clock()))
            finally:
                with self._lock:
                    self._writing = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._memory)

    # --- events (e.g. failed balance attempts per caller) ---------------------

    def record_event(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            self._events.setdefault(key, []).append(now)
        self._db_call(lambda db: db.execute("INSERT INTO events (key, at) VALUES (?, ?)", (key, now)))

    def count_events(self, key: str, window: float) -> int:
        """Events for ``key`` in the last ``window`` seconds, across processes when persistent."""
        since = self._clock() - window
        with self._lock:
            kept = [t for t in self._events.get(key, []) if t > since]
            self._events[key] = kept
        row = self._db_read(
            lambda db: db.execute("SELECT COUNT(*) FROM events WHERE key = ? AND at > ?", (key, since)).fetchone()
        )
        return max(len(kept), row[0] if row else 0)

    def close(self) -> None:
        """Write what is pending, then let go of the file."""
        self._stop.set()
        if self._writer is not None:
            self._writer.join(timeout=5)
        self.flush()
        with self._db_lock, self._read_lock:
            self._close_connections()

    def _write_behind(self) -> None:
        while not self._stop.wait(WRITE_BEHIND_SECONDS):
            self.flush()

    # --- sqlite plumbing ------------------------------------------------------

    def _open(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            create_shared_file(str(path))  # usable by every process sharing the directory, whoever creates it
            db = _connect(path)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.executescript(_SCHEMA)
            db.execute("SELECT COUNT(*) FROM entries WHERE key = ''").fetchone()
            reader = _connect(path)
        except (sqlite3.Error, OSError) as exc:
            log.warning("persistent cache %s unusable (%s): going on with memory only", path, exc)
            return
        self._db, self._reader, self.path = db, reader, path

    def _db_call(self, operation: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._db_lock:
            return self._guarded(self._db, operation)

    def _db_read(self, operation: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._read_lock:
            return self._guarded(self._reader, operation)

    def _guarded(self, db: Optional[sqlite3.Connection], operation: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run one sqlite operation; a busy lock skips it, anything worse drops the tier."""
        if db is None:
            return None
        try:
            return operation(db)
        except sqlite3.OperationalError as exc:
            _rollback(db)
            if "locked" in str(exc) or "busy" in str(exc):
                log.debug("persistent cache busy, skipped one operation")
                return None
            self._disable(exc)
        except sqlite3.Error as exc:
            _rollback(db)
            self._disable(exc)
        return None

    def _disable(self, exc: Exception) -> None:
        if self._db is not None:
            log.warning("persistent cache %s failed (%s): going on with memory only", self.path, exc)
        self._close_connections()

    def _close_connections(self) -> None:
        connections, self._db, self._reader = (self._db, self._reader), None, None
        for db in connections:
            try:
                if db is not None:
                    db.close()
            except sqlite3.Error:
                pass

    @staticmethod
    def _write(db: sqlite3.Connection, batch: Dict[str, Optional[Tuple[CacheEntry, str]]], prune: bool,
               now: float) -> None:
        db.execute("BEGIN IMMEDIATE")
        for key, queued in batch.items():
            if queued is None:
                db.execute("DELETE FROM entries WHERE key = ?", (key,))
            else:
                entry, encoded = queued
                db.execute(
                    "INSERT OR REPLACE INTO entries (key, value, fresh_until, stale_until) VALUES (?, ?, ?, ?)",
                    (key, encoded, entry.fresh_until, entry.stale_until),
                )
        if prune:
            db.execute("DELETE FROM entries WHERE stale_until < ?", (now,))
            db.execute("DELETE FROM events WHERE at < ?", (now - 86400,))
        db.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA busy_timeout = %d" % BUSY_TIMEOUT_MS)
    return db


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
