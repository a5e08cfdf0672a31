"""ITFlow's JSON API ``/api/v1/{module}/{function}.php``: the key check and the reads.

``V1Call`` is one run of a v1 script: the request as PHP sees it (``$_GET``,
``$_POST = json_decode(php://input)``) and the ways it answers (PHP
``json_encode`` bytes, ``"True"``/``"False"`` strings, ``limit``/``offset``
paging).  ``authenticate`` is ``validate_api_key.php`` with
``enforce_api_rbac.php``; ``read`` is ``require_get_method.php`` plus the
module's ``read.php``.  Writes are in ``json_api_writes.py``.

The key acts as an administrator, so reads see every client (``client_id`` is
ignored by reads, as in ITFlow).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .php import Dataset, Row, php_intval, php_json_encode, php_json_post, sql_int, table_rows
from .wire import JSON_TYPE, Reply, Request

V1_PREFIX = "/api/v1/"

INVALID_KEY = "Authentication failed. API key is invalid or has expired."
NOT_TIED = "This API key is not tied to a user and is no longer valid. Please recreate it."
USER_INVALID = "The user linked to this API key is inactive, archived, or invalid."
GET_ONLY = "Can only send GET requests to this endpoint."
POST_ONLY = "Can only send POST requests to this endpoint."
MISS = "No resource (for this client and company) with the specified parameter(s)."
DEFAULT_LIMIT = 50

# What ITFlow makes of the one valid key (FakeITFlow.key_state):
KEY_VALID = "valid"
KEY_REFUSED = "refused"  # unknown or expired (api_key_expire in the past)
KEY_NOT_TIED = "not_tied"  # api_key_user_id = 0: a key from before per-user keys
KEY_USER_INVALID = "user_invalid"  # the key's user was deleted, archived or disabled
KEY_STATES = (KEY_VALID, KEY_REFUSED, KEY_NOT_TIED, KEY_USER_INVALID)


def _posted_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class V1Call:
    """One request to a v1 script, and the answers every script shares.

    ``bool_success``: answer ``"success"`` as a JSON boolean instead of ITFlow's
    ``"True"``/``"False"`` strings (what some ITFlow forks and older releases do).
    """

    def __init__(self, data: Dataset, request: Request, module: str, script: str, *,
                 bool_success: bool = False) -> None:
        self.data = data
        self.request = request
        self.module = module
        self.script = script
        self.method = request.method
        self.query = request.query
        self.posted = php_json_post(request.body)
        self.bool_success = bool_success

    def api_key(self) -> Optional[str]:
        """The key as validate_api_key.php reads it: the body's wins over the query string's."""
        posted_key = self.posted.get("api_key")
        if posted_key is not None:
            return _posted_text(posted_key)
        return self.query.get("api_key")

    def paging(self, name: str, default: int) -> int:
        """``$limit`` / ``$offset``: ``intval`` of the query string's, else the body's, else ``default``."""
        if name in self.query:
            return php_intval(self.query[name])
        if self.posted.get(name) is not None:
            return php_intval(_posted_text(self.posted[name]))
        return default

    def page(self, rows: List[Row]) -> Reply:
        """``LIMIT $limit OFFSET $offset`` of ``rows``, answered as read_output.php does."""
        limit = self.paging("limit", DEFAULT_LIMIT)
        offset = self.paging("offset", 0)
        if limit < 0 or offset < 0:  # "LIMIT -1" is an SQL syntax error: uncaught, 500, no body
            return Reply(500, b"", JSON_TYPE)
        return self.rows_answer(rows[offset:offset + limit])

    def rows_answer(self, rows: Sequence[Row]) -> Reply:
        """read_output.php: the rows, or the miss answer when there are none."""
        if not rows:
            return self.failure(200, MISS)
        return self.json(200, {"success": "True", "count": len(rows), "data": list(rows)})

    def failure(self, status: int, message: str) -> Reply:
        return self.json(status, {"success": "False", "message": message})

    def json(self, status: int, payload: Dict[str, Any]) -> Reply:
        if self.bool_success:
            payload = dict(payload, success=payload["success"] == "True")
        return Reply(status, php_json_encode(payload).encode("ascii"), JSON_TYPE)


def authenticate(call: V1Call, api_key: str, key_state: str = KEY_VALID) -> Optional[Reply]:
    """validate_api_key.php and enforce_api_rbac.php: None when the call may go on, else the refusal."""
    method = call.method
    if method not in ("GET", "POST"):  # validate_api_key.php var_dump()s the method
        return Reply(405, ('string(%d) "%s"\n' % (len(method), method)).encode("utf-8"), JSON_TYPE)
    key = call.api_key()
    if key is None:
        return Reply(401, b"", JSON_TYPE)
    if key != api_key or key_state == KEY_REFUSED:
        return call.failure(401, INVALID_KEY)
    if key_state == KEY_NOT_TIED:
        return call.failure(403, NOT_TIED)
    if key_state == KEY_USER_INVALID:
        return call.failure(403, USER_INVALID)
    return None


# --- read.php ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadEndpoint:
    """What one ``{module}/read.php`` accepts, in the order its PHP tests the parameters."""

    id_column: str  # the table's primary key: row order, and the ``{id}=N`` single lookup
    lookup_by_id: bool = True
    unpaged_filters: Tuple[str, ...] = ()  # ``column=VALUE`` exact match, every matching row
    paged_filters: Tuple[str, ...] = ()  # ``column=VALUE`` exact match, LIMIT/OFFSET applied


READS: Dict[str, ReadEndpoint] = {
    "assets": ReadEndpoint("asset_id", paged_filters=(
        "asset_type", "asset_name", "asset_serial", "asset_uri", "asset_uri_2")),
    "certificates": ReadEndpoint("certificate_id", paged_filters=("certificate_name",)),
    "clients": ReadEndpoint("client_id", lookup_by_id=False, unpaged_filters=("client_name",)),
    "contacts": ReadEndpoint("contact_id", unpaged_filters=("contact_email",)),
    "credentials": ReadEndpoint("credential_id", lookup_by_id=False),
    "documents": ReadEndpoint("document_id"),
    "domains": ReadEndpoint("domain_id", paged_filters=("domain_name",)),
    "expenses": ReadEndpoint("expense_id"),
    "invoice_items": ReadEndpoint("item_id"),
    "invoices": ReadEndpoint("invoice_id"),
    "locations": ReadEndpoint("location_id"),
    "networks": ReadEndpoint("network_id", paged_filters=("network_name",)),
    "products": ReadEndpoint("product_id"),
    "quotes": ReadEndpoint("quote_id"),
    "software": ReadEndpoint("software_id", paged_filters=("software_key", "software_name", "software_type")),
    "ticket_replies": ReadEndpoint("ticket_reply_id"),
    "tickets": ReadEndpoint("ticket_id"),
    "vendors": ReadEndpoint("vendor_id"),
}


def read(call: V1Call) -> Reply:
    """require_get_method.php, then ``{module}/read.php``."""
    if call.method != "GET":
        return call.failure(405, GET_ONLY)
    endpoint = READS[call.module]
    query = call.query
    rows = table_rows(call.data, call.module, endpoint.id_column)
    if endpoint.lookup_by_id and endpoint.id_column in query:
        wanted_id = php_intval(query[endpoint.id_column])
        return call.rows_answer([row for row in rows if sql_int(row.get(endpoint.id_column)) == wanted_id])
    for column in endpoint.unpaged_filters:
        if column in query:
            return call.rows_answer([row for row in rows if row.get(column) == query[column]])
    for column in endpoint.paged_filters:
        if column in query:
            return call.page([row for row in rows if row.get(column) == query[column]])
    if call.module == "contacts" and "contact_phone_or_mobile" in query:
        return call.rows_answer(_first_phone_or_mobile(rows, query["contact_phone_or_mobile"]))
    return call.page(rows)


def _first_phone_or_mobile(rows: Sequence[Row], number: str) -> List[Row]:
    """``WHERE contact_mobile = 'X' OR contact_phone = 'X' ... LIMIT 1``: exact strings, NULL never matches."""
    for row in rows:
        if row.get("contact_mobile") == number or row.get("contact_phone") == number:
            return [row]
    return []
