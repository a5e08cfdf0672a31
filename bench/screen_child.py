"""Figure 17 in a process of its own: the daemon with 200 agent pages open, its memory and its caller ID.

Why a separate process: the memory must be that of a daemon holding the pages'
streams, not of the benchmark's process with the other figures' leftovers.
This process is the daemon (``screen_daemon.running_screen``); ITFlow, the
manager interface, the simulated Asterisk and the pages (``page_streams.py``)
are processes of their own.  Each cycle: caller-ID cache hits with no page
open, then the pages opened (RSS before and with them; the first cycle's pages
connect all at once, the others one after the other), caller-ID hits with the
pages open, then a ring group's call ringing (every stream of the rung
extensions must be told, no other), the pages closed.  A last block with no
page open ends the run, so the blocks without pages bracket those with them.

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calls import call_id, wait_landed
from figures import HIT_NUMBER, warm_listings
from harness import BENCH_DIR, Driver, JsonChild, RemoteAMI, RemoteFake, quiet_logs, require
from memory_child import status_kb
from screen_daemon import running_screen

RING_GROUP = "ring_group_no_answer"  # a recorded ring group call: rings 202 and 205 at once
RUNG = ("202", "205")
LAST_RUNG = "205"  # the ringing part ends with the DialBegin to this one
EXTENSIONS = ("201", "202", "203", "205")  # the pages' extensions, in turn
FIRST_CALLER = 5559200000
OPEN_TIMEOUT = 120.0
TOLD_TIMEOUT = 10.0
WARM_UP = 100  # cache hits before the first block


class RemotePages(JsonChild):
    """The open pages' streams (bench/page_streams.py)."""

    def __init__(self) -> None:
        super().__init__(BENCH_DIR / "page_streams.py")
        self.read_line(30.0)

    def __enter__(self) -> "RemotePages":
        return self

    def open(self, port: int, paths: Sequence[str], paced: bool) -> int:
        return int(self.call({"op": "open", "port": port, "paths": list(paths), "timeout": OPEN_TIMEOUT,
                              "paced": paced}, OPEN_TIMEOUT + 10.0)["open"])

    def seen(self, call: str) -> Dict:
        return self.call({"op": "seen", "call_id": call})

    def close_all(self) -> int:
        return int(self.call({"op": "close"})["closed"])


def cache_hits(driver: Driver, port: int, sessions: int) -> List[float]:
    """``sessions`` FastAGI cache-hit calls one after another (as figure 1): each call's whole time in ms."""
    taken = []
    for _ in range(sessions):
        call = driver.session(port, HIT_NUMBER)
        require(call["status"] == "FOUND", "a cache-hit call ended %s" % call["status"])
        taken.append(call["ms"])
    return taken


def rss_kb() -> int:
    gc.collect()
    return status_kb("VmRSS")


def request_threads() -> int:
    """The HTTP server's threads serving a request now (an open page holds one)."""
    return sum(1 for thread in threading.enumerate() if "process_request" in thread.name)


def wait_closed(daemon) -> None:
    """Until the daemon holds no stream and no thread serves a page."""
    deadline = time.monotonic() + 30.0
    while daemon.screen.streams.count() or request_threads():
        require(time.monotonic() < deadline, "the closed pages' streams did not end (%d open, %d threads)"
                % (daemon.screen.streams.count(), request_threads()))
        time.sleep(0.05)  # polling the daemon's observable state


def measure(pages: int, cycles: int, sessions: int, workdir: Path) -> Dict[str, object]:
    began = time.monotonic()
    with RemoteFake() as fake, RemoteAMI() as ami, RemotePages() as streams, Driver() as driver:
        callers = fake.add_clients(FIRST_CALLER, cycles)
        with running_screen(fake, ami, workdir) as daemon:
            started_s = time.monotonic() - began
            warm_listings(daemon.bridge)
            require(driver.session(daemon.port, HIT_NUMBER)["status"] == "FOUND", "warm-up call: not FOUND")
            cache_hits(driver, daemon.port, WARM_UP)  # not counted: the daemon's first calls after its start
            extension_of = [EXTENSIONS[index % len(EXTENSIONS)] for index in range(pages)]
            paths = [daemon.page_path(extension) + "/events" for extension in extension_of]
            expected = sorted(index for index, extension in enumerate(extension_of) if extension in RUNG)
            alone: List[List[float]] = []
            busy: List[List[float]] = []
            memory: List[Dict[str, int]] = []
            rings: List[Dict[str, object]] = []
            for cycle in range(cycles):
                alone.append(cache_hits(driver, daemon.port, sessions))
                threads, before = request_threads(), rss_kb()
                opening = time.monotonic()
                # The first time all at once (as after a restart), then one after the other (quicker, see README).
                require(streams.open(daemon.http_port, paths, paced=cycle > 0) == pages,
                        "not every page's stream opened")
                opened_s = time.monotonic() - opening
                require(daemon.screen.streams.count() == pages, "the daemon holds %d streams, not %d"
                        % (daemon.screen.streams.count(), pages))
                memory.append({"before_kb": before, "open_kb": rss_kb(), "threads_before": threads,
                               "threads_open": request_threads(), "open_s": round(opened_s, 2)})
                busy.append(cache_hits(driver, daemon.port, sessions))
                written = ami.ring(RING_GROUP, callers[cycle], cycle, LAST_RUNG)
                rings.append(_told(streams, call_id(cycle), expected, written))
                ami.finish()
                wait_landed(fake, cycle + 1, 60.0)  # its missed-call ticket, so the next block is quiet
                streams.close_all()
                daemon.screen.streams.close_all()  # what the heartbeat would find within 15 s
                wait_closed(daemon)
            alone.append(cache_hits(driver, daemon.port, sessions))
    return {"pages": pages, "extensions": list(EXTENSIONS), "rung": list(RUNG), "told_expected": len(expected),
            "alone": alone, "busy": busy, "memory": memory, "rings": rings,
            "started_s": round(started_s, 2), "total_s": round(time.monotonic() - began, 2)}


def _told(streams: RemotePages, call: str, expected: List[int], written: float) -> Dict[str, object]:
    """Which streams were told the call rings: exactly the rung extensions' pages."""
    deadline = time.monotonic() + TOLD_TIMEOUT
    while True:
        seen = streams.seen(call)
        told = sorted(seen["streams"])
        if told == expected or time.monotonic() > deadline:
            break
        time.sleep(0.02)  # polling the pages' observable state
    others = [index for index in told if index not in expected]
    require(not others, "%d page(s) of other extensions were told the call rings" % len(others))
    require(told == expected, "%d of the %d pages of %s were told the call rings within %.0f s"
            % (len(told), len(expected), "/".join(RUNG), TOLD_TIMEOUT))
    return {"told": len(told), "last_ms": (float(seen["last_at"]) - written) * 1000.0}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, required=True)
    parser.add_argument("--cycles", type=int, required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    quiet_logs()
    print(json.dumps(measure(args.pages, args.cycles, args.sessions, args.workdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
