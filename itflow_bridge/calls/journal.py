"""The call journal: calls the PBX ends become ITFlow tickets, replies and time worked.

One pipeline, run by the FastAGI daemon when ``[calls] enabled``::

    AMI events -> CallTracker (grouped by call, settled) -> classify -> who called
        -> TicketPlanner -> outbox (durable) -> TicketWriter -> ITFlow

Three threads, none on the call path: the AMI reader feeds the tracker; the
journal thread hands settled calls on and runs the catch-up; the delivery
thread empties the outbox (in order, retried with back-off while ITFlow is
down, each write once).

Nothing is lost while the bridge is away from the events (stopped, restarting,
disconnected from Asterisk): after every login, and every few minutes, the
catch-up reads the calls that ended since from Asterisk's own CDR and journals
those the call log does not know.  A call seen only in part (it began before
the login) is left to the catch-up too, once it ended.  A call whose caller
could not be identified because ITFlow was down is not logged, so the next
catch-up journals it.  The call log and the outbox's keys (the call's Linkedid
and the action) make journaling a call twice harmless.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence, Tuple

from ..core.config import CallsSettings
from ..core.redact import redact
from .ami import AMIAuthenticationError, AMIClient, AMIError
from .ami_protocol import Message
from .call_log import CATCH_UP, LIVE, CallLog, LoggedCall
from .callers import CallerNotKnownYet, Identify, KnownCaller
from .classify import ClassifiedCall, Outcome, classify
from .events import SETTLE_SECONDS, CallEvents, CallTracker
from .outbox import Outbox, Writer
from .tickets import ANSWERED, MISSED, VOICEMAIL, CallForTickets, TicketPlanner

if TYPE_CHECKING:
    from ..api.typed import ITFlowAPI
    from ..app import Bridge
    from .voicemail_links import VoicemailLinks

log = logging.getLogger(__name__)

# What a call's outcome makes in ITFlow (outcomes not listed make nothing).
TICKET_OUTCOMES = {
    Outcome.MISSED: MISSED,
    Outcome.QUEUE_ABANDON: MISSED,
    Outcome.VOICEMAIL_NO_MESSAGE: MISSED,
    Outcome.VOICEMAIL: VOICEMAIL,
    Outcome.ANSWERED: ANSWERED,
    Outcome.TRANSFERRED: ANSWERED,
}
CATCH_UP_INTERVAL = 300.0  # seconds between catch-ups while connected (calls left for later, ITFlow was down)
RECONNECT_WAITS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # before connecting again after the first attempt failed
TICK = 0.2  # seconds the journal thread sleeps when nothing wakes it
DELIVERY_PAUSE = 5.0  # seconds before delivering again after the outbox itself failed (busy, disk full)

CatchUp = Callable[[float], Sequence[ClassifiedCall]]  # calls that ended since (epoch seconds), from the CDR
VoicemailInfo = Callable[[ClassifiedCall], Tuple[int, str]]  # (message seconds, link or where it is)


def for_tickets(record: ClassifiedCall, caller: KnownCaller, voicemail: Tuple[int, str] = (0, ""),
                ) -> Optional[CallForTickets]:
    """The planner's view of a classified inbound call of a known client (None: it makes nothing)."""
    outcome = TICKET_OUTCOMES.get(record.outcome)
    if outcome is None or not record.inbound:
        return None
    start = record.start if record.start is not None else record.end
    when = _dt.datetime.fromtimestamp(start) if start is not None else _dt.datetime.now()
    answered_by = record.answered_by or ""
    if record.transferred_to and record.transferred_to != answered_by:
        answered_by = "%s, transferred to %s" % (answered_by or "the team", record.transferred_to)
    return CallForTickets(
        call_id=record.call_id,
        client_id=caller.client_id,
        client_name=caller.client_name,
        outcome=outcome,
        when=when,
        contact_id=caller.contact_id,
        contact_name=caller.contact_name,
        caller_number=record.caller_number,
        caller_name=record.caller_name,
        dialled=record.dialled_number,
        rang_where=("queue " + record.queue) if record.queue else ", ".join(record.extensions_rung),
        rang_seconds=int(round(record.ring_seconds or 0)),
        voicemail_seconds=voicemail[0],
        voicemail_link=voicemail[1],
        answered_by=answered_by,
        talk_seconds=int(round(record.talk_seconds or 0)),
    )


