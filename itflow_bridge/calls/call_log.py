"""The call log: every call the bridge journaled, and what it did about it.

Kept in the outbox's database (its own table), so ``itflow-bridge calls`` can
show a call beside the writes it made.  A call is logged once its writes are in
the outbox, so a call found here is never planned again; a call planned but not
logged (the process died in between) is planned again, which the outbox's keys
make harmless.  The log also keeps when journaling began, so that the first
catch-up does not turn the day before the bridge was set up into tickets.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, List, Optional, Sequence

from ..storage.layout import OUTBOX_DB, open_durable_store

LIVE = "live"  # sources of a logged call
CATCH_UP = "catch-up"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    ended REAL NOT NULL,
    caller TEXT NOT NULL,
    outcome TEXT NOT NULL,
    client_id INTEGER,
    client_name TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    keys TEXT NOT NULL DEFAULT '[]',
    logged REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_ended ON calls (ended);
CREATE TABLE IF NOT EXISTS journal (name TEXT PRIMARY KEY, value REAL NOT NULL);
"""


@dataclass(frozen=True)
class LoggedCall:
    call_id: str
    ended: float  # epoch seconds
    caller: str
    outcome: str  # the classification's outcome (answered, missed, internal, ...)
    client_id: Optional[int]
    client_name: str
    source: str  # LIVE or CATCH_UP
    note: str  # why nothing was written, when nothing was
    keys: Sequence[str]  # the outbox entries the call made


class CallLog:
    """The ``calls`` table of the outbox database at ``path``."""

    def __init__(self, path: "os.PathLike[str] | str", *, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.clock = clock
        self._db = open_durable_store(self.path, _SCHEMA)

    @classmethod
    def in_cache(cls, cache_dir: "os.PathLike[str] | str", **options: Any) -> "CallLog":
        return cls(Path(cache_dir) / OUTBOX_DB, **options)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "CallLog":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def add(self, call: LoggedCall) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO calls (call_id, ended, caller, outcome, client_id, client_name, source, note,"
            " keys, logged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (call.call_id, call.ended, call.caller, call.outcome, call.client_id, call.client_name, call.source,
             call.note, json.dumps(list(call.keys)), self.clock()))

    def known(self, call_ids: Iterable[str]) -> "set[str]":
        """Which of ``call_ids`` are logged already."""
        wanted = list(call_ids)
        found: "set[str]" = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self._db.execute("SELECT call_id FROM calls WHERE call_id IN (%s)" % ",".join("?" * len(chunk)),
                                    chunk)
            found.update(row[0] for row in rows)
        return found

    def recent(self, limit: int = 50) -> List[LoggedCall]:
        """The last ``limit`` calls, newest first."""
        rows = self._db.execute(
            "SELECT call_id, ended, caller, outcome, client_id, client_name, source, note, keys FROM calls"
            " ORDER BY ended DESC, logged DESC LIMIT ?", (limit,))
        return [LoggedCall(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], tuple(json.loads(row[8])))
                for row in rows]

    def began(self) -> float:
        """When journaling began on this PBX (set on first use): catch-up never reaches before it."""
        now = self.clock()
        self._db.execute("INSERT OR IGNORE INTO journal (name, value) VALUES ('began', ?)", (now,))
        row = self._db.execute("SELECT value FROM journal WHERE name = 'began'").fetchone()
        return float(row[0])
