"""The [directory] settings: defaults, parsing, messages naming the key."""

import pytest

from itflow_bridge.core.config import load_config
from itflow_bridge.core.errors import ConfigError
from config_files import write


def test_defaults(tmp_path):
    settings = load_config(write(tmp_path, ""), env={}).directory
    assert settings.sync_interval == 900 and settings.include_archived is False
    assert settings.number_format == "e164" and settings.dial_prefix == ""
    assert (settings.http_host, settings.http_port, settings.http_token) == ("127.0.0.1", 0, "")
    assert settings.http_allow == ("127.0.0.1", "::1")


def test_values(tmp_path):
    settings = load_config(write(tmp_path, (
        "[directory]\nsync_interval = 300\ninclude_archived = yes\nnumber_format = National\ndial_prefix = 9\n"
        "http_host = 0.0.0.0\nhttp_port = 8089\nhttp_token = t0ken\nhttp_allow = 127.0.0.1, 192.168.10.0/24 ::1\n"
    )), env={}).directory
    assert (settings.sync_interval, settings.include_archived, settings.number_format) == (300, True, "national")
    assert (settings.dial_prefix, settings.http_host, settings.http_port) == ("9", "0.0.0.0", 8089)
    assert settings.http_allow == ("127.0.0.1", "192.168.10.0/24", "::1")
    assert "t0ken" not in repr(settings)


@pytest.mark.parametrize("text, words", [
    ("number_format = fancy", ["number_format", "e164 or national"]),
    ("dial_prefix = 9-", ["dial_prefix", "digits"]),
    ("http_port = 70000", ["http_port", "65535"]),
    ("http_port = web", ["http_port", "0 for off"]),
    ("http_allow = everyone", ["http_allow", "'everyone'"]),
    ("http_allow = ", ["http_allow", "at least one"]),
    ("sync_interval = -1", ["sync_interval", "0 for off"]),
    ("sync_interval = often", ["sync_interval", "number of seconds"]),
    ("include_archived = maybe", ["include_archived", "yes or no"]),
    ("http_token = x\nhttp_tokn = y", ["no setting 'http_tokn'"]),
])
def test_invalid_values_name_the_key(tmp_path, text, words):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[directory]\n%s\n" % text), env={})
    for word in words:
        assert word in str(info.value)
