"""Caller-ID names from ITFlow, proven on a real Asterisk 22 through the shipped dialplan.

Every call goes through ``Gosub(itflow-cid,s,1)`` of asterisk-conf/extensions_itflow.conf
to the real handler, over both transports as shipped (the ``itflow-bridge serve``
daemon, the classic scripts ``itflow-bridge install-agi`` writes) and against both
ITFlow API generations.  What is asserted is what Asterisk itself holds afterwards:
the channel's CALLERID(name) and the ITFLOW_* variables, read back through astdb.
"""

from __future__ import annotations

import re
import time

import pytest

from asterisk_harness import AsteriskHarness, CallResult

pytestmark = pytest.mark.e2e

TRANSPORTS = ("fastagi", "classic")
GENERATIONS = ("v1", "legacy")
BUDGET_MS = 1500  # the shipped default caller-ID budget
BUDGET = BUDGET_MS / 1000.0
BUDGET_SLACK = 0.1  # allowed on top of the budget: the AGI round trips around the lookup
# A classic script is a new Python process per call: its start-up and imports come on
# top of the lookup (0.2-0.4 s here; more while other test suites load the machine).
CLASSIC_START_UP = 1.0
QUICK = 0.5
LATE_ANSWER_WAIT = 6.0  # ITFlow's delay, a refresher's start-up, and room for a loaded machine
# The flow's VERBOSE line: "itflow-bridge: caller N: STATUS detail (source, 12 ms)".
LOOKUP_LINE = re.compile(r"itflow-bridge: caller .*\(([a-z]+|-), (\d+) ms\)")
TRUNK_NAME = "WIRELESS CALLER"
ANSWER = ("CALLERID_NAME", "ITFLOW_CID_STATUS", "ITFLOW_CLIENT_ID", "ITFLOW_CLIENT_NAME", "ITFLOW_CONTACT_NAME",
          "ITFLOW_CONTACT_ID", "ITFLOW_CLIENT_URL")

# number as the trunk delivers it -> (v1 name, legacy name, v1 client id, client name, contact name)
FOUND = {
    "contact phone, E.164": ("+15551234567", "Acme Corp - John Smith", "John Smith", "1", "Acme Corp", "John Smith"),
    "contact phone, national": ("5551234567", "Acme Corp - John Smith", "John Smith", "1", "Acme Corp", "John Smith"),
    "mobile": ("5559876543", "Acme Corp - Jane Doe", "Jane Doe", "1", "Acme Corp", "Jane Doe"),
    "location": ("+15552220000", "Acme Corp - Acme HQ", "Acme HQ", "1", "Acme Corp", ""),
    "vendor": ("+15553330000", "Telco Supplies", "Telco Supplies", "", "", ""),  # a vendor is no client
    "stored with trunk 0": ("+441632960123", "O'Brien & Sons - Plumbing - Mary O'Brien", "Mary O'Brien", "2",
                            "O'Brien & Sons - Plumbing", "Mary O'Brien"),
    "stored with country code, non-ASCII": ("+4930123456", "Müller GmbH - Jürgen Müller", "Jürgen Müller", "3",
                                            "Müller GmbH", "Jürgen Müller"),
}

# The contact's id in the sample ITFlow, for the cases that are a contact's number (v1 only).
CONTACT_IDS = {"contact phone, E.164": "1", "contact phone, national": "1", "mobile": "2",
               "stored with trunk 0": "3", "stored with country code, non-ASCII": "4"}


def client_page(itflow_url: str, client_id: str) -> str:
    """ITFLOW_CLIENT_URL for ``client_id`` ("" without a client): ITFlow 26.x's client overview."""
    return "%s/agent/client_overview.php?client_id=%s" % (itflow_url, client_id) if client_id else ""


def cid_call(asterisk: AsteriskHarness, agi_base: str, number: str, name: str = TRUNK_NAME) -> CallResult:
    return asterisk.call("cid", caller_num=number, caller_name=name, agi_base=agi_base, timeout=15)


def lookup_source(result: CallResult) -> str:
    """Where the answer came from (itflow, cache, stale, -), as the flow's VERBOSE line told Asterisk."""
    ((source, _milliseconds),) = LOOKUP_LINE.findall(result.log)
    return source


def lookup_seconds(result: CallResult) -> float:
    """How long the lookup took inside the bridge, as the flow's VERBOSE line told Asterisk."""
    ((_source, milliseconds),) = LOOKUP_LINE.findall(result.log)
    return int(milliseconds) / 1000.0


