"""Voicemail links: tokens made, opened, expired, and kept only as hashes."""

from __future__ import annotations

import hashlib
import os
import sqlite3

import pytest

from itflow_bridge.calls.voicemail import VoicemailMessage
from itflow_bridge.calls.voicemail_links import DAY, VoicemailLinks, token_hash
from itflow_bridge.core.config import CallsSettings
from itflow_bridge.storage.layout import FILE_MODE, VOICEMAIL_LINKS_DB

NOW = 1_796_619_620.0
MSG_ID = "1796619605-00000000"
BASE = "https://pbx.example.com:8088"


@pytest.fixture
def mailbox(tmp_path):
    """Mailbox 100 with one message in INBOX (its .txt and .wav)."""
    folder = tmp_path / "spool" / "default" / "100"
    (folder / "INBOX").mkdir(parents=True)
    (folder / "INBOX" / "msg0000.txt").write_text(
        "[message]\ncallerid=\"ACME Corp\" <+15551234567>\norigtime=1796619605\nmsg_id=%s\nduration=5\n" % MSG_ID,
        encoding="utf-8")
    (folder / "INBOX" / "msg0000.wav").write_bytes(b"RIFF....WAVE")
    return folder


@pytest.fixture
def message(mailbox):
    return VoicemailMessage(mailbox="100@default", mailbox_dir=mailbox, msg_id=MSG_ID, seconds=5,
                            received=1796619605, audio=mailbox / "INBOX" / "msg0000.wav")


@pytest.fixture
def links(tmp_path):
    store = VoicemailLinks(tmp_path / "cache" / VOICEMAIL_LINKS_DB, days=30, base_url=BASE)
    yield store
    store.close()


def test_a_token_opens_its_message(links, message, mailbox):
    token = links.issue(message, NOW)
    assert len(token) == 43 and token != links.issue(message, NOW)
    assert links.resolve(token, NOW + 1) == mailbox / "INBOX" / "msg0000.wav"
    audio = links.audio(token, NOW + 1)
    assert audio is not None
    assert (audio.content_type, audio.filename) == ("audio/wav", "voicemail-%s.wav" % MSG_ID)


def test_the_url_is_the_base_and_the_path(links, message):
    token = links.issue(message, NOW)
    assert links.url_for(token) == BASE + "/voicemail/" + token
    assert VoicemailLinks(links.path, base_url=BASE + "/").url_for(token) == BASE + "/voicemail/" + token


def test_without_a_base_url_there_is_no_link_and_nothing_is_stored(tmp_path, message):
    with VoicemailLinks(tmp_path / VOICEMAIL_LINKS_DB, base_url="") as store:
        assert not store.enabled
        assert store.url_for("anything") is None
        assert store.link_for(message, NOW) is None
        assert store.count() == 0


def test_link_for_makes_a_link_that_opens_the_message(links, message, mailbox):
    url = links.link_for(message, NOW)
    assert url is not None and url.startswith(BASE + "/voicemail/")
    assert links.resolve(url.rsplit("/", 1)[1], NOW) == mailbox / "INBOX" / "msg0000.wav"


def test_a_link_lasts_link_days(links, message):
    token = links.issue(message, NOW)
    assert links.resolve(token, NOW + 30 * DAY - 1) is not None
    assert links.resolve(token, NOW + 30 * DAY) is None


def test_expired_links_are_swept_when_a_link_is_made(links, message):
    old = links.issue(message, NOW)
    links.issue(message, NOW + DAY)
    assert links.count() == 2
    fresh = links.issue(message, NOW + 30 * DAY + 1)
    assert links.count() == 2  # the first one is gone, the second and the new one stay
    assert links.resolve(old, NOW) is None  # gone for good, even asked as of before it expired
    assert links.resolve(fresh, NOW + 30 * DAY + 1) is not None


@pytest.mark.parametrize("token", ["", "short", "x" * 43 + "/../../etc", "A" * 43, "é" * 43])
def test_a_token_that_was_never_issued_opens_nothing(links, message, token):
    links.issue(message, NOW)
    assert links.resolve(token, NOW) is None


def test_a_deleted_message_opens_nothing_and_a_moved_one_still_opens(links, message, mailbox):
    token = links.issue(message, NOW)
    (mailbox / "Old").mkdir()
    for suffix in (".txt", ".wav"):
        (mailbox / "INBOX" / ("msg0000" + suffix)).rename(mailbox / "Old" / ("msg0001" + suffix))
    assert links.resolve(token, NOW) == mailbox / "Old" / "msg0001.wav"
    for suffix in (".txt", ".wav"):
        (mailbox / "Old" / ("msg0001" + suffix)).unlink()
    assert links.resolve(token, NOW) is None


def test_only_the_tokens_hash_is_stored(links, message):
    token = links.issue(message, NOW)
    rows = sqlite3.connect(str(links.path)).execute("SELECT * FROM links").fetchall()
    assert len(rows) == 1 and rows[0][0] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(rows)
    links.close()  # the write-ahead log folded back into the file
    stored = b"".join(path.read_bytes() for path in links.path.parent.iterdir() if path.is_file())
    assert token.encode() not in stored and token_hash(token).encode() in stored


class RecordingConnection:
    """The store's sqlite connection, recording every statement and parameter it is given."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection
        self.seen: list = []

    def execute(self, sql, parameters=()):
        self.seen.append((sql, tuple(parameters)))
        return self.connection.execute(sql, parameters)

    def close(self):
        self.connection.close()


def test_a_token_is_never_compared_so_its_lookup_cannot_be_timed(links, message):
    """The token never reaches the database; only its SHA-256 is looked up.

    A comparison that stops at the first differing character leaks, through its
    timing, how much of a guess was right.  Here what is compared is the hash of
    the guess, and a guesser cannot steer hash prefixes toward a stored hash
    without a SHA-256 preimage: the timing says nothing about any valid token.
    """
    token = links.issue(message, NOW)
    recording = RecordingConnection(links._db)
    links._db = recording  # type: ignore[assignment]
    near_miss = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert links.resolve(token, NOW) is not None
    assert links.resolve(near_miss, NOW) is None
    parameters = [value for _, values in recording.seen for value in values]
    assert token_hash(token) in parameters and token_hash(near_miss) in parameters
    assert not any(isinstance(value, str) and (token in value or near_miss in value) for value in parameters)
    assert not any(token in sql or near_miss in sql for sql, _ in recording.seen)


def test_the_store_follows_the_cache_policy_and_is_shared_between_processes(tmp_path, message, mailbox):
    settings = CallsSettings(link_base_url=BASE, link_days=2)
    previous = os.umask(0o077)
    try:
        maker = VoicemailLinks.in_cache(tmp_path, settings)
    finally:
        os.umask(previous)
    assert maker.path == tmp_path / VOICEMAIL_LINKS_DB
    assert os.stat(maker.path).st_mode & 0o777 == FILE_MODE
    token = maker.issue(message, NOW)
    with VoicemailLinks.in_cache(tmp_path, settings) as reader:  # the daemon's HTTP server
        assert reader.resolve(token, NOW + 2 * DAY - 1) == mailbox / "INBOX" / "msg0000.wav"
        assert reader.resolve(token, NOW + 2 * DAY) is None
    maker.close()
