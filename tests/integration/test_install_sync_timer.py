"""A classic install keeps the local directory fresh with a systemd timer; a FastAGI install leaves it to the daemon."""

from __future__ import annotations

import stat


from install_run import NEEDS_ROOT

from test_install_prefix import install, pbx, snapshot  # noqa: F401 - pbx is a fixture

# install refuses to run without root (it chowns what it writes). Outside CI a non-root run
# skips these with the reason; under CI (CI set) they run, and fail, rather than hide.
pytestmark = NEEDS_ROOT

UNITS = "etc/systemd/system"
SERVICE, TIMER = UNITS + "/itflow-bridge-sync.service", UNITS + "/itflow-bridge-sync.timer"


def set_interval(config, seconds):
    text = config.read_text()
    assert "\nsync_interval = 900\n" in text  # the new config is the example, every setting at its default
    config.write_text(text.replace("\nsync_interval = 900\n", "\nsync_interval = %d\n" % seconds))


def test_classic_gets_the_sync_timer_fastagi_does_not(pbx, fake_itflow):  # noqa: F811
    before = snapshot(pbx)
    flags = ("--url", fake_itflow.url, "--api-key", fake_itflow.api_key)
    dry = install(pbx, *flags, "--transport", "classic", "--dry-run")
    assert "create /%s" % TIMER in dry.stdout and snapshot(pbx) == before

    classic = install(pbx, *flags, "--transport", "classic")
    service, timer = (pbx / SERVICE), (pbx / TIMER)
    for path in (service, timer):
        info = path.stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, 0o644)
    text = service.read_text()
    assert "User=asterisk\nGroup=asterisk\n" in text and "-m itflow_bridge.cli sync" in text
    assert "Environment=ITFLOW_BRIDGE_CONFIG=/etc/itflow-bridge/itflow-bridge.conf" in text
    daemon_hardening = [line for line in (pbx / UNITS / "itflow-bridge.service").read_text().splitlines()
                        if line.startswith(("Protect", "Private", "Restrict", "NoNewPrivileges", "ReadWritePaths",
                                            "SystemCall", "Capability", "UMask"))] \
        if (pbx / UNITS / "itflow-bridge.service").exists() else []
    assert "ReadWritePaths=/var/cache/itflow-bridge" in text and "NoNewPrivileges=yes" in text
    assert all(line in text for line in daemon_hardening)
    assert "OnUnitActiveSec=900\n" in timer.read_text() and "WantedBy=timers.target" in timer.read_text()
    assert "systemd is not running here: skipped enabling itflow-bridge-sync.timer" in classic.stdout
    assert "*/15 * * * * asterisk" in classic.stdout
    assert "[warning] local directory: not synced yet" in classic.stdout  # classic and no directory yet

    config = pbx / "etc/itflow-bridge/itflow-bridge.conf"
    set_interval(config, 300)
    install(pbx)
    assert "OnUnitActiveSec=300\n" in timer.read_text()

    fastagi = install(pbx, "--transport", "fastagi")
    assert not service.exists() and not timer.exists()
    assert "remove /%s" % TIMER in fastagi.stdout
    assert (pbx / UNITS / "itflow-bridge.service").exists()

    install(pbx, "--transport", "classic")
    assert timer.exists()
    install(pbx, "--uninstall")
    assert snapshot(pbx) == before


def test_no_timer_when_syncing_is_off(pbx, fake_itflow):  # noqa: F811
    flags = ("--url", fake_itflow.url, "--api-key", fake_itflow.api_key)
    install(pbx, *flags, "--transport", "classic")
    config = pbx / "etc/itflow-bridge/itflow-bridge.conf"
    set_interval(config, 0)
    again = install(pbx)
    assert not (pbx / TIMER).exists() and "remove /%s" % TIMER in again.stdout
