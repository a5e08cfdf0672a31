"""The local directory: one sqlite file per ITFlow identity, replaced whole by each sync.

Standard library only: a classic AGI script can answer ``Directory.find`` from
an already-normalised E.164 number without importing requests or phonenumbers.

The file is never modified in place.  A sync writes a new file beside it and
``os.replace``s it, so a reader sees either the previous directory or the new
one, never half of a sync, and a sync that fails leaves the previous directory
answering.  A long-lived ``Directory`` notices the replacement (the inode
changes) and reopens on its next read.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union
from urllib.parse import quote

from .identity import itflow_identity
from .layout import DIRECTORY_PREFIX, DIRECTORY_SUFFIX, install_file, temporary_for

if TYPE_CHECKING:
    from ..core.models import CallerMatch

SCHEMA_VERSION = "1"
KINDS = ("contact", "location", "vendor", "client")
GENERATIONS = ("v1", "legacy")
# meta key: "0" when the API's own caller lookups say a name only (legacy), so answers match them
CALLER_DETAILS = "caller_details"
# meta key: "1" when the API compares a caller's digits as whole numbers (legacy ``intval``: leading
# zeros ignored), so a number kept as digits is found by the digit forms that API finds it by
DIGITS_AS_NUMBERS = "digits_as_numbers"
# Which row answers when several share a number: ITFlow's own legacy lookup order
# (contact phone, contact mobile, location, vendor); archived rows after live ones.
RANK = {("contact", "office"): 0, ("contact", "mobile"): 1, ("location", "office"): 2,
        ("location", "mobile"): 3, ("vendor", "office"): 4, ("vendor", "mobile"): 5,
        ("client", "office"): 6, ("client", "mobile"): 7}
ARCHIVED_RANK = 100

_COLUMNS = ("kind", "record_id", "client_id", "client_name", "name", "title", "number_kind",
            "number", "digits", "e164", "archived")
_SCHEMA = """
CREATE TABLE entries (
    kind TEXT NOT NULL,              -- contact | location | vendor | client
    record_id INTEGER,               -- ITFlow id of that record (NULL when the API gives none)
    client_id INTEGER,               -- NULL for vendors and what legacy cannot tell
    client_name TEXT NOT NULL,
    name TEXT NOT NULL,              -- the contact's, location's, vendor's or client's own name
    title TEXT NOT NULL,             -- contact title, location or vendor description: display only
    number_kind TEXT NOT NULL,       -- office | mobile
    number TEXT NOT NULL,            -- E.164 ("+4930...") or the bare digits when unparsable
    digits TEXT NOT NULL,            -- exactly as ITFlow stores it
    e164 INTEGER NOT NULL,           -- 1 when number is E.164
    archived INTEGER NOT NULL,
    rank INTEGER NOT NULL
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- numbers kept as digits (few: no E.164 reading), by their value as a whole number
CREATE INDEX entries_by_digits_value ON entries (ltrim(number, '0'), rank) WHERE e164 = 0;
"""
_INDEX = "CREATE INDEX entries_by_number ON entries (number, rank)"


def directory_path(cache_dir: Union[str, Path], identity: str) -> Path:
    return Path(cache_dir) / ("%s%s%s" % (DIRECTORY_PREFIX, identity, DIRECTORY_SUFFIX))


@dataclass(frozen=True)
class DirectoryEntry:
    """One number of one ITFlow record."""

    kind: str
    name: str
    number: str
    number_kind: str = "office"
    digits: str = ""
    e164: bool = True
    record_id: Optional[int] = None
    client_id: Optional[int] = None
    client_name: str = ""
    title: str = ""
    archived: bool = False

    @property
    def rank(self) -> int:
        return RANK.get((self.kind, self.number_kind), 50) + (ARCHIVED_RANK if self.archived else 0)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def to_caller_match(self, name_only: bool = False, asked: str = "") -> "CallerMatch":
        """The ``CallerMatch`` the ITFlow adapters would give for this number.

        A vendor is no client (as in the adapters' own lookups); ``name_only``
        for an API whose lookups say a name and nothing else (legacy), so that
        an answer from the directory shows and sets exactly what one from
        ITFlow would.  ``asked``: the digits ITFlow would have been asked for,
        when they are not the stored ones (an API that ignores leading zeros).
        """
        from ..core.models import CallerMatch

        matched = asked or self.digits or self.number.lstrip("+")
        if name_only:
            return CallerMatch(name=self.name, kind="unknown", matched_number=matched)
        client = self.kind in ("contact", "location", "client")
        return CallerMatch(
            name=self.name,
            kind=self.kind if self.kind in ("contact", "location", "vendor") else "unknown",
            client_id=self.client_id if client else None,
            client_name=(self.client_name or None) if client else None,
            contact_name=self.name if self.kind == "contact" else None,
            matched_number=matched,
            contact_id=self.record_id if self.kind == "contact" else None,
        )


@dataclass(frozen=True)
class DirectoryInfo:
    """What the last sync recorded about itself."""

    synced_at: float
    duration: float
    rows: Dict[str, int]
    unparsable: int
    generation: str
    version: str  # changes with every sync: the phonebooks' validator
    extra: Dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _entry(row: sqlite3.Row) -> DirectoryEntry:
    return DirectoryEntry(
        kind=row["kind"], name=row["name"], number=row["number"], number_kind=row["number_kind"],
        digits=row["digits"], e164=bool(row["e164"]), record_id=row["record_id"],
        client_id=row["client_id"], client_name=row["client_name"], title=row["title"],
        archived=bool(row["archived"]),
    )


class Directory:
    """Read side of a directory file; thread-safe; reopens after a sync replaced the file."""

    def __init__(self, path: Union[str, Path]):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: Optional[sqlite3.Connection] = None
        self._stamp: Optional[Tuple[int, int, int]] = None
        self._name_only = False
        self._digits_as_numbers = False

    @property
    def available(self) -> bool:
        return self.path.exists()

    def find_caller(self, number: str) -> "Optional[CallerMatch]":
        """What ITFlow's own lookup would answer for this E.164 number (or bare digits), or None."""
        with self._lock:
            db = self._connection()
            if db is None:
                return None
            row, by_value = self._caller_row(db, number)
            name_only = self._name_only
        if row is None:
            return None
        return _entry(row).to_caller_match(name_only, number if by_value and number != row["digits"] else "")

    def numbers(self) -> List[str]:
        """Every number in the directory, once each, in order."""
        with self._lock:
            db = self._connection()
            if db is None:
                return []
            return [row[0] for row in db.execute("SELECT DISTINCT number FROM entries ORDER BY number")]

    def callers(self, batch: int = 2000) -> "Iterator[Tuple[str, CallerMatch]]":
        """(number, what ``find_caller`` answers for it) for every number, in number order, read in batches."""
        previous = ""
        while True:
            with self._lock:
                db = self._connection()
                if db is None:
                    return
                rows = db.execute("SELECT * FROM entries WHERE number > ? ORDER BY number, rank LIMIT ?",
                                  (previous, batch)).fetchall()
                name_only, by_value = self._name_only, self._digits_as_numbers
            if not rows:
                return
            last = rows[-1]["number"]
            if len(rows) == batch and rows[0]["number"] != last:
                rows = [row for row in rows if row["number"] != last]  # that number's rows come whole next time
            else:
                last = rows[-1]["number"]
            for row in rows:
                if row["number"] != previous:
                    previous = row["number"]
                    if by_value and not row["e164"]:
                        match = self.find_caller(previous)  # a row of the same value may rank first
                        if match is not None:
                            yield previous, match
                        continue
                    yield previous, _entry(row).to_caller_match(name_only)

    def _caller_row(self, db: sqlite3.Connection, number: str) -> Tuple[Optional[sqlite3.Row], bool]:
        """The row answering ``number`` as ITFlow's own lookup would, and whether it was found by value.

        A number kept as digits is compared as ITFlow compares it: as a whole
        number (leading zeros ignored) where the API does so, else as it is.
        """
        if self._digits_as_numbers and not number.startswith("+"):
            return db.execute("SELECT * FROM entries WHERE e164 = 0 AND ltrim(number, '0') = ? ORDER BY rank LIMIT 1",
                              (number.lstrip("0"),)).fetchone(), True
        return db.execute("SELECT * FROM entries WHERE number = ? ORDER BY rank LIMIT 1", (number,)).fetchone(), False

    def find(self, e164: str) -> Optional[DirectoryEntry]:
        """The best entry for an E.164 number (``+`` and digits), or None. One indexed read."""
        with self._lock:
            db = self._connection()
            if db is None:
                return None
            row = db.execute("SELECT * FROM entries WHERE number = ? ORDER BY rank LIMIT 1", (e164,)).fetchone()
        return _entry(row) if row is not None else None

    def find_all(self, e164: str) -> List[DirectoryEntry]:
        with self._lock:
            db = self._connection()
            if db is None:
                return []
            rows = db.execute("SELECT * FROM entries WHERE number = ? ORDER BY rank", (e164,)).fetchall()
        return [_entry(row) for row in rows]

    def entries(self) -> List[DirectoryEntry]:
        """Every entry, grouped by client then kind and name (the phonebooks' order)."""
        with self._lock:
            db = self._connection()
            if db is None:
                return []
            rows = db.execute(
                "SELECT * FROM entries ORDER BY client_name = '', client_name, kind, name, record_id, rank"
            ).fetchall()
        return [_entry(row) for row in rows]

    def info(self) -> Optional[DirectoryInfo]:
        with self._lock:
            db = self._connection()
            if db is None:
                return None
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        try:
            return DirectoryInfo(
                synced_at=float(meta.pop("synced_at")), duration=float(meta.pop("duration")),
                rows=json.loads(meta.pop("rows")), unparsable=int(meta.pop("unparsable")),
                generation=meta.pop("generation"), version=meta.pop("version"), extra=meta,
            )
        except (KeyError, ValueError):
            return None

    def close(self) -> None:
        with self._lock:
            self._close()

    def _connection(self) -> Optional[sqlite3.Connection]:
        """The open file, reopened when a sync replaced it; None while there is none."""
        try:
            st = os.stat(self.path)
        except OSError:
            self._close()
            return None
        stamp = (st.st_dev, st.st_ino, st.st_mtime_ns)
        if self._db is None or stamp != self._stamp:
            self._close()
            # immutable: the file is never written in place (a sync replaces it), so no locking.
            uri = "file:%s?mode=ro&immutable=1" % quote(str(self.path.resolve()))
            try:
                db = sqlite3.connect(uri, uri=True, check_same_thread=False)
                db.row_factory = sqlite3.Row
                db.execute("SELECT 1 FROM entries LIMIT 1")
                meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                                       (CALLER_DETAILS, DIGITS_AS_NUMBERS)).fetchall())
            except sqlite3.Error:
                return None
            self._db, self._stamp = db, stamp
            self._name_only = meta.get(CALLER_DETAILS) == "0"
            self._digits_as_numbers = meta.get(DIGITS_AS_NUMBERS) == "1"
        return self._db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
        self._db, self._stamp = None, None


