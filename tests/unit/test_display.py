"""The name the phones show."""

from dataclasses import replace

from itflow_bridge.core.config import CallerIDSettings
from itflow_bridge.core.models import CallerMatch
from itflow_bridge.services.display import display_name, is_meaningful_name

DEFAULT = CallerIDSettings()


def test_client_and_contact():
    match = CallerMatch("John Smith", "contact", 1, "Acme Corp", "John Smith")
    assert display_name(match, DEFAULT) == "Acme Corp - John Smith"


def test_legacy_name_only():
    assert display_name(CallerMatch("John Smith"), DEFAULT) == "John Smith"


def test_location_shows_client_and_location():
    match = CallerMatch("Acme HQ", "location", 1, "Acme Corp")
    assert display_name(match, DEFAULT) == "Acme Corp - Acme HQ"


def test_control_characters_and_quotes_are_made_one_line():
    match = CallerMatch('Line\r\nBreak ${HANGUP} ;x', "contact", 4, 'Evil "Quote" \\ Co', 'Line\r\nBreak ${HANGUP} ;x')
    name = display_name(match, replace(DEFAULT, max_length=80))
    assert "\r" not in name and "\n" not in name
    assert name == 'Evil "Quote" \\ Co - Line Break ${HANGUP} ;x'


def test_max_length_prefix_ascii_and_template():
    settings = replace(DEFAULT, max_length=15, prefix="IT: ", ascii_only=True, template="{contact} ({client})")
    match = CallerMatch("Jürgen Müller", "contact", 3, "Müller GmbH", "Jürgen Müller")
    assert display_name(match, settings) == "IT: Jurgen Mull"
    assert len(display_name(match, settings)) <= 15


def test_meaningful_trunk_names():
    assert is_meaningful_name("WIRELESS CALLER")
    for useless in ("", None, "unknown", "5551234567", "+1 555 123 4567", "Anonymous"):
        assert not is_meaningful_name(useless)
