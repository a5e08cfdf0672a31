"""Address allow-lists as the config writes them: ``"127.0.0.1, 10.0.0.0/8 ::1"`` -> IP networks.

A config value type (``[server] allow``), so it lives beside the config rather
than in the FastAGI transport that enforces it.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Tuple, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

DEFAULT_ALLOW = ("127.0.0.1", "::1")


def parse_networks(raw: Union[str, Iterable[str]]) -> Tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8 ::1"`` -> networks; raises ValueError naming the bad entry."""
    items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError("%r is not an IP address or network (e.g. 192.0.2.10 or 10.0.0.0/24)" % item) from None
    if not networks:
        raise ValueError("list at least one address, e.g. 127.0.0.1")
    return tuple(networks)
