"""Figures 8-11: the local directory: calls it answers, listings the live path shares, sync, phonebooks.

8a FastAGI and 8b classic: the first call from a synced number (nothing cached,
nothing recorded) must not reach ITFlow and should cost about what a cache
hit costs; each is measured side by side with its cache-hit counterpart
(and 8b with ``python -c pass``).  9: twenty concurrent cold misses share one
read of each JSON API listing.  10 and 11: a sync of 10,000 contacts, 2,000
locations and 200 vendors (time, memory) and the phonebooks rendered from it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

from classic import child_env, cid_status, classic_environment, installed_script, pbx_venv, run_process
from harness import (
    BENCH_DIR, Driver, RemoteFake, Row, bounded, mean, percentile, require, running_daemon,
)

HIT_NUMBER = "+15551234567"  # John Smith, Acme Corp, in the sample data
SYNCED_FIRST = 5558300000  # contacts added for figure 8, then synced: each a first call
MISSES = 20
MISS_FIRST = 5558400000  # numbers nobody has: figure 9's cold misses
LISTING_SLOW = 0.3  # seconds ITFlow takes per request in figure 9: the listings overlap
SCALE = {"contacts": 10000, "locations": 2000, "vendors": 200}
SYNC_TARGET_S = 10.0
SYNC_MEMORY_TARGET_MB = 64.0
PHONEBOOK_TARGET_S = 2.0
SYNC_TIMEOUT = 600.0
VENDORS, LOCATIONS = "/api/v1/vendors/read.php", "/api/v1/locations/read.php"


def _sync_in_process(bridge) -> None:
    from itflow_bridge.directory.service import store_for
    from itflow_bridge.directory.sync import SyncSettings, sync

    adapter = bridge.adapter()
    sync(adapter, store_for(bridge.config, adapter.generation), SyncSettings.from_config(bridge.config))


# --- figure 8a --------------------------------------------------------------------------


def fastagi_synced(driver: Driver, workdir: Path, sessions: int, seconds: float) -> List[Row]:
    """A synced number's first call through the daemon vs a cache hit through a daemon without a directory."""
    with RemoteFake() as fake:
        phones = fake.add_contacts(SYNCED_FIRST, sessions)
        with running_daemon(fake, "v1", workdir / "cached") as (_plain, plain_port), \
                running_daemon(fake, "v1", workdir / "synced") as (synced_bridge, synced_port):
            _sync_in_process(synced_bridge)
            require(driver.session(plain_port, HIT_NUMBER)["status"] == "FOUND", "warm-up: not FOUND")
            asked = fake.count()
            firsts, hits = [], []
            for index in bounded(sessions, seconds):
                call = driver.session(synced_port, "+1" + phones[index])
                require(call["status"] == "FOUND", "synced number %s: %s" % (phones[index], call["status"]))
                firsts.append(call["ms"])
                hit = driver.session(plain_port, HIT_NUMBER)
                require(hit["status"] == "FOUND", "cache hit: %s" % hit["status"])
                hits.append(hit["ms"])
            requests = fake.count() - asked
    ratio = percentile(firsts, 0.5) / percentile(hits, 0.5)
    details = ["%d calls each, interleaved; each synced call a different number (nothing cached); "
               "means %.3f vs %.3f ms; ITFlow requests during them: %d" % (len(firsts), mean(firsts), mean(hits),
                                                                            requests)]
    return [Row("8a", "FastAGI synced number, 1st call", "v1",
                "p50 %.2f / p99 %.2f ms, %d req" % (percentile(firsts, 0.5), percentile(firsts, 0.99), requests),
                "cache hit p50 %.2f ms" % percentile(hits, 0.5), "%.2fx" % ratio, "0 req, <= 1.5x",
                requests == 0 and ratio <= 1.5, details)]


# --- figure 8b --------------------------------------------------------------------------


