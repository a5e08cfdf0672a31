"""Classic AGI calls from synced numbers: the answer book, standard library only, no ITFlow."""

import json
import os
import subprocess
import sys

import pytest

from itflow_bridge.classic.wrapper import script_text

from test_classic_script import PACKAGE_DIR, run_script

HEAVY = {"requests", "urllib3", "phonenumbers", "sqlite3", "itflow_bridge.core.config", "itflow_bridge.app"}
# number as a trunk may send it -> the name the phones show (sample data)
SYNCED = {
    "+15551234567": "Acme Corp - John Smith",
    "5551234567": "Acme Corp - John Smith",
    "15551234567": "Acme Corp - John Smith",
    "+15552220000": "Acme Corp - Acme HQ",
    "+15553330000": "Telco Supplies",
    "+4930123456": "Müller GmbH - Jürgen Müller",  # stored with its country code
    "0114930123456": "Müller GmbH - Jürgen Müller",
}
# Stored nationally without a country code (01632 960123 while the PBX is in the US): no E.164
# reading, kept as digits; the full path finds it as ITFlow would, the book cannot know the forms.
DIGITS_ONLY = ("+441632960123", "O'Brien & Sons - Plumbing - Mary O'Brien")


def cli_env(fake, tmp_path):
    return dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(tmp_path / "bridge.conf"), ITFLOW_URL=fake.url,
                ITFLOW_API_KEY=fake.api_key, ITFLOW_API_MODE="v1", ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cache"))


def sync(fake, tmp_path, budget_ms=1500, config_extra=""):
    """``itflow-bridge sync`` run the way the timer runs it: the classic scripts' config and environment."""
    conf = tmp_path / "bridge.conf"
    text = "[callerid]\nbudget_ms = %d\n%s" % (budget_ms, config_extra)  # as run_script writes it
    if not conf.exists() or conf.read_text(encoding="utf-8") != text:
        conf.write_text(text, encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "itflow_bridge.cli", "sync", "--json"], capture_output=True,
                         env=cli_env(fake, tmp_path), timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def installed_wrapper(tmp_path):
    wrapper = tmp_path / "itflow-cid.agi"
    wrapper.write_text(script_text("itflow-cid.agi", sys.executable, str(PACKAGE_DIR)), encoding="utf-8")
    return wrapper


def imported_modules(stderr):
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("number", sorted(SYNCED))
def test_a_synced_number_on_a_cold_classic_call_needs_neither_itflow_nor_the_bridge(fake_itflow, tmp_path, number):
    report = sync(fake_itflow, tmp_path)
    assert report["answer_book"]["numbers"] > 0 and report["answer_book"]["forms"] >= report["answer_book"]["numbers"]
    fake_itflow.clear_requests()
    call, _, code, stderr = run_script(fake_itflow, tmp_path, number, "WIRELESS", script=installed_wrapper(tmp_path),
                                       python_flags=("-S", "-X", "importtime"))
    assert code == 0 and "Traceback" not in stderr
    assert fake_itflow.requests == []
    assert call.variables["ITFLOW_CID_STATUS"] == "FOUND"
    assert call.variables["CALLERID(name)"] == SYNCED[number]
    assert not imported_modules(stderr) & HEAVY
    assert call.verbose == []  # the book answered, not the bridge
    assert not (tmp_path / "cache" / "replay").exists()  # nothing had to be recorded


def test_the_book_sets_exactly_what_the_full_path_and_itflow_set(fake_itflow, tmp_path):
    (tmp_path / "itflow").mkdir()
    from_itflow = {number: run_script(fake_itflow, tmp_path / "itflow", number)[0].variables
                   for number in SYNCED}  # no directory there: every answer from ITFlow
    (tmp_path / "book").mkdir()
    sync(fake_itflow, tmp_path / "book")
    from_book = {number: run_script(fake_itflow, tmp_path / "book", number)[0].variables for number in SYNCED}
    assert from_book == from_itflow


