"""Agent links: issued, looked up by hash, revoked; the file keeps no token; the agent-link command."""

import argparse
import re
import stat
from dataclasses import replace

import pytest

from itflow_bridge.cli.agent_links import cmd_agent_link
from itflow_bridge.core.config import Config, load_config
from itflow_bridge.screen.tokens import AgentLinks, agent_url, token_hash
from itflow_bridge.storage.layout import AGENTS_DB, FILE_MODE


def test_a_token_opens_its_extension_until_revoked(tmp_path):
    with AgentLinks.in_cache(tmp_path) as links:
        desk, phone, other = links.issue("201"), links.issue("201"), links.issue("202")
        assert len({desk, phone, other}) == 3 and re.fullmatch(r"[A-Za-z0-9_-]{43}", desk)
        assert [links.extension_of(token) for token in (desk, phone, other)] == ["201", "201", "202"]
        assert links.extensions() == [("201", 2), ("202", 1)]
        assert links.revoke("201") == 2
        assert [links.extension_of(token) for token in (desk, phone, other)] == [None, None, "202"]


@pytest.mark.parametrize("token", ["", "x", "a" * 40, "../../etc/passwd" + "a" * 20, "é" * 20])
def test_unknown_or_malformed_tokens_open_nothing(tmp_path, token):
    with AgentLinks.in_cache(tmp_path) as links:
        links.issue("201")
        assert links.extension_of(token) is None


def test_the_file_keeps_hashes_not_tokens_with_the_cache_mode(tmp_path):
    with AgentLinks.in_cache(tmp_path) as links:
        token = links.issue("201")
    data = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith(AGENTS_DB))
    assert token.encode() not in data and token_hash(token).encode() in data
    assert stat.S_IMODE((tmp_path / AGENTS_DB).stat().st_mode) == FILE_MODE


def test_a_second_process_sees_a_revocation_at_once(tmp_path):
    with AgentLinks.in_cache(tmp_path) as daemon, AgentLinks.in_cache(tmp_path) as command:
        token = command.issue("201")
        assert daemon.extension_of(token) == "201"
        command.revoke("201")
        assert daemon.extension_of(token) is None


def test_bad_extensions_are_refused(tmp_path):
    with AgentLinks.in_cache(tmp_path) as links:
        for extension in ("", "20 1", "201/x", "a" * 33):
            with pytest.raises(ValueError):
                links.issue(extension)


def config(tmp_path, base_url="") -> Config:
    conf = tmp_path / "bridge.conf"
    conf.write_text("[calls]\nlink_base_url = %s\n" % base_url, encoding="utf-8")
    loaded = load_config(env={"ITFLOW_BRIDGE_CONFIG": str(conf), "ITFLOW_BRIDGE_CACHE_DIR": str(tmp_path / "cache")})
    (tmp_path / "cache").mkdir(exist_ok=True)
    return replace(loaded, calls=replace(loaded.calls, link_base_url=base_url))


def test_agent_link_prints_a_working_link_and_revoke_ends_it(tmp_path, capsys):
    settings = config(tmp_path, "https://pbx.example.com:8089/")
    assert cmd_agent_link(settings, argparse.Namespace(extension="201", revoke=False)) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://pbx.example.com:8089/agent/")
    token = url.rsplit("/", 1)[1]
    assert agent_url("https://pbx.example.com:8089", token) == url
    with AgentLinks.in_cache(settings.cache.dir) as links:
        assert links.extension_of(token) == "201"
    assert cmd_agent_link(settings, argparse.Namespace(extension="201", revoke=True)) == 0
    assert "1 link(s) of extension 201 revoked" in capsys.readouterr().out
    with AgentLinks.in_cache(settings.cache.dir) as links:
        assert links.extension_of(token) is None


def test_agent_link_without_a_base_url_says_what_to_set(tmp_path, capsys):
    assert cmd_agent_link(config(tmp_path), argparse.Namespace(extension="201", revoke=False)) == 3
    assert "[calls] link_base_url is not set" in capsys.readouterr().err
    with AgentLinks.in_cache(tmp_path / "cache") as links:
        assert links.extensions() == []  # nothing issued


def test_a_cache_directory_not_made_yet_is_made(tmp_path):
    with AgentLinks.in_cache(tmp_path / "new" / "cache") as links:
        assert links.extension_of(links.issue("201")) == "201"