def classic_synced(workdir: Path, runs: int, seconds: float) -> List[Row]:
    """A synced number's first call through the classic script (the answer book), vs a replayed hit and nothing.

    As installed on a PBX, like figure 2: a pip-installed venv and the script its install-agi writes."""
    venv = pbx_venv()
    python = str(venv / "bin" / "python")
    script = [str(installed_script(venv, workdir))]
    with RemoteFake() as fake:
        phones = fake.add_contacts(SYNCED_FIRST, runs)
        env = child_env(fake, workdir, bytecode=None)
        synced = subprocess.run([python, "-m", "itflow_bridge.cli", "sync"], env=env, capture_output=True,
                                timeout=SYNC_TIMEOUT)
        require(synced.returncode == 0, "sync failed: %s" % synced.stderr.decode()[-300:])
        contacts = fake.count("/api/v1/contacts/read.php", contact_phone_or_mobile=None)
        late = fake.add_contacts(SYNCED_FIRST + runs + 100, 1)[0]  # added after the sync: replayed once cached
        block = classic_environment("+1" + late)
        _, warm = run_process(script, env, block)  # asks ITFlow, records the replay
        require(cid_status(warm) == "FOUND", "the unsynced number: %r" % cid_status(warm))
        run_process([python, "-c", "pass"], env)
        asked = fake.count()
        firsts, replays, floor = [], [], []
        for index in bounded(runs, seconds):
            elapsed, commands = run_process(script, env, classic_environment("+1" + phones[index]))
            require(cid_status(commands) == "FOUND", "synced number: %r" % cid_status(commands))
            require(not any(line.startswith("VERBOSE") for line in commands), "the full path answered, not the book")
            firsts.append(elapsed)
            elapsed, commands = run_process(script, env, block)
            require(cid_status(commands) == "FOUND", "replayed hit: %r" % cid_status(commands))
            require(not any(line.startswith("VERBOSE") for line in commands), "the full path answered, not a replay")
            replays.append(elapsed)
            floor.append(run_process([python, "-c", "pass"], env)[0])
        requests = fake.count() - asked
        require(contacts == 0, "the sync asked for single numbers")
    ratio = percentile(firsts, 0.5) / percentile(floor, 0.5)
    details = ["%d runs each, interleaved (a synced number's first call, a cache hit replayed, python -c pass); "
               "means %.1f / %.1f / %.1f ms" % (len(firsts), mean(firsts), mean(replays), mean(floor)),
               "the answer book's call vs figure 2's replayed cache hit: p50 %.1f vs %.1f ms (%.2fx); "
               "ITFlow requests: %d"
               % (percentile(firsts, 0.5), percentile(replays, 0.5),
                  percentile(firsts, 0.5) / percentile(replays, 0.5), requests)]
    return [Row("8b", "classic synced number, 1st call", "v1",
                "p50 %.1f / p99 %.1f ms, %d req" % (percentile(firsts, 0.5), percentile(firsts, 0.99), requests),
                "pip-installed venv: python -c pass p50 %.1f ms" % percentile(floor, 0.5), "%.2fx" % ratio,
                "0 req, <= 1.3x",
                requests == 0 and ratio <= 1.3, details)]


# --- figure 9 ---------------------------------------------------------------------------


def listings(driver: Driver, workdir: Path) -> List[Row]:
    """20 concurrent cold misses on a fresh daemon while ITFlow is slow: how often each listing is read."""
    with RemoteFake() as fake, running_daemon(fake, "v1", workdir) as (_bridge, port):
        fake.set_fault("slow", delay=LISTING_SLOW)
        fake.clear_requests()
        numbers = ["+1%d" % (MISS_FIRST + index) for index in range(MISSES)]
        burst = driver.burst(port, numbers, timeout=60.0)
        require(burst["statuses"] == ["NOTFOUND"] * MISSES, "misses: %s" % burst["statuses"][:3])
        lookups = fake.count("/api/v1/contacts/read.php", contact_phone_or_mobile=None)
        vendors, locations = fake.count(VENDORS, offset="0"), fake.count(LOCATIONS, offset="0")
        require(lookups >= MISSES, "only %d contact lookups for %d cold misses" % (lookups, MISSES))
    details = ["%d concurrent calls from numbers nobody has, on a fresh daemon, ITFlow taking %.0f ms a request: "
               "%d contact lookups, %d vendor and %d location listings read; slowest call %.0f ms"
               % (MISSES, LISTING_SLOW * 1000, lookups, vendors, locations, max(burst["ms"]))]
    worst = max(vendors, locations)
    return [Row("9", "20 cold misses: listings read", "v1", "%d vendors, %d locations" % (vendors, locations),
                "20 misses", "%dx" % worst, "<= 1 each", worst <= 1, details)]


