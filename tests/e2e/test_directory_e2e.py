"""Callers named from the local directory on the real Asterisk 22, with ITFlow stopped.

The FastAGI daemon syncs the directory itself at start-up; for the classic
scripts ``itflow-bridge sync`` runs inside the chroot, as the timer would, so
the answer book it writes belongs to the scripts' configuration.  Then ITFlow
is stopped, and every synced number must still be named, with exactly the
variables ITFlow's own answer sets (``test_callerid_e2e.FOUND``), and without
a single request to ITFlow.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
import time

import pytest

from asterisk_harness import BRIDGE_CONFIG, AsteriskHarness
from test_callerid_e2e import ANSWER, CONTACT_IDS, FOUND, LOOKUP_LINE, TRUNK_NAME, cid_call, client_page, lookup_source

pytestmark = pytest.mark.e2e

SYNC_TIMEOUT = 30.0
SYNCING = {"directory": {"sync_interval": "900"}}
# What each generation's sync can copy (legacy: each client's primary contact, and vendors).
SYNCED = {
    "v1": sorted(FOUND),
    "legacy": ["contact phone, E.164", "contact phone, national", "vendor"],
}
# Stored as 01632 960123 with no country code while the PBX is in the US: kept as digits, so the
# classic answer book has no form of it; the full path finds it in the directory as ITFlow would.
FULL_PATH_ONLY = {"stored with trunk 0"}
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}  # as Asterisk's


def expected(case: str, mode: str, itflow_url: str) -> dict:
    number, v1_name, legacy_name, client_id, client_name, contact_name = FOUND[case]
    if mode == "legacy":  # the legacy API names the caller and nothing else: the directory neither
        return {"CALLERID_NAME": legacy_name, "ITFLOW_CID_STATUS": "FOUND", "ITFLOW_CLIENT_ID": "",
                "ITFLOW_CLIENT_NAME": "", "ITFLOW_CONTACT_NAME": "", "ITFLOW_CONTACT_ID": "",
                "ITFLOW_CLIENT_URL": ""}
    return {"CALLERID_NAME": v1_name, "ITFLOW_CID_STATUS": "FOUND", "ITFLOW_CLIENT_ID": client_id,
            "ITFLOW_CLIENT_NAME": client_name, "ITFLOW_CONTACT_NAME": contact_name,
            "ITFLOW_CONTACT_ID": CONTACT_IDS.get(case, ""), "ITFLOW_CLIENT_URL": client_page(itflow_url, client_id)}


def answer(result) -> dict:
    return {name: result.vars.get(name, "") for name in ANSWER}


def wait_for_sync(daemon) -> None:
    deadline = time.monotonic() + SYNC_TIMEOUT
    while "synced " not in daemon.output():
        assert time.monotonic() < deadline, "no background sync:\n%s" % daemon.output()
        assert "directory sync failed" not in daemon.output(), daemon.output()
        time.sleep(0.05)


def sync_in_the_chroot(asterisk: AsteriskHarness) -> None:
    """``itflow-bridge sync`` with the scripts' interpreter, config and (clean) environment, in their root."""
    out = subprocess.run(["chroot", str(asterisk.root), sys.executable, "-m", "itflow_bridge.cli", "sync"],
                         capture_output=True, text=True, env=CLEAN_ENV, cwd="/", timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "classic AGI answer book" in out.stdout, out.stdout


def classic_cache(asterisk: AsteriskHarness):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(asterisk.root / BRIDGE_CONFIG)
    return asterisk.root / parser["cache"]["dir"].lstrip("/")


@pytest.mark.parametrize("mode", ["v1", "legacy"])
def test_fastagi_names_synced_callers_with_itflow_stopped(asterisk, fake, daemon, mode) -> None:
    bridge = daemon(mode, **SYNCING)
    wait_for_sync(bridge)
    fake.clear_requests()
    first = cid_call(asterisk, bridge.agi_base, FOUND[SYNCED[mode][0]][0])
    assert answer(first) == expected(SYNCED[mode][0], mode, fake.url), first.log
    assert lookup_source(first) == "directory" and fake.requests == []

    fake.stop()
    for case in SYNCED[mode]:
        result = cid_call(asterisk, bridge.agi_base, FOUND[case][0], TRUNK_NAME)
        assert answer(result) == expected(case, mode, fake.url), (case, result.log)
        assert lookup_source(result) == "directory", result.log
    assert "caller-ID lookup failed" not in bridge.output()  # nothing even tried to reach ITFlow


@pytest.mark.parametrize("mode", ["v1", "legacy"])
def test_classic_scripts_name_synced_callers_with_itflow_stopped(asterisk, fake, classic, mode) -> None:
    agi_base = classic(mode)
    sync_in_the_chroot(asterisk)
    cache = classic_cache(asterisk)
    assert len(list((cache / "answers").iterdir())) == 1
    fake.clear_requests()
    first = cid_call(asterisk, agi_base, FOUND[SYNCED[mode][0]][0])
    assert answer(first) == expected(SYNCED[mode][0], mode, fake.url), first.log
    assert fake.requests == []

    fake.stop()
    for case in SYNCED[mode]:
        result = cid_call(asterisk, agi_base, FOUND[case][0], TRUNK_NAME)
        assert answer(result) == expected(case, mode, fake.url), (case, result.log)
        if case in FULL_PATH_ONLY:
            assert lookup_source(result) == "directory", result.log
        else:  # the answer book: the fast path, no bridge loaded, so no VERBOSE line from the flow
            assert not LOOKUP_LINE.findall(result.log), result.log
