"""A config file for a test: the INI text in ``tmp_path/bridge.conf``, its path as load_config takes it."""

from pathlib import Path


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bridge.conf"
    path.write_text(text, encoding="utf-8")
    return str(path)
