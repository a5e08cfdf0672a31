"""The admin's command line, run as a real process against the fake ITFlow."""

import json
import os
import subprocess
import sys

import pytest


def run(fake, tmp_path, *args, mode="auto", key=None, url=None, extra_env=None):
    conf = tmp_path / "bridge.conf"
    if not conf.exists():
        conf.write_text("", encoding="utf-8")
    env = dict(os.environ)
    env.update({
        "ITFLOW_BRIDGE_CONFIG": str(conf),
        "ITFLOW_URL": url or fake.url,
        "ITFLOW_API_KEY": key or fake.api_key,
        "ITFLOW_API_MODE": mode,
        "ITFLOW_BRIDGE_CACHE_DIR": str(tmp_path / "cache"),
    })
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "itflow_bridge.cli", *args], capture_output=True, text=True,
                          env=env, timeout=60)


@pytest.mark.parametrize("mode", ["v1", "legacy", "auto"])
def test_lookup_prints_exactly_the_display_name(fake_itflow, tmp_path, mode):
    out = run(fake_itflow, tmp_path, "lookup", "+15551234567", mode=mode)
    expected = "John Smith" if mode == "legacy" else "Acme Corp - John Smith"
    assert (out.returncode, out.stdout, out.stderr) == (0, expected + "\n", "")


def test_lookup_miss_prints_nothing_and_exits_1(fake_itflow, tmp_path):
    out = run(fake_itflow, tmp_path, "lookup", "5550009999")
    assert (out.returncode, out.stdout) == (1, "")


def test_lookup_of_a_withheld_number_is_an_error(fake_itflow, tmp_path):
    out = run(fake_itflow, tmp_path, "lookup", "anonymous")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert fake_itflow.count("/api") == 0


def test_second_lookup_in_a_new_process_comes_from_sqlite(fake_itflow, tmp_path):
    run(fake_itflow, tmp_path, "lookup", "5551234567", mode="v1")
    fake_itflow.clear_requests()
    out = run(fake_itflow, tmp_path, "lookup", "5551234567", "--json", mode="v1")
    result = json.loads(out.stdout)
    assert (result["status"], result["source"], result["display_name"]) == ("FOUND", "cache", "Acme Corp - John Smith")
    assert fake_itflow.requests == []


def test_auto_mode_detects_once_and_remembers(fake_itflow_legacy, tmp_path):
    run(fake_itflow_legacy, tmp_path, "lookup", "5551234567")
    fake_itflow_legacy.clear_requests()
    run(fake_itflow_legacy, tmp_path, "lookup", "5552220000")
    assert fake_itflow_legacy.count("/api/v1") == 0  # generation came from the persistent cache


@pytest.mark.parametrize("client_id, mode, stdout, code", [
    ("1", "v1", "1700.50 USD\n", 0),
    ("3", "v1", "1150.75 EUR\n", 0),
    ("1", "legacy", "1700.50\n", 0),
    ("4", "legacy", "-25.50\n", 0),
    ("2", "v1", "", 1),      # part-paid invoice: not knowable from the JSON API
    ("999", "v1", "", 1),    # no such client
])
def test_balance(fake_itflow, tmp_path, client_id, mode, stdout, code):
    out = run(fake_itflow, tmp_path, "balance", client_id, mode=mode)
    assert (out.stdout, out.returncode) == (stdout, code)


def test_balance_rejects_a_non_number(fake_itflow, tmp_path):
    out = run(fake_itflow, tmp_path, "balance", "12abc")
    assert out.returncode == 2 and "positive whole number" in out.stderr


def test_balance_failure_exits_2_with_one_line(fake_itflow, tmp_path):
    fake_itflow.set_fault("500_empty")
    out = run(fake_itflow, tmp_path, "balance", "1", mode="v1")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_invalid_config_is_one_line_no_traceback(fake_itflow, tmp_path):
    out = run(fake_itflow, tmp_path, "lookup", "5551234567", extra_env={"ITFLOW_API_MODE": "soap"})
    assert out.returncode == 3
    assert out.stderr.strip().splitlines() == [
        "itflow-bridge: [itflow] api_mode = 'soap' from environment variable ITFLOW_API_MODE is invalid: "
        "use auto, legacy or v1"]


@pytest.mark.parametrize("mode", ["v1", "legacy"])
def test_check_all_well(fake_itflow, tmp_path, mode):
    out = run(fake_itflow, tmp_path, "check", "--json", mode=mode)
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["ok"] and report["generation"] == mode


@pytest.mark.parametrize("fault, words", [
    ("bad_key", "recreate" if False else "Admin > API Keys"),
    ("key_not_tied", "predates"),
    ("key_user_invalid", "create a key for an active user"),
])
def test_check_explains_key_problems(fake_itflow_v1, tmp_path, fault, words):
    fake_itflow_v1.set_fault(fault)
    out = run(fake_itflow_v1, tmp_path, "check")
    assert out.returncode == 2 and words in out.stdout


def test_check_legacy_mode_on_a_current_itflow(fake_itflow_v1, tmp_path):
    out = run(fake_itflow_v1, tmp_path, "check", mode="legacy")
    assert out.returncode == 2 and "api_mode = v1" in out.stdout


def test_check_wrong_url(fake_itflow, tmp_path):
    out = run(fake_itflow, tmp_path, "check", url=fake_itflow.url + "/nothing-here")
    assert out.returncode == 2 and "[FAIL] API generation" in out.stdout and "check [itflow] url" in out.stdout


def test_check_nothing_listening(fake_itflow, tmp_path):
    fake_itflow.set_fault("refuse")
    out = run(fake_itflow, tmp_path, "check")
    assert out.returncode == 2 and "firewall" in out.stdout


@pytest.mark.parametrize("fault", ["refuse", "500_empty", "garbage", "bad_key", "redirect_login", "truncated"])
def test_the_api_key_never_appears_in_any_output(fake_itflow, tmp_path, fault):
    fake_itflow.set_fault(fault)
    outputs = []
    for args in (("-v", "lookup", "5551234567"), ("-v", "balance", "1"), ("-v", "check", "--json")):
        for mode in ("v1", "legacy"):
            out = run(fake_itflow, tmp_path, *args, mode=mode)
            outputs.append(out.stdout + out.stderr)
    text = "\n".join(outputs)
    assert fake_itflow.api_key not in text
    assert "api_key=" not in text or "api_key=***" in text
