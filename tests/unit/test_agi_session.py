"""AGISession against scripted Asterisk replies.

Every reply form res_agi produces is scripted here; the same cases run against
a real Asterisk 22 in the e2e suite.
"""

from __future__ import annotations

import io
import socket
import sys
import threading
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS_DIR))  # agi_script

from agi_script import DEAD_CHANNEL as DEAD  # noqa: E402
from agi_script import Close, FakeAsterisk  # noqa: E402

from itflow_bridge.agi import AGISession, DigitsResult, StreamResult, quote  # noqa: E402
from itflow_bridge.agi.protocol import MAX_COMMAND_LINE_BYTES  # noqa: E402
from itflow_bridge.core.errors import AGICommandError, AGIError, AGIHangup  # noqa: E402

USAGE_520 = (
    "520-Invalid command syntax.  Proper usage follows:\n"
    " Usage: GET DATA <file to be streamed> [timeout] [maximum digits]\n"
    "  Stream the given file, and receive DTMF data.\n"
    "520 End of proper usage."
)


def _session(*script, **fake_kwargs):
    fake = FakeAsterisk(script=script, **fake_kwargs)
    return fake, fake.session()


# --- environment ---------------------------------------------------------------


def test_env_args_caller_and_script_of_a_classic_request():
    fake, session = _session(
        env={"agi_callerid": "5551234567", "agi_calleridname": "John Smith"},
        args=["first", "arg 2", ""],
    )
    assert session.args == ["first", "arg 2", ""]
    assert session.caller_number == "5551234567"
    assert session.caller_name == "John Smith"
    assert session.script == "itflow-test.agi"
    assert session.query == {}
    assert session.env["agi_channel"] == "Local/s@test-00000000;2"
    assert session.env["agi_accountcode"] == ""
    assert not session.hung_up
    assert fake.commands == []


@pytest.mark.parametrize("value", ["unknown", "", "  ", "UNKNOWN"])
def test_unknown_caller_values_become_none(value):
    _, session = _session(env={"agi_callerid": value, "agi_calleridname": value})
    assert session.caller_number is None
    assert session.caller_name is None


def test_non_utf8_caller_name_in_env_is_replaced_not_fatal():
    raw = b"agi_request: x.agi\nagi_callerid: 5551234567\nagi_calleridname: M\xfcller \xff\n\n"
    _, session = _session(raw_env=raw)
    assert session.caller_name == "M\ufffdller \ufffd"


def test_fastagi_script_and_query_from_network_script():
    _, session = _session(network_script="itflow-balance.agi?ivr=main&lang=", args=["a b"])
    assert session.script == "itflow-balance.agi"
    assert session.query == {"ivr": "main", "lang": ""}
    assert session.args == ["a b"]


@pytest.mark.parametrize(
    "env, script, query",
    [
        ({"agi_request": "agi://127.0.0.1:4573"}, "", {}),
        ({"agi_request": "agi://127.0.0.1:4573/sub/x.agi?a=1"}, "sub/x.agi", {"a": "1"}),
        ({"agi_request": "itflow-cid.agi"}, "itflow-cid.agi", {}),
        ({"agi_network_script": "/lead.agi"}, "lead.agi", {}),
    ],
)
def test_script_name_fallbacks(env, script, query):
    _, session = _session(env=env)
    assert (session.script, session.query) == (script, query)


def test_eof_inside_env_block_is_a_hangup():
    with pytest.raises(AGIHangup):
        _session(raw_env=b"agi_request: x.agi\nagi_channel: Local/s")


def test_given_env_skips_reading():
    fake = FakeAsterisk(script=["200 result=1 (v)"], raw_env=b"")
    link_session = fake.session(env={"agi_callerid": "42", "agi_arg_1": "x"})
    assert link_session.caller_number == "42"
    assert link_session.args == ["x"]
    assert link_session.get_variable("V") == "v"


# --- commands and quoting on the wire ---------------------------------------------


def test_set_variable_quotes_every_argument():
    fake, session = _session("200 result=1")
    session.set_variable("CALLERID(name)", 'O\'Brien "Bob" \\ Plumbing\r\nEXEC System x')
    assert fake.commands[0].line == (
        b'SET VARIABLE "CALLERID(name)" "O\'Brien \\"Bob\\" \\\\ PlumbingEXEC System x"'
    )
    assert fake.words() == [["SET", "VARIABLE", "CALLERID(name)", 'O\'Brien "Bob" \\ PlumbingEXEC System x']]


def test_command_line_limit_is_enforced_before_writing():
    fake, session = _session("200 result=1")
    with pytest.raises(AGIError, match="exceeds"):
        session.set_variable("X", "a" * 10240)
    assert fake.commands == []
    budget = MAX_COMMAND_LINE_BYTES - 1 - len('SET VARIABLE "X" ')
    session.set_variable("X", quote("é" * 10240, max_bytes=budget)[1:-1])
    assert len(fake.commands[0].line) <= MAX_COMMAND_LINE_BYTES - 1