def test_without_the_book_the_full_path_answers_from_the_directory_without_requests(fake_itflow, tmp_path):
    sync(fake_itflow, tmp_path)
    for book in (tmp_path / "cache" / "answers").iterdir():
        book.unlink()
    fake_itflow.clear_requests()
    call, _, code, stderr = run_script(fake_itflow, tmp_path, "+15551234567", "WIRELESS",
                                       python_flags=("-X", "importtime"))
    assert code == 0 and fake_itflow.requests == []
    assert call.variables["CALLERID(name)"] == "Acme Corp - John Smith"
    assert any("(directory," in line for line in call.verbose), call.verbose
    assert not imported_modules(stderr) & {"requests", "urllib3"}
    second, _, _, _ = run_script(fake_itflow, tmp_path, "+15551234567", "WIRELESS")
    assert second.variables == call.variables  # replayed: the directory answer was recorded as fresh
    assert second.verbose == []


def test_an_edited_config_is_never_answered_by_the_old_book(fake_itflow, tmp_path):
    sync(fake_itflow, tmp_path)
    fake_itflow.clear_requests()
    call, _, _, _ = run_script(fake_itflow, tmp_path, "+15551234567", config_extra='prefix = "IT: "\n')
    assert call.variables["CALLERID(name)"] == "IT: Acme Corp - John Smith"  # the full path, from the directory
    assert fake_itflow.requests == []


def test_a_number_not_synced_still_asks_itflow(fake_itflow, tmp_path):
    sync(fake_itflow, tmp_path)
    contacts = fake_itflow.data["contacts"]
    contacts.append(dict(contacts[0], contact_id="9001", contact_name="Added Later", contact_phone="5554443333",
                         contact_mobile=""))
    fake_itflow.clear_requests()
    call, _, _, _ = run_script(fake_itflow, tmp_path, "+15554443333")
    assert call.variables["CALLERID(name)"] == "Acme Corp - Added Later"
    assert fake_itflow.count("/api/v1/contacts/read.php") >= 1


def test_a_resync_replaces_the_book_with_the_new_directory(fake_itflow, tmp_path):
    sync(fake_itflow, tmp_path)
    fake_itflow.data["contacts"][0]["contact_name"] = "John Renamed"
    sync(fake_itflow, tmp_path)
    assert len(list((tmp_path / "cache" / "answers").iterdir())) == 1
    call, _, _, _ = run_script(fake_itflow, tmp_path, "+15551234567")
    assert call.variables["CALLERID(name)"] == "Acme Corp - John Renamed"


def test_a_number_kept_as_digits_is_answered_by_the_full_path_without_itflow(fake_itflow, tmp_path):
    sync(fake_itflow, tmp_path)
    fake_itflow.clear_requests()
    number, name = DIGITS_ONLY
    call, _, code, stderr = run_script(fake_itflow, tmp_path, number, python_flags=("-X", "importtime"))
    assert code == 0 and fake_itflow.requests == []
    assert call.variables["CALLERID(name)"] == name
    assert not imported_modules(stderr) & {"requests", "urllib3"}


def test_the_book_sets_the_contact_id_and_the_client_page(fake_itflow, tmp_path):
    sync(fake_itflow, tmp_path)
    fake_itflow.clear_requests()
    call, _, code, _ = run_script(fake_itflow, tmp_path, "+15551234567", script=installed_wrapper(tmp_path))
    assert code == 0 and fake_itflow.requests == [] and call.verbose == []  # the book answered
    assert (call.variables["ITFLOW_CLIENT_ID"], call.variables["ITFLOW_CONTACT_ID"],
            call.variables["ITFLOW_CLIENT_URL"]) == ("1", "1", fake_itflow.url + "/agent/client_overview.php?client_id=1")
    location, _, _, _ = run_script(fake_itflow, tmp_path, "+15552220000", script=installed_wrapper(tmp_path))
    assert (location.variables["ITFLOW_CONTACT_ID"], location.variables["ITFLOW_CLIENT_URL"]) == (
        "", fake_itflow.url + "/agent/client_overview.php?client_id=1")
