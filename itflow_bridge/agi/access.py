"""Who may talk FastAGI to the daemon: an allow-list of peer addresses.

A FastAGI connection runs handlers that look up clients and speak balances, so
the daemon only serves the PBX.  It listens on 127.0.0.1 by default; bound
anywhere else, only peers on the allow-list (``[server] allow``, addresses or
CIDR networks) are served.  Every other connection is closed before a byte of
its AGI environment is read, and each refused address is logged at most once a
minute, so a scanner cannot flood the log.

The default trusts 127.0.0.1 and ::1 only: other 127.x addresses are loopback
too, but a local process can bind them, so they are not trusted unless listed.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from typing import Callable, Dict, Iterable, Optional, Tuple, Union

from ..core.networks import DEFAULT_ALLOW, Network, parse_networks, peer_allowed

REFUSAL_LOG_INTERVAL = 60.0  # seconds between two log lines about the same refused address
_REMEMBERED_REFUSALS = 4096  # bound on the addresses remembered for that rate limit


class PeerFilter:
    """``allows(host)`` for each accepted connection; ``refused(host)`` logs, rate-limited."""

    def __init__(self, allow: Optional[Iterable[Union[str, Network]]] = None, *,
                 logger: Optional[logging.Logger] = None, clock: Callable[[], float] = time.monotonic) -> None:
        entries = DEFAULT_ALLOW if allow is None else allow
        self.networks: Tuple[Network, ...] = tuple(
            entry if isinstance(entry, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else parse_networks([entry])[0]
            for entry in entries
        )
        self._logger = logger or logging.getLogger("itflow_bridge.agi")
        self._clock = clock
        self._lock = threading.Lock()
        self._last_logged: Dict[str, float] = {}

    def allows(self, host: str) -> bool:
        return peer_allowed(host, self.networks)

    def refused(self, host: str) -> None:
        """Record a refused connection from ``host``; log it unless it was logged less than a minute ago."""
        now = self._clock()
        with self._lock:
            last = self._last_logged.get(host)
            if last is not None and now - last < REFUSAL_LOG_INTERVAL:
                return
            if len(self._last_logged) >= _REMEMBERED_REFUSALS:
                self._last_logged = {
                    peer: at for peer, at in self._last_logged.items() if now - at < REFUSAL_LOG_INTERVAL
                }
            self._last_logged[host] = now
        self._logger.warning(
            "FastAGI: refused a connection from %s: not in [server] allow (%s); "
            "further refusals of this address are logged at most once a minute",
            host, ", ".join(str(network) for network in self.networks),
        )
