"""Property tests of the legacy ``/api.php`` body parsers.

A legacy body is plain text that PHP may have wrapped in HTML warnings, so the
parsers see arbitrary text in practice.  Their contract: a name (or None for a
miss), a balance, or ``ITFlowResponseError``; never another exception, and
never an answer taken from a body that echoes a different number.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from itflow_bridge.core.errors import ITFlowResponseError
from itflow_bridge.itflow.legacy import parse_balance_body, parse_cid_body, strip_php_messages
from itflow_bridge.sample.php import php_float_str

SCRIPT = "/var/www/html/api.php"
WARNING = "<br />\n<b>Warning</b>:  Trying to access array offset on value of type null in %s on line <b>45</b><br />\n"
FATAL = ("<br />\n<b>Fatal error</b>:  Uncaught mysqli_sql_exception: Table 'itflow.alerts' doesn't exist in "
         "%s:49\nStack trace:\n#0 {main}\n  thrown in <b>%s</b> on line <b>49</b><br />\n")

php_warning = st.sampled_from([
    WARNING % SCRIPT,
    "<br />\n<b>Notice</b>:  Undefined index in x on line <b>9</b><br />\n",
    "<br />\n<b>Deprecated</b>:  y on line <b>1</b><br />\n",
])
php_fatal = st.just(FATAL % (SCRIPT, SCRIPT))
lookup_digits = st.from_regex(r"\A[0-9]{1,18}\Z")
# Names as ITFlow stores them (" - " included): anything but the "<" that starts PHP's HTML messages.
name_chars = st.characters(blacklist_characters="<", blacklist_categories=("Cs",))
names = st.lists(st.one_of(st.sampled_from([" - ", "-", " ", "O'Brien", "5551234567", "\u00fc"]),
                           st.text(alphabet=name_chars, max_size=6)), max_size=10).map("".join)
body_fragments = st.sampled_from([" - ", " -", "- ", "<br />\n", "<b>Warning</b>:", "<b>Fatal error</b>:",
                                  " on line <b>45</b>", "<br />", "\n", "-", ".", "e", "E+", "1", "0", "55"])
awkward_text = st.text(alphabet=st.one_of(st.sampled_from(list(" -<>\n\r\0\u00e9\u00a0")), st.characters()))
bodies = st.one_of(
    awkward_text,
    st.lists(st.one_of(body_fragments, st.text(max_size=5)), max_size=15).map("".join),
)


@given(body=bodies, digits=lookup_digits)
def test_any_cid_body_is_a_name_a_miss_or_a_response_error(body, digits):
    try:
        name = parse_cid_body(body, digits)
    except ITFlowResponseError:
        return
    assert name is None or (name and name == name.strip())
    _, separator, echo = strip_php_messages(body).rpartition(" - ")
    assert separator and echo.strip() == str(int(digits))  # the echo is the number asked for


@given(name=names, digits=lookup_digits, before=st.one_of(st.just(""), php_warning),
       after=st.sampled_from(["", "\n"]) | php_fatal)
def test_a_cid_answer_gives_back_the_name_whatever_php_printed_around_it(name, digits, before, after):
    body = before + name + " - " + str(int(digits)) + after
    assert parse_cid_body(body, digits) == (name.strip() or None)


@given(name=names, asked=lookup_digits, echoed=lookup_digits)
def test_an_answer_for_another_number_is_refused(name, asked, echoed):
    if int(asked) == int(echoed):
        echoed = str(int(echoed) + 1)
    try:
        parse_cid_body(name + " - " + str(int(echoed)), asked)
    except ITFlowResponseError:
        return
    raise AssertionError("a body echoing %s was accepted as the answer for %s" % (echoed, asked))


@given(body=bodies)
def test_any_balance_body_is_an_amount_or_a_response_error(body):
    try:
        amount = parse_balance_body(body)
    except ITFlowResponseError:
        return
    assert isinstance(amount, Decimal) and amount.is_finite()
    assert amount.as_tuple().exponent == -2


@given(cents=st.integers(-(10 ** 13) + 1, 10 ** 13 - 1), before=st.one_of(st.just(""), php_warning))
def test_a_php_printed_balance_is_read_exactly(cents, before):
    amount = Decimal(cents) / 100
    assert parse_balance_body(before + php_float_str(float(amount))) == amount


@given(st.one_of(awkward_text, bodies))
def test_stripping_php_messages_never_raises_nor_grows_the_text(text):
    stripped = strip_php_messages(text)
    assert len(stripped) <= len(text)
    if "<" not in text:
        assert stripped == text
