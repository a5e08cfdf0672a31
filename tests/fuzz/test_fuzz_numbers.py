"""Property tests of the caller-number normaliser.

Whatever a trunk puts in the caller ID, the bridge must either skip it or ask
ITFlow for plain digit strings that the legacy API cannot misread (not empty,
not zero, at most 18 digits: see itflow-api-facts.md).  Neither function may
raise: a caller-ID lookup runs before the phones ring.
"""

from __future__ import annotations

import re
import string

from hypothesis import given
from hypothesis import strategies as st

from itflow_bridge.core.constants import MAX_DIGITS
from itflow_bridge.services.numbers import candidate_numbers, lookup_number

ASCII_DIGITS = re.compile(r"[0-9]+")

# Caller IDs as trunks send them, garbage included.
caller_ids = st.one_of(
    st.none(),
    st.text(),
    st.text(alphabet=st.sampled_from(list(string.digits + " +-()./")), max_size=30),
    st.from_regex(r"\A\+?[0-9]{1,22}\Z"),
    st.sampled_from(["anonymous", "Unknown", "PRIVATE", "s", "0000000", "+0", "١٢٣٤٥٦٧", "5551234567\n"]),
)
regions = st.one_of(st.sampled_from(["US", "GB", "DE", "FR", "AU", "IN", "BR", "RU", "HU", "ZZ"]),
                    st.from_regex(r"\A[A-Z]{2}\Z"))


def _digits_of(raw: str) -> str:
    return re.sub(r"[^0-9]", "", raw)


@given(raw=caller_ids, min_digits=st.integers(1, 20))
def test_a_caller_id_is_skipped_or_cleaned_to_digits(raw, min_digits):
    number = lookup_number(raw, min_digits)
    if number is None:
        return
    digits = number[1:] if number.startswith("+") else number
    assert ASCII_DIGITS.fullmatch(digits)
    assert min_digits <= len(digits) <= MAX_DIGITS and int(digits) != 0
    assert digits == _digits_of(raw)  # no digit invented, none lost, order kept
    assert number.startswith("+") == raw.strip().startswith("+")


@given(raw=caller_ids, min_digits=st.integers(1, 12), region=regions, limit=st.integers(1, 8))
def test_candidates_are_safe_distinct_digit_strings(raw, min_digits, region, limit):
    number = lookup_number(raw, min_digits)
    if number is None:
        return
    candidates = candidate_numbers(number, region, limit)
    assert 1 <= len(candidates) <= limit
    assert len(set(candidates)) == len(candidates)
    for candidate in candidates:
        assert ASCII_DIGITS.fullmatch(candidate) and len(candidate) <= MAX_DIGITS and int(candidate) != 0
    assert number.lstrip("+") in candidates or len(candidates) == limit  # as dialled, unless cut by limit
