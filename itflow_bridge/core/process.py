"""Process-wide state, in one place: signal handlers and the immediate exit.

Signal dispositions and ``os._exit`` belong to the whole process, so every
part of the bridge that needs them comes here: one place to read when a
process ends sooner or later than expected.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from typing import Any, Callable, Iterator, Mapping

SignalHandler = Callable[[int, Any], None]


@contextlib.contextmanager
def signal_handlers(handlers: Mapping[int, SignalHandler]) -> Iterator[bool]:
    """Install ``handlers`` while the block runs, then restore what was there.

    Yields False (and installs nothing) outside the main thread, where Python
    cannot install handlers: a FastAGI worker thread, a test runner's thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield True
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def exit_now(code: int = 0) -> None:
    """End the process at once, after flushing logs and standard streams.

    For processes whose work is done while threads may still wait on a hung
    ITFlow: a classic AGI script (Asterisk waits for it to exit before the
    dialplan goes on) and the daemon after its last call.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
