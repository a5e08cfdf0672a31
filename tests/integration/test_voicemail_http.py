"""Voicemail links over a real socket: the audio served, every other token the same 404, no token logged."""

from __future__ import annotations

import http.client
import logging
import time

import pytest

from itflow_bridge.calls.voicemail import VoicemailMessage
from itflow_bridge.calls.voicemail_links import DAY, VoicemailLinks
from itflow_bridge.cli.pbx import voicemail_links
from itflow_bridge.core.config import load_config
from itflow_bridge.directory.http_server import VOICEMAIL_NOT_FOUND, make_http_server
from itflow_bridge.storage.layout import VOICEMAIL_LINKS_DB
from config_files import write

MSG_ID = "1796619605-00000000"
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 300  # binary, larger than one write


@pytest.fixture
def mailbox(tmp_path):
    folder = tmp_path / "spool" / "default" / "100"
    (folder / "INBOX").mkdir(parents=True)
    (folder / "INBOX" / "msg0000.txt").write_text(
        '[message]\ncallerid="ACME Corp" <+15551234567>\norigtime=1796619605\nmsg_id=%s\nduration=5\n' % MSG_ID,
        encoding="utf-8")
    (folder / "INBOX" / "msg0000.wav").write_bytes(AUDIO)
    (folder / "INBOX" / "msg0000.gsm").write_bytes(b"gsm frames")
    return folder


@pytest.fixture
def links(tmp_path):
    store = VoicemailLinks(tmp_path / "cache" / VOICEMAIL_LINKS_DB, days=30, base_url="http://pbx.example.com:8088")
    yield store
    store.close()


@pytest.fixture
def message(mailbox):
    return VoicemailMessage(mailbox="100@default", mailbox_dir=mailbox, msg_id=MSG_ID, seconds=5,
                            received=1796619605, audio=mailbox / "INBOX" / "msg0000.wav")


