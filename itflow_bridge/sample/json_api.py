"""ITFlow's JSON API ``/api/v1/{module}/{function}.php``: the key check and the reads.

``V1Call`` is one run of a v1 script: the request as PHP sees it (``$_GET``,
``$_POST = json_decode(php://input)``) and the ways it answers (PHP
``json_encode`` bytes, ``"True"``/``"False"`` strings, ``limit``/``offset``
paging).  ``authenticate`` is ``validate_api_key.php`` with
``enforce_api_rbac.php``; ``read`` is ``require_get_method.php`` plus the
module's ``read.php``.  The writes live with the tests, which plug them
into ``FakeITFlow``.

The key acts as an administrator, so reads see every client (``client_id`` is
ignored by reads, as in ITFlow).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .php import (
    Dataset, Row, php_empty, php_intval, php_json_encode, php_json_post, php_str, sql_equal, sql_int, table_rows,
)
from .schema import DEFAULT_USERS, TABLES, TICKET_STATUSES, rows_or_default
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
    ``decrypt_password``: the password that unwraps the key's ``api_key_decrypt_hash``.
    """

    def __init__(self, data: Dataset, request: Request, module: str, script: str, *,
                 bool_success: bool = False, decrypt_password: str = "") -> None:
        self.data = data
        self.decrypt_password = decrypt_password
        self.request = request
        self.module = module
        self.script = script
        self.method = request.method
        self.query = request.query
        self.posted = php_json_post(request.body)
        self.bool_success = bool_success

    def decrypt_password_right(self) -> bool:
        """The body's ``api_key_decrypt_password`` unwraps the key's master key."""
        return php_str(self.posted.get("api_key_decrypt_password")) == self.decrypt_password != ""

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
# String comparisons are MySQL's (sql_equal: utf8mb4_general_ci); ``{id}=N`` is intval()ed.


@dataclass(frozen=True)
class ReadEndpoint:
    """What one plain ``{module}/read.php`` accepts, in the order its PHP tests the parameters."""

    id_column: str  # the table's primary key: row order, and the ``{id}=N`` single lookup
    lookup_by_id: bool = True
    unpaged_filters: Tuple[str, ...] = ()  # ``column=VALUE``, every matching row
    paged_filters: Tuple[str, ...] = ()  # ``column=VALUE``, LIMIT/OFFSET applied


READS: Dict[str, ReadEndpoint] = {
    "assets": ReadEndpoint("asset_id"),  # _read_assets
    "certificates": ReadEndpoint("certificate_id", paged_filters=("certificate_name",)),
    "clients": ReadEndpoint("client_id", lookup_by_id=False, unpaged_filters=("client_name",)),
    "contacts": ReadEndpoint("contact_id", unpaged_filters=("contact_email",)),
    "credentials": ReadEndpoint("credential_id"),  # _read_credentials
    "documents": ReadEndpoint("document_id"),
    "domains": ReadEndpoint("domain_id", paged_filters=("domain_name",)),
    "expenses": ReadEndpoint("expense_id"),
    "invoice_items": ReadEndpoint("item_id"),  # _read_invoice_items
    "invoices": ReadEndpoint("invoice_id"),
    "locations": ReadEndpoint("location_id"),
    "networks": ReadEndpoint("network_id", paged_filters=("network_name",)),
    "products": ReadEndpoint("product_id"),
    "quotes": ReadEndpoint("quote_id"),
    "software": ReadEndpoint("software_id"),  # _read_software
    "ticket_replies": ReadEndpoint("ticket_reply_id"),  # _read_ticket_replies
    "tickets": ReadEndpoint("ticket_id"),  # _read_tickets
    "vendors": ReadEndpoint("vendor_id"),
}

FILTER_REQUIRED = "A filter is required. Please supply either invoice_id or item_id."
_REPLY_TYPES = ("Internal", "Public", "Client")


def read(call: V1Call) -> Reply:
    """require_get_method.php, then ``{module}/read.php``."""
    if call.method != "GET":
        return call.failure(405, GET_ONLY)
    special = _SPECIAL_READS.get(call.module)
    return special(call) if special is not None else _read_plain(call, READS[call.module])


def _rows(call: V1Call, module: str) -> List[Row]:
    return table_rows(call.data, module, READS[module].id_column)


def _by_id(call: V1Call, rows: Sequence[Row], column: str) -> List[Row]:
    """``WHERE column = intval($_GET[column])``."""
    wanted = php_intval(call.query[column])
    return [row for row in rows if sql_int(row.get(column)) == wanted]


