"""The "press 3 for your balance" IVR, proven on a real Asterisk 22.

The caller is the other leg of a Local channel and keys DTMF with SendDTMF; the flow
runs behind the shipped ``itflow-balance`` context on both transports as shipped.
What the caller heard is read from Asterisk's own log (every file it started to play),
and the amount is reconstructed from those files with ``speech_reading.spoken_amount``, so a
wrong or missing word fails the test even when the variables are right.

A balance call lasts as long as its prompts (up to 20 s of real audio), so the calls
are placed concurrently, each scenario with its own fake ITFlow and its own bridge,
when the module starts; each test then asserts on its scenario's outcome.  FastAGI
scenarios all run at once (one daemon each); classic ones run one after another,
because the chroot holds a single itflow-bridge.conf.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

from asterisk_harness import AsteriskHarness, CallResult, CallWithRequests
import fake_writes
from faulty_itflow import FaultyITFlow
from itflow_bridge.services.speech import DEFAULT_PROMPTS
from speech_reading import spoken_amount

pytestmark = pytest.mark.e2e

TRANSPORTS = ("fastagi", "classic")
GENERATIONS = ("v1", "legacy")
FAST = {"digit_timeout_ms": "2000"}  # '#' ends every entry; a silent caller waits 2 s, not 6
CALL_TIMEOUT = 45.0
FASTAGI_AT_ONCE = 6  # concurrent FastAGI calls (each polls astdb through the CLI)
MISSING_FILE_WARNINGS = ("Unable to open", "does not exist in any format")
# Caller steps "SECONDS:KEYS|...": the first keys come 2 s after answer (a classic
# script needs a moment to start; keys sent before GET DATA runs are lost).  '*' is
# meant for "press 1 to hear it again, or star", which follows the amount; a '*'
# during the amount is ignored and the menu then times out (5 s), still status OK.
CLIENT_1_THEN_STAR = "2:1#|8:*"
PIN = "1234"  # client 1's contact John Smith


@dataclass(frozen=True)
class Scenario:
    """One balance call: the bridge it runs on, what ITFlow does, what the caller does."""

    transport: str
    mode: str = "v1"
    dtmf: str = ""
    caller: str = "5551234567"
    settings: Dict[str, str] = field(default_factory=lambda: dict(FAST))  # the [balance] section
    fault: Optional[str] = None
    hangup_after: Optional[float] = None
    ivr: bool = True


@dataclass
class Outcome(CallWithRequests):
    """A finished scenario: what Asterisk recorded, what ITFlow was asked, what the bridge logged."""

    bridge_log: str = ""
    api_key: str = ""


SCENARIOS: Dict[str, Scenario] = {
    **{f"valid {transport} {mode}": Scenario(transport, mode, CLIENT_1_THEN_STAR)
       for transport in TRANSPORTS for mode in GENERATIONS},
    # Legacy client 4 paid 125.50 on a 100.00 invoice.
    "credit fastagi legacy": Scenario("fastagi", "legacy", "2:4#|7:*"),
    # 5552220000 is the phone of client 1's location; 5553330000 a vendor's.
    **{f"verified by caller {transport}": Scenario(transport, dtmf=CLIENT_1_THEN_STAR, caller="5552220000",
                                                   settings={**FAST, "verify": "callerid"})
       for transport in TRANSPORTS},
    "not verified by caller": Scenario("fastagi", dtmf="2:1#", caller="5553330000",
                                       settings={**FAST, "verify": "callerid", "max_attempts": "1"}),
    "verified by pin": Scenario("fastagi", dtmf=f"2:1#|1.5:{PIN}#|8:*", settings={**FAST, "verify": "pin"}),
    "wrong pin": Scenario("fastagi", dtmf="2:1#|1.5:9999#", settings={**FAST, "verify": "pin", "max_attempts": "1"}),
    **{f"star {transport}": Scenario(transport, dtmf="2:*") for transport in TRANSPORTS},
    "star without ivr": Scenario("fastagi", dtmf="2:*", ivr=False),
    "silence": Scenario("fastagi", settings={"digit_timeout_ms": "1000"}),
    # A letter key (SendDTMF A) and one digit more than max_digits (10).
    **{f"junk {transport}": Scenario(transport, dtmf="2:A#|3.5:12345678901#",
                                     settings={**FAST, "max_attempts": "2"})
       for transport in TRANSPORTS},
    "unknown clients": Scenario("fastagi", dtmf="2:991#|3.5:992#|3.5:993#"),
    **{f"hangup {transport}": Scenario(transport, hangup_after=1.0) for transport in TRANSPORTS},
    **{f"itflow down {transport}": Scenario(transport, dtmf="2:1#", fault="refuse") for transport in TRANSPORTS},
    # Client 2 has a Partial invoice: the JSON API cannot know what is left to pay.
    "partial invoice": Scenario("fastagi", dtmf="2:2#"),
}


class Batch:
    """Runs every scenario in the background; ``batch[name]`` waits for that one's outcome."""

    def __init__(self, asterisk: AsteriskHarness, launcher, workdir: Path) -> None:
        self._asterisk = asterisk
        self._launcher = launcher
        self._workdir = workdir
        self._futures: Dict[str, Future] = {}
        self._pool = ThreadPoolExecutor(FASTAGI_AT_ONCE, thread_name_prefix="e2e-fastagi")
        self._classic_thread: Optional[threading.Thread] = None

    def start(self, scenarios: Dict[str, Scenario]) -> None:
        classic = {name: scenario for name, scenario in scenarios.items() if scenario.transport == "classic"}
        for name, scenario in scenarios.items():
            if name not in classic:
                self._futures[name] = self._pool.submit(self._run_fastagi, name, scenario)
        pending = {name: Future() for name in classic}
        self._futures.update(pending)
        self._classic_thread = threading.Thread(target=self._run_classic_in_turn, args=(classic, pending),
                                                name="e2e-classic", daemon=True)
        self._classic_thread.start()

    def __getitem__(self, name: str) -> Outcome:
        return self._futures[name].result(timeout=len(self._futures) * CALL_TIMEOUT)

    def outcomes(self) -> Dict[str, Outcome]:
        return {name: self[name] for name in self._futures}

    def finish(self) -> None:
        self._pool.shutdown(wait=True)
        if self._classic_thread is not None:
            self._classic_thread.join()

    # --- one scenario -----------------------------------------------------------------

    def _call(self, scenario: Scenario, agi_base: str) -> CallResult:
        return self._asterisk.call(
            "balance", caller_num=scenario.caller, agi_base=agi_base, dtmf=scenario.dtmf,
            hangup_after=scenario.hangup_after, ivr=scenario.ivr, timeout=CALL_TIMEOUT,
        )

    def _run_fastagi(self, name: str, scenario: Scenario) -> Outcome:
        with FaultyITFlow(writes=fake_writes) as fake:
            workdir = self._workdir / re.sub(r"\W+", "-", name)
            daemon = self._launcher.daemon(fake, scenario.mode, {"balance": scenario.settings}, workdir)
            try:
                fake.set_fault(scenario.fault)
                result = self._call(scenario, daemon.agi_base)
            finally:
                daemon.stop()
            return Outcome(result, fake.requests, daemon.output(), fake.api_key)

    def _run_classic(self, scenario: Scenario) -> Outcome:
        with FaultyITFlow(writes=fake_writes) as fake:
            install = self._launcher.classic(fake, scenario.mode, {"balance": scenario.settings})
            log_start = self._launcher.asterisk_stdout_size()
            try:
                fake.set_fault(scenario.fault)
                result = self._call(scenario, install.agi_base)
            finally:
                install.remove()
            return Outcome(result, fake.requests, self._launcher.asterisk_stdout_since(log_start), fake.api_key)

    def _run_classic_in_turn(self, scenarios: Dict[str, Scenario], futures: Dict[str, Future]) -> None:
        for name, scenario in scenarios.items():
            try:
                futures[name].set_result(self._run_classic(scenario))
            except BaseException as error:  # handed to the test that asks for this scenario
                futures[name].set_exception(error)