# --- figures 10 and 11 --------------------------------------------------------------------


def sync_and_phonebooks(workdir: Path) -> List[Row]:
    with RemoteFake() as fake:
        tables = fake.scale(**SCALE)
        completed = subprocess.run(
            [sys.executable, str(BENCH_DIR / "sync_child.py"), "--url", fake.url, "--api-key", fake.api_key,
             "--workdir", str(workdir)], capture_output=True, timeout=SYNC_TIMEOUT, check=False)
    require(completed.returncode == 0, "sync child failed: %s" % completed.stderr.decode()[-500:])
    result: Dict = json.loads(completed.stdout)
    before = result["rss_before_kb"] / 1024.0
    growth = (result["sync_hwm_kb"] - result["rss_before_kb"]) / 1024.0
    sync_s = result["sync_seconds"]
    book_growth = (result["book_hwm_kb"] - result["rss_before_kb"]) / 1024.0
    dataset = "%d contacts, %d locations, %d vendors, %d clients" % (
        tables["contacts"], tables["locations"], tables["vendors"], tables["clients"])
    sync_details = [
        "%s: %d numbers (%s) in %d requests; directory file %.1f MB" % (
            dataset, result["numbers"], ", ".join("%d %ss" % (n, k) for k, n in sorted(result["rows"].items())),
            result["requests"], result["size"] / 1048576.0),
        "Python's own allocations at their peak during a sync (tracemalloc): %.1f MB"
        % (result["traced_peak_bytes"] / 1048576.0),
    ]
    books = result["phonebooks"]
    slowest = max(books.values(), key=lambda book: book["seconds"])["seconds"]
    phonebook_details = ["%s %.2f s (%d kB)" % (name, book["seconds"], book["bytes"] // 1024)
                         for name, book in books.items()]
    return [
        Row("10a", "sync 15.6k numbers: time", "v1", "%.2f s" % sync_s, "-", "-", "<= %.0f s" % SYNC_TARGET_S,
            sync_s <= SYNC_TARGET_S, sync_details),
        Row("10b", "sync 15.6k numbers: peak RSS", "v1", "+%.1f MB (peak %.1f MB)" % (
            growth, result["sync_hwm_kb"] / 1024.0), "loaded %.1f MB" % before,
            "%.2fx" % (result["sync_hwm_kb"] / result["rss_before_kb"]), "+<= %.0f MB" % SYNC_MEMORY_TARGET_MB,
            growth <= SYNC_MEMORY_TARGET_MB, []),
        Row("10c", "classic answer book for them", "v1", "%.2f s, +%.1f MB" % (
            result["book_seconds"], book_growth), "sync %.2f s" % sync_s, "%.2fx" % (result["book_seconds"] / sync_s),
            "<= %.0f s, +<= %.0f MB" % (SYNC_TARGET_S, SYNC_MEMORY_TARGET_MB),
            result["book_seconds"] <= SYNC_TARGET_S and book_growth <= SYNC_MEMORY_TARGET_MB,
            ["%d caller-number forms (E.164 with and without +, international prefix, national with and without "
             "the trunk prefix), %.1f MB; written by itflow-bridge sync after the directory; peak RSS %.1f MB"
             % (result["book_forms"], result["book_size"] / 1048576.0, result["book_hwm_kb"] / 1024.0)]),
        Row("11", "phonebook from 15.6k numbers", "v1", "slowest %.2f s" % slowest, "-", "-",
            "<= %.0f s each" % PHONEBOOK_TARGET_S, slowest <= PHONEBOOK_TARGET_S, phonebook_details),
    ]
