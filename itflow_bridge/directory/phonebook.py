"""Remote-phonebook XML for desk phones, built from the local directory.

``render(entries, format, options)`` -> UTF-8 bytes.  One card per ITFlow
record (contact, location, vendor) with its office and mobile numbers; cards
are grouped per client (vendors of the MSP itself in a "Vendors" group) where
the format has groups, and named ``Client - Name`` where it has none.  Names are
cleaned to one printable line and escaped by ``xml.etree`` (``&``, ``<``, ``"``
in attributes); non-ASCII is kept as UTF-8, declared in the XML header.

Element names follow each vendor's documentation (read, not copied):

* Yealink remote phone book with groups (``YealinkIPPhoneBook`` / ``Title`` /
  ``Menu Name`` / ``Unit Name Phone1 Phone2 Phone3 default_photo``): Yealink's
  administrator guide for SIP-T2/T4/T5 phones, "Remote Phone Book" (copy at
  https://manualmachine.com/yealink/sipt5series/22080353-administrators-manual);
  up to five such URLs per phone (``remote_phonebook.data.N.url``).
* Grandstream (``AddressBook`` / ``pbgroup`` / ``Contact`` / ``Phone type`` /
  ``phonenumber`` / ``accountindex`` / ``Group``): GXP series XML phonebook guide,
  https://documentation.grandstream.com/knowledge-base/gxp-series-xml-phonebook-guide/
* Cisco (``CiscoIPPhoneDirectory`` / ``Title`` / ``Prompt`` / ``DirectoryEntry`` /
  ``Name`` / ``Telephone``): Cisco's IP phone services XML objects,
  https://www.cisco.com/web/CA/events/pdfs/Designing_and_Developing_Advanced_IP_PhoneServices.pdf
  (older phones show at most 32 entries of one directory object).
* snom (``tbook`` with ``item context type index`` / ``name`` / ``number`` /
  ``number_type``): https://service.snom.com/display/wiki/%3Ctbook%3E%2C%3Cphone-book%3E+tag
* Fanvil (``FanvilIPPhoneDirectory`` / ``DirectoryEntry`` / ``Name`` / ``Telephone`` /
  ``Mobile``): Fanvil's XML phonebook specification,
  https://www.fanvil.com/Uploads/Temp/download/20191226/5e0454ec2e7f0.pdf
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from .formats import FORMATS
from .normalise import dialable
from ..storage.directory_file import DirectoryEntry

VENDORS_GROUP = "Vendors"
OTHERS_GROUP = "Contacts"  # what legacy cannot place under a client
TITLE = "ITFlow"

# XML 1.0 forbids most control characters even escaped; line breaks would split a phone's line.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff\ud800-\udfff]+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class PhonebookOptions:
    number_format: str = "e164"  # e164 | national (for numbers of the default region)
    dial_prefix: str = ""  # e.g. "9" for an outside line
    default_region: str = "US"

    @classmethod
    def from_config(cls, config: Any) -> "PhonebookOptions":
        return cls(number_format=config.directory.number_format, dial_prefix=config.directory.dial_prefix,
                   default_region=config.callerid.default_region)


@dataclass
class Card:
    name: str
    kind: str
    office: List[str] = field(default_factory=list)
    mobile: List[str] = field(default_factory=list)

    @property
    def numbers(self) -> List[Tuple[str, str]]:
        return [("office", n) for n in self.office] + [("mobile", n) for n in self.mobile]


@dataclass
class Group:
    name: str
    cards: List[Card] = field(default_factory=list)


def clean(text: str) -> str:
    return _SPACES.sub(" ", _UNPRINTABLE.sub(" ", text or "")).strip()


def groups(entries: Iterable[DirectoryEntry], options: PhonebookOptions = PhonebookOptions()) -> List[Group]:
    """Cards per group, groups sorted by name (Vendors and Contacts last), cards by name."""
    by_group: Dict[str, Dict[Tuple[Any, ...], Card]] = {}
    for entry in entries:
        group = clean(entry.client_name) or (VENDORS_GROUP if entry.kind == "vendor" else OTHERS_GROUP)
        name = clean(entry.name) or clean(entry.client_name) or entry.number
        key = (entry.kind, entry.record_id if entry.record_id is not None else name)
        card = by_group.setdefault(group, {}).setdefault(key, Card(name=name, kind=entry.kind))
        number = dialable(entry.number, entry.e164, options.number_format, options.default_region,
                          options.dial_prefix)
        slot = card.mobile if entry.number_kind == "mobile" else card.office
        if number and number not in slot:
            slot.append(number)
    special = (VENDORS_GROUP, OTHERS_GROUP)
    ordered = sorted(by_group, key=lambda name: (name in special, name.casefold()))
    return [Group(name, sorted(by_group[name].values(), key=lambda card: (card.name.casefold(), card.kind)))
            for name in ordered]


def flat_name(group: Group, card: Card) -> str:
    """For formats without groups: the client in front, so the list sorts by client."""
    if group.name in (VENDORS_GROUP, OTHERS_GROUP) or group.name == card.name:
        return card.name
    return "%s - %s" % (group.name, card.name)


def _sub(parent: ET.Element, tag: str, text: Optional[str] = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def _yealink(book: List[Group]) -> ET.Element:
    root = ET.Element("YealinkIPPhoneBook")
    _sub(root, "Title", TITLE)
    for group in book:
        menu = _sub(root, "Menu", Name=group.name)
        for card in group.cards:
            numbers = [number for _kind, number in card.numbers][:3]  # the template has three phones
            numbers += [""] * (3 - len(numbers))
            _sub(menu, "Unit", Name=card.name, Phone1=numbers[0], Phone2=numbers[1], Phone3=numbers[2],
                 default_photo="Resource:")
    return root


def _grandstream(book: List[Group]) -> ET.Element:
    root = ET.Element("AddressBook")
    _sub(root, "version", "1")
    for index, group in enumerate(book, 1):
        pbgroup = _sub(root, "pbgroup")
        _sub(pbgroup, "id", str(index))
        _sub(pbgroup, "name", group.name)
    for index, group in enumerate(book, 1):
        for card in group.cards:
            contact = _sub(root, "Contact")
            _sub(contact, "FirstName", card.name)  # the guide wants a first or a last name: the whole name
            for kind, number in card.numbers:
                phone = _sub(contact, "Phone", type="Mobile" if kind == "mobile" else "Work")
                _sub(phone, "phonenumber", number)
                _sub(phone, "accountindex", "0")
            _sub(contact, "Group", str(index))
    return root


def _flat_entries(book: List[Group]) -> Iterable[Tuple[str, str, str]]:
    """(name, number kind, number) for formats with one number per entry."""
    for group in book:
        for card in group.cards:
            name = flat_name(group, card)
            for kind, number in card.numbers:
                yield name, kind, number


def _cisco(book: List[Group]) -> ET.Element:
    root = ET.Element("CiscoIPPhoneDirectory")
    _sub(root, "Title", TITLE)
    _sub(root, "Prompt", "Select an entry")
    for name, kind, number in _flat_entries(book):
        entry = _sub(root, "DirectoryEntry")
        _sub(entry, "Name", name + (" (mobile)" if kind == "mobile" else ""))
        _sub(entry, "Telephone", number)
    return root


def _snom(book: List[Group]) -> ET.Element:
    root = ET.Element("tbook", complete="true", e="2")
    for index, (name, kind, number) in enumerate(_flat_entries(book)):
        item = _sub(root, "item", context="active", type="none", index=str(index))
        _sub(item, "name", name)
        _sub(item, "number", number)
        _sub(item, "number_type", "mobile" if kind == "mobile" else "business")
    return root


def _fanvil(book: List[Group]) -> ET.Element:
    root = ET.Element("FanvilIPPhoneDirectory", clearlight="true")
    for group in book:
        for card in group.cards:
            entry = _sub(root, "DirectoryEntry")
            _sub(entry, "Name", flat_name(group, card))
            for number in card.office:
                _sub(entry, "Telephone", number)
            for number in card.mobile:
                _sub(entry, "Mobile", number)
    return root


_BUILDERS: Dict[str, Callable[[List[Group]], ET.Element]] = {
    "yealink": _yealink, "grandstream": _grandstream, "cisco": _cisco, "snom": _snom, "fanvil": _fanvil,
}
CONTENT_TYPE = "text/xml; charset=utf-8"


def render(entries: Iterable[DirectoryEntry], format: str, options: PhonebookOptions = PhonebookOptions()) -> bytes:
    """The phonebook in one vendor's XML, as UTF-8 bytes."""
    try:
        build = _BUILDERS[format]
    except KeyError:
        raise ValueError("unknown phonebook format %r: use %s" % (format, ", ".join(FORMATS))) from None
    root = build(groups(entries, options))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode("utf-8") + b"\n"
