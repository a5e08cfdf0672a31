"""Who may hear a balance, decided without a call: caller checks, PINs, the hourly failure limit."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import List, Optional

import pytest

from itflow_bridge.storage.cache import Cache
from itflow_bridge.core.config import BalanceSettings
from itflow_bridge.core.errors import ITFlowUnavailable
from itflow_bridge.itflow.base import ITFlowAdapter
from itflow_bridge.core.models import Capabilities, Contact
from itflow_bridge.services.verification import CallerVerification, PinChallenge


class Directory(ITFlowAdapter):
    """An adapter answering from a small table; ``down`` makes every question fail."""

    capabilities = Capabilities(caller_names="", balance="", confirms_clients=True, verifies_callers=True)

    def __init__(self, contacts: List[Contact], down: bool = False, verifies: bool = True):
        super().__init__(http=None)
        self.contacts = contacts
        self.down = down
        self.asked = 0
        if not verifies:
            self.capabilities = replace(self.capabilities, verifies_callers=False)

    def client_contacts(self, client_id: int, *, timeout: Optional[float] = None) -> List[Contact]:
        self.asked += 1
        if self.down:
            raise ITFlowUnavailable("nothing listens at http://itflow (connection refused)")
        return [c for c in self.contacts if c.client_id == client_id]

    def client_phone_numbers(self, client_id: int, *, timeout: Optional[float] = None) -> List[str]:
        return [n for c in self.client_contacts(client_id) for n in (c.phone, c.mobile) if n]


ACME = [Contact(1, "John Smith", 1, phone="5551234567", pin="4321"),
        Contact(2, "Jane Doe", 1, mobile="(555) 987-6543", pin=""),
        Contact(3, "Other", 2, phone="5550001111", pin="9999")]


def verifier(tmp_path, adapter: ITFlowAdapter, scope: str = "site-a", **settings) -> CallerVerification:
    return CallerVerification(BalanceSettings(**settings), "US", Cache(tmp_path), lambda: adapter,
                              scope=lambda: scope)


@pytest.mark.parametrize("caller", ["+15551234567", "5551234567", "15559876543", "555-987-6543"])
def test_a_number_the_client_holds_is_verified_in_any_form(tmp_path, caller):
    assert verifier(tmp_path, Directory(ACME), verify="callerid").caller_matches(caller, 1)


@pytest.mark.parametrize("caller", ["5550001111", "anonymous", "", "12", "+44 20 7946 0000"])
def test_other_numbers_are_not(tmp_path, caller):
    assert not verifier(tmp_path, Directory(ACME), verify="callerid").caller_matches(caller, 1)


def test_any_doubt_is_a_no(tmp_path):
    assert not verifier(tmp_path, Directory(ACME, down=True)).caller_matches("5551234567", 1)
    assert verifier(tmp_path, Directory(ACME, down=True)).pin_challenge(1) is None
    cannot = Directory(ACME, verifies=False)
    assert not verifier(tmp_path, cannot).caller_matches("5551234567", 1)
    assert verifier(tmp_path, cannot).pin_challenge(1) is None
    assert cannot.asked == 0  # an API that cannot tell is not even asked


def test_pins_of_the_clients_contacts_only(tmp_path):
    challenge = verifier(tmp_path, Directory(ACME), verify="pin").pin_challenge(1)
    assert challenge is not None
    assert challenge.check("4321")
    assert not challenge.check("9999")  # another client's PIN
    assert not challenge.check("")
    assert not challenge.check("43210")


def test_a_client_without_pins_cannot_be_verified_by_pin(tmp_path):
    assert verifier(tmp_path, Directory([Contact(5, "No Pin", 4)])).pin_challenge(4) is None


def test_every_pin_is_compared_whatever_matches_first(monkeypatch):
    compared = []
    import hmac

    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append(b) or real(a, b))
    assert PinChallenge(["1111", "2222", "3333"]).check("1111")
    assert compared == [b"1111", b"2222", b"3333"]


def test_the_failure_limit_counts_per_caller_and_persists(tmp_path):
    adapter = Directory(ACME)
    first = verifier(tmp_path, adapter, max_failures_per_hour=3)
    for _ in range(3):
        assert not first.locked_out("5550009999")
        first.record_failure("5550009999")
    assert first.locked_out("5550009999")
    assert not first.locked_out("5551234567")  # another caller
    again = verifier(tmp_path, adapter, max_failures_per_hour=3)  # a new process, the same cache file
    assert again.locked_out("5550009999") and again.failures_this_hour("5550009999") == 3


def test_failures_older_than_an_hour_do_not_count(tmp_path):
    clock = [time.time()]
    cache = Cache(tmp_path, clock=lambda: clock[0])
    check = CallerVerification(BalanceSettings(max_failures_per_hour=2), "US", cache, lambda: Directory(ACME))
    check.record_failure("5550009999")
    check.record_failure("5550009999")
    assert check.locked_out("5550009999")
    clock[0] += 3601
    assert not check.locked_out("5550009999")


def test_failures_belong_to_one_itflow(tmp_path):
    one = verifier(tmp_path, Directory(ACME), scope="site-a", max_failures_per_hour=1)
    one.record_failure("5550009999")
    assert one.locked_out("5550009999")
    assert not verifier(tmp_path, Directory(ACME), scope="site-b", max_failures_per_hour=1).locked_out("5550009999")
