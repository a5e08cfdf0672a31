"""A bad setting is named once, with the file (or variable, or option) it came from."""

from __future__ import annotations

import pytest

from itflow_bridge.core.config import load_config
from itflow_bridge.core.errors import ConfigError


def test_a_bad_value_in_the_file_names_the_key_once(tmp_path):
    path = tmp_path / "itflow-bridge.conf"
    path.write_text("[itflow]\nurl = itflow.example.com/api.php\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), env={})
    message = str(caught.value)
    assert message.startswith("[itflow] url = 'itflow.example.com/api.php' from %s is invalid: " % path), message
    assert message.count("url") == 1 + message.split("is invalid: ")[1].count("url")
    assert message.count("[itflow]") == 1


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path):
    path = tmp_path / "itflow-bridge.conf"
    path.write_text("[itflow]\napi_mode = auto\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), env={"ITFLOW_API_MODE": "soap"})
    assert str(caught.value).startswith("[itflow] api_mode = 'soap' from environment variable ITFLOW_API_MODE is "
                                        "invalid: ")
