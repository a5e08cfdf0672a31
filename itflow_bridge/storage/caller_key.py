"""A caller number as the key every store and lookup uses: ``[+]digits``.

One cleaning for both paths: ``services.numbers.lookup_number`` adds its
length rules on top, and the classic fast path looks this key up in the
answer book without loading the bridge (standard library only, no ``re``).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

NUMBER_CHARACTERS = frozenset("0123456789 ().-/")  # what may follow an optional leading +
_DIGITS = frozenset("0123456789")


def caller_key(raw: "Optional[str]") -> "Optional[str]":
    """``raw`` without blanks and separators (``+`` kept in front); None when it is no number at all.

    None for an empty value, anything with letters or other symbols (so every
    withheld/anonymous word), or no digit.  Length rules are the lookup's.
    """
    text = (raw or "").strip()
    plus = text.startswith("+")
    body = text[1:] if plus else text
    if not body or not all(character in NUMBER_CHARACTERS for character in body):
        return None
    digits = "".join(character for character in body if character in _DIGITS)
    return ("+" if plus else "") + digits if digits else None
