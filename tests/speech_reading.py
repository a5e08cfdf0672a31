"""What a caller heard, read back from the prompt files the balance IVR played.

The product only says amounts (``services/speech.py``); tests need the inverse
to check what was said: the words of a list of files, and the amount they say.
The reader is strict, so it also proves the files are exactly what
``amount_prompts`` produces: anything else raises ValueError.
"""

from __future__ import annotations

from decimal import Decimal
from typing import List, Optional, Sequence, Tuple

from itflow_bridge.prompts import prompt_text
from itflow_bridge.services.speech import (
    DEFAULT_PROMPTS, CurrencyWords, PromptNames, currency_words, number_prompts,
)

NUMBER_PREFIX = "digits/"
SCALE_VALUES = {"thousand": 10**3, "million": 10**6, "billion": 10**9}


def prompts_to_words(files: Sequence[str]) -> str:
    """The text a caller hears for ``files``; a prompt with no known text shows as ``[name]``."""
    return " ".join(_spoken_text(name) for name in files)


def words_to_amount(files: Sequence[str], words: CurrencyWords, prompts: PromptNames = DEFAULT_PROMPTS) -> Decimal:
    """The amount that ``amount_prompts`` said with ``files``.

    Strict: anything ``amount_prompts`` would not have produced raises ValueError
    (a misplaced "and", "one dollars", "zero cents", leftovers, ...).
    """
    reader = _PromptReader(files)
    negative = reader.take(prompts.a_credit_of)
    if words.has_units:
        major, minor = _read_unit_amount(reader, words, prompts)
    else:
        major, minor = _read_decimal_amount(reader, words, prompts)
    reader.expect_end()
    amount = Decimal(major) + Decimal(minor).scaleb(-words.minor_digits)
    if negative and not amount:
        raise ValueError("a credit of zero is never said")
    return -amount if negative else amount


def spoken_amount(played: Sequence[str], currency: str = "USD") -> Decimal:
    """The balance a caller heard: the files between the intro and the repeat menu.

    "Your balance is ..." says the amount; "You have a credit of ..." says it negative.
    """
    intros = (DEFAULT_PROMPTS.your_balance_is, DEFAULT_PROMPTS.credit_of)
    start = next(index for index, name in enumerate(played) if name in intros)
    end = list(played).index(DEFAULT_PROMPTS.repeat_or_menu)
    amount = words_to_amount(played[start + 1:end], currency_words(currency))
    return -amount if played[start] == DEFAULT_PROMPTS.credit_of else amount


def _spoken_text(name: str) -> str:
    text = prompt_text(name)
    return "[%s]" % name if text is None else text


class _PromptReader:
    """Walks a prompt list front to back; every complaint names the position."""

    def __init__(self, files: Sequence[str]) -> None:
        self._files = list(files)
        self._at = 0

    def peek(self) -> Optional[str]:
        return self._files[self._at] if self._at < len(self._files) else None

    def take(self, name: str) -> bool:
        """Consume ``name`` if it comes next."""
        if self.peek() != name:
            return False
        self._at += 1
        return True

    def expect(self, name: str) -> None:
        if not self.take(name):
            raise ValueError("expected %r at position %d, got %r" % (name, self._at, self.peek()))

    def expect_end(self) -> None:
        if self.peek() is not None:
            raise ValueError("unexpected %r at position %d" % (self.peek(), self._at))

    def number(self) -> int:
        """Consume a run of ``digits/*`` prompts that ``number_prompts`` would say."""
        start = self._at
        while (self.peek() or "").startswith(NUMBER_PREFIX):
            self._at += 1
        run = self._files[start:self._at]
        value = _number_value(run, start)
        if number_prompts(value) != run:
            raise ValueError("%s at position %d is not how %d is said" % (run, start, value))
        return value

    def digit(self) -> Optional[int]:
        """Consume one ``digits/0`` .. ``digits/9`` prompt if it comes next."""
        name = self.peek() or ""
        word = name[len(NUMBER_PREFIX):]
        if not (name.startswith(NUMBER_PREFIX) and len(word) == 1 and word.isdigit()):
            return None
        self._at += 1
        return int(word)


def _number_value(run: List[str], start: int) -> int:
    if not run:
        raise ValueError("expected a number at position %d" % start)
    total = group = 0
    for name in run:
        word = name[len(NUMBER_PREFIX):]
        if word == "hundred":
            group *= 100
        elif word in SCALE_VALUES:
            total, group = total + group * SCALE_VALUES[word], 0
        elif word.isdigit():
            group += int(word)
        else:
            raise ValueError("%r is not part of a number" % name)
    return total + group


def _unit_word(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _read_unit_amount(reader: _PromptReader, words: CurrencyWords, prompts: PromptNames) -> Tuple[int, int]:
    count = reader.number()
    if count and reader.peek() in (words.minor_one, words.minor_many):
        reader.expect(_unit_word(count, words.minor_one, words.minor_many))
        return 0, _checked_minor(count, words)
    reader.expect(_unit_word(count, words.major_one, words.major_many))
    if not count or not reader.take(prompts.and_):
        return count, 0
    minor = reader.number()
    reader.expect(_unit_word(minor, words.minor_one, words.minor_many))
    return count, _checked_minor(minor, words)


def _checked_minor(minor: int, words: CurrencyWords) -> int:
    if not 0 < minor < 10**words.minor_digits:
        raise ValueError("%d is not a number of minor units" % minor)
    return minor


def _read_decimal_amount(reader: _PromptReader, words: CurrencyWords, prompts: PromptNames) -> Tuple[int, int]:
    major = reader.number()
    fraction = ""
    if reader.take(prompts.point):
        digit = reader.digit()
        while digit is not None:
            fraction += str(digit)
            digit = reader.digit()
        if not fraction or fraction.endswith("0") or len(fraction) > words.minor_digits:
            raise ValueError("'point %s' is not how a fraction is said" % fraction)
    for letter in words.spelled_code:
        reader.expect(letter)
    return major, int(fraction.ljust(words.minor_digits, "0") or "0")
