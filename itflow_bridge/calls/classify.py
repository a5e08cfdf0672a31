"""Say what one ended call was: answered, missed, voicemail, queue abandon, transferred, internal.

Works from the events of one Linkedid (see ``events``) and needs only the
manager's ``call`` class; ``dialplan`` (Newexten, VarSet), ``agent`` (Queue*),
``cdr`` and CEL events make it more exact when present.  Times come from the
``Timestamp`` header (``timestampevents = yes`` in manager.conf); without it,
talk time falls back to CDR BillableSeconds and the times stay unknown.

Inbound or internal: a call is inbound when one of its channels ran in an
inbound context (``from-trunk``, ``from-pstn`` by default: where trunks deliver
calls on FreePBX) or when the caller-ID flow marked it (a VarSet of
``ITFLOW_CID_STATUS``: that flow runs only on inbound routes).  Anything else is
internal, whatever its outcome.

The rung "extensions" are the final legs of every Dial: a Local channel that
itself dials on is a hop (ring groups, queues and follow-me dial through them),
not a phone.  An extension's name is the channel's resource without the
technology, context and sequence suffix (``PJSIP/201-0000000a`` and
``Local/201@from-internal-0000001;1`` are both ``201``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

from itflow_bridge.calls.ami_protocol import Message

DEFAULT_INBOUND_CONTEXTS: FrozenSet[str] = frozenset({"from-trunk", "from-pstn"})
INBOUND_MARKER = "ITFLOW_CID_STATUS"
UNKNOWN_NUMBERS = frozenset({"", "<unknown>", "unknown"})


class Outcome(str, Enum):
    ANSWERED = "answered"
    MISSED = "missed"
    VOICEMAIL = "voicemail"  # a message was left
    VOICEMAIL_NO_MESSAGE = "voicemail_no_message"  # reached voicemail, hung up before leaving one
    QUEUE_ABANDON = "queue_abandon"
    TRANSFERRED = "transferred"  # answered, then transferred to another extension that answered
    INTERNAL = "internal"  # neither end outside the PBX

    def __str__(self) -> str:
        return self.value


class MissedReason(str, Enum):
    CALLER_HUNG_UP = "caller_hung_up"  # while it was ringing
    RING_TIMEOUT = "ring_timeout"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Voicemail:
    """Where the caller went to voicemail and what was left (no message: ``message_file`` is None)."""

    mailbox: str
    message_file: Optional[str] = None
    seconds: Optional[float] = None  # from VoiceMail() starting to the message being saved (greeting included)
    status: Optional[str] = None  # VMSTATUS: SUCCESS, USEREXIT, FAILED (needs the dialplan class)


@dataclass(frozen=True)
class ClassifiedCall:
    """One ended call, as the ticket and time-log writers need it."""

    call_id: str  # the Linkedid
    caller_number: str
    caller_name: str
    dialled_number: str
    inbound: bool
    outcome: Outcome
    start: Optional[float] = None  # epoch seconds, from the events' Timestamp header
    answer: Optional[float] = None
    end: Optional[float] = None
    extensions_rung: Tuple[str, ...] = ()
    ring_seconds: Optional[float] = None  # first ring to the answer, or to the last ringing leg ending
    missed_reason: Optional[MissedReason] = None
    answered_by: Optional[str] = None  # the first extension that answered
    transferred_to: Optional[str] = None  # the last extension that answered, after a transfer
    talk_seconds: Optional[float] = None
    queue: Optional[str] = None
    voicemail: Optional[Voicemail] = None
    dial_statuses: Tuple[str, ...] = field(default=())


def extension_of(channel: str) -> str:
    """``PJSIP/201-0000000a`` -> ``201``; ``Local/201@ext-local-00000001;1`` -> ``201``."""
    resource = channel.split("/", 1)[-1]
    if channel.startswith("Local/"):
        resource = resource.rsplit(";", 1)[0].rsplit("-", 1)[0]
        return resource.split("@", 1)[0]
    return resource.rsplit("-", 1)[0] if "-" in resource else resource


def _timestamp(message: Message) -> Optional[float]:
    try:
        return float(message.get("Timestamp"))
    except ValueError:
        return None


def _seconds(later: Optional[float], earlier: Optional[float]) -> Optional[float]:
    return None if later is None or earlier is None else round(later - earlier, 3)


@dataclass
class _Leg:
    begin: Message
    end: Optional[Message] = None

    @property
    def dest_channel(self) -> str:
        return self.begin.get("DestChannel")

    @property
    def status(self) -> str:
        return self.end.get("DialStatus") if self.end is not None else ""


def _dial_legs(events: Sequence[Message], call_id: str) -> List[_Leg]:
    """Dials to the phones: not the Originate of the caller's own channel, not a Local hop that dials on."""
    legs: Dict[str, _Leg] = {}
    for message in events:
        dest = message.get("DestUniqueid")
        if message.event == "DialBegin" and dest and dest != call_id:
            legs.setdefault(dest, _Leg(message))
        elif message.event == "DialEnd" and dest in legs and legs[dest].end is None:
            legs[dest].end = message
    dialling = {message.get("Channel") for message in events if message.event == "DialBegin"}
    final = []
    for leg in legs.values():
        channel = leg.dest_channel
        if channel.startswith("Local/") and channel.endswith(";1") and channel[:-1] + "2" in dialling:
            continue
        final.append(leg)
    return final


