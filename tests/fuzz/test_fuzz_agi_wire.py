"""Property tests of the AGI wire format: replies, the environment block, quoting.

These three functions face Asterisk directly: a reply parser that raised
anything but ``AGIError`` would crash a call, an environment parser that raised
would lose it before it started, and a quoting slip lets a client name inject
a second AGI command.  Quoting is checked against two models of res_agi's
``parse_args``: the simulator's ``tokenize`` and ``res_agi_words`` (tests/agi_script.py),
a byte-level reimplementation written from the C function's rules.
"""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from itflow_bridge.agi.protocol import Reply, parse_env, parse_reply, quote
from itflow_bridge.core.errors import AGIError
from itflow_bridge.sample.simulated_asterisk import tokenize
from agi_script import res_agi_words

ASCII_WHITESPACE = " \t\n\r\f\v"


def asterisk_receives(value: object) -> str:
    """What the value must arrive as: CR, LF, NUL gone, undecodable input replaced."""
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", errors="replace")
    else:
        text = "".join("?" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in str(value))
    return "".join(ch for ch in text if ch not in "\r\n\0")


# --- strategies ----------------------------------------------------------------------

# Text that leans on the characters that matter to res_agi and to the reply format.
awkward_chars = st.one_of(st.sampled_from(list(' \t"\\\r\n\0()=-:')), st.characters())
awkward_text = st.text(alphabet=awkward_chars, max_size=120)
one_line_text = st.text(alphabet=awkward_chars.filter(lambda ch: ch not in "\r\n"), max_size=80)

reply_fragments = st.sampled_from(
    ["200", "510", "511", "520", " ", "-", "result=", "(", ")", "endpos=", "timeout", "-1", "48", "\r", "\n"]
)
reply_like = st.tuples(
    st.one_of(st.sampled_from(["200 result=", "200 result=", "200 ", "510 ", "511 ", "520-", "520 ", "HANGUP"]),
              st.from_regex(r"\A\d{3}[ -]?\Z")),
    st.lists(st.one_of(reply_fragments, st.text(max_size=4)), max_size=12).map("".join),
).map("".join)

values = st.one_of(awkward_text, st.binary(max_size=120), st.integers(), st.floats())


# --- replies ------------------------------------------------------------------------------


@given(st.one_of(st.text(), reply_like))
def test_any_line_is_a_reply_or_an_agi_error(line):
    try:
        reply = parse_reply(line)
    except AGIError:
        return
    assert isinstance(reply, Reply)
    assert 0 <= reply.code <= 999
    assert reply.raw == line.rstrip("\r\n")
    assert reply.result_int is None or isinstance(reply.result_int, int)
    if reply.code == 200:
        assert not any(ch in ASCII_WHITESPACE for ch in reply.result)
        assert reply.endpos is None or isinstance(reply.endpos, int)
    else:
        assert reply.result == "" and reply.endpos is None


@given(
    result=st.one_of(st.just(""), st.integers(-(2 ** 31), 2 ** 31).map(str)),
    data=st.one_of(st.none(), one_line_text),
    endpos=st.one_of(st.none(), st.integers(-(2 ** 31), 2 ** 63)),
    ending=st.sampled_from(["", "\n", "\r\n"]),
)
def test_a_success_reply_gives_back_its_parts(result, data, endpos, ending):
    line = "200 result=" + result
    if data is not None:
        line += " (%s)" % data
    if endpos is not None:
        line += " endpos=%d" % endpos
    reply = parse_reply(line + ending)
    assert (reply.code, reply.result, reply.data, reply.endpos) == (200, result, data, endpos)
    assert reply.result_int == (int(result) if result else None)


@given(code=st.integers(100, 999).filter(lambda code: code != 200), text=one_line_text)
def test_an_error_reply_keeps_its_message(code, text):
    reply = parse_reply("%d %s\n" % (code, text))
    assert (reply.code, reply.result, reply.data) == (code, "", text)


