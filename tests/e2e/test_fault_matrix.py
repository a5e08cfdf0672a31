"""The fault and abuse matrix, on the real Asterisk 22: every case, both flows, both transports.

What a broken ITFlow, a hostile caller or hostile data can do to a call, played through
the shipped dialplan (``itflow-cid`` / ``itflow-balance``) on the daemon and on the
classic scripts.  For every call the test asserts what Asterisk itself reports: the
status variable has its documented value, AGISTATUS, the dialplan steps Asterisk ran
after the AGI (from its verbose log; for the balance IVR: the caller is back in the
IVR), what the caller heard, that every line the bridge sent was one whole command
Asterisk accepted (AGI debug is on for this module), and that neither a traceback nor
the API key appears in any output (Asterisk's log and stdout, the daemons' logs, the
classic scripts' stderr).

The cases are independent, so each runs with its own fake ITFlow and its own bridge,
LANES at a time, as soon as the module starts (see fault_matrix.py for how classic
cases run side by side); each test then asserts on its case's outcome.  Time limits:
caller-ID budget 1.5 s (shipped) for the black hole, 2.5 s for the slow ITFlow, 3 s
elsewhere (ROOMY_BUDGET says why); balance budget 3 s (shipped; 1.5 s for the black
hole, to keep that call short); digit timeout 2 s.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

import pytest

from asterisk_harness import LOG_NAME, AsteriskHarness
from fault_matrix import (
    AGI_COMMANDS,
    ASTERISK_STDOUT,
    EMPTY_RESOLVER,
    MATRIX_API_KEY,
    RAW_BYTE_MARK,
    Call,
    ClassicArea,
    ClassicBridge,
    FastAGIBridge,
    Lanes,
    MatrixITFlow,
    Outcome,
    Player,
    agi_commands,
    agi_refusals,
    caller_gone_at,
    empty_resolver_prefix,
    lookup_lines,
    plays,
    read_from,
    self_signed_context,
    size_of,
    sound_seconds,
    steps_after_agi,
)
from itflow_bridge.services.lookup import COOL_DOWN
from itflow_bridge.services.speech import DEFAULT_PROMPTS as PROMPTS
from speech_reading import spoken_amount

pytestmark = pytest.mark.e2e

TRANSPORTS = ("fastagi", "classic")
LANES = 6  # cases at once: enough to fit the time limit, few enough to keep 2 cores responsive
TRUNK_NAME = "WIRELESS CALLER"
KNOWN = "5551234567"  # John Smith of Acme Corp (client 1)
UNKNOWN = "5550009999"
FOUND_NAME = {"legacy": "John Smith", "v1": "Acme Corp - John Smith"}  # the legacy API only names the contact
# Client 7 owes 12.50 (one Sent invoice, no payment): a short sentence to listen to.
CLIENT, AMOUNT, CURRENCY = "7", Decimal("12.50"), {"v1": "GBP", "legacy": "USD"}
# '*' is the menu's "back" key; a '*' during the amount is ignored, so several follow (one lands in the menu).
HEAR_BALANCE = "2:7#|4:*|2:*|2:*|2:*|2:*"
FAST = {"digit_timeout_ms": "2000"}
CID_BUDGET = 1.5  # the shipped [callerid] budget_ms: the black hole waits it out
SLOW_BUDGET = 2.5  # [callerid] budget_ms of the "slow ITFlow" cases
# Cases about what ITFlow says rather than how fast get room: a classic script spends part of its
# budget on its own cold start (importing requests): 0.2 s on a quiet machine, over 1 s here while
# other suites load both cores.
ROOMY_BUDGET = 3.0
ROOMY = {"budget_ms": str(round(ROOMY_BUDGET * 1000))}
CLASSIC_COLD_START = 1.2
BUDGET_SLACK = 0.25  # on top of a budget: AGI round trips, on a loaded 2-core machine
# A failure ITFlow reports at once costs far less than the budget; a classic script's lookup
# also pays its cold start (see ROOMY_BUDGET).
QUICK_LOOKUP = {"fastagi": 0.75, "classic": CID_BUDGET}
LONG_RECORDING = "demo-thanks"  # 5.5 s of stock audio: room to hang up during a prompt that is short
FOUND, NOTFOUND, SKIPPED, ERROR = "FOUND", "NOTFOUND", "SKIPPED", "ERROR"
OK, INVALID, DENIED, UNAVAILABLE, CANCELLED, HANGUP = "OK", "INVALID", "DENIED", "UNAVAILABLE", "CANCELLED", "HANGUP"


@dataclass(frozen=True)
class Case:
    """One independent scenario: a fake ITFlow, a bridge on one transport, a script of calls."""

    transport: str
    mode: str
    script: Callable[[Player], None]
    settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # bridge INI overrides
    fake: Mapping[str, Any] = field(default_factory=dict)  # MatrixITFlow arguments; "tls": True = self-signed
    data: Optional[Callable[[dict], None]] = None  # edits the dataset before ITFlow starts
    dns: bool = False  # the bridge resolves names with a resolver that knows nothing
    classic_stderr_to_asterisk: bool = False  # as shipped, instead of the case's own file


# --- ITFlow misbehaving ----------------------------------------------------------------------


@dataclass(frozen=True)
class ITFlowCase:
    """How ITFlow misbehaves, and what each flow must end with."""

    mode: str
    cid: str
    balance: str
    fault: Optional[str] = None
    cid_delay: Optional[float] = None  # "slow": seconds before ITFlow answers the caller-ID call
    balance_delay: Optional[float] = None
    fake: Mapping[str, Any] = field(default_factory=dict)
    itflow: Mapping[str, str] = field(default_factory=dict)  # [itflow] overrides
    balance_settings: Mapping[str, str] = field(default_factory=dict)
    cid_budget: float = ROOMY_BUDGET  # [callerid] budget_ms, in seconds
    caller: str = KNOWN
    reason: str = ""  # what the caller-ID VERBOSE line and the balance audit line say
    classic_stderr_to_asterisk: bool = False
    timing: str = "quick"  # caller-ID lookup time: "quick", "budget" (waited it out) or "in budget"
    one_moment: bool = False  # balance: ITFlow was slow enough for "one moment please"
    dns: bool = False


ITFLOW_CASES: Dict[str, ITFlowCase] = {
    "connection refused": ITFlowCase("v1", ERROR, UNAVAILABLE, fault="refuse", reason="(connection refused)"),
    "DNS failure": ITFlowCase("v1", ERROR, UNAVAILABLE, itflow={"url": "http://itflow.invalid"}, dns=True,
                              reason="cannot reach ITFlow at http://itflow.invalid: the host name does not resolve"),
    "black hole": ITFlowCase("legacy", ERROR, UNAVAILABLE, fault="blackhole", balance_settings={"budget_ms": "1500"},
                             cid_budget=CID_BUDGET, reason="no answer from ITFlow within", timing="budget",
                             one_moment=True),
    # Legacy: one request per question, so the delay is the whole wait.  Caller ID: budget 2.5 s,
    # ITFlow answers 0.4 s before it runs out (for a classic script, also before its cold start
    # ran out: CLASSIC_COLD_START earlier).  Balance: budget 3 s, the answer at 2.7 s comes after
    # "one moment please" (0.8 s + 1.6 s of audio) ended.
    "slow, just under the budget": ITFlowCase("legacy", FOUND, OK, cid_delay=SLOW_BUDGET - 0.4, balance_delay=2.7,
                                              cid_budget=SLOW_BUDGET, timing="in budget", one_moment=True),
    # Over: the caller-ID budget by 0.6 s; the balance wait (0.8 s + the prompt + 2.2 s) by 0.5 s.
    "slow, just over the budget": ITFlowCase("legacy", ERROR, UNAVAILABLE, cid_delay=SLOW_BUDGET + 0.6,
                                             balance_delay=3.0 + 1.6 + 0.5, cid_budget=SLOW_BUDGET,
                                             reason="no answer from ITFlow within", timing="budget",
                                             one_moment=True),
    "401 wrong key, legacy": ITFlowCase("legacy", ERROR, UNAVAILABLE, fault="bad_key",
                                        reason="refused the API key (incorrect or expired)"),
    "401 wrong key, JSON": ITFlowCase("v1", ERROR, UNAVAILABLE, fault="bad_key",
                                      reason="API key is invalid or has expired"),
    "403 key not tied to a user": ITFlowCase("v1", ERROR, UNAVAILABLE, fault="key_not_tied",
                                             reason="not tied to a user"),
    "405 method not allowed": ITFlowCase("v1", ERROR, UNAVAILABLE, fake={"method_not_allowed": True},
                                         reason="refused the request method"),
    "500 empty body, legacy": ITFlowCase("legacy", ERROR, UNAVAILABLE, fault="500_empty",
                                         reason="ITFlow answered HTTP 500"),
    "500 empty body, JSON": ITFlowCase("v1", ERROR, UNAVAILABLE, fault="500_empty", reason="ITFlow answered HTTP 500"),
    # PHP >= 8.1: every cid answer is HTTP 500 with the right body (the fake's default PHP is 8.2).
    "500 with the answer, PHP 8.2": ITFlowCase("legacy", FOUND, OK, fake={"php_version": "8.2"}),
    # display_errors: a miss has a warning before the text (and the fatal error after it).
    "PHP warning before the text": ITFlowCase("legacy", NOTFOUND, OK, fake={"display_errors": True}, caller=UNKNOWN),
    "PHP fatal error after the text": ITFlowCase("legacy", FOUND, OK, fake={"display_errors": True}),
    "truncated JSON": ITFlowCase("v1", ERROR, UNAVAILABLE, fault="truncated", reason="not JSON"),
    "success as a boolean": ITFlowCase("v1", FOUND, OK, fault="bool_success"),
    "5 MB body": ITFlowCase("v1", ERROR, UNAVAILABLE, fault="huge", reason="larger than"),
    "redirect to the login page, legacy": ITFlowCase("legacy", ERROR, UNAVAILABLE, fault="redirect_login",
                                                     reason="redirected /api.php to /login.php"),
    "redirect to the login page, JSON": ITFlowCase("v1", ERROR, UNAVAILABLE, fault="redirect_login",
                                                   reason="redirected the API to /login.php"),
    # The classic scripts' stderr stays in Asterisk's stdout here: that is where the admin looks.
    "self-signed TLS certificate": ITFlowCase("v1", ERROR, UNAVAILABLE, fake={"tls": True},
                                              reason="TLS verification failed", classic_stderr_to_asterisk=True),
}


def set_itflow(fake: MatrixITFlow, fault: Optional[str], delay: Optional[float]) -> None:
    if delay is not None:
        fake.set_fault("slow", delay=delay)
    else:
        fake.set_fault(fault)


def itflow_case(name: str, transport: str) -> Case:
    case = ITFLOW_CASES[name]
    cid_delay = case.cid_delay
    if cid_delay is not None and case.timing == "in budget" and transport == "classic":
        cid_delay -= CLASSIC_COLD_START

    def script(player: Player) -> None:
        set_itflow(player.fake, case.fault, cid_delay)
        player.call("cid", "cid", caller=case.caller, caller_name=TRUNK_NAME, timeout=20)
        set_itflow(player.fake, case.fault, case.balance_delay)
        player.call("balance", "balance", caller=KNOWN, dtmf=HEAR_BALANCE)

    settings = {"itflow": dict(case.itflow), "callerid": {"budget_ms": str(round(case.cid_budget * 1000))},
                "balance": {**FAST, **case.balance_settings}}
    return Case(transport, case.mode, script, settings, case.fake, dns=case.dns,
                classic_stderr_to_asterisk=case.classic_stderr_to_asterisk)


# ITFlow goes down and comes back: short freshness, so the second call finds only a stale answer.
RECOVERY_HIT_TTL = 1
RECOVERED_NAME = "John Smythe"


def recovery_script(player: Player) -> None:
    fake = player.fake
    player.call("cid up", "cid", caller=KNOWN, caller_name=TRUNK_NAME, timeout=20)
    fresh_until = time.monotonic() + RECOVERY_HIT_TTL
    player.call("balance up", "balance", caller=KNOWN, dtmf=HEAR_BALANCE)
    fake.set_fault("refuse")
    time.sleep(max(0.0, fresh_until + 0.3 - time.monotonic()))
    player.call("cid down", "cid", caller=KNOWN, caller_name=TRUNK_NAME, timeout=20)
    failed_at = time.monotonic()
    player.call("balance down", "balance", caller=KNOWN, dtmf=HEAR_BALANCE)
    contact = next(row for row in fake.data["contacts"] if row["contact_id"] == "1")
    contact["contact_name"] = RECOVERED_NAME  # only a fresh answer can know this
    fake.set_fault(None)
    time.sleep(max(0.0, failed_at + COOL_DOWN + 0.5 - time.monotonic()))  # any cool-down is over
    player.call("cid recovered", "cid", caller=KNOWN, caller_name=TRUNK_NAME, timeout=20)
    player.call("balance recovered", "balance", caller=KNOWN, dtmf=HEAR_BALANCE)


RECOVERY_SETTINGS = {"cache": {"hit_ttl": str(RECOVERY_HIT_TTL), "stale_grace": "600"}, "callerid": ROOMY,
                     "balance": FAST}


# --- the caller misbehaving -------------------------------------------------------------------


@dataclass(frozen=True)
class HangupCase:
    """A balance call the caller leaves ``after`` seconds into it, while ``heard[-1]`` plays."""

    after: float
    heard: Tuple[str, ...]  # the files played, exactly; with ``last_only``: the last one is one of these
    dtmf: str = ""
    settings: Mapping[str, str] = field(default_factory=dict)
    prompts: Mapping[str, str] = field(default_factory=dict)
    fault: Optional[str] = None
    delay: Optional[float] = None
    last_only: bool = False
    after_the_file: bool = False  # the caller left in the silence after ``heard[-1]`` (the wait for a key)


# Timelines (seconds after answer): the first prompt starts by ~0.3 s (classic ~0.5 s); "2:0#" and
# "2:1#" end at ~2.55 s.  What follows ITFlow's answer starts ~2.6-3.0 s, or ~5.1 s when a classic
# script's cold start made the flow say "one moment please" first; prompts that follow the answer
# are long (client 1's amount; a 5.5 s recording in place of a short prompt) so that each hang-up
# time falls within the prompt on both timelines.
ENTER, ONE_MOMENT, LONG = PROMPTS.enter_client_number, PROMPTS.one_moment, LONG_RECORDING
AMOUNT_1700_50 = ("digits/1", "digits/thousand", "digits/7", "digits/hundred", "itflow/dollars", "vm-and",
                  "digits/50", "itflow/cents")
HANGUPS: Dict[str, HangupCase] = {
    "enter client number": HangupCase(1.8, (ENTER,)),
    "invalid entry": HangupCase(4.0, (ENTER, PROMPTS.invalid), dtmf="2:0#"),
    "too many attempts": HangupCase(6.5, (ENTER, PROMPTS.invalid, PROMPTS.too_many_attempts),
                                    dtmf="2:0#", settings={"max_attempts": "1"}),
    "goodbye": HangupCase(10.0, (ENTER, PROMPTS.invalid, PROMPTS.too_many_attempts, LONG),
                          dtmf="2:0#", settings={"max_attempts": "1"}, prompts={"goodbye": LONG}),
    "one moment please": HangupCase(4.15, (ENTER, ONE_MOMENT), dtmf="2:7#", delay=6.0),
    "balance unavailable": HangupCase(6.7, (ENTER, LONG), dtmf="2:7#", prompts={"unavailable": LONG},
                                      fault="refuse"),
    "your balance is": HangupCase(6.9, (ENTER, LONG), dtmf="2:7#", prompts={"your_balance_is": LONG}),
    "the amount": HangupCase(8.0, AMOUNT_1700_50, dtmf="2:1#", last_only=True),
    "repeat or menu": HangupCase(14.1, (LONG,), dtmf="2:1#", prompts={"repeat_or_menu": LONG}, last_only=True),
    # After the menu the flow waits 5 s for a key.
    "the wait after the menu": HangupCase(19.5, (LONG,), dtmf="2:1#", prompts={"repeat_or_menu": LONG},
                                          last_only=True, after_the_file=True),
    "enter pin": HangupCase(4.5, (ENTER, PROMPTS.enter_pin), dtmf="2:1#", settings={"verify": "pin"}),
    "not verified": HangupCase(7.2, (ENTER, PROMPTS.enter_pin, PROMPTS.not_verified),
                               dtmf="2:1#|1.5:9999#", settings={"verify": "pin", "max_attempts": "1"}),
}
REPEAT_WAIT = 5.0  # seconds the flow waits for a key after the menu


def heard(call: Call, transport: str, expected: Tuple[str, ...] = ()) -> List[str]:
    """The files played.  A classic script's cold start (its imports count towards the 0.8 s
    before "one moment please", see ROOMY_BUDGET) may add that prompt: left out unless expected."""
    if transport == "fastagi" or ONE_MOMENT in expected:
        return call.played
    return [name for name in call.played if name != ONE_MOMENT]


def hangup_case(name: str, transport: str) -> Case:
    hangup = HANGUPS[name]

    def script(player: Player) -> None:
        set_itflow(player.fake, hangup.fault, hangup.delay)
        player.call("balance", "balance", caller=KNOWN, dtmf=hangup.dtmf, hangup_after=hangup.after)

    settings = {"balance": {**FAST, **hangup.settings}, "prompts": dict(hangup.prompts)}
    return Case(transport, "v1", script, settings)


# Hanging up while ITFlow is being asked (legacy: one request, so the delay is the wait).
def cid_lookup_hangup_script(player: Player) -> None:
    player.fake.set_fault("slow", delay=1.3)  # well within the budget; the caller leaves at 1.0 s
    player.call("cid", "cid", caller=KNOWN, caller_name=TRUNK_NAME, hangup_after=1.0, timeout=20)


# Balance budget 2 s, ITFlow answers in 1.3 s: after the first 0.8 s wait, while "one moment please"
# (1.6 s) plays.  The answer is within the budget, so the caller must hear the balance.
def one_moment_answer_script(player: Player) -> None:
    player.fake.set_fault("slow", delay=1.3)
    player.call("balance", "balance", caller=KNOWN, dtmf=HEAR_BALANCE)


def balance_lookup_hangup_script(player: Player) -> None:
    player.fake.set_fault("slow", delay=6.0)  # '#' at ~2.55 s, "one moment please" would start at ~3.35 s
    player.call("balance", "balance", caller=KNOWN, dtmf="2:7#", hangup_after=2.95)


@dataclass(frozen=True)
class KeysCase:
    """What the caller keys (or not) at the client number prompt, and what follows."""

    dtmf: str
    status: str
    heard: Tuple[str, ...]
    settings: Mapping[str, str] = field(default_factory=dict)


GIVE_UP = (PROMPTS.too_many_attempts, PROMPTS.goodbye)
KEYS: Dict[str, KeysCase] = {
    "no DTMF at all": KeysCase("", INVALID, (PROMPTS.enter_client_number,) * 2 + GIVE_UP,
                               {"digit_timeout_ms": "1000", "max_attempts": "2"}),
    "star": KeysCase("2:*", CANCELLED, (PROMPTS.enter_client_number,)),
    "hash alone": KeysCase("2:#", INVALID, (PROMPTS.enter_client_number,) + GIVE_UP, {"max_attempts": "1"}),
    "40 digits": KeysCase("2:" + "1234567890" * 4 + "#", INVALID,
                          (PROMPTS.enter_client_number, PROMPTS.invalid) + GIVE_UP, {"max_attempts": "1"}),
    "letters A-D": KeysCase("2:1A2B3C4D#", INVALID, (PROMPTS.enter_client_number, PROMPTS.invalid) + GIVE_UP,
                            {"max_attempts": "1"}),
}


def keys_case(name: str, transport: str) -> Case:
    keys = KEYS[name]

    def script(player: Player) -> None:
        player.call("balance", "balance", caller=KNOWN, dtmf=keys.dtmf)

    return Case(transport, "v1", script, {"balance": {**FAST, **keys.settings}})


# 20+ wrong client ids from one number, three per call, the daemon restarted before every call.
RATE_CALLER = "5550001111"
RATE_CALLS = 7
LIMIT = 10  # the shipped [balance] max_failures_per_hour


def rate_ids(call_number: int) -> List[int]:
    return [901 + 3 * call_number + offset for offset in range(3)]


def rate_limit_script(player: Player) -> None:
    for number in range(RATE_CALLS):
        if number:
            player.bridge.restart()
        first, second, third = rate_ids(number)
        # 6 s between ids: the "invalid" prompt (2.7 s), and "one moment please" a classic cold start may add.
        player.call(f"call {number + 1}", "balance", caller=RATE_CALLER,
                    dtmf=f"2:{first}#|6:{second}#|6:{third}#")
    player.notes["pids"] = list(player.bridge.pids)


# The legacy API answers 0 for a client that does not exist, so the IVR says "unavailable" and
# ends the call: one wrong id per call, LIMIT + 1 calls, the daemon restarted before each.
LEGACY_RATE_CALLS = LIMIT + 1


def legacy_rate_limit_script(player: Player) -> None:
    for number in range(LEGACY_RATE_CALLS):
        if number:
            player.bridge.restart()
        player.call(f"call {number + 1}", "balance", caller=RATE_CALLER, dtmf=f"2:{931 + number}#")
    player.notes["pids"] = list(player.bridge.pids)


# Caller numbers no lookup may use; the balance check by caller number must not pass either.
BAD_NUMBERS = {"letters": "555ABC1234", "plus only": "+", "30 digits": "123456789012345678901234567890"}


def bad_number_case(name: str, transport: str) -> Case:
    number = BAD_NUMBERS[name]

    def script(player: Player) -> None:
        player.call("cid", "cid", caller=number, caller_name=TRUNK_NAME, timeout=20)
        player.call("balance", "balance", caller=number, dtmf="2:7#")

    return Case(transport, "v1", script, {"balance": {**FAST, "verify": "callerid", "max_attempts": "1"}})


# A caller name that is not UTF-8 (0xE9, 0xFF): surrogate escapes become those bytes on the CLI.
RAW_CALLER_NAME = "Caf\udce9 \udcff Line"


def raw_caller_name_script(player: Player) -> None:
    player.call("cid known", "cid", caller=KNOWN, caller_name=RAW_CALLER_NAME, timeout=20)
    player.call("cid unknown", "cid", caller=UNKNOWN, caller_name=RAW_CALLER_NAME, timeout=20)
    player.call("balance", "balance", caller=KNOWN, caller_name=RAW_CALLER_NAME, dtmf=HEAR_BALANCE)


# --- hostile data in ITFlow -------------------------------------------------------------------

NAME_LENGTH = 80  # [callerid] max_length for these cases
# name as stored in ITFlow -> the one clean line it must become
HOSTILE_NAMES: Dict[str, Tuple[str, str]] = {
    "CR/LF injecting a command": ("Eve\r\nSET VARIABLE ITFLOW_BALANCE 666", "Eve SET VARIABLE ITFLOW_BALANCE 666"),
    "quote and backslash": ('Quote " and \\ back\\"slash', 'Quote " and \\ back\\"slash'),
    "semicolons": ("Semi; colon;; x", "Semi; colon;; x"),
    "dialplan expressions": ("${CHANNEL} $[1+1] ${SHELL(id)}", "${CHANNEL} $[1+1] ${SHELL(id)}"),
    "10 kB": ("Long " * 2048, ("Long " * 2048).strip()),
    "emoji": ("Pizza \U0001F355 Pete \U0001F44D\U0001F3FD", "Pizza \U0001F355 Pete \U0001F44D\U0001F3FD"),
    "invalid UTF-8": (f"Bad {RAW_BYTE_MARK} Byte", "Bad \ufffd Byte"),
}


def hostile_data(name: str) -> Callable[[dict], None]:
    stored, _shown = HOSTILE_NAMES[name]

    def edit(data: dict) -> None:
        next(row for row in data["contacts"] if row["contact_id"] == "1")["contact_name"] = stored
        next(row for row in data["clients"] if row["client_id"] == CLIENT)["client_name"] = stored

    return edit


def hostile_case(name: str, mode: str, transport: str) -> Case:
    def script(player: Player) -> None:
        player.call("cid", "cid", caller=KNOWN, caller_name=TRUNK_NAME, timeout=20)
        if mode == "v1":  # the legacy balance never reads a name
            player.call("balance", "balance", caller=KNOWN, dtmf=HEAR_BALANCE)

    settings = {"callerid": {**ROOMY, "max_length": str(NAME_LENGTH)}, "balance": FAST}
    return Case(transport, mode, script, settings, data=hostile_data(name))


# --- every case -----------------------------------------------------------------------------------


def all_cases() -> Dict[str, Case]:
    cases: Dict[str, Case] = {}
    for transport in TRANSPORTS:  # the longest first
        cases[f"rate limit legacy {transport}"] = Case(transport, "legacy", legacy_rate_limit_script,
                                                       {"balance": FAST})
        cases[f"rate limit {transport}"] = Case(transport, "v1", rate_limit_script, {"balance": FAST})
        cases[f"recovery {transport}"] = Case(transport, "v1", recovery_script, RECOVERY_SETTINGS)
    for transport in TRANSPORTS:
        cases.update({f"itflow {name} {transport}": itflow_case(name, transport) for name in ITFLOW_CASES})
        cases[f"answer during one moment please {transport}"] = Case(
            transport, "legacy", one_moment_answer_script, {"balance": {**FAST, "budget_ms": "2000"}})
        cases.update({f"hangup {name} {transport}": hangup_case(name, transport) for name in HANGUPS})
        cases[f"hangup cid lookup {transport}"] = Case(transport, "legacy", cid_lookup_hangup_script,
                                                       {"callerid": ROOMY})
        cases[f"hangup balance lookup {transport}"] = Case(transport, "legacy", balance_lookup_hangup_script,
                                                           {"balance": FAST})
        cases.update({f"keys {name} {transport}": keys_case(name, transport) for name in KEYS})
        cases.update({f"number {name} {transport}": bad_number_case(name, transport) for name in BAD_NUMBERS})
        cases[f"raw caller name {transport}"] = Case(transport, "v1", raw_caller_name_script,
                                                     {"callerid": ROOMY, "balance": FAST})
        for mode in ("v1", "legacy"):
            cases.update({f"data {name} {mode} {transport}": hostile_case(name, mode, transport)
                          for name in HOSTILE_NAMES})
    return cases


CASES = all_cases()


class Matrix:
    """Plays every case (``LANES`` at a time); ``matrix[name]`` is that case's ``Outcome``."""

    def __init__(self, asterisk: AsteriskHarness, launcher, workdir: Path) -> None:
        self.asterisk = asterisk
        self._launcher = launcher
        self._workdir = workdir
        self._resolver = workdir / "resolv.conf"
        self._resolver.write_text(EMPTY_RESOLVER)
        self._tls = self_signed_context(workdir)
        self._asterisk_log = asterisk.root / "var/log/asterisk" / LOG_NAME
        self._stdout = asterisk.root / ASTERISK_STDOUT
        self._offsets = (size_of(self._asterisk_log), size_of(self._stdout))
        self._classic = ClassicArea(asterisk, self._resolver)
        self._lanes = Lanes(LANES)

    def start(self, cases: Dict[str, Case]) -> None:
        self._lanes.start([(name, self._job(name, case)) for name, case in cases.items()])

    def __getitem__(self, name: str) -> Outcome:
        return self._lanes[name]

    def finish(self) -> None:
        """Wait for every case to end (each stops its fake ITFlow and its bridge)."""
        self._lanes.join()

    def outputs(self) -> Dict[str, str]:
        """Everything Asterisk logged and printed (classic scripts' stderr aside) since the matrix began."""
        return {"Asterisk log": read_from(self._asterisk_log, self._offsets[0]),
                "Asterisk stdout": read_from(self._stdout, self._offsets[1])}

    def names(self) -> List[str]:
        return self._lanes.names()

    def remove(self) -> None:
        self._classic.remove()

    def _job(self, name: str, case: Case) -> Callable[[], Outcome]:
        return lambda: self._play(name, case)

    def _play(self, name: str, case: Case) -> Outcome:
        arguments = dict(case.fake)
        if arguments.pop("tls", False):
            arguments["tls"] = self._tls
        fake = MatrixITFlow(**arguments)
        if case.data is not None:
            case.data(fake.data)
        fake.start()
        bridge = None
        try:
            bridge = self._bridge(name, case, fake)
            player = Player(self.asterisk, fake, bridge)
            case.script(player)
        finally:
            fake.stop()  # first: a bridge still waiting on a black-holed request is let go
            if bridge is not None:
                bridge.stop()
        return Outcome(player.calls, bridge.log(), player.notes)

    def _bridge(self, name: str, case: Case, fake: MatrixITFlow):
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
        if case.transport == "fastagi":
            prefix = empty_resolver_prefix(self._resolver) if case.dns else ()
            return FastAGIBridge(self._launcher, fake, case.mode, case.settings, self._workdir / slug, prefix)
        return ClassicBridge(self.asterisk, fake, case.mode, case.settings, slug,
                             own_stderr=not case.classic_stderr_to_asterisk)


