"""Place FastAGI calls the way Asterisk does, from inside the container (standard library only).

Run by the container's own python3 beside a copy of ``simulated_asterisk.py``:

    python3 agi_client.py call PORT NUMBER
        one caller-ID call; prints the variables it set as JSON
    python3 agi_client.py hammer PORT NUMBER STOP_FILE
        a call every 10 ms, each on its own thread, until STOP_FILE exists; then waits for the
        calls in flight and prints the counts as JSON: every call is either answered (a status
        variable set) or counted as refused or unanswered, with the first few errors

A call "answered" is one whose caller-ID flow set ``ITFLOW_CID_STATUS``: what Asterisk needs
to go on with the call.  A refused connection is what a closed port gives; an unanswered
call is one cut or timed out before the status came.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from simulated_asterisk import simulate_call

SCRIPT = "itflow-cid.agi"
INTERVAL = 0.010
CALL_TIMEOUT = 30.0  # longer than any restart: a queued call waits in the backlog meanwhile


def one_call(port: int, number: str) -> dict:
    return simulate_call("127.0.0.1", port, SCRIPT, caller_num=number, caller_name="WIRELESS CALLER",
                         timeout=CALL_TIMEOUT).variables


def hammer(port: int, number: str, stop_file: str) -> dict:
    counts = {"placed": 0, "answered": 0, "refused": 0, "unanswered": 0, "statuses": {}}
    errors: list = []
    lock = threading.Lock()

    def call() -> None:
        try:
            status = one_call(port, number).get("ITFLOW_CID_STATUS")
        except ConnectionRefusedError as exc:
            outcome, detail = "refused", repr(exc)
        except OSError as exc:  # reset, timeout
            outcome, detail = "unanswered", repr(exc)
        else:
            outcome, detail = ("answered", "") if status else ("unanswered", "no status set")
        with lock:
            counts[outcome] += 1
            if outcome == "answered":
                counts["statuses"][status] = counts["statuses"].get(status, 0) + 1
            if detail and len(errors) < 10:
                errors.append(detail)

    threads = []
    next_call = time.monotonic()
    print("started", flush=True)  # the test waits for this line before acting
    while not os.path.exists(stop_file):
        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        threads.append(thread)
        counts["placed"] += 1
        next_call += INTERVAL
        time.sleep(max(0.0, next_call - time.monotonic()))  # the pace of the calls, not a wait for state
    for thread in threads:
        thread.join()
    counts["errors"] = errors
    return counts


def main(argv: list) -> int:
    mode, port, number = argv[1], int(argv[2]), argv[3]
    if mode == "call":
        print(json.dumps(one_call(port, number)))
    elif mode == "hammer":
        print(json.dumps(hammer(port, number, argv[4])))
    else:
        raise SystemExit("usage: agi_client.py call|hammer PORT NUMBER [STOP_FILE]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