# --- environment block ------------------------------------------------------------------


@given(st.one_of(st.lists(st.binary(max_size=60), max_size=30), st.binary(max_size=600).map(io.BytesIO)))
def test_any_bytes_give_an_environment_and_never_raise(lines):
    env = parse_env(lines)
    assert isinstance(env, dict)
    for key, value in env.items():
        assert isinstance(key, str) and isinstance(value, str)
        assert key and key == key.strip() and ":" not in key
        assert not value.endswith(("\r", "\n"))


env_keys = st.text(alphabet=st.characters(blacklist_characters=":\r\n", blacklist_categories=("Cs",)), min_size=1,
                   max_size=20).map(str.strip).filter(bool)
env_values = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=40)


@given(
    env=st.dictionaries(env_keys, env_values, max_size=25),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    after=st.lists(st.binary(max_size=30), max_size=5),
)
def test_an_environment_block_round_trips_and_ends_at_the_blank_line(env, newline, after):
    block = b"".join(("%s: %s" % item).encode("utf-8") + newline for item in env.items()) + newline
    trailing = b"".join(line + b"\n" for line in after)  # commands' replies that follow must not leak in
    assert parse_env(io.BytesIO(block + trailing)) == env


@given(raw_name=st.binary(max_size=60).filter(lambda raw: b"\n" not in raw and b"\r" not in raw))
def test_raw_caller_name_bytes_are_decoded_with_replacement(raw_name):
    env = parse_env([b"agi_callerid: 5551234567\n", b"agi_calleridname: " + raw_name + b"\n", b"\n"])
    assert env["agi_calleridname"] == raw_name.decode("utf-8", errors="replace")


# --- quoting --------------------------------------------------------------------------------


def _command(*quoted: str) -> str:
    return "SET VARIABLE " + " ".join(quoted)


@given(first=values, second=values)
def test_quoted_values_arrive_intact_by_the_simulators_tokenizer(first, second):
    line = _command(quote(first), quote(second))
    assert "\r" not in line and "\n" not in line and "\0" not in line
    assert tokenize(line) == ["SET", "VARIABLE", asterisk_receives(first), asterisk_receives(second)]


@given(args=st.lists(values, min_size=1, max_size=6))
def test_quoted_values_arrive_intact_by_res_agi_rules(args):
    line = _command(*(quote(arg) for arg in args)).encode("utf-8")
    words = [word.decode("utf-8") for word in res_agi_words(line)]
    assert words == ["SET", "VARIABLE"] + [asterisk_receives(arg) for arg in args]


def _escaped_size(char: str) -> int:
    return len(char.encode("utf-8")) + (1 if char in '\\"' else 0)


@given(value=values, max_bytes=st.integers(min_value=2, max_value=400))
def test_a_cut_value_is_the_longest_prefix_that_fits(value, max_bytes):
    quoted = quote(value, max_bytes=max_bytes)
    size = len(quoted.encode("utf-8"))
    assert size <= max_bytes
    (word,) = res_agi_words(quoted.encode("utf-8"))
    (model_word,) = tokenize(quoted)
    expected = asterisk_receives(value)
    assert word.decode("utf-8") == model_word and expected.startswith(model_word)
    if model_word != expected:  # cut: the next character (with its escape) would not have fitted
        assert size + _escaped_size(expected[len(model_word)]) > max_bytes


def _ends_with_dangling_escape(text: str) -> bool:
    """A final backslash escaping nothing: the simulator makes an empty word of it, res_agi does not."""
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


# No quoted value ends with a dangling escape; that gap of the simulator is in the report.
command_lines = st.text(alphabet=st.sampled_from(list(' \t"\\ab')), max_size=40).filter(
    lambda text: not _ends_with_dangling_escape(text))


@given(command_lines)
def test_the_two_tokenizer_models_agree_on_command_lines(text):
    assert tokenize(text) == [word.decode("utf-8") for word in res_agi_words(text.encode("utf-8"))]
