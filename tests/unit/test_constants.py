"""Each shared number is stated once (core/constants.py) and every layer agrees with it."""

from __future__ import annotations

import inspect

import pytest

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
