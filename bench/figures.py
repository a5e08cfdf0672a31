"""Figures 1 and 3-7: FastAGI calls against their physical floors, memory, and FreePBX's way.

Each function starts its own fake ITFlow (in a process of its own, real HTTP
on 127.0.0.1) and daemon, checks that it measured what it claims (every call's
status, ITFlow's request log), and returns table rows.  Measured and baseline runs alternate (ABAB) so
a noisy neighbour on the machine hits both alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Sequence

from harness import (
    BENCH_DIR, Driver, RemoteFake, ReplayAGIServer, Row, bounded, mean, percentile, require,
    running_daemon, v1_contacts_path,
)

HIT_NUMBER = "+15551234567"  # John Smith, Acme Corp: a contact's phone in the sample data
MISS_NUMBER = "+15550009999"  # nobody
UNRELATED_DIGITS = "5550000001"  # a contacts query that matches nobody: one plain round trip
SLOW_SECONDS = 0.5
WIDE_BUDGET_INI = "[callerid]\nbudget_ms = 5000\n"  # so the budget never cuts figures 3 and 4
CONCURRENT_CALLERS = 100
BLACKHOLE_BURST = 10
MEMORY_TARGET_MB = 80.0
MEMORY_TIMEOUT = 600.0
PEER_NUMBERS = ["555700000%d" % index for index in range(10)]  # Big Contact 00-09 in the sample data
CONTACTS_PATH = "/api/v1/contacts/read.php"


def _ms(values: Sequence[float]) -> str:
    return "p50 %.2f / p99 %.2f ms" % (percentile(values, 0.5), percentile(values, 0.99))


def _all_status(statuses: Sequence[str], wanted: str, what: str) -> None:
    wrong = [status for status in statuses if status != wanted]
    require(not wrong, "%s: %d of %d calls ended %s, not %s"
            % (what, len(wrong), len(statuses), wrong[:3], wanted))


def _callers(phones: Sequence[str], group: int, size: int) -> List[str]:
    """Group ``group`` of ``size`` phones, as a trunk delivers them (E.164)."""
    return ["+1" + phone for phone in phones[group * size:(group + 1) * size]]


def warm_listings(bridge) -> None:
    """What a running daemon already has: the v1 clients and phone listings (a hit and a miss)."""
    require(bridge.lookup.lookup(HIT_NUMBER).status == "FOUND", "warm-up hit not found")
    require(bridge.lookup.lookup(MISS_NUMBER).status == "NOTFOUND", "warm-up miss was found")


# --- figure 1 -------------------------------------------------------------------------


def _fixed_part(commands: Sequence[str]) -> List[str]:
    """The commands with VERBOSE texts blanked: they carry the call's own elapsed time."""
    return ["VERBOSE" if line.startswith("VERBOSE ") else line for line in commands]


def fastagi_cache_hit(driver: Driver, workdir: Path, sessions: int, seconds: float) -> List[Row]:
    with RemoteFake() as fake, running_daemon(fake, "v1", workdir) as (_bridge, port):
        require(driver.session(port, HIT_NUMBER)["status"] == "FOUND", "first call: not FOUND")
        captured = driver.session(port, HIT_NUMBER)
        require(captured["status"] == "FOUND", "second call: not FOUND")
        commands = captured["commands"]
        asked = fake.count()
        ours, floor = [], []
        with ReplayAGIServer(commands) as replay:
            for _ in bounded(sessions, seconds):
                call = driver.session(port, HIT_NUMBER)
                require(call["status"] == "FOUND" and _fixed_part(call["commands"]) == _fixed_part(commands),
                        "a cache-hit call sent other commands: %s" % call["commands"])
                ours.append(call["ms"])
                replayed = driver.session(replay.port, HIT_NUMBER)
                require(replayed["commands"] == commands, "the floor server sent other bytes")
                floor.append(replayed["ms"])
        require(fake.count() == asked, "cache hits asked ITFlow")
    ratio = percentile(ours, 0.5) / percentile(floor, 0.5)
    details = ["%d sessions each, interleaved; the %d command lines of a hit:" % (len(ours), len(commands))]
    details += ["  " + line for line in commands]
    details.append("p99 ratio %.2fx; means %.3f vs %.3f ms"
                   % (percentile(ours, 0.99) / percentile(floor, 0.99), mean(ours), mean(floor)))
    return [Row("1", "FastAGI cache hit", "v1", _ms(ours), "floor " + _ms(floor),
                "%.2fx" % ratio, "<= 2x (p50)", ratio <= 2.0, details)]


# --- figures 3 and 4 ------------------------------------------------------------------


