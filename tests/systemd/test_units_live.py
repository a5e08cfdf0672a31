"""The life of one installation under a real systemd, in order: install, restarts, a second
install, restarts and an upgrade with calls arriving all along, the classic transport, uninstall.

Each test starts from where the previous one left the PBX (the ``pbx`` fixture is per module).
"""

from __future__ import annotations

import re
from typing import Dict, Tuple

import pytest

from itflow_bridge import __version__

from systemd_pbx import BRIDGE, FAKE_KEY, FAKE_URL, FASTAGI_PORT, PBX, bumped

SERVICE, SOCKET = "itflow-bridge.service", "itflow-bridge.socket"
SYNC_SERVICE, SYNC_TIMER = "itflow-bridge-sync.service", "itflow-bridge-sync.timer"
UNIT_DIR = "/etc/systemd/system"
CONFIG = "/etc/itflow-bridge/itflow-bridge.conf"
ANSWERS = "/var/cache/itflow-bridge/answers"
MAX_EXPOSURE = 1.7
EXPOSURE = re.compile(r"Overall exposure level for \S+: ([0-9.]+)")

before_install: Dict[str, Tuple] = {}


def assert_daemon_answers(pbx: PBX) -> None:
    assert pbx.call().get("ITFLOW_CID_STATUS") == "FOUND", pbx.describe()


def assert_hardened(pbx: PBX, unit: str) -> None:
    """``systemd-analyze verify`` says nothing, ``security`` stays at or below the promised exposure."""
    verify = pbx.analyze("verify", UNIT_DIR + "/" + unit)
    assert verify.returncode == 0 and not (verify.stdout + verify.stderr).strip(), verify.stdout + verify.stderr
    security = pbx.analyze("security", unit)
    found = EXPOSURE.search(security.stdout)
    assert found, security.stdout + security.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, security.stdout


def wait_restarted(pbx: PBX, before: Tuple[str, str]) -> None:
    pbx.wait_for("the daemon to be back", lambda: pbx.main_process() != before
                 and pbx.show(SERVICE, "ActiveState") == "active" and pbx.main_process()[0] != "0")


def test_install_runs_the_daemon_as_asterisk_and_it_answers(pbx: PBX) -> None:
    before_install.update(pbx.snapshot())
    result = pbx.install_bundle(__version__, "--", "--url", FAKE_URL, "--api-key", FAKE_KEY)
    assert "itflow-bridge " + __version__ in result.stdout
    assert "transport: fastagi" in result.stdout
    assert FAKE_KEY not in result.stdout + result.stderr
    for unit in (SOCKET, SERVICE):
        assert pbx.show(unit, "ActiveState") == "active", pbx.describe()
        assert pbx.show(unit, "UnitFileState") == "enabled"
    assert pbx.show(SERVICE, "Type") == "notify"
    assert pbx.show(SOCKET, "Listen") == "127.0.0.1:%d (Stream)" % FASTAGI_PORT
    pid = pbx.show(SERVICE, "MainPID")
    status = pbx.container.run("cat", "/proc/%s/status" % pid).stdout
    assert pbx.container.run("ps", "-o", "user=", "-p", pid).stdout.strip() == "asterisk"
    assert re.search(r"(?m)^CapEff:\s+0+$", status), status
    assert_daemon_answers(pbx)
    assert_hardened(pbx, SERVICE)
    verify = pbx.analyze("verify", UNIT_DIR + "/" + SOCKET)
    assert not (verify.stdout + verify.stderr).strip(), verify.stdout + verify.stderr


def test_daemon_logs_to_the_journal_with_priorities_and_no_second_timestamp(pbx: PBX) -> None:
    entries = pbx.journal(SERVICE)
    listening = [entry for entry in entries if "FastAGI listening on" in entry.get("MESSAGE", "")]
    assert listening, entries
    assert listening[-1]["PRIORITY"] == "6"
    assert listening[-1]["MESSAGE"].startswith("itflow_bridge"), listening[-1]  # no time, no <6> left in it
    assert not any(FAKE_KEY in entry.get("MESSAGE", "") for entry in entries)


def test_restart_and_sigkill_bring_the_daemon_back(pbx: PBX) -> None:
    before = pbx.main_process()
    pbx.container.run("systemctl", "restart", SERVICE)
    assert pbx.main_process() != before
    assert pbx.show(SERVICE, "ActiveState") == "active"  # Type=notify: active means answering
    assert_daemon_answers(pbx)

    before = pbx.main_process()
    pbx.container.run("kill", "-KILL", before[0])
    wait_restarted(pbx, before)
    assert_daemon_answers(pbx)


