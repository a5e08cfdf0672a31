"""Each shared number is stated once (core/constants.py) and every layer agrees with it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import itflow_bridge.install
from itflow_bridge.agi.fastagi import FastAGIServer
from itflow_bridge.api.values import typed
from itflow_bridge.core.config import CacheSettings, ServerSettings
from itflow_bridge.core.constants import CACHE_MAX_ENTRIES, FASTAGI_PORT, MAX_DIGITS
from itflow_bridge.directory.normalise import to_e164
from itflow_bridge.itflow.base import check_lookup_digits
from itflow_bridge.services.numbers import lookup_number
from itflow_bridge.storage.cache import Cache


def test_the_cache_keeps_as_many_entries_as_the_config_says_by_default():
    assert CacheSettings().max_entries == CACHE_MAX_ENTRIES
    assert inspect.signature(Cache).parameters["max_entries"].default == CACHE_MAX_ENTRIES


def test_the_daemon_listens_where_the_config_says_by_default():
    assert ServerSettings().port == FASTAGI_PORT
    assert inspect.signature(FastAGIServer).parameters["port"].default == FASTAGI_PORT


def test_every_layer_takes_max_digits_and_refuses_one_more():
    longest, too_long = "1" * MAX_DIGITS, "1" * (MAX_DIGITS + 1)
    assert lookup_number(longest, 1) == longest and lookup_number(too_long, 1) is None
    assert check_lookup_digits(longest) == longest
    with pytest.raises(ValueError, match="1 to %d digits" % MAX_DIGITS):
        check_lookup_digits(too_long)
    assert to_e164(too_long, "", "US") == (too_long, False)
    assert typed("client_id", longest) == int(longest) and typed("client_id", too_long) == too_long


def test_the_shipped_files_state_the_same_defaults():
    """The dialplan and the example config cannot import Python: a test keeps them in step."""
    data = Path(itflow_bridge.install.__file__).parent / "data"
    dialplan = (data / "extensions_itflow.conf").read_text(encoding="utf-8")
    example = (data / "itflow-bridge.conf.example").read_text(encoding="utf-8")
    assert re.findall(r"agi://127\.0\.0\.1:(\d+)", dialplan) == [str(FASTAGI_PORT)] * 3
    assert re.search(r"^port = (\d+)$", example, re.M).group(1) == str(FASTAGI_PORT)
    assert re.search(r"^max_entries = (\d+)$", example, re.M).group(1) == str(CACHE_MAX_ENTRIES)