@pytest.fixture(scope="module")
def matrix(asterisk: AsteriskHarness, launcher, prompts: Path, tmp_path_factory) -> Iterator[Matrix]:
    asterisk.cli("agi set debug on")  # every AGI line in the log: what the bridge sent, what Asterisk said
    played = Matrix(asterisk, launcher, tmp_path_factory.mktemp("fault-matrix"))
    played.start(CASES)
    try:
        yield played
    finally:
        played.finish()
        played.remove()
        asterisk.cli("agi set debug off")


@pytest.fixture(scope="module")
def sounds(prompts: Path) -> Path:
    """The chroot's sound directory for English (where ``itflow/`` was installed)."""
    return prompts.parent


# --- what every call must show -------------------------------------------------------------------


def assert_cid_went_on(call: Call) -> None:
    """AGISTATUS SUCCESS, and Asterisk ran the shipped context to its Return and the caller's next step."""
    assert call.vars["AGISTATUS"] == "SUCCESS", call.log
    after = steps_after_agi(call.log, "itflow-cid")
    assert after[:2] == [("itflow-cid", 5, "ExecIf"), ("itflow-cid", 6, "Return")], call.log
    assert after[2][0] == "e2e-run", call.log  # back in the calling dialplan, after the Gosub
    assert_clean_call(call)


