"""Which ITFlow client (and contact) a caller is, for a ticket: ids, not just a name.

The local directory knows the contact's id; without a directory entry the
caller-ID lookup (its cache, then ITFlow) still gives the client, and the
ticket then names no contact.  Locations count as the client's; vendors and
numbers of no client make no ticket.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from ..core.errors import BridgeError
from ..core.statuses import CallerIDStatus
from ..services.numbers import directory_keys, lookup_number

if TYPE_CHECKING:
    from ..app import Bridge

log = logging.getLogger(__name__)

LOOKUP_BUDGET = 10.0  # seconds: off the call path, a slow ITFlow may take its time
CLIENT_KINDS = ("contact", "location", "client")


@dataclass(frozen=True)
class KnownCaller:
    client_id: int
    client_name: str
    contact_id: Optional[int] = None
    contact_name: str = ""


class CallerNotKnownYet(BridgeError):
    """Neither the directory nor ITFlow could say who called (ITFlow down): ask again later."""


Identify = Callable[[str], Optional[KnownCaller]]


def identifier(bridge: "Bridge") -> Identify:
    """``identify(number)`` for this bridge: the directory first, then the caller-ID lookup."""
    settings = bridge.config.callerid

    def identify(raw: str) -> Optional[KnownCaller]:
        number = lookup_number(raw, settings.min_digits)
        if number is None:
            return None
        directory = bridge.directory()
        if directory is not None:
            for key in directory_keys(number, settings.default_region):
                for entry in directory.find_all(key):
                    if entry.kind in CLIENT_KINDS and entry.client_id and not entry.archived:
                        contact = entry.kind == "contact"
                        return KnownCaller(entry.client_id, entry.client_name,
                                           entry.record_id if contact else None, entry.name if contact else "")
        result = bridge.lookup.lookup(number, budget=LOOKUP_BUDGET)
        if result.status is CallerIDStatus.ERROR:
            raise CallerNotKnownYet(result.error)
        match = result.match
        if result.status is not CallerIDStatus.FOUND or match is None or not match.client_id:
            return None
        return KnownCaller(match.client_id, match.client_name or "", None, match.contact_name or "")

    return identify
