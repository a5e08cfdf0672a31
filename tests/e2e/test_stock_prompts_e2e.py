"""The stock sounds the balance IVR plays exist in a real Asterisk 22's English voice."""

from __future__ import annotations

from pathlib import Path

from asterisk_harness import AsteriskHarness
from ivr_prompts import every_name_the_ivr_may_play
from itflow_bridge.prompts import missing_prompts

STOCK_VOICE_DIR = Path("usr/share/asterisk/sounds/en_US_f_Allison")


def test_stock_prompts_exist_in_a_real_asterisk_root(asterisk: AsteriskHarness) -> None:
    voice = asterisk.root / STOCK_VOICE_DIR
    stock = sorted(name for name in every_name_the_ivr_may_play() if not name.startswith("itflow/"))
    assert missing_prompts(voice, stock, language=voice.name) == []
    # The core sounds really lack these (why we ship our own words); the prompts
    # fixture may have installed our itflow/* files here, so those are not checked.
    assert missing_prompts(voice, ["dollars", "cents"], language=voice.name) == ["dollars", "cents"]
