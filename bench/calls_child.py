"""Figure 13 in a process of its own: N calls ending at a steady pace, the memory and drain.

Why a separate process: the peak RSS must be that of a daemon running its
journal, not of the benchmark's process with the other figures' leftovers.
This process is the daemon (``Bridge``, FastAGI server, ``CallJournal`` with
its threads); ITFlow and the manager interface are processes of their own.
The callers are looked up first, as when their calls rang.  VmHWM is reset
(``/proc/self/clear_refs``) once everything is loaded, so the peak is the
calls' own.  Planning a call (``TicketPlanner.plan``) is timed, to show how
its cost grows with the outbox.

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calls import FIRST_PHONE, missed_calls, request_counts, running_journal, ticket_key, wait_landed
from figures import warm_listings
from harness import RemoteAMI, RemoteFake, mean, quiet_logs, require
from memory_child import status_kb


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")  # resets VmHWM to the current RSS


def timed_planner(journal, spent: List[float]) -> None:
    """Wrap the journal's planner so each call's planning time is kept (the bench's instrument)."""
    plan = journal.planner.plan

    def timed(call):
        began = time.perf_counter()
        try:
            return plan(call)
        finally:
            spent.append((time.perf_counter() - began) * 1000.0)

    journal.planner.plan = timed


def measure(calls: int, clients: int, interval: float, workdir: Path) -> Dict[str, object]:
    with RemoteFake() as fake, RemoteAMI() as ami:
        phones = fake.add_clients(FIRST_PHONE, clients)[:calls]
        with running_journal(fake, ami, workdir) as (bridge, _port, journal):
            warm_listings(bridge)
            for phone in phones:
                require(bridge.lookup.lookup("+1" + phone).status == "FOUND", "a caller was not found")
            planning: List[float] = []
            timed_planner(journal, planning)
            fake.clear_requests()
            gc.collect()
            reset_peak()
            before_kb = status_kb("VmRSS")
            ami.send(missed_calls(phones), interval, 0)
            sent_at = ami.wait(calls * interval + 120.0)
            landed = wait_landed(fake, calls, 600.0)
            peak_kb = status_kb("VmHWM")
            counts = request_counts(fake)
    missing = [i for i in range(calls) if ticket_key(i) not in landed]
    require(not missing, "calls without a ticket: %s" % missing[:3])
    last = max(landed.values())
    return {
        "calls": calls,
        "before_kb": before_kb,
        "peak_kb": peak_kb,
        "sending_s": round(sent_at[-1] - sent_at[0], 2),
        "drain_after_s": round(last - sent_at[-1], 3),
        "rate": round(calls / (last - sent_at[0]), 2),
        "plan_first_ms": round(mean(planning[:100]), 2),
        "plan_last_ms": round(mean(planning[-100:]), 2),
        "requests": counts,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    quiet_logs()
    print(json.dumps(measure(args.calls, args.clients, args.interval, args.workdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
