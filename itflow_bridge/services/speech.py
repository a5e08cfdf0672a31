"""Amounts of money as the list of prompt files the AGI plays one by one.

Asterisk's SayMoney is not good enough for a balance line: it is English/USD only,
reads ``1.5`` as "one dollar five cents", is silent or wrong on negative amounts, and
plays files (``dollars``, ``and``, ``cents``) the core sounds do not ship. Building the
list here lets us round correctly, name the client's currency, say credits, and play
only files that exist: stock ``digits/*``, ``letters/*`` and ``vm-and``, and our own
``itflow/*`` words (see ``itflow_bridge.prompts``).

Numbers are said the way Asterisk's say.c says English ones: no "and" inside a number
("one hundred fifteen"); "and" only joins the major and the minor unit.

A currency we have no words for is never guessed at: the amount is said as a plain
decimal number, then the currency code letter by letter ("twelve point five X Y Z").

Everything here is pure: amounts and names in, names out.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from string import ascii_uppercase
from types import MappingProxyType
from typing import Mapping, Optional

from itflow_bridge.core.errors import ConfigError

SAYABLE_LIMIT = 10**12  # number_prompts says 0 .. 999 999 999 999
MAX_MINOR_DIGITS = 4

_SCALES = ((10**9, "digits/billion"), (10**6, "digits/million"), (10**3, "digits/thousand"))
_LARGEST_SINGLE_PROMPT = 20  # digits/0 .. digits/20 exist; above that tens + units


@dataclass(frozen=True)
class CurrencyWords:
    """Prompt names for one currency's units: dollar/dollars, cent/cents.

    With all four unit names empty the currency has no words of its own: the amount is
    said as a decimal number followed by ``spelled_code`` (e.g. ``letters/x``, ...).
    """

    major_one: str
    major_many: str
    minor_one: str
    minor_many: str
    minor_digits: int = 2
    spelled_code: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        units = (self.major_one, self.major_many, self.minor_one, self.minor_many)
        if any(units) and not all(units):
            raise ValueError("CurrencyWords needs all four unit prompts, or none")
        if any(units) and self.spelled_code:
            raise ValueError("spelled_code is only for a currency without unit prompts")
        if not 0 <= self.minor_digits <= MAX_MINOR_DIGITS:
            raise ValueError(f"minor_digits must be 0..{MAX_MINOR_DIGITS}, not {self.minor_digits}")

    @property
    def has_units(self) -> bool:
        return bool(self.major_many)


@dataclass(frozen=True)
class PromptNames:
    """Every prompt the balance IVR plays besides digits, letters and currency words.

    Each is configurable: an admin may point one at a FreePBX recording (``custom/NAME``).
    """

    enter_client_number: str = "itflow/enter-client-number"
    enter_pin: str = "itflow/enter-pin"
    invalid: str = "privacy-incorrect"  # stock "invalid" speaks of an extension
    too_many_attempts: str = "itflow/too-many-attempts"
    one_moment: str = "one-moment-please"
    your_balance_is: str = "itflow/your-balance-is"
    credit_of: str = "itflow/you-have-a-credit-of"
    a_credit_of: str = "itflow/credit-of"  # marks a negative amount said on its own
    and_: str = "vm-and"
    point: str = "itflow/point"  # decimal point, for currencies without words
    unavailable: str = "itflow/balance-unavailable"
    not_verified: str = "itflow/not-verified"
    repeat_or_menu: str = "itflow/repeat-or-menu"
    goodbye: str = "vm-goodbye"

    def __post_init__(self) -> None:
        for field in fields(self):
            if not getattr(self, field.name).strip():
                raise ConfigError(f"prompt {field.name}: the prompt name is empty")

    def all_names(self) -> list[str]:
        return [getattr(self, field.name) for field in fields(self)]


DEFAULT_PROMPTS = PromptNames()

_DOLLARS = CurrencyWords("itflow/dollar", "itflow/dollars", "itflow/cent", "itflow/cents")
DEFAULT_CURRENCY_WORDS: Mapping[str, CurrencyWords] = MappingProxyType({
    "USD": _DOLLARS,
    "CAD": _DOLLARS,
    "AUD": _DOLLARS,
    "NZD": _DOLLARS,
    "EUR": CurrencyWords("itflow/euro", "itflow/euros", "itflow/cent", "itflow/cents"),
    "GBP": CurrencyWords("itflow/pound", "itflow/pounds", "itflow/penny", "itflow/pence"),
    "MXN": CurrencyWords("itflow/peso", "itflow/pesos", "itflow/centavo", "itflow/centavos"),
    "ZAR": CurrencyWords("itflow/rand", "itflow/rand", "itflow/cent", "itflow/cents"),
})


def currency_words(
    code: Optional[str],
    overrides: Optional[Mapping[str, CurrencyWords]] = None,
    default: str = "USD",
) -> CurrencyWords:
    """The words for currency ``code`` (ITFlow's ``client_currency_code``), any case.

    ``overrides`` (keys in any case) win over ``DEFAULT_CURRENCY_WORDS``; no code means
    ``default``. An unknown code gets the decimal-number style with the code's letters
    spelled out (characters other than A-Z are not said).
    """
    known = {**DEFAULT_CURRENCY_WORDS, **{_normalise_code(key): words for key, words in (overrides or {}).items()}}
    wanted = _normalise_code(code) or _normalise_code(default)
    if wanted in known:
        return known[wanted]
    letters = tuple(f"letters/{char.lower()}" for char in wanted if char in ascii_uppercase)
    return CurrencyWords("", "", "", "", spelled_code=letters)


def number_prompts(n: int) -> list[str]:
    """English words for 0 <= n < 10**12 as stock ``digits/*`` prompts.

    ``1700 -> digits/1 thousand 7 hundred``; ``115 -> digits/1 hundred 15``.
    """
    if not isinstance(n, int):
        raise TypeError(f"number_prompts takes an int, not {type(n).__name__}")
    if not 0 <= n < SAYABLE_LIMIT:
        raise ValueError(f"cannot say {n}: only 0 <= n < 10**12")
    if n == 0:
        return ["digits/0"]
    prompts: list[str] = []
    for scale, scale_prompt in _SCALES:
        count, n = divmod(n, scale)
        if count:
            prompts += _below_thousand(count) + [scale_prompt]
    return prompts + _below_thousand(n)


def round_amount(amount: Decimal, words: CurrencyWords) -> Decimal:
    """``amount`` rounded half-up (ties away from zero) to the minor unit; -0 becomes 0."""
    if not amount.is_finite():
        raise ValueError(f"cannot say the amount {amount}")
    if abs(amount) >= SAYABLE_LIMIT:
        raise ValueError("cannot say an amount of 10**12 or more")
    rounded = amount.quantize(Decimal(1).scaleb(-words.minor_digits), rounding=ROUND_HALF_UP)
    return rounded if rounded else abs(rounded)


def amount_prompts(amount: Decimal, words: CurrencyWords, prompts: PromptNames = DEFAULT_PROMPTS) -> list[str]:
    """What to play to say ``amount``; never empty.

    ``12.50 -> twelve dollars and fifty cents``, ``0 -> zero dollars``,
    ``-3 -> a credit of three dollars``. Raises ValueError for amounts of 10**12 or more.
    """
    rounded = round_amount(amount, words)
    credit = [prompts.a_credit_of] if rounded < 0 else []
    major, minor = _split(abs(rounded), words.minor_digits)
    if words.has_units:
        return credit + _unit_prompts(major, minor, words, prompts)
    return credit + _decimal_prompts(major, minor, words, prompts)


def balance_prompts(amount: Decimal, words: CurrencyWords, prompts: PromptNames = DEFAULT_PROMPTS) -> list[str]:
    """"Your balance is ..." or, when the client is in credit, "You have a credit of ..."."""
    rounded = round_amount(amount, words)
    if rounded < 0:
        return [prompts.credit_of] + amount_prompts(-rounded, words, prompts)
    return [prompts.your_balance_is] + amount_prompts(rounded, words, prompts)


# --- saying -----------------------------------------------------------------


def _below_thousand(n: int) -> list[str]:
    """Prompts for 0 <= n < 1000; nothing for 0 (only a whole number of zero is said)."""
    hundreds, rest = divmod(n, 100)
    prompts = [f"digits/{hundreds}", "digits/hundred"] if hundreds else []
    if rest > _LARGEST_SINGLE_PROMPT:
        tens, ones = divmod(rest, 10)
        prompts.append(f"digits/{tens * 10}")
        if ones:
            prompts.append(f"digits/{ones}")
    elif rest:
        prompts.append(f"digits/{rest}")
    return prompts


def _split(value: Decimal, minor_digits: int) -> tuple[int, int]:
    """A non-negative amount already rounded to ``minor_digits`` -> (major, minor) units."""
    major = int(value)
    return major, int((value - major).scaleb(minor_digits))


def _unit_word(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _unit_prompts(major: int, minor: int, words: CurrencyWords, prompts: PromptNames) -> list[str]:
    if not major and not minor:
        return number_prompts(0) + [words.major_many]
    said: list[str] = []
    if major:
        said += number_prompts(major) + [_unit_word(major, words.major_one, words.major_many)]
    if major and minor:
        said.append(prompts.and_)
    if minor:
        said += number_prompts(minor) + [_unit_word(minor, words.minor_one, words.minor_many)]
    return said


def _decimal_prompts(major: int, minor: int, words: CurrencyWords, prompts: PromptNames) -> list[str]:
    said = number_prompts(major)
    if minor:
        fraction = str(minor).zfill(words.minor_digits).rstrip("0")
        said += [prompts.point] + [f"digits/{digit}" for digit in fraction]
    return said + list(words.spelled_code)


def _normalise_code(code: Optional[str]) -> str:
    return (code or "").strip().upper()


@dataclass(frozen=True)
class SpeechSettings:
    """The admin's prompt names and currency words, validated once at start-up."""

    prompts: PromptNames
    currencies: Mapping[str, CurrencyWords]


def speech_settings(prompt_names: Mapping[str, str], currencies: Mapping[str, str]) -> SpeechSettings:
    """Build from the ``[prompts]`` and ``[currencies]`` config sections; ``ConfigError`` if invalid."""
    known = [field.name for field in fields(PromptNames)]
    for name in prompt_names:
        if name not in known:
            raise ConfigError("[prompts] has no prompt %r; known: %s" % (name, ", ".join(known)))
    words = {}
    for code, value in currencies.items():
        parts = [part.strip() for part in value.split(",")]
        if not _normalise_code(code) or len(parts) != 4 or not all(parts):
            raise ConfigError(
                "[currencies] %s = %r is invalid: use a 3-letter code = major_one, major_many, minor_one, "
                "minor_many (sound names, e.g. custom/franc, custom/francs, custom/centime, custom/centimes)"
                % (code, value)
            )
        words[_normalise_code(code)] = CurrencyWords(parts[0], parts[1], parts[2], parts[3])
    return SpeechSettings(PromptNames(**dict(prompt_names)), MappingProxyType(words))
