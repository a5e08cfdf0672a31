"""Property tests of the JSON API's answer handling, with arbitrary answers.

The adapter is driven through a stub HTTP layer that returns any status and
any body (bytes, JSON of any shape, truncated JSON, deeply nested JSON).  The
contract: rows, a match, a balance or None, else an ``ITFlowError``.  Anything
else would escape the services' error handling as a crash.
"""

from __future__ import annotations

import json
from typing import Dict, Mapping, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itflow_bridge.core.errors import ITFlowError, ITFlowResponseError
from itflow_bridge.itflow.http import HTTPResponse
from itflow_bridge.core.models import Balance, CallerMatch
from itflow_bridge.itflow.v1 import V1Adapter
from itflow_bridge.itflow.v1_reader import is_success

JSON_TYPE = "application/json"
MODULES = ("contacts", "clients", "locations", "vendors", "invoices")
MAX_REQUESTS = 2000  # an adapter asking more than this for one question is looping


class CannedHTTP:
    """Stands in for ``ITFlowHTTP``: answers each module's GET from a table."""

    def __init__(self, answers: Mapping[str, HTTPResponse], default: HTTPResponse):
        self._answers = dict(answers)
        self._default = default
        self.requests = 0

    def get(self, path: str, params: Mapping[str, object], *, timeout: Optional[float] = None,
            body: Optional[Mapping[str, object]] = None) -> HTTPResponse:
        self.requests += 1
        assert self.requests <= MAX_REQUESTS, "runaway paging"
        module = path.split("/")[3] if path.count("/") >= 4 else ""
        return self._answers.get(module, self._default)


# --- strategies -------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
column_values = st.one_of(st.none(), st.text(max_size=20), st.from_regex(r"\A-?[0-9]{1,6}(\.[0-9]{2})?\Z"),
                          st.integers(), st.floats(allow_nan=False))
columns = st.sampled_from(["contact_id", "contact_name", "contact_client_id", "contact_phone", "contact_mobile",
                           "client_id", "client_name", "client_currency_code", "location_phone", "location_name",
                           "location_client_id", "vendor_phone", "vendor_name", "invoice_client_id",
                           "invoice_status", "invoice_amount"]) | st.text(max_size=10)
rows = st.dictionaries(columns, column_values, max_size=8)
success_values = st.sampled_from(["True", "False", True, False, "true", "FALSE", "yes", 1, 0, None, ""])
payloads = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"success": success_values},
        optional={"count": st.integers(-1, 60), "data": st.one_of(st.lists(rows, max_size=6), json_values),
                  "message": json_values},
    ),
)


def _encode(payload: object, ascii_only: bool) -> bytes:
    return json.dumps(payload, ensure_ascii=ascii_only).encode("utf-8")


def _nested(depth: int) -> bytes:
    return b'{"success":"True","data":' + b"[" * depth + b"]" * depth + b"}"


bodies = st.one_of(
    st.builds(_encode, payloads, st.booleans()),
    st.builds(lambda payload, cut: _encode(payload, True)[:cut], payloads, st.integers(0, 200)),  # truncated
    st.binary(max_size=200),
    st.integers(1, 100_000).map(_nested),
    st.just(b""),
)
statuses = st.one_of(st.sampled_from([200, 200, 200, 401, 403, 404, 405, 500, 302]), st.integers(0, 999))
responses = st.builds(HTTPResponse, status=statuses, body=bodies, content_type=st.just(JSON_TYPE),
                      location=st.sampled_from(["", "/login.php"]))
lookup_digits = st.from_regex(r"\A[0-9]{1,18}\Z").filter(lambda digits: int(digits) != 0)


# --- is_success and read_page ------------------------------------------------------------------


@given(json_values)
def test_is_success_answers_a_bool_or_a_response_error(payload):
    try:
        answer = is_success(payload)
    except ITFlowResponseError:
        return
    assert isinstance(answer, bool)
    assert isinstance(payload, dict) and "success" in payload


@given(word=st.sampled_from(["true", "false"]).flatmap(
    lambda word: st.builds(lambda flags: "".join(c.upper() if f else c for c, f in zip(word, flags)),
                           st.lists(st.booleans(), min_size=len(word), max_size=len(word)))))
def test_success_strings_are_read_in_any_case(word):
    assert is_success({"success": word}) is (word.lower() == "true")


@given(response=responses)
def test_read_page_gives_rows_or_an_itflow_error(response):
    http = CannedHTTP({}, response)
    try:
        page = V1Adapter(http).read_page("contacts", {"contact_phone_or_mobile": "5551234567"})
    except ITFlowError:
        return
    assert response.status == 200
    assert isinstance(page, list) and all(isinstance(row, dict) for row in page)


@given(page=st.lists(rows, max_size=5), success=st.sampled_from(["True", "False"]), ascii_only=st.booleans())
def test_read_page_returns_exactly_the_rows_of_a_success(page, success, ascii_only):
    body = _encode({"success": success, "count": len(page), "data": page}, ascii_only)
    http = CannedHTTP({}, HTTPResponse(200, body, JSON_TYPE))
    assert V1Adapter(http).read_page("clients", {}) == (page if success == "True" else [])


# --- whole questions over arbitrary answers ---------------------------------------------------


@given(answers=st.dictionaries(st.sampled_from(MODULES), responses, max_size=len(MODULES)), default=responses,
       digits=lookup_digits)
def test_find_caller_gives_a_match_none_or_an_itflow_error(answers, default, digits):
    try:
        match = V1Adapter(CannedHTTP(answers, default)).find_caller(digits)
    except ITFlowError:
        return
    assert match is None or (isinstance(match, CallerMatch) and match.matched_number == digits)


amounts = st.one_of(st.decimals(min_value=-10 ** 9, max_value=10 ** 9, places=2).map(str), st.text(max_size=12),
                    st.sampled_from(["NaN", "-Infinity", "sNaN", "1e999999", "1E+15", "-0", "12.345"]), st.none(),
                    st.integers(-10 ** 16, 10 ** 16))
invoice_rows = st.fixed_dictionaries({
    "invoice_client_id": st.sampled_from(["1", "2", 1, None, "x"]),
    "invoice_status": st.sampled_from(["Sent", "Viewed", "Paid", "Draft", "Overdue", "Cancelled", "", None]),
    "invoice_amount": amounts,
})


def _page(page_rows: object) -> HTTPResponse:
    return HTTPResponse(200, _encode({"success": "True", "count": 1, "data": page_rows}, True), JSON_TYPE)


@given(invoices=st.lists(invoice_rows, max_size=8), clients=responses, client_id=st.integers(1, 3))
def test_get_balance_gives_an_exact_amount_none_or_an_itflow_error(invoices, clients, client_id):
    answers: Dict[str, HTTPResponse] = {"invoices": _page(invoices), "clients": clients}
    try:
        balance = V1Adapter(CannedHTTP(answers, _page([]))).get_balance(client_id)
    except ITFlowError:
        return
    assert balance is None or (isinstance(balance, Balance) and balance.amount.is_finite()
                               and balance.amount.as_tuple().exponent == -2)


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "sNaN", "1e999999"])
def test_a_non_finite_or_huge_invoice_amount_is_a_response_error(amount):
    """Found by this suite: these once escaped as decimal.InvalidOperation, or as a NaN balance."""
    answers = {"clients": _page([{"client_id": "1", "client_name": "Acme"}]),
               "invoices": _page([{"invoice_client_id": "1", "invoice_status": "Sent", "invoice_amount": amount}])}
    with pytest.raises(ITFlowResponseError):
        V1Adapter(CannedHTTP(answers, _page([]))).get_balance(1)
