"""Finding the message a call left in Asterisk's voicemail spool, and its audio after it moved.

The call is the real one of tests/data/ami/voicemail_left.txt (Asterisk 22: ``"ACME Corp"
<+15551234567>`` left a message in ``100@default``, ``VM_MESSAGEFILE`` =
``/var/spool/asterisk/voicemail/default/100/INBOX/msg0000``); the spool is a scratch one,
its files written the way app_voicemail (file storage) writes them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import pytest

from itflow_bridge.calls.ami_protocol import parse_stream
from itflow_bridge.calls.classify import ClassifiedCall, Outcome, Voicemail, classify
from itflow_bridge.calls.events import calls_in
from itflow_bridge.calls.voicemail import find_message, locate, mailbox_dir

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "ami"
CALLER = '"ACME Corp" <+15551234567>'


def recorded_call() -> ClassifiedCall:
    messages = parse_stream((RECORDINGS / "voicemail_left.txt").read_bytes(), expect_banner=True)
    (call,) = calls_in(messages)
    return classify(call.call_id, call.events)


CALL = recorded_call()
assert CALL.start is not None and CALL.end is not None
LEFT_AT = int(CALL.start) + 8  # app_voicemail stamps origtime as the recording starts, within the call


def message_txt(origtime: int, counter: int, callerid: str = CALLER, duration: int = 5,
                msg_id: Optional[str] = None) -> str:
    """A message's .txt as app_voicemail writes it (the INI file beside the audio)."""
    return (
        ";\n; Message Information file\n;\n[message]\norigmailbox=100\ncontext=from-trunk\nexten=5550104\n"
        "rdnis=unknown\npriority=2\ncallerchan=Local/5550104@from-trunk-00000007;2\ncallerid=%s\n"
        "origdate=Mon Dec  7 05:00:01 AM UTC 2026\norigtime=%d\ncategory=\nmsg_id=%s\nflag=\nduration=%d\n"
        % (callerid, origtime, msg_id if msg_id is not None else "%d-%08x" % (origtime, counter), duration))


def leave(spool: Path, folder: str, number: int, origtime: int, counter: int = 0, formats=(".wav",),
          mailbox: str = "default/100", **fields) -> Path:
    """Put message ``msgNNNN`` into ``folder`` of the mailbox, with its audio in ``formats``."""
    where = spool / mailbox / folder
    where.mkdir(parents=True, exist_ok=True)
    stem = where / ("msg%04d" % number)
    stem.with_suffix(".txt").write_text(message_txt(origtime, counter, **fields), encoding="utf-8")
    for suffix in formats:
        stem.with_suffix(suffix).write_bytes(b"RIFF-" + suffix.encode() + b"-%d" % origtime)
    return stem


def without_message_file(call: ClassifiedCall) -> ClassifiedCall:
    """The call as the manager's ``call`` class alone tells it (no VarSet of VM_MESSAGEFILE)."""
    assert call.voicemail is not None
    return dataclasses.replace(call, voicemail=dataclasses.replace(call.voicemail, message_file=None))


def test_the_recorded_call_names_its_mailbox_and_message_file():
    assert CALL.outcome is Outcome.VOICEMAIL and CALL.voicemail is not None
    assert CALL.voicemail.mailbox == "100@default"
    assert CALL.voicemail.message_file == "/var/spool/asterisk/voicemail/default/100/INBOX/msg0000"


def test_the_message_file_the_call_named_is_found(tmp_path):
    stem = leave(tmp_path, "INBOX", 0, LEFT_AT, duration=9)
    message = find_message(tmp_path, CALL)
    assert message is not None
    assert (message.mailbox, message.mailbox_dir, message.msg_id, message.seconds, message.received) == (
        "100@default", tmp_path / "default" / "100", "%d-00000000" % LEFT_AT, 9, LEFT_AT)
    assert message.audio == stem.with_suffix(".wav")


def test_a_message_file_now_holding_a_later_message_is_not_taken_for_this_call(tmp_path):
    """Listened to and moved to Old, the call's message left INBOX/msg0000 to the next caller's."""
    leave(tmp_path, "Old", 0, LEFT_AT, counter=0, duration=7)
    leave(tmp_path, "INBOX", 0, LEFT_AT + 3600, counter=1, callerid='"Other" <+15559990000>')
    message = find_message(tmp_path, CALL)
    assert message is not None and message.msg_id == "%d-00000000" % LEFT_AT and message.seconds == 7
    assert message.audio == tmp_path / "default" / "100" / "Old" / "msg0000.wav"


