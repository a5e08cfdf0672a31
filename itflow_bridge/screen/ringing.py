"""Which calls ring, or are talking, at which extension: the agent screen's live view of the PBX.

Fed every AMI event (``on_event``), it follows each call (one Linkedid) from
the first ``DialBegin`` to a phone until the call's first channel hangs up:

* ``DialBegin`` to a channel: that extension rings (every phone of a ring
  group or queue rings at once).  A ``Local/EXT@...;1`` leg whose ``;2`` half
  dials on is a hop (FreePBX ring groups, queues, follow-me): it stops showing
  and the phones it dials show instead.
* ``DialEnd`` ``ANSWER``, or a rung phone entering a bridge: answered there;
  a second extension answering later is a transfer to it.
* ``BlindTransfer`` / ``AttendedTransfer``: transferred (to the extension dialled).
* ``Hangup`` of the call's first channel (or of its last channel seen): ended.
* ``VarSet`` of ``ITFLOW_CLICK_TO_CALL`` on a call's first channel: the agent's own
  click to call ringing their phone, not a caller: it never shows (withdrawn if
  its phone rang before the variable was seen).

A view sent with ``withdrawn: True`` takes a call off that extension's page
(it was a hop, not a phone).

The caller is the first channel's caller ID, else the dialling channel's.  An
extension is named as ``classify.extension_of`` names it.  Listeners get
``(extension, view)`` for every extension a change concerns, on the thread
that fed the event; ``calls_of`` answers an extension's calls of today;
``restore`` lists calls that ended before the board began (a restarted daemon's).
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from ..calls.ami_protocol import Message
from ..calls.classify import UNKNOWN_NUMBERS, extension_of
from ..calls.originate import CLICK_VARIABLE

RINGING = "ringing"  # call states (and an extension's own leg: ringing, answered, stopped)
ANSWERED = "answered"
TRANSFERRED = "transferred"
ENDED = "ended"
STOPPED = "stopped"  # this phone stopped ringing (someone else answered, it timed out, the caller left)

KEEP_PER_EXTENSION = 50  # today's calls an extension's page lists, newest first
MAX_CALLS = 5000  # calls followed at once; beyond it the oldest are forgotten (lost events, a flood)

View = Dict[str, Any]  # one call as one extension's page shows it (JSON-ready)
Listener = Callable[[str, View], None]
_RESTORED = "restored:"  # the leg key of a restored call's extension (no channel is known of it)


def today_began(now: float) -> float:
    """Local midnight before ``now``: the calls that started since are today's."""
    return _dt.datetime.combine(_dt.date.fromtimestamp(now), _dt.time()).timestamp()


@dataclass
class _Leg:
    channel: str
    extension: str
    status: str = RINGING
    hop: bool = False  # a Local channel that dialled on: its phones count, not it


@dataclass
class _Call:
    call_id: str
    started: float
    number: str = ""
    name: str = ""
    state: str = RINGING
    answered_by: Optional[str] = None
    transferred_to: Optional[str] = None
    answered_at: Optional[float] = None
    ended_at: Optional[float] = None
    legs: Dict[str, _Leg] = field(default_factory=dict)  # by the dialled channel's Uniqueid
    extra: List[str] = field(default_factory=list)  # extensions reached other than by a Dial (attended transfer)
    channels: Set[str] = field(default_factory=set)  # live channels seen created
    visible: bool = False  # an extension has rung
    click: bool = False  # placed by click to call: the agent's phone rings for their own call
    withdrawn: List[str] = field(default_factory=list)  # extensions shown before their leg proved a hop
    shown: Dict[str, View] = field(default_factory=dict)  # the view last sent to each extension

    def extensions(self) -> List[str]:
        found = [leg.extension for leg in self.legs.values() if not leg.hop] + self.extra
        return list(dict.fromkeys(found))

    def talking(self) -> Optional[str]:
        return self.transferred_to or self.answered_by

    def leg_status(self, extension: str) -> str:
        statuses = {leg.status for leg in self.legs.values() if not leg.hop and leg.extension == extension}
        if extension in self.extra or ANSWERED in statuses:
            return ANSWERED
        return RINGING if RINGING in statuses else STOPPED

    def view(self, extension: str) -> View:
        return {"call_id": self.call_id, "extension": extension, "number": self.number, "name": self.name,
                "state": self.state, "leg": self.leg_status(extension), "answered_by": self.answered_by,
                "transferred_to": self.transferred_to, "started": self.started, "answered_at": self.answered_at,
                "ended_at": self.ended_at}


