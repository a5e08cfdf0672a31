"""Run a handler as a classic AGI process (Asterisk forks it; stdin/stdout).

Two things break naive AGI scripts.  Python's default SIGHUP action kills the
process the instant the caller hangs up, mid-request or mid-cache-write; here
SIGHUP only records the hangup, and the session notices it.  And stdout *is*
the command channel: a stray ``print()`` would reach Asterisk as a command,
so while the handler runs ``sys.stdout`` points at stderr and only the session
writes to the real stdout.  Failures end quietly (exit 0): Asterisk must never
see a traceback, and the handler owns the dialplan status variables.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from typing import BinaryIO, Callable, Dict, Iterator, Optional

from itflow_bridge.agi.session import AGISession
from itflow_bridge.core.errors import AGIHangup
from itflow_bridge.core.process import signal_handlers

logger = logging.getLogger("itflow_bridge.agi")

Handler = Callable[[AGISession], object]


def run_classic(
    handler: Handler,
    *,
    stdin: Optional[BinaryIO] = None,
    stdout: Optional[BinaryIO] = None,
    install_sighup: bool = True,
    verbose_level: int = 1,
    env: Optional[Dict[str, str]] = None,
) -> int:
    """Run ``handler`` for the AGI conversation on stdin/stdout; always returns 0.

    ``env`` is the environment block when the caller has already read it.
    """
    reader = stdin if stdin is not None else sys.stdin.buffer
    writer = stdout if stdout is not None else sys.stdout.buffer
    hangup_event = threading.Event()
    with _sighup_sets(hangup_event, install_sighup), contextlib.redirect_stdout(sys.stderr):
        _run_handler(handler, reader, writer, hangup_event, verbose_level, env)
    return 0


def _run_handler(
    handler: Handler, reader: BinaryIO, writer: BinaryIO, hangup_event: threading.Event, verbose_level: int,
    env: Optional[Dict[str, str]],
) -> None:
    try:
        handler(AGISession(reader, writer, env=env, hangup_event=hangup_event, verbose_level=verbose_level))
    except AGIHangup as exc:
        logger.debug("AGI ended by hangup: %s", exc)
    except Exception as exc:
        logger.error("AGI handler failed: %s: %s", type(exc).__name__, _one_line(str(exc)))
        logger.debug("AGI handler traceback", exc_info=True)
    finally:
        _flush_quietly(writer)


@contextlib.contextmanager
def _sighup_sets(event: threading.Event, install: bool) -> Iterator[None]:
    """While active, SIGHUP sets ``event`` instead of killing the process."""
    if not install:
        yield
        return
    with signal_handlers({signal.SIGHUP: lambda _signum, _frame: event.set()}) as installed:
        if not installed:
            logger.debug("not in the main thread: SIGHUP handler not installed")
        yield


def _flush_quietly(writer: BinaryIO) -> None:
    with contextlib.suppress(OSError, ValueError):
        writer.flush()


def _one_line(text: str) -> str:
    return " ".join(text.split())
