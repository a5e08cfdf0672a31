"""itflow-bridge: caller-ID names, spoken balances and ITFlow tools for FreePBX/Asterisk.

Exit codes (one table, ``itflow_bridge.core.exits``): 0 ok, 1 "no" (nobody
matches, no such client, balance not knowable), 2 failure, 3 configuration
error; one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING, List, Optional

from .. import __version__
from ..core.config import Config, load_config
from ..core.constants import MAX_DIGITS
from ..core.errors import BridgeError
from ..core.exits import Exit, fail, for_error
from ..core.logs import setup_logging
from ..core.paths import CONFIG_ENV, DEFAULT_CONFIG

if TYPE_CHECKING:
    from ..app import Bridge



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="itflow-bridge", description=__doc__.splitlines()[0],
        epilog="Exit codes: 0 ok, 1 no (nobody matches, no such client), 2 failure, 3 configuration error.")
    parser.add_argument("--version", action="version", version="itflow-bridge " + __version__)
    parser.add_argument("--config", help="INI file (default $%s or %s)" % (CONFIG_ENV, DEFAULT_CONFIG))
    parser.add_argument("--url", help="base URL of the ITFlow site (overrides [itflow] url)")
    parser.add_argument("--api-mode", choices=("auto", "legacy", "v1"), help="ITFlow API generation")
    parser.add_argument("--cache-dir", help="directory of the persistent cache")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    lookup = commands.add_parser("lookup", help="print the caller-ID name for a number")
    lookup.add_argument("number", help="the caller's number in any form a trunk sends (+15551234567, 5551234567)")
    lookup.add_argument("--json", action="store_true", help="print the whole result as JSON")

    balance = commands.add_parser("balance", help="print a client's account balance")
    balance.add_argument("client_id", help="the client's number in ITFlow")
    balance.add_argument("--json", action="store_true", help="print the whole answer as JSON")

    check = commands.add_parser("check", help="check the configuration, ITFlow and the API key")
    check.add_argument("--json", action="store_true", help="print the report as JSON")

    from . import pbx as extra  # serve, demo, install-agi, prompts: kept apart to keep this file short

    extra.register(commands)
    __import__("itflow_bridge.cli.phonebooks", fromlist=["register"]).register(commands)  # sync, phonebook
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: argparse's one line and exit 2
    try:
        config = load_config(
            args.config,
            overrides={
                ("itflow", "url"): args.url,
                ("itflow", "api_mode"): args.api_mode,
                ("cache", "dir"): args.cache_dir,
            },
        )
        setup_logging("DEBUG" if args.verbose else ("INFO" if args.command == "serve" else "ERROR"))
        handler = args.handler if hasattr(args, "handler") else COMMANDS[args.command]
        return int(handler(config, args))
    except (BridgeError, KeyboardInterrupt) as exc:
        return fail(exc if str(exc) else "interrupted", for_error(exc))
    except Exception as exc:  # a bug of ours: still one line; the traceback goes to the -v log
        logging.getLogger("itflow_bridge").debug("internal error", exc_info=True)
        return fail("internal error (%s: %s); run again with -v for the details" % (type(exc).__name__, exc))


def bridge_for(config: Config) -> "Bridge":
    from ..app import Bridge

    return Bridge(config)


# A command line is not a ringing phone: it may wait for ITFlow's own timeouts.
CLI_BUDGET = 30.0


def cmd_lookup(config: Config, args: argparse.Namespace) -> int:
    from ..services.display import display_name
    from ..services.lookup import ERROR, FOUND, SKIPPED
    from ..services.numbers import not_a_number_reason

    config.require_itflow()
    bridge = bridge_for(config)
    result = bridge.lookup.lookup(args.number, budget=CLI_BUDGET)
    if result.status == SKIPPED:
        reason = not_a_number_reason(args.number, config.callerid.min_digits)
        return fail("%r is not a number that can be looked up: %s" % (args.number, reason), Exit.FAILURE)
    if result.status == ERROR:
        return fail(result.error, Exit.FAILURE)
    match = result.match if result.status == FOUND else None
    name = display_name(match, config.callerid, result.number or "") if match is not None else None
    if args.json:
        print(json.dumps({
            "status": result.status,
            "number": result.number,
            "display_name": name,
            "source": result.source,
            "match": result.match.to_dict() if result.match else None,
        }, ensure_ascii=False))
    elif name is not None:
        print(name)
    if result.status == FOUND:
        return Exit.OK
    if not args.json:  # stdout stays empty for scripts; a person still learns the command ran
        fail("no match in ITFlow for %s" % result.number, Exit.NO)
    return Exit.NO


def cmd_balance(config: Config, args: argparse.Namespace) -> int:
    from ..services.balance import INEXACT, NO_CLIENT, OK

    if not args.client_id.isdigit() or int(args.client_id) == 0 or len(args.client_id) > MAX_DIGITS:
        return fail("client id must be a positive whole number, not %r" % args.client_id, Exit.FAILURE)
    config.require_itflow()
    bridge = bridge_for(config)
    answer = bridge.balance.balance(int(args.client_id), budget=CLI_BUDGET)
    if args.json:
        print(json.dumps({
            "status": answer.status,
            "client_id": answer.client_id,
            "client_name": answer.client_name,
            "amount": None if answer.amount is None else "%.2f" % answer.amount,
            "currency": answer.currency,
            "client_confirmed": answer.client_confirmed,
            "reason": answer.reason,
        }, ensure_ascii=False))
    elif answer.status == OK and answer.amount is not None:
        print(("%.2f %s" % (answer.amount, answer.currency or "")).strip())
        if not answer.client_confirmed:
            print("itflow-bridge: note: the legacy API also answers 0 for a client that does not exist",
                  file=sys.stderr)
    if answer.status == OK:
        return Exit.OK
    if answer.status in (NO_CLIENT, INEXACT):
        if not args.json:
            fail(answer.reason, Exit.NO)
        return Exit.NO
    if not args.json:
        fail(answer.reason, Exit.FAILURE)
    return Exit.FAILURE


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    from ..health import run_checks

    report = run_checks(config)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for item in report.items:
            print(item.line())
    if report.ok:
        return Exit.OK
    return Exit.CONFIG if report.configuration_failed else Exit.FAILURE


COMMANDS = {"lookup": cmd_lookup, "balance": cmd_balance, "check": cmd_check}


if __name__ == "__main__":
    sys.exit(main())
