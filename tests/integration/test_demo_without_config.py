"""``./run-demo`` needs no setup: whatever ITFlow settings the environment holds, the demo uses its own."""

from __future__ import annotations

from itflow_bridge import cli


def test_the_demo_runs_whatever_the_environment_and_config_file_hold(monkeypatch, tmp_path, capsys):
    broken = tmp_path / "broken.conf"
    broken.write_text("[itflow\nurl = \x01", encoding="utf-8")
    monkeypatch.setenv("ITFLOW_URL", "garbage")
    monkeypatch.setenv("ITFLOW_API_MODE", "soap")
    monkeypatch.setenv("ITFLOW_BRIDGE_CONFIG", str(broken))
    monkeypatch.setenv("ITFLOW_BRIDGE_CACHE_DIR", str(broken / "cache"))  # under a file: cannot exist
    assert cli.main(["demo"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "== current ITFlow, JSON API /api/v1" in out and "== ITFlow before 2022, /api.php" in out
    assert "garbage" not in out
