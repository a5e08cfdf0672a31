"""Figures 12-15: calls into ITFlow, from the call's last AMI event to the ticket in ITFlow.

The bridge runs here as ``itflow-bridge serve`` runs it with ``[calls] enabled``:
the daemon (``Bridge`` + FastAGI server) and its ``CallJournal`` with all its
threads (AMI reader, journal, delivery).  Asterisk's manager interface is
``bench/ami_server.py`` in a process of its own, replaying recorded missed
calls with fresh Linkedids; ITFlow is the fake in its own process, with the
ticket writes of ``bench/ticket_writes.py``, which notes when each call's
ticket was stored.  Every caller is the contact of a client of its own, so
each missed call is a new ticket (no reply to an earlier one).
"""

from __future__ import annotations

import contextlib
import gc
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

from ami_server import FRESH_EPOCH
from figures import HIT_NUMBER, warm_listings
from harness import (
    BENCH_DIR, Driver, RemoteAMI, RemoteFake, Row, bounded, mean, percentile, require, running_daemon,
)

MISSED_CALLS = ("caller_hung_up_ringing", "ring_group_no_answer")  # recorded missed calls, used in turn
ITFLOW_DELAY = 0.05  # seconds ITFlow takes to answer each request (figures 12 and 14)
TICKET_REQUESTS = 2  # a new ticket: tickets/create, then tickets/read of its number
CALL_GAP = 0.25  # figure 12: a call every 250 ms, longer than a ticket's requests take
BURST_INTERVAL = 0.06  # figure 13: 1,000 calls ending within a minute
FIRST_PHONE = 5559000000
ALONE_SESSIONS = 400  # figure 15: cache hits per block without the journal at work
COMMITS_PER_ENTRY = 2  # the outbox commits an entry as sending before its request, and as done after it
CALLS_INI = ("[calls]\nenabled = yes\nami_host = 127.0.0.1\nami_port = %d\nami_user = bench\n"
             "ami_secret = bench-secret\ncatch_up_hours = 0\n")
CONTACTS_READ = "/api/v1/contacts/read.php"
TICKETS_CREATE = "/api/v1/tickets/create.php"
CHILD_TIMEOUT = 900.0


def call_id(number: int) -> str:
    """The Linkedid ``bench/ami_server.py`` gives call ``number``."""
    return "%d.0" % (FRESH_EPOCH + number)


def missed_calls(phones: Sequence[str]) -> List[Tuple[str, str]]:
    return [(MISSED_CALLS[index % len(MISSED_CALLS)], phone) for index, phone in enumerate(phones)]


@contextlib.contextmanager
def running_journal(fake: RemoteFake, ami: RemoteAMI, workdir: Path) -> Iterator[Tuple[object, int, object]]:
    """The daemon and its call journal (threads started, logged in to the manager interface);
    yields (bridge, FastAGI port, journal)."""
    from itflow_bridge.calls.journal import journal_for

    with running_daemon(fake, "v1", workdir, CALLS_INI % ami.port) as (bridge, port):
        journal = journal_for(bridge).start()
        try:
            ami.wait_login()
            yield bridge, port, journal
        finally:
            journal.stop()
            journal.close()


def undelivered(journal) -> int:
    """Outbox entries not delivered yet, read through a connection of our own: the journal's
    connection belongs to its thread (a read from another thread can make its next write fail)."""
    from itflow_bridge.calls.outbox import PENDING, SENDING
    from itflow_bridge.storage.layout import OUTBOX_DB

    path = journal.cache_dir / OUTBOX_DB
    with contextlib.closing(sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30.0)) as db:
        return int(db.execute("SELECT COUNT(*) FROM entries WHERE state IN (?, ?)", (PENDING, SENDING)).fetchone()[0])


def durable_commit_seconds(workdir: Path, commits: int = 50) -> float:
    """What one sqlite commit costs on this disk as the outbox commits (WAL, synchronous=FULL)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(str(workdir / "commits.db"), isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
        began = time.perf_counter()
        for number in range(commits):
            db.execute("INSERT INTO t VALUES (?)", (number,))
        return (time.perf_counter() - began) / commits


def wait_landed(fake: RemoteFake, count: int, timeout: float) -> Dict[str, float]:
    """Poll ITFlow until ``count`` tickets are stored; answers {call key: monotonic time stored}."""
    deadline = time.monotonic() + timeout
    while True:
        landed = {key: at for what, key, at in fake.landed() if what == "ticket"}
        if len(landed) >= count:
            return landed
        require(time.monotonic() < deadline, "only %d of %d tickets reached ITFlow within %.0f s"
                % (len(landed), count, timeout))
        time.sleep(0.2)  # polling ITFlow's observable state


def ticket_key(number: int) -> str:
    return call_id(number) + "/missed"


def delays(sent_at: Sequence[float], landed: Dict[str, float], first: int = 0) -> List[float]:
    """Seconds from each call's last event to its ticket stored."""
    missing = [ticket_key(first + i) for i in range(len(sent_at)) if ticket_key(first + i) not in landed]
    require(not missing, "calls without their ticket: %s" % missing[:3])
    return [landed[ticket_key(first + i)] - sent for i, sent in enumerate(sent_at)]


