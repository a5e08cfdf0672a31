"""The one way of talking to ``/api/v1/{module}/{function}.php``: statuses, answers, paging.

The caller adapter (``itflow/v1.py``), the typed script API (``api/typed.py``)
and so the directory sync read through this module, so they page, map errors
and validate answers alike:

* every answer's HTTP status becomes one error (``check_status``); ``success``
  is the string "True"/"False" (a boolean is accepted too);
* a read's ``data`` must be a list of rows; a "False" answer is an empty page;
* whole listings page with ``limit``/``offset`` (never ``limit=-1``, an HTTP
  500 in ITFlow) until a short or a "False" page, and fail rather than
  truncate beyond ``MAX_ROWS``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, cast

from ..core.errors import (
    ITFlowAPIMissing,
    ITFlowAuthError,
    ITFlowMethodError,
    ITFlowResponseError,
    ITFlowUnavailable,
    ITFlowWriteRefused,
)
from ..core.models import ListingStats
from .http import HTTPResponse, ITFlowHTTP

RawRow = Dict[str, Any]  # one row as ITFlow sends it: column -> string or None
READ = "read"
PAGE_SIZE = 500  # rows per request: ~0.5 MB of JSON for contacts, far below the HTTP body cap
MAX_ROWS = 200000  # per listing: a runaway guard that fails the read instead of truncating it
ITFLOW_PAGE = 50  # the page ITFlow answers when a read gives no limit


def endpoint(module: str, function: str = READ) -> str:
    return "/api/v1/%s/%s.php" % (module, function)


def is_success(payload: Any) -> bool:
    """Whether a JSON answer says success, whatever type ITFlow used."""
    if not isinstance(payload, dict) or "success" not in payload:
        raise ITFlowResponseError("unexpected JSON from ITFlow: no 'success' field")
    value = payload["success"]
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ITFlowResponseError("unexpected JSON from ITFlow: 'success' is %r" % (value,))


def check_status(response: HTTPResponse) -> None:
    """Raise the error an HTTP status of the JSON API means; nothing for 200."""
    status = response.status
    if status == 200:
        return
    message = _message(response)
    if status == 401:
        if not response.body.strip():
            raise ITFlowAuthError("ITFlow says the API key is missing", reason="missing")
        raise ITFlowAuthError("ITFlow refused the API key: %s" % (message or "invalid or expired"), reason="invalid")
    if status == 403:
        raise ITFlowAuthError(
            "ITFlow refused the API key: %s" % (message or "forbidden"),
            reason=("not_tied_to_user" if "not tied to a user" in message
                    else "user_invalid" if "user linked to this API key" in message else "forbidden"),
        )
    if status == 404:
        raise ITFlowAPIMissing("no JSON API here: /api/v1 answered HTTP 404")
    if status == 405:
        raise ITFlowMethodError("ITFlow refused the request method: %s" % (message or "HTTP 405"))
    if status == 400:
        raise ITFlowResponseError("ITFlow refused the request: %s" % (message or "HTTP 400"))
    if 300 <= status < 400:
        raise ITFlowResponseError(
            "ITFlow redirected the API to %s: check [itflow] url" % (response.location or "another page")
        )
    raise ITFlowUnavailable("ITFlow answered HTTP %d" % status)


def _message(response: HTTPResponse) -> str:
    """ITFlow's own ``message`` (at most 200 characters), "" when the body has none."""
    try:
        payload = response.json()
    except ITFlowResponseError:
        return ""
    message = payload.get("message") if isinstance(payload, dict) else None
    return message[:200] if isinstance(message, str) else ""


def answer_of(response: HTTPResponse) -> Dict[str, Any]:
    """The JSON object of an answer whose status is fine and whose ``success`` field is valid."""
    check_status(response)
    payload = response.json()
    if not isinstance(payload, dict):
        raise ITFlowResponseError("unexpected JSON from ITFlow: not an object")
    is_success(payload)  # raises on an answer without a valid 'success'
    return payload


