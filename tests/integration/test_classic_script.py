"""The classic AGI script as Asterisk runs it: a new process, pipes, SIGHUP at the end."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import itflow_bridge
from itflow_bridge.storage.cache import Cache
from itflow_bridge.classic.wrapper import script_text
from itflow_bridge.core.config import ITFlowSettings
from itflow_bridge.storage.identity import cache_scope
from itflow_bridge.sample.simulated_asterisk import SimulatedCall, answer, environment, tokenize
from polling import wait_for

SCRIPT = Path(__file__).resolve().parents[2] / "agi" / "itflow-cid.agi"
PACKAGE_DIR = Path(itflow_bridge.__file__).resolve().parents[1]


def run_script(fake, tmp_path, number, name="", budget_ms=1500, sighup_after_eof=True, config_extra="", python_flags=(),
               script=SCRIPT):
    conf = tmp_path / "bridge.conf"
    text = "[callerid]\nbudget_ms = %d\n%s" % (budget_ms, config_extra)
    if not conf.exists() or conf.read_text(encoding="utf-8") != text:
        conf.write_text(text, encoding="utf-8")
    env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(conf), ITFLOW_URL=fake.url, ITFLOW_API_KEY=fake.api_key,
               ITFLOW_API_MODE="v1", ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen([sys.executable, *python_flags, str(script)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    started = time.monotonic()
    proc.stdin.write(environment("itflow-cid.agi", number, name, 0))
    proc.stdin.flush()
    call = SimulatedCall()
    for raw in proc.stdout:  # until the script closes its end, as Asterisk reads until EOF
        proc.stdin.write((answer(tokenize(raw.decode().rstrip("\n")), call, []) + "\n").encode())
        proc.stdin.flush()
    if sighup_after_eof and proc.poll() is None:
        proc.send_signal(signal.SIGHUP)  # what res_agi does when the script's output closes
    proc.stdin.close()
    proc.wait(timeout=30)
    call_time = time.monotonic() - started  # res_agi waits for the process before the dialplan goes on
    return call, call_time, proc.returncode, proc.stderr.read().decode()


def test_found_through_a_real_process(fake_itflow, tmp_path):
    call, _, code, stderr = run_script(fake_itflow, tmp_path, "+15551234567")
    assert call.variables["CALLERID(name)"] == "Acme Corp - John Smith"
    assert call.variables["ITFLOW_CID_STATUS"] == "FOUND"
    assert code == 0 and "Traceback" not in stderr


def test_late_answer_is_cached_after_the_call_went_on_despite_sighup(fake_itflow, tmp_path):
    """The script exits at the budget (res_agi waits for it); a detached process caches the answer."""
    fake_itflow.set_fault("held")  # ITFlow answers nothing until the script has exited
    call, _, code, stderr = run_script(fake_itflow, tmp_path, "5551234567", budget_ms=300)
    scope = cache_scope(ITFlowSettings(url=fake_itflow.url, api_key=fake_itflow.api_key, api_mode="v1"), None)
    assert call.variables["ITFLOW_CID_STATUS"] == "ERROR"  # the dialplan went on at the budget
    assert code == 0 and "Traceback" not in stderr
    fake_itflow.set_fault(None)  # ITFlow answers at last
    cache = Cache(tmp_path / "cache")
    wait_for(lambda: cache.get(scope + "|cid:US:5551234567") is not None,
             "the detached refresher to ask again and fill the cache")
    assert cache.get(scope + "|cid:US:5551234567").value["contact_name"] == "John Smith"


def test_missing_config_still_ends_with_a_status(fake_itflow, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[itflow]\napi_mode = nonsense\n", encoding="utf-8")
    env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(conf))
    proc = subprocess.run([sys.executable, str(SCRIPT)], input=environment("itflow-cid.agi", "5551234567", "", 0)
                          + b"200 result=1\n", capture_output=True, env=env, timeout=30)
    assert proc.stdout.decode().strip() == 'SET VARIABLE "ITFLOW_CID_STATUS" "ERROR"'
    assert proc.returncode == 0 and "api_mode" in proc.stderr.decode()


def test_a_fresh_answer_is_replayed_with_the_standard_library_only(fake_itflow, tmp_path):
    """As installed: the wrapper starts Python with -S and the package's directory on sys.path."""
    wrapper = tmp_path / "itflow-cid.agi"
    wrapper.write_text(script_text("itflow-cid.agi", sys.executable, str(PACKAGE_DIR)), encoding="utf-8")
    first, _, _, _ = run_script(fake_itflow, tmp_path, "+15551234567", "WIRELESS", python_flags=("-S",),
                                script=wrapper)
    assert first.variables["ITFLOW_CID_STATUS"] == "FOUND"  # the miss loaded site itself and ran the full path
    fake_itflow.clear_requests()
    second, _, code, stderr = run_script(fake_itflow, tmp_path, "+15551234567", "WIRELESS",
                                         python_flags=("-S", "-X", "importtime"), script=wrapper)
    assert code == 0 and fake_itflow.requests == []
    assert second.variables == first.variables and second.variables["ITFLOW_CID_STATUS"] == "FOUND"
    imported = {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}
    assert "itflow_bridge.classic.fastpath" in imported
    assert not imported & {"itflow_bridge.core.config", "itflow_bridge.routes", "requests", "cachetools", "logging",
                           "sqlite3", "json", "re", "signal", "configparser", "pathlib", "typing"}