def request_counts(fake: RemoteFake) -> Dict[str, int]:
    paths = ("/api/v1/contacts/read.php", "/api/v1/clients/read.php", "/api/v1/tickets/create.php",
             "/api/v1/tickets/read.php", "/api/v1/ticket_replies/create.php")
    counts = {path.split("/api/v1/")[1]: fake.count(path) for path in paths}
    counts["all"] = fake.count()
    return counts


# --- figure 12 ------------------------------------------------------------------------------


def hangup_to_ticket(driver: Driver, workdir: Path, calls: int, seconds: float) -> List[Row]:
    """One call at a time (a new one every CALL_GAP), ITFlow answering after 50 ms."""
    from itflow_bridge.calls.events import SETTLE_SECONDS
    from itflow_bridge.calls.journal import TICK

    with RemoteFake() as fake, RemoteAMI() as ami:
        phones = fake.add_clients(FIRST_PHONE, calls)
        with running_journal(fake, ami, workdir) as (bridge, port, _journal):
            warm_listings(bridge)
            fake.set_fault("slow", delay=ITFLOW_DELAY)
            fake.clear_requests()
            sent_at: List[float] = []
            for index in bounded(calls, seconds):
                slot = time.monotonic() + CALL_GAP
                # The call rang first: the caller-ID flow looked its caller up (and cached it).
                require(driver.session(port, "+1" + phones[index])["status"] == "FOUND",
                        "the caller-ID lookup of a caller did not find it")
                ami.send(missed_calls(phones[index:index + 1]), 0.0, index)
                sent_at += ami.wait(30.0)
                time.sleep(max(0.0, slot - time.monotonic()))  # the pace of the calls
            landed = wait_landed(fake, len(sent_at), 60.0)
            counts = request_counts(fake)
    taken = delays(sent_at, landed)
    tickets = len(taken)
    require(counts["tickets/create.php"] == tickets, "ITFlow got %d ticket creates for %d calls"
            % (counts["tickets/create.php"], tickets))
    require(counts["contacts/read.php"] == tickets, "the callers were looked up %d times for %d calls"
            % (counts["contacts/read.php"], tickets))
    per_ticket = (counts["all"] - counts["contacts/read.php"]) / float(tickets)
    target = SETTLE_SECONDS + TICK + (TICKET_REQUESTS + 2) * ITFLOW_DELAY
    p50, p99 = percentile(taken, 0.5), percentile(taken, 0.99)
    floor = SETTLE_SECONDS + TICKET_REQUESTS * ITFLOW_DELAY
    details = [
        "%d missed calls (recordings %s in turn), each from a client of its own, one every %.0f ms; "
        "each rang through the caller-ID flow first (one contacts request), then its events were sent"
        % (tickets, ", ".join(MISSED_CALLS), CALL_GAP * 1000),
        "ITFlow requests per ticket: %.1f (%s); every request answered after %.0f ms"
        % (per_ticket, ", ".join("%s %d" % (path, n) for path, n in sorted(counts.items())
                                 if path not in ("all", "contacts/read.php")), ITFLOW_DELAY * 1000),
        "the design's least: settle %.1f s + %d requests x %.0f ms = %.2f s (the ticket and the read of its "
        "number; the clients listing is read once a minute at most); the journal looks for settled calls every "
        "%.1f s (TICK), so up to %.1f s more; target: that plus 2 round trips"
        % (SETTLE_SECONDS, TICKET_REQUESTS, ITFLOW_DELAY * 1000, floor, TICK, TICK),
        "min %.3f s, mean %.3f s, max %.3f s" % (min(taken), mean(taken), max(taken)),
    ]
    return [Row("12", "hangup to ticket", "v1", "p50 %.2f / p99 %.2f s" % (p50, p99),
                "settle + requests %.2f s" % floor, "%.2fx" % (p99 / floor), "p99 <= %.2f s" % target,
                p99 <= target, details)]


# --- figure 13 ------------------------------------------------------------------------------