def _where(rows: Sequence[Row], column: str, value: str) -> List[Row]:
    return [row for row in rows if sql_equal(row.get(column), value)]


def _read_plain(call: V1Call, endpoint: ReadEndpoint) -> Reply:
    query = call.query
    rows = _rows(call, call.module)
    if endpoint.lookup_by_id and endpoint.id_column in query:
        return call.rows_answer(_by_id(call, rows, endpoint.id_column))
    for column in endpoint.unpaged_filters:
        if column in query:
            return call.rows_answer(_where(rows, column, query[column]))
    for column in endpoint.paged_filters:
        if column in query:
            return call.page(_where(rows, column, query[column]))
    if call.module == "contacts" and "contact_phone_or_mobile" in query:
        return call.rows_answer(_first_phone_or_mobile(rows, query["contact_phone_or_mobile"]))
    return call.page(rows)


def _first_phone_or_mobile(rows: Sequence[Row], number: str) -> List[Row]:
    """``WHERE contact_mobile = 'X' OR contact_phone = 'X' ... LIMIT 1``: no normalisation, NULL never matches."""
    for row in rows:
        if sql_equal(row.get("contact_mobile"), number) or sql_equal(row.get("contact_phone"), number):
            return [row]
    return []


def _left_join(row: Row, columns: Sequence[str], match: Optional[Row]) -> Row:
    """``SELECT *`` of ``row LEFT JOIN`` a table with ``columns``: NULLs when nothing matched."""
    joined = dict(row)
    joined.update((column, None if match is None else match.get(column)) for column in columns)
    return joined


def _read_assets(call: V1Call) -> Reply:
    """assets/read.php: the listing and ``asset_mac`` join each asset's primary interface."""
    query = call.query
    rows = _rows(call, "assets")
    if "asset_id" in query:
        return call.rows_answer(_by_id(call, rows, "asset_id"))
    for column in ("asset_type", "asset_name", "asset_serial"):  # ucfirst(asset_type): moot under the collation
        if column in query:
            return call.page(_where(rows, column, query[column]))
    interfaces = [row for row in table_rows(call.data, "asset_interfaces", "interface_id")
                  if sql_int(row.get("interface_primary")) == 1]
    columns = list(TABLES["asset_interfaces"])

    def joined() -> List[Row]:
        return [_left_join(asset, columns, next(
            (i for i in interfaces if sql_int(i.get("interface_asset_id")) == sql_int(asset.get("asset_id"))), None))
                for asset in rows]

    if "asset_mac" in query:
        return call.page(_where(joined(), "interface_mac", query["asset_mac"]))
    for column in ("asset_uri", "asset_uri_2"):
        if column in query:
            return call.page(_where(rows, column, query[column]))
    return call.page(joined())


def _read_credentials(call: V1Call) -> Reply:
    """credentials/read.php: nothing without ``api_key_decrypt_password`` in the (JSON) body; the
    username and password decrypted with it (``false`` where that fails)."""
    if php_empty(call.posted.get("api_key_decrypt_password")):
        return call.rows_answer([])
    right = call.decrypt_password_right()
    rows = [dict(row, **{column: decrypt_credential(row.get(column), right)
                         for column in ("credential_username", "credential_password")})
            for row in _rows(call, "credentials")]
    if "credential_id" in call.query:
        return call.rows_answer(_by_id(call, rows, "credential_id")[:1])
    return call.page(rows)


# apiEncryptCredentialEntry(): a random 16-character IV, then the ciphertext.  With a wrong
# decrypt password the master key unwraps to false and PHP encrypts with an empty key, so such
# entries decrypt again only with a wrong password.  The fake's IV ends in which key it was.
_MASTER_KEY, _EMPTY_KEY = "M", "E"


def encrypt_credential(cleartext: str, right_password: bool) -> str:
    iv = secrets.token_urlsafe(12)[:15] + (_MASTER_KEY if right_password else _EMPTY_KEY)
    return iv + base64.b64encode(b"\x01" + cleartext.encode("utf-8")).decode("ascii")


def decrypt_credential(stored: Any, right_password: bool) -> Union[str, bool]:
    """apiDecryptCredentialEntry(): the cleartext, or False (what openssl_decrypt fails with)."""
    text = stored if isinstance(stored, str) else ""
    if len(text) <= 16 or text[15] != (_MASTER_KEY if right_password else _EMPTY_KEY):
        return False
    try:
        return base64.b64decode(text[16:])[1:].decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False


