"""The AGI handlers by script name, and the entry point of the classic AGI scripts.

Both transports serve the same handlers: the FastAGI daemon routes on the
script name of ``agi://host/NAME``; a classic script in agi-bin is that NAME.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Callable, Dict

log = logging.getLogger(__name__)

LATE_ANSWER_WAIT = 10.0  # seconds a classic script lingers, detached, to cache a late answer
SCRIPTS = {"itflow-cid.agi": "caller-ID names from ITFlow",
           "itflow-balance.agi": "the account balance IVR"}
STATUS_VARIABLE = {"itflow-cid.agi": ("ITFLOW_CID_STATUS", "ERROR"),
                   "itflow-balance.agi": ("ITFLOW_BALANCE_STATUS", "UNAVAILABLE")}


SCRIPT_TEMPLATE = '''#!{python}
"""Classic AGI script of itflow-bridge: {what}.

Install with `itflow-bridge install-agi` (it writes this file into agi-bin with
the Python of your itflow-bridge installation); the dialplan runs it through
asterisk-conf/extensions_itflow.conf.
"""
import sys

from itflow_bridge.routes import classic_main

sys.exit(classic_main("{name}"))
'''


def classic_script(name: str, python: str = "/usr/bin/env python3") -> str:
    """The text of the classic AGI script for route ``name``."""
    return SCRIPT_TEMPLATE.format(python=python, what=SCRIPTS[name], name=name)


def routes(bridge) -> Dict[str, Callable]:
    from .flows.callerid import ROUTE as CID_ROUTE, make_callerid_handler

    table = {CID_ROUTE: make_callerid_handler(bridge)}
    try:
        from .flows.balance import ROUTE as BALANCE_ROUTE, make_balance_handler
    except ImportError:  # pragma: no cover - the balance IVR ships separately
        return table
    table[BALANCE_ROUTE] = make_balance_handler(bridge)
    return table


def failed_handler(route: str) -> Callable:
    """A handler for when the bridge cannot start: the call goes on with the error status."""
    variable, status = STATUS_VARIABLE.get(route, ("ITFLOW_CID_STATUS", "ERROR"))

    def handle(session) -> None:
        session.set_variable(variable, status)

    return handle


def classic_main(route: str) -> int:
    """Run one classic AGI call for ``route``; always exits 0 so AGISTATUS is SUCCESS."""
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
        handler = routes(bridge)[route]
    except ConfigError as exc:
        setup_logging("WARNING", fmt="itflow-bridge %(levelname)s: %(message)s")
        log.error("%s", exc)
        handler = failed_handler(route)
    run_classic(handler, verbose_level=verbose_level)
    if bridge is not None:
        _detach_from_asterisk()
        bridge.wait_idle(LATE_ANSWER_WAIT)
        bridge.close()
    return 0


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
