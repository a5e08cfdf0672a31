"""Both real peers: the real Asterisk 22 and real ITFlow of each API generation.

The e2e fixtures (``bridge``, ``daemon``, ``classic``) are pointed at real ITFlow
(``tests/real_itflow/harness.py``, served by ``php -S`` on 127.0.0.1, which the
chroot shares) instead of the fake: caller-ID names over FastAGI and classic
scripts, and the balance IVR, through the shipped dialplan.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from asterisk_harness import AsteriskHarness
from real_itflow.dataset import contract_dataset
from real_itflow.harness import RealITFlow, in_ci, unavailable_reason

pytestmark = pytest.mark.e2e

TRUNK_NAME = "WIRELESS CALLER"

# number as the trunk sends it -> (name on v1, name on legacy)
CALLERS = {
    "contact E.164": ("+15551234567", "Acme Corp - John Smith", "John Smith"),
    "mobile": ("5559876543", "Acme Corp - Jane Doe", "Jane Doe"),
    "location": ("+15552220000", "Acme Corp - Acme HQ", "Acme HQ"),
    "vendor": ("+15553330000", "Telco Supplies", "Telco Supplies"),
    "trunk 0 stored": ("+441632960123", "O'Brien & Sons - Plumbing - Mary O'Brien", "Mary O'Brien"),
    "country code column": ("+49301234567", "Müller GmbH - Klaus Weber", "Klaus Weber"),
}


class RealPeer:
    """What the e2e fixtures use of an ITFlow: its URL and key (nothing to stop per test)."""

    def __init__(self, url: str, api_key: str):
        self.url = url
        self.api_key = api_key

    def stop(self) -> None:
        pass


@pytest.fixture(scope="module")
def real_itflow() -> Iterator[RealITFlow]:
    reason = unavailable_reason()
    if reason:
        if in_ci():
            pytest.fail("real ITFlow cannot run in CI: %s" % reason, pytrace=False)
        pytest.skip("real ITFlow: %s" % reason)
    real = RealITFlow(contract_dataset()).start()
    try:
        yield real
    finally:
        real.stop()


@pytest.fixture(params=["v1", "legacy"])
def mode(request) -> str:
    return request.param


@pytest.fixture
def fake(real_itflow: RealITFlow, mode: str) -> RealPeer:
    """Overrides the e2e ``fake``: the bridge under test talks to real ITFlow of ``mode``."""
    server = real_itflow.servers["v1" if mode == "v1" else "legacy-php82"]
    return RealPeer(server.url, real_itflow.keys[mode].good)


@pytest.mark.parametrize("transport", ["fastagi", "classic"])
@pytest.mark.parametrize("case", sorted(CALLERS))
def test_caller_id_from_real_itflow(asterisk: AsteriskHarness, bridge, mode, transport, case) -> None:
    number, v1_name, legacy_name = CALLERS[case]
    agi_base = bridge(transport, mode)
    result = asterisk.call("cid", caller_num=number, caller_name=TRUNK_NAME, agi_base=agi_base, timeout=15)
    assert result.vars["ITFLOW_CID_STATUS"] == "FOUND", result.log
    assert result.vars["CALLERID_NAME"] == (v1_name if mode == "v1" else legacy_name)


@pytest.mark.parametrize("transport", ["fastagi", "classic"])
def test_nobody_keeps_the_trunk_name(asterisk: AsteriskHarness, bridge, mode, transport) -> None:
    agi_base = bridge(transport, mode)
    result = asterisk.call("cid", caller_num="+15550009999", caller_name="Some Caller", agi_base=agi_base,
                           timeout=15)
    assert (result.vars["ITFLOW_CID_STATUS"], result.vars["CALLERID_NAME"]) == ("NOTFOUND", "Some Caller")


@pytest.mark.parametrize("client, expected", [
    ("1", {"v1": ("OK", "1700.50", "USD"), "legacy": ("OK", "1700.50", "USD")}),
    ("3", {"v1": ("OK", "1150.75", "EUR"), "legacy": ("OK", "1150.75", "USD")}),  # legacy: default currency
    ("2", {"v1": ("UNAVAILABLE", "", ""), "legacy": ("OK", "600.00", "USD")}),    # part-paid invoice
])
def test_balance_ivr_on_real_itflow(asterisk: AsteriskHarness, bridge, prompts, mode, client, expected) -> None:
    agi_base = bridge("fastagi", mode)
    result = asterisk.call("balance", caller_num="5551234567", agi_base=agi_base, dtmf="2:%s#|8:*" % client,
                           timeout=40)
    status, amount, currency = expected[mode]
    assert result.vars["ITFLOW_BALANCE_STATUS"] == status, result.log
    assert (result.vars.get("ITFLOW_BALANCE", ""), result.vars.get("ITFLOW_CURRENCY", "")) == (amount, currency)
