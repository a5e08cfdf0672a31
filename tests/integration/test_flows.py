"""Both flows over a real FastAGI socket, against the fake ITFlow, driven like Asterisk drives them.

The Asterisk side is simulated here (itflow_bridge.sample.simulated_asterisk); the same
flows run on a real Asterisk 22 in tests/e2e.
"""

import logging
import re
from dataclasses import replace
from decimal import Decimal

import pytest

from itflow_bridge.agi.fastagi import FastAGIServer
from itflow_bridge.routes import routes
from itflow_bridge.sample.simulated_asterisk import simulate_call
from speech_reading import spoken_amount


@pytest.fixture
def serve(make_bridge):
    servers = []

    def start(fake, mode="v1", **sections):
        bridge = make_bridge(fake, mode)
        config = bridge.config
        for section, values in sections.items():
            config = replace(config, **{section: replace(getattr(config, section), **values)})
        bridge.config = config
        server = FastAGIServer(routes(bridge), "127.0.0.1", 0).start()
        servers.append(server)
        return server.server_address, bridge

    yield start
    for server in servers:
        server.shutdown(grace=1)


def cid_call(address, number, name=""):
    return simulate_call(*address, "itflow-cid.agi", caller_num=number, caller_name=name)


def balance_call(address, dtmf, number="5551234567"):
    return simulate_call(*address, "itflow-balance.agi", caller_num=number, dtmf=dtmf)


# --- caller ID ---------------------------------------------------------------


@pytest.mark.parametrize("mode, number, shown", [
    ("v1", "+15551234567", "Acme Corp - John Smith"),
    ("v1", "5559876543", "Acme Corp - Jane Doe"),
    ("v1", "+15552220000", "Acme Corp - Acme HQ"),
    ("v1", "+15553330000", "Telco Supplies"),
    ("v1", "+441632960123", "O'Brien & Sons - Plumbing - Mary O'Brien"),
    ("legacy", "+15551234567", "John Smith"),
    ("legacy", "+441632960123", "Mary O'Brien"),
])
def test_found_sets_name_and_variables(fake_itflow, serve, mode, number, shown):
    address, _ = serve(fake_itflow, mode)
    call = cid_call(address, number, "WIRELESS CALLER")
    assert call.variables["CALLERID(name)"] == shown
    assert call.variables["ITFLOW_CID_STATUS"] == "FOUND"


