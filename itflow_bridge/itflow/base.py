"""The small interface every ITFlow API generation is adapted to.

Services, ``check`` and the directory sync depend on this, never on URLs or
on which generation answers: they ask the adapter (``capabilities``, ``lookup_question``,
``verify_key``) instead of testing its name, so another source of the same
answers needs no change above this layer.  A generation that cannot answer a
question raises ``ITFlowNotSupported`` rather than guessing.  What only
scripts need (e-mail lists, new assets, the raw phonebook) is in ``scripting``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterator, List, Optional

from ..core.constants import MAX_DIGITS
from ..core.errors import ITFlowNotSupported
from ..core.models import Balance, CallerMatch, Capabilities, Client, Contact, ListingStats, PhoneRecord

if TYPE_CHECKING:
    from .http import ITFlowHTTP

_DIGITS = re.compile(r"[0-9]{1,%d}" % MAX_DIGITS)


def check_lookup_digits(digits: str) -> str:
    """Refuse any number ITFlow would misread.

    The legacy API compares ``intval(cid)`` numerically, so an empty or
    non-digit value becomes 0 and matches every contact without a phone; the
    JSON API matches an empty value against empty fields.  Over ``MAX_DIGITS``
    digits overflow PHP's int.
    """
    if not isinstance(digits, str) or not _DIGITS.fullmatch(digits) or int(digits) == 0:
        raise ValueError("a lookup number must be 1 to %d digits and not zero" % MAX_DIGITS)
    return digits


class ITFlowAdapter:
    """Base class: one subclass per API generation."""

    generation = "unknown"  # a name for people (logs, ``check``), never a branch for code
    api_name = "unknown"  # the same, in words
    capabilities = Capabilities(caller_names="", balance="", confirms_clients=False, verifies_callers=False)

    def __init__(self, http: "ITFlowHTTP") -> None:
        self.http = http

    def lookup_question(self, digits: str) -> str:
        """The form in which two numbers are the same question to this API (default: the digits).

        Services skip a candidate number whose question was already asked.
        """
        return digits

    def verify_key(self, *, timeout: Optional[float] = None) -> None:
        """One cheap authenticated request; raises what is wrong with the key, if anything."""
        raise NotImplementedError

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

    # --- the whole listing the local directory is built from

    def phone_records(self, stats: ListingStats, *, timeout: Optional[float] = None,
                      page_size: Optional[int] = None, max_rows: Optional[int] = None) -> Iterator[PhoneRecord]:
        """Every record with phone numbers this key may see, archived ones flagged (not left out).

        ``page_size`` and ``max_rows`` (None: the API's own) shape the paging where
        the API pages; more than ``max_rows`` of one kind fails rather than
        returning a truncated listing.
        """
        raise ITFlowNotSupported("the %s API cannot list phone numbers" % self.generation)
