"""One contract, two servers: the bridge gets the same answers from the fake and the real ITFlow.

Every test runs against the fake (``itflow_bridge.sample.fake_itflow``) and against
real ITFlow of the same generation (the legacy ``/api.php`` also as PHP 8.2 with
``display_errors=On`` and as PHP 8.0), with literal expectations: when the real
ITFlow disagrees, the fake is what gets fixed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from itflow_bridge.app import Bridge
from itflow_bridge.core.config import load_config
from itflow_bridge.core.errors import ITFlowAuthError, ITFlowNotSupported
from itflow_bridge.itflow import v1_reader
from itflow_bridge.itflow.script_features import script_features


def make_bridge(backend, tmp_path: Path, mode: str, key: str = "") -> Bridge:
    tmp_path.mkdir(parents=True, exist_ok=True)
    conf = tmp_path / "bridge.conf"
    conf.write_text("", encoding="utf-8")
    return Bridge(load_config(env={
        "ITFLOW_BRIDGE_CONFIG": str(conf),
        "ITFLOW_URL": backend.url,
        "ITFLOW_API_KEY": key or backend.key,
        "ITFLOW_API_MODE": mode,
        "ITFLOW_BRIDGE_CACHE_DIR": str(tmp_path / "cache"),
    }))


@pytest.fixture
def bridges(tmp_path):
    made = []

    def make(backend, mode, key=""):
        bridge = make_bridge(backend, tmp_path / ("b%d" % len(made)), mode, key)
        made.append(bridge)
        return bridge

    yield make
    for bridge in made:
        bridge.close()


def cli(backend, tmp_path: Path, *args: str, mode: str = "auto", key: str = "") -> subprocess.CompletedProcess:
    conf = tmp_path / "cli.conf"
    conf.write_text("", encoding="utf-8")
    env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(conf), ITFLOW_URL=backend.url,
               ITFLOW_API_KEY=key or backend.key, ITFLOW_API_MODE=mode,
               ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cli-cache"))
    return subprocess.run([sys.executable, "-m", "itflow_bridge.cli", *args], capture_output=True, text=True,
                          env=env, timeout=60)


# --- legacy /api.php: caller ID, all three PHP behaviours --------------------------------------

LEGACY_CALLERS = [
    ("5551234567", "John Smith"),              # contact phone, national
    ("5559876543", "Jane Doe"),                # contact mobile
    ("5552220000", "Acme HQ"),                 # location
    ("1632960999", "O'Brien & Sons - Yard"),   # location whose name holds " - "
    ("5553330000", "Telco Supplies"),          # vendor
    ("5558880000", "AT&T"),                    # vendor, name not escaped anywhere
    ("5556660000", "Old Timer"),               # archived contact: still found
    ("01632960123", "Mary O'Brien"),           # stored 01632960123, sent with the trunk 0
    ("1632960123", "Mary O'Brien"),            # ... and without: intval() drops leading zeros
    ("4930123456", "Jürgen Müller"),           # country code typed into the phone field
    ("301234567", "Klaus Weber"),              # stored 0301234567
    ("01511234567", "Klaus Weber"),            # a mobile with trunk 0
    ("5550009999", None),                      # nobody
    ("15551234567", None),                     # +1 in front: another number to intval()
]


@pytest.mark.parametrize("digits, name", LEGACY_CALLERS, ids=[d for d, _ in LEGACY_CALLERS])
def test_legacy_caller_id(legacy, bridges, digits, name):
    match = bridges(legacy, "legacy").adapter().find_caller(digits)
    assert (match.name if match else None) == name
    if match:
        assert (match.kind, match.client_id, match.matched_number) == ("unknown", None, digits)


@pytest.mark.parametrize("client_id, amount, confirmed", [
    (1, "1700.50", True),       # Sent + Viewed; Paid, Draft and Cancelled do not count
    (2, "600.00", True),        # part-paid invoice: 1000 - 400
    (3, "1150.75", True),
    (4, "-25.50", True),        # overpaid: a credit
    (7, "12.50", True),
    (8, "1000000.01", True),
    (6, "0.00", False),         # no invoices: reads like an unknown client
    (999, "0.00", False),       # unknown client
])
def test_legacy_balance(legacy_82, bridges, client_id, amount, confirmed):
    balance = bridges(legacy_82, "legacy").adapter().get_balance(client_id)
    assert (balance.amount, balance.client_confirmed, balance.currency) == (Decimal(amount), confirmed, None)


@pytest.mark.parametrize("which", ["wrong", "expired"])
def test_legacy_refused_keys(legacy, bridges, which):
    key = legacy.wrong_key if which == "wrong" else legacy.expired_key
    with pytest.raises(ITFlowAuthError) as info:
        bridges(legacy, "legacy", key=key).adapter().find_caller("5551234567")
    assert info.value.reason == "invalid"


def test_legacy_cannot_verify_callers(legacy_82, bridges):
    adapter = bridges(legacy_82, "legacy").adapter()
    with pytest.raises(ITFlowNotSupported):
        adapter.client_contacts(1)
    with pytest.raises(ITFlowNotSupported):
        adapter.client_phone_numbers(1)


def test_legacy_phonebook_and_primary_contacts(legacy_82, bridges):
    adapter = bridges(legacy_82, "legacy").adapter()
    book = [(entry.name, entry.number, entry.group) for entry in adapter.phonebook()]
    assert ("John Smith", "5551234567", "client") in book and ("AT&T", "5558880000", "vendor") in book
    assert ("Jürgen Müller", "4930123456", "client") in book
    emails = {(e.client_name, e.contact_name, e.email) for e in script_features(adapter).contact_emails()}
    assert ("O'Brien & Sons - Plumbing", "Mary O'Brien", "mary@obrien.example") in emails
    numbers = adapter.primary_contact_numbers()
    assert {"client_name": "Acme Corp", "contact_name": "John Smith", "phone": "5551234567", "mobile": ""} in numbers
    assert len(numbers) == 8  # one line per client, with or without a primary contact


# --- JSON /api/v1 ----------------------------------------------------------------------------

V1_CALLERS = [
    # digits, (kind, name, client id, client name)
    ("5551234567", ("contact", "John Smith", 1, "Acme Corp")),
    ("5559876543", ("contact", "Jane Doe", 1, "Acme Corp")),              # mobile
    ("5556660000", ("contact", "Old Timer", 5, "Archived Ltd")),          # archived contact, archived client
    ("01632960123", ("contact", "Mary O'Brien", 2, "O'Brien & Sons - Plumbing")),
    ("1632960123", None),                                                  # exact match only: no trunk 0, no hit
    ("4930123456", ("contact", "Jürgen Müller", 3, "Müller GmbH")),
    ("0301234567", ("contact", "Klaus Weber", 3, "Müller GmbH")),          # country code in its own column
    ("301234567", None),
    ("49301234567", None),                                                 # the country code is not in contact_phone
    ("01511234567", ("contact", "Klaus Weber", 3, "Müller GmbH")),         # mobile
    ("7700900123", ("contact", "Fiona Byrne", 2, "O'Brien & Sons - Plumbing")),
    ("5552220000", ("location", "Acme HQ", 1, "Acme Corp")),
    ("0897654321", ("location", "Müller Lager", 3, "Müller GmbH")),
    ("5553330000", ("vendor", "Telco Supplies", None, None)),
    ("5558880000", ("vendor", "AT&T", None, None)),
    ("5550009999", None),
]


@pytest.mark.parametrize("digits, expected", V1_CALLERS, ids=[d for d, _ in V1_CALLERS])
def test_v1_caller_id(v1, bridges, digits, expected):
    match = bridges(v1, "v1").adapter().find_caller(digits)
    got = (match.kind, match.name, match.client_id, match.client_name) if match else None
    assert got == expected


@pytest.mark.parametrize("client_id, amount, currency", [
    (1, "1700.50", "USD"),
    (3, "1150.75", "EUR"),
    (7, "12.50", "GBP"),
    (8, "1000000.01", "USD"),
    (4, "0.00", "USD"),   # overpaid: the JSON API cannot see payments, so no credit shows
    (6, "0.00", "USD"),   # no invoices
])
def test_v1_balance(v1, bridges, client_id, amount, currency):
    balance = bridges(v1, "v1").adapter().get_balance(client_id)
    assert (balance.amount, balance.currency, balance.client_confirmed) == (Decimal(amount), currency, True)


def test_v1_balance_with_a_part_paid_invoice_is_unavailable(v1, bridges):
    with pytest.raises(ITFlowNotSupported, match="part-paid"):
        bridges(v1, "v1").adapter().get_balance(2)


def test_v1_balance_of_an_unknown_client_is_none(v1, bridges):
    assert bridges(v1, "v1").adapter().get_balance(999) is None


def test_v1_verification_data(v1, bridges):
    adapter = bridges(v1, "v1").adapter()
    contacts = adapter.client_contacts(1)
    assert [(c.name, c.pin, c.phone, c.mobile, c.primary) for c in contacts] == [
        ("John Smith", "1234", "5551234567", "", True), ("Jane Doe", "", "", "5559876543", False)]
    assert adapter.client_phone_numbers(1) == ["5551234567", "5559876543", "5552220000", "5552220001"]
    weber = [c for c in adapter.client_contacts(3) if c.name == "Klaus Weber"]
    assert [(c.pin, c.phone, c.mobile) for c in weber] == [("4711", "0301234567", "01511234567")]
    assert adapter.client_phone_numbers(3) == ["4930123456", "0301234567", "01511234567", "0897654321"]
    assert [c.archived for c in adapter.client_contacts(5)] == [True]


def test_v1_clients(v1, bridges):
    adapter = bridges(v1, "v1").adapter()
    assert [(c.name, c.currency, c.archived) for c in (adapter.get_client(i) for i in (1, 3, 5))] == [
        ("Acme Corp", "USD", False), ("Müller GmbH", "EUR", False), ("Archived Ltd", "USD", True)]
    assert adapter.get_client(999) is None


@pytest.mark.parametrize("page_size", [7, 50])
def test_v1_paging_over_many_pages(v1, bridges, monkeypatch, page_size):
    monkeypatch.setattr(v1_reader, "PAGE_SIZE", page_size)
    adapter = bridges(v1, "v1").adapter()
    contacts = list(adapter.read_all("contacts"))
    assert [int(row["contact_id"]) for row in contacts] == list(range(1, 70))
    assert len(adapter.client_contacts(6)) == 60
    assert [int(row["invoice_id"]) for row in adapter.read_all("invoices")] == list(range(1, 11))


@pytest.mark.parametrize("which, reason", [
    ("wrong", "invalid"), ("expired", "invalid"), ("not_tied", "not_tied_to_user"), ("user_gone", "user_invalid"),
])
def test_v1_refused_keys(v1, bridges, which, reason):
    key = {"wrong": lambda: v1.wrong_key, "expired": lambda: v1.expired_key,
           "not_tied": v1.not_tied_key, "user_gone": v1.user_gone_key}[which]()
    with pytest.raises(ITFlowAuthError) as info:
        bridges(v1, "v1", key=key).adapter().find_caller("5551234567")
    assert info.value.reason == reason


# --- both generations: detection, command line, demo -----------------------------------------------


def test_auto_detects_the_generation(any_backend, bridges):
    assert bridges(any_backend, "auto").client.generation == any_backend.generation


@pytest.mark.parametrize("number, legacy_out, v1_out", [
    ("+15551234567", "John Smith", "Acme Corp - John Smith"),
    ("5559876543", "Jane Doe", "Acme Corp - Jane Doe"),
    ("+441632960123", "Mary O'Brien", "O'Brien & Sons - Plumbing - Mary O'Brien"),
    ("+49301234567", "Klaus Weber", "Müller GmbH - Klaus Weber"),
    ("+15552220000", "Acme HQ", "Acme Corp - Acme HQ"),
])
def test_cli_lookup(any_backend, tmp_path, number, legacy_out, v1_out):
    out = cli(any_backend, tmp_path, "lookup", number)
    expected = legacy_out if any_backend.generation == "legacy" else v1_out
    assert (out.returncode, out.stdout, out.stderr) == (0, expected + "\n", "")


def test_cli_lookup_miss(any_backend, tmp_path):
    out = cli(any_backend, tmp_path, "lookup", "+15550009999")
    assert (out.returncode, out.stdout) == (1, "")


@pytest.mark.parametrize("client_id, legacy_out, v1_out", [
    ("1", ("1700.50\n", 0), ("1700.50 USD\n", 0)),
    ("3", ("1150.75\n", 0), ("1150.75 EUR\n", 0)),
    ("2", ("600.00\n", 0), ("", 1)),          # part-paid: only legacy can know
    ("4", ("-25.50\n", 0), ("0.00 USD\n", 0)),
    ("999", ("0.00\n", 0), ("", 1)),  # legacy answers 0 for a client it does not have
])
def test_cli_balance(any_backend, tmp_path, client_id, legacy_out, v1_out):
    out = cli(any_backend, tmp_path, "balance", client_id, mode=any_backend.generation)
    assert (out.stdout, out.returncode) == (legacy_out if any_backend.generation == "legacy" else v1_out)


def test_cli_check_all_well(any_backend, tmp_path):
    out = cli(any_backend, tmp_path, "check", "--json")
    report = json.loads(out.stdout)
    assert (out.returncode, report["ok"], report["generation"]) == (0, True, any_backend.generation)


@pytest.mark.parametrize("which, words", [("wrong", "Admin > API Keys"), ("expired", "Admin > API Keys"),
                                          ("not_tied", "predates")])
def test_cli_check_explains_key_problems(v1, tmp_path, which, words):
    key = {"wrong": lambda: v1.wrong_key, "expired": lambda: v1.expired_key, "not_tied": v1.not_tied_key}[which]()
    out = cli(v1, tmp_path, "check", key=key)
    assert out.returncode == 2 and words in out.stdout
    assert key not in out.stdout + out.stderr


def test_cli_check_legacy_mode_on_current_itflow(v1, tmp_path):
    out = cli(v1, tmp_path, "check", mode="legacy")
    assert out.returncode == 2 and "api_mode = v1" in out.stdout


def test_demo_calls(any_backend, bridges):
    from itflow_bridge.agi.fastagi import FastAGIServer
    from itflow_bridge.sample.demo import BALANCE_CALLS, CALLS
    from itflow_bridge.routes import routes
    from itflow_bridge.sample.simulated_asterisk import simulate_call

    bridge = bridges(any_backend, any_backend.generation)
    server = FastAGIServer(routes(bridge), "127.0.0.1", 0).start()
    host, port = server.server_address[:2]
    try:
        shown = [(number, simulate_call(host, port, "itflow-cid.agi", caller_num=number, caller_name=trunk)
                  .variables.get("CALLERID(name)", trunk)) for number, trunk, _ in CALLS]
        heard = [simulate_call(host, port, "itflow-balance.agi", caller_num="5551234567", dtmf=keys)
                 .variables.get("ITFLOW_BALANCE_STATUS") for keys, _, _ in BALANCE_CALLS]
    finally:
        server.shutdown()
    names = {"legacy": ["John Smith", "Jane Doe", "Acme HQ", "Telco Supplies", "Mary O'Brien"],
             "v1": ["Acme Corp - John Smith", "Acme Corp - Jane Doe", "Acme Corp - Acme HQ", "Telco Supplies",
                    "O'Brien & Sons - Plumbing - Mary O'Brien"]}[any_backend.generation]
    assert [name for _, name in shown] == names + ["Some Caller", "", names[0]]
    # Legacy's 0 for the unknown client 77 is never spoken: unavailable, not cancelled.
    assert heard == {"legacy": ["OK", "OK", "OK", "OK", "UNAVAILABLE"],
                     "v1": ["OK", "OK", "OK", "UNAVAILABLE", "CANCELLED"]}[any_backend.generation]
