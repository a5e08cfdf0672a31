"""The outbox: every write a call makes to ITFlow, kept on disk before it is sent.

Writes are at-least-once with an idempotency key, and never doubled:

* an entry (its key derived from the call and the action, its payload) is
  committed with sqlite ``synchronous=FULL`` before any request is made, so a
  crash or a power cut loses no write;
* entries go out in the order they were added; a transient failure (ITFlow
  down, a timeout, an HTTP 5xx) leaves the entry pending with a growing delay
  and stops the round, so nothing overtakes it;
* a refusal (the key refused, the write refused, the record gone) is ``failed``
  with the reason and never retried by itself: ``retry`` queues it again;
* an entry found ``sending`` was cut off mid-request (the process was killed):
  ITFlow may or may not have it, so the writer first looks for the entry's
  marker in ITFlow and adopts what it finds instead of sending a second one.

One process delivers at a time (an ``flock`` on ``<outbox>.lock``, released
by the kernel when a process dies); any process may add entries.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple, Type

from ..core.errors import (
    ITFlowAPIMissing,
    ITFlowAuthError,
    ITFlowError,
    ITFlowMethodError,
    ITFlowNotFound,
    ITFlowWriteRefused,
    UsageError,
)
from ..core.redact import redact
from ..storage.layout import OUTBOX_DB, OUTBOX_LOCK, WriteTransaction, create_shared_file, open_durable_store

log = logging.getLogger(__name__)

PENDING = "pending"
SENDING = "sending"
DONE = "done"
FAILED = "failed"
STATES = (PENDING, SENDING, DONE, FAILED)

FIRST_DELAY = 5.0  # seconds before the first retry after a transient failure; doubles each time
LONGEST_DELAY = 60.0  # an outage costs at most one request a minute; ITFlow back, tickets within a minute
# Failures that are ITFlow's answer to this write, not a passing outage: retrying cannot help.
REFUSALS: Tuple[Type[BaseException], ...] = (ITFlowAuthError, ITFlowWriteRefused, ITFlowNotFound, ITFlowAPIMissing,
                              ITFlowMethodError, UsageError)

_TABLE = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    parent TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    ticket_id INTEGER,
    ticket_number TEXT NOT NULL DEFAULT '',
    record_id INTEGER,
    uncertain INTEGER NOT NULL DEFAULT 0,
    added REAL NOT NULL,
    updated REAL NOT NULL,
    client_id INTEGER
);
"""
# The client's entries are read for every call planned: an index, not a scan of every entry ever kept.
_INDEXES = """
CREATE INDEX IF NOT EXISTS entries_state ON entries (state, id);
CREATE INDEX IF NOT EXISTS entries_client ON entries (client_id, action, id);
"""


class Refused(ITFlowError):
    """ITFlow's answer means this write can never succeed as it is (raised by writers)."""


class OutboxBusy(ITFlowError):
    """Another process is delivering this outbox right now."""


@dataclass(frozen=True)
class Delivered:
    """What ITFlow holds for an entry: its ticket (id, number) and the record written (a reply's id)."""

    ticket_id: int
    ticket_number: str = ""
    record_id: Optional[int] = None


@dataclass(frozen=True)
class Entry:
    id: int
    key: str
    action: str
    payload: Mapping[str, Any]
    parent: Optional[str]
    state: str
    attempts: int
    next_try: float
    reason: str
    ticket_id: Optional[int]
    ticket_number: str
    record_id: Optional[int]
    added: float

    @property
    def delivered(self) -> Optional[Delivered]:
        if self.state != DONE or self.ticket_id is None:
            return None
        return Delivered(self.ticket_id, self.ticket_number, self.record_id)


class Writer:
    """Sends entries to ITFlow; ``parent`` is what the entry's parent entry delivered (its ticket).

    ``send`` raises ``ITFlowUnavailable`` (or any non-refusal ``ITFlowError``)
    for a passing failure, a ``REFUSALS`` error or ``Refused`` for a refusal.
    ``find`` answers what ITFlow already holds for the entry (by its marker), or None.
    """

    def send(self, entry: Entry, parent: Optional[Delivered]) -> Delivered:
        raise NotImplementedError

    def find(self, entry: Entry, parent: Optional[Delivered]) -> Optional[Delivered]:
        raise NotImplementedError


