"""Figures 10 and 11 in a process of their own: a big sync's time and memory, then its phonebooks.

Why a separate process: peak memory (VmHWM) is the whole process's, so the
sync runs where nothing else has run.  It loads what ``itflow-bridge sync``
loads (the Bridge, the ITFlow client, phonenumbers), notes VmRSS, syncs from
the fake ITFlow (another process), builds the classic answer book, renders
each phonebook format, noting time and VmHWM after each step; then syncs once
more under tracemalloc for the peak of Python's own allocations.

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Dict, Optional, Sequence

from memory_child import status_kb


def measure(url: str, api_key: str, workdir: Path) -> Dict[str, object]:
    from itflow_bridge.app import Bridge
    from itflow_bridge.classic.prepare import prepare_answers
    from itflow_bridge.core.config import load_config
    from itflow_bridge.directory.phonebook import FORMATS, PhonebookOptions, render
    from itflow_bridge.directory.service import store_for
    from itflow_bridge.directory.sync import SyncSettings, sync
    from itflow_bridge.services.numbers import candidate_numbers

    conf = workdir / "bench.conf"
    conf.write_text("", encoding="utf-8")
    environ = {"ITFLOW_BRIDGE_CONFIG": str(conf), "ITFLOW_URL": url, "ITFLOW_API_KEY": api_key,
               "ITFLOW_API_MODE": "v1", "ITFLOW_BRIDGE_CACHE_DIR": str(workdir / "cache")}
    config = load_config(env=environ)
    bridge = Bridge(config)
    adapter = bridge.adapter()
    candidate_numbers("+15551234567", "US")  # phonenumbers and its metadata, loaded by every sync
    gc.collect()
    result: Dict[str, object] = {"rss_before_kb": status_kb("VmRSS")}

    started = time.monotonic()
    report = sync(adapter, store_for(config, adapter.generation), SyncSettings.from_config(config))
    result.update(sync_seconds=time.monotonic() - started, numbers=report.total, rows=report.rows,
                  requests=report.requests, sync_hwm_kb=status_kb("VmHWM"),
                  size=store_for(config, adapter.generation).path.stat().st_size)

    started = time.monotonic()
    book = prepare_answers(bridge, environ)
    result.update(book_seconds=time.monotonic() - started, book_forms=book.forms if book else 0,
                  book_size=Path(book.path).stat().st_size if book else 0, book_hwm_kb=status_kb("VmHWM"))

    directory = bridge.directory()
    assert directory is not None
    options = PhonebookOptions.from_config(config)
    phonebooks: Dict[str, Dict[str, float]] = {}
    for name in FORMATS:
        started = time.monotonic()
        body = render(directory.entries(), name, options)
        phonebooks[name] = {"seconds": time.monotonic() - started, "bytes": len(body)}
    result.update(phonebooks=phonebooks, phonebook_hwm_kb=status_kb("VmHWM"))

    tracemalloc.start()
    sync(adapter, store_for(config, adapter.generation), SyncSettings.from_config(config))
    result["traced_peak_bytes"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    bridge.close()
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(json.dumps(measure(args.url, args.api_key, args.workdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
