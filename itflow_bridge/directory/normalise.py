"""ITFlow's stored digits (+ optional country-code column) -> E.164.

ITFlow keeps phones as bare digits, usually national (with or without the trunk
0), sometimes with the country code typed in; the current release has a
separate ``*_country_code`` column.  ``to_e164`` reads the number in the
country of that column when set, else in the PBX's ``default_region``, and also
tries the digits as an international number missing its ``+``.  A valid reading
wins; failing one, a reading with the shape of its country's numbers (the
fictional 555 numbers, a range newer than ``phonenumbers``); a reading of merely
the right length never does (``0301234567`` is no US number, whatever its
length).  Numbers with no such reading are kept as digits (and counted by the
sync): the directory finds them by the digit forms ITFlow is asked for.
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

import phonenumbers

from ..core.constants import MAX_DIGITS
from ..services.numbers import international_prefix

_NON_DIGITS = re.compile(r"[^0-9]")


def digits_only(value: Optional[str]) -> str:
    return _NON_DIGITS.sub("", value or "")


def _region_for(country_code: str) -> Optional[str]:
    code = digits_only(country_code)
    if not code or len(code) > 3:
        return None
    region = phonenumbers.region_code_for_country_code(int(code))
    return None if region in (None, "ZZ") else region


def _parse(text: str, region: Optional[str]) -> "Optional[phonenumbers.PhoneNumber]":
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def to_e164(number: Optional[str], country_code: Optional[str], default_region: str) -> Tuple[str, bool]:
    """``(E.164, True)``, or ``(digits, False)`` when no reading is plausible; ``("", False)`` if empty."""
    digits = digits_only(number)
    if not digits or len(digits) > MAX_DIGITS or int(digits) == 0:
        return digits, False
    region = _region_for(country_code or "") or default_region
    code = digits_only(country_code)
    parses = [_parse(digits, region)]
    if code and digits.startswith(code):  # the country code typed into the number too
        parses.append(_parse("+" + digits, None))
    if not code:
        parses.append(_parse("+" + digits, None))  # international, missing its "+"
    readings = [parsed for parsed in parses if parsed is not None]
    for parsed in readings:
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), True
    if readings and _fits_numbering_plan(readings[0]):
        return phonenumbers.format_number(readings[0], phonenumbers.PhoneNumberFormat.E164), True
    return digits, False


def _fits_numbering_plan(parsed: "phonenumbers.PhoneNumber") -> bool:
    """Whether the number has the shape of its country's numbers, though in no range listed as in use.

    Such a number may exist (a range opened after this ``phonenumbers`` release, the
    fictional 555 numbers): it keeps its E.164 reading.  One of merely the right
    length may not: ``0301234567`` read in the US would be ``+10301234567``, and no
    NANP number starts with 0.
    """
    if not phonenumbers.is_possible_number(parsed):
        return False
    region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    general = metadata.general_desc if metadata is not None else None
    pattern = general.national_number_pattern if general is not None else None
    return bool(pattern) and re.fullmatch(pattern or "", phonenumbers.national_significant_number(parsed)) is not None


def dialable(number: str, is_e164: bool, number_format: str, default_region: str, prefix: str = "") -> str:
    """What a desk phone should dial.

    Without a dial prefix: E.164, or with ``number_format`` national the national
    form for numbers of the PBX's own country.  With one (e.g. ``9`` for an
    outside line) only digits, since a ``+`` after it cannot be dialled: the
    prefix and the national form for the own country, else the prefix, the
    region's international dialling prefix, country code and number (E.164 as
    it is where no one international prefix is right).  A number kept as
    digits: the prefix and the digits as stored.
    """
    if not number:
        return ""
    parsed = _parse(number, None) if is_e164 else None
    if parsed is None:
        return prefix + number
    if parsed.country_code == phonenumbers.country_code_for_region(default_region):
        if prefix or number_format == "national":
            return prefix + digits_only(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL))
        return number
    international = international_prefix(default_region) if prefix else ""
    return prefix + international + number.lstrip("+") if international else number