def slow_itflow(driver: Driver, workdir: Path, rounds: int, seconds: float) -> List[Row]:
    """100 concurrent callers while ITFlow takes 500 ms: one number (3), 100 numbers (4)."""
    with RemoteFake() as fake:
        shared = fake.add_contacts(5558000000, rounds)
        distinct = fake.add_contacts(5558100000, rounds * CONCURRENT_CALLERS)
        with running_daemon(fake, "v1", workdir, WIDE_BUDGET_INI) as (bridge, port):
            warm_listings(bridge)
            fake.set_fault("slow", delay=SLOW_SECONDS)
            one = _slow_rounds(driver, fake, port, rounds, seconds,
                               lambda r: ["+1" + shared[r]] * CONCURRENT_CALLERS)
            many = _slow_rounds(driver, fake, port, rounds, seconds,
                                lambda r: _callers(distinct, r, CONCURRENT_CALLERS))
    return _single_flight_rows(one) + [_head_of_line_row(many)]


def _slow_rounds(driver: Driver, fake, port: int, rounds: int, seconds: float, numbers_for) -> List[Dict]:
    """Per round: one plain round trip to the slow ITFlow, then the burst of calls."""
    results = []
    for round_index in bounded(rounds, seconds):
        trip = driver.http_get(fake.port, v1_contacts_path(fake, UNRELATED_DIGITS))
        require(trip["status"] == 200, "round trip: HTTP %s" % trip["status"])
        fake.clear_requests()
        burst = driver.burst(port, numbers_for(round_index), timeout=120.0)
        _all_status(burst["statuses"], "FOUND", "slow ITFlow")
        arrivals = fake.arrivals()
        results.append({
            "round_trip": trip["ms"], "sessions": burst["ms"], "first_command": burst["first_ms"],
            "lookups": fake.count(CONTACTS_PATH, contact_phone_or_mobile=None),
            "requests": fake.count(),
            "in_flight": max_in_flight(arrivals, SLOW_SECONDS),
            "arrival_spread_ms": (max(arrivals) - min(arrivals)) * 1000.0,
        })
    return results


def max_in_flight(arrivals: Sequence[float], service_seconds: float) -> int:
    """Most requests ITFlow was serving at once, each taking ``service_seconds`` from arrival."""
    ordered = sorted(arrivals)
    most, first = 0, 0
    for last, arrived in enumerate(ordered):
        while ordered[first] <= arrived - service_seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def _worst_round(results: List[Dict]) -> Dict:
    """The round whose slowest call took longest against its own round trip, with that ratio."""
    for result in results:
        result["ratio"] = max(result["sessions"]) / result["round_trip"]
    return max(results, key=lambda result: result["ratio"])


def _single_flight_rows(results: List[Dict]) -> List[Row]:
    lookups = max(r["lookups"] for r in results)
    requests = max(r["requests"] for r in results)
    worst = _worst_round(results)
    details = ["round %d: slowest %.0f ms, p50 %.0f ms, round trip %.0f ms, %d lookup(s), %d request(s); "
               "first commands reached the callers from %.0f to %.0f ms"
               % (i + 1, max(r["sessions"]), percentile(r["sessions"], 0.5), r["round_trip"],
                  r["lookups"], r["requests"], min(r["first_command"]), max(r["first_command"]))
               for i, r in enumerate(results)]
    return [
        Row("3a", "single-flight: ITFlow lookups", "v1",
            "%d lookup, %d request(s)" % (lookups, requests), "1 lookup", "%dx" % lookups,
            "= 1 lookup", lookups == 1,
            ["a lookup is counted by its contacts?contact_phone_or_mobile request; worst of %d round(s)"
             % len(results)]),
        Row("3b", "single-flight: slowest call", "v1",
            "%.0f ms" % max(worst["sessions"]), "%.0f ms" % worst["round_trip"],
            "%.2fx" % worst["ratio"], "<= 1.2x", worst["ratio"] <= 1.2, details),
    ]


def _head_of_line_row(results: List[Dict]) -> Row:
    worst = _worst_round(results)
    details = ["round %d: slowest %.0f ms, p50 %.0f ms, round trip %.0f ms, %d lookups, %d requests, "
               "at most %d at ITFlow at once, arriving over %.0f ms"
               % (i + 1, max(r["sessions"]), percentile(r["sessions"], 0.5), r["round_trip"],
                  r["lookups"], r["requests"], r["in_flight"], r["arrival_spread_ms"])
               for i, r in enumerate(results)]
    return Row("4", "no head-of-line: slowest call", "v1",
               "%.0f ms" % max(worst["sessions"]), "%.0f ms" % worst["round_trip"],
               "%.2fx" % worst["ratio"], "<= 1.5x", worst["ratio"] <= 1.5, details)


# --- figure 5 ---------------------------------------------------------------------------


def black_hole(driver: Driver, workdir: Path, rounds: int, seconds: float) -> List[Row]:
    with RemoteFake() as fake:
        phones = fake.add_contacts(5558200000, rounds * BLACKHOLE_BURST)
        with running_daemon(fake, "v1", workdir) as (bridge, port):
            budget_ms = bridge.config.callerid.budget_ms
            warm_listings(bridge)
            fake.set_fault("blackhole")
            sessions: List[float] = []
            for round_index in bounded(rounds, seconds):
                burst = driver.burst(port, _callers(phones, round_index, BLACKHOLE_BURST), timeout=60.0)
                _all_status(burst["statuses"], "ERROR", "black hole")
                sessions += burst["ms"]
    slowest = max(sessions)
    details = ["%d calls (%d concurrent per round), each a different uncached number; p50 %.0f ms"
               % (len(sessions), BLACKHOLE_BURST, percentile(sessions, 0.5))]
    return [Row("5", "black hole: ring delay", "v1", "slowest %.0f ms" % slowest,
                "budget %d ms" % budget_ms, "%.3fx" % (slowest / budget_ms), "<= budget + 50 ms",
                slowest <= budget_ms + 50, details)]