def _burst_child(workdir: Path, calls: int, clients: int) -> Dict:
    completed = subprocess.run(
        [sys.executable, str(BENCH_DIR / "calls_child.py"), "--calls", str(calls), "--clients", str(clients),
         "--interval", str(BURST_INTERVAL), "--workdir", str(workdir)],
        capture_output=True, timeout=CHILD_TIMEOUT, check=False, cwd=str(BENCH_DIR.parent))
    require(completed.returncode == 0, "burst child failed: %s" % completed.stderr.decode()[-800:])
    return json.loads(completed.stdout)


def burst(workdir: Path, small: int, large: int) -> List[Row]:
    """``small`` then ``large`` calls ending at the same pace, each in a fresh process; same ITFlow data."""
    from itflow_bridge.calls.events import SETTLE_SECONDS
    from itflow_bridge.calls.journal import TICK

    runs = [_burst_child(workdir / ("burst%d" % calls), calls, large) for calls in (small, large)]
    few, many = runs
    growth_few = max(few["peak_kb"] - few["before_kb"], 1) / 1024.0
    growth_many = max(many["peak_kb"] - many["before_kb"], 1) / 1024.0
    ratio = growth_many / growth_few
    details = []
    for run in runs:
        details.append(
            "%d calls ended over %.1f s (one every %.0f ms); the last ticket landed %.2f s after the last call "
            "ended; %.1f tickets/s from the first call's end to the last ticket; peak RSS %.1f MB, "
            "%.1f MB before the calls (+%.1f MB); planning a call: first 100 mean %.1f ms, last 100 mean %.1f ms; "
            "ITFlow requests: %s"
            % (run["calls"], run["sending_s"], BURST_INTERVAL * 1000, run["drain_after_s"], run["rate"],
               run["peak_kb"] / 1024.0, run["before_kb"] / 1024.0, (run["peak_kb"] - run["before_kb"]) / 1024.0,
               run["plan_first_ms"], run["plan_last_ms"], run["requests"]))
    details.append("each run in a process of its own: the daemon and its journal, the callers looked up as their "
                   "calls rang, %d clients in ITFlow, which answers without delay; peak RSS is VmHWM, reset "
                   "before the calls" % large)
    drained = many["drain_after_s"]
    kept_pace = SETTLE_SECONDS + TICK + 1.0  # the last call's own settling and look-up, and a second to spare
    details.append("drain target: the last ticket within settle %.1f s + journal tick %.1f s + 1 s of the last "
                   "call's end, i.e. nothing queued behind the calls" % (SETTLE_SECONDS, TICK))
    return [
        Row("13a", "burst of %d calls: memory" % large, "v1",
            "+%.1f MB (peak %.1f MB)" % (growth_many, many["peak_kb"] / 1024.0),
            "%d calls +%.1f MB" % (small, growth_few), "%.2fx" % ratio, "<= 2x (not %dx)" % (large // small),
            ratio <= 2.0, details),
        Row("13b", "burst of %d calls: drain" % large, "v1",
            "%.1f tickets/s, last +%.1f s" % (many["rate"], drained),
            "calls end %.1f/s" % (1.0 / BURST_INTERVAL), "%.2fx" % (many["rate"] * BURST_INTERVAL),
            "last <= +%.1f s" % kept_pace, drained <= kept_pace, []),
    ]


# --- figure 14 ------------------------------------------------------------------------------


def outage(workdir: Path, calls: int) -> List[Row]:
    """ITFlow refuses connections while ``calls`` calls are journaled, then answers again (50 ms a request)."""
    with RemoteFake() as fake, RemoteAMI() as ami:
        phones = fake.add_clients(FIRST_PHONE, calls)
        with running_journal(fake, ami, workdir) as (bridge, _port, journal):
            warm_listings(bridge)
            for phone in phones:  # as when their calls rang
                require(bridge.lookup.lookup("+1" + phone).status == "FOUND", "a caller was not found")
            fake.set_fault("refuse")
            began = time.monotonic()
            ami.send(missed_calls(phones), 0.0, 0)
            ami.wait(120.0)
            deadline = time.monotonic() + 120.0
            while undelivered(journal) < calls:
                require(time.monotonic() < deadline, "the calls did not all reach the outbox")
                time.sleep(0.2)  # polling the outbox
            piled = time.monotonic() - began
            fake.clear_requests()
            fake.set_fault("slow", delay=ITFLOW_DELAY)
            up = time.monotonic()
            landed = wait_landed(fake, calls, 600.0)
            counts = request_counts(fake)
    commit = durable_commit_seconds(workdir / "disk")
    times = sorted(landed.values())
    first, last = times[0], times[-1]
    rate = (len(times) - 1) / (last - first)
    per_ticket = counts["all"] / float(len(times))
    floor_rate = 1.0 / (per_ticket * ITFLOW_DELAY + COMMITS_PER_ENTRY * commit)
    details = [
        "%d missed calls journaled in %.1f s while ITFlow refused connections (their callers known from the "
        "caller-ID cache, as their calls rang); then ITFlow answered every request after %.0f ms"
        % (calls, piled, ITFLOW_DELAY * 1000),
        "first ticket %.1f s after ITFlow came back (the outbox's retry back-off: 5 s doubling, at most 600 s); "
        "then %d tickets in %.1f s; all drained %.1f s after ITFlow came back"
        % (first - up, len(times), last - first, last - up),
        "requests per ticket %.2f (%s); one entry at a time, each request %.0f ms and %d durable commits of "
        "%.1f ms (measured on this disk in the same run: the entry marked sending, then done): at most %.1f "
        "tickets/s" % (per_ticket, ", ".join("%s %d" % (path, n) for path, n in sorted(counts.items())
                                              if path != "all"),
                       ITFLOW_DELAY * 1000, COMMITS_PER_ENTRY, commit * 1000, floor_rate),
    ]
    ratio = rate / floor_rate
    return [Row("14", "outbox drain after an outage", "v1", "%.1f tickets/s" % rate,
                "serial floor %.1f tickets/s" % floor_rate, "%.2fx" % ratio, ">= 0.8x floor", ratio >= 0.8,
                details)]


# --- figure 15 ------------------------------------------------------------------------------


def callerid_beside_journal(driver: Driver, workdir: Path, cycles: int, calls_per_cycle: int) -> List[Row]:
    """Caller-ID cache hits alone and while the journal takes a burst, rotating: alone, busy, alone again."""
    with RemoteFake() as fake, RemoteAMI() as ami:
        phones = fake.add_clients(FIRST_PHONE, cycles * calls_per_cycle)
        with running_journal(fake, ami, workdir) as (bridge, port, journal):
            warm_listings(bridge)
            require(driver.session(port, HIT_NUMBER)["status"] == "FOUND", "warm-up call: not FOUND")
            alone: List[float] = []
            again: List[float] = []
            busy: List[float] = []
            for cycle in range(cycles):
                block = _sessions_while(driver, port, lambda count: count < ALONE_SESSIONS)
                alone += block
                batch = phones[cycle * calls_per_cycle:(cycle + 1) * calls_per_cycle]
                ami.send(missed_calls(batch), BURST_INTERVAL, cycle * calls_per_cycle)
                busy += _sessions_while(driver, port, lambda count: count % 50 or ami.sending())
                ami.wait(60.0)
                _wait_idle(fake, journal, (cycle + 1) * calls_per_cycle)
                again += _sessions_while(driver, port, lambda count: count < ALONE_SESSIONS)
    ratio = percentile(busy, 0.5) / percentile(alone + again, 0.5)
    noise = percentile(again, 0.5) / percentile(alone, 0.5)
    details = [
        "%d cycles: %d cache hits alone, then %d while the journal took %d missed calls (one every %.0f ms: "
        "AMI reading, settling, planning, delivering to ITFlow), then %d alone again once it was idle"
        % (cycles, len(alone) // cycles, len(busy) // cycles, calls_per_cycle, BURST_INTERVAL * 1000,
           len(again) // cycles),
        "busy p50 %.2f / p99 %.2f ms; alone p50 %.2f / p99 %.2f ms; p99 ratio %.2fx"
        % (percentile(busy, 0.5), percentile(busy, 0.99), percentile(alone + again, 0.5),
           percentile(alone + again, 0.99), percentile(busy, 0.99) / percentile(alone + again, 0.99)),
        "noise: the two alone blocks differ by %.2fx (p50), measured the same way" % noise,
    ]
    return [Row("15", "caller ID beside the journal", "v1", "p50 %.2f ms busy" % percentile(busy, 0.5),
                "p50 %.2f ms alone" % percentile(alone + again, 0.5), "%.2fx" % ratio, "<= 1.1x (p50)",
                ratio <= 1.1, details)]


def _sessions_while(driver: Driver, port: int, going) -> List[float]:
    """FastAGI cache-hit calls, one after another, while ``going(count so far)``."""
    taken: List[float] = []
    while going(len(taken)) and len(taken) < 20000:
        call = driver.session(port, HIT_NUMBER)
        require(call["status"] == "FOUND", "a cache-hit call ended %s" % call["status"])
        taken.append(call["ms"])
    return taken


def _wait_idle(fake: RemoteFake, journal, tickets: int) -> None:
    """Until ITFlow has ``tickets`` tickets and the journal nothing left to send."""
    wait_landed(fake, tickets, 120.0)
    deadline = time.monotonic() + 30.0
    while undelivered(journal):
        require(time.monotonic() < deadline, "the outbox did not empty")
        time.sleep(0.1)  # polling the outbox
    gc.collect()
