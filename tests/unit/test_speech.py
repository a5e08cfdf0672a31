"""Amounts of money as prompt lists: exact lists for the cases that matter, and a
round-trip property over the whole sayable range for every currency we know."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itflow_bridge.core.errors import ConfigError
from itflow_bridge.services.speech import (
    DEFAULT_CURRENCY_WORDS,
    CurrencyWords,
    PromptNames,
    amount_prompts,
    balance_prompts,
    currency_words,
    number_prompts,
    round_amount,
)
from speech_reading import prompts_to_words, words_to_amount

USD = DEFAULT_CURRENCY_WORDS["USD"]
EUR = DEFAULT_CURRENCY_WORDS["EUR"]
GBP = DEFAULT_CURRENCY_WORDS["GBP"]
D, DS, C, CS, AND = "itflow/dollar", "itflow/dollars", "itflow/cent", "itflow/cents", "vm-and"


def say(amount: str, words: CurrencyWords = USD) -> str:
    return prompts_to_words(amount_prompts(Decimal(amount), words))


# --- number_prompts ---------------------------------------------------------


@pytest.mark.parametrize(
    "n, expected",
    [
        (0, ["digits/0"]),
        (7, ["digits/7"]),
        (15, ["digits/15"]),
        (20, ["digits/20"]),
        (21, ["digits/20", "digits/1"]),
        (40, ["digits/40"]),
        (99, ["digits/90", "digits/9"]),
        (100, ["digits/1", "digits/hundred"]),
        (115, ["digits/1", "digits/hundred", "digits/15"]),
        (1700, ["digits/1", "digits/thousand", "digits/7", "digits/hundred"]),
        (2005, ["digits/2", "digits/thousand", "digits/5"]),
        (1_000_000, ["digits/1", "digits/million"]),
        (1_000_000_001, ["digits/1", "digits/billion", "digits/1"]),
        (
            999_999_999_999,
            ["digits/9", "digits/hundred", "digits/90", "digits/9", "digits/billion"]
            + ["digits/9", "digits/hundred", "digits/90", "digits/9", "digits/million"]
            + ["digits/9", "digits/hundred", "digits/90", "digits/9", "digits/thousand"]
            + ["digits/9", "digits/hundred", "digits/90", "digits/9"],
        ),
    ],
)
def test_number_prompts_say_english_numbers_like_say_c(n, expected):
    assert number_prompts(n) == expected


def test_number_prompts_words():
    assert prompts_to_words(number_prompts(12_345_678)) == (
        "twelve million three hundred forty five thousand six hundred seventy eight"
    )


@pytest.mark.parametrize("n", [-1, 10**12])
def test_number_prompts_refuse_what_cannot_be_said(n):
    with pytest.raises(ValueError):
        number_prompts(n)


def test_number_prompts_refuse_non_integers():
    with pytest.raises(TypeError):
        number_prompts(1.5)


# --- amount_prompts: the listed cases ----------------------------------------


@pytest.mark.parametrize(
    "amount, words, expected",
    [
        ("0", USD, ["digits/0", DS]),
        ("0.05", USD, ["digits/5", CS]),
        ("0.01", USD, ["digits/1", C]),
        ("1.00", USD, ["digits/1", D]),
        ("1.01", USD, ["digits/1", D, AND, "digits/1", C]),
        ("12.50", USD, ["digits/12", DS, AND, "digits/50", CS]),
        ("1700", USD, ["digits/1", "digits/thousand", "digits/7", "digits/hundred", DS]),
        (
            "1150.75",
            EUR,
            ["digits/1", "digits/thousand", "digits/1", "digits/hundred", "digits/50", "itflow/euros",
             AND, "digits/70", "digits/5", "itflow/cents"],
        ),
        ("1000000.01", USD, ["digits/1", "digits/million", DS, AND, "digits/1", C]),
        ("1", GBP, ["digits/1", "itflow/pound"]),
        ("2.01", GBP, ["digits/2", "itflow/pounds", AND, "digits/1", "itflow/penny"]),
        ("0.02", GBP, ["digits/2", "itflow/pence"]),
    ],
)
def test_amount_prompts_exact(amount, words, expected):
    assert amount_prompts(Decimal(amount), words) == expected


def test_amount_prompts_read_like_a_person():
    assert say("12.50") == "twelve dollars and fifty cents"
    assert say("1150.75", EUR) == "one thousand one hundred fifty euros and seventy five cents"
    assert say("0") == "zero dollars"
    assert say("12.50", DEFAULT_CURRENCY_WORDS["ZAR"]) == "twelve rand and fifty cents"


def test_one_point_five_is_fifty_cents_not_five():
    # SayMoney's %d.%02u bug: "1.5" -> "1 dollar 5 cents".
    assert say("1.5") == "one dollar and fifty cents"


@pytest.mark.parametrize(
    "amount, heard",
    [
        ("0.005", "one cent"),
        ("0.004", "zero dollars"),
        ("12.345", "twelve dollars and thirty five cents"),
        ("12.3449999", "twelve dollars and thirty four cents"),
        ("0.995", "one dollar"),
        ("-0.004", "zero dollars"),  # rounds to zero: no "credit of zero"
        ("-0.005", "a credit of one cent"),  # ties go away from zero on both sides
        ("-12.345", "a credit of twelve dollars and thirty five cents"),
    ],
)
def test_rounding_is_half_up_to_the_minor_unit(amount, heard):
    assert say(amount) == heard


def test_round_amount_normalises_negative_zero():
    rounded = round_amount(Decimal("-0.001"), USD)
    assert rounded == 0 and not rounded.is_signed()
    assert str(rounded) == "0.00"


def test_negative_amount_starts_with_the_credit_marker():
    assert amount_prompts(Decimal("-25.5"), USD) == [
        "itflow/credit-of", "digits/20", "digits/5", DS, AND, "digits/50", CS,
    ]


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "1000000000000", "-1000000000000",
                                    "999999999999.995"])
def test_unsayable_amounts_raise_value_error(amount):
    with pytest.raises(ValueError):
        amount_prompts(Decimal(amount), USD)


def test_largest_sayable_amount():
    assert words_to_amount(amount_prompts(Decimal("999999999999.99"), USD), USD) == Decimal("999999999999.99")


# --- balance_prompts ---------------------------------------------------------


def test_balance_prompts_positive_and_zero():
    assert balance_prompts(Decimal("1700"), USD) == ["itflow/your-balance-is"] + amount_prompts(Decimal("1700"), USD)
    assert prompts_to_words(balance_prompts(Decimal("0"), USD)) == "Your balance is zero dollars"


def test_balance_prompts_credit_says_the_absolute_amount():
    assert prompts_to_words(balance_prompts(Decimal("-25.5"), USD)) == (
        "You have a credit of twenty five dollars and fifty cents"
    )


def test_balance_prompts_tiny_negative_is_a_zero_balance():
    assert balance_prompts(Decimal("-0.001"), USD) == ["itflow/your-balance-is", "digits/0", DS]


def test_balance_prompts_use_configured_names():
    names = PromptNames(your_balance_is="custom/balance", credit_of="custom/credit", and_="custom/and")
    assert balance_prompts(Decimal("1.50"), USD, names) == [
        "custom/balance", "digits/1", D, "custom/and", "digits/50", CS,
    ]
    assert balance_prompts(Decimal("-2"), USD, names) == ["custom/credit", "digits/2", DS]
    assert prompts_to_words(["custom/balance", "digits/2", DS]) == "[custom/balance] two dollars"


# --- currency_words ----------------------------------------------------------


@pytest.mark.parametrize("code", ["USD", "usd", " Usd ", "CAD", "AUD", "NZD"])
def test_dollar_currencies(code):
    assert currency_words(code) == CurrencyWords("itflow/dollar", "itflow/dollars", "itflow/cent", "itflow/cents")


def test_known_currencies_have_their_own_words():
    assert currency_words("EUR").major_many == "itflow/euros"
    assert currency_words("gbp").minor_many == "itflow/pence"
    assert currency_words("MXN").minor_one == "itflow/centavo"


@pytest.mark.parametrize("code", [None, "", "   "])
def test_no_code_means_the_default(code):
    assert currency_words(code) == USD
    assert currency_words(code, default="eur") == EUR


def test_unknown_currency_is_a_decimal_number_then_the_code_spelled():
    xyz = currency_words("xyz")
    assert not xyz.has_units
    assert amount_prompts(Decimal("12.50"), xyz) == [
        "digits/12", "itflow/point", "digits/5", "letters/x", "letters/y", "letters/z",
    ]
    assert prompts_to_words(amount_prompts(Decimal("12.05"), xyz)) == "twelve point zero five X Y Z"
    assert prompts_to_words(amount_prompts(Decimal("12"), xyz)) == "twelve X Y Z"
    assert prompts_to_words(amount_prompts(Decimal("-0.5"), xyz)) == "a credit of zero point five X Y Z"


def test_unknown_default_is_spelled_too():
    assert currency_words(None, default="CHF").spelled_code == ("letters/c", "letters/h", "letters/f")


def test_only_letters_of_an_odd_code_are_said():
    assert currency_words("U$D").spelled_code == ("letters/u", "letters/d")
    assert amount_prompts(Decimal("3"), currency_words("€")) == ["digits/3"]


def test_overrides_win_and_add_currencies():
    yen = CurrencyWords("custom/yen", "custom/yen", "custom/sen", "custom/sen", minor_digits=0)
    bucks = CurrencyWords("custom/buck", "custom/bucks", "custom/cent", "custom/cents")
    overrides = {"jpy": yen, "USD": bucks}
    assert currency_words("JPY", overrides) == yen
    assert currency_words("usd", overrides) == bucks
    assert currency_words("EUR", overrides) == EUR
    assert currency_words(None, overrides) == bucks
    assert amount_prompts(Decimal("1234.5"), yen) == [
        "digits/1", "digits/thousand", "digits/2", "digits/hundred", "digits/30", "digits/5", "custom/yen",
    ]


def test_three_minor_digits():
    dinar = CurrencyWords("custom/dinar", "custom/dinars", "custom/fils", "custom/fils", minor_digits=3)
    assert amount_prompts(Decimal("1.0055"), dinar) == [
        "digits/1", "custom/dinar", AND, "digits/6", "custom/fils",
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"major_one": "a", "major_many": "b", "minor_one": "", "minor_many": "d"},
        {"major_one": "a", "major_many": "b", "minor_one": "c", "minor_many": "d", "spelled_code": ("letters/a",)},
        {"major_one": "a", "major_many": "b", "minor_one": "c", "minor_many": "d", "minor_digits": 5},
        {"major_one": "a", "major_many": "b", "minor_one": "c", "minor_many": "d", "minor_digits": -1},
    ],
)
def test_inconsistent_currency_words_are_refused(kwargs):
    with pytest.raises(ValueError):
        CurrencyWords(**kwargs)


# --- PromptNames -------------------------------------------------------------


def test_prompt_names_lists_every_field():
    names = PromptNames(goodbye="custom/bye")
    listed = names.all_names()
    assert "custom/bye" in listed and "vm-goodbye" not in listed
    assert "itflow/enter-client-number" in listed and "itflow/you-have-a-credit-of" in listed
    assert len(listed) == len(PromptNames.__dataclass_fields__)


def test_prompt_names_refuse_empty_names():
    with pytest.raises(ConfigError, match="enter_pin"):
        PromptNames(enter_pin=" ")


# --- words_to_amount: strict inverse ------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        [],
        ["digits/1", DS],  # "one dollars"
        ["digits/2", D],  # "two dollar"
        ["digits/0", CS],  # "zero cents"
        ["digits/0", DS, AND, "digits/5", CS],
        ["digits/1", "digits/hundred", CS],  # a hundred cents is a dollar
        ["digits/10", "digits/5", DS],  # "ten five" is not a number
        ["digits/1", DS, "digits/50", CS],  # "and" missing
        ["digits/1", D, AND],
        ["digits/1", D, "vm-goodbye"],
        ["itflow/credit-of", "digits/0", DS],
        ["digits/minus", "digits/1", D],
    ],
)
def test_words_to_amount_rejects_what_amount_prompts_never_says(files):
    with pytest.raises(ValueError):
        words_to_amount(files, USD)


@pytest.mark.parametrize(
    "files",
    [
        ["digits/1", "itflow/point", "digits/5", "digits/0", "letters/x", "letters/y", "letters/z"],
        ["digits/1", "itflow/point", "letters/x", "letters/y", "letters/z"],
        ["digits/1", "itflow/point", "digits/1", "digits/2", "digits/3", "letters/x", "letters/y", "letters/z"],
        ["digits/1", "letters/x", "letters/y"],
    ],
)
def test_words_to_amount_rejects_bad_decimals(files):
    with pytest.raises(ValueError):
        words_to_amount(files, currency_words("XYZ"))


# --- the property: what we say is what the amount is --------------------------

two_decimal_amounts = st.decimals(
    min_value=Decimal("-1000000000"), max_value=Decimal("1000000000"), places=2,
    allow_nan=False, allow_infinity=False,
)
sayable_currencies = st.sampled_from(sorted(DEFAULT_CURRENCY_WORDS) + ["XYZ"])


@given(amount=two_decimal_amounts, code=sayable_currencies)
def test_saying_then_hearing_gives_back_the_amount(amount, code):
    words = currency_words(code)
    files = amount_prompts(amount, words)
    assert words_to_amount(files, words) == amount
    assert "[" not in prompts_to_words(files)  # every file played has a known text


@given(amount=two_decimal_amounts, code=sayable_currencies)
def test_balance_is_the_intro_then_the_absolute_amount(amount, code):
    words = currency_words(code)
    intro, *rest = balance_prompts(amount, words)
    assert intro == ("itflow/you-have-a-credit-of" if amount < 0 else "itflow/your-balance-is")
    assert words_to_amount(rest, words) == abs(amount)


@given(amount=st.decimals(min_value=Decimal("-999999999999.994"), max_value=Decimal("999999999999.994"),
                          places=6, allow_nan=False, allow_infinity=False))
def test_any_precision_is_heard_rounded_half_up(amount):
    expected = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert words_to_amount(amount_prompts(amount, USD), USD) == expected
