"""A process that delivers an outbox to ITFlow once, as the call-events process does (for kill tests).

Usage: python outbox_worker.py CACHE_DIR URL API_KEY; prints the round's counts as JSON.
"""

import json
import sys
from dataclasses import asdict

from itflow_bridge.api.typed import connect
from itflow_bridge.calls.outbox import Outbox
from itflow_bridge.calls.tickets import TicketWriter


def main() -> None:
    cache_dir, url, key = sys.argv[1:4]
    with Outbox.in_cache(cache_dir) as outbox, connect(url, key, read_timeout=120.0) as api:
        print(json.dumps(asdict(outbox.deliver(TicketWriter(api)))), flush=True)


if __name__ == "__main__":
    main()
