"""``[balance] agent_screen = no``: the screen the daemon builds never asks ITFlow for the balance nor shows it;
yes (the default) shows it."""

from __future__ import annotations

import pytest

from itflow_bridge.screen.agent_screen import AgentScreen


def screen_details(fake, make_bridge, tmp_path, setting: str):
    (tmp_path / "bridge.conf").write_text("[balance]\n%s" % setting, encoding="utf-8")  # the bridge's config file
    screen = AgentScreen.for_bridge(make_bridge(fake, "v1"))
    try:
        fake.clear_requests()
        details = screen.cards.fetch(1, 1)
        return details, [request.path for request in fake.requests]
    finally:
        screen.close()


@pytest.mark.parametrize("setting", ["", "agent_screen = yes\n"])
def test_the_balance_is_fetched_and_shown_by_default(fake_itflow, make_bridge, tmp_path, setting):
    details, paths = screen_details(fake_itflow, make_bridge, tmp_path, setting)
    assert details.balance is not None and details.balance.startswith("USD ")
    assert any("invoice" in path for path in paths), paths


def test_agent_screen_no_never_fetches_nor_shows_the_balance(fake_itflow, make_bridge, tmp_path):
    details, paths = screen_details(fake_itflow, make_bridge, tmp_path, "agent_screen = no\n")
    assert details.balance is None
    assert paths and not any("invoice" in path for path in paths), paths
    assert details.open_tickets is not None  # the rest of the card is fetched as before
