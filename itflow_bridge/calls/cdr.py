"""Asterisk's own record of calls (CDR) as the bridge reads it: calls that ended while it was away.

Asterisk's stock ``cdr_custom`` module appends one CSV line per CDR to a file
(``[calls] cdr_file``) with the columns ``COLUMNS``, in the order of the mapping
line ``mapping_line()`` that the installer puts in ``cdr_custom.conf``.  Times
are epoch seconds (``${CDR(start,u)}``); an unanswered record's answer is 0.

Inbound or internal: a call is inbound when one of its records carries a DID
(``CDR(did)``, which FreePBX's inbound routes set) or ran in an inbound context
(``dcontext``: the context of the record's last application, so on plain
Asterisk a call whose every segment ended elsewhere, e.g. after a transfer,
needs ``Set(CDR(did)=${EXTEN})`` in the trunk's context to count as inbound).

What a CDR cannot tell, unlike the AMI events (see ``classify``): whether a
message was left in voicemail (a call that reached VoiceMail() is reported as
``Outcome.VOICEMAIL``; the voicemail spool says whether a message is there),
and whether an unanswered ring ended by its timeout or by the caller hanging up
(``NO ANSWER`` for both: ``missed_reason`` stays None).  ``dial_statuses`` are
the records' dispositions (ANSWERED, NO ANSWER, BUSY, FAILED), not Dial's
DIALSTATUS; talk time is whole seconds (billsec).
"""

from __future__ import annotations

import csv
import logging
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from ..core.constants import CDR_CUSTOM_DIR
from .classify import (
    DEFAULT_INBOUND_CONTEXTS, UNKNOWN_NUMBERS, ClassifiedCall, MissedReason, Outcome, Voicemail, extension_of,
)

log = logging.getLogger(__name__)

ROTATED_SUFFIX = ".1"  # logrotate's first old copy
ANSWERED = "ANSWERED"
DIALLING_APPS = frozenset({"dial", "queue"})
CALLING_APPS = DIALLING_APPS | {"voicemail"}  # a record of the caller's own channel reaching someone
QUEUE_TIMEOUT_ARGUMENT = 4  # Queue(name,options,URL,announceoverride,timeout,...)
_NUMBERS = frozenset({"start", "answer", "end", "duration", "billsec", "sequence"})


@dataclass(frozen=True)
class CdrRecord:
    """One CDR line: one segment of a call between two parties (the columns, in the file's order)."""

    linkedid: str
    uniqueid: str
    sequence: int
    start: float  # epoch seconds
    answer: Optional[float]  # None: never answered
    end: float
    duration: int
    billsec: int
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    disposition: str  # ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION
    did: str  # the number the call came in on, as FreePBX's inbound routes record it (empty elsewhere)


COLUMNS: Tuple[str, ...] = tuple(item.name for item in fields(CdrRecord))
# The line's end time without parsing the rest (linkedid, uniqueid, sequence, start, answer, end come
# first): old lines of a long file are passed over at a regular expression's cost.
_END = re.compile(r'"[^"]*","[^"]*",\d+,[0-9.]+,[0-9.]+,([0-9.]+),')
# The CDR() option that gives each column as the reader parses it: epoch seconds for the times.
_OPTIONS = {"start": "u", "answer": "u", "end": "u"}


def _column_expression(name: str) -> str:
    value = "${CDR(%s%s)}" % (name, "," + _OPTIONS[name] if name in _OPTIONS else "")
    return value if name in _NUMBERS else "${CSV_QUOTE(%s)}" % value


MAPPING_VALUE = ",".join(_column_expression(name) for name in COLUMNS)


def mapping_target(cdr_file: str) -> str:
    """The mapping's name for ``cdr_file``: a bare file name in cdr_custom's own directory, else the path."""
    path = PurePosixPath(cdr_file)
    return path.name if str(path.parent) == CDR_CUSTOM_DIR else str(path)


def mapping_line(cdr_file: str) -> str:
    """The line of ``cdr_custom.conf``'s ``[mappings]`` that makes Asterisk write ``cdr_file`` for the bridge."""
    return "%s => %s" % (mapping_target(cdr_file), MAPPING_VALUE)