@pytest.mark.parametrize("command", ["", "NOOP\nEXEC System", 'VERBOSE "x"'])
def test_command_names_cannot_smuggle_lines(command):
    _, session = _session("200 result=1")
    with pytest.raises(ValueError):
        session.execute(command)


# --- reply handling ------------------------------------------------------------


def test_unsolicited_hangup_line_is_skipped_and_remembered():
    fake, session = _session("HANGUP\n200 result=1 (still here)")
    assert session.get_variable("X") == "still here"
    assert session.hung_up


def test_510_is_a_command_error():
    _, session = _session("510 Invalid or unknown command")
    with pytest.raises(AGICommandError) as caught:
        session.execute("NO SUCH THING")
    assert caught.value.code == 510


def test_single_line_520_is_a_command_error():
    _, session = _session("520 Invalid command syntax.  Proper usage not available.")
    with pytest.raises(AGICommandError) as caught:
        session.execute("GET DATA")
    assert caught.value.code == 520


def test_multi_line_520_is_read_whole_and_the_next_reply_stays_in_sync():
    _, session = _session(USAGE_520, "200 result=1 (next)")
    with pytest.raises(AGICommandError) as caught:
        session.execute("GET DATA")
    assert caught.value.code == 520
    assert session.get_variable("X") == "next"


def test_511_on_a_dead_channel_is_a_hangup():
    _, session = _session(DEAD)
    with pytest.raises(AGIHangup):
        session.answer()
    assert session.hung_up


def test_eof_before_a_reply_is_a_hangup_and_nothing_more_is_written():
    fake, session = _session()
    with pytest.raises(AGIHangup):
        session.answer()
    assert session.hung_up
    with pytest.raises(AGIHangup):
        session.set_variable("X", "1")
    assert len(fake.commands) == 1


def test_eof_in_the_middle_of_a_520_block_is_a_hangup():
    _, session = _session(Close("520-Invalid command syntax.  Proper usage follows:\n Usage: GET DATA"))
    with pytest.raises(AGIHangup):
        session.execute("GET DATA")


def test_variable_value_spanning_lines_does_not_desync():
    _, session = _session("200 result=1 (first\nsecond (x)", "200 result=1 (after)")
    assert session.get_variable("X") == "first\nsecond (x"
    assert session.get_variable("Y") == "after"


class _BrokenWriter:
    def write(self, data):
        raise BrokenPipeError("gone")

    def flush(self):
        pass


class _TimingOutReader:
    def __init__(self):
        self.calls = 0

    def readline(self, limit=-1):
        self.calls += 1
        raise socket.timeout("timed out")


def test_broken_pipe_on_write_is_a_hangup():
    session = AGISession(_TimingOutReader(), _BrokenWriter(), env={})
    with pytest.raises(AGIHangup):
        session.answer()
    assert session.hung_up


def test_read_timeout_is_a_hangup_and_closes_the_session():
    reader = _TimingOutReader()
    session = AGISession(reader, io.BytesIO(), env={})
    with pytest.raises(AGIHangup):
        session.answer()
    with pytest.raises(AGIHangup):
        session.answer()
    assert reader.calls == 1


def test_hangup_event_marks_the_session():
    event = threading.Event()
    session = FakeAsterisk().session(hangup_event=event)
    assert not session.hung_up
    event.set()
    assert session.hung_up


# --- helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("200 result=4521", DigitsResult("4521", False)),
        ("200 result=123 (timeout)", DigitsResult("123", True)),
        ("200 result= (timeout)", DigitsResult("", True)),
        ("200 result=", DigitsResult("", False)),
    ],
)
def test_get_data_results(reply, expected):
    fake, session = _session(reply)
    assert session.get_data("custom/enter-client", 5000, 6) == expected
    assert fake.words() == [["GET", "DATA", "custom/enter-client", "5000", "6"]]


@pytest.mark.parametrize("status_reply", [DEAD, "HANGUP\n" + DEAD, "HANGUP\n200 result=6"])
def test_get_data_minus_one_on_a_dead_channel_is_a_hangup(status_reply):
    fake, session = _session("200 result=-1", status_reply)
    with pytest.raises(AGIHangup):
        session.get_data("custom/enter-client", 5000, 6)
    assert fake.words()[1] == ["CHANNEL", "STATUS"]


def test_get_data_minus_one_on_a_live_channel_is_a_missing_prompt():
    _, session = _session("200 result=-1", "200 result=6")
    with pytest.raises(AGICommandError, match="missing prompt"):
        session.get_data("custom/no-such-file", 5000, 6)
    assert not session.hung_up


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("200 result=0 endpos=16000", StreamResult(None, False)),
        ("200 result=51 endpos=800", StreamResult("3", False)),
        ("200 result=35 endpos=800", StreamResult("#", False)),
    ],
)
def test_stream_file_results(reply, expected):
    fake, session = _session(reply)
    assert session.stream_file("custom/menu", "123#") == expected
    assert fake.words() == [["STREAM", "FILE", "custom/menu", "123#"]]


