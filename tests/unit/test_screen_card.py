"""The caller card: the directory's part at once, ITFlow's part in the background (budget, cache, single flight)."""

import threading
from typing import List, Optional

from itflow_bridge.core.errors import ITFlowError
from itflow_bridge.screen.card import (LOADING, NOT_FETCHED, NOT_IN_ITFLOW, READY, UNREACHABLE, CardService, Details,
                                       OpenTicket, is_open)
from itflow_bridge.storage.directory_file import DirectoryEntry

ITFLOW = "https://itflow.example"
JOHN = DirectoryEntry(kind="contact", name="John Smith", number="+15551234567", record_id=1, client_id=7,
                      client_name="ACME Corp", title="CEO")
JANE = DirectoryEntry(kind="contact", name="Jane Doe", number="+15559876543", record_id=1, client_id=7,
                      client_name="ACME Corp", title="IT Manager")
VENDOR = DirectoryEntry(kind="vendor", name="Phones Inc", number="+15550000000", client_id=None)
DIRECTORY = {entry.number: entry for entry in (JOHN, JANE, VENDOR)}
DETAILS = Details((OpenTicket(12, "TCK-12", "Printer jams"), OpenTicket(9, "TCK-9", "VPN down")), True, "USD 120.00")


class Fetcher:
    """ITFlow's side, released by the test."""

    def __init__(self, result=DETAILS):
        self.result = result
        self.release = threading.Event()
        self.calls: List[tuple] = []

    def __call__(self, client_id: int, contact_id: Optional[int]) -> Details:
        self.calls.append((client_id, contact_id))
        self.release.wait(30)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class Updates:
    def __init__(self):
        self.cards: List[dict] = []
        self.changed = threading.Condition()

    def __call__(self, card):
        with self.changed:
            self.cards.append(card)
            self.changed.notify_all()

    def wait_for(self, predicate, timeout=30.0):
        with self.changed:
            assert self.changed.wait_for(lambda: any(predicate(card) for card in self.cards), timeout), self.cards


def service(fetcher, **options):
    updates = Updates()
    cards = CardService(DIRECTORY.get, fetcher, ITFLOW, on_update=updates, **options)
    return cards, updates


def test_the_directory_part_is_there_at_once_while_itflow_has_not_answered():
    fetcher = Fetcher()
    cards, updates = service(fetcher)
    card = cards.card(JOHN.number)
    assert (card["status"], card["client_name"], card["name"], card["title"]) == (LOADING, "ACME Corp", "John Smith", "CEO")
    assert card["links"]["client"] == ITFLOW + "/agent/client_overview.php?client_id=7"
    assert card["links"]["new_ticket"] == ITFLOW + "/agent/tickets.php?client_id=7"
    fetcher.release.set()
    updates.wait_for(lambda card: card["status"] == READY)
    ready = cards.card(JOHN.number)
    assert (ready["open_tickets"], ready["important"], ready["balance"]) == (2, True, "USD 120.00")
    assert ready["tickets"][0] == {"id": 12, "number": "TCK-12", "subject": "Printer jams",
                                   "link": ITFLOW + "/agent/ticket.php?ticket_id=12"}
    assert fetcher.calls == [(7, 1)]  # cached: asked once


def test_callers_of_one_client_and_contact_share_one_fetch():
    fetcher = Fetcher()
    cards, updates = service(fetcher)
    for _ in range(5):  # five phones of a ring group
        cards.card(JOHN.number)
    cards.card(JANE.number)  # same client and contact id: the same fetch
    fetcher.release.set()
    updates.wait_for(lambda card: card["number"] == JANE.number and card["status"] == READY)
    updates.wait_for(lambda card: card["number"] == JOHN.number and card["status"] == READY)
    assert fetcher.calls == [(7, 1)]


def test_a_failing_itflow_says_unreachable_and_is_not_asked_again_at_once():
    fetcher = Fetcher(ITFlowError("connection refused"))
    fetcher.release.set()
    cards, updates = service(fetcher)
    cards.card(JOHN.number)
    updates.wait_for(lambda card: card["status"] == UNREACHABLE)
    again = cards.card(JOHN.number)
    assert again["status"] == UNREACHABLE and "ITFlow unreachable" in again["problem"]
    assert again["client_name"] == "ACME Corp"  # who is calling is still shown
    assert len(fetcher.calls) == 1


def test_a_slow_itflow_is_unreachable_after_the_budget_and_fills_in_when_it_answers():
    fetcher = Fetcher()
    cards, updates = service(fetcher, budget=0.05)
    cards.card(JOHN.number)
    updates.wait_for(lambda card: card["status"] == UNREACHABLE)
    assert cards.card(JOHN.number)["status"] == UNREACHABLE
    fetcher.release.set()
    updates.wait_for(lambda card: card["status"] == READY)
    assert len(fetcher.calls) == 1


def test_unknown_callers_and_vendors_are_not_in_itflow_with_a_link_to_add_them():
    fetcher = Fetcher()
    cards, _updates = service(fetcher)
    for number in ("+15550000000", "+4930999999", ""):
        card = cards.card(number)
        assert (card["known"], card["status"]) == (False, NOT_IN_ITFLOW)
        assert card["links"] == {"add_contact": ITFLOW + "/agent/contacts.php"}
    assert fetcher.calls == []


def test_a_past_calls_card_does_not_ask_itflow():
    fetcher = Fetcher()
    cards, _updates = service(fetcher)
    assert cards.card(JOHN.number, fetch=False)["status"] == NOT_FETCHED
    assert fetcher.calls == []


def test_a_broken_directory_still_gives_a_card():
    def broken(_number):
        raise OSError("disk I/O error")

    card = CardService(broken, Fetcher(), ITFLOW).card(JOHN.number)
    assert (card["number"], card["known"]) == (JOHN.number, False)


def test_open_tickets_are_those_new_open_or_on_hold_and_not_resolved():
    assert is_open({"ticket_status": "2", "ticket_resolved_at": None, "ticket_closed_at": None})
    assert not is_open({"ticket_status": "4", "ticket_resolved_at": None, "ticket_closed_at": None})
    assert not is_open({"ticket_status": "1", "ticket_resolved_at": "2026-01-01", "ticket_closed_at": None})
    assert not is_open({"ticket_status": "Open", "ticket_resolved_at": None, "ticket_closed_at": None})
