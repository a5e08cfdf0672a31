"""``itflow-bridge calls``: each journaled call with what it did in ITFlow; ``--retry`` queues failures again."""

import argparse
import json
from dataclasses import replace

import pytest

from itflow_bridge.calls.call_log import CATCH_UP, LIVE, CallLog, LoggedCall
from itflow_bridge.calls.outbox import FAILED, PENDING, Delivered, Outbox, Refused, Writer
from itflow_bridge.cli import call_history, table
from itflow_bridge.core.config import CacheSettings, Config


class _Writer(Writer):
    def __init__(self, refuse=()):
        self.refuse = set(refuse)

    def send(self, entry, parent):
        if entry.key in self.refuse:
            raise Refused("client 7 is archived in ITFlow")
        return Delivered(40 + entry.id, "TCK-%d" % (40 + entry.id))

    def find(self, entry, parent):
        return None


@pytest.fixture
def config(tmp_path):
    return Config(cache=CacheSettings(dir=tmp_path))


def _journal(config, refuse=()):
    with Outbox.in_cache(config.cache.dir) as outbox, CallLog.in_cache(config.cache.dir) as log:
        outbox.add("1.1/missed", "ticket", {"client_id": 7})
        outbox.add("1.2/voicemail", "ticket", {"client_id": 8})
        outbox.deliver(_Writer(refuse))
        outbox.add("1.3/missed", "ticket", {"client_id": 7})
        log.add(LoggedCall("1.1", 1000.0, "+15551234567", "missed", 7, "Acme Corp", LIVE, "", ("1.1/missed",)))
        log.add(LoggedCall("1.2", 1001.0, "+15557654321", "voicemail", 8, "Globex", CATCH_UP, "",
                           ("1.2/voicemail",)))
        log.add(LoggedCall("1.3", 1002.0, "+15551234567", "queue_abandon", 7, "Acme Corp", LIVE, "",
                           ("1.3/missed",)))
        log.add(LoggedCall("1.4", 1003.0, "201", "internal", None, "", LIVE, "internal call", ()))


def _run(config, *words):
    args = table.build_parser().parse_args(["calls", *words])
    return call_history.cmd_calls(config, args)


def test_each_call_shows_what_it_did(config, capsys):
    _journal(config, refuse={"1.2/voicemail"})
    assert _run(config) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert "internal call" in lines[0]  # newest first
    assert "ticket queued" in lines[1]
    assert "ticket failed: client 7 is archived in ITFlow" in lines[2] and "Globex" in lines[2]
    assert "ticket TCK-41" in lines[3] and "+15551234567" in lines[3]


def test_json_names_every_write_and_its_state(config, capsys):
    _journal(config, refuse={"1.2/voicemail"})
    assert _run(config, "--json", "--limit", "2") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["call_id"] for row in rows] == ["1.4", "1.3"]
    assert rows[1]["writes"][0]["state"] == PENDING and rows[0]["writes"] == []


def test_retry_sends_the_failed_writes_again(config, capsys, monkeypatch):
    _journal(config, refuse={"1.2/voicemail"})
    monkeypatch.setattr(call_history, "_send_now", lambda cfg, outbox: outbox.deliver(_Writer()).sent)
    assert _run(config, "--retry") == 0
    out = capsys.readouterr().out
    assert "1 failed write(s) queued again" in out
    with Outbox.in_cache(config.cache.dir) as outbox:
        assert outbox.entries(FAILED) == []
        assert outbox.get("1.2/voicemail").ticket_number == "TCK-42"


def test_retry_of_one_call_leaves_the_others(config, capsys, monkeypatch):
    _journal(config, refuse={"1.1/missed", "1.2/voicemail"})
    monkeypatch.setattr(call_history, "_send_now", lambda cfg, outbox: 0)
    assert _run(config, "--retry", "1.1") == 2  # the other call's write is still failed
    with Outbox.in_cache(config.cache.dir) as outbox:
        assert [entry.key for entry in outbox.entries(FAILED)] == ["1.2/voicemail"]


def test_retry_of_an_unknown_call_is_an_error(config, capsys):
    _journal(config)
    assert _run(config, "--retry", "9.9") == 2
    assert "no journaled call 9.9" in capsys.readouterr().err


def test_no_calls_says_where_to_look(config, capsys):
    assert _run(config) == 0
    assert "itflow-bridge check" in capsys.readouterr().out


def test_a_limit_below_one_is_refused(config, capsys):
    assert call_history.cmd_calls(config, argparse.Namespace(limit=0, retry=None, json=False)) == 2


def test_logged_calls_round_trip(config):
    call = LoggedCall("1.9", 5.0, "+1555", "missed", 7, "Acme", LIVE, "", ("1.9/missed",))
    with CallLog.in_cache(config.cache.dir) as log:
        log.add(call)
        log.add(replace(call, note="again"))  # a call is logged once
        assert log.recent() == [call]
        assert log.known(["1.9", "2.0"]) == {"1.9"}
        assert log.began() == log.began()
