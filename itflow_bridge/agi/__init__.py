"""Our own small AGI core: protocol, one session class, classic and FastAGI transports.

Owned rather than borrowed because the available libraries (pyst2, pystrix)
do not escape quoted arguments, so a client name with ``"`` or a newline
could inject AGI commands; see the README for the evidence.
"""

from itflow_bridge.agi.classic import run_classic
from itflow_bridge.agi.fastagi import FastAGIServer
from itflow_bridge.agi.protocol import Reply, parse_env, parse_reply, quote
from itflow_bridge.agi.session import AGISession, DigitsResult, StreamResult

__all__ = [
    "AGISession",
    "DigitsResult",
    "FastAGIServer",
    "Reply",
    "StreamResult",
    "parse_env",
    "parse_reply",
    "quote",
    "run_classic",
]
