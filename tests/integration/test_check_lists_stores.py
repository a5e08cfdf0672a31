"""``itflow-bridge check`` names every store of the cache after a sync, as text and as JSON."""

import json
import os
import subprocess
import sys


def run(tmp_path, fake, *args):
    conf = tmp_path / "bridge.conf"
    conf.write_text("", encoding="utf-8")
    env = {name: value for name, value in os.environ.items() if not name.startswith("ITFLOW")}
    env.update({"ITFLOW_BRIDGE_CONFIG": str(conf), "ITFLOW_URL": fake.url, "ITFLOW_API_KEY": fake.api_key,
                "ITFLOW_API_MODE": "v1", "ITFLOW_BRIDGE_CACHE_DIR": str(tmp_path / "cache")})
    return subprocess.run([sys.executable, "-m", "itflow_bridge.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_check_lists_the_stores_a_sync_wrote(fake_itflow, tmp_path):
    assert run(tmp_path, fake_itflow, "sync").returncode == 0
    text = run(tmp_path, fake_itflow, "check").stdout
    listed = [line for line in text.splitlines() if line.startswith("[ok] store: ")]
    assert [line.split(": ")[1] for line in listed] == ["answer book", "replay", "local directory", "lookup cache"]
    directory = next(line for line in listed if line.startswith("[ok] store: local directory: "))
    assert str(tmp_path / "cache" / "directory-") in directory and "writable by this user" in directory
    stores = json.loads(run(tmp_path, fake_itflow, "check", "--json").stdout)["stores"]
    synced = next(store for store in stores if store["store"] == "local directory")
    assert synced["exists"] and synced["size"] > 0 and synced["age"] is not None and synced["writable"]
    assert os.path.dirname(synced["path"]) == str(tmp_path / "cache")
