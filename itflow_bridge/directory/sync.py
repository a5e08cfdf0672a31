"""Fill the local directory from ITFlow: ``sync(adapter, store, settings) -> SyncReport``.

JSON API (``/api/v1``): clients, contacts (phone and mobile), locations and
vendors, each read page by page by the adapter (``itflow/v1_reader``: large
pages, a runaway guard) and filtered on our side (read endpoints ignore
``client_id``).  Every
number becomes E.164 using the row's ``*_country_code`` column when set, else
``[callerid] default_region``; numbers with no plausible reading are kept as
digits and counted.  Archived clients, contacts, locations and vendors are left
out unless ``include_archived``.

Legacy ``/api.php`` has no listing of contacts, locations or vendors: its
``phonebook`` action gives each client's primary contact (name and office
number) and every vendor (name and number), with names not XML-escaped.  Where
the site also answers ``primary_contact_numbers`` (same join: client, contact,
phone, mobile) the primary contacts gain their client's name and their mobile.
Other contacts, locations and archived flags are out of reach of that API.

Rows are written into a new file which replaces the previous directory only
once everything was read: a failure part-way leaves the previous one answering.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, Optional, Tuple

from ..itflow.base import ITFlowAdapter
from ..core.models import ListingStats, PhoneRecord
from .normalise import digits_only, to_e164
from ..storage.directory_file import (
    CALLER_DETAILS, DIGITS_AS_NUMBERS, KINDS, DirectoryEntry, DirectoryStore, iter_batches,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncSettings:
    default_region: str = "US"
    include_archived: bool = False
    page_size: Optional[int] = None  # rows per request; None: the adapter's own
    max_rows: Optional[int] = None  # per kind of record; None: the adapter's own runaway guard
    timeout: Optional[float] = None  # per request; None: the [itflow] timeouts

    @classmethod
    def from_config(cls, config: Any) -> "SyncSettings":
        return cls(default_region=config.callerid.default_region,
                   include_archived=config.directory.include_archived)


@dataclass(frozen=True)
class SyncReport:
    generation: str
    rows: Dict[str, int]
    unparsable: int
    duration: float
    requests: int
    skipped_archived: int = 0
    path: str = ""
    notes: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def line(self) -> str:
        kinds = ", ".join("%d %s" % (self.rows.get(kind, 0), kind + "s") for kind in KINDS)
        return ("synced %d numbers from the %s API in %.2f s (%s; %d unparsable kept as digits; %d archived left "
                "out)") % (
            self.total, self.generation, self.duration, kinds, self.unparsable, self.skipped_archived)

    def to_dict(self) -> Dict[str, Any]:
        return {"generation": self.generation, "rows": dict(self.rows), "total": self.total,
                "unparsable": self.unparsable, "duration": round(self.duration, 3), "requests": self.requests,
                "skipped_archived": self.skipped_archived, "path": self.path, "notes": list(self.notes)}


def sync(adapter: ITFlowAdapter, store: DirectoryStore, settings: SyncSettings = SyncSettings()) -> SyncReport:
    """Read everything ITFlow lets this key see and replace the directory with it."""
    started = time.monotonic()
    generation = adapter.generation  # for the report; what to read is the adapter's business
    stats = ListingStats()
    counter = _ArchiveFilter(settings.include_archived)
    records = adapter.phone_records(stats, timeout=settings.timeout, page_size=settings.page_size,
                                    max_rows=settings.max_rows)
    with store.writer() as writer:
        for batch in iter_batches(_entries(counter.kept(records), settings.default_region)):
            writer.add(batch)
        duration = time.monotonic() - started
        info = writer.commit(duration=duration, generation=generation,
                             extra={"default_region": settings.default_region,
                                    "include_archived": "1" if settings.include_archived else "0",
                                    CALLER_DETAILS: "1" if adapter.capabilities.caller_details else "0",
                                    DIGITS_AS_NUMBERS: "1" if _ignores_leading_zeros(adapter) else "0"})
    report = SyncReport(generation=generation, rows=info.rows, unparsable=info.unparsable, duration=duration,
                        requests=stats.requests, skipped_archived=counter.skipped,
                        path=str(store.path), notes=tuple(stats.notes))
    log.info("%s", report.line())
    return report


def _ignores_leading_zeros(adapter: ITFlowAdapter) -> bool:
    """Whether the API finds ``0301..`` when asked for ``301..``: its own word on which digits are one question."""
    return adapter.lookup_question("01") == adapter.lookup_question("1")


class _ArchiveFilter:
    def __init__(self, include_archived: bool):
        self.include_archived = include_archived
        self.skipped = 0

    def kept(self, records: Iterable[PhoneRecord]) -> Iterator[PhoneRecord]:
        for record in records:
            if record.archived and not self.include_archived:
                self.skipped += 1
                continue
            yield record


def _entries(records: Iterable[PhoneRecord], default_region: str) -> Iterator[DirectoryEntry]:
    """One entry per distinct (number, office|mobile) of each record, numbers in E.164 where they parse."""
    for record in records:
        seen = set()
        for stored, country_code, number_kind in record.numbers:
            digits = digits_only(stored.strip())
            if not digits:
                continue
            number, is_e164 = to_e164(digits, country_code.strip(), default_region)
            if (number, number_kind) in seen:
                continue
            seen.add((number, number_kind))
            yield DirectoryEntry(number=number, number_kind=number_kind, digits=digits, e164=is_e164,
                                 kind=record.kind, name=record.name, record_id=record.record_id,
                                 client_id=record.client_id, client_name=record.client_name,
                                 title=record.title, archived=record.archived)