# --- matches -------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mode", GENERATIONS)
@pytest.mark.parametrize("case", sorted(FOUND))
def test_found_sets_the_name_the_phones_show(asterisk, fake, bridge, transport, mode, case) -> None:
    number, v1_name, legacy_name, client_id, client_name, contact_name = FOUND[case]
    agi_base = bridge(transport, mode)

    result = cid_call(asterisk, agi_base, number)

    assert result.vars["before_CALLERID_NAME"] == TRUNK_NAME
    assert result.vars["ITFLOW_CID_STATUS"] == "FOUND", result.log
    assert result.vars["CALLERID_NAME"] == (v1_name if mode == "v1" else legacy_name)
    assert result.vars["CALLERID_NUM"] == number
    assert result.vars["AGISTATUS"] == "SUCCESS"
    if mode == "v1":
        expected = (client_id, client_name, contact_name, CONTACT_IDS.get(case, ""), client_page(fake.url, client_id))
    else:  # the legacy API names the caller and nothing else
        expected = ("", "", "", "", "")
    assert (result.vars["ITFLOW_CLIENT_ID"], result.vars["ITFLOW_CLIENT_NAME"], result.vars["ITFLOW_CONTACT_NAME"],
            result.vars["ITFLOW_CONTACT_ID"], result.vars["ITFLOW_CLIENT_URL"]) == expected
    assert lookup_source(result) == "itflow"
    assert fake.api_key not in result.log


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mode", GENERATIONS)
def test_hostile_names_arrive_whole_and_inert(asterisk, fake, bridge, transport, mode) -> None:
    """Client 4 is ``Evil "Quote" \\ Co``, its contact ``Line\\r\\nBreak ${HANGUP} ;x``."""
    agi_base = bridge(transport, mode, callerid={"max_length": "80"})

    result = cid_call(asterisk, agi_base, "5554440000")

    assert result.vars["ITFLOW_CID_STATUS"] == "FOUND", result.log
    if mode == "v1":
        assert result.vars["CALLERID_NAME"] == 'Evil "Quote" \\ Co - Line Break ${HANGUP} ;x'
        assert result.vars["ITFLOW_CLIENT_NAME"] == 'Evil "Quote" \\ Co'
        # Set as ITFlow has it, so only the AGI quoting drops the CR/LF (the name above turns them into a space).
        assert result.vars["ITFLOW_CONTACT_NAME"] == "Line Break ${HANGUP} ;x"  # one clean line
    else:
        assert result.vars["CALLERID_NAME"] == "Line Break ${HANGUP} ;x"
    assert result.vars["AGISTATUS"] == "SUCCESS"
    assert "Invalid or unknown command" not in result.log  # no second command was injected


# --- no match, no lookup ---------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mode", GENERATIONS)
def test_unknown_number_keeps_the_trunk_name(asterisk, fake, bridge, transport, mode) -> None:
    agi_base = bridge(transport, mode)

    result = cid_call(asterisk, agi_base, "+15550009999", "Some Caller")

    assert result.vars["ITFLOW_CID_STATUS"] == "NOTFOUND", result.log
    assert result.vars["CALLERID_NAME"] == "Some Caller"
    assert (result.vars["ITFLOW_CLIENT_ID"], result.vars["ITFLOW_CONTACT_ID"], result.vars["ITFLOW_CLIENT_URL"]) == (
        "", "", "")
    assert fake.count("/api") >= 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_number_clears_a_name_that_is_only_the_number(asterisk, fake, bridge, transport) -> None:
    agi_base = bridge(transport, "v1")

    result = cid_call(asterisk, agi_base, "5550009998", "5550009998")

    assert result.vars["ITFLOW_CID_STATUS"] == "NOTFOUND", result.log
    assert result.vars["before_CALLERID_NAME"] == "5550009998"
    assert result.vars["CALLERID_NAME"] == ""


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("number", ["anonymous", "unknown"])
def test_withheld_number_is_skipped_without_asking_itflow(asterisk, fake, bridge, transport, number) -> None:
    agi_base = bridge(transport, "legacy")  # the API where asking would match every empty phone
    fake.clear_requests()

    result = cid_call(asterisk, agi_base, number, "Trunk Name")

    assert result.vars["ITFLOW_CID_STATUS"] == "SKIPPED", result.log
    assert result.vars["CALLERID_NAME"] == "Trunk Name"
    assert fake.requests == []


def test_no_caller_number_at_all_is_skipped(asterisk, fake, bridge) -> None:
    agi_base = bridge("fastagi", "legacy")
    fake.clear_requests()

    result = asterisk.call("cid", agi_base=agi_base, timeout=15)

    assert result.vars["before_CALLERID_NUM"] == ""
    assert result.vars["ITFLOW_CID_STATUS"] == "SKIPPED", result.log
    assert fake.requests == []


