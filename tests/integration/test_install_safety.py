"""A failed install leaves a working PBX as it was; a dry run checks and lists what the real run would."""

from __future__ import annotations

import os
import subprocess
import sys


from install_run import NEEDS_ROOT


from test_install_prefix import STOCK, install, pbx, snapshot  # noqa: F401 - pbx is a fixture

pytestmark = NEEDS_ROOT

CONFIG = "etc/itflow-bridge/itflow-bridge.conf"


def test_a_wrong_key_on_reinstall_keeps_the_working_config(pbx, fake_itflow):  # noqa: F811
    install(pbx, "--url", fake_itflow.url, "--api-key", fake_itflow.api_key)
    config = pbx / CONFIG
    before = config.read_bytes()
    info = config.stat()
    unit = (pbx / "etc/systemd/system/itflow-bridge.service").read_bytes()
    installed = snapshot(pbx, skip_cache=True)

    result = install(pbx, "--api-key", "wrong-key-0a1b2c3d4e5f", expect=2)
    assert "[FAIL] API key" in result.stdout and "install stopped" in result.stderr
    assert config.read_bytes() == before
    assert "%s is unchanged" % ("/" + CONFIG) in result.stderr
    assert "wrong-key-0a1b2c3d4e5f" not in result.stdout + result.stderr
    after = config.stat()
    assert (after.st_uid, after.st_gid, after.st_mode) == (info.st_uid, info.st_gid, info.st_mode)
    assert (pbx / "etc/systemd/system/itflow-bridge.service").read_bytes() == unit
    assert snapshot(pbx, skip_cache=True) == installed


def test_the_dry_run_fails_where_the_real_run_fails(pbx, fake_itflow):  # noqa: F811
    for name in STOCK:  # no Asterisk core sounds
        (pbx / "var/lib/asterisk/sounds/en" / (name + ".gsm")).unlink()
    flags = ("--url", fake_itflow.url, "--api-key", fake_itflow.api_key)
    before = snapshot(pbx)
    dry = install(pbx, *flags, "--dry-run", expect=2)
    assert snapshot(pbx) == before
    assert "[FAIL] Asterisk sounds" in dry.stdout and "/var/lib/asterisk/sounds" in dry.stdout
    assert "itflow-bridge-dry-run-" not in dry.stdout
    real = install(pbx, *flags, expect=2)
    assert "[FAIL] Asterisk sounds" in real.stdout


def test_the_dry_run_passes_where_the_real_run_passes(pbx, fake_itflow):  # noqa: F811
    flags = ("--url", fake_itflow.url, "--api-key", fake_itflow.api_key)
    dry = install(pbx, *flags, "--dry-run")
    assert "[ok] balance prompts" in dry.stdout  # our prompts counted as the real run installs them
    install(pbx, *flags)


def test_the_dry_run_lists_every_path_it_would_write(pbx, fake_itflow):  # noqa: F811
    dry = install(pbx, "--url", fake_itflow.url, "--api-key", fake_itflow.api_key, "--dry-run")
    for path in ("/etc/itflow-bridge/itflow-bridge.conf", "/var/cache/itflow-bridge",
                 "create directory /etc/systemd/system ", "/etc/systemd/system/itflow-bridge.service",
                 "/var/lib/itflow-bridge/install-manifest.json",
                 "/var/lib/itflow-bridge/backup/etc/asterisk/extensions.conf"):
        assert path in dry.stdout, path
    assert "every path is under %s" % pbx in dry.stdout


def test_a_bad_setting_names_the_real_config_file_once(pbx, fake_itflow):  # noqa: F811
    install(pbx, "--url", fake_itflow.url, "--api-key", fake_itflow.api_key)
    config = pbx / CONFIG
    config.write_text(config.read_text().replace("\nport = ", "\nport = seventy\n#", 1))
    result = install(pbx, expect=3)
    message = result.stderr.strip()
    assert "/etc/itflow-bridge/itflow-bridge.conf" in message and "itflow-bridge-install-" not in message
    assert message.count("[server] port") == 1 and message.count("/etc/itflow-bridge/itflow-bridge.conf") == 1, message


def test_the_installed_config_says_what_it_is(pbx, fake_itflow):  # noqa: F811
    install(pbx, "--url", fake_itflow.url, "--api-key", fake_itflow.api_key)
    text = (pbx / CONFIG).read_text()
    assert "copy to" not in text
    assert text.startswith("# itflow-bridge configuration, written by itflow-bridge install")


def test_uninstall_dry_run_lists_only_what_the_real_run_does(pbx, fake_itflow):  # noqa: F811
    install(pbx, "--url", fake_itflow.url, "--api-key", fake_itflow.api_key)
    dry = install(pbx, "--uninstall", "--dry-run")
    assert "systemctl" not in dry.stdout
    assert "remove /etc/systemd/system/itflow-bridge.service" in dry.stdout
    assert "remove /var/lib/itflow-bridge/install-manifest.json" in dry.stdout
    real = install(pbx, "--uninstall")
    assert "systemctl" not in real.stdout + real.stderr
    assert not (pbx / CONFIG).exists()


def test_asterisk_dirs_without_prefix_say_where_the_bridge_files_go(pbx, fake_itflow):  # noqa: F811
    before, host_config = snapshot(pbx), os.path.exists("/etc/itflow-bridge")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITFLOW_")}
    result = subprocess.run(
        [sys.executable, "-m", "itflow_bridge.cli", "install", "--dry-run", "--asterisk-etc", str(pbx / "etc/asterisk"),
         "--agi-dir", str(pbx / "var/lib/asterisk/agi-bin"), "--sounds-dir", str(pbx / "var/lib/asterisk/sounds"),
         "--user", "root", "--group", "root", "--url", fake_itflow.url, "--api-key", fake_itflow.api_key],
        capture_output=True, text=True, env=env, timeout=120)
    assert "--asterisk-etc, --agi-dir, --sounds-dir only point at Asterisk's directories" in result.stdout, \
        result.stdout + result.stderr
    assert "/etc/itflow-bridge" in result.stdout and "/etc/systemd/system" in result.stdout
    assert "--prefix DIR" in result.stdout
    assert snapshot(pbx) == before and os.path.exists("/etc/itflow-bridge") == host_config
