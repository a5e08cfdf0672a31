"""Configuration: precedence, validation messages an admin can act on, no traceback."""

import pytest

from itflow_bridge.core.config import load_config
from itflow_bridge.core.errors import ConfigError
from config_files import write


def test_defaults_without_any_file(tmp_path):
    config = load_config(env={"ITFLOW_BRIDGE_CONFIG": write(tmp_path, "")})
    assert config.itflow.api_mode == "auto"
    assert config.itflow.verify_tls is True
    assert config.callerid.budget_ms == 1500
    assert config.callerid.max_length == 40
    assert config.server.port == 4573


def test_precedence_flags_over_env_over_file(tmp_path):
    path = write(tmp_path, "[itflow]\nurl = https://file.example\napi_mode = legacy\n[cache]\ndir = /from/file\n")
    env = {"ITFLOW_URL": "https://env.example", "ITFLOW_BRIDGE_CACHE_DIR": "/from/env"}
    config = load_config(path, env=env, overrides={("itflow", "url"): "https://flag.example"})
    assert config.itflow.url == "https://flag.example"
    assert config.itflow.api_mode == "legacy"  # only the file sets it
    assert str(config.cache.dir) == "/from/env"


def test_env_var_names_the_config_file(tmp_path):
    path = write(tmp_path, "[itflow]\nurl = https://itflow.example.com/\n")
    config = load_config(env={"ITFLOW_BRIDGE_CONFIG": path})
    assert config.itflow.url == "https://itflow.example.com"  # trailing slash dropped
    assert str(config.source) == path


@pytest.mark.parametrize(
    "text, words",
    [
        ("[itflow]\napi_mode = json\n", ["api_mode", "'json'", "auto, legacy or v1"]),
        ("[itflow]\nurl = itflow.example.com\n", ["url", "base address"]),
        ("[itflow]\nurl = https://x.example/api.php\n", ["without /api.php"]),
        ("[callerid]\nbudget_ms = -5\n", ["budget_ms", "greater than 0"]),
        ("[callerid]\nmax_length = lots\n", ["max_length", "greater than 0"]),
        ("[callerid]\ndefault_region = USA\n", ["default_region", "two-letter"]),
        ("[callerid]\ntemplate = {client} {oops}\n", ["template", "{client}"]),
        ("[itflow]\nverify_tls = maybe\n", ["verify_tls", "yes or no"]),
        ("[balance]\nverify = fingerprint\n", ["verify", "none, callerid or pin"]),
        ("[itflow]\nurll = x\n", ["no setting 'urll'"]),
        ("[itlfow]\nurl = x\n", ["unknown section [itlfow]"]),
        ("not an ini file\n", ["not valid INI"]),
    ],
)
def test_invalid_values_name_the_key_and_what_is_allowed(tmp_path, text, words):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    message = str(info.value)
    for word in words:
        assert word in message
    assert "\n" not in message


def test_a_named_config_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(str(tmp_path / "missing.conf"), env={})


def test_bad_api_key_value_is_never_echoed(tmp_path):
    config = load_config(write(tmp_path, "[itflow]\napi_key = s3cr3t-key-4f9a2c7e81\n"), env={})
    assert "s3cr3t-key-4f9a2c7e81" not in repr(config)


def test_require_itflow_says_what_to_set(tmp_path):
    config = load_config(write(tmp_path, ""), env={})
    with pytest.raises(ConfigError, match="ITFLOW_URL"):
        config.require_itflow()
    config = load_config(write(tmp_path, "[itflow]\nurl = https://x.example\n"), env={})
    with pytest.raises(ConfigError, match="API Keys"):
        config.require_itflow()
