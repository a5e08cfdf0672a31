"""What the bridge knows about ITFlow records, independent of the API generation."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Tuple


@dataclass(frozen=True)
class CallerMatch:
    """Who a phone number belongs to.

    The legacy API only says a name (of a contact, a location or a vendor), so
    ``kind`` is ``"unknown"`` there and the client fields stay empty.
    ``contact_id`` is known when the number is a contact's (cached answers
    stored before it existed read as None).
    """

    name: str
    kind: str = "unknown"  # contact | location | vendor | unknown
    client_id: Optional[int] = None
    client_name: Optional[str] = None
    contact_name: Optional[str] = None
    matched_number: str = ""
    contact_id: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "client_id": self.client_id,
            "client_name": self.client_name,
            "contact_name": self.contact_name,
            "matched_number": self.matched_number,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CallerMatch":
        return cls(**data)


@dataclass(frozen=True)
class Client:
    id: int
    name: str
    currency: Optional[str] = None
    archived: bool = False


@dataclass(frozen=True)
class Contact:
    id: int
    name: str
    client_id: Optional[int]
    phone: str = ""
    mobile: str = ""
    pin: str = ""
    email: str = ""
    primary: bool = False
    archived: bool = False


@dataclass(frozen=True)
class Balance:
    """An account balance; positive means the client owes money.

    ``client_confirmed`` is False when the API cannot tell an unknown client
    from one that owes nothing (legacy ``account_balance`` answers 0 for both).
    """

    client_id: int
    amount: Decimal
    currency: Optional[str] = None
    client_confirmed: bool = True
    client_name: Optional[str] = None  # when the API says it


@dataclass(frozen=True)
class Capabilities:
    """What an ITFlow API can answer, so callers ask instead of testing which API it is."""

    caller_names: str  # what a caller-ID lookup finds, in words for an admin
    balance: str  # how far a balance can be trusted, in words for an admin
    confirms_clients: bool  # False: an unknown client id reads as a zero balance
    verifies_callers: bool  # can list a client's contacts, numbers and PINs
    caller_details: bool = True  # a caller-ID match says kind, client and contact (False: a name only)


@dataclass(frozen=True)
class PhonebookEntry:
    name: str
    number: str
    group: str  # "client" (a client's primary contact) or "vendor"


@dataclass(frozen=True)
class ContactEmail:
    client_name: str
    contact_name: str
    email: str


@dataclass(frozen=True)
class PhoneRecord:
    """A record ITFlow keeps phone numbers for (contact, location, vendor, client): a directory's raw rows.

    ``numbers`` are ``(number as stored, its country code or "", "office" | "mobile")``.
    """

    kind: str
    name: str
    numbers: Tuple[Tuple[str, str, str], ...]
    record_id: Optional[int] = None
    client_id: Optional[int] = None
    client_name: str = ""
    title: str = ""
    archived: bool = False  # the record, or the client it belongs to


@dataclass
class ListingStats:
    """What reading every phone record took: requests made, and what could not be read."""

    requests: int = 0
    notes: List[str] = field(default_factory=list)
