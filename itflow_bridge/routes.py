"""The AGI handlers by script name: one table for both transports.

The FastAGI daemon routes on the script name of ``agi://host/NAME``; a classic
script in agi-bin is that NAME.  Here the bridge's services are handed to the
flows, so a flow sees only what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, Optional

from .agi.session import AGISession
from .core.statuses import BalanceStatus, CallerIDStatus

if TYPE_CHECKING:
    from .app import Bridge

Handler = Callable[[AGISession], object]
CALLERID, BALANCE = "itflow-cid.agi", "itflow-balance.agi"
STATUS_VARIABLE = {CALLERID: ("ITFLOW_CID_STATUS", CallerIDStatus.ERROR),
                   BALANCE: ("ITFLOW_BALANCE_STATUS", BalanceStatus.UNAVAILABLE)}


def routes(bridge: "Bridge", only: Optional[str] = None) -> Dict[str, Handler]:
    """Script name -> handler; ``only`` builds just one (a classic script needs one flow)."""
    table: Dict[str, Handler] = {}
    if only in (None, CALLERID):
        from .flows.callerid import make_callerid_handler

        table[CALLERID] = make_callerid_handler(bridge.lookup, bridge.config.callerid,
                                                bridge.config.server.verbose_level, bridge.config.itflow.url)
    if only in (None, BALANCE):
        from .flows.balance_ivr import make_balance_handler

        table[BALANCE] = make_balance_handler(bridge.balance, bridge.verification, bridge.speech,
                                              bridge.config.balance)
    return table


def failed_handler(route: str) -> Handler:
    """A handler for when the bridge cannot start: the call goes on with the error status."""
    variable, status = STATUS_VARIABLE.get(route, ("ITFLOW_CID_STATUS", CallerIDStatus.ERROR))

    def handle(session: AGISession) -> None:
        session.set_variable(variable, status.value)

    return handle