def _read_invoice_items(call: V1Call) -> Reply:
    """invoice_items/read.php: ``item_id`` or ``invoice_id`` (of an existing invoice), else HTTP 400."""
    query = call.query
    invoice_ids = {sql_int(row.get("invoice_id")) for row in call.data.get("invoices") or []}
    items = [row for row in _rows(call, "invoice_items") if sql_int(row.get("item_invoice_id")) in invoice_ids]
    if "item_id" in query:
        return call.rows_answer(_by_id(call, items, "item_id")[:1])
    if "invoice_id" in query:
        wanted = php_intval(query["invoice_id"])
        mine = [row for row in items if sql_int(row.get("item_invoice_id")) == wanted]
        return call.page(sorted(mine, key=lambda row: (sql_int(row.get("item_order")) or 0,
                                                       sql_int(row.get("item_id")) or 0)))
    return call.json(400, {"success": "False", "message": FILTER_REQUIRED, "count": 0, "data": []})


def _read_software(call: V1Call) -> Reply:
    """software/read.php, its two bugs included: ``software_key`` compares with the missing
    ``software_license`` parameter (so with ''), ``software_name`` orders by a column the table
    lacks (an SQL error: HTTP 500, no body)."""
    query = call.query
    rows = _rows(call, "software")
    if "software_id" in query:
        return call.rows_answer(_by_id(call, rows, "software_id"))
    if "software_key" in query:
        return call.page(_where(rows, "software_key", query.get("software_license", "")))
    if "software_name" in query:
        return Reply(500, b"", JSON_TYPE)
    if "software_type" in query:
        return call.page(_where(rows, "software_type", str(php_intval(query["software_type"]))))
    return call.page(rows)


def _read_tickets(call: V1Call) -> Reply:
    """tickets/read.php: one ticket comes joined with its ``ticket_statuses`` row."""
    rows = _rows(call, "tickets")
    if "ticket_id" not in call.query:
        return call.page(rows)
    statuses = rows_or_default(call.data, "ticket_statuses", TICKET_STATUSES)
    columns = list(TICKET_STATUSES[0])
    return call.rows_answer([_left_join(ticket, columns, next(
        (s for s in statuses if sql_int(s.get("ticket_status_id")) == sql_int(ticket.get("ticket_status"))), None))
        for ticket in _by_id(call, rows, "ticket_id")])


def _read_ticket_replies(call: V1Call) -> Reply:
    """ticket_replies/read.php: replies joined with their ticket (none without one) and the name of
    who wrote them (a user, or the contact of a Client reply); archived ones only on request."""
    query = call.query
    tickets = {sql_int(row.get("ticket_id")): row for row in call.data.get("tickets") or []}
    users = {sql_int(row.get("user_id")): row for row in rows_or_default(call.data, "users", DEFAULT_USERS)}
    contacts = {sql_int(row.get("contact_id")): row for row in call.data.get("contacts") or []}
    wanted_type = query["type"].lower().capitalize() if "type" in query else None  # ucfirst(strtolower())
    if wanted_type not in _REPLY_TYPES:
        wanted_type = None
    rows = []
    for reply in _rows(call, "ticket_replies"):
        ticket = tickets.get(sql_int(reply.get("ticket_reply_ticket_id")))
        if ticket is None or (php_empty(query.get("include_archived")) and reply.get("ticket_reply_archived_at")):
            continue
        if wanted_type is not None and not sql_equal(reply.get("ticket_reply_type"), wanted_type):
            continue
        by = sql_int(reply.get("ticket_reply_by"))
        client_reply = sql_equal(reply.get("ticket_reply_type"), "Client")
        author = ((contacts.get(by) or {}).get("contact_name") if client_reply
                  else (users.get(by) or {}).get("user_name"))
        rows.append(dict(reply, ticket_prefix=ticket.get("ticket_prefix"), ticket_number=ticket.get("ticket_number"),
                         ticket_subject=ticket.get("ticket_subject"), ticket_client_id=ticket.get("ticket_client_id"),
                         ticket_reply_by_name=author))
    if "ticket_reply_id" in query:
        return call.rows_answer(_by_id(call, rows, "ticket_reply_id")[:1])
    if "ticket_id" in query:
        wanted = php_intval(query["ticket_id"])
        return call.page([row for row in rows if sql_int(row.get("ticket_reply_ticket_id")) == wanted])
    return call.page(rows)


_SPECIAL_READS: Dict[str, Callable[[V1Call], Reply]] = {
    "assets": _read_assets,
    "credentials": _read_credentials,
    "invoice_items": _read_invoice_items,
    "software": _read_software,
    "ticket_replies": _read_ticket_replies,
    "tickets": _read_tickets,
}
