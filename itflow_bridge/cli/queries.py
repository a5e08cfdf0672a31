"""``itflow-bridge lookup``, ``balance`` and ``check``: one question to ITFlow, one answer printed.

Exit codes as everywhere: 0 ok, 1 no (nobody matches, no such client, balance
not knowable), 2 failure, 3 configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Optional

from ..core.config import Config
from ..core.constants import MAX_DIGITS
from ..core.exits import Exit, fail

if TYPE_CHECKING:
    from ..app import Bridge


def bridge_for(config: Config) -> "Bridge":
    from ..app import Bridge

    return Bridge(config)


# A command line is not a ringing phone: it may wait for ITFlow's own timeouts.
CLI_BUDGET = 30.0


def client_id_from(text: str) -> Optional[int]:
    """A client id as typed: ASCII digits only, as a caller's number is read (``str.isdigit`` also
    takes ``１２`` and ``²``), 1 or more; None for anything else."""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS or int(text) == 0:
        return None
    return int(text)


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

    client_id = client_id_from(args.client_id)
    if client_id is None:
        return fail("client id must be a positive whole number, not %r" % args.client_id, Exit.FAILURE)
    config.require_itflow()
    bridge = bridge_for(config)
    answer = bridge.balance.balance(client_id, budget=CLI_BUDGET)
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