def test_without_the_message_file_the_callers_newest_message_within_the_call_is_taken(tmp_path):
    call = without_message_file(CALL)
    leave(tmp_path, "INBOX", 0, LEFT_AT - 86400, counter=0)  # the same caller, yesterday
    leave(tmp_path, "INBOX", 1, LEFT_AT, counter=1, duration=4)
    leave(tmp_path, "INBOX", 2, LEFT_AT + 2, counter=2, callerid='"Someone Else" <+15559990000>')
    leave(tmp_path, "INBOX", 3, int(CALL.end or 0) + 60, counter=3)  # the caller again, a minute after this call
    message = find_message(tmp_path, call)
    assert message is not None and message.msg_id == "%d-00000001" % LEFT_AT and message.seconds == 4


def test_the_newest_of_two_matching_messages_wins(tmp_path):
    call = without_message_file(CALL)
    leave(tmp_path, "INBOX", 0, LEFT_AT - 2, counter=0)
    leave(tmp_path, "INBOX", 1, LEFT_AT, counter=1)
    message = find_message(tmp_path, call)
    assert message is not None and message.msg_id == "%d-00000001" % LEFT_AT


def test_the_window_reaches_five_seconds_either_side_of_the_call(tmp_path):
    call = without_message_file(CALL)
    assert call.start is not None and call.end is not None
    leave(tmp_path, "INBOX", 0, int(call.end) + 5, counter=0)
    assert find_message(tmp_path, call) is not None
    late = without_message_file(dataclasses.replace(CALL, end=int(call.end) - 1.0))
    assert find_message(tmp_path, late) is None


def test_the_callers_number_matches_in_either_form(tmp_path):
    call = without_message_file(CALL)
    leave(tmp_path, "INBOX", 0, LEFT_AT, callerid="+1 (555) 123-4567")
    assert find_message(tmp_path, call) is not None


def test_a_message_from_another_number_is_never_the_calls(tmp_path):
    leave(tmp_path, "INBOX", 0, LEFT_AT, callerid='"Other" <+15559990000>')
    assert find_message(tmp_path, CALL) is None
    assert find_message(tmp_path, without_message_file(CALL)) is None


def test_a_mailbox_without_a_context_is_in_default(tmp_path):
    call = dataclasses.replace(CALL, voicemail=Voicemail(mailbox="100"))
    leave(tmp_path, "INBOX", 0, LEFT_AT)
    message = find_message(tmp_path, call)
    assert message is not None and message.mailbox_dir == tmp_path / "default" / "100"
    assert mailbox_dir(tmp_path, "200@sales,u") == tmp_path / "sales" / "200"


def test_a_spool_seen_at_another_path_is_read_under_the_configured_one(tmp_path):
    """VM_MESSAGEFILE names Asterisk's own path; a bridge seeing the spool elsewhere still finds it."""
    spool = tmp_path / "mounted" / "voicemail"
    leave(spool, "INBOX", 0, LEFT_AT)
    message = find_message(spool, CALL)
    assert message is not None and message.audio == spool / "default" / "100" / "INBOX" / "msg0000.wav"


@pytest.mark.parametrize("mailbox, message_file", [
    ("../../etc@default", None),
    ("100@..", None),
    ("", "/var/spool/asterisk/voicemail/../../../etc/msg0000"),
    ("", "/var/spool/asterisk/voicemail/default/100/INBOX/passwd"),
])
def test_names_from_the_events_never_leave_the_spool(tmp_path, mailbox, message_file):
    spool = tmp_path / "spool"
    leave(spool, "INBOX", 0, LEFT_AT)
    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "msg0000.txt").write_text(message_txt(LEFT_AT, 0), encoding="utf-8")
    call = dataclasses.replace(CALL, voicemail=Voicemail(mailbox=mailbox, message_file=message_file))
    assert find_message(spool, call) is None


def test_no_voicemail_no_times_or_no_message_finds_nothing(tmp_path):
    assert find_message(tmp_path, dataclasses.replace(CALL, voicemail=None)) is None
    assert find_message(tmp_path, CALL) is None  # the spool is empty
    leave(tmp_path, "INBOX", 0, LEFT_AT)
    assert find_message(tmp_path, dataclasses.replace(without_message_file(CALL), start=None)) is None


