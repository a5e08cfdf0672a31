"""`itflow-bridge serve` as shipped: a real process, real sockets, SIGTERM lets calls finish."""

import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

from itflow_bridge.sample.simulated_asterisk import simulate_call
from polling import wait_for
from serve_process import start_serve, stop

CONTACTS = "/api/v1/contacts/read.php"


@pytest.fixture
def daemon(fake_itflow, tmp_path):
    # No background sync: these calls are about ITFlow's answers (the local directory would name them).
    proc, port, _ = start_serve(fake_itflow, tmp_path, '[callerid]\nbudget_ms = 3000\n[directory]\nsync_interval = 0\n')
    yield proc, port
    stop(proc)


def test_serves_calls(daemon):
    proc, port = daemon
    call = simulate_call("127.0.0.1", port, "itflow-cid.agi", caller_num="+15551234567")
    assert call.variables["CALLERID(name)"] == "Acme Corp - John Smith"


def test_sigterm_finishes_the_call_in_progress_then_exits(daemon, fake_itflow):
    proc, port = daemon
    fake_itflow.set_fault("slow", delay=1.0)
    results = []
    caller = threading.Thread(target=lambda: results.append(
        simulate_call("127.0.0.1", port, "itflow-cid.agi", caller_num="+15559876543")))
    caller.start()
    wait_for(lambda: fake_itflow.count(CONTACTS, contact_phone_or_mobile="5559876543") == 1,
             "the call's lookup to reach ITFlow")  # it now waits on the slow answer
    proc.send_signal(signal.SIGTERM)
    caller.join(timeout=15)
    assert results and results[0].variables["ITFLOW_CID_STATUS"] == "FOUND"
    assert proc.wait(timeout=15) == 0
    stderr = proc.stderr.read().decode()
    assert "Traceback" not in stderr and fake_itflow.api_key not in stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5)


def test_refuses_to_start_without_itflow_settings(tmp_path):
    conf = tmp_path / "empty.conf"
    conf.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITFLOW")}
    env["ITFLOW_BRIDGE_CONFIG"] = str(conf)
    out = subprocess.run([sys.executable, "-m", "itflow_bridge.cli", "serve", "--port", "0"],
                         capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 3 and "[itflow] url is not set" in out.stderr