def assert_balance_went_on(call: Call) -> None:
    """AGISTATUS SUCCESS, and Asterisk sent the caller back to the IVR through the shipped context."""
    assert call.vars["AGISTATUS"] == "SUCCESS", call.log
    after = steps_after_agi(call.log, "itflow-balance")
    assert after[:2] == [("itflow-balance", 5, "ExecIf"), ("itflow-balance", 6, "GotoIf")], call.log
    assert after[2][0] == "e2e-ivr", call.log
    assert call.vars.get("returned_to_ivr") == "1", call.log
    assert_clean_call(call)


def assert_hung_up(call: Call, status_variable: str, status: str) -> None:
    """The caller left: Asterisk says HANGUP, the status is set, no shipped step ran after the AGI."""
    assert call.vars["AGISTATUS"] == "HANGUP", call.log
    assert call.vars[status_variable] == status, call.log
    assert [step for step in steps_after_agi(call.log, "itflow-balance") + steps_after_agi(call.log, "itflow-cid")
            if step[0].startswith("itflow-")] == []
    assert "returned_to_ivr" not in call.vars
    assert_clean_call(call)


def assert_clean_call(call: Call) -> None:
    """Each line the bridge sent was one whole AGI command that Asterisk accepted; nothing leaked."""
    commands = agi_commands(call.log)
    assert commands, "no AGI traffic logged: is AGI debug on?"
    assert [line for line in commands if not line.startswith(AGI_COMMANDS)] == [], call.log
    assert agi_refusals(call.log) == [], call.log
    assert MATRIX_API_KEY not in call.log
    assert all(MATRIX_API_KEY not in value for value in call.vars.values())
    assert "Traceback" not in call.log