def test_a_message_without_msg_id_cannot_be_linked(tmp_path):
    leave(tmp_path, "INBOX", 0, LEFT_AT, msg_id="")
    assert find_message(tmp_path, CALL) is None


def test_a_broken_txt_is_skipped(tmp_path):
    stem = leave(tmp_path, "INBOX", 0, LEFT_AT)
    stem.with_suffix(".txt").write_bytes(b"\xff\xfe not an ini [[[\n")
    leave(tmp_path, "INBOX", 1, LEFT_AT + 1, counter=1)
    message = find_message(tmp_path, without_message_file(CALL))
    assert message is not None and message.msg_id == "%d-00000001" % (LEFT_AT + 1)


def test_locate_follows_the_message_through_its_folders_until_it_is_deleted(tmp_path):
    stem = leave(tmp_path, "INBOX", 0, LEFT_AT)
    message = find_message(tmp_path, CALL)
    assert message is not None
    found = locate(message.mailbox_dir, message.msg_id)
    assert found is not None and found.path == stem.with_suffix(".wav")
    old = tmp_path / "default" / "100" / "Old"
    old.mkdir()
    for suffix in (".txt", ".wav"):
        stem.with_suffix(suffix).rename(old / ("msg0003" + suffix))
    found = locate(message.mailbox_dir, message.msg_id)
    assert found is not None and found.path == old / "msg0003.wav"
    for suffix in (".txt", ".wav"):
        (old / ("msg0003" + suffix)).unlink()
    assert locate(message.mailbox_dir, message.msg_id) is None


@pytest.mark.parametrize("formats, served, content_type", [
    ((".gsm", ".wav", ".WAV"), ".wav", "audio/wav"),
    ((".gsm", ".WAV"), ".WAV", "audio/wav"),
    ((".gsm",), ".gsm", "audio/x-gsm"),
])
def test_the_audio_served_prefers_wav(tmp_path, formats, served, content_type):
    stem = leave(tmp_path, "INBOX", 0, LEFT_AT, formats=formats)
    found = locate(tmp_path / "default" / "100", "%d-00000000" % LEFT_AT)
    assert found is not None
    assert (found.path, found.content_type) == (stem.with_suffix(served), content_type)
    assert found.filename == "voicemail-%d-00000000%s" % (LEFT_AT, served.lower())


def test_a_message_without_audio_is_located_as_nothing(tmp_path):
    leave(tmp_path, "INBOX", 0, LEFT_AT, formats=())
    assert locate(tmp_path / "default" / "100", "%d-00000000" % LEFT_AT) is None
    message = find_message(tmp_path, CALL)
    assert message is not None and message.audio is None



def test_a_message_named_in_another_mailbox_of_the_call_is_kept_with_that_mailbox(tmp_path):
    """VoiceMail(100@default&200@default): the file named may be in the second mailbox."""
    leave(tmp_path, "INBOX", 0, LEFT_AT, mailbox="default/200")
    call = dataclasses.replace(CALL, voicemail=Voicemail(
        mailbox="100@default&200@default",
        message_file="/var/spool/asterisk/voicemail/default/200/INBOX/msg0000"))
    message = find_message(tmp_path, call)
    assert message is not None and message.mailbox_dir == tmp_path / "default" / "200"
    assert locate(message.mailbox_dir, message.msg_id) is not None


def test_the_journal_gives_a_voicemail_ticket_the_message_length_and_a_link_that_plays_it(tmp_path):
    from itflow_bridge.calls.journal import voicemail_info
    from itflow_bridge.calls.voicemail_links import VoicemailLinks

    spool = tmp_path / "spool"
    stem = leave(spool, "INBOX", 0, LEFT_AT, duration=14)
    with VoicemailLinks(tmp_path / "links.sqlite3", base_url="https://pbx.example:8089") as links:
        seconds, link = voicemail_info(spool, links)(CALL)
        assert seconds == 14 and link.startswith("https://pbx.example:8089/voicemail/")
        audio = links.audio(link.rsplit("/", 1)[1])
        assert audio is not None and audio.path == stem.with_suffix(".wav")
    assert voicemail_info(spool, None)(CALL) == (14, "mailbox 100@default, message %d-00000000" % LEFT_AT)
    assert voicemail_info(tmp_path / "elsewhere", None)(CALL)[1] == ""  # not in the spool: no link, no place
