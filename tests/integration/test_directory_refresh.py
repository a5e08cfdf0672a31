"""The one sync service: the daemon's re-sync, like the ``sync`` command, leaves the answer book current."""

import logging

import pytest

from itflow_bridge.app import Bridge
from itflow_bridge.core.config import load_config
from itflow_bridge.directory.daemon import BackgroundSync
from itflow_bridge.directory.refresh import sync_directory

from test_classic_script import run_script

CONFIG_TEXT = "[callerid]\nbudget_ms = 1500\n"  # what run_script writes: the file is left as it is


@pytest.fixture
def daemon_bridge(fake_itflow, tmp_path, monkeypatch):
    """A bridge configured from the environment the classic scripts run with, as the daemon's unit gives it."""
    conf = tmp_path / "bridge.conf"
    conf.write_text(CONFIG_TEXT, encoding="utf-8")
    for name, value in (("ITFLOW_BRIDGE_CONFIG", str(conf)), ("ITFLOW_URL", fake_itflow.url),
                        ("ITFLOW_API_KEY", fake_itflow.api_key), ("ITFLOW_API_MODE", "v1"),
                        ("ITFLOW_BRIDGE_CACHE_DIR", str(tmp_path / "cache"))):
        monkeypatch.setenv(name, value)
    bridge = Bridge(load_config())
    yield bridge
    bridge.close()


def classic_call(fake, tmp_path, number):
    """A classic AGI call from ``number``: its caller name, and whether ITFlow was asked."""
    fake.clear_requests()
    call, _, code, stderr = run_script(fake, tmp_path, number)
    assert code == 0 and "Traceback" not in stderr
    return call.variables["CALLERID(name)"], fake.requests != []


def test_a_daemon_resync_writes_and_refreshes_the_answer_book(fake_itflow, tmp_path, daemon_bridge):
    syncer = BackgroundSync(daemon_bridge, interval=3600)
    assert syncer.sync_once() and syncer.failures == 0
    assert classic_call(fake_itflow, tmp_path, "+15551234567") == ("Acme Corp - John Smith", False)

    fake_itflow.data["contacts"][0]["contact_name"] = "John Renamed"
    assert syncer.sync_once()
    assert len(list((tmp_path / "cache" / "answers").iterdir())) == 1  # the old book is gone
    assert classic_call(fake_itflow, tmp_path, "+15551234567") == ("Acme Corp - John Renamed", False)


def test_a_book_that_cannot_be_written_is_reported_and_the_sync_still_counts(daemon_bridge, monkeypatch, caplog):
    import itflow_bridge.classic.prepare as prepare

    def full_disk(bridge, environ=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prepare, "prepare_answers", full_disk)
    outcome = sync_directory(daemon_bridge)
    assert outcome.book is None and "No space left on device" in outcome.book_problem
    assert outcome.report.total > 0 and daemon_bridge.directory() is not None

    syncer = BackgroundSync(daemon_bridge, interval=3600)
    with caplog.at_level(logging.WARNING, logger="itflow_bridge.directory.daemon"):
        assert syncer.sync_once()
    assert syncer.failures == 0 and syncer.last_report is not None
    assert any("answer book could not be written" in record.getMessage() for record in caplog.records)


def test_a_failed_sync_leaves_the_book_alone(fake_itflow, tmp_path, daemon_bridge):
    syncer = BackgroundSync(daemon_bridge, interval=3600)
    assert syncer.sync_once()
    books = sorted((tmp_path / "cache" / "answers").iterdir())
    fake_itflow.key_state = "refused"
    assert not syncer.sync_once() and syncer.failures == 1
    assert sorted((tmp_path / "cache" / "answers").iterdir()) == books
    fake_itflow.key_state = "valid"
    assert classic_call(fake_itflow, tmp_path, "+15551234567") == ("Acme Corp - John Smith", False)
