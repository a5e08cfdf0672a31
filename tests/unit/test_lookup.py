"""The lookup service's promises: budget, single flight, late answers cached, stale-on-error.

The adapter here is a scripted stand-in (the real adapters are tested against the
fake ITFlow over HTTP in tests/integration); these tests are about time and sharing.
"""

import threading
import time
from dataclasses import replace

import pytest

from itflow_bridge.storage.cache import Cache
from itflow_bridge.core.config import CacheSettings, CallerIDSettings
from itflow_bridge.core.errors import ITFlowUnavailable
from itflow_bridge.core.models import CallerMatch
from itflow_bridge.services import lookup as lookup_module
from itflow_bridge.services.lookup import CallerLookup


class ScriptedAdapter:
    """Answers from a dict; ``numeric`` asks as an API comparing numbers with intval() would."""

    def __init__(self, known=None, delay=0.0, fail=False, numeric=False, gate=None):
        self.known = known or {}
        self.delay = delay
        self.gate = gate  # a threading.Event: ITFlow answers only once the test sets it
        self.fail = fail
        self.numeric = numeric
        self.asked = []
        self.lock = threading.Lock()

    def lookup_question(self, digits):
        return str(int(digits)) if self.numeric else digits

    def find_caller(self, digits, timeout=None):
        with self.lock:
            self.asked.append(digits)
        time.sleep(self.delay)
        if self.gate is not None:
            assert self.gate.wait(IDLE_PATIENCE), "the test never let ITFlow answer"
        if self.fail:
            raise ITFlowUnavailable("connection refused")
        name = self.known.get(digits)
        return CallerMatch(name, "contact", 1, "Acme Corp", name) if name else None


IDLE_PATIENCE = 30.0  # seconds for work the test released to finish: only a hang takes that long


def make(adapter, tmp_path, **settings):
    return CallerLookup(
        replace(CallerIDSettings(), **settings), CacheSettings(dir=tmp_path), Cache(tmp_path), lambda: adapter
    )


def test_found_then_served_from_cache(tmp_path):
    adapter = ScriptedAdapter({"5551234567": "John Smith"})
    service = make(adapter, tmp_path)
    first = service.lookup("+15551234567")
    second = service.lookup("+15551234567")
    assert (first.status, first.source, first.match.client_name) == ("FOUND", "itflow", "Acme Corp")
    assert (second.status, second.source) == ("FOUND", "cache")
    assert adapter.asked == ["5551234567"]


def test_miss_tries_each_form_once_and_is_cached(tmp_path):
    adapter = ScriptedAdapter()
    service = make(adapter, tmp_path)
    assert service.lookup("+441632960123").status == "NOTFOUND"
    assert adapter.asked == ["1632960123", "01632960123", "441632960123"]
    assert service.lookup("+441632960123").source == "cache"
    assert len(adapter.asked) == 3


def test_legacy_numeric_compare_asks_once_per_value(tmp_path):
    adapter = ScriptedAdapter(numeric=True)
    make(adapter, tmp_path).lookup("+441632960123")
    assert adapter.asked == ["1632960123", "441632960123"]  # 01632960123 == 1632960123 for intval


def test_withheld_is_skipped_without_asking(tmp_path):
    adapter = ScriptedAdapter()
    service = make(adapter, tmp_path)
    assert service.lookup("anonymous").status == "SKIPPED"
    assert service.lookup("").status == "SKIPPED"
    assert adapter.asked == []


def test_budget_is_hard_and_the_late_answer_fills_the_cache(tmp_path):
    answer = threading.Event()
    adapter = ScriptedAdapter({"5551234567": "John Smith"}, gate=answer)
    service = make(adapter, tmp_path, budget_ms=100)
    result = service.lookup("5551234567")  # returns although ITFlow has not answered
    assert (result.status, result.timed_out) == ("ERROR", True)
    answer.set()
    service.flights.wait_idle(IDLE_PATIENCE)
    assert service.lookup("5551234567").source == "cache"


