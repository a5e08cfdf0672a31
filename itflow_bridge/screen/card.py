"""The caller's card on an agent's page: who it is at once, what ITFlow adds when it answers.

The page never waits on ITFlow to say who is calling: the name, title and
client come from the local directory (a local sqlite read).  The client's open
tickets, the contact's "important" flag and, when allowed, the balance are
fetched in the background, single-flight per client (five phones of a ring
group ringing cost one fetch), kept a short while (``TTLCache``) and pushed to
the pages when they arrive.  A fetch that fails, or takes longer than the
budget, shows "ITFlow unreachable" on the card; one that lands late still fills
it in.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from cachetools import TTLCache

from ..calls.callers import CLIENT_KINDS
from ..calls.tickets import OPEN_STATUSES
from ..core.itflow_pages import CLIENT_TICKETS_PAGE, CONTACTS_PAGE, TICKET_PAGE, client_url, page_url
from ..core.redact import redact
from ..services.budget import SingleFlight
from ..services.numbers import directory_keys, lookup_number
from ..storage.directory_file import DirectoryEntry

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ..api.typed import ITFlowAPI
    from ..app import Bridge

log = logging.getLogger(__name__)

LOADING = "loading"  # card statuses: what the page says about ITFlow's part
READY = "ready"
UNREACHABLE = "unreachable"
NOT_IN_ITFLOW = "not_in_itflow"
NOT_FETCHED = "not_fetched"  # a past call's card: the directory's part only

FETCH_BUDGET = 4.0  # seconds before the card says ITFlow is unreachable (the fetch goes on)
DETAILS_TTL = 120.0  # seconds a client's tickets and balance are shown without asking again
FAILURE_TTL = 15.0  # seconds a failed fetch is not retried (a ringing queue must not hammer a down ITFlow)
CACHED_CLIENTS = 2000
LATEST_TICKETS = 5

Card = Dict[str, Any]  # JSON-ready
FindCaller = Callable[[str], Optional[DirectoryEntry]]


@dataclass(frozen=True)
class OpenTicket:
    ticket_id: int
    number: str  # "TCK-12"
    subject: str
    contact_id: Optional[int] = None


@dataclass(frozen=True)
class Details:
    """What ITFlow adds to a card."""

    open_tickets: Tuple[OpenTicket, ...] = ()  # newest first
    important: Optional[bool] = None  # the contact's flag; None: no contact, or not read
    balance: Optional[str] = None  # "USD 120.00"; None: not shown
    extra: Dict[str, Any] = field(default_factory=dict)


Fetch = Callable[[int, Optional[int]], Details]  # (client id, contact id) -> details


class CardService:
    """Cards by caller number; ``on_update(card)`` is called when ITFlow's part arrives or is given up."""

    def __init__(self, find: FindCaller, fetch: Fetch, itflow_url: str, *, budget: float = FETCH_BUDGET,
                 ttl: float = DETAILS_TTL, failure_ttl: float = FAILURE_TTL,
                 on_update: Optional[Callable[[Card], None]] = None):
        self.find = find
        self.fetch = fetch
        self.itflow_url = itflow_url
        self.budget = budget
        self.on_update = on_update
        self._details: "TTLCache[Tuple[int, Optional[int]], Details]" = TTLCache(CACHED_CLIENTS, ttl)
        self._failures: "TTLCache[Tuple[int, Optional[int]], str]" = TTLCache(CACHED_CLIENTS, failure_ttl)
        self._late: "set[Tuple[int, Optional[int]]]" = set()
        self._lock = threading.Lock()
        self._flights = SingleFlight(workers=8, name="agent-card")
        self._waiting: Dict[Tuple[int, Optional[int]], List[str]] = {}  # numbers to update when a fetch ends

    def card(self, number: str, fetch: bool = True) -> Card:
        """The card now (from the directory, ITFlow's part if known); ``fetch``: start fetching that part if missing."""
        card = self._known(number)
        key = self._key(card)
        if key is None:
            return card
        with self._lock:
            details = self._details.get(key)
            failure = self._failures.get(key)
            late = key in self._late
        if details is not None:
            return self._with(card, READY, details)
        if failure is not None:
            return dict(card, status=UNREACHABLE, problem=failure)
        if not fetch:
            return dict(card, status=NOT_FETCHED)
        self._start(key, number)
        return dict(card, status=UNREACHABLE, problem="no answer from ITFlow yet") if late else card

    def wait_idle(self, timeout: float) -> None:
        self._flights.wait_idle(timeout)

    # --- the directory part -------------------------------------------------------

    def _known(self, number: str) -> Card:
        base = self.itflow_url
        card: Card = {"number": number, "known": False, "status": NOT_IN_ITFLOW,
                      "links": {"add_contact": page_url(base, CONTACTS_PAGE)} if base else {}}
        try:
            entry = self.find(number) if number else None
        except Exception as exc:  # an unreadable directory shows the number, never no page
            log.warning("agent screen: directory lookup failed: %s", redact(exc))
            entry = None
        if entry is None or not entry.client_id or entry.kind not in CLIENT_KINDS:
            return card
        contact = entry.kind == "contact"
        links = {}
        if base:
            links = {"client": client_url(base, entry.client_id),
                     "new_ticket": page_url(base, CLIENT_TICKETS_PAGE, client_id=entry.client_id)}
        card.update(known=True, status=LOADING, client_id=entry.client_id, client_name=entry.client_name,
                    contact_id=entry.record_id if contact else None, name=entry.name if contact else "",
                    title=entry.title if contact else "", kind=entry.kind, links=links)
        return card

    @staticmethod
    def _key(card: Card) -> Optional[Tuple[int, Optional[int]]]:
        if not card.get("known"):
            return None
        return int(card["client_id"]), card.get("contact_id")

    def _with(self, card: Card, status: str, details: Details) -> Card:
        base = self.itflow_url
        tickets = [{"id": ticket.ticket_id, "number": ticket.number, "subject": ticket.subject,
                    "link": page_url(base, TICKET_PAGE, ticket_id=ticket.ticket_id) if base else ""}
                   for ticket in details.open_tickets[:LATEST_TICKETS]]
        return dict(card, status=status, open_tickets=len(details.open_tickets), tickets=tickets,
                    important=details.important, balance=details.balance)

    # --- the ITFlow part ----------------------------------------------------------

    def _start(self, key: Tuple[int, Optional[int]], number: str) -> None:
        with self._lock:
            numbers = self._waiting.setdefault(key, [])
            first = not numbers
            if number not in numbers:
                numbers.append(number)
        if not first:
            return
        future = self._flights.start("card:%d:%s" % key, lambda: self.fetch(*key))
        timer = threading.Timer(self.budget, self._overdue, args=(key, future))
        timer.daemon = True
        timer.start()
        future.add_done_callback(lambda done: self._arrived(key, done, timer))

    def _overdue(self, key: Tuple[int, Optional[int]], future: "Future[Details]") -> None:
        if future.done():
            return
        with self._lock:
            self._late.add(key)
            numbers = list(self._waiting.get(key, ()))
        log.info("agent screen: ITFlow gave no details of client %d within %.1f s", key[0], self.budget)
        self._notify(numbers)

    def _arrived(self, key: Tuple[int, Optional[int]], future: "Future[Details]", timer: threading.Timer) -> None:
        timer.cancel()
        try:
            details = future.result()
        except Exception as exc:
            problem = redact(exc)
            log.warning("agent screen: details of client %d unavailable: %s", key[0], problem)
            with self._lock:
                self._failures[key] = "ITFlow unreachable: %s" % problem
        else:
            with self._lock:
                self._details[key] = details
        with self._lock:
            self._late.discard(key)
            numbers = self._waiting.pop(key, [])
        self._notify(numbers)

    def _notify(self, numbers: List[str]) -> None:
        if self.on_update is None:
            return
        for number in numbers:
            try:
                self.on_update(self.card(number))
            except Exception:
                log.exception("agent screen: a card update failed")


