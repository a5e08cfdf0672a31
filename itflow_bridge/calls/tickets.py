"""Calls become ITFlow tickets and replies, through the outbox.

``TicketPlanner`` decides, for one finished call of a known client, which
writes to make (a ticket, a reply to the client's open ticket) and adds them
to the outbox; ``TicketWriter`` sends them with the JSON API and, for an entry
a killed process left uncertain, finds the one ITFlow already has by its
marker line ``Call ID: <key>`` (in the ticket's details, or the reply).

Which ticket is open comes from ITFlow (the listing, filtered here: reads
ignore ``client_id``) and from the outbox's own entries, so that a ticket still
waiting in the outbox is replied to rather than doubled.
"""

from __future__ import annotations

import datetime as _dt
import html
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from ..api.typed import ITFlowAPI
from ..core.config import CallsSettings
from ..core.errors import ITFlowError
from .outbox import DONE, FAILED, Delivered, Entry, Outbox, Refused, Writer

log = logging.getLogger(__name__)

MISSED = "missed"
VOICEMAIL = "voicemail"
ANSWERED = "answered"
OUTCOMES = (MISSED, VOICEMAIL, ANSWERED)

TICKET = "ticket"  # outbox actions
REPLY = "reply"
RESOLVED_STATUS = 4  # ITFlow's "Resolved" (ticket_statuses of every new ITFlow)
OPEN_STATUSES = (1, 2, 3)  # New, Open, On Hold
MARKER = "Call ID: "
# Seconds one read of ITFlow's clients listing answers the client check of new tickets: ITFlow reads no
# single client, so checking each ticket on its own read the whole listing per ticket.
CLIENTS_FRESH = 60.0


@dataclass(frozen=True)
class CallForTickets:
    """One finished inbound call of a known client, as the call classification hands it over."""

    call_id: str  # Asterisk's linkedid: one per call, whatever transfers happened
    client_id: int
    client_name: str
    outcome: str  # MISSED, VOICEMAIL or ANSWERED
    when: _dt.datetime
    contact_id: Optional[int] = None
    contact_name: str = ""
    caller_number: str = ""
    caller_name: str = ""
    dialled: str = ""
    rang_where: str = ""  # the extensions or queue that rang
    rang_seconds: int = 0
    voicemail_link: str = ""
    voicemail_seconds: int = 0
    answered_by: str = ""
    talk_seconds: int = 0


def entry_key(call_id: str, action: str) -> str:
    """The idempotency key of one write of one call: the same call and action give the same entry."""
    if not call_id or any(ch in call_id for ch in "\r\n"):
        raise ValueError("a call id is one line of text")
    return "%s/%s" % (call_id, action)


def marker(key: str) -> str:
    return MARKER + key


def carries_marker(text: Optional[str], key: str) -> bool:
    """Whether ``text`` (details or a reply, as ITFlow stores them) has the marker line of ``key``."""
    if not text:
        return False
    return re.search(re.escape(marker(key)) + r"(?![\w/.:-])", html.unescape(str(text))) is not None