def test_concurrent_lookups_of_one_number_share_one_request(tmp_path):
    adapter = ScriptedAdapter({"5551234567": "John Smith"}, delay=0.3)
    service = make(adapter, tmp_path, budget_ms=int(IDLE_PATIENCE * 1000))  # about sharing, not the budget
    results = []
    threads = [threading.Thread(target=lambda: results.append(service.lookup("5551234567"))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == ["FOUND"] * 20
    assert adapter.asked == ["5551234567"]


def test_stale_entry_is_served_when_itflow_fails(tmp_path, monkeypatch):
    adapter = ScriptedAdapter({"5551234567": "John Smith"})
    service = make(adapter, tmp_path)
    service.lookup("5551234567")
    clock = [time.time() + 3600 + 1]  # past hit_ttl, within stale_grace
    monkeypatch.setattr(service.cache, "_clock", lambda: clock[0])
    adapter.fail = True
    result = service.lookup("5551234567")
    assert (result.status, result.source) == ("FOUND", "stale")


def test_mostly_failing_itflow_trips_a_cool_down_shared_through_the_cache(tmp_path):
    adapter = ScriptedAdapter(fail=True)
    service = make(adapter, tmp_path)
    for i in range(lookup_module.TRIP_AFTER):
        assert service.lookup("55510000%02d" % i).status == "ERROR"
    assert len(adapter.asked) == lookup_module.TRIP_AFTER
    assert service.lookup("5559999999").status == "ERROR"
    assert len(adapter.asked) == lookup_module.TRIP_AFTER  # not asked during the cool-down
    other_process = make(ScriptedAdapter(), tmp_path)  # a classic script: same sqlite file
    assert other_process.lookup("5558888888").status == "ERROR" and other_process.cooling_down()
    service.cache.delete("|" + lookup_module.COOL_DOWN_KEY)  # the default scope is ""
    adapter.fail = False
    assert service.lookup("5559999999").status == "NOTFOUND"


def test_stray_failures_do_not_stop_lookups(tmp_path):
    adapter = ScriptedAdapter()
    service = make(adapter, tmp_path)
    pattern = [i % 3 == 0 for i in range(2 * lookup_module.WINDOW)]  # a third of lookups fail
    for i, fails in enumerate(pattern):
        adapter.fail = fails
        assert service.lookup("55510000%02d" % i).status == ("ERROR" if fails else "NOTFOUND")
    assert not service.cooling_down()
    assert {number[-10:] for number in adapter.asked} == {"55510000%02d" % i for i in range(len(pattern))}


def test_an_overrun_budget_says_it_timed_out_and_is_no_failure(tmp_path):
    answer = threading.Event()
    adapter = ScriptedAdapter(gate=answer)
    service = make(adapter, tmp_path, budget_ms=50)
    results = [service.lookup("555100000%d" % i) for i in range(3)]
    assert [(r.status, r.timed_out) for r in results] == [("ERROR", True)] * 3
    assert not service.cooling_down()  # slow is not down: the answers still fill the cache
    answer.set()
    service.flights.wait_idle(IDLE_PATIENCE)
    assert service.lookup("5551000000").source == "cache"


def test_refresh_ignores_the_cool_down(tmp_path):
    adapter = ScriptedAdapter({"5551234567": "John Smith"})
    service = make(adapter, tmp_path)
    service._cool_down()
    assert service.lookup("5551234567").status == "ERROR"
    assert service.refresh("5551234567").status == "FOUND"
    assert service.lookup("5551234567").source == "cache"


def test_work_that_finishes_before_it_is_registered_does_not_deadlock():
    from itflow_bridge.services.budget import SingleFlight

    flights = SingleFlight(workers=1)

    def many():
        for i in range(200):  # instant work: the future is often done before add_done_callback
            flights.run("k%d" % (i % 3), lambda i=i: i, budget=2.0)

    worker = threading.Thread(target=many, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "SingleFlight deadlocked"


def test_a_number_being_refreshed_elsewhere_is_not_asked_again(tmp_path):
    adapter = ScriptedAdapter({"5551234567": "John Smith"})
    service = make(adapter, tmp_path)
    make(ScriptedAdapter(), tmp_path).mark_refreshing("5551234567")  # another process (same sqlite)
    assert service.lookup("5551234567").status == "ERROR" and adapter.asked == []
    assert service.refresh("5551234567").status == "FOUND"  # the refresher clears its mark
    assert service.lookup("5551234567").source == "cache"


class FakeMonotonic:
    """Stands in for the ``time`` module of the lookup and budget code: a clock the test moves."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


class SlowCache(Cache):
    """A cache whose reads take ``delay`` on ``clock`` (a disk stalled by other processes)."""

    def __init__(self, directory, clock, delay):
        super().__init__(directory)
        self.clock, self.delay = clock, delay

    def get(self, key):
        self.clock.now += self.delay
        return super().get(key)


def test_the_budget_counts_the_cache_reads_before_the_wait(tmp_path, monkeypatch):
    from itflow_bridge.services import budget as budget_module

    clock = FakeMonotonic()
    monkeypatch.setattr(lookup_module, "time", clock)
    monkeypatch.setattr(budget_module, "time", clock)
    answer = threading.Event()
    adapter = ScriptedAdapter(gate=answer)  # ITFlow never answers within the budget
    flights = lookup_module.SingleFlight(name="test-lookup")
    waits = []
    run = flights.run
    monkeypatch.setattr(flights, "run", lambda key, work, budget, started: (
        waits.append(budget - (clock.now - started)), run(key, work, budget, started))[1])
    service = CallerLookup(replace(CallerIDSettings(), budget_ms=600), CacheSettings(dir=tmp_path),
                           SlowCache(tmp_path, clock, 0.15), lambda: adapter, flights=flights)
    result = service.lookup("5551234567")  # three slow reads (entry, cool-down, refresher mark) = 0.45 s
    answer.set()
    assert (result.status, result.timed_out) == ("ERROR", True)
    assert waits == [pytest.approx(0.15)], "the wait for ITFlow is not what the reads left of the budget"
    assert "600 ms" in result.error  # the budget the admin set, not what was left of it