def assert_nothing_disclosed(call: Call) -> None:
    assert (call.vars["ITFLOW_BALANCE"], call.vars["ITFLOW_CURRENCY"]) == ("", "")
    assert PROMPTS.your_balance_is not in call.played and PROMPTS.credit_of not in call.played


def assert_heard_balance(call: Call, mode: str) -> None:
    assert (call.vars["ITFLOW_CLIENT_ID"], call.vars["ITFLOW_BALANCE"], call.vars["ITFLOW_CURRENCY"]) == (
        CLIENT, str(AMOUNT), CURRENCY[mode]), call.log
    assert call.played[0] == PROMPTS.enter_client_number
    assert spoken_amount(call.played, CURRENCY[mode]) == AMOUNT
    assert call.played[-1] == PROMPTS.repeat_or_menu


def lookup_line(call: Call) -> Dict[str, str]:
    (line,) = lookup_lines(call.log)
    return line


def audit_lines(outcome: Outcome, outcome_text: str) -> List[str]:
    return [line for line in outcome.bridge_log.splitlines() if f"outcome={outcome_text}" in line]


# --- ITFlow misbehaving ------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", list(ITFLOW_CASES))
def test_itflow_fault_caller_id(matrix, name, transport) -> None:
    case = ITFLOW_CASES[name]
    call = matrix[f"itflow {name} {transport}"]["cid"]

    assert call.vars["ITFLOW_CID_STATUS"] == case.cid, call.log
    assert call.vars["CALLERID_NAME"] == (FOUND_NAME[case.mode] if case.cid == FOUND else TRUNK_NAME)
    assert_cid_went_on(call)
    line = lookup_line(call)
    assert case.reason in line["detail"], line  # the reason, in Asterisk's own log
    seconds = int(line["ms"]) / 1000
    if case.timing == "quick":
        assert seconds < QUICK_LOOKUP[transport], line
    elif case.timing == "budget":
        assert case.cid_budget * 0.9 <= seconds <= case.cid_budget + BUDGET_SLACK, line
    else:
        assert seconds <= case.cid_budget + BUDGET_SLACK, line


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", list(ITFLOW_CASES))
def test_itflow_fault_balance(matrix, name, transport) -> None:
    case = ITFLOW_CASES[name]
    outcome = matrix[f"itflow {name} {transport}"]
    call = outcome["balance"]

    assert call.vars["ITFLOW_BALANCE_STATUS"] == case.balance, call.log
    assert_balance_went_on(call)
    assert (ONE_MOMENT in heard(call, transport, (ONE_MOMENT,) * case.one_moment)) == case.one_moment, call.played
    if case.balance == OK:
        assert_heard_balance(call, case.mode)
        return
    assert heard(call, transport, (ONE_MOMENT,) * case.one_moment) == [PROMPTS.enter_client_number] + [
        ONE_MOMENT] * case.one_moment + [PROMPTS.unavailable]
    assert_nothing_disclosed(call)
    assert any(case.reason in line for line in audit_lines(outcome, "UNAVAILABLE")), outcome.bridge_log


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tls_failure_is_explained_in_the_bridge_log(matrix, transport) -> None:
    """In the daemon's log; for the classic scripts, in Asterisk's stdout (their stderr)."""
    log = matrix[f"itflow self-signed TLS certificate {transport}"].bridge_log

    assert "TLS verification failed for https://127.0.0.1:" in log
    assert "set [itflow] ca_bundle" in log


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_slow_itflow_is_asked_once_per_balance(matrix, transport) -> None:
    call = matrix[f"itflow slow, just under the budget {transport}"]["balance"]

    assert len([request for request in call.requests if "account_balance" in request.query]) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_answer_arriving_during_one_moment_please_is_used(matrix, transport) -> None:
    call = matrix[f"answer during one moment please {transport}"]["balance"]

    assert call.vars["ITFLOW_BALANCE_STATUS"] == OK, call.log
    assert PROMPTS.one_moment in call.played
    assert_heard_balance(call, "legacy")
    assert_balance_went_on(call)
    assert len([request for request in call.requests if "account_balance" in request.query]) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_itflow_recovering_mid_run(matrix, transport) -> None:
    outcome = matrix[f"recovery {transport}"]
    cid = {label: outcome[f"cid {label}"] for label in ("up", "down", "recovered")}
    balance = {label: outcome[f"balance {label}"] for label in ("up", "down", "recovered")}

    assert [lookup_line(call)["source"] for call in cid.values()] == ["itflow", "stale", "itflow"]
    assert [call.vars["ITFLOW_CID_STATUS"] for call in cid.values()] == [FOUND] * 3
    assert [call.vars["CALLERID_NAME"] for call in cid.values()] == [
        FOUND_NAME["v1"], FOUND_NAME["v1"], f"Acme Corp - {RECOVERED_NAME}"]
    assert cid["recovered"].requests, "the recovered call asked ITFlow"
    assert [call.vars["ITFLOW_BALANCE_STATUS"] for call in balance.values()] == [OK, UNAVAILABLE, OK]
    for call in cid.values():
        assert_cid_went_on(call)
    for call in balance.values():
        assert_balance_went_on(call)
    assert_heard_balance(balance["recovered"], "v1")
    assert_nothing_disclosed(balance["down"])