def test_second_install_changes_nothing_and_leaves_the_daemon_running(pbx: PBX) -> None:
    before = pbx.main_process()
    result = pbx.install()
    cache = pbx.container.run("ls", "-lan", "/var/cache/itflow-bridge").stdout
    assert "nothing to change: already installed as wanted" in result.stdout, result.stdout + cache
    assert "restarted" not in result.stdout
    assert pbx.main_process() == before
    assert_daemon_answers(pbx)


def test_restart_refuses_no_call(pbx: PBX) -> None:
    outcome: dict = {}
    before = pbx.main_process()
    with pbx.calls_every_10ms(outcome):
        pbx.container.run("systemctl", "restart", SERVICE)
        wait_restarted(pbx, before)
    assert outcome["placed"] > 10, outcome
    assert outcome["refused"] == 0 and outcome["unanswered"] == 0, outcome
    assert outcome["answered"] == outcome["placed"], outcome
    assert outcome["statuses"] == {"FOUND": outcome["placed"]}, outcome


def test_upgrade_refuses_no_call_and_keeps_config_and_transport(pbx: PBX) -> None:
    config = pbx.container.path(CONFIG).read_bytes()
    new = bumped(__version__)
    outcome: dict = {}
    before = pbx.main_process()
    with pbx.calls_every_10ms(outcome):
        result = pbx.install_bundle(new, "--")  # the new bundle's install.sh, then a bare install
        wait_restarted(pbx, before)
    assert "transport: fastagi" in result.stdout and "restarted" in result.stdout, result.stdout
    assert outcome["refused"] == 0 and outcome["unanswered"] == 0, outcome
    assert outcome["answered"] == outcome["placed"] > 10, outcome
    assert pbx.container.run(BRIDGE, "--version").stdout.strip() == "itflow-bridge " + new
    assert pbx.container.path(CONFIG).read_bytes() == config
    assert pbx.show(SOCKET, "ActiveState") == "active"
    assert_daemon_answers(pbx)


def test_classic_transport_arms_the_timer_and_the_first_sync_writes_the_answer_book(pbx: PBX) -> None:
    result = pbx.install("--transport", "classic")
    assert "transport: classic" in result.stdout
    for unit in (SERVICE, SOCKET):
        assert not pbx.container.path(UNIT_DIR + "/" + unit).exists()
        assert pbx.show(unit, "ActiveState") == "inactive"
    assert pbx.container.run("ss", "-Hltn", "sport = :%d" % FASTAGI_PORT).stdout.strip() == ""
    assert pbx.show(SYNC_TIMER, "ActiveState") == "active"
    assert pbx.show(SYNC_TIMER, "UnitFileState") == "enabled"
    assert pbx.show(SYNC_SERVICE, "ExecMainStartTimestampMonotonic") == "0"  # it has never run
    run = pbx.container.run("systemctl", "start", SYNC_SERVICE, check=False)  # the timer's first run, now
    assert run.returncode == 0, run.stderr + pbx.describe()
    assert pbx.show(SYNC_SERVICE, "Result") == "success"
    assert pbx.show(SYNC_SERVICE, "ExecMainStatus") == "0"
    answers = pbx.container.path(ANSWERS)
    assert answers.is_dir() and any(path.is_file() for path in answers.iterdir()), pbx.describe()
    assert_hardened(pbx, SYNC_SERVICE)
    verify = pbx.analyze("verify", UNIT_DIR + "/" + SYNC_TIMER)
    assert not (verify.stdout + verify.stderr).strip(), verify.stdout + verify.stderr


def test_uninstall_leaves_no_unit_and_restores_every_file(pbx: PBX) -> None:
    assert before_install, "runs after the install test"
    pbx.install("--uninstall")
    units = pbx.container.run("systemctl", "list-unit-files", "--no-legend", "itflow-bridge*", check=False).stdout
    assert units.strip() == ""
    for unit in (SERVICE, SOCKET, SYNC_TIMER, SYNC_SERVICE):
        assert pbx.show(unit, "ActiveState") == "inactive"
    after = pbx.snapshot()
    changed = sorted(path for path in set(before_install) | set(after)
                     if before_install.get(path) != after.get(path))
    assert changed == [], changed


@pytest.fixture(autouse=True)
def _module_order_guard(request: pytest.FixtureRequest) -> None:
    """These tests tell one story: run alone, a later test would start from a PBX it does not expect."""
    if request.node.name != "test_install_runs_the_daemon_as_asterisk_and_it_answers" and not before_install:
        pytest.fail("run the whole module: this test continues from the install test", pytrace=False)