def parse_line(line: str) -> Optional[CdrRecord]:
    """One CSV line (no line end) as a record; None when it is not one of ours (skipped as garbage)."""
    try:
        rows = list(csv.reader([line], delimiter=",", quotechar='"', doublequote=True, strict=True))
    except csv.Error:
        return None
    if len(rows) != 1 or len(rows[0]) != len(COLUMNS):
        return None
    values = dict(zip(COLUMNS, rows[0]))
    try:
        answer = float(values["answer"] or 0)
        return CdrRecord(
            linkedid=values["linkedid"], uniqueid=values["uniqueid"], sequence=int(values["sequence"]),
            start=float(values["start"]), answer=answer if answer > 0 else None, end=float(values["end"]),
            duration=int(values["duration"]), billsec=int(values["billsec"]), src=values["src"],
            dst=values["dst"], dcontext=values["dcontext"], clid=values["clid"], channel=values["channel"],
            dstchannel=values["dstchannel"], lastapp=values["lastapp"], lastdata=values["lastdata"],
            disposition=values["disposition"], did=values["did"])
    except ValueError:
        return None


@dataclass(frozen=True)
class CdrReading:
    """What one read of the CDR file found: the records in the horizon and the lines that were not records."""

    records: List[CdrRecord]
    garbage_lines: int = 0
    partial_line: bool = False  # the last line had no line end yet (Asterisk was writing it)


def read_cdr(path: Path, since: float) -> CdrReading:
    """Records of ``path`` (and of its rotated ``<name>.1`` when it was written since) whose end >= ``since``.

    One pass over each file, line by line; lines that ended before ``since`` are
    passed over unparsed (garbage is counted within the horizon).  A file last
    written before ``since`` is not opened.
    """
    records: List[CdrRecord] = []
    garbage = 0
    partial = False
    for candidate in (path.with_name(path.name + ROTATED_SUFFIX), path):
        try:
            if os.stat(candidate).st_mtime < since:
                continue  # every record in it ended before its last write
            handle = open(candidate, "r", encoding="utf-8", errors="replace", newline="")
        except OSError:
            continue
        with handle:
            partial = False
            for raw in handle:
                if not raw.endswith("\n"):
                    partial = True  # the last line, still being written: read next time
                    break
                line = raw.rstrip("\r\n")
                if not line:
                    continue
                end = _END.match(line)
                if end is not None and float(end.group(1)) < since:
                    continue
                record = parse_line(line)
                if record is None:
                    garbage += 1
                elif record.end >= since:
                    records.append(record)
    if garbage:
        log.warning("CDR file %s: skipped %d line(s) that are not the bridge's CDR columns", path, garbage)
    return CdrReading(records, garbage, partial)


def read_cdr_file(path: Path, since: float) -> List[CdrRecord]:
    """The records of the CDR file (and its rotated copy) whose end >= ``since`` (epoch seconds)."""
    return read_cdr(path, since).records


def group_by_call(records: Iterable[CdrRecord]) -> Dict[str, List[CdrRecord]]:
    """Records by call (their linkedid), each call's in the order Asterisk numbered them."""
    calls: Dict[str, List[CdrRecord]] = {}
    for record in records:
        calls.setdefault(record.linkedid, []).append(record)
    return {call_id: sorted(items, key=lambda item: (item.sequence, item.start)) for call_id, items in calls.items()}


def _phone_legs(records: Sequence[CdrRecord]) -> List[CdrRecord]:
    """Records of Dial/Queue ringing a phone (its dstchannel), without the Local hops: a Local channel's
    half whose other half dials on (ring groups, queues and follow-me dial through them) is not a phone."""
    dialling = {record.channel for record in records if record.lastapp.lower() in DIALLING_APPS}
    return [record for record in records if record.dstchannel and record.lastapp.lower() in DIALLING_APPS
            and not (record.dstchannel.startswith("Local/") and record.dstchannel.endswith(";1")
                     and record.dstchannel[:-1] + "2" in dialling)]


def _caller_name(clid: str) -> str:
    """``"ACME Corp" <+15551234567>`` -> ``ACME Corp``."""
    name = clid.rsplit("<", 1)[0].strip() if clid.endswith(">") else ""
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1]
    return "" if name in UNKNOWN_NUMBERS else name


