"""Which caller numbers are worth a lookup, and the forms ITFlow may store them in.

ITFlow keeps phone numbers as bare digits, usually in national form, sometimes
with the trunk 0 or the country code typed in.  A trunk delivers E.164, national
or international-prefixed numbers.  ``candidate_numbers`` bridges the two with
``phonenumbers``; it is imported lazily because a cache hit never needs it.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Iterator, List, Optional, Tuple

from ..core.constants import MAX_DIGITS
from ..storage.caller_key import NUMBER_CHARACTERS, caller_key

if TYPE_CHECKING:
    import phonenumbers

WITHHELD_WORDS = frozenset(
    {"anonymous", "unknown", "private", "restricted", "withheld", "unavailable", "blocked", "asterisk", "s"}
)


def lookup_number(raw: Optional[str], min_digits: int) -> Optional[str]:
    """The caller number cleaned to ``[+]digits``, or None when it must not be looked up.

    None for withheld/anonymous/unknown, empty, anything with letters or other
    symbols, fewer than ``min_digits`` or more than ``MAX_DIGITS`` digits, or all zeros.
    """
    key = caller_key(raw)  # the answer book's keys: one cleaning for the full and the fast path
    if key is None:
        return None  # withheld words too: none of them is made of digits and separators
    digits = key.lstrip("+")
    if not (min_digits <= len(digits) <= MAX_DIGITS) or int(digits) == 0:
        return None
    return key


def not_a_number_reason(raw: Optional[str], min_digits: int) -> str:
    """Why ``lookup_number`` refused ``raw``, in words for the person who typed it."""
    text = (raw or "").strip()
    if not text:
        return "it is empty"
    if text.lower() in WITHHELD_WORDS:
        return "a withheld or anonymous caller is never looked up"
    if not set(text[1:] if text.startswith("+") else text) <= NUMBER_CHARACTERS or text == "+":
        return "only digits, a leading + and the separators ( ) . - / and space are allowed"
    digits = re.sub(r"[^0-9]", "", text)
    if len(digits) < min_digits:
        return "fewer than %d digits ([callerid] min_digits)" % min_digits
    if len(digits) > MAX_DIGITS:
        return "more than %d digits: no phone number is that long" % MAX_DIGITS
    if int(digits) == 0:
        return "all zeros"
    return "it cannot be looked up"


def candidate_numbers(number: str, region: str, limit: int = 4) -> List[str]:
    """Digit strings to ask ITFlow for, most likely first, at most ``limit``.

    Order: national significant number, with the national trunk prefix, with the
    country code, then the digits exactly as they arrived.
    """
    import phonenumbers  # lazy: ~20 ms of import that a cache hit does not pay

    digits = number.lstrip("+")
    forms: List[str] = []
    for parsed in _interpretations(number, region):
        nsn = phonenumbers.national_significant_number(parsed)
        country_code = parsed.country_code or 0
        country = str(country_code)
        region_of_number = phonenumbers.region_code_for_country_code(country_code)
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region_of_number)
        trunk = metadata.national_prefix if metadata is not None and metadata.national_prefix else ""
        forms += [nsn, trunk + nsn, country + nsn]
    forms.append(digits)

    result: List[str] = []
    for form in forms:
        if form and form not in result and len(form) <= MAX_DIGITS and int(form) != 0:
            result.append(form)
    return result[:limit]


def e164_numbers(number: str, region: str) -> List[str]:
    """What a cleaned caller number (``lookup_number``) stands for in E.164, most likely first.

    The local directory is keyed by E.164: these are the keys to try, in order.
    A number without ``+`` also gives its bare digits last, the form a number
    with no plausible E.164 reading is kept in.
    """
    return list(_e164_numbers(number, region))


@functools.lru_cache(maxsize=20000)
def _e164_numbers(number: str, region: str) -> Tuple[str, ...]:
    """Remembered: validating a number costs ~100 us (NANP checks some 25 regions), a call repeats."""
    import phonenumbers  # lazy, as for candidate_numbers

    found: List[str] = []
    for parsed in _interpretations(number, region):
        text = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if text not in found:
            found.append(text)
    if not number.startswith("+") and number not in found:
        found.append(number)
    return tuple(found)


def directory_keys(number: str, region: str) -> Iterator[str]:
    """The local directory's keys to try for a cleaned caller number, in order.

    The E.164 forms first (``e164_numbers``); then the digit forms ITFlow is
    asked for (``candidate_numbers``), which is how the directory keeps a
    number that had no E.164 reading (e.g. a UK number stored nationally
    while the PBX's region is US): as ITFlow itself would find it.  A number
    that arrives in E.164 is tried as it is before anything is parsed: the
    directory holds E.164 keys, and parsing costs more than the read.
    """
    tried = set()
    if number.startswith("+"):
        tried.add(number)
        yield number
    for key in e164_numbers(number, region):
        if key in tried:
            continue
        tried.add(key)
        yield key
    for key in candidate_numbers(number, region):
        if key not in tried:
            tried.add(key)
            yield key


def caller_forms(e164: str, region: str) -> List[str]:
    """The forms a trunk may deliver an E.164 number in, to a PBX in ``region``.

    With and without ``+``, after the region's international prefix (``011``,
    ``00``), and for the region's own numbers nationally, with and without the
    trunk prefix.  A number kept as bare digits (no E.164 reading) comes as
    those digits.  Not every form reads back as this number (``lookup`` decides).
    """
    import phonenumbers

    if not e164.startswith("+"):
        return [e164]
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return [e164]
    digits = e164[1:]
    forms = [e164, digits]
    international = international_prefix(region)
    if international:
        forms.append(international + digits)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is not None:
        if parsed.country_code == metadata.country_code:
            nsn = phonenumbers.national_significant_number(parsed)
            forms += [nsn, (metadata.national_prefix or "") + nsn]
    return list(dict.fromkeys(forms))


def international_prefix(region: str) -> str:
    """What a phone in ``region`` dials before a country code: ``011`` in the US, ``00`` in most others.

    "" where no one prefix is right (Brazil, Korea: it names the carrier).
    """
    import phonenumbers

    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return ""
    prefix = (metadata.preferred_international_prefix or metadata.international_prefix or "").replace("~", "")
    return prefix if prefix.isdigit() else ""  # "8~10": wait for a tone after the 8


def _interpretations(number: str, region: str) -> "List[phonenumbers.PhoneNumber]":
    """Parses of the number: as dialled in ``region``, and as E.164 missing its '+'.

    A parse in the PBX's region comes first when it is plausible; the '+'
    reading is added only when it is a valid number (e.g. 441632960123 from a
    trunk that drops the '+').
    """
    import phonenumbers

    def parse(text: str, default_region: Optional[str]) -> "Optional[phonenumbers.PhoneNumber]":
        try:
            return phonenumbers.parse(text, default_region)
        except phonenumbers.NumberParseException:
            return None

    local = parse(number, region)
    e164 = None if number.startswith("+") else parse("+" + number, None)
    found = []
    if local is not None and (phonenumbers.is_valid_number(local) or phonenumbers.is_possible_number(local)):
        found.append(local)
    if e164 is not None and phonenumbers.is_valid_number(e164):
        if not found or not phonenumbers.is_valid_number(found[0]):
            found.append(e164)
    if not found and e164 is not None and phonenumbers.is_possible_number(e164):
        found.append(e164)
    return found
