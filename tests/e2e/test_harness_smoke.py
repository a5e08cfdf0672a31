"""Proves the e2e harness itself, before any real AGI handler exists.

A tiny FastAGI server written here stands in for the daemon: if calls reach it,
its variables come back through astdb, the files it plays show up in ``played``
and the caller's DTMF reaches GET DATA, the harness can be trusted to judge the
real handlers.  The shipped contexts are exercised the same way, including the
"daemon down" path, which must still return quickly.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import BinaryIO, Callable, Dict, Iterator, List

import pytest

import asterisk_root
import itflow_bridge
from asterisk_harness import (
    AGI_BASE_DIR,
    AsteriskHarness,
    parse_dtmf_steps,
    rewrite_shebang,
)
from sockets import free_port

pytestmark = pytest.mark.e2e


def agi_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AGISession:
    """One FastAGI connection: the env Asterisk sent, and a way to send commands."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.env: Dict[str, str] = {}
        self.replies: List[str] = []
        self.hangup_seen = False
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if not line:
                break
            key, _, value = line.partition(": ")
            self.env[key] = value

    def command(self, line: str) -> str:
        self._stream.write(line.encode() + b"\n")
        self._stream.flush()
        while True:
            reply = self._stream.readline().decode("utf-8", errors="replace").rstrip("\n")
            if reply == "HANGUP":
                self.hangup_seen = True
                continue
            self.replies.append(reply)
            return reply


class TinyFastAGI:
    """A FastAGI server on 127.0.0.1 that runs ``handler`` for every connection."""

    def __init__(self, handler: Callable[[AGISession], None]) -> None:
        self._handler = handler
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"agi://127.0.0.1:{self._listener.getsockname()[1]}"
        self.sessions: List[AGISession] = []
        self.errors: List[BaseException] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rwb") as stream:
            session = AGISession(stream)
            self.sessions.append(session)
            try:
                self._handler(session)
            except Exception as error:  # surfaced by the test through .errors
                self.errors.append(error)

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()


