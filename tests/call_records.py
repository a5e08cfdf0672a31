"""What a call's CDR lines and its AMI events must agree on (shared by the unit and e2e tests)."""

from __future__ import annotations

from typing import Dict

from itflow_bridge.calls.classify import ClassifiedCall, Outcome


def what_both_tell(record: ClassifiedCall) -> Dict[str, object]:
    """The fields a CDR tells as the AMI events do (a message left or not: only the events say)."""
    outcome = Outcome.VOICEMAIL if record.outcome == Outcome.VOICEMAIL_NO_MESSAGE else record.outcome
    return {
        "outcome": outcome,
        "inbound": record.inbound,
        "caller": record.caller_number,
        "caller_name": record.caller_name,
        "dialled": record.dialled_number,
        "rung": record.extensions_rung,
        "answered_by": record.answered_by,
        "transferred_to": record.transferred_to,
        "queue": record.queue,
        "mailbox": record.voicemail.mailbox if record.voicemail else None,
        "answered": record.answer is not None,
    }
