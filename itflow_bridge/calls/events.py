"""Group AMI events into calls: every channel of one call shares its ``Linkedid``.

A call ends at CEL ``LINKEDID_END`` when CEL reaches the manager; without CEL,
when every channel it created has hung up.  It is handed over only once it has
*settled*: Asterisk posts some of a call's events after its end (a DialEnd after
LINKEDID_END was seen on Asterisk 22, CDR records always come last), so a call
is kept ``SETTLE_SECONDS`` longer, collecting them.  Events that name no
Linkedid (CDR records, the Dest* half of an Originate's dial) are joined through
the unique id of a channel already seen.
"""

from __future__ import annotations

from collections import OrderedDict
import time
from typing import Callable, Dict, List, Optional, Set

from itflow_bridge.calls.ami_protocol import Message

# Calls that ended are remembered this long (in calls) so their late events are dropped.
ENDED_MEMORY = 1000
# How long an ended call keeps collecting late events before it is handed over.
SETTLE_SECONDS = 2.0


class CallEvents:
    """The events of one call (one Linkedid), in arrival order."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.events: List[Message] = []
        self.channels: Set[str] = set()  # unique ids created (Newchannel)
        self.hung_up: Set[str] = set()
        self.has_cel = False

    @property
    def all_hung_up(self) -> bool:
        return bool(self.channels) and self.channels <= self.hung_up


def linkedid_of(message: Message) -> str:
    """The Linkedid a message names itself (channel, CEL, or the Dest* channel)."""
    return message.get("Linkedid") or message.get("DestLinkedid")


class CallTracker:
    """Feed events in arrival order; ``settled`` hands over the calls that ended and settled."""

    def __init__(self, settle: float = SETTLE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.settle = settle
        self._clock = clock
        self._calls: "OrderedDict[str, CallEvents]" = OrderedDict()
        self._linked_by_uniqueid: Dict[str, str] = {}
        self._ending: "OrderedDict[str, float]" = OrderedDict()  # ended, settling: the clock at the end
        self._ended: "OrderedDict[str, None]" = OrderedDict()

    def _call_id(self, message: Message) -> Optional[str]:
        found = linkedid_of(message)
        if found:
            return found
        for key in ("Uniqueid", "UniqueID", "DestUniqueid"):
            known = self._linked_by_uniqueid.get(message.get(key))
            if known:
                return known
        return None

    def feed(self, message: Message) -> None:
        if not message.is_event:
            return
        call_id = self._call_id(message)
        if call_id is None or call_id in self._ended:
            return
        call = self._calls.get(call_id)
        if call is None:
            call = self._calls[call_id] = CallEvents(call_id)
        call.events.append(message)
        uniqueid = message.get("Uniqueid")
        name = message.event
        if name == "Newchannel" and uniqueid:
            call.channels.add(uniqueid)
            self._linked_by_uniqueid[uniqueid] = call_id
        elif name == "Hangup" and uniqueid:
            call.hung_up.add(uniqueid)
        elif name == "CEL":
            call.has_cel = True
        ended = (name == "CEL" and message.get("EventName") == "LINKEDID_END") or (
            not call.has_cel and call.all_hung_up)
        if ended and call_id not in self._ending:
            self._ending[call_id] = self._clock()

    def settled(self) -> List[CallEvents]:
        """The calls that ended at least ``settle`` seconds ago, in the order they ended; each once."""
        now = self._clock()
        return self._hand_over(lambda ended_at: now - ended_at >= self.settle)

    def flush(self) -> List[CallEvents]:
        """Every call that ended, settled or not (the end of a recording, a shutdown)."""
        return self._hand_over(lambda ended_at: True)

    def _hand_over(self, due: Callable[[float], bool]) -> List[CallEvents]:
        ready = [call_id for call_id, ended_at in self._ending.items() if due(ended_at)]
        return [self._end(call_id) for call_id in ready]

    def _end(self, call_id: str) -> CallEvents:
        call = self._calls.pop(call_id)
        del self._ending[call_id]
        for uniqueid in call.channels:
            self._linked_by_uniqueid.pop(uniqueid, None)
        self._ended[call_id] = None
        while len(self._ended) > ENDED_MEMORY:
            self._ended.popitem(last=False)
        return call

    def unfinished(self) -> List[CallEvents]:
        """Calls not handed over yet (still going, or ended and settling)."""
        return list(self._calls.values())


def calls_in(messages: List[Message]) -> List[CallEvents]:
    """Every call that ended within ``messages``, with all of its events, in the order they ended."""
    tracker = CallTracker()
    for message in messages:
        tracker.feed(message)
    return tracker.flush()
