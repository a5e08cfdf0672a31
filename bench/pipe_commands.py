"""The child side of a benchmark process driven over its pipes (the peer of ``harness.JsonChild``).

One JSON object a line in, one JSON answer a line out; an exception becomes an
``error`` answer, so the parent's figure says what went wrong instead of hanging.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, Dict

Command = Dict[str, Any]


def serve_commands(hello: Command, answer: Callable[[Command], Command]) -> int:
    """Say ``hello`` (where the child listens), then answer every command until stdin closes."""
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except Exception as exc:
            reply = {"error": "%s: %s" % (type(exc).__name__, exc)}
        print(json.dumps(reply), flush=True)
    return 0
