"""A reader that stops early (``itflow-bridge emails | head -1``) ends the command quietly, with the shell's
SIGPIPE status: no message, no traceback, not an internal error."""

import os
import subprocess
import sys

import pytest

from itflow_bridge.core.exits import Exit


def run_into_closed_pipe(fake, tmp_path, *args):
    """The command writing into a pipe whose reader is gone before the first byte: every write fails."""
    conf = tmp_path / "bridge.conf"
    conf.write_text("", encoding="utf-8")
    env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(conf), ITFLOW_URL=fake.url, ITFLOW_API_KEY=fake.api_key,
               ITFLOW_API_MODE="v1", ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cache"))
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "itflow_bridge.cli", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, env=env, timeout=60)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [
    ("check", "--json"), ("api", "clients", "read", "--all"), ("emails",), ("emails", "--csv"),
    ("lookup", "+15551234567"),
])
def test_a_closed_pipe_ends_the_command_quietly(fake_itflow_v1, tmp_path, args):
    out = run_into_closed_pipe(fake_itflow_v1, tmp_path, *args)
    assert (out.returncode, out.stderr) == (Exit.CLOSED_PIPE, "")


def test_the_closed_pipe_status_is_the_shells_for_sigpipe():
    import signal

    assert Exit.CLOSED_PIPE == 128 + signal.SIGPIPE
