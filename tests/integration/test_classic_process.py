"""run_classic in a real process: SIGHUP as Asterisk sends it, failures, EOF.

A classic AGI script is a process Asterisk starts per call and talks to over
stdin/stdout; these run the transport exactly so, driven by the scripted fake.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

from agi_script import DEAD_CHANNEL as DEAD
from agi_script import Close, FakeAsterisk
from processes import wait_until_signal_taken

TESTS_DIR = Path(__file__).resolve().parents[1]

CLASSIC_PRELUDE = (
    "import sys, logging\n"
    "sys.path.insert(0, %r)\n"
    "from itflow_bridge.agi import run_classic\n" % str(TESTS_DIR)
)

SIGHUP_PROBE = CLASSIC_PRELUDE + (
    "def handler(session):\n"
    "    session.answer()\n"
    "    print('stray print must not reach Asterisk')\n"
    "    session.verbose('hung_up=%s' % session.hung_up)\n"
    "    session.stream_file('beep')\n"
    "    session.verbose('unreachable')\n"
    "sys.exit(run_classic(handler, install_sighup=INSTALL))\n"
)


def _run_classic_script(code: str, fake: FakeAsterisk, timeout: float = 20.0):
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As Asterisk starts a script: SIGHUP at its default, whatever this test runner inherited (nohup).
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    fake.process = process
    driver = threading.Thread(target=fake.serve_pipes, args=(process.stdout, process.stdin))
    driver.start()
    try:
        return_code = process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
        driver.join(timeout=5)
    return return_code, process.stderr.read().decode("utf-8", errors="replace")


def _sighup_then(reply):
    """A fake that sends SIGHUP to the script while it waits for this reply."""

    def hang_up_then_answer(command):
        process = fake.process
        process.send_signal(signal.SIGHUP)
        wait_until_signal_taken(process, signal.SIGHUP)
        return reply

    fake = FakeAsterisk(script=[hang_up_then_answer, "200 result=1", DEAD, "200 result=1"])
    return fake


def test_classic_script_survives_sighup_and_finishes_cleanly():
    fake = _sighup_then("200 result=0")
    return_code, stderr = _run_classic_script(SIGHUP_PROBE.replace("INSTALL", "True"), fake)
    assert return_code == 0, stderr
    assert fake.words() == [
        ["ANSWER"],
        ["VERBOSE", "hung_up=True", "1"],
        ["STREAM", "FILE", "beep", ""],
    ]
    assert "stray print must not reach Asterisk" in stderr
    assert "Traceback" not in stderr


def test_without_the_handler_sighup_kills_the_script():
    fake = _sighup_then("200 result=0")
    return_code, _ = _run_classic_script(SIGHUP_PROBE.replace("INSTALL", "False"), fake)
    assert return_code == -signal.SIGHUP
    assert fake.words() == [["ANSWER"]]


def test_classic_handler_failure_is_one_log_line_and_exit_zero():
    code = CLASSIC_PRELUDE + (
        "def handler(session):\n"
        "    session.answer()\n"
        "    raise RuntimeError('lookup failed\\nsecond line')\n"
        "sys.exit(run_classic(handler))\n"
    )
    fake = FakeAsterisk(script=["200 result=0"])
    return_code, stderr = _run_classic_script(code, fake)
    assert return_code == 0
    assert fake.words() == [["ANSWER"]]
    assert "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if line] == [
        "AGI handler failed: RuntimeError: lookup failed second line"
    ]


def test_classic_hangup_on_eof_is_quiet():
    code = CLASSIC_PRELUDE + (
        "def handler(session):\n"
        "    session.answer()\n"
        "    session.answer()\n"
        "sys.exit(run_classic(handler))\n"
    )
    fake = FakeAsterisk(script=[Close("200 result=0")])
    return_code, stderr = _run_classic_script(code, fake)
    assert (return_code, stderr) == (0, "")
    assert fake.words() == [["ANSWER"]]
