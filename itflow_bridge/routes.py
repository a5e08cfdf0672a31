"""The AGI handlers by script name, and the full path of a classic AGI call.

Both transports serve the same handlers: the FastAGI daemon routes on the
script name of ``agi://host/NAME``; a classic script in agi-bin is that NAME
(its entry point, with the cache-hit replay, is ``classic_script.main``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Callable, Dict, List, Optional

from .classic_script import REPLAYABLE, SCRIPTS, replay_key

log = logging.getLogger(__name__)

LATE_ANSWER_WAIT = 10.0  # seconds a classic script lingers, detached, to cache a late answer
STATUS_VARIABLE = {"itflow-cid.agi": ("ITFLOW_CID_STATUS", "ERROR"),
                   "itflow-balance.agi": ("ITFLOW_BALANCE_STATUS", "UNAVAILABLE")}
__all__ = ["routes", "classic_main", "SCRIPTS", "LATE_ANSWER_WAIT"]


def routes(bridge, only: Optional[str] = None) -> Dict[str, Callable]:
    """Script name -> handler; ``only`` builds just one (a classic script needs one flow)."""
    table: Dict[str, Callable] = {}
    if only in (None, "itflow-cid.agi"):
        from .flows.callerid import make_callerid_handler

        table["itflow-cid.agi"] = make_callerid_handler(bridge)
    if only in (None, "itflow-balance.agi"):
        from .flows.balance import make_balance_handler

        table["itflow-balance.agi"] = make_balance_handler(bridge)
    return table


def failed_handler(route: str) -> Callable:
    """A handler for when the bridge cannot start: the call goes on with the error status."""
    variable, status = STATUS_VARIABLE.get(route, ("ITFLOW_CID_STATUS", "ERROR"))

    def handle(session) -> None:
        session.set_variable(variable, status)

    return handle


def classic_main(route: str, env: Optional[Dict[str, str]] = None) -> int:
    """Run one classic AGI call for ``route`` with the whole bridge; always exits 0 (AGISTATUS SUCCESS)."""
    from .agi.classic import run_classic
    from .config import load_config
    from .errors import ConfigError
    from .logs import setup_logging

    bridge = None
    verbose_level = 1
    try:
        config = load_config()
        verbose_level = config.server.verbose_level
        setup_logging(config.server.log_level, fmt="itflow-bridge %(levelname)s: %(message)s")
        from .app import Bridge

        bridge = Bridge(config)
        config.require_itflow()
        handler = routes(bridge, only=route)[route]
    except ConfigError as exc:
        setup_logging("WARNING", fmt="itflow-bridge %(levelname)s: %(message)s")
        log.error("%s", exc)
        handler = failed_handler(route)
    recorder = _Recorder(sys.stdout.buffer)
    outcome: List[object] = []
    run_classic(lambda session: outcome.append(handler(session)), stdout=recorder, env=env,
                verbose_level=verbose_level)
    if bridge is not None:
        if env is not None and outcome:
            _record_for_replay(bridge, replay_key(route, env, os.environ), outcome[0], recorder.lines)
        _detach_from_asterisk()
        bridge.wait_idle(LATE_ANSWER_WAIT)
        bridge.close()
    return 0


class _Recorder:
    """The AGI output stream, remembering the command lines written to it."""

    def __init__(self, stream):
        self._stream = stream
        self.lines: List[str] = []

    def write(self, data: bytes) -> int:
        self.lines.append(data.decode("utf-8", errors="replace").rstrip("\n"))
        return self._stream.write(data)

    def flush(self) -> None:
        self._stream.flush()


def _record_for_replay(bridge, key: str, result, lines: List[str]) -> None:
    """Keep a fresh answer's variable assignments for ``classic_script`` to replay."""
    fresh_until = getattr(result, "fresh_until", None)
    if getattr(result, "source", "") not in ("cache", "itflow") or fresh_until is None:
        return  # stale, failed or skipped answers are never replayed
    assignments = [line for line in lines if line.startswith(REPLAYABLE)]
    ttl = fresh_until - bridge.cache.now()
    if assignments and ttl > 1:
        bridge.cache.put(key, assignments, ttl)


def _detach_from_asterisk() -> None:
    """Close our end of the AGI pipes so the dialplan goes on while a late answer is cached.

    Asterisk sends SIGHUP when the script's output closes; it must not kill the
    process before the cache is written.
    """
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
