"""Who may hear a balance: the configured caller check and the hourly failure limit.

Security policy lives here, not in the IVR, so it can be tested without a
call.  Two rules: any doubt is a no (ITFlow down, an API that cannot tell, a
client without PINs), and nobody can enumerate balances (failures are counted
per caller number in the shared cache, across calls, processes and restarts;
over the limit nothing is looked up at all).
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Callable, List

from ..storage.cache import Cache
from ..core.config import BalanceSettings
from ..core.errors import BridgeError
from ..itflow.base import ITFlowAdapter
from ..core.redact import redact
from .numbers import candidate_numbers, lookup_number

log = logging.getLogger(__name__)

FAILURE_WINDOW = 3600.0
MIN_CALLER_DIGITS = 3


class PinChallenge:
    """The PINs of one client's contacts, to compare a keyed-in PIN against."""

    def __init__(self, pins: List[str]):
        self._pins = [pin.encode() for pin in pins if pin]

    def check(self, entered: str) -> bool:
        """Compares against every PIN, always, each in constant time; never logged."""
        candidate = entered.encode()
        matches = [hmac.compare_digest(candidate, pin) for pin in self._pins]
        return bool(entered) and any(matches)


class CallerVerification:
    def __init__(self, settings: BalanceSettings, default_region: str, events: Cache,
                 adapter: Callable[[], ITFlowAdapter], *, scope: Callable[[], str] = lambda: ""):
        self.settings = settings
        self._scope = scope
        self.default_region = default_region
        self._events = events
        self._adapter = adapter

    @property
    def method(self) -> str:
        """``none``, ``callerid`` or ``pin``."""
        return self.settings.verify

    # --- the hourly failure limit -------------------------------------------

    def failures_this_hour(self, caller: str) -> int:
        return self._events.count_events(self._failure_key(caller), FAILURE_WINDOW)

    def locked_out(self, caller: str) -> bool:
        """Whether this caller used up the hour's failures: then nothing is looked up."""
        return self.failures_this_hour(caller) >= self.settings.max_failures_per_hour

    def record_failure(self, caller: str) -> None:
        self._events.record_event(self._failure_key(caller))

    def _failure_key(self, caller: str) -> str:
        return "%s|balance-failures:%s" % (self._scope(), caller or "unknown")

    # --- the checks ------------------------------------------------------------

    def caller_matches(self, caller: str, client_id: int) -> bool:
        """Whether the calling number is one ITFlow holds for the client (any doubt: no)."""
        number = lookup_number(caller, MIN_CALLER_DIGITS)
        if number is None:
            return False
        try:
            adapter = self._adapter()
            if not adapter.capabilities.verifies_callers:
                return False
            stored = {re.sub(r"[^0-9]", "", n) for n in adapter.client_phone_numbers(client_id)}
        except BridgeError as exc:
            log.warning("cannot verify caller for client %d: %s", client_id, redact(exc))
            return False
        return bool(stored & set(candidate_numbers(number, self.default_region)))

    def pin_challenge(self, client_id: int) -> "PinChallenge | None":
        """The client's PINs to check a keyed-in one against; None when none can be checked."""
        try:
            adapter = self._adapter()
            if not adapter.capabilities.verifies_callers:
                return None
            pins = [contact.pin for contact in adapter.client_contacts(client_id) if contact.pin]
        except BridgeError as exc:
            log.warning("cannot verify caller for client %d: %s", client_id, redact(exc))
            return None
        return PinChallenge(pins) if pins else None