# --- wiring for a bridge ------------------------------------------------------------------


def is_open(row: Any) -> bool:
    try:
        status = int(row.get("ticket_status"))
    except (TypeError, ValueError):
        status = 0
    return row.get("ticket_resolved_at") is None and row.get("ticket_closed_at") is None and status in OPEN_STATUSES


def _optional_id(value: Any) -> Optional[int]:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def itflow_fetch(api: "ITFlowAPI", balance: Optional[Callable[[int], Optional[str]]] = None) -> Fetch:
    """``fetch(client_id, contact_id)`` over the JSON API: open tickets, the contact's flag, the balance."""

    def fetch(client_id: int, contact_id: Optional[int]) -> Details:
        rows = [row for row in api.tickets.read(client_id=client_id) if is_open(row)]
        tickets = sorted((OpenTicket(int(row["ticket_id"]), "%s%s" % (row.get("ticket_prefix") or "",
                                                                        row.get("ticket_number") or ""),
                                     str(row.get("ticket_subject") or ""), _optional_id(row.get("ticket_contact_id")))
                          for row in rows), key=lambda ticket: -ticket.ticket_id)
        important = None
        if contact_id:
            important = str(api.contacts.get(contact_id).get("contact_important") or "0") == "1"
        return Details(tuple(tickets), important, balance(client_id) if balance is not None else None)

    return fetch


def directory_finder(bridge: "Bridge") -> FindCaller:
    """``find(number)`` in this bridge's local directory (as the caller-ID lookup cleans numbers)."""
    settings = bridge.config.callerid

    def find(raw: str) -> Optional[DirectoryEntry]:
        number = lookup_number(raw, settings.min_digits)
        directory = bridge.directory() if number else None
        if number is None or directory is None:
            return None
        for key in directory_keys(number, settings.default_region):
            for entry in directory.find_all(key):
                if entry.kind in CLIENT_KINDS and entry.client_id and not entry.archived:
                    return entry
        return None

    return find


def balance_text(bridge: "Bridge") -> Callable[[int], Optional[str]]:
    """The client's balance as the card shows it ("USD 120.00"), None when it cannot be said exactly."""
    from ..core.statuses import BalanceOutcome

    service = bridge.balance

    def text(client_id: int) -> Optional[str]:
        answer = service.balance(client_id)
        if answer.status is not BalanceOutcome.OK or answer.amount is None:
            return None
        currency = answer.currency or bridge.config.balance.default_currency
        return "%s %s" % (currency, answer.amount.quantize(Decimal("0.01")))

    return text
