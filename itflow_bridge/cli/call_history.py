"""``itflow-bridge calls``: the calls the daemon journaled and what each did in ITFlow; ``--retry`` resends failures.

Reads the call log and the outbox in the cache directory (the daemon may run
meanwhile: both are sqlite in WAL mode).  ``--retry`` queues the failed writes
again and sends what is due at once, unless the daemon is sending right now
(then the daemon sends them, within a minute).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
from typing import Any, Dict, List, Sequence

from ..core.config import Config
from ..core.errors import BridgeError
from ..core.exits import Exit, fail


def calls_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=30, help="how many of the latest calls (default %(default)s)")
    parser.add_argument("--retry", nargs="*", metavar="CALL_ID",
                        help="queue the failed writes again (of these calls, else all) and send them now")
    parser.add_argument("--json", action="store_true", help="print the calls as JSON")


def cmd_calls(config: Config, args: argparse.Namespace) -> int:
    from ..calls.call_log import CallLog
    from ..calls.outbox import Outbox

    if args.limit < 1:
        return fail("--limit must be 1 or more", Exit.FAILURE)
    with Outbox.in_cache(config.cache.dir) as outbox, CallLog.in_cache(config.cache.dir) as log:
        if args.retry is not None:
            return _retry(config, outbox, log, args.retry)
        rows = [_row(call, outbox) for call in log.recent(args.limit)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no calls journaled yet (is [calls] enabled, and the daemon running? see: itflow-bridge check)")
        return 0
    for row in rows:
        print("%s  %-16s %-21s %-24s %s" % (row["when"], row["caller"] or "-", row["outcome"],
                                           (row["client"] or "-")[:24], "; ".join(row["done"]) or row["note"]))
    return 0


def _row(call: Any, outbox: Any) -> Dict[str, Any]:
    entries = [outbox.get(key) for key in call.keys]
    return {
        "call_id": call.call_id,
        "when": _dt.datetime.fromtimestamp(call.ended).strftime("%Y-%m-%d %H:%M:%S"),
        "caller": call.caller,
        "outcome": call.outcome,
        "client": call.client_name,
        "client_id": call.client_id,
        "source": call.source,
        "note": call.note,
        "done": [_what(entry) for entry in entries if entry is not None],
        "writes": [{"key": e.key, "action": e.action, "state": e.state, "ticket_id": e.ticket_id,
                    "ticket_number": e.ticket_number, "reason": e.reason} for e in entries if e is not None],
    }


def _what(entry: Any) -> str:
    """One write as an admin reads it: ``ticket TCK-12``, ``reply on TCK-12``, ``queued``, ``failed: why``."""
    from ..calls.outbox import DONE, FAILED
    from ..calls.tickets import TICKET

    ticket = entry.ticket_number or ("#%d" % entry.ticket_id if entry.ticket_id else "")
    if entry.state == DONE:
        return ("ticket %s" if entry.action == TICKET else "reply on %s") % ticket
    if entry.state == FAILED:
        return "%s failed: %s" % (entry.action, entry.reason or "refused")
    waiting = " (tried %d times: %s)" % (entry.attempts, entry.reason) if entry.attempts else ""
    return "%s queued%s" % (entry.action, waiting)


def _retry(config: Config, outbox: Any, log: Any, call_ids: Sequence[str]) -> int:
    from ..calls.outbox import FAILED, OutboxBusy

    keys: List[str] = []
    if call_ids:
        known = {call.call_id: call for call in log.recent(100000) if call.call_id in set(call_ids)}
        missing = [call_id for call_id in call_ids if call_id not in known]
        if missing:
            return fail("no journaled call %s (see: itflow-bridge calls)" % ", ".join(missing), Exit.FAILURE)
        keys = [key for call in known.values() for key in call.keys]
        if not keys:
            print("those calls wrote nothing to ITFlow: nothing to retry")
            return 0
    failed = [entry for entry in outbox.entries(FAILED) if not keys or entry.key in keys]
    queued = outbox.retry(keys or [entry.key for entry in failed]) if failed else 0
    print("%d failed write(s) queued again" % queued)
    if not queued:
        return 0
    try:
        sent = _send_now(config, outbox)
    except OutboxBusy:
        print("the daemon is sending right now: it sends them too")
        return 0
    except BridgeError as exc:
        return fail("queued, but not sent now: %s (the daemon retries them)" % exc, Exit.FAILURE)
    left = len(outbox.entries(FAILED))
    print("%d sent now; %d write(s) still failed (see: itflow-bridge calls)" % (sent, left))
    return 0 if left == 0 else int(Exit.FAILURE)


def _send_now(config: Config, outbox: Any) -> int:
    from ..api.typed import ITFlowAPI
    from ..calls.tickets import TicketWriter
    from .queries import CLI_BUDGET, bridge_for

    config.require_itflow()
    bridge = bridge_for(config)
    try:
        result = outbox.deliver(TicketWriter(ITFlowAPI(bridge.client.http, timeout=CLI_BUDGET)))
    finally:
        bridge.close()
    return int(result.sent + result.adopted)