# --- figure 6 ---------------------------------------------------------------------------


def memory(workdir: Path, entries: int) -> List[Row]:
    completed = subprocess.run(
        [sys.executable, str(BENCH_DIR / "memory_child.py"),
         "--entries", str(entries), "--workdir", str(workdir)],
        capture_output=True, timeout=MEMORY_TIMEOUT, check=False)
    require(completed.returncode == 0, "memory child failed: %s" % completed.stderr.decode()[-500:])
    result = json.loads(completed.stdout)
    require(result["persistent"] == entries, "the persistent tier holds %d of %d entries"
            % (result["persistent"], entries))
    rss_mb = result["rss_after_kb"] / 1024.0
    before_mb = result["rss_before_kb"] / 1024.0
    per_entry = (result["rss_after_kb"] - result["rss_before_kb"]) * 1024.0 / max(entries, 1)
    details = ["%d entries filled in %.1f s (%d held in memory, all in sqlite); peak (VmHWM) %.1f MB; "
               "about %.0f bytes of RSS per entry" % (entries, result["fill_seconds"], result["in_memory"],
                                                      result["hwm_kb"] / 1024.0, per_entry)]
    return [Row("6", "daemon RSS, %dk cached" % (entries // 1000), "v1", "%.1f MB" % rss_mb,
                "loaded, empty cache %.1f MB" % before_mb, "%.2fx" % (rss_mb / before_mb),
                "<= %.0f MB" % MEMORY_TARGET_MB, rss_mb <= MEMORY_TARGET_MB, details)]


# --- figure 7 ---------------------------------------------------------------------------


def peer_comparison(driver: Driver, workdir: Path, calls: int, seconds: float) -> List[Row]:
    """FreePBX CallerID Lookup's HTTP source (a GET per call) vs our FastAGI at 90% cache hits."""
    with RemoteFake() as fake, running_daemon(fake, "legacy", workdir) as (bridge, port):
        for number in PEER_NUMBERS:
            require(driver.session(port, number)["status"] == "FOUND", "warm-up: %s not found" % number)
        fake.clear_requests()
        hit_ms, miss_ms, peer = _alternate_calls(driver, bridge, fake, port, calls, seconds)
        asked = fake.count("/api.php", cid=None) - len(peer)
        require(asked == len(miss_ms), "our side asked ITFlow %d times for %d expired entries"
                % (asked, len(miss_ms)))
    return [_peer_row(hit_ms, miss_ms, peer)]


def _alternate_calls(driver: Driver, bridge, fake, port: int, calls: int, seconds: float):
    """Our call, then the peer's GET, for the same number; one of our calls in ten is a cache miss."""
    hit_ms, miss_ms, peer = [], [], []
    for index in bounded(calls, seconds):
        number = PEER_NUMBERS[index % 10]
        expired = index % 10 == (index // 10) % 10  # each block of ten: a different number expires
        if expired:
            bridge.cache.delete(bridge.lookup.cache_key(number))
        call = driver.session(port, number)
        require(call["status"] == "FOUND", "our call for %s: %s" % (number, call["status"]))
        (miss_ms if expired else hit_ms).append(call["ms"])
        got = driver.http_get(fake.port, "/api.php?api_key=%s&cid=%s" % (fake.api_key, number))
        require(got["body"].endswith(" - " + number) and not got["body"].startswith(" "),
                "peer GET: unexpected body %r" % got["body"][:80])
        peer.append(got["ms"])
    return hit_ms, miss_ms, peer


def _peer_row(hit_ms: List[float], miss_ms: List[float], peer: List[float]) -> Row:
    ours = hit_ms + miss_ms
    details = ["%d calls each, interleaved; ours: %d cache misses (%.0f%% hits), each one ITFlow request"
               % (len(ours), len(miss_ms), 100.0 * len(hit_ms) / len(ours)),
               "ours: hit mean %.2f ms, miss mean %.2f ms; p50 ours %.2f ms, peer %.2f ms"
               % (mean(hit_ms), mean(miss_ms) if miss_ms else float("nan"),
                  percentile(ours, 0.5), percentile(peer, 0.5)),
               "the peer opens a new connection per call, like CURL(); the fake ITFlow answers in "
               "about a millisecond: an ITFlow slower than that is paid by the peer on every call, "
               "by us on one call in ten"]
    return Row("7", "peer: FreePBX HTTP source", "legacy",
               "ours mean %.2f ms" % mean(ours), "peer mean %.2f ms" % mean(peer),
               "%.2fx" % (mean(ours) / mean(peer)), "report", None, details)
