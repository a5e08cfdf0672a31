"""Each extension's calls of today, kept on disk: a restarted daemon's pages still list them.

The ringing board keeps its calls in memory.  ``TodaysCalls`` keeps every call
that ended on the board (one row per extension and call: the view that
extension's page showed last) and gives them to the board again at start
(``follow``).  Only today's calls are kept (the board's day rule,
``ringing.today_began``), at most the board's ``keep`` per extension; rows of
earlier days are pruned.

The board calls its listeners on the AMI reader's thread, which also feeds the
call journal: the listener only queues the view, and a thread of its own writes
what queued up, in one transaction.  A store that fails is logged and the board
goes on without it (the pages still list today's calls until a restart).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..storage.layout import TODAYS_CALLS_DB, WriteTransaction, open_durable_store
from .ringing import ENDED, KEEP_PER_EXTENSION, RingingBoard, View, today_began

log = logging.getLogger(__name__)

MAX_UNWRITTEN = 1000  # views queued for the writer; beyond it (a stuck disk) new ones are not kept

_SCHEMA = """
CREATE TABLE IF NOT EXISTS todays_calls (
    extension TEXT NOT NULL,
    call_id TEXT NOT NULL,
    started REAL NOT NULL,
    view TEXT NOT NULL,
    PRIMARY KEY (extension, call_id)
);
CREATE INDEX IF NOT EXISTS todays_calls_started ON todays_calls (started);
"""

# (extension, call id, the view to keep; None: the call is no longer that extension's)
_Change = Tuple[str, str, Optional[View]]


class TodaysCalls:
    """The ``todays_calls`` table in ``path`` (created with the cache directory's mode policy)."""

    def __init__(self, path: "os.PathLike[str] | str", *, clock: Callable[[], float] = time.time,
                 keep: int = KEEP_PER_EXTENSION, max_unwritten: int = MAX_UNWRITTEN):
        self.path = Path(path)
        self.clock = clock
        self.keep = keep
        self.max_unwritten = max_unwritten
        self._db = open_durable_store(self.path, _SCHEMA)
        self._pruned_before = 0.0  # rows that started before this are gone
        self._changed = threading.Condition()  # guards the fields below
        self._unwritten: List[_Change] = []
        self._writing = False
        self._closing = False
        self._failing = False  # a write failed or a change was not kept: said once, until a write succeeds
        self._writer: Optional[threading.Thread] = None

    @classmethod
    def in_cache(cls, cache_dir: "os.PathLike[str] | str", **options: Any) -> "TodaysCalls":
        return cls(Path(cache_dir) / TODAYS_CALLS_DB, **options)

    def load(self) -> List[View]:
        """Today's calls, every extension's, oldest first, at most ``keep`` per extension; earlier days are pruned."""
        midnight = today_began(self.clock())
        self._db.execute("DELETE FROM todays_calls WHERE started < ?", (midnight,))
        self._pruned_before = midnight
        by_extension: Dict[str, List[View]] = {}
        for extension, text in self._db.execute("SELECT extension, view FROM todays_calls ORDER BY started"):
            view = _parsed(str(extension), str(text))
            if view is not None:
                by_extension.setdefault(view["extension"], []).append(view)
        views = [view for listed in by_extension.values() for view in listed[-self.keep:]]
        return sorted(views, key=lambda view: float(view["started"]))

    def follow(self, board: RingingBoard) -> None:
        """Give ``board`` today's calls kept here, and keep each call that ends on it from now on."""
        board.restore(self.load())
        board.subscribe(self.on_change)
        self._writer = threading.Thread(target=self._write_loop, name="todays-calls", daemon=True)
        self._writer.start()

    def on_change(self, extension: str, view: View) -> None:
        """The board's listener (the AMI reader's thread): queues an ended call, or a call withdrawn."""
        if view.get("withdrawn"):
            change: _Change = (extension, view["call_id"], None)
        elif view["state"] == ENDED:
            change = (extension, view["call_id"], view)
        else:
            return
        with self._changed:
            if self._closing:
                return
            if len(self._unwritten) >= self.max_unwritten:
                if not self._failing:
                    log.warning("agent screen: today's calls are not written fast enough: the latest are not kept")
                    self._failing = True
                return
            self._unwritten.append(change)
            self._changed.notify_all()

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every change queued so far is written (or failed); False after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._unwritten and not self._writing, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (within ``timeout`` seconds), then close the store."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._writer is not None:
            self._writer.join(timeout)
            if self._writer.is_alive():  # stuck on the disk: the file stays open, the process is ending anyway
                return
        self._db.close()

    def __enter__(self) -> "TodaysCalls":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # --- the writer thread --------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._unwritten) or self._closing)
                if not self._unwritten:
                    return  # closing, and everything is written
                batch, self._unwritten = self._unwritten, []
                self._writing = True
            failure = self._write(batch)
            with self._changed:
                self._writing = False
                if failure and not self._failing:
                    log.warning("agent screen: today's calls cannot be kept in %s (%s): a restart will not list "
                                "them", self.path.name, failure)
                self._failing = bool(failure)
                self._changed.notify_all()

    def _write(self, batch: List[_Change]) -> str:
        """Write ``batch`` in one transaction; answers why it failed, or ""."""
        midnight = today_began(self.clock())
        try:
            with WriteTransaction(self._db):
                for extension, call_id, view in batch:
                    if view is None:
                        self._db.execute("DELETE FROM todays_calls WHERE extension = ? AND call_id = ?",
                                         (extension, call_id))
                    elif float(view["started"]) >= midnight:
                        self._db.execute("INSERT OR REPLACE INTO todays_calls (extension, call_id, started, view)"
                                         " VALUES (?, ?, ?, ?)", (extension, call_id, float(view["started"]),
                                                                  json.dumps(view, separators=(",", ":"))))
                for extension in {change[0] for change in batch}:
                    self._db.execute(
                        "DELETE FROM todays_calls WHERE extension = ? AND call_id NOT IN (SELECT call_id FROM"
                        " todays_calls WHERE extension = ? ORDER BY started DESC LIMIT ?)",
                        (extension, extension, self.keep))
                if midnight > self._pruned_before:  # a new day: yesterday's calls go
                    self._db.execute("DELETE FROM todays_calls WHERE started < ?", (midnight,))
        except (sqlite3.Error, TypeError, ValueError) as exc:
            return "%s: %s" % (type(exc).__name__, exc)
        self._pruned_before = max(self._pruned_before, midnight)
        return ""


def _parsed(extension: str, text: str) -> Optional[View]:
    """A stored view, or None when the row is not one (a damaged file, another version's)."""
    try:
        view = json.loads(text)
    except ValueError:
        return None
    try:
        fine = (isinstance(view, dict) and view.get("extension") == extension and view.get("state") == ENDED
                and isinstance(view.get("call_id"), str) and float(view["started"]) >= 0
                and all(key in view for key in ("number", "name", "leg", "answered_by", "transferred_to",
                                                "answered_at", "ended_at")))
    except (KeyError, TypeError, ValueError):
        return None
    return view if fine else None


def keep_todays_calls(board: RingingBoard, cache_dir: "os.PathLike[str] | str") -> Optional[TodaysCalls]:
    """Today's calls of ``board`` kept in ``cache_dir`` and given back to it now; None when the store cannot be
    opened (logged): the board then keeps them in memory only."""
    try:
        store = TodaysCalls.in_cache(cache_dir, clock=board.clock, keep=board.keep)
    except (OSError, sqlite3.Error) as exc:
        log.warning("agent screen: today's calls cannot be kept (%s: %s): a restart will not list them",
                    type(exc).__name__, exc)
        return None
    try:
        store.follow(board)
    except (sqlite3.Error, KeyError, TypeError, ValueError) as exc:
        log.warning("agent screen: today's calls kept before cannot be read (%s: %s)", type(exc).__name__, exc)
        store.close()
        return None
    return store