def test_stream_file_default_escape_digits_is_an_empty_word():
    fake, session = _session("200 result=0 endpos=1")
    session.stream_file("beep")
    assert fake.commands[0].line == b'STREAM FILE "beep" ""'
    assert fake.words() == [["STREAM", "FILE", "beep", ""]]


def test_stream_file_missing_file_is_told_apart_from_hangup():
    fake, session = _session("200 result=-1 endpos=0", "200 result=6")
    assert session.stream_file("custom/nope") == StreamResult(None, True)
    assert fake.words()[1] == ["CHANNEL", "STATUS"]
    assert not session.hung_up


@pytest.mark.parametrize("status_reply", [DEAD, "HANGUP\n" + DEAD, Close()])
def test_stream_file_minus_one_after_hangup_raises(status_reply):
    _, session = _session("200 result=-1 endpos=1200", status_reply)
    with pytest.raises(AGIHangup):
        session.stream_file("custom/menu")


def test_stream_file_minus_one_after_sighup_does_not_probe():
    event = threading.Event()
    fake = FakeAsterisk(script=["200 result=-1 endpos=1200"])
    session = fake.session(hangup_event=event)
    event.set()
    with pytest.raises(AGIHangup):
        session.stream_file("custom/menu")
    assert len(fake.commands) == 1


@pytest.mark.parametrize("reply, digit", [("200 result=0", None), ("200 result=49", "1"), ("200 result=42", "*")])
def test_wait_for_digit(reply, digit):
    fake, session = _session(reply)
    assert session.wait_for_digit(2500) == digit
    assert fake.words() == [["WAIT", "FOR", "DIGIT", "2500"]]


def test_wait_for_digit_minus_one_is_a_hangup():
    _, session = _session("200 result=-1")
    with pytest.raises(AGIHangup):
        session.wait_for_digit(2500)
    assert session.hung_up


def test_get_variable_values():
    fake, session = _session("200 result=1 (Bob (the) Builder)", "200 result=0", "200 result=1 ()")
    assert session.get_variable("CALLERID(name)") == "Bob (the) Builder"
    assert session.get_variable("UNSET") is None
    assert session.get_variable("EMPTY") == ""
    assert fake.words()[0] == ["GET", "VARIABLE", "CALLERID(name)"]


def test_get_full_variable_sends_the_expression_as_one_word():
    fake, session = _session("200 result=1 (digits/1&digits/2)")
    assert session.get_full_variable("${SAYFILES(12.34,money)}") == "digits/1&digits/2"
    assert fake.words() == [["GET", "FULL", "VARIABLE", "${SAYFILES(12.34,money)}"]]


def test_answer_and_channel_status():
    fake, session = _session("200 result=0", "200 result=6")
    session.answer()
    assert session.channel_status() == 6
    assert fake.words() == [["ANSWER"], ["CHANNEL", "STATUS"]]


def test_answer_failure_is_a_hangup():
    _, session = _session("200 result=-1")
    with pytest.raises(AGIHangup):
        session.answer()


def test_exec_app_joins_arguments_with_commas():
    fake, session = _session("200 result=0", "200 result=0", "200 result=0")
    session.exec_app("SayMoney", "12.34")
    session.exec_app("Playback", "custom/a&custom/b", "noanswer")
    session.exec_app("Answer")
    assert fake.words() == [
        ["EXEC", "SayMoney", "12.34"],
        ["EXEC", "Playback", "custom/a&custom/b,noanswer"],
        ["EXEC", "Answer"],
    ]


def test_exec_unknown_application():
    _, session = _session("200 result=-2")
    with pytest.raises(AGICommandError, match="no such application"):
        session.exec_app("NoSuchApp", "x")


def test_exec_refuses_an_argument_that_would_split():
    fake, session = _session("200 result=0")
    with pytest.raises(ValueError):
        session.exec_app("Playback", "a,b")
    assert fake.commands == []


def test_verbose_respects_level_and_quotes():
    fake, session = _session("200 result=1")
    session.verbose("hidden", level=3)
    session.verbose('say "x"', level=1)
    assert fake.words() == [["VERBOSE", 'say "x"', "1"]]


def test_verbose_never_raises_after_hangup_or_eof():
    fake, session = _session(DEAD)
    session.verbose("on a dead channel")
    session.verbose("after EOF")
    assert session.hung_up
    assert len(fake.commands) == 2


def test_verbose_truncates_huge_messages_to_fit_one_line():
    fake, session = _session("200 result=1")
    session.verbose('"é\\' * 5000)
    assert len(fake.commands) == 1
    assert len(fake.commands[0].line) < MAX_COMMAND_LINE_BYTES