@dataclass
class Round:
    """What one ``deliver`` did."""

    sent: int = 0
    adopted: int = 0
    failed: int = 0
    deferred: int = 0  # a transient failure ended the round


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th transient failure in a row."""
    return min(LONGEST_DELAY, FIRST_DELAY * float(2 ** max(0, attempts - 1)))


class Outbox:
    """The sqlite outbox at ``path`` (see the module docstring)."""

    def __init__(self, path: "os.PathLike[str] | str", *, clock: Callable[[], float] = time.time,
                 delay: Callable[[int], float] = backoff):
        self.path = Path(path)
        self.clock = clock
        self.delay = delay
        self._db = open_durable_store(self.path, _TABLE)  # a committed entry survives a power cut
        create_shared_file(str(self._lock_path))  # usable by every process sharing the directory
        self._add_client_column()
        self._db.executescript(_INDEXES)

    def _add_client_column(self) -> None:
        """An outbox kept before entries had their ``client_id`` column gets it, filled from the payloads."""
        if self._has_client_column():
            return
        with WriteTransaction(self._db):  # another process may be adding it right now: one at a time
            if self._has_client_column():
                return
            self._db.execute("ALTER TABLE entries ADD COLUMN client_id INTEGER")
            for entry_id, payload in self._db.execute("SELECT id, payload FROM entries").fetchall():
                self._db.execute("UPDATE entries SET client_id = ? WHERE id = ?",
                                 (_client_of(json.loads(payload)), entry_id))

    def _has_client_column(self) -> bool:
        return any(row[1] == "client_id" for row in self._db.execute("PRAGMA table_info(entries)"))

    @classmethod
    def in_cache(cls, cache_dir: "os.PathLike[str] | str", **options: Any) -> "Outbox":
        return cls(Path(cache_dir) / OUTBOX_DB, **options)

    @property
    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + OUTBOX_LOCK)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # --- adding and reading -------------------------------------------------------------

    def add(self, key: str, action: str, payload: Mapping[str, Any], *, parent: Optional[str] = None) -> Entry:
        """Keep a write to make (durably, before anything is sent); the same key again is the same entry."""
        now = self.clock()
        self._db.execute(
            "INSERT OR IGNORE INTO entries (key, action, payload, parent, state, next_try, added, updated, client_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, action, json.dumps(dict(payload), sort_keys=True), parent, PENDING, now, now, now,
             _client_of(payload)))
        entry = self.get(key)
        assert entry is not None
        return entry

    def get(self, key: str) -> Optional[Entry]:
        rows = self._select("WHERE key = ?", (key,))
        return rows[0] if rows else None

    def entries(self, *states: str) -> List[Entry]:
        """Every entry (or those in ``states``), oldest first."""
        if not states:
            return self._select("", ())
        return self._select("WHERE state IN (%s)" % ",".join("?" * len(states)), tuple(states))

    def client_entries(self, client_id: int, action: str) -> List[Entry]:
        """The entries of ``action`` for one ITFlow client (the payload's ``client_id``), oldest first."""
        return self._select("WHERE client_id = ? AND action = ?", (client_id, action))

    def next_due(self) -> Optional[float]:
        """When the oldest undelivered entry is due (None: nothing to send)."""
        head = self._head()
        return None if head is None else float(head.next_try)

    def retry(self, keys: Sequence[str] = ()) -> int:
        """Queue failed entries (all, or those of ``keys``) again, due now; answers how many.

        One that failed while ITFlow might have had it goes back as ``sending``: looked for first.
        """
        now = self.clock()
        where, args = "state = ?", [FAILED]
        if keys:
            where += " AND key IN (%s)" % ",".join("?" * len(keys))
            args += list(keys)
        cursor = self._db.execute(
            "UPDATE entries SET state = CASE uncertain WHEN 1 THEN ? ELSE ? END, attempts = 0, next_try = ?,"
            " reason = '', updated = ? WHERE " + where, [SENDING, PENDING, now, now] + args)
        return cursor.rowcount

    # --- delivering ---------------------------------------------------------------------

    def deliver(self, writer: Writer) -> Round:
        """Send every due entry in order, until none is left or a transient failure ends the round."""
        result = Round()
        with self._delivering():
            while True:
                head = self._head()
                if head is None or head.next_try > self.clock():
                    return result
                if not self._deliver_one(head, writer, result):
                    result.deferred += 1
                    return result

    def _deliver_one(self, entry: Entry, writer: Writer, result: Round) -> bool:
        """Deliver ``entry``; False when a transient failure leaves it for later."""
        parent: Optional[Delivered] = None
        if entry.parent is not None:
            above = self.get(entry.parent)
            if above is None or above.state == FAILED or above.delivered is None:
                why = "the ticket it belongs to was not created" + (": " + above.reason if above else "")
                self._finish(entry.id, FAILED, reason=why)
                result.failed += 1
                return True
            parent = above.delivered
        sending = False
        try:
            found = writer.find(entry, parent) if entry.state == SENDING else None
            if found is not None:
                log.info("outbox: %s was already in ITFlow (ticket %s): adopted", entry.key, found.ticket_id)
                self._finish(entry.id, DONE, found)
                result.adopted += 1
                return True
            self._mark_sending(entry)
            sending = True
            delivered = writer.send(entry, parent)
        except REFUSALS + (Refused,) as exc:
            # A refused send wrote nothing; a refused look-up leaves the entry as uncertain as it was.
            self._finish(entry.id, FAILED, reason=redact(exc), uncertain=entry.state == SENDING and not sending)
            log.warning("outbox: ITFlow refused %s: %s", entry.key, redact(exc))
            result.failed += 1
            return True
        except Exception as exc:  # whatever it was, the entry must be neither lost nor doubled
            # The request may have reached ITFlow (a timeout, a 5xx after the insert, an answer that
            # could not be read): the entry stays ``sending``, so the next attempt looks for it in
            # ITFlow before sending it again.
            attempts = entry.attempts + 1
            self._db.execute(
                "UPDATE entries SET state = ?, attempts = ?, next_try = ?, reason = ?, updated = ? WHERE id = ?",
                (SENDING, attempts, self.clock() + self.delay(attempts), redact(exc), self.clock(), entry.id))
            log.info("outbox: %s not delivered (%s): next try in %.0f s", entry.key, redact(exc),
                     self.delay(attempts))
            return False
        self._finish(entry.id, DONE, delivered)
        result.sent += 1
        return True

    def _mark_sending(self, entry: Entry) -> None:
        """From here on ITFlow may have the write: a crash leaves the entry ``sending`` (uncertain)."""
        self._db.execute("UPDATE entries SET state = ?, uncertain = 1, updated = ? WHERE id = ?",
                         (SENDING, self.clock(), entry.id))

    def _finish(self, entry_id: int, state: str, delivered: Optional[Delivered] = None, reason: str = "",
                uncertain: bool = False) -> None:
        self._db.execute(
            "UPDATE entries SET state = ?, reason = ?, ticket_id = ?, ticket_number = ?, record_id = ?,"
            " uncertain = ?, updated = ? WHERE id = ?",
            (state, reason, delivered.ticket_id if delivered else None,
             delivered.ticket_number if delivered else "", delivered.record_id if delivered else None,
             1 if uncertain else 0, self.clock(), entry_id))

    def _head(self) -> Optional[Entry]:
        rows = self._select("WHERE state IN (?, ?) ORDER BY id LIMIT 1", (PENDING, SENDING))
        return rows[0] if rows else None

    def _select(self, where: str, args: Tuple[Any, ...]) -> List[Entry]:
        order = "" if "ORDER BY" in where else " ORDER BY id"
        cursor = self._db.execute(
            "SELECT id, key, action, payload, parent, state, attempts, next_try, reason, ticket_id,"
            " ticket_number, record_id, added FROM entries " + where + order, args)
        return [Entry(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6], row[7], row[8],
                      row[9], row[10], row[11], row[12]) for row in cursor.fetchall()]

    def _delivering(self) -> "_DeliveryLock":
        return _DeliveryLock(self._lock_path)


def _client_of(payload: Mapping[str, Any]) -> Optional[int]:
    """The ITFlow client a write is for (its payload's ``client_id``), None when it names none."""
    value = payload.get("client_id")
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


class _DeliveryLock:
    """Holds ``flock`` on the lock file while one process delivers."""

    def __init__(self, path: Path):
        self.path = path
        self._fd = -1

    def __enter__(self) -> None:
        self._fd = os.open(str(self.path), os.O_RDWR)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise OutboxBusy("another process is delivering the outbox %s" % self.path) from None

    def __exit__(self, *exc_info: Any) -> None:
        os.close(self._fd)  # closing releases the lock

