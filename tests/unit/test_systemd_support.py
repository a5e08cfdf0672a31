"""What the daemon takes from systemd and tells it, the units that say so, and the journal's log format."""

from __future__ import annotations

import io
import logging
import os
import sys
import tempfile

import pytest

from itflow_bridge.core import systemd
from itflow_bridge.core.logs import JournalFormatter, journal_priority, setup_logging, writes_to_journal
from itflow_bridge.install import units

# --- LISTEN_FDS ---------------------------------------------------------------------------


def test_listen_fds_for_this_process_start_at_3_and_the_variables_are_removed() -> None:
    env = {"LISTEN_FDS": "2", "LISTEN_PID": "4242", "LISTEN_FDNAMES": "a:b", "OTHER": "x"}
    assert systemd.listen_fds(env, pid=4242) == [3, 4]
    assert env == {"OTHER": "x"}  # a child process never takes them


@pytest.mark.parametrize("env", [
    {},
    {"LISTEN_FDS": "1", "LISTEN_PID": "1"},  # meant for another process
    {"LISTEN_FDS": "x", "LISTEN_PID": "4242"},
    {"LISTEN_FDS": "1"},
])
def test_no_listen_fds_unless_they_are_ours(env: dict) -> None:
    assert systemd.listen_fds(dict(env), pid=4242) == []
    assert systemd.inherited_listener(dict(env)) is None


# --- sd_notify ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "relative/path", "/nonexistent/notify"])
def test_notify_without_a_usable_socket_is_a_quiet_false(value: str) -> None:
    assert systemd.notify("READY=1", {"NOTIFY_SOCKET": value}) is False


# --- units --------------------------------------------------------------------------------


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", "127.0.0.1:4573"),
    ("0.0.0.0", "0.0.0.0:4573"),
    ("::", "[::]:4573"),
    ("::1", "[::1]:4573"),
    ("localhost", None),  # resolved: systemd reads no names
])
def test_socket_unit_listens_where_the_config_says(host: str, expected: object) -> None:
    text = units.socket_text(host=host, port=4573)
    line = [entry for entry in text.splitlines() if entry.startswith("ListenStream=")]
    assert len(line) == 1
    if expected is None:
        assert line[0] in ("ListenStream=127.0.0.1:4573", "ListenStream=[::1]:4573")
    else:
        assert line[0] == "ListenStream=" + expected
    assert "WantedBy=sockets.target" in text


def test_the_daemon_unit_is_notify_with_its_socket_and_keeps_every_hardening_line() -> None:
    text = units.unit_text(python="/opt/itflow-bridge/venv/bin/python", user="asterisk", group="asterisk",
                           config="/etc/itflow-bridge/itflow-bridge.conf", cache_dir="/var/cache/itflow-bridge")
    lines = text.splitlines()
    for wanted in ("Type=notify", "NotifyAccess=main", "Requires=" + units.SOCKET_NAME, "User=asterisk",
                   "ReadWritePaths=/var/cache/itflow-bridge", "ProtectHome=yes", "Restart=always"):
        assert wanted in lines, wanted
    assert any(line.startswith("After=") and units.SOCKET_NAME in line for line in lines)
    hardening = units.HARDENING.format(cache_dir="/var/cache/itflow-bridge", protect_home="yes")
    assert hardening in text
    assert "Type=simple" not in text


# --- journal log format -------------------------------------------------------------------


@pytest.mark.parametrize("level, priority", [
    (logging.CRITICAL, 3), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6), (logging.DEBUG, 7),
])
def test_levels_map_to_journal_priorities(level: int, priority: int) -> None:
    assert journal_priority(level) == priority
    record = logging.LogRecord("itflow_bridge.agi", level, __file__, 1, "hello %s", ("world",), None)
    assert JournalFormatter().format(record) == "<%d>itflow_bridge.agi: hello world" % priority


def test_every_line_of_a_traceback_keeps_the_priority() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    lines = JournalFormatter().format(record).split("\n")
    assert len(lines) > 2 and all(line.startswith("<3>") for line in lines)


def test_the_journal_is_recognised_by_its_device_and_inode() -> None:
    with tempfile.TemporaryFile("w") as stream:
        info = os.fstat(stream.fileno())
        assert writes_to_journal(stream, {"JOURNAL_STREAM": "%d:%d" % (info.st_dev, info.st_ino)})
        assert not writes_to_journal(stream, {"JOURNAL_STREAM": "%d:%d" % (info.st_dev, info.st_ino + 1)})
        assert not writes_to_journal(stream, {})
    assert not writes_to_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})


def test_setup_logging_writes_journal_lines_only_to_the_journal(monkeypatch: pytest.MonkeyPatch) -> None:
    with tempfile.TemporaryFile("w+") as stream:
        info = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", "%d:%d" % (info.st_dev, info.st_ino))
        handler = setup_logging("INFO", stream=stream)
        try:
            logging.getLogger("itflow_bridge.test").warning("careful")
            handler.flush()
            stream.seek(0)
            assert stream.read() == "<4>itflow_bridge.test: careful\n"
        finally:
            logging.getLogger().removeHandler(handler)
    plain = io.StringIO()
    handler = setup_logging("INFO", stream=plain)
    try:
        logging.getLogger("itflow_bridge.test").info("hello")
        assert plain.getvalue().endswith(" INFO itflow_bridge.test: hello\n")  # FORMAT: time and level name
        assert not plain.getvalue().startswith("<")
    finally:
        logging.getLogger().removeHandler(handler)
