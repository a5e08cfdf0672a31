"""``[balance] agent_screen``: yes by default, read like every yes/no setting, a wrong word named with its fix."""

from __future__ import annotations

import pytest

from itflow_bridge.core.config import load_config
from itflow_bridge.core.errors import ConfigError


def test_the_balance_is_on_the_screen_unless_switched_off(tmp_path):
    path = tmp_path / "itflow-bridge.conf"
    path.write_text("[balance]\nlanguage = en\n")
    assert load_config(str(path), env={}).balance.agent_screen is True
    path.write_text("[balance]\nagent_screen = no\n")
    assert load_config(str(path), env={}).balance.agent_screen is False
    path.write_text("[balance]\nagent_screen = Yes\n")
    assert load_config(str(path), env={}).balance.agent_screen is True


def test_a_wrong_word_says_the_setting_the_file_and_what_to_write(tmp_path):
    path = tmp_path / "itflow-bridge.conf"
    path.write_text("[balance]\nagent_screen = hidden\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), env={})
    assert str(caught.value) == "[balance] agent_screen = 'hidden' from %s is invalid: use yes or no" % path