class CallJournal:
    """The pipeline above, for one PBX and one ITFlow; ``start()`` it in the daemon, ``stop()`` at exit."""

    def __init__(self, settings: CallsSettings, cache_dir: "Path | str", identify: Identify,
                 planner_api: "Optional[ITFlowAPI]", writer: Writer, *, catch_up: Optional[CatchUp] = None,
                 voicemail: Optional[VoicemailInfo] = None, clock: Callable[[], float] = time.time,
                 settle: float = SETTLE_SECONDS):
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        self.identify = identify
        self.writer = writer
        self.catch_up = catch_up
        self.voicemail = voicemail
        self.clock = clock
        self.inbound_contexts = frozenset(settings.inbound_contexts)
        self.outbox = Outbox.in_cache(self.cache_dir, clock=clock)
        self.log = CallLog.in_cache(self.cache_dir, clock=clock)
        self.planner = TicketPlanner(settings, self.outbox, planner_api)
        self._tracker = CallTracker(settle=settle)
        self._ended_whole: List[CallEvents] = []  # ended before the connection was lost, not handed on yet
        self._lock = threading.Lock()  # the tracker: fed by the AMI reader, read by the journal thread
        self._journal_lock = threading.Lock()  # one call journaled at a time
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._send = threading.Event()
        self._catch_up_due = True  # first thing after start: the calls that ended while the bridge was away
        self._next_catch_up = 0.0
        self._threads: List[threading.Thread] = []
        self.ami: Optional[AMIClient] = None
        # Others fed from this one AMI connection (the agent screen): every event, and each loss of the connection.
        self.event_listeners: List[Callable[[Message], None]] = []
        self.lost_listeners: List[Callable[[], None]] = []
        self.ami_problem = "not connected yet"
        self.journaled = 0

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> "CallJournal":
        """Start the threads; connecting to Asterisk happens in the background and never holds up the daemon."""
        for name, target in (("call-journal", self._run), ("call-outbox", self._deliver_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading events; calls that ended and are settling are journaled first."""
        self._stopping.set()
        if self.ami is not None:
            self.ami.close()
        self._wake.set()
        self._send.set()
        for thread in self._threads:
            thread.join(timeout)
        with self._lock:
            ended = self._ended_whole + self._tracker.flush()
            self._ended_whole = []
        for call in ended:
            self._journal_events(call)

    def close(self) -> None:
        self.outbox.close()
        self.log.close()

    @property
    def catch_up_due(self) -> bool:
        """Whether the next turn runs the catch-up now (after a login, or a call seen only in part)."""
        return self._catch_up_due

    # --- AMI --------------------------------------------------------------------------

    def _connect(self) -> bool:
        settings = self.settings
        client = AMIClient(settings.ami_host, settings.ami_port, settings.ami_user, settings.ami_secret,
                           on_event=self.on_event, on_login=self._logged_in, on_lost=self._lost)
        try:
            client.connect()
        except AMIError as exc:
            problem = redact(exc)
            if problem != self.ami_problem:
                level = logging.ERROR if isinstance(exc, AMIAuthenticationError) else logging.WARNING
                log.log(level, "calls: no call events from Asterisk (%s); trying again in the background", problem)
            self.ami_problem = problem
            return False
        self.ami = client
        return True

    def on_event(self, message: Message) -> None:
        with self._lock:
            self._tracker.feed(message)
        for listener in self.event_listeners:
            try:
                listener(message)
            except Exception:  # a listener's bug must not cost the journal its events
                log.exception("calls: an event listener failed")

    def _logged_in(self) -> None:
        self.ami_problem = ""
        self._catch_up_due = True
        self._wake.set()

    def _lost(self) -> None:
        """Events of the calls in progress are missing from now on: they are the catch-up's, once ended.

        Calls that ended before the loss were seen whole: they are journaled as they are (no late
        event can come any more), not dropped with the calls in progress.
        """
        with self._lock:
            self._ended_whole.extend(self._tracker.flush())
            self._tracker = CallTracker(settle=self._tracker.settle)
        self.ami_problem = "the connection to Asterisk was lost; reconnecting"
        self._wake.set()
        for listener in self.lost_listeners:
            try:
                listener()
            except Exception:
                log.exception("calls: a connection-lost listener failed")

    # --- the journal thread -----------------------------------------------------------

    def _run(self) -> None:
        attempts = 0
        next_connect = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            if (self.ami is None or self.ami.failure is not None) and now >= next_connect:
                if self.ami is not None:
                    self.ami.close()
                    self.ami = None
                if self._connect():
                    attempts = 0
                else:
                    next_connect = now + RECONNECT_WAITS[min(attempts, len(RECONNECT_WAITS) - 1)]
                    attempts += 1
            try:
                self.hand_on_settled()
                if self._catch_up_due or now >= self._next_catch_up:
                    self._next_catch_up = now + CATCH_UP_INTERVAL
                    self.run_catch_up()
            except Exception:  # a bug must not stop the journal: the catch-up will see what was missed
                log.exception("calls: the journal failed on a call; the next catch-up will retry it")
            self._wake.wait(TICK)
            self._wake.clear()  # whatever woke it is looked at on the next turn, before the next wait

    def hand_on_settled(self) -> None:
        with self._lock:
            settled = self._ended_whole + self._tracker.settled()
            self._ended_whole = []
        for call in settled:  # handed over once: a call that fails must not take the others with it
            try:
                self._journal_events(call)
            except Exception:
                log.exception("calls: the journal failed on call %s; the next catch-up will retry it", call.call_id)

    def _journal_events(self, call: CallEvents) -> None:
        began = any(m.event == "Newchannel" and m.get("Uniqueid") == call.call_id for m in call.events)
        if not began:  # seen in part: the CDR, written as it ended, tells the whole call
            self._catch_up_due = True
            return
        self.journal(classify(call.call_id, call.events, self.inbound_contexts), LIVE)

    def run_catch_up(self) -> int:
        """Journal the calls of the CDR that the log does not know; answers how many were journaled."""
        self._catch_up_due = False
        hours = self.settings.catch_up_hours
        if self.catch_up is None or hours <= 0:
            return 0
        since = max(self.log.began(), self.clock() - hours * 3600.0)
        try:
            records = self.catch_up(since)
        except Exception as exc:  # an unreadable CDR must not stop the live journal
            log.warning("calls: cannot read the calls that ended while the bridge was away: %s", redact(exc))
            return 0
        with self._lock:
            in_progress = {call.call_id for call in self._tracker.unfinished()}
        fresh = [record for record in records if record.call_id not in in_progress]
        known = self.log.known(record.call_id for record in fresh)
        log.debug("calls: catch-up: %d call(s) in the CDR since %s, %d of them journaled before",
                  len(fresh), time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)), len(known))
        done = 0
        for record in fresh:
            if record.call_id not in known and self.journal(record, CATCH_UP) is not None:
                done += 1
        if done:
            log.info("calls: %d call(s) that ended while the bridge was away journaled from the CDR", done)
        return done

    # --- one call ---------------------------------------------------------------------

    def journal(self, record: ClassifiedCall, source: str) -> Optional[LoggedCall]:
        """Plan this call's writes and log it; None when it must wait (its caller could not be identified yet)."""
        with self._journal_lock:
            if self.log.known([record.call_id]):
                return None
            note, caller, keys = "", None, []  # type: Tuple[str, Optional[KnownCaller], List[str]]
            if not record.inbound:
                note = "internal call"
            elif record.outcome not in TICKET_OUTCOMES:
                note = "nothing to write for %s" % record.outcome
            else:
                try:
                    caller = self.identify(record.caller_number)
                except CallerNotKnownYet as exc:
                    log.info("calls: caller of %s not identified yet (%s); the catch-up retries it",
                             record.call_id, redact(exc))
                    return None
                if caller is None:
                    note = "caller not in ITFlow" if record.caller_number else "number withheld"
                else:
                    keys, note = self._plan(record, caller)
            ended = record.end if record.end is not None else self.clock()
            logged = LoggedCall(record.call_id, ended, record.caller_number, record.outcome.value,
                                caller.client_id if caller else None, caller.client_name if caller else "",
                                source, note, tuple(keys))
            self.log.add(logged)
            self.journaled += 1
        if keys:
            self._send.set()
        return logged

    def _plan(self, record: ClassifiedCall, caller: KnownCaller) -> Tuple[List[str], str]:
        voicemail = (0, "")
        if record.outcome is Outcome.VOICEMAIL and self.voicemail is not None:
            voicemail = self.voicemail(record)
        call = for_tickets(record, caller, voicemail)
        if call is None:
            return [], "nothing to write"
        entries = self.planner.plan(call)
        if not entries:
            return [], "answered calls are not written ([calls] answered = off, or no single open ticket)"
        return [entry.key for entry in entries], ""

    # --- the delivery thread ----------------------------------------------------------

    def _deliver_loop(self) -> None:
        outbox = Outbox.in_cache(self.cache_dir, clock=self.clock)
        try:
            while not self._stopping.is_set():
                self._send.clear()  # an entry added from here on is seen by this round or wakes the next
                try:
                    outbox.deliver(self.writer)
                    due = outbox.next_due()
                    wait = 60.0 if due is None else min(60.0, max(0.05, due - self.clock()))
                except Exception as exc:  # the outbox keeps every entry: log, pause, go on
                    log.warning("calls: delivering to ITFlow failed: %s; trying again in %.0f s", redact(exc),
                                DELIVERY_PAUSE)
                    wait = DELIVERY_PAUSE
                self._send.wait(wait)
        finally:
            outbox.close()


def cdr_catch_up(settings: CallsSettings) -> CatchUp:
    """The calls of Asterisk's CDR file (``[calls] cdr_file``) that ended since a time, classified."""
    from .cdr import classify_cdrs, group_by_call, read_cdr

    inbound = frozenset(settings.inbound_contexts)

    def catch_up(since: float) -> List[ClassifiedCall]:
        records = read_cdr(settings.cdr_file, since).records
        return [classify_cdrs(call_id, rows, inbound) for call_id, rows in group_by_call(records).items()]

    return catch_up


def voicemail_info(spool: Path, links: "Optional[VoicemailLinks]") -> VoicemailInfo:
    """(length, link) of the message a call left: the link when ``link_base_url`` is set, else where it is."""
    from .voicemail import find_message

    def info(record: ClassifiedCall) -> Tuple[int, str]:
        message = find_message(spool, record)
        if message is None:  # not (yet) in the spool, or another storage: what the events said
            left = record.voicemail
            return int(round(left.seconds or 0)) if left is not None else 0, ""
        url = links.link_for(message) if links is not None else None
        return message.seconds or 0, url or "mailbox %s, message %s" % (message.mailbox, message.msg_id)

    return info


def journal_for(bridge: "Bridge", links: "Optional[VoicemailLinks]" = None) -> CallJournal:
    """The daemon's journal: this bridge's ITFlow, directory, cache directory and ``[calls]`` settings."""
    from ..api.typed import ITFlowAPI
    from .callers import identifier
    from .tickets import TicketWriter

    config = bridge.config
    api = ITFlowAPI(bridge.client.http)
    return CallJournal(config.calls, config.cache.dir, identifier(bridge), api, TicketWriter(api),
                       catch_up=cdr_catch_up(config.calls),
                       voicemail=voicemail_info(config.calls.voicemail_spool, links))