def _abandoned(queue_record: CdrRecord, records: Sequence[CdrRecord]) -> bool:
    """The caller left the queue: its dialplan did not go on after Queue(), nor did Queue() wait its timeout."""
    if any(record.channel == queue_record.channel and record.sequence > queue_record.sequence
           and record.lastapp.lower() not in ("", "hangup") for record in records):
        return False
    arguments = queue_record.lastdata.split(",")
    timeout = arguments[QUEUE_TIMEOUT_ARGUMENT] if len(arguments) > QUEUE_TIMEOUT_ARGUMENT else ""
    return not (timeout.isdigit() and int(timeout) > 0 and queue_record.end - queue_record.start >= int(timeout))


def _missed_reason(legs: Sequence[CdrRecord]) -> Optional[MissedReason]:
    dispositions = {leg.disposition for leg in legs}
    if "BUSY" in dispositions:
        return MissedReason.BUSY
    if dispositions & {"FAILED", "CONGESTION"}:
        return MissedReason.UNAVAILABLE
    return None  # NO ANSWER: a ring timeout and a caller hanging up look the same


def classify_cdrs(call_id: str, records: Sequence[CdrRecord],
                  inbound_contexts: FrozenSet[str] = DEFAULT_INBOUND_CONTEXTS) -> ClassifiedCall:
    """The record of one ended call from its CDRs (see the module docstring for what stays unknown)."""
    ordered = sorted(records, key=lambda item: (item.sequence, item.start))
    inbound_record = next((record for record in ordered if record.did or record.dcontext in inbound_contexts), None)
    first = inbound_record or (ordered[0] if ordered else None)
    did = next((record.did for record in ordered if record.did), "")
    legs = _phone_legs(ordered)
    answered = [leg for leg in legs if leg.disposition == ANSWERED and leg.answer is not None]
    answered_extensions = [extension_of(leg.dstchannel) for leg in answered]
    transferred = len(set(answered_extensions)) > 1
    voicemail_record = next((record for record in ordered if record.lastapp.lower() == "voicemail"
                             and record.disposition == ANSWERED), None)
    queue_record = next((record for record in ordered if record.lastapp.lower() == "queue"), None)
    queue = queue_record.lastdata.split(",", 1)[0] if queue_record is not None else None
    missed_reason = None
    if inbound_record is None:
        outcome = Outcome.INTERNAL
    elif answered:
        outcome = Outcome.TRANSFERRED if transferred else Outcome.ANSWERED
    elif voicemail_record is not None:
        outcome = Outcome.VOICEMAIL  # whether a message was left: the voicemail spool says
    elif queue_record is not None and _abandoned(queue_record, ordered):
        outcome = Outcome.QUEUE_ABANDON
        missed_reason = MissedReason.CALLER_HUNG_UP
    else:
        outcome = Outcome.MISSED
    if not answered and missed_reason is None:
        missed_reason = _missed_reason(legs)
    caller = inbound_record or next((record for record in ordered if record.lastapp.lower() in CALLING_APPS), None)
    answer = min((leg.answer for leg in answered if leg.answer is not None), default=None)
    ring_begin = min((leg.start for leg in legs), default=None)
    ring_end = answer if answer is not None else max((leg.end for leg in legs), default=None)
    number = first.src if first is not None and first.src not in UNKNOWN_NUMBERS else ""
    return ClassifiedCall(
        call_id=call_id,
        caller_number=number,
        caller_name=_caller_name(first.clid) if first is not None else "",
        dialled_number=did or (caller.dst if caller is not None and caller.dst != "s" else ""),
        inbound=inbound_record is not None,
        outcome=outcome,
        start=min((record.start for record in ordered), default=None),
        answer=answer,
        end=max((record.end for record in ordered), default=None),
        # What rang for the caller: not the dials a transfer made after the answer.
        extensions_rung=tuple(dict.fromkeys(extension_of(leg.dstchannel) for leg in legs
                                            if answer is None or leg.start <= answer)),
        ring_seconds=None if ring_begin is None or ring_end is None else round(ring_end - ring_begin, 3),
        missed_reason=missed_reason,
        answered_by=answered_extensions[0] if answered_extensions else None,
        transferred_to=answered_extensions[-1] if transferred else None,
        talk_seconds=float(sum(leg.billsec for leg in answered)) if answered else None,
        queue=queue,
        voicemail=Voicemail(mailbox=voicemail_record.lastdata.split(",", 1)[0]) if voicemail_record else None,
        dial_statuses=tuple(leg.disposition for leg in legs),
    )
