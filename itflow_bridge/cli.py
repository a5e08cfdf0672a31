"""``itflow-bridge``: the admin's command line.

Exit codes: 0 success, 1 "no" (nobody matches, no such client, balance not
knowable), 2 and up for failures, each with one line on stderr and never a
traceback (``--verbose`` adds detail to the log, not to the message).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, List, Optional

from . import __version__
from .config import Config, load_config
from .errors import BridgeError, ConfigError
from .logs import setup_logging
from .redact import redact

if TYPE_CHECKING:
    from .app import Bridge

EXIT_OK, EXIT_NO, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="itflow-bridge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version="itflow-bridge " + __version__)
    parser.add_argument("--config", help="INI file (default $ITFLOW_BRIDGE_CONFIG or /etc/itflow-bridge/itflow-bridge.conf)")
    parser.add_argument("--url", help="base URL of the ITFlow site (overrides [itflow] url)")
    parser.add_argument("--api-mode", choices=("auto", "legacy", "v1"), help="ITFlow API generation")
    parser.add_argument("--cache-dir", help="directory of the persistent cache")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    lookup = commands.add_parser("lookup", help="print the caller-ID name for a number")
    lookup.add_argument("number")
    lookup.add_argument("--json", action="store_true", help="print the whole result as JSON")

    balance = commands.add_parser("balance", help="print a client's account balance")
    balance.add_argument("client_id")
    balance.add_argument("--json", action="store_true")

    check = commands.add_parser("check", help="check the configuration, ITFlow and the API key")
    check.add_argument("--json", action="store_true")

    from . import commands as extra  # serve, demo, install-agi, prompts: kept apart to keep this file short

    extra.register(commands)
    __import__("itflow_bridge.directory.commands", fromlist=["register"]).register(commands)  # sync, phonebook
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
        return args.handler(config, args) if hasattr(args, "handler") else COMMANDS[args.command](config, args)
    except ConfigError as exc:
        return fail(str(exc), EXIT_CONFIG)
    except BridgeError as exc:
        return fail(str(exc), EXIT_FAIL)
    except KeyboardInterrupt:
        return 130


def fail(message: str, code: int) -> int:
    print("itflow-bridge: %s" % redact(message), file=sys.stderr)
    return code


def bridge_for(config: Config) -> "Bridge":
    from .app import Bridge

    return Bridge(config)


# A command line is not a ringing phone: it may wait for ITFlow's own timeouts.
CLI_BUDGET = 30.0


def cmd_lookup(config: Config, args: argparse.Namespace) -> int:
    from .services.display import display_name
    from .services.lookup import ERROR, FOUND, SKIPPED

    bridge = bridge_for(config)
    result = bridge.lookup.lookup(args.number, budget=CLI_BUDGET)
    if result.status == SKIPPED:
        return fail("%r is not a number that can be looked up (withheld, too short or not digits)" % args.number, EXIT_FAIL)
    if result.status == ERROR:
        return fail(result.error, EXIT_FAIL)
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
    return EXIT_OK if result.status == FOUND else EXIT_NO


def cmd_balance(config: Config, args: argparse.Namespace) -> int:
    from .services.balance import INEXACT, NO_CLIENT, OK

    if not args.client_id.isdigit() or int(args.client_id) == 0:
        return fail("client id must be a positive whole number, not %r" % args.client_id, EXIT_FAIL)
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
        return EXIT_OK
    if answer.status in (NO_CLIENT, INEXACT):
        if not args.json:
            fail(answer.reason, EXIT_NO)
        return EXIT_NO
    if not args.json:
        fail(answer.reason, EXIT_FAIL)
    return EXIT_FAIL


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    from .check import run_checks

    report = run_checks(config)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for item in report.items:
            print(item.line())
    return EXIT_OK if report.ok else EXIT_FAIL


COMMANDS = {"lookup": cmd_lookup, "balance": cmd_balance, "check": cmd_check}


if __name__ == "__main__":
    sys.exit(main())
