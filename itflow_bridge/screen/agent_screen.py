"""The agent screen of one daemon: the ringing board, the cards, the live streams and the routes, built together.

``AgentScreen.for_bridge(bridge)`` builds it; ``attach(journal)`` feeds it the
call journal's AMI events (one connection to Asterisk serves both);
``routes`` goes to the directory HTTP server as its ``extra_routes``.  Click to
call is on when ``[calls] originate_user`` is set.  Today's calls are kept in
the cache directory (``todays_calls``), so a restarted daemon's pages list them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from .card import CardService, Fetch, FindCaller
from .click_to_call import ClickToCall
from .live import LiveStreams
from .ringing import RingingBoard
from .todays_calls import keep_todays_calls
from .tokens import AgentLinks
from .web import AgentRoutes

if TYPE_CHECKING:
    from ..app import Bridge
    from ..calls.journal import CallJournal


class AgentScreen:
    def __init__(self, cache_dir: "Path | str", find: FindCaller, fetch: Fetch, itflow_url: str, **options: Any):
        self.links = AgentLinks.in_cache(cache_dir)
        self.board = RingingBoard()
        self.todays_calls = keep_todays_calls(self.board, cache_dir)
        self.cards = CardService(find, fetch, itflow_url, **{key: value for key, value in options.items()
                                                              if key in ("budget", "ttl", "failure_ttl")})
        self.streams = LiveStreams(self.board, self.cards)
        heartbeat: Optional[float] = options.get("heartbeat")
        click: Optional[ClickToCall] = options.get("click")
        self.routes = AgentRoutes(self.links, self.streams, click=click,
                                  **({"heartbeat": heartbeat} if heartbeat else {}))

    @classmethod
    def for_bridge(cls, bridge: "Bridge", show_balance: Optional[bool] = None) -> "AgentScreen":
        """This bridge's screen: its directory, its ITFlow (JSON API), its cache directory.  The balance is
        fetched and shown as ``[balance] agent_screen`` says (``show_balance``, when given, instead)."""
        from ..api.typed import ITFlowAPI
        from .card import balance_text, directory_finder, itflow_fetch

        config = bridge.config
        shown = config.balance.agent_screen if show_balance is None else show_balance
        balance: Optional[Callable[[int], Optional[str]]] = balance_text(bridge) if shown else None
        return cls(config.cache.dir, directory_finder(bridge), itflow_fetch(ITFlowAPI(bridge.client.http), balance),
                   config.itflow.url, click=click_to_call(bridge))

    def attach(self, journal: "CallJournal") -> None:
        """Feed the board from the journal's AMI connection."""
        journal.event_listeners.append(self.board.on_event)
        journal.lost_listeners.append(self.board.connection_lost)

    def close(self) -> None:
        self.streams.close_all()
        self.links.close()
        if self.todays_calls is not None:
            self.todays_calls.close()


def click_to_call(bridge: "Bridge") -> Optional[ClickToCall]:
    """This bridge's click to call, placing calls with ``[calls] originate_user``; None when that is empty."""
    from ..calls.originate import Originator

    calls = bridge.config.calls
    if not calls.originate_user:
        return None
    originator = Originator(calls.ami_host, calls.ami_port, calls.originate_user, calls.originate_secret,
                            channel_template=calls.originate_channel, context=calls.originate_context)
    return ClickToCall(originator.call, auto_confirm=calls.originate_auto_confirm)