@pytest.fixture(scope="module")
def calls(asterisk: AsteriskHarness, launcher, prompts: Path, tmp_path_factory) -> Iterator[Batch]:
    batch = Batch(asterisk, launcher, tmp_path_factory.mktemp("balance"))
    batch.start(SCENARIOS)
    try:
        yield batch
    finally:
        batch.finish()


# --- what the caller heard ---------------------------------------------------------------


def assert_every_prompt_played(outcome: Outcome) -> None:
    """Asterisk found every file the flow asked for (a missing one would be silence)."""
    assert outcome.played, outcome.result.log
    warnings = [line for line in outcome.result.log.splitlines()
                if "WARNING" in line and any(text in line for text in MISSING_FILE_WARNINGS)]
    assert warnings == []
    assert "is missing" not in outcome.bridge_log


def assert_nothing_disclosed(outcome: Outcome) -> None:
    assert outcome.vars["ITFLOW_BALANCE"] == ""
    assert outcome.vars["ITFLOW_CURRENCY"] == ""
    assert DEFAULT_PROMPTS.your_balance_is not in outcome.played
    assert DEFAULT_PROMPTS.credit_of not in outcome.played


# --- the balance is told ------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mode", GENERATIONS)
def test_valid_client_hears_the_exact_balance_and_returns_to_the_ivr(calls, transport, mode) -> None:
    outcome = calls[f"valid {transport} {mode}"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "OK", outcome.result.log
    assert (outcome.vars["ITFLOW_CLIENT_ID"], outcome.vars["ITFLOW_BALANCE"],
            outcome.vars["ITFLOW_CURRENCY"]) == ("1", "1700.50", "USD")
    assert outcome.played[0] == DEFAULT_PROMPTS.enter_client_number
    assert spoken_amount(outcome.played, "USD") == Decimal("1700.50")
    assert outcome.played[-1] == DEFAULT_PROMPTS.repeat_or_menu
    assert outcome.vars["returned_to_ivr"] == "1"
    assert_every_prompt_played(outcome)


def test_negative_balance_is_said_as_a_credit(calls) -> None:
    outcome = calls["credit fastagi legacy"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "OK", outcome.result.log
    assert (outcome.vars["ITFLOW_BALANCE"], outcome.vars["ITFLOW_CURRENCY"]) == ("-25.50", "USD")
    assert spoken_amount(outcome.played, "USD") == Decimal("-25.50")
    assert DEFAULT_PROMPTS.your_balance_is not in outcome.played
    assert outcome.vars["returned_to_ivr"] == "1"
    assert_every_prompt_played(outcome)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_verified_by_caller_number(calls, transport) -> None:
    outcome = calls[f"verified by caller {transport}"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "OK", outcome.result.log
    assert outcome.vars["ITFLOW_BALANCE"] == "1700.50"
    assert spoken_amount(outcome.played, "USD") == Decimal("1700.50")
    assert DEFAULT_PROMPTS.enter_pin not in outcome.played
    assert_every_prompt_played(outcome)


def test_verified_by_pin_which_is_never_logged(calls) -> None:
    outcome = calls["verified by pin"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "OK", outcome.result.log
    assert outcome.played[:2] == [DEFAULT_PROMPTS.enter_client_number, DEFAULT_PROMPTS.enter_pin]
    assert spoken_amount(outcome.played, "USD") == Decimal("1700.50")
    assert_every_prompt_played(outcome)
    assert "client=1 outcome=OK" in outcome.bridge_log  # the audit line, at DEBUG level everything else too
    assert not re.search(rf"(?<![0-9]){PIN}(?![0-9])", outcome.bridge_log)


# --- the balance is not told -----------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["not verified by caller", "wrong pin"])
def test_failed_verification_discloses_nothing(calls, scenario) -> None:
    outcome = calls[scenario]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "INVALID", outcome.result.log
    assert_nothing_disclosed(outcome)
    assert outcome.played[-3:] == [DEFAULT_PROMPTS.not_verified, DEFAULT_PROMPTS.too_many_attempts,
                                   DEFAULT_PROMPTS.goodbye]
    assert outcome.vars["returned_to_ivr"] == "1"
    assert "DENIED (verification failed)" in outcome.bridge_log
    assert_every_prompt_played(outcome)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_star_cancels_back_to_the_ivr(calls, transport) -> None:
    outcome = calls[f"star {transport}"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "CANCELLED", outcome.result.log
    assert outcome.played == [DEFAULT_PROMPTS.enter_client_number]
    assert outcome.vars["returned_to_ivr"] == "1"
    assert outcome.requests == []
    assert_nothing_disclosed(outcome)


def test_star_without_an_ivr_says_goodbye(calls) -> None:
    outcome = calls["star without ivr"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "CANCELLED", outcome.result.log
    assert "returned_to_ivr" not in outcome.vars
    assert outcome.played == [DEFAULT_PROMPTS.enter_client_number, "vm-goodbye"]  # the dialplan's goodbye


def test_silence_gets_three_prompts_then_invalid(calls) -> None:
    outcome = calls["silence"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "INVALID", outcome.result.log
    assert outcome.played == [DEFAULT_PROMPTS.enter_client_number] * 3 + [
        DEFAULT_PROMPTS.too_many_attempts, DEFAULT_PROMPTS.goodbye]
    assert outcome.vars["returned_to_ivr"] == "1"
    assert outcome.requests == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_junk_keys_are_invalid_and_never_reach_itflow(calls, transport) -> None:
    outcome = calls[f"junk {transport}"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "INVALID", outcome.result.log
    assert outcome.played == [
        DEFAULT_PROMPTS.enter_client_number, DEFAULT_PROMPTS.invalid,
        DEFAULT_PROMPTS.enter_client_number, DEFAULT_PROMPTS.invalid,
        DEFAULT_PROMPTS.too_many_attempts, DEFAULT_PROMPTS.goodbye,
    ]
    assert outcome.requests == []
    assert_every_prompt_played(outcome)


def test_three_unknown_clients_end_invalid(calls) -> None:
    outcome = calls["unknown clients"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "INVALID", outcome.result.log
    assert outcome.played == [DEFAULT_PROMPTS.enter_client_number, DEFAULT_PROMPTS.invalid] * 3 + [
        DEFAULT_PROMPTS.too_many_attempts, DEFAULT_PROMPTS.goodbye]
    assert outcome.bridge_log.count("INVALID (no such client)") == 3
    assert_nothing_disclosed(outcome)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_hangup_mid_prompt(calls, transport) -> None:
    outcome = calls[f"hangup {transport}"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "HANGUP", outcome.result.log
    assert outcome.vars["AGISTATUS"] == "HANGUP"
    assert outcome.played == [DEFAULT_PROMPTS.enter_client_number]
    assert outcome.result.elapsed < 3.0
    assert "returned_to_ivr" not in outcome.vars
    assert outcome.requests == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_itflow_down_is_unavailable(calls, transport) -> None:
    outcome = calls[f"itflow down {transport}"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "UNAVAILABLE", outcome.result.log
    assert outcome.played == [DEFAULT_PROMPTS.enter_client_number, DEFAULT_PROMPTS.unavailable]
    assert outcome.vars["returned_to_ivr"] == "1"
    assert "UNAVAILABLE (nothing listens at http://127.0.0.1:" in outcome.bridge_log
    assert_nothing_disclosed(outcome)
    assert_every_prompt_played(outcome)


def test_part_paid_invoice_on_the_json_api_is_unavailable(calls) -> None:
    outcome = calls["partial invoice"]

    assert outcome.vars["ITFLOW_BALANCE_STATUS"] == "UNAVAILABLE", outcome.result.log
    assert outcome.played == [DEFAULT_PROMPTS.enter_client_number, DEFAULT_PROMPTS.unavailable]
    assert any(request.path == "/api/v1/invoices/read.php" for request in outcome.requests)
    assert_nothing_disclosed(outcome)


# --- every call ------------------------------------------------------------------------------


def test_no_call_leaked_the_api_key_or_a_traceback(calls) -> None:
    for name, outcome in calls.outcomes().items():
        assert outcome.api_key not in outcome.bridge_log, name
        assert outcome.api_key not in outcome.result.log, name
        assert "Traceback" not in outcome.bridge_log, name
