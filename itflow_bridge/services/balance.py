"""A client's balance, told only when it is known to be right.

The two API generations fail differently: the legacy API answers 0 for a
client that does not exist, and the JSON API has no payments, so part-paid
invoices make its sum wrong.  ``BalanceService`` turns both into one answer
with a status, within the call's time budget, and never guesses an amount.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from concurrent.futures import Future
from typing import Callable, Optional

from ..core.config import BalanceSettings
from ..core.errors import BridgeError, ITFlowNotSupported, ITFlowTimeout
from ..itflow.base import ITFlowAdapter
from ..core.redact import redact
from ..core.statuses import BalanceOutcome
from .budget import SingleFlight, wait

log = logging.getLogger(__name__)

OK, NO_CLIENT, INEXACT, UNAVAILABLE = (BalanceOutcome.OK, BalanceOutcome.NO_CLIENT, BalanceOutcome.INEXACT,
                                       BalanceOutcome.UNAVAILABLE)


@dataclass(frozen=True)
class BalanceAnswer:
    status: BalanceOutcome
    client_id: int
    amount: Optional[Decimal] = None
    currency: Optional[str] = None  # ISO code when ITFlow says so
    client_name: Optional[str] = None
    client_confirmed: bool = True  # False: legacy API, where 0 also means "no such client"
    reason: str = ""
    timed_out: bool = False  # no answer within the budget; asking again joins the same request


class PendingBalance:
    """A balance on its way: ``answer(budget)`` may be called again after a timeout.

    The IVR waits a little, says "one moment please", then waits on the same
    request, so an answer that lands while the prompt plays is not lost.
    """

    def __init__(self, client_id: int, future: "Future[BalanceAnswer]"):
        self.client_id = client_id
        self._future = future

    def answer(self, budget: float) -> BalanceAnswer:
        client_id = self.client_id
        try:
            answer: BalanceAnswer = wait(self._future, budget)
            return answer
        except ITFlowNotSupported as exc:
            return BalanceAnswer(INEXACT, client_id, reason=redact(exc))
        except ITFlowTimeout as exc:
            return BalanceAnswer(UNAVAILABLE, client_id, reason=redact(exc), timed_out=True)
        except BridgeError as exc:
            log.warning("balance of client %d unavailable: %s", client_id, redact(exc))
            return BalanceAnswer(UNAVAILABLE, client_id, reason=redact(exc))
        except Exception as exc:  # a bug must not silence the call
            log.exception("balance lookup crashed")
            return BalanceAnswer(UNAVAILABLE, client_id, reason="internal error: %s" % type(exc).__name__)


class BalanceService:
    def __init__(self, settings: BalanceSettings, adapter: Callable[[], ITFlowAdapter],
                 flights: Optional[SingleFlight] = None):
        self.settings = settings
        self._adapter = adapter
        self.flights = flights or SingleFlight(name="itflow-balance")

    def balance(self, client_id: int, budget: Optional[float] = None) -> BalanceAnswer:
        budget = self.settings.budget_ms / 1000.0 if budget is None else budget
        return self.request(client_id).answer(budget)

    def request(self, client_id: int) -> "PendingBalance":
        """Start (or join) the ITFlow work now; wait for it, maybe in steps, with ``answer``."""
        return PendingBalance(client_id, self.flights.start("balance:%d" % client_id, lambda: self._fetch(client_id)))

    def _fetch(self, client_id: int) -> BalanceAnswer:
        adapter = self._adapter()
        balance = adapter.get_balance(client_id)
        if balance is None:
            return BalanceAnswer(NO_CLIENT, client_id, reason="no client with id %d" % client_id)
        return BalanceAnswer(
            OK,
            client_id,
            amount=balance.amount,
            currency=balance.currency,
            client_name=balance.client_name,
            client_confirmed=balance.client_confirmed,
        )
