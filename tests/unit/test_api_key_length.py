"""A key shorter than ITFlow ever issues is refused at load, and a short secret never mangles other text."""

from pathlib import Path

import pytest

from itflow_bridge.core import redact as redact_module
from itflow_bridge.core.config import load_config
from itflow_bridge.core.errors import ConfigError
from itflow_bridge.core.redact import MASK, SHORTEST_ITFLOW_KEY, redact, register_secret


@pytest.fixture(autouse=True)
def own_secrets(monkeypatch):
    """The registered secrets are process-wide: what a test registers goes with it."""
    monkeypatch.setattr(redact_module, "_secrets", ())


def ini(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bridge.conf"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_itflow_issues_keys_of_16_characters_or_more():
    # legacy keygen(): 16 letters and digits; current ITFlow: randomString(32).
    assert SHORTEST_ITFLOW_KEY == 16


@pytest.mark.parametrize("key", ["e", "wrong-key", "x" * (SHORTEST_ITFLOW_KEY - 1)])
def test_a_short_key_is_a_one_line_configuration_error_that_does_not_show_it(tmp_path, key):
    with pytest.raises(ConfigError) as info:
        load_config(ini(tmp_path, ""), env={"ITFLOW_API_KEY": key})
    message = str(info.value)
    assert "\n" not in message and "(hidden)" in message and "at least 16 characters" in message
    assert "=" + key not in message.replace(" ", "") and "'%s'" % key not in message


def test_a_key_as_long_as_itflow_issues_loads(tmp_path):
    key = "a" * SHORTEST_ITFLOW_KEY
    assert load_config(ini(tmp_path, "[itflow]\napi_key = %s\n" % key), env={}).itflow.api_key == key


def test_an_unset_key_still_loads_for_the_commands_that_need_none(tmp_path):
    assert load_config(ini(tmp_path, ""), env={}).itflow.api_key == ""


def test_a_short_secret_is_masked_only_as_a_whole_word():
    register_secret("e")
    assert redact("every message here") == "every message here"
    assert redact("key e leaked, (e)") == "key %s leaked, (%s)" % (MASK, MASK)


def test_a_key_of_itflow_length_is_masked_wherever_it_appears():
    key = "Ab3dEf6hIj9lMn2p"
    register_secret(key)
    assert redact("prefix" + key + "suffix") == "prefix%ssuffix" % MASK
