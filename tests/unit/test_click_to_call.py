"""Click to call's pieces: the numbers a tel: link may dial, the form token, the limit, the Originate sent."""

import pytest

from itflow_bridge.calls.ami import AMIClient
from itflow_bridge.calls.ami_protocol import encode_action, parse_stream
from itflow_bridge.calls.originate import CLICK_VARIABLE, Originator, originate_headers
from itflow_bridge.core.config import load_config
from itflow_bridge.core.errors import ConfigError
from itflow_bridge.core.redact import redact
from itflow_bridge.screen.click_to_call import call_url, number_from_query, same_origin
from itflow_bridge.screen.csrf import FormTokens
from itflow_bridge.screen.dial_number import NotANumber, clean_dial_number
from itflow_bridge.screen.rate_limit import RateLimit
from config_files import write


@pytest.mark.parametrize("text, number", [
    ("tel:+1-555-123-4567", "+15551234567"),
    ("tel:+1-555-123-4567;ext=12", "+15551234567"),  # URI parameters are not dialled
    ("TEL:0123 456;phone-context=example.com", "0123456"),
    ("+44 (20) 7946.0958", "+442079460958"),
    ("  201  ", "201"),
    ("911", "911"),
    ("+" + "9" * 20, "+" + "9" * 20),
])
def test_written_numbers_are_cleaned_to_plus_and_digits(text, number):
    assert clean_dial_number(text) == number


@pytest.mark.parametrize("text", [
    "", "tel:", "tel:;ext=1", "12", "9" * 21, "+", "++123456", "123+456",
    "%2B15551234567",          # encoded twice: refused, not guessed at
    "1234@evil", "123/456", "123,456", "123;456", "123&456", "123#", "*123", "12w34", "1-800-FLOWERS",
    "${SHELL}", "123${EXTEN}", "123\r\nAction: Originate", "123\n", "123\t456", "123\x00",
    "\u0661\u0662\u0663\u0664",   # Arabic-Indic digits
    "\uff11\uff12\uff13",          # fullwidth digits
    "sip:201@pbx", "tel:sip:201", "Local/201@from-internal",
])
def test_anything_but_a_plain_phone_number_is_refused(text):
    with pytest.raises(NotANumber):
        clean_dial_number(text)


def test_a_raw_plus_in_the_query_stays_a_plus_and_encoded_ones_decode_once():
    assert number_from_query("number=tel:+15551234567") == "tel:+15551234567"
    assert number_from_query("number=tel%3A%2B15551234567") == "tel:+15551234567"
    assert number_from_query("other=1") == ""
    assert number_from_query("number=%252B1555") == "%2B1555"  # and that one is refused above


def test_the_handler_url_is_what_registerProtocolHandler_opens_for_a_tel_link():
    assert call_url("https://pbx.example/agent/tok/", "+1555") == "https://pbx.example/agent/tok/call?number=tel%3A%2B1555"
    assert number_from_query(call_url("", "+1555").split("?", 1)[1]) == "tel:+1555"


def test_form_tokens_are_bound_to_the_link_and_the_key():
    tokens = FormTokens(b"k" * 32)
    form = tokens.issue("link-token-aaaaaaaaaaaa")
    assert tokens.check("link-token-aaaaaaaaaaaa", form)
    assert not tokens.check("link-token-bbbbbbbbbbbb", form)
    assert not tokens.check("link-token-aaaaaaaaaaaa", "")
    assert not tokens.check("link-token-aaaaaaaaaaaa", form[:-1])
    assert not tokens.check("link-token-aaaaaaaaaaaa", form + "\u00e9")
    assert not FormTokens(b"j" * 32).check("link-token-aaaaaaaaaaaa", form)  # a restart voids old pages
    assert "link-token" not in form and "k" * 8 not in repr(tokens)
    assert FormTokens().issue("x" * 20) != FormTokens().issue("x" * 20)  # a random key per daemon


def test_the_rate_limit_counts_per_key_in_a_sliding_window():
    now = [1000.0]
    limit = RateLimit(limit=5, window=60.0, clock=lambda: now[0])
    assert [limit.allow("a") for _ in range(6)] == [True] * 5 + [False]
    assert limit.allow("b")  # another link is not held back
    assert limit.retry_after("a") == pytest.approx(60.0)
    now[0] += 59.0
    assert not limit.allow("a") and limit.retry_after("a") == pytest.approx(1.0)
    now[0] += 1.0
    assert limit.allow("a") and limit.retry_after("b") == 0.0
    assert [limit.allow("a") for _ in range(5)] == [True] * 4 + [False]  # the one at 1060 counts
    now[0] += 1000.0
    assert limit.allow("c") and set(limit._seen) == {"c"}  # quiet keys are forgotten


