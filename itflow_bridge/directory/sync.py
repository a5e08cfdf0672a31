"""Fill the local directory from ITFlow: ``sync(adapter, store, settings) -> SyncReport``.

JSON API (``/api/v1``): clients, contacts (phone and mobile), locations and
vendors, each read page by page with a large page size (ITFlow's default is
50) and filtered on our side (read endpoints ignore ``client_id``).  Every
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
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from ..errors import ITFlowNotSupported, ITFlowResponseError
from .normalise import digits_only, to_e164
from .store import CALLER_DETAILS, KINDS, DirectoryEntry, DirectoryStore, iter_batches

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # rows per request: ~0.5 MB of JSON for contacts, far below the 2 MB body cap
MAX_ROWS = 200000  # per module: a runaway guard that fails the sync instead of truncating it


@dataclass(frozen=True)
class SyncSettings:
    default_region: str = "US"
    include_archived: bool = False
    page_size: int = PAGE_SIZE
    max_rows: int = MAX_ROWS
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
        return "synced %d numbers from the %s API in %.2f s (%s; %d unparsable kept as digits; %d archived left out)" % (
            self.total, self.generation, self.duration, kinds, self.unparsable, self.skipped_archived)

    def to_dict(self) -> Dict[str, Any]:
        return {"generation": self.generation, "rows": dict(self.rows), "total": self.total,
                "unparsable": self.unparsable, "duration": round(self.duration, 3), "requests": self.requests,
                "skipped_archived": self.skipped_archived, "path": self.path, "notes": list(self.notes)}


def sync(adapter: Any, store: DirectoryStore, settings: SyncSettings = SyncSettings()) -> SyncReport:
    """Read everything ITFlow lets this key see and replace the directory with it."""
    started = time.monotonic()
    generation = getattr(adapter, "generation", "unknown")
    if generation == "v1":
        reader: _Reader = _V1Reader(adapter, settings)
    elif generation == "legacy":
        reader = _LegacyReader(adapter, settings)
    else:
        raise ITFlowNotSupported("cannot build a directory from the %s API" % generation)
    with store.writer() as writer:
        for batch in iter_batches(reader.entries()):
            writer.add(batch)
        duration = time.monotonic() - started
        info = writer.commit(duration=duration, generation=generation,
                             extra={"default_region": settings.default_region,
                                    "include_archived": "1" if settings.include_archived else "0",
                                    CALLER_DETAILS: "1" if _caller_details(adapter) else "0"})
    report = SyncReport(generation=generation, rows=info.rows, unparsable=info.unparsable, duration=duration,
                        requests=reader.requests, skipped_archived=reader.skipped_archived,
                        path=str(store.path), notes=tuple(reader.notes))
    log.info("%s", report.line())
    return report


def _caller_details(adapter: Any) -> bool:
    """Whether the API's own caller lookups say more than a name (the directory's answers match them)."""
    capabilities = getattr(adapter, "capabilities", None)
    return bool(getattr(capabilities, "caller_details", True))


def _str(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _int(value: Any) -> Optional[int]:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number or None  # ITFlow uses 0 for "none"


class _Reader:
    def __init__(self, adapter: Any, settings: SyncSettings):
        self.adapter = adapter
        self.settings = settings
        self.requests = 0
        self.skipped_archived = 0
        self.notes: List[str] = []

    def entries(self) -> Iterator[DirectoryEntry]:
        raise NotImplementedError

    def _numbers(self, row: Mapping[str, Any], columns: Iterable[Tuple[str, str, str]],
                 **fields: Any) -> Iterator[DirectoryEntry]:
        """One entry per non-empty (number column, country-code column, office|mobile)."""
        seen = set()
        for number_column, code_column, number_kind in columns:
            digits = digits_only(_str(row.get(number_column)))
            if not digits:
                continue
            number, is_e164 = to_e164(digits, _str(row.get(code_column)), self.settings.default_region)
            if (number, number_kind) in seen:
                continue
            seen.add((number, number_kind))
            yield DirectoryEntry(number=number, number_kind=number_kind, digits=digits, e164=is_e164, **fields)


class _V1Reader(_Reader):
    def entries(self) -> Iterator[DirectoryEntry]:
        clients = {}
        archived_clients = set()
        for row in self._read_all("clients", "client_id"):
            client_id = _int(row.get("client_id"))
            if client_id is None:
                continue
            clients[client_id] = _str(row.get("client_name"))
            if row.get("client_archived_at"):
                archived_clients.add(client_id)
            # Older schemas kept a phone on the client itself.
            if row.get("client_phone") and self._keep(row.get("client_archived_at")):
                yield from self._numbers(row, [("client_phone", "client_phone_country_code", "office")],
                                         kind="client", name=clients[client_id], record_id=client_id,
                                         client_id=client_id, client_name=clients[client_id],
                                         archived=bool(row.get("client_archived_at")))

        def owner(client_id: Optional[int]) -> Tuple[str, bool]:
            return (clients.get(client_id, "") if client_id else ""), client_id in archived_clients

        for row in self._read_all("contacts", "contact_id"):
            client_id = _int(row.get("contact_client_id"))
            client_name, client_archived = owner(client_id)
            archived = bool(row.get("contact_archived_at")) or client_archived
            if not self._keep(archived):
                continue
            yield from self._numbers(
                row, [("contact_phone", "contact_phone_country_code", "office"),
                      ("contact_mobile", "contact_mobile_country_code", "mobile")],
                kind="contact", name=_str(row.get("contact_name")), record_id=_int(row.get("contact_id")),
                client_id=client_id, client_name=client_name, title=_str(row.get("contact_title")),
                archived=archived)

        for row in self._read_all("locations", "location_id"):
            client_id = _int(row.get("location_client_id"))
            client_name, client_archived = owner(client_id)
            archived = bool(row.get("location_archived_at")) or client_archived
            if not self._keep(archived):
                continue
            yield from self._numbers(
                row, [("location_phone", "location_phone_country_code", "office")],
                kind="location", name=_str(row.get("location_name")), record_id=_int(row.get("location_id")),
                client_id=client_id, client_name=client_name, title=_str(row.get("location_description")),
                archived=archived)

        for row in self._read_all("vendors", "vendor_id"):
            client_id = _int(row.get("vendor_client_id"))  # 0: a vendor of the MSP itself
            client_name, client_archived = owner(client_id)
            archived = bool(row.get("vendor_archived_at")) or client_archived
            if not self._keep(archived) or _int(row.get("vendor_template")):
                continue
            yield from self._numbers(
                row, [("vendor_phone", "vendor_phone_country_code", "office")],
                kind="vendor", name=_str(row.get("vendor_name")), record_id=_int(row.get("vendor_id")),
                client_id=client_id, client_name=client_name, title=_str(row.get("vendor_description")),
                archived=archived)

    def _keep(self, archived: Any) -> bool:
        if archived and not self.settings.include_archived:
            self.skipped_archived += 1
            return False
        return True

    def _read_all(self, module: str, id_column: str) -> Iterator[Dict[str, Any]]:
        """Every row of a module, page by page until a short or empty page.

        Our own loop over the adapter's ``read_page`` rather than ``read_all``: a
        large page size, rows seen twice (a row added while paging shifts the
        offsets) are skipped, and too many rows fail the sync instead of
        silently truncating the directory.
        """
        size = self.settings.page_size
        seen = set()
        offset = 0
        while True:
            rows = self.adapter.read_page(module, {"limit": size, "offset": offset}, timeout=self.settings.timeout)
            self.requests += 1
            for row in rows:
                key = row.get(id_column)
                if key is not None and key in seen:
                    continue
                seen.add(key)
                yield row
            if len(rows) < size:
                return
            offset += size
            if offset >= self.settings.max_rows:
                raise ITFlowResponseError(
                    "ITFlow listed more than %d %s: refusing to build a truncated directory" %
                    (self.settings.max_rows, module))


class _LegacyReader(_Reader):
    def entries(self) -> Iterator[DirectoryEntry]:
        book = self.adapter.phonebook(timeout=self.settings.timeout)
        self.requests += 1
        primaries = self._primary_contacts()
        for position, item in enumerate(book):
            if item.group == "vendor":
                yield from self._numbers({"phone": item.number}, [("phone", "", "office")],
                                         kind="vendor", name=item.name)
                continue
            extra = primaries.get((item.name, digits_only(item.number)), {})
            yield from self._numbers({"phone": item.number, "mobile": extra.get("mobile", "")},
                                     [("phone", "", "office"), ("mobile", "", "mobile")],
                                     kind="contact", name=item.name, client_name=extra.get("client_name", ""))

    def _primary_contacts(self) -> Dict[Tuple[str, str], Dict[str, str]]:
        """Client names and mobiles of primary contacts, when the site answers that action."""
        try:
            rows = self.adapter.primary_contact_numbers(timeout=self.settings.timeout)
        except Exception as exc:  # an extra: its failure must not fail the sync
            self.notes.append("primary_contact_numbers unavailable (%s): no client names or mobiles"
                              % type(exc).__name__)
            return {}
        finally:
            self.requests += 1
        return {(row["contact_name"], digits_only(row["phone"])): row for row in rows}
