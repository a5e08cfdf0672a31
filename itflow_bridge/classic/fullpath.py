"""The full path of a classic AGI call: the whole bridge for one call, then exit at once.

Runs when the fast path could not replay.  It records a fresh caller-ID answer
for the next call's replay, and when ITFlow overran the budget it leaves the
late answer to a detached refresher process: res_agi waits for the script to
exit before the dialplan goes on, so this process cannot linger.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import TYPE_CHECKING, BinaryIO, Dict, List, Optional, cast

from ..core.process import exit_now
from ..storage.layout import replayable
from ..storage.replay import record, replay_key

if TYPE_CHECKING:
    from ..services.lookup import LookupResult

log = logging.getLogger(__name__)
LOG_FORMAT = "itflow-bridge %(levelname)s: %(message)s"


def run_call(route: str, env: Optional[Dict[str, str]] = None) -> int:
    """Run one classic AGI call for ``route``; the process exits 0 (AGISTATUS SUCCESS)."""
    if sys.flags.no_site:  # the installed script starts Python with -S for the fast path
        import site

        site.main()
    from ..agi.stdio import run_classic
    from ..app import Bridge
    from ..core.config import load_config
    from ..core.errors import ConfigError
    from ..core.logs import setup_logging
    from ..routes import failed_handler, routes
    from ..services.lookup import LookupResult

    bridge = None
    verbose_level = 1
    try:
        config = load_config()
        verbose_level = config.server.verbose_level
        setup_logging(config.server.log_level, fmt=LOG_FORMAT)
        bridge = Bridge(config)
        config.require_itflow()
        handler = routes(bridge, only=route)[route]
    except ConfigError as exc:
        setup_logging("WARNING", fmt=LOG_FORMAT)
        log.error("%s", exc)
        handler = failed_handler(route)
    recorder = Recorder(sys.stdout.buffer)
    outcome: List[object] = []
    run_classic(lambda session: outcome.append(handler(session)), stdout=cast(BinaryIO, recorder), env=env,
                verbose_level=verbose_level)
    # Only the caller-ID handler answers with a lookup; the balance IVR's and a failed start's give nothing.
    result = outcome[0] if outcome and isinstance(outcome[0], LookupResult) else None
    if bridge is not None and env is not None and result is not None:
        _record_for_replay(str(bridge.config.cache.dir), replay_key(route, env, os.environ), result,
                           recorder.lines, bridge.cache.now())
    if result is not None and result.timed_out and bridge is not None and result.number:
        bridge.lookup.mark_refreshing(result.number)
        _spawn_refresher(result.number)
    exit_now(0)
    return 0  # not reached


def refresh_main(number: str) -> int:
    """The detached refresher: ask ITFlow for ``number`` without a budget and cache the answer."""
    from ..app import Bridge
    from ..core.config import load_config

    bridge = Bridge(load_config())
    bridge.lookup.refresh(number)
    bridge.close()
    return 0


def _spawn_refresher(number: str) -> None:
    """Let the late answer still fill the cache, in a process Asterisk does not wait for."""
    code = "import sys; from itflow_bridge.classic.fullpath import refresh_main; sys.exit(refresh_main(sys.argv[1]))"
    try:
        subprocess.Popen([sys.executable, "-c", code, number], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        log.warning("could not start the background refresh: %s", exc)


class Recorder:
    """The AGI output stream, remembering the command lines written to it."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.lines: List[str] = []

    def write(self, data: bytes) -> int:
        self.lines.append(data.decode("utf-8", errors="replace").rstrip("\n"))
        return self._stream.write(data)

    def flush(self) -> None:
        self._stream.flush()


def _record_for_replay(cache_dir: str, key: str, result: "LookupResult", lines: List[str], now: float) -> None:
    """Keep a fresh answer's variable assignments for the fast path to replay."""
    fresh_until = result.fresh_until
    if result.source not in ("directory", "cache", "itflow") or fresh_until is None:
        return  # stale, failed or skipped answers are never replayed
    assignments = replayable(lines)
    if assignments and fresh_until - now > 1:
        try:
            record(cache_dir, key, assignments, fresh_until)
        except OSError as exc:
            log.warning("cannot keep this answer for the next call in %s: %s", cache_dir, exc)