def _first(events: Sequence[Message], event: str, **headers: str) -> Optional[Message]:
    for message in events:
        if message.event == event and all(message.get(key) == value for key, value in headers.items()):
            return message
    return None


def _variable(events: Sequence[Message], name: str) -> Optional[Message]:
    """The last VarSet of ``name`` with a value."""
    found = None
    for message in events:
        if message.event == "VarSet" and message.get("Variable") == name and message.get("Value"):
            found = message
    return found


def _caller(events: Sequence[Message], call_id: str) -> Tuple[str, str, str, str]:
    """(channel, number, name, dialled) of the channel that started the call."""
    channel = number = name = dialled = ""
    for message in events:
        if message.get("Uniqueid") != call_id or message.event not in ("Newchannel", "NewCallerid"):
            continue
        if message.event == "Newchannel":
            channel, dialled = message.get("Channel"), message.get("Exten")
        if not number and message.get("CallerIDNum") not in UNKNOWN_NUMBERS:
            number = message.get("CallerIDNum")
        if not name and message.get("CallerIDName") not in UNKNOWN_NUMBERS:
            name = message.get("CallerIDName")
    return channel, number, name, dialled


def _is_inbound(events: Sequence[Message], inbound_contexts: FrozenSet[str]) -> bool:
    for message in events:
        if message.event in ("Newchannel", "Newexten") and message.get("Context") in inbound_contexts:
            return True
        if message.event == "VarSet" and message.get("Variable") == INBOUND_MARKER and message.get("Value"):
            return True
    return False


def _talk_seconds(events: Sequence[Message], answered: List[_Leg]) -> Optional[float]:
    """Sum of the answered legs' time in a bridge; else CDR BillableSeconds of the answered dials."""
    total = 0.0
    timed = False
    for leg in answered:
        channel = leg.dest_channel
        entered = _first(events, "BridgeEnter", Channel=channel)
        left = _first(events, "BridgeLeave", Channel=channel) or _first(events, "Hangup", Channel=channel)
        seconds = None if entered is None or left is None else _seconds(_timestamp(left), _timestamp(entered))
        if seconds is not None:
            total += seconds
            timed = True
    if timed:
        return round(total, 3)
    billable = [int(message.get("BillableSeconds") or 0) for message in events
                if message.event == "Cdr" and message.get("Disposition") == "ANSWERED"
                and message.get("LastApplication") in ("Dial", "Queue")]
    return float(max(billable)) if billable else None


def _voicemail(events: Sequence[Message]) -> Optional[Voicemail]:
    started = None
    mailbox = ""
    for message in events:
        application = message.get("Application")
        if application.lower() == "voicemail" and (
                message.event == "Newexten" or (message.event == "CEL" and message.get("EventName") == "APP_START")):
            started = started or message
            mailbox = mailbox or message.get("AppData").split(",", 1)[0]
    waiting = _first(events, "MessageWaiting")
    message_file = _variable(events, "VM_MESSAGEFILE")
    if started is None and waiting is None and message_file is None:
        return None
    if waiting is not None:
        mailbox = waiting.get("Mailbox") or mailbox
    saved = message_file or waiting
    status = _variable(events, "VMSTATUS")
    return Voicemail(
        mailbox=mailbox,
        message_file=message_file.get("Value") if message_file is not None else None,
        seconds=_seconds(_timestamp(saved), _timestamp(started)) if saved is not None and started else None,
        status=status.get("Value") if status is not None else None,
    )