def _stamp(message: Message, fallback: float) -> float:
    try:
        return float(message.get("Timestamp"))
    except ValueError:
        return fallback


def _linkedid(message: Message) -> str:
    """The call of a message; a Dial by no channel (an Originate) names only its destination's."""
    return message.get("Linkedid") or message.get("DestLinkedid")


def _known(value: str) -> str:
    return "" if value.strip().lower() in UNKNOWN_NUMBERS else value.strip()


class RingingBoard:
    """The calls of every extension, from the AMI events; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time, keep: int = KEEP_PER_EXTENSION):
        self.clock = clock
        self.keep = keep
        self._lock = threading.Lock()
        self._calls: Dict[str, _Call] = {}
        self._by_extension: Dict[str, List[str]] = {}  # call ids, oldest first
        self._listeners: List[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # --- reading --------------------------------------------------------------------

    def calls_of(self, extension: str) -> List[View]:
        """The extension's calls that started today (local time) or are not over, newest first."""
        midnight = today_began(self.clock())
        with self._lock:
            ids = list(self._by_extension.get(extension, ()))
            views = [self._calls[call_id].view(extension) for call_id in reversed(ids) if call_id in self._calls]
        return [view for view in views if view["started"] >= midnight or view["state"] != ENDED]

    def ringing_at(self, extension: str) -> List[str]:
        """Call ids ringing at ``extension`` right now."""
        return [view["call_id"] for view in self.calls_of(extension) if view["leg"] == RINGING]

    # --- feeding --------------------------------------------------------------------

    def restore(self, views: Iterable[View]) -> None:
        """List calls that ended before this board began, each ``view`` as its extension's page last showed it.

        Listed before the calls followed here, at most ``keep`` per extension; a call followed here already
        is left as it is.  Nothing is published: the pages get them with the whole state.
        """
        restored: Dict[str, _Call] = {}
        listed: Dict[str, List[str]] = {}
        with self._lock:
            for view in sorted(views, key=lambda known: float(known["started"])):
                call_id, extension = str(view["call_id"]), str(view["extension"])
                call = restored.get(call_id)
                if call is None:
                    if call_id in self._calls:
                        continue
                    call = restored[call_id] = self._calls[call_id] = _Call(
                        call_id, float(view["started"]), view["number"], view["name"], ENDED, view["answered_by"],
                        view["transferred_to"], view["answered_at"], view["ended_at"], visible=True)
                leg = ANSWERED if view["leg"] == ANSWERED else STOPPED
                call.legs[_RESTORED + extension] = _Leg("", extension, leg)
                call.shown[extension] = call.view(extension)
                if call_id not in listed.setdefault(extension, []):
                    listed[extension].append(call_id)
            for extension, call_ids in listed.items():
                following = [call_id for call_id in self._by_extension.get(extension, []) if call_id not in call_ids]
                self._by_extension[extension] = call_ids + following
                for dropped in self._by_extension[extension][:-self.keep]:
                    self._by_extension[extension].remove(dropped)
                    self._forget_if_unlisted(dropped)

    def on_event(self, message: Message) -> None:
        """Feed one AMI message (any: those that say nothing about ringing phones are ignored)."""
        handler = _HANDLERS.get(message.event or "")
        if handler is None:
            return
        with self._lock:
            touched = handler(self, message)
            updates = self._updates(touched)
        self._publish(updates)

    def connection_lost(self) -> None:
        """Events are missing from now on: every call still going is shown ended (nothing is known of it)."""
        now = self.clock()
        with self._lock:
            touched = [call for call in self._calls.values() if call.state != ENDED]
            for call in touched:
                self._end(call, now)
            updates = self._updates(touched)
        self._publish(updates)

    # --- the handlers (under the lock) ------------------------------------------------

    def _call(self, message: Message) -> _Call:
        call_id = _linkedid(message)
        call = self._calls.get(call_id)
        if call is None:
            call = self._calls[call_id] = _Call(call_id, _stamp(message, self.clock()))
            if len(self._calls) > MAX_CALLS:
                oldest = min(self._calls.values(), key=lambda known: known.started)
                self._forget(oldest.call_id)
        return call

    def _new_channel(self, message: Message) -> List[_Call]:
        call = self._call(message)
        call.channels.add(message.get("Channel"))
        return self._caller_id(message)

    def _caller_id(self, message: Message) -> List[_Call]:
        call = self._calls.get(message.get("Linkedid"))
        if call is None or message.get("Uniqueid") != call.call_id:
            return []
        number, name = _known(message.get("CallerIDNum")), _known(message.get("CallerIDName"))
        changed = (number and number != call.number) or (name and name != call.name)
        call.number = number or call.number
        call.name = name or call.name
        return [call] if changed and call.visible else []

    def _dial_begin(self, message: Message) -> List[_Call]:
        call = self._call(message)
        dest = message.get("DestUniqueid")
        if call.click or not dest or dest == call.call_id or dest in call.legs:
            return []  # a click to call, the caller's own channel being originated, or a repeat
        dialling = message.get("Channel")
        if dialling.startswith("Local/") and dialling.endswith(";2"):
            for leg in call.legs.values():
                if leg.channel == dialling[:-1] + "1" and not leg.hop:
                    leg.hop = True
                    call.withdrawn.append(leg.extension)
        if not call.number:
            call.number = _known(message.get("CallerIDNum"))
        if not call.name:
            call.name = _known(message.get("CallerIDName"))
        channel = message.get("DestChannel")
        call.legs[dest] = _Leg(channel, extension_of(channel))
        call.visible = True
        return [call]

    def _dial_end(self, message: Message) -> List[_Call]:
        call = self._calls.get(_linkedid(message))
        leg = call.legs.get(message.get("DestUniqueid")) if call is not None else None
        if call is None or leg is None or leg.status != RINGING:
            return []
        if message.get("DialStatus") != "ANSWER":
            leg.status = STOPPED
            return [call]
        leg.status = ANSWERED
        if not leg.hop:
            self._answered(call, leg.extension, _stamp(message, self.clock()))
        return [call]

    def _answered(self, call: _Call, extension: str, when: float) -> None:
        if call.state == ENDED:
            return
        if call.answered_by is None:
            call.answered_by, call.answered_at, call.state = extension, when, ANSWERED
        elif extension != call.talking():
            call.transferred_to, call.state = extension, TRANSFERRED

    def _bridge_enter(self, message: Message) -> List[_Call]:
        call = self._calls.get(message.get("Linkedid"))
        if call is None:
            return []
        channel = message.get("Channel")
        for leg in call.legs.values():
            if leg.channel == channel and not leg.hop:
                before = (call.state, call.talking())
                leg.status = ANSWERED
                self._answered(call, leg.extension, _stamp(message, self.clock()))
                return [call] if (call.state, call.talking()) != before else []
        return []

    def _blind_transfer(self, message: Message) -> List[_Call]:
        call = self._calls.get(message.get("TransfereeLinkedid")) or self._calls.get(
            message.get("TransfererLinkedid"))
        if call is None or call.state == ENDED or message.get("Result", "Success") != "Success":
            return []
        call.state = TRANSFERRED
        call.transferred_to = message.get("Extension") or call.transferred_to
        return [call]

    def _attended_transfer(self, message: Message) -> List[_Call]:
        call = self._calls.get(message.get("TransfereeLinkedid")) or self._calls.get(
            message.get("OrigTransfererLinkedid"))
        if call is None or call.state == ENDED or message.get("Result", "Success") != "Success":
            return []
        target = message.get("TransferTargetChannel")
        call.state = TRANSFERRED
        if target:
            extension = extension_of(target)
            call.transferred_to = extension
            if extension not in call.extensions():
                call.extra.append(extension)
        return [call]

    def _hangup(self, message: Message) -> List[_Call]:
        call = self._calls.get(message.get("Linkedid"))
        if call is None:
            return []
        channel = message.get("Channel")
        call.channels.discard(channel)
        touched = False
        for leg in call.legs.values():
            if leg.channel == channel and leg.status == RINGING:
                leg.status = STOPPED
                touched = True
        if message.get("Uniqueid") == call.call_id or not call.channels:
            self._end(call, _stamp(message, self.clock()))
            touched = True
        return [call] if touched and call.visible else []

    def _var_set(self, message: Message) -> List[_Call]:
        if message.get("Variable") != CLICK_VARIABLE or message.get("Uniqueid") != _linkedid(message):
            return []
        call = self._call(message)
        if call.click:
            return []
        call.click = True
        call.withdrawn.extend(call.extensions())
        call.legs.clear()
        call.extra.clear()
        return [call] if call.visible else []

    # --- keeping the lists ---------------------------------------------------------

    def _end(self, call: _Call, when: float) -> None:
        if call.state == ENDED:
            return
        call.state, call.ended_at = ENDED, when
        for leg in call.legs.values():
            if leg.status == RINGING:
                leg.status = STOPPED
        if not call.visible:
            self._forget(call.call_id)

    def _updates(self, touched: List[_Call]) -> List[Tuple[str, View]]:
        updates = []
        for call in touched:
            if not call.visible:
                continue
            extensions = call.extensions()
            for extension in call.withdrawn:
                listed = self._by_extension.get(extension, [])
                if extension not in extensions and call.call_id in listed:
                    listed.remove(call.call_id)
                    call.shown.pop(extension, None)
                    updates.append((extension, dict(call.view(extension), withdrawn=True)))
            call.withdrawn.clear()
            if call.click:
                call.visible = False  # withdrawn everywhere: followed no further
                continue
            for extension in extensions:
                listed = self._by_extension.setdefault(extension, [])
                if call.call_id not in listed:
                    listed.append(call.call_id)
                    for dropped in listed[:-self.keep]:
                        listed.remove(dropped)
                        self._forget_if_unlisted(dropped)
                view = call.view(extension)
                if call.shown.get(extension) != view:
                    call.shown[extension] = view
                    updates.append((extension, view))
        return updates

    def _forget_if_unlisted(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is not None and call.state == ENDED and not any(
                call_id in listed for listed in self._by_extension.values()):
            del self._calls[call_id]

    def _forget(self, call_id: str) -> None:
        self._calls.pop(call_id, None)
        for listed in self._by_extension.values():
            if call_id in listed:
                listed.remove(call_id)

    def _publish(self, updates: List[Tuple[str, View]]) -> None:
        for extension, view in updates:
            for listener in list(self._listeners):
                listener(extension, view)


_HANDLERS: Dict[str, Callable[[RingingBoard, Message], List[_Call]]] = {
    "Newchannel": RingingBoard._new_channel,
    "NewCallerid": RingingBoard._caller_id,
    "DialBegin": RingingBoard._dial_begin,
    "DialEnd": RingingBoard._dial_end,
    "BridgeEnter": RingingBoard._bridge_enter,
    "BlindTransfer": RingingBoard._blind_transfer,
    "AttendedTransfer": RingingBoard._attended_transfer,
    "Hangup": RingingBoard._hangup,
    "VarSet": RingingBoard._var_set,
}