def test_a_configuration_change_is_never_answered_by_an_old_replay(fake_itflow, tmp_path):
    run_script(fake_itflow, tmp_path, "+15551234567")
    call, _, _, _ = run_script(fake_itflow, tmp_path, "+15551234567", config_extra='prefix = "IT: "\n')
    assert call.variables["CALLERID(name)"] == "IT: Acme Corp - John Smith"


def test_only_variable_assignments_are_replayed_whatever_the_cache_file_holds(fake_itflow, tmp_path):
    run_script(fake_itflow, tmp_path, "+15551234567")
    (recorded,) = (tmp_path / "cache" / "replay").iterdir()
    lines = recorded.read_text(encoding="utf-8").splitlines()
    recorded.write_text("\n".join(lines[:3] + ['EXEC System "rm -rf /"']) + "\n", encoding="utf-8")
    fake_itflow.clear_requests()
    call, _, _, _ = run_script(fake_itflow, tmp_path, "+15551234567")
    assert not any(c.startswith("EXEC") for c in call.commands)
    assert call.variables["ITFLOW_CID_STATUS"] == "FOUND"  # the full path answered instead
    assert fake_itflow.requests == []  # ...from the cache


def test_a_cache_dir_with_a_tilde_in_the_config_file_is_replayed(fake_itflow, tmp_path):
    """The fast path finds the cache exactly where the full path put it, ``~`` included."""
    home = tmp_path / "home"
    home.mkdir()
    conf = tmp_path / "tilde.conf"
    conf.write_text("[cache]\ndir = ~/bridge-cache\n", encoding="utf-8")
    env = dict(os.environ, HOME=str(home), ITFLOW_BRIDGE_CONFIG=str(conf), ITFLOW_URL=fake_itflow.url,
               ITFLOW_API_KEY=fake_itflow.api_key, ITFLOW_API_MODE="v1")
    env.pop("ITFLOW_BRIDGE_CACHE_DIR", None)

    def call():
        proc = subprocess.Popen([sys.executable, str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        proc.stdin.write(environment("itflow-cid.agi", "+15551234567", "", 0))
        proc.stdin.flush()
        simulated = SimulatedCall()
        for raw in proc.stdout:
            proc.stdin.write((answer(tokenize(raw.decode().rstrip("\n")), simulated, []) + "\n").encode())
            proc.stdin.flush()
        proc.stdin.close()
        proc.wait(timeout=30)
        return simulated

    first = call()
    assert list((home / "bridge-cache" / "replay").iterdir())  # the full path expanded ~
    fake_itflow.clear_requests()
    second = call()
    assert second.variables == first.variables and second.variables["ITFLOW_CID_STATUS"] == "FOUND"
    assert fake_itflow.requests == []
    assert not any(c.startswith("VERBOSE") for c in second.commands)  # replayed: no full path, no VERBOSE
