"""The JSON API ``/api/v1/{module}/{function}.php`` of current ITFlow.

Requests, answers and paging are ``v1_reader``'s (shared with the script
API).  Quirks this adapter absorbs: read endpoints ignore ``client_id`` so we
filter ourselves; there is no payments endpoint, so a balance is only exact
when no unpaid invoice is part-paid.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, TypeVar, cast

from cachetools import TTLCache

from ..core.errors import ITFlowNotSupported, ITFlowResponseError
from ..core.models import Balance, CallerMatch, Capabilities, Client, Contact, ListingStats, PhoneRecord
from .base import ITFlowAdapter, check_lookup_digits
from .http import ITFlowHTTP
from .v1_reader import RawRow, V1Reader, read_all

ListingT = TypeVar("ListingT")
# Invoice statuses that still leave money owed.  Paid, Draft, Cancelled, Non-Billable do not.
UNPAID_STATUSES = ("sent", "viewed", "partial", "overdue")
LISTING_TTL = 900.0  # seconds a locations/vendors phone listing is reused


def _int(value: Any) -> Optional[int]:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str:
    return "" if value is None else str(value)


MAX_AMOUNT = Decimal(10) ** 15  # ITFlow's DECIMAL(15,2) columns hold less than this


def _decimal(value: Any) -> Decimal:
    """An amount column; NaN, infinities and absurd magnitudes are a broken answer, not money."""
    try:
        amount = Decimal(_str(value) or "0")
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise ITFlowResponseError("unexpected amount %r in ITFlow's answer" % _str(value)[:40])
    return amount


def _currency_code(value: Any) -> Optional[str]:
    """An ISO 4217 code, or None for anything else (then the configured default applies)."""
    code = _str(value).strip().upper()
    return code if len(code) == 3 and code.isascii() and code.isalpha() else None


def _phones(row: Mapping[str, Any], kind: str, which: Tuple[str, ...]) -> Tuple[Tuple[str, str, str], ...]:
    """``(number, country code, office|mobile)`` of a row's ``{kind}_phone`` / ``{kind}_mobile`` columns."""
    return tuple((_str(row.get("%s_%s" % (kind, name))), _str(row.get("%s_%s_country_code" % (kind, name))),
                  "mobile" if name == "mobile" else "office") for name in which)


def contact_from_row(row: Mapping[str, Any]) -> Contact:
    return Contact(
        id=_int(row.get("contact_id")) or 0,
        name=_str(row.get("contact_name")).strip(),
        client_id=_int(row.get("contact_client_id")),
        phone=_str(row.get("contact_phone")),
        mobile=_str(row.get("contact_mobile")),
        pin=_str(row.get("contact_pin")),
        email=_str(row.get("contact_email")),
        primary=_str(row.get("contact_primary")) == "1",
        archived=bool(row.get("contact_archived_at")),
    )


def client_from_row(row: Mapping[str, Any]) -> Client:
    return Client(
        id=_int(row.get("client_id")) or 0,
        name=_str(row.get("client_name")).strip(),
        currency=_currency_code(row.get("client_currency_code")),
        archived=bool(row.get("client_archived_at")),
    )


