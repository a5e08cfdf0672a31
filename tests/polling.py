"""Waiting on observable state instead of guessing how long something takes.

A test that sleeps a fixed time before looking is a bet on the machine's speed;
``wait_for`` polls the condition itself and gives up only after a patience long
enough that a loaded machine never hits it (a real hang still fails).
"""

from __future__ import annotations

import time
from typing import Callable

POLL_INTERVAL = 0.01
PATIENCE = 30.0


def wait_for(condition: Callable[[], bool], what: str, patience: float = PATIENCE) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + patience
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting for %s" % what)
        time.sleep(POLL_INTERVAL)
