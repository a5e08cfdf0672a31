"""``check`` lines of the agent's screen that need no socket: the links store, where the pages are served,
click to call switched off or missing its secret."""

from __future__ import annotations

from pathlib import Path

from itflow_bridge.core.config import CacheSettings, CallsSettings, Config, DirectorySettings
from itflow_bridge.health import FAIL, PASS, WARN, Report, check_screen
from itflow_bridge.screen.tokens import AgentLinks
from itflow_bridge.storage.layout import AGENTS_DB

BASE = "http://pbx.example.com:8089"


def config(tmp_path: Path, http_port: int = 8089, **calls) -> Config:
    return Config(cache=CacheSettings(dir=tmp_path / "cache"),
                  directory=DirectorySettings(http_host="0.0.0.0", http_port=http_port),
                  calls=CallsSettings(**{"enabled": True, "link_base_url": BASE, **calls}))


def lines(settings: Config):
    report = Report()
    check_screen(settings, report)
    return {item.name: (item.status, item.detail, item.fix) for item in report.items}


def test_the_screen_lines_come_in_order_and_click_to_call_off_is_said(tmp_path):
    report = Report()
    check_screen(config(tmp_path), report)
    assert [item.name for item in report.items] == ["agent links", "agent pages", "click to call"]
    assert report.items[2].status == PASS
    assert report.items[2].detail == "click to call off ([calls] originate_user is empty)"


def test_no_links_store_yet_is_said_and_not_created(tmp_path):
    status, detail, _fix = lines(config(tmp_path))["agent links"]
    assert (status, detail) == (PASS, "no agent link issued yet (itflow-bridge agent-link EXT prints one)")
    assert not (tmp_path / "cache" / AGENTS_DB).exists()


def test_the_links_are_counted_by_extension(tmp_path):
    with AgentLinks.in_cache(tmp_path / "cache") as links:
        links.issue("200")
        links.issue("200")  # a desk and a phone
        links.issue("201")
    assert lines(config(tmp_path))["agent links"] == (PASS, "2 extensions with agent links (3 links)", "")
    with AgentLinks.in_cache(tmp_path / "cache") as links:
        links.revoke("200")
    assert lines(config(tmp_path))["agent links"] == (PASS, "1 extension with agent links (1 link)", "")
    with AgentLinks.in_cache(tmp_path / "cache") as links:
        links.revoke("201")
    assert lines(config(tmp_path))["agent links"][1] == (
        "no extension has an agent link (itflow-bridge agent-link EXT prints one)")


def test_an_unreadable_links_store_is_a_problem_with_a_fix(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / AGENTS_DB).write_bytes(b"not a database, " * 512)
    status, detail, fix = lines(config(tmp_path))["agent links"]
    assert status == FAIL
    assert detail.startswith("%s cannot be read by " % (tmp_path / "cache" / AGENTS_DB))
    assert detail.endswith("no agent's page opens")
    assert "agent-link EXT" in fix and "move a damaged file aside" in fix


def test_pages_without_the_http_server_say_what_to_set(tmp_path):
    status, detail, fix = lines(config(tmp_path, http_port=0))["agent pages"]
    assert status == WARN and "[directory] http_port = 0" in detail and "does not open" in detail
    assert "set [directory] http_port" in fix and "http_allow" in fix and "[calls] link_base_url" in fix


def test_pages_without_a_base_url_say_what_to_set(tmp_path):
    status, detail, fix = lines(config(tmp_path, link_base_url=""))["agent pages"]
    assert status == WARN
    assert detail == "served on 0.0.0.0:8089, but [calls] link_base_url is not set: agent-link prints no link"
    assert fix == ("set [calls] link_base_url to this server as the agents' browsers reach it, e.g. "
                   "http://pbx.example.com:8089")


def test_pages_served_and_linked_pass(tmp_path):
    assert lines(config(tmp_path))["agent pages"] == (
        PASS, "served on 0.0.0.0:8089; links start with %s/agent/" % BASE, "")


def test_a_dial_user_without_a_secret_fails_before_any_login(tmp_path):
    status, detail, fix = lines(config(tmp_path, originate_user="itflow-bridge-dial"))["click to call"]
    assert (status, detail) == (FAIL, "[calls] originate_secret is not set for user itflow-bridge-dial")
    assert "install --calls" in fix
