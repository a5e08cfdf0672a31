"""Address allow-lists as the config writes them: ``"127.0.0.1, 10.0.0.0/8 ::1"`` -> IP networks.

A config value type (``[server] allow``), so it lives beside the config rather
than in the FastAGI transport that enforces it.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Optional, Tuple, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

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


def peer_address(host: str) -> Optional[Address]:
    """The peer's address, an IPv4-mapped IPv6 address as IPv4, or None when it cannot be read."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def peer_allowed(host: str, networks: Iterable[Network]) -> bool:
    """Whether the peer ``host`` (as a socket reports it) is in one of ``networks``."""
    address = peer_address(host)
    return address is not None and any(address.version == network.version and address in network
                                       for network in networks)
