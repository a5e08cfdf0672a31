"""``install-prompts`` says what it changed: every file the first time, only a summary when nothing changed."""

from __future__ import annotations

import os
import subprocess
import sys

from itflow_bridge.prompts import shipped_files


def install_prompts(sounds, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITFLOW_")}
    config = tmp_path / "itflow-bridge.conf"
    config.write_text("[balance]\nlanguage = en\n")
    env["ITFLOW_BRIDGE_CONFIG"] = str(config)
    result = subprocess.run([sys.executable, "-m", "itflow_bridge.cli", "install-prompts", "--sounds-dir", str(sounds),
                             "--language", "en"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def test_a_rerun_prints_only_the_summary(tmp_path):
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    count = len(shipped_files("en"))
    first = install_prompts(sounds, tmp_path)
    assert len([line for line in first if line.startswith("installed ")]) == count
    assert first[-1] == "%d prompts in %s: %d installed, 0 already up to date" % (count, sounds / "en/itflow", count)

    changed = sounds / "en/itflow" / shipped_files("en")[0].name
    changed.write_bytes(b"an older recording")
    again = install_prompts(sounds, tmp_path)
    assert again == ["installed %s" % changed,
                     "%d prompts in %s: 1 installed, %d already up to date" % (count, sounds / "en/itflow", count - 1)]
    assert changed.read_bytes() == shipped_files("en")[0].read_bytes()
    assert install_prompts(sounds, tmp_path) == [
        "%d prompts in %s: 0 installed, %d already up to date" % (count, sounds / "en/itflow", count)]
