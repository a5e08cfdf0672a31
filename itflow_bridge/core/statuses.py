"""Every status the bridge reports, defined once.

Each is a ``str`` enum: the dialplan sees the plain value (``FOUND``), code
compares members, and a typo is an ``AttributeError`` instead of a status that
silently never matches.
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class CallerIDStatus(Status):
    """``ITFLOW_CID_STATUS`` after the caller-ID flow."""

    FOUND = "FOUND"
    NOTFOUND = "NOTFOUND"
    SKIPPED = "SKIPPED"  # withheld, anonymous, non-numeric or too short: ITFlow not asked
    ERROR = "ERROR"  # ITFlow failed or was over budget


class BalanceStatus(Status):
    """``ITFLOW_BALANCE_STATUS`` after the balance IVR."""

    OK = "OK"
    INVALID = "INVALID"  # attempts used up
    DENIED = "DENIED"  # verification failed, or the hourly failure limit
    UNAVAILABLE = "UNAVAILABLE"  # ITFlow down, or the balance is not exactly knowable
    CANCELLED = "CANCELLED"  # the caller pressed *
    HANGUP = "HANGUP"


class BalanceOutcome(Status):
    """What the balance service found out about one client."""

    OK = "OK"
    NO_CLIENT = "NO_CLIENT"
    INEXACT = "INEXACT"  # cannot be known exactly from this API
    UNAVAILABLE = "UNAVAILABLE"  # ITFlow failed or was over budget