class DirectoryWriter:
    """Builds a new directory file; ``commit`` swaps it in, anything else leaves the old one."""

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp, fd = temporary_for(str(path))  # the cache's file mode and group, like every store
        os.close(fd)
        self.tmp_path = Path(tmp)
        self._db = sqlite3.connect(str(self.tmp_path))
        self._db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + _SCHEMA)
        self.rows: Dict[str, int] = dict.fromkeys(KINDS, 0)
        self.unparsable = 0
        self._done = False

    def add(self, entries: Iterable[DirectoryEntry]) -> None:
        batch = []
        for entry in entries:
            batch.append(tuple(getattr(entry, name) for name in _COLUMNS) + (entry.rank,))
            self.rows[entry.kind] = self.rows.get(entry.kind, 0) + 1
            if not entry.e164:
                self.unparsable += 1
        self._db.executemany("INSERT INTO entries VALUES (%s)" % ",".join("?" * (len(_COLUMNS) + 1)), batch)

    def commit(self, *, duration: float, generation: str, synced_at: Optional[float] = None,
               extra: Optional[Dict[str, str]] = None) -> DirectoryInfo:
        info = DirectoryInfo(
            synced_at=time.time() if synced_at is None else synced_at, duration=duration,
            rows=dict(self.rows), unparsable=self.unparsable, generation=generation,
            version=os.urandom(8).hex(), extra=dict(extra or {}),
        )
        meta = {"schema": SCHEMA_VERSION, "synced_at": repr(info.synced_at), "duration": repr(duration),
                "rows": json.dumps(info.rows, sort_keys=True), "unparsable": str(info.unparsable),
                "generation": generation, "version": info.version, **info.extra}
        try:
            self._db.execute(_INDEX)
            self._db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
            self._db.commit()
            self._db.close()
            install_file(str(self.tmp_path), str(self.path), durable=True)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return info

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._db.close()
        except sqlite3.Error:
            pass
        try:
            self.tmp_path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> "DirectoryWriter":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.abort()  # a no-op after commit


