"""The installer starts a stopped daemon once (``enable --now``) and restarts only one that was running."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

import pytest

from itflow_bridge.install import installer
from itflow_bridge.install.units import SOCKET_NAME, UNIT_NAME


def started(monkeypatch: pytest.MonkeyPatch, running_before: bool, restart: bool) -> List[List[str]]:
    calls: List[List[str]] = []

    def systemctl(*args: str) -> Optional[str]:
        calls.append(list(args))
        if args[0] == "is-active":
            return None if running_before else "systemctl is-active: inactive"
        return None

    monkeypatch.setattr(installer, "systemctl", systemctl)
    monkeypatch.setattr(installer, "systemd_running", lambda root: True)
    daemon = installer.Installer.__new__(installer.Installer)
    daemon.layout = argparse.Namespace(root=Path("/"))  # type: ignore[assignment]
    daemon.start_daemon(units_changed=True, socket_changed=False, restart=restart)
    return [call for call in calls if call[0] != "is-active"]


def test_a_fresh_install_starts_the_daemon_once(monkeypatch):
    assert started(monkeypatch, running_before=False, restart=True) == [
        ["daemon-reload"], ["enable", "--now", SOCKET_NAME, UNIT_NAME]]


def test_a_running_daemon_is_restarted_on_change(monkeypatch):
    assert started(monkeypatch, running_before=True, restart=True) == [
        ["daemon-reload"], ["enable", "--now", SOCKET_NAME, UNIT_NAME], ["try-restart", UNIT_NAME]]


def test_a_running_daemon_is_left_alone_when_nothing_changed(monkeypatch):
    assert started(monkeypatch, running_before=True, restart=False) == [
        ["daemon-reload"], ["enable", "--now", SOCKET_NAME, UNIT_NAME]]
