"""Our own small AGI core: protocol, one session class, classic and FastAGI transports.

Owned rather than borrowed because the available libraries (pyst2, pystrix)
do not escape quoted arguments, so a client name with ``"`` or a newline
could inject AGI commands; see the README for the evidence.
"""

import importlib

# Imported on first use: a classic script replaying a cached answer needs only protocol.
_WHERE = {
    "run_classic": "stdio",
    "FastAGIServer": "fastagi",
    "Reply": "protocol",
    "parse_env": "protocol",
    "parse_reply": "protocol",
    "quote": "protocol",
    "AGISession": "session",
    "DigitsResult": "session",
    "StreamResult": "session",
}

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


def __getattr__(name: str) -> object:
    if name in _WHERE:
        return getattr(importlib.import_module("itflow_bridge.agi." + _WHERE[name]), name)
    raise AttributeError("module 'itflow_bridge.agi' has no attribute %r" % name)