def _queue(events: Sequence[Message]) -> Optional[str]:
    joined = _first(events, "QueueCallerJoin")
    if joined is not None:
        return joined.get("Queue")
    for message in events:
        if message.event == "Newexten" and message.get("Application") == "Queue" or (
                message.event == "CEL" and message.get("EventName") == "APP_START"
                and message.get("Application") == "Queue"):
            return message.get("AppData").split(",", 1)[0]
    return None


def _abandoned(events: Sequence[Message]) -> bool:
    """The caller left the queue: QueueCallerAbandon (agent class), or the queue ended other than by its timeout."""
    if _first(events, "QueueCallerAbandon") is not None:
        return True
    status = _variable(events, "QUEUESTATUS")
    return status is None or status.get("Value") != "TIMEOUT"


def _missed_reason(legs: List[_Leg]) -> Optional[MissedReason]:
    statuses = {leg.status for leg in legs}
    if "CANCEL" in statuses:
        return MissedReason.CALLER_HUNG_UP
    if "NOANSWER" in statuses:
        return MissedReason.RING_TIMEOUT
    if "BUSY" in statuses:
        return MissedReason.BUSY
    if statuses & {"CHANUNAVAIL", "CONGESTION"}:
        return MissedReason.UNAVAILABLE
    return None


def _end_time(events: Sequence[Message]) -> Optional[float]:
    ended = _first(events, "CEL", EventName="LINKEDID_END")
    if ended is not None and _timestamp(ended) is not None:
        return _timestamp(ended)
    hangups = [_timestamp(message) for message in events if message.event == "Hangup"]
    known = [stamp for stamp in hangups if stamp is not None]
    return max(known) if known else None


def classify(call_id: str, events: Sequence[Message],
             inbound_contexts: FrozenSet[str] = DEFAULT_INBOUND_CONTEXTS) -> ClassifiedCall:
    """The record of one ended call from its events (see the module docstring for the rules)."""
    _channel, number, name, dialled = _caller(events, call_id)
    inbound = _is_inbound(events, inbound_contexts)
    legs = _dial_legs(events, call_id)
    answered = [leg for leg in legs if leg.status == "ANSWER"]
    answered_extensions = [extension_of(leg.dest_channel) for leg in answered]
    transferred = any(message.event in ("BlindTransfer", "AttendedTransfer") for message in events) or len(
        set(answered_extensions)) > 1
    voicemail = _voicemail(events)
    queue = _queue(events)
    begin = _first(events, "Newchannel", Uniqueid=call_id)
    start = _timestamp(begin) if begin is not None else None
    answer = _timestamp(answered[0].end) if answered and answered[0].end is not None else None
    ringing = [leg for leg in legs if answer is None or (_timestamp(leg.begin) or 0.0) <= answer]
    # What rang for the caller: not the dials a transfer made after the answer.
    rung = tuple(dict.fromkeys(extension_of(leg.dest_channel) for leg in ringing))
    ring_begin = min((s for s in (_timestamp(leg.begin) for leg in ringing) if s is not None), default=None)
    ring_end = answer if answer is not None else max(
        (s for s in (_timestamp(leg.end) for leg in ringing if leg.end is not None) if s is not None), default=None)

    missed_reason = None
    if not inbound:
        outcome = Outcome.INTERNAL
    elif answered:
        outcome = Outcome.TRANSFERRED if transferred else Outcome.ANSWERED
    elif voicemail is not None:
        outcome = Outcome.VOICEMAIL if voicemail.message_file or _first(events, "MessageWaiting") else (
            Outcome.VOICEMAIL_NO_MESSAGE)
    elif queue is not None and _abandoned(events):
        outcome = Outcome.QUEUE_ABANDON
    else:
        outcome = Outcome.MISSED
    if not answered:
        missed_reason = _missed_reason(legs)
    return ClassifiedCall(
        call_id=call_id,
        caller_number=number,
        caller_name=name,
        dialled_number=dialled if dialled not in ("", "s") else "",
        inbound=inbound,
        outcome=outcome,
        start=start,
        answer=answer,
        end=_end_time(events),
        extensions_rung=rung,
        ring_seconds=_seconds(ring_end, ring_begin),
        missed_reason=missed_reason,
        answered_by=answered_extensions[0] if answered_extensions else None,
        transferred_to=answered_extensions[-1] if answered_extensions and transferred else None,
        talk_seconds=_talk_seconds(events, answered) if answered else None,
        queue=queue,
        voicemail=voicemail,
        dial_statuses=tuple(leg.status for leg in legs),
    )