class DirectoryStore:
    """Where one identity's directory lives: open it to read, ``writer()`` to replace it."""

    def __init__(self, path: Union[str, Path]):
        self.path = Path(path)

    @classmethod
    def for_identity(cls, cache_dir: Union[str, Path], url: str, generation: str, api_key: str) -> "DirectoryStore":
        return cls(directory_path(cache_dir, itflow_identity(url, generation, api_key)))

    @classmethod
    def current(cls, cache_dir: Union[str, Path], url: str, api_key: str,
                generation: Optional[str] = None) -> "Optional[DirectoryStore]":
        """The directory of this site and key: of ``generation`` when known, else the newest synced."""
        if generation is not None:
            return cls.for_identity(cache_dir, url, generation, api_key)
        found = []
        for index, name in enumerate(GENERATIONS):
            store = cls.for_identity(cache_dir, url, name, api_key)
            try:
                found.append((store.path.stat().st_mtime, -index, store))
            except OSError:
                continue
        return max(found, key=lambda item: item[:2])[2] if found else None

    def open(self) -> Directory:
        return Directory(self.path)

    def writer(self) -> DirectoryWriter:
        return DirectoryWriter(self.path)


def iter_batches(items: Iterable[DirectoryEntry], size: int = 1000) -> Iterator[List[DirectoryEntry]]:
    batch: List[DirectoryEntry] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
