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

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Optional

from ..agi.session import AGISession
from ..core.config import BalanceSettings
from ..core.errors import AGIError, AGIHangup
from ..services.balance import BalanceAnswer, BalanceService
from ..services.speech import SpeechSettings, balance_prompts, currency_words
from ..services.verification import CallerVerification
from ..core.statuses import BalanceOutcome, BalanceStatus

audit = logging.getLogger("itflow_bridge.audit")
log = logging.getLogger(__name__)

SLOW_ANSWER = 0.8  # seconds before "one moment please" is said
REPEAT_WAIT_MS = 5000
MAX_PIN_DIGITS = 12


class Cancelled(Exception):
    """The caller pressed * to go back to the menu."""


@dataclass
class Call:
    """What one balance call has done so far, and the services it uses."""

    session: AGISession
    caller: str  # the caller number as Asterisk gave it, or "unknown"
    balance: BalanceService
    verification: CallerVerification
    speech: SpeechSettings
    settings: BalanceSettings
    failures: int = 0


def make_balance_handler(balance: BalanceService, verification: CallerVerification, speech: SpeechSettings,
                         settings: BalanceSettings) -> Callable[[AGISession], None]:
    def handle(session: AGISession) -> None:
        run_balance(Call(session, session.caller_number or "unknown", balance, verification, speech, settings))

    return handle


def run_balance(call: Call) -> None:
    session = call.session
    try:
        status = _balance_call(call)
    except AGIHangup:
        status = BalanceStatus.HANGUP
    except Cancelled:
        status = BalanceStatus.CANCELLED
    except AGIError as exc:  # Asterisk refused a command: end cleanly, the dialplan goes on
        log.warning("balance IVR stopped: %s", exc)
        status = BalanceStatus.UNAVAILABLE
    except Exception:  # a bug of ours: the call still ends with a status
        log.exception("balance IVR crashed")
        status = BalanceStatus.UNAVAILABLE
    try:
        session.set_variable("ITFLOW_BALANCE_STATUS", status.value)  # allowed on a dead channel too
    except AGIError:
        pass


def _balance_call(call: Call) -> BalanceStatus:
    settings = call.settings
    prompts = call.speech.prompts
    session = call.session
    verification = call.verification
    session.answer()
    if verification.locked_out(call.caller):
        _audit(call, None, "DENIED (too many failures this hour)")
        _play(session, prompts.too_many_attempts, prompts.goodbye)
        return BalanceStatus.DENIED

    while call.failures < settings.max_attempts:
        client_id = _ask_client_number(call)
        if client_id is None:
            continue
        if not _verified(call, client_id):
            _fail(call, client_id, "DENIED (verification failed)")
            _play(session, prompts.not_verified)
        else:
            answer = _fetch_balance(call, client_id)
            if answer.status == BalanceOutcome.OK and not answer.client_confirmed:
                # Legacy /api.php answers 0 for a client id that does not exist: saying
                # "zero" could tell a stranger that a non-existent account owes nothing.
                # It may be a wrong id, so it counts against the hourly limit.
                _fail(call, client_id, "UNAVAILABLE (this API also answers 0 for an unknown client)")
                _play(session, prompts.unavailable)
                return BalanceStatus.UNAVAILABLE
            if answer.status == BalanceOutcome.OK and answer.amount is not None:
                _disclose(call, client_id, answer)
                return BalanceStatus.OK
            if answer.status != BalanceOutcome.NO_CLIENT:
                _audit(call, client_id, "UNAVAILABLE (%s)" % answer.reason)
                _play(session, prompts.unavailable)
                return BalanceStatus.UNAVAILABLE
            _fail(call, client_id, "INVALID (no such client)")
            _play(session, prompts.invalid)
        if verification.locked_out(call.caller):
            _audit(call, None, "DENIED (limit of %d failures per hour reached)" % settings.max_failures_per_hour)
            _play(session, prompts.too_many_attempts, prompts.goodbye)
            return BalanceStatus.DENIED

    _audit(call, None, "INVALID (%d failed attempts)" % call.failures)
    _play(session, prompts.too_many_attempts, prompts.goodbye)
    return BalanceStatus.INVALID


def _ask_client_number(call: Call) -> Optional[int]:
    """One prompt for the client number; None (and a failure counted) on bad input."""
    settings, prompts = call.settings, call.speech.prompts
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


def _verified(call: Call, client_id: int) -> bool:
    """The configured check, decided by the verification service; any doubt is a no."""
    verification = call.verification
    if verification.method == "none":
        return True
    if verification.method == "callerid":
        return verification.caller_matches(call.caller, client_id)
    challenge = verification.pin_challenge(client_id)
    if challenge is None:
        return False
    entered = call.session.get_data(call.speech.prompts.enter_pin, call.settings.digit_timeout_ms,
                                    MAX_PIN_DIGITS).digits
    if "*" in entered:
        raise Cancelled()
    return challenge.check(entered)


def _fetch_balance(call: Call, client_id: int) -> BalanceAnswer:
    """The balance within the budget; "one moment please" if ITFlow is slow."""
    budget = call.settings.budget_ms / 1000.0
    pending = call.balance.request(client_id)
    answer = pending.answer(min(SLOW_ANSWER, budget))
    if answer.timed_out and budget > SLOW_ANSWER:
        _play(call.session, call.speech.prompts.one_moment)
        answer = pending.answer(budget - SLOW_ANSWER)  # the same request: an answer during the prompt counts
    return answer


def _disclose(call: Call, client_id: int, answer: BalanceAnswer) -> None:
    session, speech, settings = call.session, call.speech, call.settings
    amount: Decimal = answer.amount if answer.amount is not None else Decimal(0)
    currency = answer.currency or settings.default_currency
    words = currency_words(currency, speech.currencies, settings.default_currency)
    files = balance_prompts(amount, words, speech.prompts)
    session.set_variable("ITFLOW_CLIENT_ID", client_id)
    session.set_variable("ITFLOW_BALANCE", "%.2f" % amount)
    session.set_variable("ITFLOW_CURRENCY", currency)
    _audit(call, client_id, "OK (balance disclosed)")
    while True:
        _play(session, *files)
        pressed = _play(session, speech.prompts.repeat_or_menu, escape="1*#")
        if pressed is None:
            pressed = session.wait_for_digit(REPEAT_WAIT_MS)
        if pressed != "1":
            return


def _play(session: AGISession, *names: str, escape: str = "") -> Optional[str]:
    """Play files in order; returns the escape digit pressed, if any."""
    for name in names:
        result = session.stream_file(name, escape)
        if result.missing:
            log.error("sound file %r is missing: run `itflow-bridge install-prompts` and `itflow-bridge check`", name)
        if result.digit:
            return result.digit
    return None


def _fail(call: Call, client_id: int, outcome: str) -> None:
    call.failures += 1
    call.verification.record_failure(call.caller)
    _audit(call, client_id, outcome)


def _audit(call: Call, client_id: Optional[int], outcome: str) -> None:
    audit.info("balance caller=%s client=%s outcome=%s", call.caller, client_id if client_id else "-", outcome)