@pytest.fixture
def serve():
    servers = []

    def start(**kwargs):
        server = make_http_server("127.0.0.1", 0, lambda number: "", lambda fmt: None, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def request(server, path, method="GET", headers=None):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_a_link_serves_the_message_audio(serve, links, message):
    server = serve(voicemail=links.audio)
    token = links.issue(message)
    response, body = request(server, "/voicemail/" + token)
    assert response.status == 200 and body == AUDIO
    assert response.getheader("Content-Type") == "audio/wav"
    assert response.getheader("Content-Length") == str(len(AUDIO))
    assert response.getheader("Cache-Control") == "no-store"
    assert response.getheader("Content-Disposition") == 'inline; filename="voicemail-%s.wav"' % MSG_ID


def test_head_answers_the_headers_alone(serve, links, message):
    server = serve(voicemail=links.audio)
    response, body = request(server, "/voicemail/" + links.issue(message), method="HEAD")
    assert response.status == 200 and body == b""
    assert response.getheader("Content-Length") == str(len(AUDIO))


def test_a_gsm_only_message_is_served_as_gsm(serve, links, message, mailbox):
    (mailbox / "INBOX" / "msg0000.wav").unlink()
    server = serve(voicemail=links.audio)
    response, body = request(server, "/voicemail/" + links.issue(message))
    assert (response.status, body, response.getheader("Content-Type")) == (200, b"gsm frames", "audio/x-gsm")
    assert response.getheader("Content-Disposition") == 'inline; filename="voicemail-%s.gsm"' % MSG_ID


def test_unknown_expired_and_deleted_all_answer_the_same_404(serve, links, message, mailbox):
    server = serve(voicemail=links.audio)
    valid = links.issue(message)
    expired = links.issue(message, now=time.time() - 30 * DAY - 1)
    deleted_message = VoicemailMessage("100@default", mailbox, "1796619999-00000001", 3, 1796619999, None)
    deleted = links.issue(deleted_message)
    answers = [request(server, "/voicemail/" + token) for token in (
        "A" * 43, valid[:-2], expired, deleted, "not-a-token", "%2e%2e%2f%2e%2e%2fetc%2fpasswd")]
    assert {(response.status, body) for response, body in answers} == {(404, VOICEMAIL_NOT_FOUND)}
    assert all(response.getheader("Cache-Control") == "no-store" for response, _ in answers)
    assert request(server, "/voicemail/" + valid)[0].status == 200


def test_a_server_without_voicemail_answers_404(serve, links, message):
    server = serve()
    response, body = request(server, "/voicemail/" + links.issue(message))
    assert (response.status, body) == (404, VOICEMAIL_NOT_FOUND)


def test_a_failing_store_answers_503_without_a_traceback_or_the_token(serve, caplog):
    def broken(token):
        raise RuntimeError("database disk image is malformed, looking up %s" % token)

    server = serve(voicemail=broken)
    caplog.set_level(logging.DEBUG, logger="itflow_bridge.directory.http_server")
    response, body = request(server, "/voicemail/" + "Q" * 43)
    assert response.status == 503 and b"Traceback" not in body and b"malformed" not in body
    assert "malformed" in caplog.text and "Q" * 43 not in caplog.text


def test_links_obey_the_allow_list_but_need_no_server_token(serve, links, message):
    token = links.issue(message)
    outside = serve(voicemail=links.audio, allow=("192.0.2.0/24",))
    assert request(outside, "/voicemail/" + token)[0].status == 403
    guarded = serve(voicemail=links.audio, token="s3cret")
    assert request(guarded, "/cnam?number=5551234567")[0].status == 403
    response, body = request(guarded, "/voicemail/" + token)
    assert response.status == 200 and body == AUDIO


def test_the_token_never_reaches_the_log(serve, links, message, caplog):
    server = serve(voicemail=links.audio)
    token = links.issue(message)
    caplog.set_level(logging.DEBUG, logger="itflow_bridge.directory.http_server")
    spellings = ["/voicemail/" + token, "//voicemail/" + token + "/", "/%76oicemail/" + token,
                 "/voicemail/" + token + "?x=1", "/voicemail/" + token[:-1]]
    answers = [request(server, path)[0].status for path in spellings]
    assert answers == [200, 200, 200, 200, 404]
    for path in ("/voicemail/", "/%76oicemail/"):  # refused by the server itself (501): still logged
        assert request(server, path + token, method="POST")[0].status == 501
    records = [record for record in caplog.records if record.name == "itflow_bridge.directory.http_server"]
    text = "\n".join(record.getMessage() for record in records)
    assert len(records) >= len(spellings) and "/voicemail/\u2026" in text
    assert token[:-1] not in text


def test_the_daemon_serves_links_only_with_a_base_url(tmp_path, message):
    cache = tmp_path / "cache"
    cache.mkdir()
    plain = load_config(write(tmp_path, "[cache]\ndir = %s\n" % cache), env={})
    assert voicemail_links(plain) is None
    config = load_config(write(tmp_path, "[cache]\ndir = %s\n[calls]\nlink_base_url = http://pbx:8088/\n" % cache),
                         env={})
    store = voicemail_links(config)
    assert store is not None
    try:
        url = store.link_for(message)
        assert url is not None and url.startswith("http://pbx:8088/voicemail/")
        assert store.path == cache / VOICEMAIL_LINKS_DB
    finally:
        store.close()


@pytest.mark.parametrize("header, first, last", [
    ("bytes=0-1", 0, 1),  # Safari's first probe
    ("bytes=1000-", 1000, len(AUDIO) - 1),
    ("bytes=-500", len(AUDIO) - 500, len(AUDIO) - 1),
    ("bytes=10-999999999", 10, len(AUDIO) - 1),
])
def test_a_range_answers_206_with_those_bytes(serve, links, message, header, first, last):
    server = serve(voicemail=links.audio)
    response, body = request(server, "/voicemail/" + links.issue(message), headers={"Range": header})
    assert response.status == 206 and body == AUDIO[first:last + 1]
    assert response.getheader("Content-Range") == "bytes %d-%d/%d" % (first, last, len(AUDIO))
    assert response.getheader("Content-Length") == str(last - first + 1)


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "bytes=9-3", "pages=1-2", "bytes=x-"])
def test_a_range_it_does_not_serve_gets_the_whole_file(serve, links, message, header):
    server = serve(voicemail=links.audio)
    response, body = request(server, "/voicemail/" + links.issue(message), headers={"Range": header})
    assert response.status == 200 and body == AUDIO and response.getheader("Accept-Ranges") == "bytes"


@pytest.mark.parametrize("header", ["bytes=%d-" % len(AUDIO), "bytes=-0"])
def test_a_range_past_the_end_answers_416(serve, links, message, header):
    server = serve(voicemail=links.audio)
    response, body = request(server, "/voicemail/" + links.issue(message), headers={"Range": header})
    assert (response.status, body) == (416, b"")
    assert response.getheader("Content-Range") == "bytes */%d" % len(AUDIO)
