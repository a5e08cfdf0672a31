"""Two-tier cache: memory for the daemon, sqlite for classic AGI processes.

A classic AGI script is a new process per call, so without the sqlite tier
every call would ask ITFlow.  Each entry carries two deadlines: until
``fresh_until`` it is served as is; until ``stale_until`` it is served only
when ITFlow fails (stale-on-error).  The persistent tier is best effort: a
corrupt or unwritable file costs one warning and the bridge goes on with
memory only; a lock held by another process skips that write.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

from cachetools import TLRUCache

log = logging.getLogger(__name__)

DB_NAME = "itflow-bridge-cache.sqlite3"
BUSY_TIMEOUT_MS = 200  # never hold a call up behind another process's write
PRUNE_EVERY = 500  # writes between purges of long-dead rows

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
    """get/put of JSON-able values with per-entry TTLs, plus timestamped events for rate limits."""

    def __init__(self, directory: Optional[Path], *, max_entries: int = 200000,
                 clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._memory: TLRUCache = TLRUCache(
            maxsize=max_entries, ttu=lambda _key, entry, _now: entry.stale_until, timer=clock
        )
        self._events: dict = {}  # memory fallback for events
        self._writes = 0
        self._db: Optional[sqlite3.Connection] = None
        self.path: Optional[Path] = None
        if directory is not None:
            self._open(Path(directory) / DB_NAME)

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
            row = self._db_call(
                lambda db: db.execute(
                    "SELECT value, fresh_until, stale_until FROM entries WHERE key = ? AND stale_until > ?",
                    (key, now),
                ).fetchone()
            )
            if not row:
                return None
            try:
                entry = CacheEntry(json.loads(row[0]), row[1], row[2])
            except ValueError:
                return None
            self._memory[key] = entry
            return entry

    def put(self, key: str, value: Any, ttl: float, stale_grace: float = 0.0) -> None:
        now = self._clock()
        entry = CacheEntry(value, now + ttl, now + ttl + stale_grace)
        encoded = json.dumps(value, separators=(",", ":"))
        with self._lock:
            self._memory[key] = entry
            self._writes += 1
            prune = self._writes % PRUNE_EVERY == 0
            self._db_call(lambda db: self._write(db, key, encoded, entry, prune, now))

    def delete(self, key: str) -> None:
        with self._lock:
            self._memory.pop(key, None)
            self._db_call(lambda db: db.execute("DELETE FROM entries WHERE key = ?", (key,)))

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
            row = self._db_call(
                lambda db: db.execute("SELECT COUNT(*) FROM events WHERE key = ? AND at > ?", (key, since)).fetchone()
            )
        return max(len(kept), row[0] if row else 0)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # --- sqlite plumbing ------------------------------------------------------

    def _open(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                                 isolation_level=None)
            db.execute("PRAGMA busy_timeout = %d" % BUSY_TIMEOUT_MS)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.executescript(_SCHEMA)
            db.execute("SELECT COUNT(*) FROM entries WHERE key = ''").fetchone()
        except (sqlite3.Error, OSError) as exc:
            log.warning("persistent cache %s unusable (%s): going on with memory only", path, exc)
            return
        self._db, self.path = db, path

    def _db_call(self, operation: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run one sqlite operation; a busy lock skips it, anything worse drops the tier."""
        if self._db is None:
            return None
        try:
            return operation(self._db)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                log.debug("persistent cache busy, skipped one operation")
                return None
            self._disable(exc)
        except sqlite3.Error as exc:
            self._disable(exc)
        return None

    def _disable(self, exc: Exception) -> None:
        log.warning("persistent cache %s failed (%s): going on with memory only", self.path, exc)
        try:
            self._db.close()
        except sqlite3.Error:
            pass
        self._db = None

    @staticmethod
    def _write(db: sqlite3.Connection, key: str, encoded: str, entry: CacheEntry, prune: bool, now: float) -> None:
        db.execute(
            "INSERT OR REPLACE INTO entries (key, value, fresh_until, stale_until) VALUES (?, ?, ?, ?)",
            (key, encoded, entry.fresh_until, entry.stale_until),
        )
        if prune:
            db.execute("DELETE FROM entries WHERE stale_until < ?", (now,))
            db.execute("DELETE FROM events WHERE at < ?", (now - 86400,))