# --- the caller misbehaving ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", list(HANGUPS))
def test_hang_up_during_a_balance_prompt(matrix, sounds, name, transport) -> None:
    hangup = HANGUPS[name]
    call = matrix[f"hangup {name} {transport}"]["balance"]

    assert_hung_up(call, "ITFLOW_BALANCE_STATUS", HANGUP)
    files = heard(call, transport, hangup.heard)
    if hangup.last_only:
        assert files[-1] in hangup.heard, files
    else:
        assert files == list(hangup.heard)
    started, last = plays(call.log)[-1]
    ended = started + sound_seconds(sounds, last)
    gone = caller_gone_at(call.log)
    if hangup.after_the_file:
        assert ended <= gone <= ended + REPEAT_WAIT, (started, ended, gone)
    else:
        assert started <= gone < ended, (last, started, ended, gone)  # while it played


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_hang_up_during_the_amount_is_during_the_amount(matrix, transport) -> None:
    assert heard(matrix[f"hangup the amount {transport}"]["balance"], transport)[:2] == [
        PROMPTS.enter_client_number, PROMPTS.your_balance_is]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_hang_up_during_the_caller_id_lookup(matrix, transport) -> None:
    outcome = matrix[f"hangup cid lookup {transport}"]
    call = outcome["cid"]

    assert_hung_up(call, "ITFLOW_CID_STATUS", FOUND)  # ITFlow answered within the budget: still recorded
    assert call.vars["CALLERID_NAME"] == FOUND_NAME["legacy"]
    assert len(call.requests) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_hang_up_during_the_balance_lookup(matrix, transport) -> None:
    call = matrix[f"hangup balance lookup {transport}"]["balance"]

    assert_hung_up(call, "ITFLOW_BALANCE_STATUS", HANGUP)
    assert call.played == [PROMPTS.enter_client_number]
    assert any("account_balance" in request.query for request in call.requests)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", list(KEYS))