class V1Adapter(ITFlowAdapter):
    generation = "v1"
    api_name = "JSON (/api/v1)"
    capabilities = Capabilities(
        caller_names="contacts with client names, locations and vendors",
        balance="from invoices; unavailable for clients with a part-paid invoice (no payments in the API)",
        confirms_clients=True,
        verifies_callers=True,
    )

    def __init__(self, http: ITFlowHTTP, *, clock: Callable[[], float] = time.monotonic):
        self.http = http
        self.reader = V1Reader(http)
        self._listings_lock = threading.Lock()
        self._listings: "TTLCache[str, Any]" = TTLCache(maxsize=8, ttl=LISTING_TTL, timer=clock)
        self._building: "Dict[str, Future[Any]]" = {}  # listings being read now, shared by all who need them

    # --- reads, through the JSON API's one reader ------------------------------

    def read_page(self, module: str, params: Mapping[str, Any], *, timeout: Optional[float] = None) -> List[RawRow]:
        """One page of rows; an empty list for ITFlow's "no resource" answer."""
        return self.reader.read_page(module, params, timeout=timeout)

    def read_all(self, module: str, params: Optional[Mapping[str, Any]] = None, *,
                 timeout: Optional[float] = None, page_size: Optional[int] = None, max_rows: Optional[int] = None,
                 id_column: Optional[str] = None, stats: Optional[ListingStats] = None) -> Iterator[RawRow]:
        """Every row of ``module``, paged by the reader's rule over ``read_page``."""
        return read_all(lambda page: self.read_page(module, page, timeout=timeout), module, params,
                        page_size=page_size, max_rows=max_rows, id_column=id_column, stats=stats)

    # --- the adapter interface ------------------------------------------------

    def verify_key(self, *, timeout: Optional[float] = None) -> None:
        self.read_page("clients", {"limit": 1}, timeout=timeout)

    def find_caller(self, digits: str, *, timeout: Optional[float] = None) -> Optional[CallerMatch]:
        check_lookup_digits(digits)
        rows = self.read_page("contacts", {"contact_phone_or_mobile": digits}, timeout=timeout)
        if rows:
            contact = contact_from_row(rows[0])
            client = self.get_client(contact.client_id, timeout=timeout) if contact.client_id else None
            return CallerMatch(
                name=contact.name,
                kind="contact",
                client_id=contact.client_id,
                client_name=client.name if client else None,
                contact_name=contact.name,
                matched_number=digits,
                contact_id=contact.id,
            )
        hit = self._phone_listing(timeout).get(digits)
        if hit is None:
            return None
        kind, name, client_id = hit
        client = self.get_client(client_id, timeout=timeout) if client_id else None
        return CallerMatch(
            name=name,
            kind=kind,
            client_id=client_id,
            client_name=client.name if client else None,
            matched_number=digits,
        )

    def get_client(self, client_id: int, *, timeout: Optional[float] = None) -> Optional[Client]:
        # ITFlow ignores client_id on reads, so the filter is ours, on a cached listing
        # (read again once on a miss, so a client added since is found).
        clients, just_read = self._shared_listing("clients", self._build_clients, timeout)
        client = clients.get(int(client_id))
        if client is None and not just_read:
            client = self._listing("clients", self._build_clients, timeout, stale=clients).get(int(client_id))
        return client

    def client_contacts(self, client_id: int, *, timeout: Optional[float] = None) -> List[Contact]:
        return [
            contact
            for contact in map(contact_from_row, self.read_all("contacts", timeout=timeout))
            if contact.client_id == int(client_id)
        ]

    def client_phone_numbers(self, client_id: int, *, timeout: Optional[float] = None) -> List[str]:
        numbers = []
        for contact in self.client_contacts(client_id, timeout=timeout):
            numbers += [contact.phone, contact.mobile]
        for row in self.read_all("locations", timeout=timeout):
            if _int(row.get("location_client_id")) == int(client_id):
                numbers.append(_str(row.get("location_phone")))
        return [n for n in numbers if n]

    def phone_records(self, stats: ListingStats, *, timeout: Optional[float] = None,
                      page_size: Optional[int] = None, max_rows: Optional[int] = None) -> Iterator[PhoneRecord]:
        """Clients, contacts (phone and mobile), locations and vendors, paged, archived ones flagged."""

        def every(module: str) -> Iterator[RawRow]:
            return self.read_all(module, timeout=timeout, page_size=page_size, max_rows=max_rows,
                                 id_column=module[:-1] + "_id", stats=stats)

        clients: Dict[int, Tuple[str, bool]] = {}
        for row in every("clients"):
            client_id = _int(row.get("client_id"))
            if not client_id:
                continue
            clients[client_id] = (_str(row.get("client_name")).strip(), bool(row.get("client_archived_at")))
            if row.get("client_phone"):  # older schemas kept a phone on the client itself
                yield PhoneRecord("client", clients[client_id][0], _phones(row, "client", ("phone",)),
                                  record_id=client_id, client_id=client_id, client_name=clients[client_id][0],
                                  archived=clients[client_id][1])
        for module, kind, phones, title in (("contacts", "contact", ("phone", "mobile"), "contact_title"),
                                            ("locations", "location", ("phone",), "location_description"),
                                            ("vendors", "vendor", ("phone",), "vendor_description")):
            for row in every(module):
                if kind == "vendor" and _int(row.get("vendor_template")):
                    continue  # a template for new vendors, not a vendor
                client_id = _int(row.get(kind + "_client_id")) or None  # 0: the MSP's own vendor
                client_name, client_archived = clients.get(client_id or 0, ("", False))
                yield PhoneRecord(kind, _str(row.get(kind + "_name")).strip(), _phones(row, kind, phones),
                                  record_id=_int(row.get(kind + "_id")), client_id=client_id,
                                  client_name=client_name, title=_str(row.get(title)).strip(),
                                  archived=bool(row.get(kind + "_archived_at")) or client_archived)

    def get_balance(self, client_id: int, *, timeout: Optional[float] = None) -> Optional[Balance]:
        """Sum of the client's unpaid invoices, only when that is the exact balance.

        Without a payments endpoint a part-paid invoice makes the sum wrong, and
        an overpayment (a credit) is invisible: both give None, never a guess.
        """
        client = self.get_client(client_id, timeout=timeout)
        if client is None:
            return None
        total = Decimal("0.00")
        for row in self.read_all("invoices", timeout=timeout):
            if _int(row.get("invoice_client_id")) != client.id:
                continue
            status = _str(row.get("invoice_status")).strip().lower()
            if status == "partial":
                raise ITFlowNotSupported(
                    "client %d has a part-paid invoice; the JSON API has no payments, so the exact "
                    "balance cannot be known" % client.id
                )
            if status in UNPAID_STATUSES:
                total += _decimal(row.get("invoice_amount"))
        return Balance(client_id=client.id, amount=total.quantize(Decimal("0.01")), currency=client.currency,
                       client_name=client.name)

    # --- listings reused for LISTING_TTL: clients by id, and phones of locations and
    # vendors (they have no phone filter, so we match on our side)

    def _listing(self, name: str, build: Callable[[Optional[float]], ListingT], timeout: Optional[float],
                 stale: Optional[ListingT] = None) -> ListingT:
        """The cached listing ``name``, else built once however many lookups need it meanwhile.

        Concurrent callers share one build (a shared future): 20 cold misses at
        once read each listing once, and a failed build fails them all alike
        instead of each asking ITFlow in turn.  ``stale``: that copy is known
        to be out of date, so it is read again (once, however many ask).
        """
        return self._shared_listing(name, build, timeout, stale)[0]

    def _shared_listing(self, name: str, build: Callable[[Optional[float]], ListingT], timeout: Optional[float],
                        stale: Optional[ListingT] = None) -> Tuple[ListingT, bool]:
        """``_listing``, and whether it was read from ITFlow during this call."""
        with self._listings_lock:
            cached = self._listings.get(name)
            if cached is not None and cached is not stale:
                return cast(ListingT, cached), False
            building = self._building.get(name)
            owner = building is None
            if building is None:
                building = self._building[name] = Future()
                self._listings.pop(name, None)
        if not owner:
            return cast(ListingT, building.result()), True
        try:
            value = build(timeout)
        except BaseException as exc:
            with self._listings_lock:
                del self._building[name]
            building.set_exception(exc)
            raise
        with self._listings_lock:
            self._listings[name] = value
            del self._building[name]
        building.set_result(value)
        return value, True

    def _build_clients(self, timeout: Optional[float]) -> Dict[int, Client]:
        clients = map(client_from_row, self.read_all("clients", timeout=timeout))
        return {client.id: client for client in clients}

    def _phone_listing(self, timeout: Optional[float]) -> Dict[str, Tuple[str, str, Optional[int]]]:
        return self._listing("phones", self._build_phones, timeout)

    def _build_phones(self, timeout: Optional[float]) -> Dict[str, Tuple[str, str, Optional[int]]]:
        listing: Dict[str, Tuple[str, str, Optional[int]]] = {}
        for row in self.read_all("vendors", timeout=timeout):
            phone = _str(row.get("vendor_phone"))
            if phone:
                listing.setdefault(phone, ("vendor", _str(row.get("vendor_name")).strip(), None))
        for row in self.read_all("locations", timeout=timeout):
            phone = _str(row.get("location_phone"))
            if phone:  # locations win over vendors, as in the legacy lookup order
                listing[phone] = ("location", _str(row.get("location_name")).strip(),
                                  _int(row.get("location_client_id")))
        return listing
