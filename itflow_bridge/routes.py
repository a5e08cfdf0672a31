"""The AGI handlers by script name, and the full path of a classic AGI call.

Both transports serve the same handlers: the FastAGI daemon routes on the
script name of ``agi://host/NAME``; a classic script in agi-bin is that NAME
(its entry point, with the cache-hit replay, is ``classic_script.main``).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable, Dict, List, Optional

from .classic_script import REPLAYABLE, SCRIPTS, replay_key

log = logging.getLogger(__name__)

STATUS_VARIABLE = {"itflow-cid.agi": ("ITFLOW_CID_STATUS", "ERROR"),
                   "itflow-balance.agi": ("ITFLOW_BALANCE_STATUS", "UNAVAILABLE")}
__all__ = ["routes", "classic_main", "refresh_main", "SCRIPTS"]


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
    result = outcome[0] if outcome else None
    if bridge is not None and env is not None and result is not None:
        _record_for_replay(bridge, replay_key(route, env, os.environ), result, recorder.lines)
    if getattr(result, "timed_out", False) and bridge is not None:
        bridge.lookup.mark_refreshing(result.number)
        _spawn_refresher(result.number)
    _exit_now()
    return 0  # not reached


def refresh_main(number: str) -> int:
    """The detached refresher: ask ITFlow for ``number`` without a budget and cache the answer."""
    from .app import Bridge
    from .config import load_config

    bridge = Bridge(load_config())
    bridge.lookup.refresh(number)
    bridge.close()
    return 0


def _spawn_refresher(number: str) -> None:
    """Let the late answer still fill the cache, in a process Asterisk does not wait for.

    res_agi waits for the script to exit before the dialplan goes on, so this
    process cannot linger on an ITFlow that overran the budget.
    """
    import subprocess

    code = "import sys; from itflow_bridge.routes import refresh_main; sys.exit(refresh_main(sys.argv[1]))"
    try:
        subprocess.Popen([sys.executable, "-c", code, number], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        log.warning("could not start the background refresh: %s", exc)


def _exit_now() -> None:
    """End the process at once: worker threads may still wait on ITFlow, and Asterisk waits for us."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


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


