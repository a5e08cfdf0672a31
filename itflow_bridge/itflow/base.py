"""The small interface every ITFlow API generation is adapted to.

Services depend on this, never on URLs: ``find_caller``, ``get_client``,
``get_balance`` and ``client_contacts``.  A generation that cannot answer a
question raises ``ITFlowNotSupported`` rather than guessing.
"""

from __future__ import annotations

import re
from typing import List, Optional

from ..errors import ITFlowNotSupported
from .models import Balance, CallerMatch, Client, Contact

_DIGITS = re.compile(r"[0-9]{1,18}")


def check_lookup_digits(digits: str) -> str:
    """Refuse any number ITFlow would misread.

    The legacy API compares ``intval(cid)`` numerically, so an empty or
    non-digit value becomes 0 and matches every contact without a phone; the
    JSON API matches an empty value against empty fields.  Over 18 digits
    overflows PHP's int.
    """
    if not isinstance(digits, str) or not _DIGITS.fullmatch(digits) or int(digits) == 0:
        raise ValueError("a lookup number must be 1 to 18 digits and not zero")
    return digits


class ITFlowAdapter:
    """Base class: one subclass per API generation."""

    generation = "unknown"

    def find_caller(self, digits: str, *, timeout: Optional[float] = None) -> Optional[CallerMatch]:
        raise NotImplementedError

    def get_client(self, client_id: int, *, timeout: Optional[float] = None) -> Optional[Client]:
        raise ITFlowNotSupported("the %s API cannot look up a client by id" % self.generation)

    def get_balance(self, client_id: int, *, timeout: Optional[float] = None) -> Optional[Balance]:
        """The balance, or None when the client does not exist or it cannot be known exactly."""
        raise NotImplementedError

    def client_contacts(self, client_id: int, *, timeout: Optional[float] = None) -> List[Contact]:
        raise ITFlowNotSupported("the %s API cannot list a client's contacts" % self.generation)

    def client_phone_numbers(self, client_id: int, *, timeout: Optional[float] = None) -> List[str]:
        """Every phone number ITFlow holds for the client's contacts and locations."""
        raise ITFlowNotSupported("the %s API cannot list a client's phone numbers" % self.generation)
