"""The AGI wire format: environment, replies, and quoting proven against res_agi's tokeniser.

The quoting tests are the security boundary: whatever a client name holds, the
command line must split back into exactly the words we meant, and never into a
second command.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: agi_script

from agi_script import asterisk_tokenise

from itflow_bridge.agi import Reply, parse_env, parse_reply, quote
from itflow_bridge.agi.protocol import MAX_COMMAND_LINE_BYTES, has_unclosed_data
from itflow_bridge.core.errors import AGIError


def _clean(value: str) -> str:
    """What should survive quoting: the value without CR, LF and NUL, lone surrogates as '?'."""
    text = value.encode("utf-8", errors="replace").decode("utf-8")
    return text.replace("\r", "").replace("\n", "").replace("\0", "")


def _round_trip(*values: object) -> list:
    line = " ".join(["SET", "VARIABLE"] + [quote(value) for value in values])
    return asterisk_tokenise(line.encode("utf-8"))


# --- the tokeniser oracle itself ---------------------------------------------


@pytest.mark.parametrize(
    "line, words",
    [
        (b'SET VARIABLE "a b" c', ["SET", "VARIABLE", "a b", "c"]),
        (b'GET DATA "x" ""', ["GET", "DATA", "x", ""]),
        (b'"a"b c\\ d', ["ab", "c d"]),
        (b'"say \\"hi\\"" \\\\', ['say "hi"', "\\"]),
        (b"a\t\tb  ", ["a", "b"]),
    ],
)
def test_tokeniser_follows_res_agi_rules(line, words):
    assert asterisk_tokenise(line) == words


# --- parse_env ---------------------------------------------------------------


def test_parse_env_reads_key_values_until_blank_line():
    lines = [
        b"agi_request: agi://127.0.0.1:4573/itflow-cid.agi?x=1\n",
        b"agi_callerid: 5551234567\n",
        b"agi_accountcode: \n",
        b"\n",
        b"agi_after_blank: must not be read\n",
    ]
    assert parse_env(lines) == {
        "agi_request": "agi://127.0.0.1:4573/itflow-cid.agi?x=1",
        "agi_callerid": "5551234567",
        "agi_accountcode": "",
    }


def test_parse_env_replaces_non_utf8_bytes_instead_of_failing():
    env = parse_env([b"agi_calleridname: Jos\xe9 M\xfcller\n", b"agi_arg_1: caf\xc3\xa9\n", b"\n"])
    assert env["agi_calleridname"] == "Jos\ufffd M\ufffdller"
    assert env["agi_arg_1"] == "café"


def test_parse_env_tolerates_missing_space_crlf_and_odd_lines():
    env = parse_env(
        [b"agi_type:Local\r\n", b"garbage without colon\n", b": no key\n", b"agi_arg_1:  two spaces\n", b"\r\n"]
    )
    assert env == {"agi_type": "Local", "agi_arg_1": " two spaces"}


def test_parse_env_keeps_unknown_and_spaces_verbatim():
    env = parse_env([b"agi_callerid: unknown\n", b"agi_arg_2: arg 2\n"])
    assert env == {"agi_callerid": "unknown", "agi_arg_2": "arg 2"}


# --- parse_reply -------------------------------------------------------------


@pytest.mark.parametrize(
    "line, code, result, data, endpos",
    [
        ("200 result=1", 200, "1", None, None),
        ("200 result=0 endpos=12345", 200, "0", None, 12345),
        ("200 result=-1 endpos=0", 200, "-1", None, 0),
        ("200 result=1 (value with spaces)", 200, "1", "value with spaces", None),
        ("200 result=1 (a (b) c)", 200, "1", "a (b) c", None),
        ("200 result=1 ()", 200, "1", "", None),
        ("200 result=123 (timeout)", 200, "123", "timeout", None),
        ("200 result= (timeout)", 200, "", "timeout", None),
        ("200 result=1 (hangup) endpos=880\r\n", 200, "1", "hangup", 880),
        ("200 result=1 (text endpos=3)", 200, "1", "text endpos=3", None),
        ("510 Invalid or unknown command", 510, "", "Invalid or unknown command", None),
        (
            "511 Command Not Permitted on a dead channel or intercept routine",
            511,
            "",
            "Command Not Permitted on a dead channel or intercept routine",
            None,
        ),
        (
            "520 Invalid command syntax.  Proper usage not available.",
            520,
            "",
            "Invalid command syntax.  Proper usage not available.",
            None,
        ),
        (
            "520-Invalid command syntax.  Proper usage follows:",
            520,
            "",
            "Invalid command syntax.  Proper usage follows:",
            None,
        ),
    ],
)
def test_parse_reply_forms(line, code, result, data, endpos):
    reply = parse_reply(line)
    assert (reply.code, reply.result, reply.data, reply.endpos) == (code, result, data, endpos)
    assert reply.raw == line.rstrip("\r\n")


@pytest.mark.parametrize(
    "result, expected", [("1", 1), ("-1", -1), ("0", 0), ("123", 123), ("", None), ("1*", None), ("٣", None)]
)
def test_result_int(result, expected):
    assert Reply(200, result, None, None, "").result_int == expected


@pytest.mark.parametrize(
    "line",
    ["", "HANGUP", "hello", "200", "200 ok", "20 result=1", "2000 result=1", "200 result=1 (unclosed"],
)
def test_parse_reply_rejects_garbage(line):
    with pytest.raises(AGIError):
        parse_reply(line)


@pytest.mark.parametrize(
    "line, unclosed",
    [
        ("200 result=1 (first line", True),
        ("200 result=1 (closed)", False),
        ("200 result=1", False),
        ("520-Invalid command syntax (see below", False),
    ],
)
def test_has_unclosed_data(line, unclosed):
    assert has_unclosed_data(line) is unclosed


# --- quote -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, quoted",
    [
        ("plain", '"plain"'),
        ("with spaces", '"with spaces"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\r\nbreak", '"linebreak"'),
        ("nul\0byte", '"nulbyte"'),
        ("", '""'),
        (5000, '"5000"'),
        (b"bytes \xe9", '"bytes \ufffd"'),
        ("lone \ud800 surrogate", '"lone ? surrogate"'),
    ],
)
def test_quote_escapes_and_strips(value, quoted):
    assert quote(value) == quoted


def test_injection_attempt_stays_one_word_of_one_command():
    hostile = 'Evil" \r\nEXEC System "rm -rf /'
    line = "SET VARIABLE CALLERID(name) " + quote(hostile)
    assert "\n" not in line and "\r" not in line
    assert asterisk_tokenise(line.encode()) == ["SET", "VARIABLE", "CALLERID(name)", 'Evil" EXEC System "rm -rf /']


def test_ten_kilobyte_value_is_quoted_whole():
    value = ('ab"\\ ' * 2500)[:10240]
    quoted = quote(value)
    assert len(quoted.encode()) > MAX_COMMAND_LINE_BYTES
    assert _round_trip(value)[2] == value


@pytest.mark.parametrize(
    "value, max_bytes, expected",
    [
        ("\\" * 10, 5, '"\\\\"'),  # one escaped backslash fits, two would not
        ("é" * 10, 5, '"é"'),  # never split a UTF-8 character
        ("abc", 5, '"abc"'),
        ("abcd", 5, '"abc"'),
        ("abc", 2, '""'),
    ],
)
def test_quote_max_bytes_cuts_on_boundaries(value, max_bytes, expected):
    assert quote(value, max_bytes=max_bytes) == expected


def test_quote_max_bytes_needs_room_for_quotes():
    with pytest.raises(ValueError):
        quote("x", max_bytes=1)


_awkward_text = st.text(
    alphabet=st.one_of(st.sampled_from(list(' \t"\\\r\n\0()=,;$')), st.characters()), max_size=200
)


@given(_awkward_text, _awkward_text)
def test_quote_round_trips_through_res_agi_tokeniser(first, second):
    assert _round_trip(first, second) == ["SET", "VARIABLE", _clean(first), _clean(second)]


@given(_awkward_text, st.integers(min_value=2, max_value=300))
def test_quote_max_bytes_gives_a_prefix_within_budget(value, max_bytes):
    quoted = quote(value, max_bytes=max_bytes)
    assert len(quoted.encode("utf-8")) <= max_bytes
    (word,) = asterisk_tokenise(quoted.encode("utf-8"))
    assert _clean(value).startswith(word)
