"""The JSON API's one reader: its paging rule and its answers' checks, the same for every caller."""

import json

import pytest

from itflow_bridge.core.errors import (
    ITFlowAuthError,
    ITFlowMethodError,
    ITFlowResponseError,
    ITFlowUnavailable,
)
from itflow_bridge.itflow.http import HTTPResponse
from itflow_bridge.itflow.v1_reader import MAX_ROWS, PAGE_SIZE, check_status, read_all, rows_of


class Pages:
    """A listing of ``total`` rows served page by page; records each page asked for."""

    def __init__(self, total, same_rows_whatever_the_offset=False):
        self.total = total
        self.same = same_rows_whatever_the_offset
        self.asked = []

    def __call__(self, params):
        self.asked.append((params["limit"], params["offset"]))
        start = 0 if self.same else params["offset"]
        return [{"id": str(n)} for n in range(start, min(start + params["limit"], self.total))]


def test_pages_of_the_one_page_size_until_a_short_page():
    pages = Pages(PAGE_SIZE + 3)
    rows = list(read_all(pages, "contacts", {"contact_name": "x"}))
    assert len(rows) == PAGE_SIZE + 3
    assert pages.asked == [(PAGE_SIZE, 0), (PAGE_SIZE, PAGE_SIZE)]


def test_an_exact_multiple_ends_on_the_empty_false_page():
    pages = Pages(10)
    assert len(list(read_all(pages, "contacts", page_size=5))) == 10
    assert pages.asked == [(5, 0), (5, 5), (5, 10)]
    assert all(limit > 0 for limit, _ in pages.asked)  # never limit=-1


def test_more_rows_than_the_cap_fail_instead_of_truncating():
    with pytest.raises(ITFlowResponseError, match="more than 20 vendors"):
        list(read_all(Pages(25), "vendors", page_size=5, max_rows=20))
    assert MAX_ROWS >= 100 * PAGE_SIZE


def test_a_filter_answered_without_paging_ends_after_the_repeated_page():
    pages = Pages(3, same_rows_whatever_the_offset=True)
    assert len(list(read_all(pages, "contacts", page_size=3))) == 3
    assert len(pages.asked) == 2


def test_a_row_seen_twice_while_paging_is_given_once():
    served = iter([[{"id": "1"}, {"id": "2"}], [{"id": "2"}]])
    rows = list(read_all(lambda params: next(served), "contacts", page_size=2, id_column="id"))
    assert [row["id"] for row in rows] == ["1", "2"]


def test_data_must_be_a_list_of_rows():
    assert rows_of({"success": "False", "message": "No resource"}) == []
    assert rows_of({"success": "True", "data": [{"a": "1"}]}) == [{"a": "1"}]
    with pytest.raises(ITFlowResponseError, match="'data' is not a list of rows"):
        rows_of({"success": "True", "data": {"a": "1"}})


def answer(status, payload=None):
    body = b"" if payload is None else json.dumps(payload).encode()
    return HTTPResponse(status=status, body=body, content_type="application/json")


@pytest.mark.parametrize("status, payload, error, words", [
    (405, {"success": "False", "message": "Can only send GET requests to this endpoint."}, ITFlowMethodError,
     "request method: Can only send GET"),
    (400, {"success": "False", "message": "Bad filter"}, ITFlowResponseError, "refused the request: Bad filter"),
    (401, None, ITFlowAuthError, "key is missing"),
    (500, None, ITFlowUnavailable, "HTTP 500"),
])
def test_each_status_is_one_error_for_every_caller(status, payload, error, words):
    with pytest.raises(error, match=words):
        check_status(answer(status, payload))
