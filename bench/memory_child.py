"""Figure 6 in a process of its own: daemon RSS with N cached callers.

Why a separate process: the benchmark's own process also holds the fake
ITFlow, the other figures' leftovers and the driver pipes.  This one loads
what a running daemon has loaded (the Bridge, the ITFlow client with requests,
the FastAGI routes and server, phonenumbers after its first uncached call),
then fills the real ``Cache`` (memory plus sqlite in a temporary directory)
the way lookups fill it, and reads VmRSS from /proc/self/status.

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

UNUSED_URL = "http://127.0.0.1:9"  # never contacted: nothing here asks ITFlow
CLIENTS = 500  # distinct client names; v1 lookups share them from the clients listing


def status_kb(field: str) -> int:
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status, in kB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("%s not in /proc/self/status" % field)


def loaded_daemon(workdir: Path):
    """A Bridge with everything a serving daemon has imported and built; returns (bridge, server)."""
    from itflow_bridge.agi.fastagi import FastAGIServer
    from itflow_bridge.app import Bridge
    from itflow_bridge.core.config import load_config
    from itflow_bridge.routes import routes
    from itflow_bridge.services.numbers import candidate_numbers

    conf = workdir / "bench.conf"
    conf.write_text("", encoding="utf-8")
    config = load_config(env={
        "ITFLOW_BRIDGE_CONFIG": str(conf),
        "ITFLOW_URL": UNUSED_URL,
        "ITFLOW_API_KEY": "bench-unused-key",
        "ITFLOW_API_MODE": "v1",
        "ITFLOW_BRIDGE_CACHE_DIR": str(workdir / "cache"),
    })
    bridge = Bridge(config)
    bridge.adapter()  # the ITFlow client (requests) and the v1 adapter
    candidate_numbers("+15551234567", config.callerid.default_region)  # phonenumbers, as after a miss
    server = FastAGIServer(routes(bridge), "127.0.0.1", 0)  # bound, not serving
    return bridge, server


def fill(bridge, entries: int) -> None:
    """``entries`` caller-ID hits stored as lookups store them (CallerMatch dicts, hit TTL)."""
    from itflow_bridge.core.models import CallerMatch

    settings = bridge.config.cache
    client_names: List[str] = ["Client %d" % index for index in range(CLIENTS)]
    for index in range(entries):
        national = "%010d" % (2000000000 + index)
        contact_name = "Contact %d" % index  # v1: name and contact_name are one string
        match = CallerMatch(name=contact_name, kind="contact", client_id=1 + index % CLIENTS,
                            client_name=client_names[index % CLIENTS], contact_name=contact_name,
                            matched_number=national)
        key = bridge.lookup.cache_key("+1" + national)
        bridge.cache.put(key, match.to_dict(), settings.hit_ttl, settings.stale_grace)


def persistent_entries(path: Optional[Path]) -> int:
    """Rows in the sqlite tier (0 without one), read through a connection of our own."""
    if path is None:
        return 0
    with contextlib.closing(sqlite3.connect(str(path))) as db:
        return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]


def measure(entries: int, workdir: Path) -> Dict[str, object]:
    bridge, server = loaded_daemon(workdir)
    gc.collect()
    before_kb = status_kb("VmRSS")
    started = time.monotonic()
    fill(bridge, entries)
    fill_seconds = time.monotonic() - started
    gc.collect()
    result = {
        "entries": entries,
        "in_memory": len(bridge.cache),
        "persistent": persistent_entries(bridge.cache.path),
        "rss_before_kb": before_kb,
        "rss_after_kb": status_kb("VmRSS"),
        "hwm_kb": status_kb("VmHWM"),
        "fill_seconds": round(fill_seconds, 2),
    }
    server.shutdown(grace=0)
    bridge.close()
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100000)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(json.dumps(measure(args.entries, args.workdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
