"""./run-bench: how much delay a call pays, against its physical floor.

Prints one table (figure, measured, baseline, ratio, target, PASS/FAIL) and
the details behind each row, and exits 1 when a target is missed or a figure
could not be measured.  Ratios, not absolute times, are the result: a shared
2-core machine makes absolute times noise, so every baseline runs side by
side with what it is compared to.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calls import burst, callerid_beside_journal, hangup_to_ticket, outage
from classic import classic_cache_hit
from directory import classic_synced, fastagi_synced, listings, sync_and_phonebooks
from figures import (
    black_hole, fastagi_cache_hit, memory, peer_comparison, slow_itflow,
)
from harness import Driver, Row, format_table, quiet_logs
from screen import many_pages, ring_to_name


@dataclass(frozen=True)
class Plan:
    """How many runs each figure gets, and the wall-clock cap of each loop (seconds)."""

    fastagi_sessions: int
    classic_runs: int
    slow_rounds: int
    blackhole_rounds: int
    memory_entries: int
    peer_calls: int
    loop_seconds: float
    journal_calls: int  # figure 12
    burst_calls: Tuple[int, int]  # figure 13: the smaller and the larger burst
    outage_calls: int  # figure 14
    busy_cycles: int  # figure 15: cycles of alone / busy / alone
    busy_calls: int  # figure 15: calls the journal takes per cycle
    screen_calls: int  # figure 16: calls rung to the agent's page
    pages_cycles: int  # figure 17: cycles of no page / 200 pages open
    pages_sessions: int  # figure 17: cache hits per block


FULL = Plan(fastagi_sessions=2000, classic_runs=40, slow_rounds=3, blackhole_rounds=3,
            memory_entries=100000, peer_calls=1000, loop_seconds=60.0,
            journal_calls=200, burst_calls=(100, 1000), outage_calls=300, busy_cycles=2, busy_calls=200,
            screen_calls=100, pages_cycles=10, pages_sessions=200)
QUICK = Plan(fastagi_sessions=300, classic_runs=10, slow_rounds=1, blackhole_rounds=1,
             memory_entries=100000, peer_calls=200, loop_seconds=20.0,
             journal_calls=50, burst_calls=(50, 500), outage_calls=100, busy_cycles=1, busy_calls=100,
             screen_calls=30, pages_cycles=2, pages_sessions=100)

FIGURES = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17")


def figure_steps(plan: Plan, driver: Driver, workdir: Path) -> Dict[str, Callable[[], List[Row]]]:
    """Figure number(s) -> the function measuring them (3 and 4 share one set-up)."""
    return {
        "1": lambda: fastagi_cache_hit(driver, workdir / "fig1", plan.fastagi_sessions, plan.loop_seconds),
        "2": lambda: classic_cache_hit(workdir / "fig2", plan.classic_runs, plan.loop_seconds),
        "3,4": lambda: slow_itflow(driver, workdir / "fig34", plan.slow_rounds, plan.loop_seconds),
        "5": lambda: black_hole(driver, workdir / "fig5", plan.blackhole_rounds, plan.loop_seconds),
        "6": lambda: memory(workdir / "fig6", plan.memory_entries),
        "7": lambda: peer_comparison(driver, workdir / "fig7", plan.peer_calls, plan.loop_seconds),
        "8": lambda: (fastagi_synced(driver, workdir / "fig8a", plan.fastagi_sessions // 2, plan.loop_seconds)
                      + classic_synced(workdir / "fig8b", plan.classic_runs, plan.loop_seconds)),
        "9": lambda: listings(driver, workdir / "fig9"),
        "10,11": lambda: sync_and_phonebooks(workdir / "fig10"),
        "12": lambda: hangup_to_ticket(driver, workdir / "fig12", plan.journal_calls, plan.loop_seconds * 2),
        "13": lambda: burst(workdir / "fig13", *plan.burst_calls),
        "14": lambda: outage(workdir / "fig14", plan.outage_calls),
        "15": lambda: callerid_beside_journal(driver, workdir / "fig15", plan.busy_cycles, plan.busy_calls),
        "16": lambda: ring_to_name(workdir / "fig16", plan.screen_calls, plan.loop_seconds),
        "17": lambda: many_pages(workdir / "fig17", plan.pages_cycles, plan.pages_sessions),
    }


def run_step(name: str, step: Callable[[], List[Row]]) -> List[Row]:
    started = time.monotonic()
    print("figure %s ..." % name, file=sys.stderr, flush=True)
    try:
        rows = step()
    except Exception as exc:
        traceback.print_exc()
        rows = [Row(name, "could not be measured", "-", type(exc).__name__, "-", "-", "-", False,
                    [str(exc)])]
    print("figure %s done in %.1f s" % (name, time.monotonic() - started), file=sys.stderr, flush=True)
    return rows


def print_report(rows: Sequence[Row], plan_name: str, seconds: float) -> None:
    print("itflow-bridge benchmarks (%s run, %.0f s); Python %s on %s, %d CPU(s)"
          % (plan_name, seconds, platform.python_version(), platform.machine(), os.cpu_count() or 0))
    print()
    print(format_table(rows))
    for row in rows:
        if row.details:
            print()
            print("[%s] %s" % (row.number, row.figure))
            for line in row.details:
                print("    " + line)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs per figure (about 3 minutes instead of 8)")
    parser.add_argument("--only", default=",".join(FIGURES), metavar="LIST",
                        help="figures to run, e.g. 1,2 (default: all)")
    args = parser.parse_args(argv)
    args.only = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = args.only - set(FIGURES)
    if unknown:
        parser.error("unknown figure(s): %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(FIGURES)))
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    quiet_logs()
    started = time.monotonic()
    rows: List[Row] = []
    driver = Driver()
    try:
        with tempfile.TemporaryDirectory(prefix="itflow-bridge-bench-") as tmp:
            for name, step in figure_steps(plan, driver, Path(tmp)).items():
                if args.only.intersection(name.split(",")):
                    rows += run_step(name, step)
    finally:
        driver.close()
    print_report(rows, "quick" if args.quick else "full", time.monotonic() - started)
    return 1 if any(row.passed is False for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