def test_found_client_variables_on_v1(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1")
    call = cid_call(address, "5551234567")
    assert (call.variables["ITFLOW_CLIENT_ID"], call.variables["ITFLOW_CLIENT_NAME"],
            call.variables["ITFLOW_CONTACT_NAME"]) == ("1", "Acme Corp", "John Smith")


def test_hostile_names_arrive_as_one_safe_value(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1", callerid={"max_length": 80})
    call = cid_call(address, "5554440000")
    assert call.variables["CALLERID(name)"] == 'Evil "Quote" \\ Co - Line Break ${HANGUP} ;x'
    assert not any(c.startswith("HANGUP") for c in call.commands)
    assert all("\r" not in c and "\n" not in c for c in call.commands)


def test_a_10_kb_name_is_cut_not_a_failed_call(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1")
    fake_itflow.data["contacts"][0]["contact_name"] = "Z" * 10000
    call = cid_call(address, "5551234567")
    assert call.variables["ITFLOW_CID_STATUS"] == "FOUND"
    assert call.variables["CALLERID(name)"] == ("Acme Corp - " + "Z" * 40)[:40]
    assert len(call.variables["ITFLOW_CONTACT_NAME"]) == 255


def test_miss_keeps_a_real_trunk_name_and_clears_a_useless_one(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1")
    kept = cid_call(address, "5550009999", "Some Caller")
    assert "CALLERID(name)" not in kept.variables and kept.variables["ITFLOW_CID_STATUS"] == "NOTFOUND"
    cleared = cid_call(address, "5550009998", "5550009998")
    assert cleared.variables["CALLERID(name)"] == ""


def test_unknown_name_template(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1", callerid={"unknown_name": "Not in ITFlow {number}"})
    call = cid_call(address, "5550009999", "")
    assert call.variables["CALLERID(name)"] == "Not in ITFlow 5550009999"


@pytest.mark.parametrize("number", ["anonymous", "unknown", "", "12ab", "123"])
def test_skipped_numbers_never_reach_itflow(fake_itflow, serve, number):
    address, _ = serve(fake_itflow, "v1")
    fake_itflow.clear_requests()
    call = cid_call(address, number, "Trunk Name")
    assert call.variables == {"ITFLOW_CID_STATUS": "SKIPPED"}
    assert fake_itflow.count("/api") == 0


def test_agi_argument_overrides_the_channel_number(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1")
    from itflow_bridge.sample import simulated_asterisk as sim

    original = sim.environment

    def with_arg(*args, **kwargs):
        return original(*args, **kwargs)[:-1] + b"agi_arg_1: 5559876543\n\n"

    sim.environment = with_arg
    try:
        call = cid_call(address, "5550009999")
    finally:
        sim.environment = original
    assert call.variables["ITFLOW_CONTACT_NAME"] == "Jane Doe"


@pytest.mark.parametrize("fault", ["refuse", "500_empty", "bad_key", "garbage", "blackhole"])
def test_itflow_failures_give_error_and_leave_the_name(fake_itflow, serve, fault):
    address, _ = serve(fake_itflow, "v1", callerid={"budget_ms": 300})
    fake_itflow.set_fault(fault)
    call = cid_call(address, "5551234567", "Trunk Name")
    assert call.variables == {"ITFLOW_CID_STATUS": "ERROR"}


# --- balance IVR ----------------------------------------------------------------


@pytest.mark.parametrize("mode, client, amount, currency", [
    ("v1", "1", "1700.50", "USD"), ("v1", "3", "1150.75", "EUR"), ("v1", "8", "1000000.01", "USD"),
    ("legacy", "1", "1700.50", "USD"), ("legacy", "7", "12.50", "USD"),
])
def test_balance_is_spoken_exactly(fake_itflow, serve, mode, client, amount, currency):
    address, _ = serve(fake_itflow, mode)
    call = balance_call(address, [client])
    assert call.variables["ITFLOW_BALANCE_STATUS"] == "OK"
    assert (call.variables["ITFLOW_BALANCE"], call.variables["ITFLOW_CURRENCY"]) == (amount, currency)
    assert spoken_amount(call.played, currency) == Decimal(amount)


def test_negative_balance_is_a_credit(fake_itflow, serve):
    address, _ = serve(fake_itflow, "legacy")
    call = balance_call(address, ["4"])
    assert call.variables["ITFLOW_BALANCE"] == "-25.50"
    assert "itflow/you-have-a-credit-of" in call.played


def test_part_paid_invoice_on_v1_is_unavailable_not_a_wrong_amount(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1")
    call = balance_call(address, ["2"])
    assert call.variables["ITFLOW_BALANCE_STATUS"] == "UNAVAILABLE"
    assert "itflow/balance-unavailable" in call.played and "ITFLOW_BALANCE" not in call.variables


def test_star_cancels_and_repeat_works(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1")
    assert balance_call(address, ["*"]).variables["ITFLOW_BALANCE_STATUS"] == "CANCELLED"
    call = balance_call(address, ["1", "1", "*"])
    assert call.played.count("itflow/your-balance-is") == 2
    assert call.variables["ITFLOW_BALANCE_STATUS"] == "OK"


def test_three_bad_tries_end_invalid(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1")
    call = balance_call(address, ["", "12345678901", "0"])
    assert call.variables["ITFLOW_BALANCE_STATUS"] == "INVALID"
    assert call.played.count("itflow/enter-client-number") == 3
    assert call.played[-2:] == ["itflow/too-many-attempts", "vm-goodbye"]


def test_unknown_client_is_invalid_and_rate_limited_across_calls(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1", balance={"max_failures_per_hour": 4})
    first = balance_call(address, ["991", "992", "993"], number="5550001111")
    assert first.variables["ITFLOW_BALANCE_STATUS"] == "INVALID"
    second = balance_call(address, ["994", "1"], number="5550001111")
    assert second.variables["ITFLOW_BALANCE_STATUS"] == "DENIED"  # 4th failure reached the limit
    fake_itflow.clear_requests()
    third = balance_call(address, ["1"], number="5550001111")
    assert third.variables["ITFLOW_BALANCE_STATUS"] == "DENIED"
    assert fake_itflow.requests == []  # over the limit: no lookup at all
    other = balance_call(address, ["1"], number="5551234567")
    assert other.variables["ITFLOW_BALANCE_STATUS"] == "OK"


def test_verification_by_caller_number(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1", balance={"verify": "callerid"})
    assert balance_call(address, ["1"], number="+15552220000").variables["ITFLOW_BALANCE_STATUS"] == "OK"
    wrong = balance_call(address, ["1", "", ""], number="+15553330000")
    assert wrong.variables["ITFLOW_BALANCE_STATUS"] == "INVALID"
    assert "itflow/not-verified" in wrong.played and "ITFLOW_BALANCE" not in wrong.variables


def test_verification_by_pin_never_logs_the_pin(fake_itflow, serve, caplog):
    address, _ = serve(fake_itflow, "v1", balance={"verify": "pin"})
    with caplog.at_level(logging.DEBUG):
        good = balance_call(address, ["1", "1234"])
        bad = balance_call(address, ["1", "9999", "", ""])
    assert good.variables["ITFLOW_BALANCE_STATUS"] == "OK"
    assert bad.variables["ITFLOW_BALANCE_STATUS"] == "INVALID"
    assert "itflow/enter-pin" in good.played
    audit = [r.getMessage() for r in caplog.records if r.name == "itflow_bridge.audit"]
    assert any("client=1 outcome=OK" in line for line in audit)
    assert any("verification failed" in line for line in audit)
    entered = re.compile(r"(?<![0-9])(1234|9999)(?![0-9])")
    assert not any(entered.search(r.getMessage()) for r in caplog.records)


def test_legacy_cannot_verify_so_it_never_discloses(fake_itflow, serve):
    address, _ = serve(fake_itflow, "legacy", balance={"verify": "callerid"})
    call = balance_call(address, ["1", "", ""], number="5551234567")
    assert call.variables["ITFLOW_BALANCE_STATUS"] == "INVALID"
    assert "ITFLOW_BALANCE" not in call.variables


def test_itflow_down_says_unavailable(fake_itflow, serve):
    address, _ = serve(fake_itflow, "v1", balance={"budget_ms": 1500})
    fake_itflow.set_fault("refuse")
    call = balance_call(address, ["1"])
    assert call.variables["ITFLOW_BALANCE_STATUS"] == "UNAVAILABLE"
    assert "itflow/balance-unavailable" in call.played


def test_slow_itflow_hears_one_moment_please(fake_itflow, serve):
    address, bridge = serve(fake_itflow, "v1", balance={"budget_ms": 3000})
    bridge.adapter()  # detection done before the fault
    fake_itflow.set_fault("slow", delay=1.2)
    call = balance_call(address, ["1"])
    assert "one-moment-please" in call.played
    assert call.variables["ITFLOW_BALANCE_STATUS"] == "OK"


def test_legacy_zero_for_an_unknown_client_is_never_spoken(fake_itflow, serve):
    address, _ = serve(fake_itflow, "legacy")
    call = balance_call(address, ["77"])
    assert call.variables["ITFLOW_BALANCE_STATUS"] == "UNAVAILABLE"
    assert "itflow/your-balance-is" not in call.played and "ITFLOW_BALANCE" not in call.variables


def test_a_bug_in_either_flow_still_ends_the_call_with_a_status(fake_itflow, serve, monkeypatch, caplog):
    address, bridge = serve(fake_itflow, "v1")

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(bridge.lookup, "lookup", broken)
    monkeypatch.setattr(bridge.balance, "request", broken)
    assert cid_call(address, "5551234567").variables["ITFLOW_CID_STATUS"] == "ERROR"
    assert balance_call(address, ["1"]).variables["ITFLOW_BALANCE_STATUS"] == "UNAVAILABLE"
    assert "crashed" in caplog.text


def test_an_answer_landing_during_one_moment_please_is_used_not_asked_again(fake_itflow, serve):
    address, _ = serve(fake_itflow, "legacy", balance={"budget_ms": 3000})
    fake_itflow.set_fault("slow", delay=1.0)
    fake_itflow.clear_requests()
    call = balance_call(address, ["1"])
    assert "one-moment-please" in call.played
    assert call.variables["ITFLOW_BALANCE_STATUS"] == "OK"
    assert fake_itflow.count("/api.php", account_balance=None) == 1


def test_legacy_unknown_ids_count_against_the_hourly_limit(fake_itflow, serve):
    address, _ = serve(fake_itflow, "legacy", balance={"max_failures_per_hour": 2})
    for _ in range(2):
        assert balance_call(address, ["77"], number="5550002222").variables["ITFLOW_BALANCE_STATUS"] == "UNAVAILABLE"
    fake_itflow.clear_requests()
    assert balance_call(address, ["1"], number="5550002222").variables["ITFLOW_BALANCE_STATUS"] == "DENIED"
    assert fake_itflow.requests == []