def test_odd_keys_at_the_client_number_prompt(matrix, name, transport) -> None:
    keys = KEYS[name]
    call = matrix[f"keys {name} {transport}"]["balance"]

    assert call.vars["ITFLOW_BALANCE_STATUS"] == keys.status, call.log
    assert call.played == list(keys.heard)
    assert call.requests == []  # nothing a caller keys wrongly reaches ITFlow
    assert_nothing_disclosed(call)
    assert_balance_went_on(call)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wrong_client_ids_are_rate_limited_across_calls_and_restarts(matrix, transport) -> None:
    outcome = matrix[f"rate limit {transport}"]
    calls = [outcome[f"call {number + 1}"] for number in range(RATE_CALLS)]
    enter, invalid = PROMPTS.enter_client_number, PROMPTS.invalid

    assert [call.vars["ITFLOW_BALANCE_STATUS"] for call in calls] == [INVALID] * 3 + [DENIED] * 4
    assert [heard(call, transport) for call in calls] == (
        [[enter, invalid] * 3 + list(GIVE_UP)] * 3 + [[enter, invalid] + list(GIVE_UP)] + [list(GIVE_UP)] * 3)
    checked = [re.search(r"client=(\d+) ", line).group(1) for line in audit_lines(outcome, "INVALID (no such client)")]
    assert checked == [str(client) for number in range(4) for client in rate_ids(number)][:LIMIT]
    assert len(audit_lines(outcome, f"DENIED (limit of {LIMIT} failures per hour reached)")) == 1
    assert len(audit_lines(outcome, "DENIED (too many failures this hour)")) == 3
    assert all(call.requests == [] for call in calls[4:])  # once denied, ITFlow is not even asked
    for call in calls:
        assert_balance_went_on(call)
        assert_nothing_disclosed(call)
    if transport == "fastagi":
        assert len(set(outcome.notes["pids"])) == RATE_CALLS  # a new daemon process for every call


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wrong_client_ids_are_rate_limited_on_the_legacy_api_too(matrix, transport) -> None:
    outcome = matrix[f"rate limit legacy {transport}"]
    calls = [outcome[f"call {number + 1}"] for number in range(LEGACY_RATE_CALLS)]

    assert [call.vars["ITFLOW_BALANCE_STATUS"] for call in calls] == [UNAVAILABLE] * LIMIT + [DENIED]
    assert [heard(call, transport) for call in calls] == (
        [[PROMPTS.enter_client_number, PROMPTS.unavailable]] * LIMIT + [list(GIVE_UP)])
    assert calls[-1].requests == []  # once denied, ITFlow is not even asked
    for call in calls:
        assert_balance_went_on(call)
        assert_nothing_disclosed(call)
    if transport == "fastagi":
        assert len(set(outcome.notes["pids"])) == LEGACY_RATE_CALLS


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", list(BAD_NUMBERS))
def test_unusable_caller_numbers(matrix, name, transport) -> None:
    outcome = matrix[f"number {name} {transport}"]
    cid, balance = outcome["cid"], outcome["balance"]

    assert cid.vars["CALLERID_NUM"] == BAD_NUMBERS[name]
    assert cid.vars["ITFLOW_CID_STATUS"] == SKIPPED, cid.log
    assert cid.vars["CALLERID_NAME"] == TRUNK_NAME
    assert cid.requests == []
    assert_cid_went_on(cid)
    # verify = callerid: such a number can never prove it belongs to client 7 (whose phones are empty).
    assert balance.vars["ITFLOW_BALANCE_STATUS"] == INVALID, balance.log
    assert balance.played == [PROMPTS.enter_client_number, PROMPTS.not_verified] + list(GIVE_UP)
    assert_nothing_disclosed(balance)
    assert_balance_went_on(balance)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_caller_name_that_is_not_utf8(matrix, transport) -> None:
    outcome = matrix[f"raw caller name {transport}"]
    known, unknown, balance = outcome["cid known"], outcome["cid unknown"], outcome["balance"]

    assert known.vars["before_CALLERID_NAME"] == "Caf\ufffd \ufffd Line"  # the bytes reached the channel
    assert (known.vars["ITFLOW_CID_STATUS"], known.vars["CALLERID_NAME"]) == (FOUND, FOUND_NAME["v1"])
    assert unknown.vars["ITFLOW_CID_STATUS"] == NOTFOUND, unknown.log
    assert unknown.vars["CALLERID_NAME"] == unknown.vars["before_CALLERID_NAME"]  # a real name is kept as is
    assert balance.vars["ITFLOW_BALANCE_STATUS"] == OK, balance.log
    assert_heard_balance(balance, "v1")
    for call in (known, unknown):
        assert_cid_went_on(call)
    assert_balance_went_on(balance)


