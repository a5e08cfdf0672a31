"""The classic fast path's small readers agree with ``load_config`` wherever they give an answer."""

import configparser

from hypothesis import given
from hypothesis import strategies as st

from itflow_bridge.core import paths
from itflow_bridge.core.config import ENV_OVERRIDES
from itflow_bridge.storage.replay import configuration


def test_every_setting_the_environment_overrides_changes_the_stored_answers_configuration():
    assert set(paths.SETTING_ENV) == set(ENV_OVERRIDES)
    base = configuration({})
    for name in paths.SETTING_ENV:
        assert configuration({name: "something else"}) != base, name


def test_the_configuration_holds_the_api_key_only_as_a_checksum():
    line = configuration({paths.API_KEY_ENV: "secret-key-5b1e0c9d"})
    assert "secret-key-5b1e0c9d" not in line and line != configuration({})


def test_the_configuration_names_the_config_file_load_config_reads(tmp_path):
    conf = tmp_path / "bridge.conf"
    conf.write_text("[cache]\n", encoding="utf-8")
    assert configuration({paths.CONFIG_ENV: str(conf)}).startswith(str(conf) + ":")
    assert configuration({}).startswith(paths.DEFAULT_CONFIG + ":")


LINES = st.sampled_from(["[cache]", "[callerid]", "[DEFAULT]", "dir = /srv/a", "dir=/srv/b", "DIR : /srv/c",
                         "  continued", "# dir = /commented", "; note", "", "other = 1", "dir =", "[cache"])


@given(st.lists(LINES, max_size=8))
def test_the_small_ini_reader_reads_cache_dir_as_configparser_does_or_declines(lines):
    text = "\n".join(lines) + "\n"
    found = paths.ini_value(text, "cache", "dir")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return  # load_config refuses it: nothing was stored under this file's identity, so nothing answers
    if found is None:
        return  # unsure: the full path decides
    expected = parser.get("cache", "dir", fallback="") if parser.has_section("cache") else ""
    assert found == expected