def rows_of(payload: Mapping[str, Any]) -> List[RawRow]:
    """A read's rows: none for a "False" answer, else ``data``, which must be a list of rows."""
    if not is_success(payload):
        return []
    data = payload.get("data")
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise ITFlowResponseError("unexpected JSON from ITFlow: 'data' is not a list of rows")
    return cast(List[RawRow], data)


def read_all(read_page: Callable[[Dict[str, Any]], List[RawRow]], what: str,
             params: Optional[Mapping[str, Any]] = None, *, page_size: Optional[int] = None,
             max_rows: Optional[int] = None, id_column: Optional[str] = None,
             stats: Optional[ListingStats] = None) -> Iterator[RawRow]:
    """Every row ``read_page(params)`` pages through, until a short or empty ("False") page.

    A page equal to the one before ends the listing too (a single-row filter
    ITFlow answers without paging).  With ``id_column``, a row seen twice (a
    row added while paging shifts the offsets) is yielded once.  More than
    ``max_rows`` rows of ``what`` fail the read rather than truncating it.
    """
    size = PAGE_SIZE if page_size is None else page_size
    cap = MAX_ROWS if max_rows is None else max_rows
    base = dict(params or {})
    seen = set()
    previous: Optional[List[RawRow]] = None
    offset = 0
    while True:
        rows = read_page(dict(base, limit=size, offset=offset))
        if stats is not None:
            stats.requests += 1
        if rows and rows == previous:
            return
        for row in rows:
            key = row.get(id_column) if id_column else None
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            yield row
        if len(rows) < size:
            return
        previous = rows
        offset += size
        if offset >= cap:
            raise ITFlowResponseError("ITFlow listed more than %d %s: refusing a truncated listing" % (cap, what))


class V1Reader:
    """Requests to one site's JSON API over its HTTP session."""

    def __init__(self, http: ITFlowHTTP):
        self.http = http

    def read_page(self, module: str, params: Mapping[str, Any], *, function: str = READ,
                  body: Optional[Mapping[str, Any]] = None, timeout: Optional[float] = None) -> List[RawRow]:
        """One page of rows; an empty list for ITFlow's "no resource" answer."""
        response = self.http.get(endpoint(module, function), params, timeout=timeout, body=body)
        return rows_of(answer_of(response))

    def read_all(self, module: str, params: Optional[Mapping[str, Any]] = None, *, timeout: Optional[float] = None,
                 page_size: Optional[int] = None, max_rows: Optional[int] = None, id_column: Optional[str] = None,
                 stats: Optional[ListingStats] = None) -> Iterator[RawRow]:
        """Every row of ``module/read`` (see ``read_all``)."""
        return read_all(lambda page: self.read_page(module, page, timeout=timeout), module, params,
                        page_size=page_size, max_rows=max_rows, id_column=id_column, stats=stats)

    def post(self, module: str, function: str, body: Mapping[str, Any], *,
             timeout: Optional[float] = None) -> Dict[str, Any]:
        """A write's answer (its ``success`` checked to be valid, not to be true)."""
        return answer_of(self.http.post_json(endpoint(module, function), body, timeout=timeout))

    def create(self, module: str, body: Mapping[str, Any], *, what: str,
               timeout: Optional[float] = None) -> int:
        """Create ``what`` (a record of ``module``); answers its new id.  A refusal names the keys sent."""
        answer = self.post(module, "create", body, timeout=timeout)
        if not is_success(answer):
            raise ITFlowWriteRefused("ITFlow refused the create: missing or invalid fields (sent %s)"
                                     % (", ".join(sorted(body)) or "no fields"), keys=sorted(body))
        try:
            return int(answer["data"][0]["insert_id"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise ITFlowResponseError("ITFlow created the %s but gave no insert_id" % what) from None