# --- hostile data --------------------------------------------------------------------------------


def shown_name(name: str, mode: str) -> str:
    """What the phones must show: the clean line, behind the client on the JSON API, cut to the limit."""
    shown = HOSTILE_NAMES[name][1]
    text = shown if mode == "legacy" else f"Acme Corp - {shown}"
    return text[:NAME_LENGTH].rstrip()


def json_breaks(name: str, mode: str) -> bool:
    """PHP's json_encode cannot encode invalid UTF-8: the JSON API answers an empty body."""
    return mode == "v1" and name == "invalid UTF-8"


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mode", ["v1", "legacy"])
@pytest.mark.parametrize("name", list(HOSTILE_NAMES))
def test_hostile_name_reaches_the_phone_as_one_inert_line(matrix, name, mode, transport) -> None:
    call = matrix[f"data {name} {mode} {transport}"]["cid"]

    assert_cid_went_on(call)
    assert call.vars["ITFLOW_BALANCE"] == ""  # no second command was injected
    if json_breaks(name, mode):
        assert call.vars["ITFLOW_CID_STATUS"] == ERROR, call.log
        assert call.vars["CALLERID_NAME"] == TRUNK_NAME
        assert "not JSON" in lookup_line(call)["detail"]
        return
    assert call.vars["ITFLOW_CID_STATUS"] == FOUND, call.log
    assert call.vars["CALLERID_NAME"] == shown_name(name, mode)
    if mode == "v1":  # the variables hold the whole clean line (10 kB is cut: an AGI line is finite)
        shown, contact = HOSTILE_NAMES[name][1], call.vars["ITFLOW_CONTACT_NAME"]
        assert call.vars["ITFLOW_CLIENT_NAME"] == "Acme Corp"
        if name == "10 kB":
            assert contact and shown.startswith(contact), contact
        else:
            assert contact == shown


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", list(HOSTILE_NAMES))
def test_hostile_client_name_does_not_disturb_the_balance(matrix, name, transport) -> None:
    call = matrix[f"data {name} v1 {transport}"]["balance"]

    assert_balance_went_on(call)
    if json_breaks(name, "v1"):
        assert call.vars["ITFLOW_BALANCE_STATUS"] == UNAVAILABLE, call.log
        assert_nothing_disclosed(call)
        return
    assert call.vars["ITFLOW_BALANCE_STATUS"] == OK, call.log
    assert_heard_balance(call, "v1")


# --- every output, every case ----------------------------------------------------------------------


def test_no_traceback_and_no_api_key_in_any_output(matrix) -> None:
    silent = []
    for name in matrix.names():
        try:
            log = matrix[name].bridge_log
        except Exception:
            continue
        assert MATRIX_API_KEY not in log, f"the API key leaked into the bridge log of {name}"
        assert "Traceback" not in log, f"{name}:\n{log}"
        silent += [name] if not log.strip() else []
    matrix.finish()
    for where, text in matrix.outputs().items():
        assert MATRIX_API_KEY not in text, f"the API key leaked into {where}"
        assert "Traceback" not in text, f"{where}:\n{text[-5000:]}"
    assert silent == [], "these cases left no bridge log at all (DEBUG is on: something is wrong)"


def test_no_bridge_process_outlives_the_matrix(matrix, launcher) -> None:
    matrix.finish()
    assert launcher.wait_for_bridge_processes() == []
