"""What we ship to admins stays in step with the code."""

from dataclasses import fields
from pathlib import Path

from itflow_bridge.core.config import SECTIONS, load_config
from itflow_bridge.classic.wrapper import SCRIPTS, script_text

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_loads_and_mentions_every_setting():
    example = ROOT / "contrib" / "itflow-bridge.conf.example"
    config = load_config(str(example), env={})
    assert config.itflow.url == "https://itflow.example.com"
    text = example.read_text(encoding="utf-8")
    for section, cls in SECTIONS.items():
        assert "[%s]" % section in text
        for f in fields(cls):
            assert "\n%s =" % f.name in text or "\n# %s =" % f.name in text, (section, f.name)


def test_agi_scripts_in_the_repo_are_the_generated_ones():
    for name in SCRIPTS:
        path = ROOT / "agi" / name
        assert path.read_text(encoding="utf-8") == script_text(name)
        assert path.stat().st_mode & 0o111
