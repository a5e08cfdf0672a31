"""`itflow-bridge serve` opens the voicemail links another process made (the call journal's role)."""

from __future__ import annotations

import http.client
import signal

from itflow_bridge.calls.voicemail import VoicemailMessage
from itflow_bridge.calls.voicemail_links import VoicemailLinks
from itflow_bridge.core.config import CallsSettings
from polling import wait_for
from serve_process import start_serve, stop
from sockets import free_port

MSG_ID = "1796619605-00000000"
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x01\x02" * 4000


def status_of(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return None, b""
    finally:
        connection.close()


def test_serve_plays_a_link_made_by_another_process_and_logs_no_token(fake_itflow, tmp_path):
    inbox = tmp_path / "spool" / "default" / "100" / "INBOX"
    inbox.mkdir(parents=True)
    (inbox / "msg0000.txt").write_text('[message]\ncallerid="ACME Corp" <+15551234567>\norigtime=1796619605\n'
                                       "msg_id=%s\nduration=5\n" % MSG_ID, encoding="utf-8")
    (inbox / "msg0000.wav").write_bytes(AUDIO)
    http_port = free_port()
    base = "http://127.0.0.1:%d" % http_port
    settings = CallsSettings(link_base_url=base, voicemail_spool=tmp_path / "spool")
    message = VoicemailMessage("100@default", inbox.parent, MSG_ID, 5, 1796619605, inbox / "msg0000.wav")
    (tmp_path / "cache").mkdir()
    with VoicemailLinks.in_cache(tmp_path / "cache", settings) as journal:
        url = journal.link_for(message)
    assert url is not None and url.startswith(base + "/voicemail/")
    token = url.rsplit("/", 1)[1]

    proc, _, seen = start_serve(fake_itflow, tmp_path, "[directory]\nsync_interval = 0\nhttp_port = %d\n"
                                "[calls]\nlink_base_url = %s\n" % (http_port, base))
    try:
        wait_for(lambda: status_of(http_port, "/cnam?number=1")[0] == 200, "the directory's HTTP server")
        assert status_of(http_port, url[len(base):]) == (200, AUDIO)
        assert status_of(http_port, "/voicemail/" + "A" * 43)[0] == 404
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        stop(proc)
    log = "".join(seen) + rest.decode("utf-8", "replace")
    assert "/voicemail/<link>" in log and token not in log and "Traceback" not in log
