"""The JSON API's vendor, location and client listings: read once per expiry, however many calls need them."""

import threading

import pytest

from itflow_bridge.core.errors import ITFlowUnavailable

VENDORS, LOCATIONS, CLIENTS = "/api/v1/vendors/read.php", "/api/v1/locations/read.php", "/api/v1/clients/read.php"


def listings_read(fake, path):
    """How many times the listing was started (its first page asked for)."""
    return fake.count(path, offset="0")


def concurrently(work, count=20):
    results, errors = [], []
    start = threading.Barrier(count)

    def run(index):
        start.wait()
        try:
            results.append(work(index))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results, errors


def test_twenty_concurrent_cold_misses_read_each_listing_once(fake_itflow_v1, make_bridge):
    bridge = make_bridge(fake_itflow_v1, "v1")
    bridge.adapter()
    fake_itflow_v1.set_fault("slow", delay=0.2)  # every listing is still being read when the others need it
    fake_itflow_v1.clear_requests()
    results, errors = concurrently(lambda index: bridge.lookup.lookup("+1555000%04d" % index, budget=20.0))
    assert errors == [] and [result.status for result in results] == ["NOTFOUND"] * 20
    assert fake_itflow_v1.count("/api/v1/contacts/read.php", contact_phone_or_mobile=None) >= 20  # all were cold
    assert listings_read(fake_itflow_v1, VENDORS) == 1
    assert listings_read(fake_itflow_v1, LOCATIONS) == 1


class CountedBuilds(dict):
    """The adapter's in-progress builds, counting how many callers have looked one up."""

    def __init__(self):
        super().__init__()
        self.looked_up = 0
        self.changed = threading.Condition()

    def get(self, *args):
        with self.changed:
            self.looked_up += 1
            self.changed.notify_all()
        return super().get(*args)


def test_a_failed_listing_fails_every_caller_waiting_on_it_with_one_build(fake_itflow_v1, make_bridge):
    adapter = make_bridge(fake_itflow_v1, "v1").adapter()
    adapter._building = building = CountedBuilds()
    builds = []

    def failing_build(timeout):
        builds.append(timeout)
        with building.changed:  # every other caller has found this build running and holds on to it
            assert building.changed.wait_for(lambda: building.looked_up == 10, timeout=30)
        raise ITFlowUnavailable("ITFlow answered HTTP 500")

    results, errors = concurrently(lambda index: adapter._listing("phones", failing_build, None), count=10)
    assert results == [] and len(errors) == 10 and all(isinstance(e, ITFlowUnavailable) for e in errors)
    assert len(builds) == 1
    assert adapter.find_caller("5553330000").name == "Telco Supplies"  # the failure is not kept


def test_a_client_added_since_is_read_again_once(fake_itflow_v1, make_bridge):
    adapter = make_bridge(fake_itflow_v1, "v1").adapter()
    assert adapter.get_client(1).name == "Acme Corp"
    fake_itflow_v1.set_fault("slow", delay=0.3)  # every caller finds the old copy stale while it is re-read
    fake_itflow_v1.clear_requests()
    results, errors = concurrently(lambda index: adapter.get_client(999), count=10)
    assert errors == [] and results == [None] * 10
    assert listings_read(fake_itflow_v1, CLIENTS) == 1  # the stale copy re-read once, not once per caller
    fake_itflow_v1.set_fault(None)
    assert adapter.get_client(1).name == "Acme Corp" and listings_read(fake_itflow_v1, CLIENTS) == 1


@pytest.mark.parametrize("name", ["phones", "clients"])
def test_listings_expire(fake_itflow_v1, make_bridge, name):
    import itflow_bridge.itflow.v1 as v1

    clock = [0.0]
    adapter = v1.V1Adapter(make_bridge(fake_itflow_v1, "v1").adapter().http, clock=lambda: clock[0])
    read = adapter._phone_listing if name == "phones" else (lambda timeout: adapter._listing(
        "clients", adapter._build_clients, timeout))
    path = VENDORS if name == "phones" else CLIENTS
    fake_itflow_v1.clear_requests()
    read(None)
    read(None)
    assert listings_read(fake_itflow_v1, path) == 1
    clock[0] += v1.LISTING_TTL + 1
    read(None)
    assert listings_read(fake_itflow_v1, path) == 2