@pytest.mark.parametrize("headers, allowed", [
    ({"Sec-Fetch-Site": "same-origin", "Origin": "http://pbx:8088", "Host": "pbx:8088"}, True),
    ({"Sec-Fetch-Site": "same-origin"}, True),
    ({"Sec-Fetch-Site": "same-origin", "Origin": "null", "Host": "pbx:8088"}, True),  # Chromium, no-referrer page
    ({"Origin": "https://pbx.example", "Host": "pbx.example"}, True),
    ({"Sec-Fetch-Site": "cross-site", "Origin": "https://itflow.example", "Host": "pbx.example"}, False),
    ({"Sec-Fetch-Site": "same-site", "Origin": "https://pbx.example", "Host": "pbx.example"}, False),
    ({"Sec-Fetch-Site": "none"}, False),  # typed into the address bar: no page asked
    ({"Origin": "https://itflow.example", "Host": "pbx.example"}, False),
    ({"Origin": "null", "Host": "pbx.example"}, False),
    ({"Origin": "https://pbx.example"}, False),
    ({"Host": "pbx.example"}, False),  # neither header: not a browser's same-origin form
    ({}, False),
])
def test_same_origin_is_what_the_browser_says(headers, allowed):
    assert same_origin(headers.get) is allowed


def test_originate_headers_ring_the_extension_then_dial_the_number():
    headers = originate_headers("201", "+15551234567")
    assert headers == [
        ("Channel", "Local/201@originate-skipvm"), ("Context", "from-internal"), ("Exten", "+15551234567"),
        ("Priority", "1"), ("CallerID", '"Call to +15551234567" <201>'), ("Timeout", "30000"),
        ("Variable", CLICK_VARIABLE + "=1"), ("Async", "true")]
    plain = dict(originate_headers("alice", "0123456", "PJSIP/{ext}", "phones"))
    assert (plain["Channel"], plain["Context"]) == ("PJSIP/alice", "phones")
    message = parse_stream(encode_action("Originate", "1", headers))[0]
    assert message.get("Exten") == "+15551234567" and message.get("Variable") == "ITFLOW_CLICK_TO_CALL=1"


@pytest.mark.parametrize("extension, number", [
    ("201", "123@evil"), ("201", "${SHELL}"), ("201", "12"), ("201\r\nAction: Command", "123"),
    ("20 1", "123"), ("", "123"), ("201", "tel:123"),
])
def test_originate_headers_refuse_what_was_not_cleaned(extension, number):
    with pytest.raises(ValueError):
        originate_headers(extension, number)


@pytest.mark.parametrize("channel", ["Local/201@from-internal", "PJSIP/{ext}&PJSIP/666", "Local/{ext}{ext}",
                                     "Local/{ext},30", "Local/{ext}\r\nAction: Command", "Local/{ext}\"x"])
def test_channel_templates_name_one_phone(channel):
    with pytest.raises(ValueError):
        originate_headers("201", "123456", channel)


class _RecordingClient:
    made = []

    def __init__(self, *args, **options):
        self.args, self.options, self.sent, self.closed = args, options, [], False
        _RecordingClient.made.append(self)

    def connect(self):
        pass

    def send_action(self, action, headers=()):
        self.sent.append((action, list(headers)))

    def close(self):
        self.closed = True


def test_the_originator_sends_one_originate_in_a_session_of_its_own():
    _RecordingClient.made = []
    originator = Originator("127.0.0.1", 5038, "itflow-bridge-dial", "dial-secret-0123456789", channel_template="SIP/{ext}",
                            context="phones", client_factory=_RecordingClient)
    originator.call("201", "0123456")
    (client,) = _RecordingClient.made
    assert client.args == ("127.0.0.1", 5038, "itflow-bridge-dial", "dial-secret-0123456789")
    assert client.options["events"] == "off" and client.closed
    assert client.sent == [("Originate", originate_headers("201", "0123456", "SIP/{ext}", "phones"))]
    assert "dial-secret" not in repr(originator)
    assert Originator("h", 1, "u", "s")._client_factory is AMIClient


def test_originate_settings_default_to_freepbx_and_keep_the_secret_out(tmp_path):
    calls = load_config(write(tmp_path, ""), env={}).calls
    assert (calls.originate_user, calls.originate_channel, calls.originate_context, calls.originate_auto_confirm) == (
        "", "Local/{ext}@originate-skipvm", "from-internal", False)
    calls = load_config(write(tmp_path, (
        "[calls]\noriginate_user = itflow-bridge-dial\noriginate_secret = dial-s3cret\n"
        "originate_channel = PJSIP/{ext}\noriginate_context = phones\noriginate_auto_confirm = yes\n")), env={}).calls
    assert (calls.originate_user, calls.originate_channel, calls.originate_context, calls.originate_auto_confirm) == (
        "itflow-bridge-dial", "PJSIP/{ext}", "phones", True)
    assert "dial-s3cret" not in repr(calls)
    assert redact("login dial-s3cret") == "login ***"


@pytest.mark.parametrize("line, words", [
    ("originate_channel = PJSIP/201", "{ext} once"),
    ("originate_channel = PJSIP/{ext}&PJSIP/9", "no , ; &"),
    ("originate_context = from internal", "dialplan context"),
    ("originate_auto_confirm = maybe", "[calls] originate_auto_confirm"),
])
def test_bad_originate_settings_are_named(tmp_path, line, words):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, "[calls]\n" + line + "\n"), env={})
    assert words in str(error.value)