# --- failures: the call always goes on -------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mode", GENERATIONS)
def test_itflow_refusing_connections_is_a_quick_error(asterisk, fake, bridge, transport, mode) -> None:
    agi_base = bridge(transport, mode)
    fake.set_fault("refuse")

    result = cid_call(asterisk, agi_base, "5551234567", "Trunk Name")

    assert result.vars["ITFLOW_CID_STATUS"] == "ERROR", result.log
    assert result.vars["CALLERID_NAME"] == "Trunk Name"
    assert result.vars["AGISTATUS"] == "SUCCESS"
    assert lookup_seconds(result) < QUICK  # no budget, no timeout waited for
    assert result.elapsed < (QUICK if transport == "fastagi" else QUICK + CLASSIC_START_UP)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mode", GENERATIONS)
def test_itflow_hanging_costs_the_budget_and_no_more(asterisk, fake, bridge, latency_report, transport, mode) -> None:
    agi_base = bridge(transport, mode, callerid={"budget_ms": str(BUDGET_MS)})
    fake.set_fault("blackhole")

    result = cid_call(asterisk, agi_base, "5551234567", "Trunk Name")

    assert result.vars["ITFLOW_CID_STATUS"] == "ERROR", result.log
    assert result.vars["CALLERID_NAME"] == "Trunk Name"
    assert fake.count("/api") >= 1  # ITFlow was asked, and never answered
    latency_report(f"cid {transport} {mode}: ITFlow black-holed (budget {BUDGET_MS} ms)", result.elapsed)
    assert BUDGET * 0.9 <= lookup_seconds(result) <= BUDGET + BUDGET_SLACK
    if transport == "fastagi":
        assert BUDGET * 0.9 <= result.elapsed <= BUDGET + BUDGET_SLACK
    else:  # the process's start-up aside, nothing may hold the call (res_agi waits for the script to exit)
        assert result.elapsed - lookup_seconds(result) <= CLASSIC_START_UP


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_late_answer_names_the_next_call(asterisk, fake, bridge, transport) -> None:
    """ITFlow answers after the budget: this call goes on unnamed, the answer is cached for the next.

    The daemon's request simply finishes; a classic script cannot linger (Asterisk waits
    for it to exit), so it hands the number to a detached refresher that asks again.
    Meanwhile ITFlow is left alone (cool-down): the calls in between ask nothing.
    """
    agi_base = bridge(transport, "legacy", callerid={"budget_ms": "1000"})  # legacy: one request per lookup
    fake.set_fault("slow", delay=1.5)

    first = cid_call(asterisk, agi_base, "5551234567")
    deadline = time.monotonic() + LATE_ANSWER_WAIT
    later = cid_call(asterisk, agi_base, "5551234567")
    while later.vars["ITFLOW_CID_STATUS"] != "FOUND" and time.monotonic() < deadline:
        time.sleep(0.2)
        later = cid_call(asterisk, agi_base, "5551234567")

    assert first.vars["ITFLOW_CID_STATUS"] == "ERROR" and first.vars["CALLERID_NAME"] == TRUNK_NAME
    assert 0.9 <= lookup_seconds(first) <= 1.0 + BUDGET_SLACK
    assert later.vars["ITFLOW_CID_STATUS"] == "FOUND", later.log
    assert later.vars["CALLERID_NAME"] == "John Smith"
    assert fake.count("/api.php", cid=None) == (1 if transport == "fastagi" else 2)


def test_daemon_not_running_is_a_quick_error(asterisk, fake, daemon) -> None:
    stopped = daemon("v1")
    stopped.stop()  # its port now refuses connections: the shipped dialplan's fallback answers

    result = cid_call(asterisk, stopped.agi_base, "5551234567", "Trunk Name")

    assert result.vars["ITFLOW_CID_STATUS"] == "ERROR"
    assert result.vars["AGISTATUS"] == "FAILURE"
    assert result.vars["CALLERID_NAME"] == "Trunk Name"
    assert result.elapsed < 0.5
    assert fake.requests == []


# --- the cache ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mode", GENERATIONS)
def test_warm_cache_answers_without_itflow(asterisk, fake, bridge, latency_report, transport, mode) -> None:
    agi_base = bridge(transport, mode)
    cold = cid_call(asterisk, agi_base, "+15559876543")
    asked = fake.count("/api")

    warm = cid_call(asterisk, agi_base, "+15559876543")

    assert cold.vars["ITFLOW_CID_STATUS"] == "FOUND"
    assert {key: warm.vars[key] for key in ANSWER} == {key: cold.vars[key] for key in ANSWER}
    assert asked >= 1 and lookup_source(cold) == "itflow"
    assert fake.count("/api") == asked  # the second call asked ITFlow nothing
    latency_report(f"cid {transport} {mode}: cold cache", cold.elapsed)
    latency_report(f"cid {transport} {mode}: warm cache", warm.elapsed)
    if transport == "fastagi":
        assert lookup_source(warm) == "cache" and lookup_seconds(warm) < 0.05
    # (a classic cache hit replays the recorded SET VARIABLE lines without the bridge: no VERBOSE line)
    assert warm.elapsed < (QUICK if transport == "fastagi" else QUICK + CLASSIC_START_UP)
