"""The number a ``tel:`` link asks to dial, cleaned to what may go to Asterisk: ``+`` and digits only.

What a click hands over is text from any web page, and it ends up as the
``Exten`` of a call in the dialplan, so only the plainest phone number passes:
an optional leading ``+``, then 3 to 20 ASCII digits, with the separators
``- . ( )`` and spaces of written numbers removed.  Anything else is refused, not
cleaned away: letters (vanity numbers, ``${...}``), ``, ; & / @ # *`` (dial
strings, DTMF, other channels), ``%`` (text encoded twice), control characters,
and digits of other scripts.  A ``tel:`` URI's parameters (``;ext=12``,
``;phone-context=...``) are dropped: the number itself is dialled, and the
confirm page shows exactly what.
"""

from __future__ import annotations

import re

TEL_SCHEME = "tel:"
MIN_DIGITS = 3
MAX_DIGITS = 20
SEPARATORS = "-.() "
_CLEAN = re.compile(r"\+?[0-9]{%d,%d}" % (MIN_DIGITS, MAX_DIGITS))


class NotANumber(ValueError):
    """The text is not a phone number the bridge will dial; the message says why."""


def clean_dial_number(text: str) -> str:
    """``text`` (a ``tel:`` URI or a written number) as ``+`` and digits; raises NotANumber."""
    value = text.strip(" ")
    if value[:len(TEL_SCHEME)].lower() == TEL_SCHEME:
        value = value[len(TEL_SCHEME):].split(";", 1)[0].strip(" ")  # RFC 3966 parameters: not dialled
    if not value:
        raise NotANumber("no number given")
    if not value.isascii() or not value.isprintable():
        raise NotANumber("only the digits 0-9 can be dialled")
    cleaned = "".join(char for char in value if char not in SEPARATORS)
    if not _CLEAN.fullmatch(cleaned):
        if any(not (char.isdigit() or char == "+") for char in cleaned):
            raise NotANumber("only digits, a leading + and the separators - . ( ) can be dialled")
        raise NotANumber("a number has a leading + at most and %d to %d digits" % (MIN_DIGITS, MAX_DIGITS))
    return cleaned