def time_worked(seconds: int, step_minutes: int) -> str:
    """Talk time rounded up to the step, as ITFlow's ``HH:MM:SS``; a call that was talked is one step at least."""
    if seconds <= 0:
        return "00:00:00"
    step = step_minutes * 60
    total = int(math.ceil(seconds / float(step))) * step
    return "%02d:%02d:00" % (total // 3600, total % 3600 // 60)


def _clock(when: _dt.datetime) -> str:
    return when.strftime("%H:%M")


def _lines(*lines: str) -> str:
    """ITFlow shows details and replies as HTML: one line each, values escaped."""
    return "<br>\n".join(lines)


def _text(value: str) -> str:
    """Text inside ITFlow's HTML: markup escaped, quotes kept (``O'Brien``, not ``O&#x27;Brien``)."""
    return html.escape(value, quote=False)


def _listen(where: str) -> str:
    """A link to the message as ITFlow renders it (details and replies are HTML), or where it is."""
    if not where:
        return ""
    if where.startswith(("http://", "https://")):
        return ': <a href="%s">listen</a>' % html.escape(where, quote=True)
    return ": " + _text(where)


def _who(call: CallForTickets) -> str:
    return call.contact_name or call.caller_name or call.caller_number or "unknown caller"


@dataclass(frozen=True)
class OpenTicket:
    ticket_id: int
    contact_id: Optional[int]
    key: Optional[str] = None  # the outbox entry that makes it, while ITFlow may not have it yet


class TicketPlanner:
    """Turns a ``CallForTickets`` into outbox entries, per the ``[calls]`` settings."""

    def __init__(self, settings: CallsSettings, outbox: Outbox, api: Optional[ITFlowAPI] = None):
        self.settings = settings
        self.outbox = outbox
        self.api = api

    def plan(self, call: CallForTickets) -> List[Entry]:
        """Add this call's writes to the outbox (again for a call already planned: the same entries)."""
        if call.outcome not in OUTCOMES:
            raise ValueError("unknown call outcome %r" % call.outcome)
        done = [entry for entry in (self.outbox.get(entry_key(call.call_id, a)) for a in (
            call.outcome, call.outcome + "-time")) if entry is not None]
        if done:
            return done
        if call.outcome == MISSED:
            return [self._missed(call)]
        if call.outcome == VOICEMAIL:
            return [self._voicemail(call)]
        return self._answered(call)

    # --- per outcome --------------------------------------------------------------------

    def _missed(self, call: CallForTickets) -> Entry:
        key = entry_key(call.call_id, MISSED)
        recent = self._recent_missed_ticket(call)
        if recent is not None:
            text = "%s called again at %s, rang %d s%s." % (
                _text(_who(call)), _clock(call.when), call.rang_seconds,
                (" (" + _text(call.rang_where) + ")") if call.rang_where else "")
            return self._reply(key, call, recent, text)
        return self._ticket(key, call, self._subject(call), self._details(call, "Missed call"))

    def _voicemail(self, call: CallForTickets) -> Entry:
        key = entry_key(call.call_id, VOICEMAIL)
        about = "Voicemail of %d s%s" % (call.voicemail_seconds, _listen(call.voicemail_link))
        recent = self._recent_missed_ticket(call)
        if recent is not None:
            text = "%s left a voicemail at %s. %s." % (_text(_who(call)), _clock(call.when), about)
            return self._reply(key, call, recent, text)
        subject = "Voicemail from %s (%s)" % (_who(call), call.client_name)
        return self._ticket(key, call, subject, self._details(call, about))

    def _answered(self, call: CallForTickets) -> List[Entry]:
        mode = self.settings.answered
        if mode == "off":
            return []
        worked = time_worked(call.talk_seconds, self.settings.time_step)
        text = "Call at %s answered by %s, %d s." % (
            _clock(call.when), _text(call.answered_by or "the team"), call.talk_seconds)
        key = entry_key(call.call_id, ANSWERED)
        open_tickets = self._open_tickets(call)
        if len(open_tickets) == 1:
            return [self._reply(key, call, open_tickets[0], text, worked=worked)]
        if mode != "ticket":
            return []
        subject = "Call from %s (%s)" % (_who(call), call.client_name)
        ticket = self._ticket(key, call, subject, self._details(call, text))
        time_key = entry_key(call.call_id, ANSWERED + "-time")
        resolve = self.outbox.add(time_key, REPLY, {
            "client_id": call.client_id, "ticket_reply": _lines(text, marker(time_key)),
            "ticket_reply_time_worked": worked, "ticket_status": RESOLVED_STATUS}, parent=ticket.key)
        return [ticket, resolve]

    # --- entries ------------------------------------------------------------------------

    def _ticket(self, key: str, call: CallForTickets, subject: str, details: str) -> Entry:
        payload: Dict[str, Any] = {
            "client_id": call.client_id, "ticket_subject": subject.replace("\r", " ").replace("\n", " "),
            "ticket_details": _lines(details, marker(key)), "ticket_priority": self.settings.priority,
            "ticket_billable": 1 if self.settings.billable else 0, "when": call.when.isoformat()}
        if call.contact_id:
            payload["ticket_contact_id"] = call.contact_id
        return self.outbox.add(key, TICKET, payload)

    def _reply(self, key: str, call: CallForTickets, ticket: OpenTicket, text: str, worked: str = "") -> Entry:
        payload: Dict[str, Any] = {"client_id": call.client_id, "ticket_reply": _lines(text, marker(key))}
        if worked:
            payload["ticket_reply_time_worked"] = worked
        if ticket.key is None:
            payload["ticket_id"] = ticket.ticket_id
        return self.outbox.add(key, REPLY, payload, parent=ticket.key)

    def _subject(self, call: CallForTickets) -> str:
        return self.settings.subject_template.format(
            client=call.client_name, contact=_who(call), name=call.caller_name, number=call.caller_number)

    @staticmethod
    def _details(call: CallForTickets, what: str) -> str:
        rows = [what, "From: %s %s" % (_text(_who(call)), _text(call.caller_number)),
                "At: %s" % call.when.strftime("%Y-%m-%d %H:%M")]
        if call.dialled:
            rows.append("Dialled: %s" % _text(call.dialled))
        if call.rang_where or call.rang_seconds:
            rows.append("Rang: %s%d s" % (_text(call.rang_where) + ", " if call.rang_where else "",
                                          call.rang_seconds))
        return _lines(*rows)

    # --- which ticket is open -------------------------------------------------------------

    def _recent_missed_ticket(self, call: CallForTickets) -> Optional[OpenTicket]:
        """The client's ticket for a missed call within ``repeat_window`` before this one, if still open."""
        window = self.settings.repeat_window
        if window <= 0:
            return None
        for entry in reversed(self.outbox.client_entries(call.client_id, TICKET)):
            if entry.state == FAILED or not entry.key.endswith("/" + MISSED):
                continue
            made = _dt.datetime.fromisoformat(str(entry.payload.get("when")))
            if not 0 <= _seconds_between(made, call.when) <= window:
                continue
            if entry.state != DONE or entry.ticket_id is None:
                return OpenTicket(0, entry.payload.get("ticket_contact_id"), key=entry.key)
            open_ids = self._open_in_itflow(call.client_id)
            if open_ids is None or entry.ticket_id in {t.ticket_id for t in open_ids}:
                return OpenTicket(entry.ticket_id, entry.payload.get("ticket_contact_id"), key=entry.key)
            return None
        return None

    def _open_tickets(self, call: CallForTickets) -> List[OpenTicket]:
        """The caller's open tickets (the contact's when known, else the client's): ITFlow's and the outbox's."""
        found: Dict[Any, OpenTicket] = {}
        in_itflow = self._open_in_itflow(call.client_id) or []
        for ticket in in_itflow:
            found[ticket.ticket_id] = ticket
        # A ticket an answered call makes is resolved by its own reply: not open, even before it is sent.
        resolved = {entry.parent for entry in self.outbox.client_entries(call.client_id, REPLY)
                    if entry.parent and entry.payload.get("ticket_status") == RESOLVED_STATUS and entry.state != FAILED}
        for entry in self.outbox.client_entries(call.client_id, TICKET):
            if entry.state == FAILED or entry.key in resolved:
                continue
            if entry.state == DONE:
                if entry.ticket_id is not None and entry.ticket_id in found:  # ITFlow's row, known to this entry
                    found[entry.ticket_id] = OpenTicket(entry.ticket_id, found[entry.ticket_id].contact_id, entry.key)
                continue
            found[entry.key] = OpenTicket(0, entry.payload.get("ticket_contact_id"), key=entry.key)
        tickets = list(found.values())
        if call.contact_id:
            tickets = [ticket for ticket in tickets if ticket.contact_id == call.contact_id]
        return tickets

    def _open_in_itflow(self, client_id: int) -> Optional[List[OpenTicket]]:
        """The client's open tickets in ITFlow; None when ITFlow cannot say right now."""
        if self.api is None:
            return None
        try:
            rows = list(self.api.tickets.read(client_id=client_id))
        except ITFlowError as exc:
            log.info("calls: open tickets of client %d unknown (%s): going by the outbox", client_id, exc)
            return None
        return [OpenTicket(int(row["ticket_id"]), row.get("ticket_contact_id") or None) for row in rows
                if row.get("ticket_resolved_at") is None and row.get("ticket_closed_at") is None
                and _int_or_zero(row.get("ticket_status")) in OPEN_STATUSES]


def _int_or_zero(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _seconds_between(earlier: _dt.datetime, later: _dt.datetime) -> float:
    if (earlier.tzinfo is None) != (later.tzinfo is None):
        earlier, later = earlier.replace(tzinfo=None), later.replace(tzinfo=None)
    return (later - earlier).total_seconds()


class TicketWriter(Writer):
    """Sends outbox entries with ITFlow's JSON API, and finds them there by their marker."""

    def __init__(self, api: ITFlowAPI, *, clock: Callable[[], float] = time.monotonic):
        self.api = api
        self.clock = clock
        self._clients: Dict[int, Any] = {}  # client_id -> its row, from the last read of the listing
        self._clients_read: Optional[float] = None

    def send(self, entry: Entry, parent: Optional[Delivered]) -> Delivered:
        payload = dict(entry.payload)
        client_id = int(payload.pop("client_id"))
        if entry.action == TICKET:
            client = self._client(client_id)
            if client is None:
                raise Refused("ITFlow has no client %d" % client_id)
            if client.get("client_archived_at") is not None:  # ITFlow would take the ticket all the same
                raise Refused("client %d is archived in ITFlow" % client_id)
            fields = {name: value for name, value in payload.items() if name.startswith("ticket_")}
            ticket_id = self.api.tickets.create(client_id=client_id, **fields)
            return Delivered(ticket_id, self._number(ticket_id))
        if entry.action == REPLY:
            ticket_id, number = self._target(payload, parent)
            fields = {name: value for name, value in payload.items()
                      if name.startswith("ticket_") and name != "ticket_id"}
            reply_id = self.api.ticket_replies.create(client_id=client_id, ticket_id=ticket_id,
                                                      ticket_reply_type="Internal", **fields)
            return Delivered(ticket_id, number, reply_id)
        raise Refused("unknown outbox action %r" % entry.action)

    def _client(self, client_id: int) -> Any:
        """The client's row, None when ITFlow has none: the listing is read again once older than
        ``CLIENTS_FRESH`` or when it lacks the client (one added since), so a burst of tickets reads it once."""
        now = self.clock()
        if self._clients_read is None or now - self._clients_read > CLIENTS_FRESH or client_id not in self._clients:
            self._clients = {_int_or_zero(row.get("client_id")): row for row in self.api.clients.read()}
            self._clients_read = now
        return self._clients.get(client_id)

    def find(self, entry: Entry, parent: Optional[Delivered]) -> Optional[Delivered]:
        client_id = int(entry.payload["client_id"])
        if entry.action == TICKET:
            for row in self.api.tickets.read(client_id=client_id):
                if carries_marker(row.get("ticket_details"), entry.key):
                    return Delivered(int(row["ticket_id"]), _number_of(row))
            return None
        ticket_id, number = self._target(dict(entry.payload), parent)
        for row in self.api.ticket_replies.read(ticket_id=ticket_id):
            if carries_marker(row.get("ticket_reply"), entry.key):
                return Delivered(ticket_id, number, int(row["ticket_reply_id"]))
        return None

    @staticmethod
    def _target(payload: Dict[str, Any], parent: Optional[Delivered]) -> "tuple[int, str]":
        if payload.get("ticket_id"):
            return int(payload["ticket_id"]), ""
        if parent is None:
            raise Refused("a reply without its ticket")
        return parent.ticket_id, parent.ticket_number

    def _number(self, ticket_id: int) -> str:
        """The ticket's number (``TCK-12``), for people; the id alone identifies it, so a failed read is no failure."""
        try:
            return _number_of(self.api.tickets.get(ticket_id))
        except ITFlowError:
            return ""


def _number_of(row: Any) -> str:
    number = row.get("ticket_number")
    return "" if number is None else "%s%s" % (row.get("ticket_prefix") or "", number)