@pytest.fixture
def fastagi() -> Iterator[Callable[[Callable[[AGISession], None]], TinyFastAGI]]:
    servers: List[TinyFastAGI] = []

    def start(handler: Callable[[AGISession], None]) -> TinyFastAGI:
        servers.append(TinyFastAGI(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


# --- calls through a real Asterisk -------------------------------------------------


def test_proto_call_reaches_fastagi_with_env_playback_and_dtmf(asterisk: AsteriskHarness, fastagi) -> None:
    def handler(agi: AGISession) -> None:
        agi.command('STREAM FILE digits/7 ""')
        reply = agi.command("GET DATA digits/1 5000 4")
        agi.command(f"SET VARIABLE ITFLOW_CLIENT_ID {agi_quote(reply.split('result=', 1)[1])}")
        agi.command(f"SET VARIABLE ITFLOW_CONTACT_NAME {agi_quote(agi.env['agi_calleridname'])}")

    server = fastagi(handler)
    result = asterisk.call(
        "proto", caller_num="5551234567", caller_name='Ann "The Boss" O\'Neil, Ltd', agi_base=f"{server.url}/x",
        dtmf="2:42#", extra_vars={"ITFLOW_CLIENT_NAME": "preset, with comma"},
    )

    assert server.errors == []
    (session,) = server.sessions
    assert session.env["agi_network_script"] == "x"
    assert session.env["agi_callerid"] == "5551234567"
    assert session.env["agi_channel"] == result.vars["CHANNEL"]
    assert result.vars["ITFLOW_CLIENT_ID"] == "42"
    assert result.vars["ITFLOW_CONTACT_NAME"] == 'Ann "The Boss" O\'Neil, Ltd'
    assert result.vars["before_ITFLOW_CLIENT_NAME"] == "preset, with comma"
    assert result.vars["AGISTATUS"] == "SUCCESS"
    assert result.played == ["digits/7", "digits/1"]
    assert 2.0 < result.elapsed < 10.0
    assert "Playing 'digits/7" in result.log


def test_shipped_cid_context_applies_what_the_daemon_sets(asterisk: AsteriskHarness, fastagi) -> None:
    def handler(agi: AGISession) -> None:
        agi.command("SET VARIABLE ITFLOW_CID_STATUS FOUND")
        agi.command('SET VARIABLE CALLERID(name) "X Y"')

    server = fastagi(handler)
    result = asterisk.call("cid", caller_num="0301234567", caller_name="Old Name", agi_base=server.url)

    assert server.errors == []
    (session,) = server.sessions
    assert session.env["agi_network_script"] == "itflow-cid.agi"
    assert session.env["agi_callerid"] == "0301234567"
    assert result.vars["before_CALLERID_NAME"] == "Old Name"
    assert result.vars["CALLERID_NAME"] == "X Y"
    assert result.vars["ITFLOW_CID_STATUS"] == "FOUND"
    assert result.vars["AGISTATUS"] == "SUCCESS"
    assert result.elapsed is not None and result.elapsed < 2.0


def test_shipped_cid_context_returns_quickly_when_the_daemon_is_down(asterisk: AsteriskHarness) -> None:
    name = 'O"Brien, Ltd: \\ (x)'
    result = asterisk.call("cid", caller_num="5550009999", caller_name=name, agi_base=f"agi://127.0.0.1:{free_port()}")

    assert result.vars["ITFLOW_CID_STATUS"] == "ERROR"
    assert result.vars["AGISTATUS"] == "FAILURE"
    assert result.vars["CALLERID_NAME"] == name
    assert result.vars["before_CALLERID_NAME"] == name
    assert result.elapsed is not None and result.elapsed < 0.5
    assert "FastAGI failed" in result.log


def test_unset_caller_name_stays_unset(asterisk: AsteriskHarness) -> None:
    result = asterisk.call("cid", agi_base=f"agi://127.0.0.1:{free_port()}")

    assert result.vars["before_CALLERID_NAME"] == ""
    assert result.vars["before_CALLERID_NUM"] == ""
    assert "in_cname" not in result.vars


def test_caller_hangup_reaches_the_agi(asterisk: AsteriskHarness, fastagi) -> None:
    def handler(agi: AGISession) -> None:
        agi.command("WAIT FOR DIGIT 15000")
        agi.command("NOOP still-here")

    server = fastagi(handler)
    result = asterisk.call("proto", agi_base=f"{server.url}/wait", hangup_after=1.0, timeout=15)

    assert server.errors == []
    (session,) = server.sessions
    assert session.replies[0] == "200 result=-1"
    assert session.hangup_seen
    assert result.vars["AGISTATUS"] == "HANGUP"
    assert 0.8 < result.elapsed < 5.0


def test_balance_context_returns_to_the_ivr(asterisk: AsteriskHarness, fastagi) -> None:
    def handler(agi: AGISession) -> None:
        agi.command("SET VARIABLE ITFLOW_BALANCE_STATUS OK")
        agi.command("SET VARIABLE ITFLOW_BALANCE 12.34")

    server = fastagi(handler)
    result = asterisk.call("balance", caller_num="5551234567", agi_base=server.url)

    assert server.errors == []
    assert server.sessions[0].env["agi_network_script"] == "itflow-balance.agi"
    assert result.vars["returned_to_ivr"] == "1"
    assert result.vars["ITFLOW_BALANCE_STATUS"] == "OK"
    assert result.vars["ITFLOW_BALANCE"] == "12.34"
    assert "vm-goodbye" not in result.played


def test_balance_context_says_goodbye_without_an_ivr(asterisk: AsteriskHarness) -> None:
    result = asterisk.call("balance", agi_base=f"agi://127.0.0.1:{free_port()}", ivr=False)

    assert "returned_to_ivr" not in result.vars
    assert result.vars["ITFLOW_BALANCE_STATUS"] == "UNAVAILABLE"
    assert result.played == ["vm-goodbye"]


def test_call_that_never_finishes_fails_with_its_log(asterisk: AsteriskHarness, fastagi) -> None:
    def handler(agi: AGISession) -> None:
        agi.command("WAIT FOR DIGIT 20000")

    server = fastagi(handler)
    with pytest.raises(AssertionError, match=r"did not finish within 1\.5 s(.|\n)*Local/"):
        asterisk.call("proto", agi_base=f"{server.url}/stuck", timeout=1.5)
    assert not [line for line in asterisk.cli("core show channels concise").splitlines() if "@e2e-run-" in line]


def test_classic_agi_runs_the_venv_python_inside_the_chroot(asterisk: AsteriskHarness) -> None:
    agi_dir = asterisk.install_classic_agi()
    asterisk.write_bridge_config({"itflow": {"url": "http://127.0.0.1:9/", "api_key": "secret"}})
    probe = asterisk.root / agi_dir.lstrip("/") / "e2e-probe.agi"
    probe.write_text(rewrite_shebang(CLASSIC_PROBE, sys.executable))
    probe.chmod(0o755)

    result = asterisk.call("proto", agi_base=f"{agi_dir}/e2e-probe.agi,arg 1")

    assert agi_dir == AGI_BASE_DIR
    assert result.vars["AGISTATUS"] == "SUCCESS", result.log
    assert result.vars["ITFLOW_CLIENT_NAME"] == itflow_bridge.__file__
    assert result.vars["ITFLOW_CONTACT_NAME"] == "http://127.0.0.1:9/"
    assert result.vars["ITFLOW_CURRENCY"] == sys.prefix
    assert result.vars["ITFLOW_CLIENT_ID"] == "read-only"
    assert result.vars["ITFLOW_BALANCE"] == "arg 1"


CLASSIC_PROBE = r'''#!/bin/false
import configparser, os, sys
import itflow_bridge

def quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

def set_variable(name, value):
    sys.stdout.write("SET VARIABLE %s %s\n" % (name, quote(value)))
    sys.stdout.flush()
    sys.stdin.readline()

while sys.stdin.readline().strip():
    pass
config = configparser.ConfigParser()
config.read("/etc/itflow-bridge/itflow-bridge.conf")
try:
    open(os.path.join(os.path.dirname(itflow_bridge.__file__), ".e2e-write-probe"), "w").close()
    writable = "writable"
except OSError:
    writable = "read-only"
set_variable("ITFLOW_CLIENT_NAME", itflow_bridge.__file__)
set_variable("ITFLOW_CONTACT_NAME", config["itflow"]["url"])
set_variable("ITFLOW_CURRENCY", sys.prefix)
set_variable("ITFLOW_CLIENT_ID", writable)
set_variable("ITFLOW_BALANCE", sys.argv[1])
'''


# --- harness pieces that need no Asterisk ------------------------------------------


def test_rewrite_shebang_replaces_or_adds_the_interpreter() -> None:
    assert rewrite_shebang("#!/usr/bin/env python3\nprint(1)\n", "/venv/bin/python") == "#!/venv/bin/python\nprint(1)\n"
    assert rewrite_shebang("print(1)\n", "/venv/bin/python") == "#!/venv/bin/python\nprint(1)\n"


def test_parse_dtmf_steps() -> None:
    assert parse_dtmf_steps("1:42#|6:1") == [(1.0, "42#"), (6.0, "1")]
    assert parse_dtmf_steps("") == []
    with pytest.raises(ValueError):
        parse_dtmf_steps("42#")
    with pytest.raises(ValueError):
        parse_dtmf_steps("1:4;2")


def test_marker_must_hold_the_current_recipe(tmp_path: Path) -> None:
    assert not asterisk_root.is_complete(tmp_path)
    (tmp_path / asterisk_root.MARKER_NAME).write_text("an older recipe\n")
    assert not asterisk_root.is_complete(tmp_path)
    (tmp_path / asterisk_root.MARKER_NAME).write_text(asterisk_root.RECIPE)
    assert asterisk_root.is_complete(tmp_path)


def test_deleting_a_half_built_root_never_reaches_bind_mounted_host_files(e2e_privileges: None, tmp_path: Path) -> None:
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "precious").write_text("keep me")
    root = tmp_path / "root"
    mount_point = root / "work" / "checkout"
    mount_point.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(host_dir), str(mount_point)], check=True)
    try:
        asterisk_root._remove_root(root)
    finally:
        if asterisk_root.mounts_under(root):
            subprocess.run(["umount", "-l", str(mount_point)])

    assert not root.exists()
    assert (host_dir / "precious").read_text() == "keep me"
