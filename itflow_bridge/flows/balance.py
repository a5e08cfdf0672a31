"""The balance IVR: "press 3 for your balance".

A caller keys in a client number, is verified if the admin asked for it, and
hears the balance, then goes back to the menu.  The legacy API answers 0 for a
client id that does not exist, so a legacy "0" is never spoken: the caller
hears that the balance is unavailable.  Three rules shape the code:
the caller never hears silence or a wrong amount (unknown or inexact balances
are "unavailable"); nobody can enumerate balances (failures are counted per
caller number across calls and processes, and over the limit nothing is looked
up); and every disclosure or denial leaves one audit line.

Sets ITFLOW_BALANCE_STATUS = OK | INVALID | DENIED | UNAVAILABLE | CANCELLED |
HANGUP, and on OK: ITFLOW_CLIENT_ID, ITFLOW_BALANCE (two decimals, "-" for a
credit) and ITFLOW_CURRENCY.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import AGIError, AGIHangup, BridgeError
from ..redact import redact
from ..services.balance import NO_CLIENT, OK
from ..services.numbers import candidate_numbers, lookup_number
from ..services.speech import balance_prompts, currency_words

audit = logging.getLogger("itflow_bridge.audit")
log = logging.getLogger(__name__)

OK_STATUS, INVALID, DENIED, UNAVAILABLE, CANCELLED, HANGUP = (
    "OK", "INVALID", "DENIED", "UNAVAILABLE", "CANCELLED", "HANGUP")
FAILURE_WINDOW = 3600.0
SLOW_ANSWER = 0.8  # seconds before "one moment please" is said
REPEAT_WAIT_MS = 5000
MAX_PIN_DIGITS = 12


class Cancelled(Exception):
    """The caller pressed * to go back to the menu."""


@dataclass
class Call:
    """What one balance call has done so far."""

    session: object
    caller: str  # the caller number as Asterisk gave it, or "unknown"
    failures: int = 0


def make_balance_handler(bridge) -> Callable:
    speech = bridge.speech  # validates prompt and currency settings at start-up

    def handle(session) -> None:
        run_balance(session, bridge, speech)

    return handle


def run_balance(session, bridge, speech) -> None:
    call = Call(session, session.caller_number or "unknown")
    try:
        status = _balance_call(call, bridge, speech)
    except AGIHangup:
        status = HANGUP
    except Cancelled:
        status = CANCELLED
    except AGIError as exc:  # Asterisk refused a command: end cleanly, the dialplan goes on
        log.warning("balance IVR stopped: %s", exc)
        status = UNAVAILABLE
    except Exception:  # a bug of ours: the call still ends with a status
        log.exception("balance IVR crashed")
        status = UNAVAILABLE
    try:
        session.set_variable("ITFLOW_BALANCE_STATUS", status)  # allowed on a dead channel too
    except AGIError:
        pass


def _balance_call(call: Call, bridge, speech) -> str:
    settings = bridge.config.balance
    prompts = speech.prompts
    session = call.session
    session.answer()
    if _failures_this_hour(bridge, call) >= settings.max_failures_per_hour:
        _audit(call, None, "DENIED (too many failures this hour)")
        _play(session, prompts.too_many_attempts, prompts.goodbye)
        return DENIED

    while call.failures < settings.max_attempts:
        client_id = _ask_client_number(call, settings, prompts)
        if client_id is None:
            continue
        if not _verified(call, bridge, client_id, settings, prompts):
            _fail(bridge, call, client_id, "DENIED (verification failed)")
            _play(session, prompts.not_verified)
        else:
            answer = _fetch_balance(session, bridge, client_id, prompts)
            if answer.status == OK and not answer.client_confirmed:
                # Legacy /api.php answers 0 for a client id that does not exist: saying
                # "zero" could tell a stranger that a non-existent account owes nothing.
                # It may be a wrong id, so it counts against the hourly limit.
                _fail(bridge, call, client_id, "UNAVAILABLE (legacy API: 0 is also its answer for an unknown client)")
                _play(session, prompts.unavailable)
                return UNAVAILABLE
            if answer.status == OK:
                _disclose(call, client_id, answer, speech, settings)
                return OK_STATUS
            if answer.status != NO_CLIENT:
                _audit(call, client_id, "UNAVAILABLE (%s)" % answer.reason)
                _play(session, prompts.unavailable)
                return UNAVAILABLE
            _fail(bridge, call, client_id, "INVALID (no such client)")
            _play(session, prompts.invalid)
        if _failures_this_hour(bridge, call) >= settings.max_failures_per_hour:
            _audit(call, None, "DENIED (limit of %d failures per hour reached)" % settings.max_failures_per_hour)
            _play(session, prompts.too_many_attempts, prompts.goodbye)
            return DENIED

    _audit(call, None, "INVALID (%d failed attempts)" % call.failures)
    _play(session, prompts.too_many_attempts, prompts.goodbye)
    return INVALID


def _ask_client_number(call: Call, settings, prompts) -> Optional[int]:
    """One prompt for the client number; None (and a failure counted) on bad input."""
    reply = call.session.get_data(prompts.enter_client_number, settings.digit_timeout_ms, settings.max_digits + 1)
    digits = reply.digits
    if "*" in digits:
        raise Cancelled()
    if not digits:
        call.failures += 1  # silence counts, or a silent line would loop forever
        return None
    if not digits.isdigit() or len(digits) > settings.max_digits or int(digits) == 0:
        call.failures += 1
        _play(call.session, prompts.invalid)
        return None
    return int(digits)


def _verified(call: Call, bridge, client_id: int, settings, prompts) -> bool:
    """The configured check; any doubt (ITFlow down, API cannot tell) is a no."""
    if settings.verify == "none":
        return True
    try:
        adapter = bridge.adapter()
        if settings.verify == "callerid":
            number = lookup_number(call.caller, 3)
            stored = {re.sub(r"[^0-9]", "", n) for n in adapter.client_phone_numbers(client_id)}
            return number is not None and bool(stored & set(candidate_numbers(number, bridge.config.callerid.default_region)))
        pins = [c.pin for c in adapter.client_contacts(client_id) if c.pin]
    except BridgeError as exc:
        log.warning("cannot verify caller for client %d: %s", client_id, redact(exc))
        return False
    if not pins:
        return False
    entered = call.session.get_data(prompts.enter_pin, settings.digit_timeout_ms, MAX_PIN_DIGITS).digits
    if "*" in entered:
        raise Cancelled()
    # Compare against every PIN, always, in constant time per comparison.
    matches = [hmac.compare_digest(entered.encode(), pin.encode()) for pin in pins]
    return bool(entered) and any(matches)


def _fetch_balance(session, bridge, client_id: int, prompts):
    """The balance within the budget; "one moment please" if ITFlow is slow."""
    budget = bridge.config.balance.budget_ms / 1000.0
    pending = bridge.balance.request(client_id)
    answer = pending.answer(min(SLOW_ANSWER, budget))
    if answer.timed_out and budget > SLOW_ANSWER:
        _play(session, prompts.one_moment)
        answer = pending.answer(budget - SLOW_ANSWER)  # the same request: an answer during the prompt counts
    return answer


def _disclose(call: Call, client_id: int, answer, speech, settings) -> None:
    session = call.session
    currency = answer.currency or settings.default_currency
    words = currency_words(currency, speech.currencies, settings.default_currency)
    files = balance_prompts(answer.amount, words, speech.prompts)
    session.set_variable("ITFLOW_CLIENT_ID", client_id)
    session.set_variable("ITFLOW_BALANCE", "%.2f" % answer.amount)
    session.set_variable("ITFLOW_CURRENCY", currency)
    _audit(call, client_id, "OK (balance disclosed)")
    while True:
        _play(session, *files)
        pressed = _play(session, speech.prompts.repeat_or_menu, escape="1*#")
        if pressed is None:
            pressed = session.wait_for_digit(REPEAT_WAIT_MS)
        if pressed != "1":
            return


def _play(session, *names: str, escape: str = "") -> Optional[str]:
    """Play files in order; returns the escape digit pressed, if any."""
    for name in names:
        result = session.stream_file(name, escape)
        if result.missing:
            log.error("sound file %r is missing: run `itflow-bridge install-prompts` and `itflow-bridge check`", name)
        if result.digit:
            return result.digit
    return None


def _failure_key(call: Call) -> str:
    return "balance-failures:%s" % call.caller


def _failures_this_hour(bridge, call: Call) -> int:
    return bridge.cache.count_events(_failure_key(call), FAILURE_WINDOW)


def _fail(bridge, call: Call, client_id: int, outcome: str) -> None:
    call.failures += 1
    bridge.cache.record_event(_failure_key(call))
    _audit(call, client_id, outcome)


def _audit(call: Call, client_id: Optional[int], outcome: str) -> None:
    audit.info("balance caller=%s client=%s outcome=%s", call.caller, client_id if client_id else "-", outcome)

