"""Group AMI events into calls: every channel of one call shares its ``Linkedid``.

A call is over at CEL ``LINKEDID_END`` when CEL reaches the manager; without CEL,
when every channel it created has hung up.  Events that name no Linkedid (CDR
records, the Dest* half of an Originate's dial) are joined through the unique id
of a channel already seen.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Optional, Set

from itflow_bridge.calls.ami_protocol import Message

# Calls that ended are remembered this long (in calls) so their late events are dropped.
ENDED_MEMORY = 1000


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
    """Feed events in arrival order; ``feed`` returns a call's events once it has ended."""

    def __init__(self) -> None:
        self._calls: "OrderedDict[str, CallEvents]" = OrderedDict()
        self._linked_by_uniqueid: Dict[str, str] = {}
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

    def feed(self, message: Message) -> Optional[CallEvents]:
        if not message.is_event:
            return None
        call_id = self._call_id(message)
        if call_id is None or call_id in self._ended:
            return None
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
        return self._end(call_id) if ended else None

    def _end(self, call_id: str) -> CallEvents:
        call = self._calls.pop(call_id)
        for uniqueid in call.channels:
            self._linked_by_uniqueid.pop(uniqueid, None)
        self._ended[call_id] = None
        while len(self._ended) > ENDED_MEMORY:
            self._ended.popitem(last=False)
        return call

    def unfinished(self) -> List[CallEvents]:
        """Calls still open (for example at the end of a recording)."""
        return list(self._calls.values())


def calls_in(messages: List[Message]) -> List[CallEvents]:
    """Every call that ended within ``messages``, in the order they ended."""
    tracker = CallTracker()
    ended = [tracker.feed(message) for message in messages]
    return [call for call in ended if call is not None]
