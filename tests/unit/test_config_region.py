"""``[callerid] default_region``: a region phone numbers can be read in, or one line saying how to fix it."""

import pytest

from itflow_bridge.core.config import load_config
from itflow_bridge.core.errors import ConfigError

FIX = "use a two-letter ISO region such as US, GB, DE; UK is GB"


def write(tmp_path, region):
    path = tmp_path / "bridge.conf"
    path.write_text("[callerid]\ndefault_region = %s\n" % region, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("region", ["UK", "XX", "uk", "USA", "1", ""])
def test_a_region_without_numbers_is_refused_at_load_in_one_line(tmp_path, region):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, region), env={})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("[callerid] default_region = %r from " % region)
    assert message.endswith("is invalid: " + FIX)


@pytest.mark.parametrize("region, expected", [("GB", "GB"), ("de", "DE"), (" us ", "US"), ("CH", "CH")])
def test_a_known_region_is_kept_upper_case(tmp_path, region, expected):
    assert load_config(write(tmp_path, region), env={}).callerid.default_region == expected
