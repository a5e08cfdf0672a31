"""ITFlow's JSON API writes for the fake ITFlow, persisted into its dataset (``FakeITFlow.data``).

Tests plug them in with ``FakeITFlow(writes=fake_writes)`` (``FaultyITFlow`` does by
default); the package's fake (the demo, ``python -m itflow_bridge.sample``) only reads.

Every ``create``/``update``/``delete``/``archive``/``unarchive``/``resolve``
endpoint of ITFlow 26.08, and ``technicians/time``, re-enacted from its PHP:
the body keys each one reads (``$_POST = json_decode(php://input)``), the
conditions under which it writes, and its exact answers:

* create: ``{"success":"True","count":"1","data":[{"insert_id":N}]}``, or the
  "Auth success but insert query failed ..." refusal;
* update, archive, unarchive, resolve: ``{"success":"True","count":N}`` where N
  is MySQL's affected rows (0 when nothing changed, which is a refusal too);
* delete: the same shape, with its own refusal message.

The key acts as an administrator (every client reachable).  ``client_id``
comes from the body (or the query string), as ``enforce_api_rbac.php`` reads
it; writes to one record match it against the record's client.  Known real
quirks kept: ``clients/update.php`` without ``client_is_lead`` is an SQL error
(HTTP 500, empty body); a create of a client must NOT name a client_id.
Simplifications: credentials are stored as sent (ITFlow encrypts them), no
audit logs, SLA or e-mail side effects.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from itflow_bridge.sample.json_api import GET_ONLY, POST_ONLY, V1Call, encrypt_credential
from itflow_bridge.sample.php import (
    Dataset, Row, php_empty, php_floatval, php_intval, php_str, php_strip_tags, php_trim, sql_collation_key,
    sql_equal, sql_int, table_rows,
)
from itflow_bridge.sample.schema import API_USER_ID, DECIMAL_COLUMNS, DEFAULT_USERS, NOW, TABLES, rows_or_default
from itflow_bridge.sample.wire import JSON_TYPE, Reply

CREATE_FAILED = (
    "Auth success but insert query failed, ensure ALL required variables are provided (and aren't "
    "duplicates where applicable) and database schema is up-to-date. Turn on error logging and look "
    "for 'undefined index'."
)
UPDATE_FAILED = (
    "Auth success but update query failed/returned no results. Ensure ALL required variables are provided "
    "and database schema is up-to-date. Most likely cause: non-existent module ID (i.e. bad contact "
    "ID/ticket ID/etc) or no rows changed."
)
DELETE_FAILED = (
    "Auth success but delete query failed. Ensure ALL required variables are provided and database schema "
    "is up-to-date. Most likely cause: asset/client/company ID mismatch."
)
BAD_MONTH = "Invalid month parameter. Must be between 1 and 12."
TICKET_PREFIX = "TCK-"

# (body key, column, kind, default when neither the body nor the stored row has it).
# kinds: text = escapeSql (tags stripped, trimmed); raw = as sent; int = intval; float = floatval;
# date = NULL when empty; digits = digits only; web = text without http(s)://; abbr = first 6 characters.
_Field = Tuple[str, str, str, Any]
_ASSET_MODEL: List[_Field] = [
    ("asset_name", "asset_name", "text", ""), ("asset_description", "asset_description", "text", ""),
    ("asset_type", "asset_type", "text", ""), ("asset_make", "asset_make", "text", ""),
    ("asset_model", "asset_model", "text", ""), ("asset_serial", "asset_serial", "text", ""),
    ("asset_os", "asset_os", "text", ""), ("asset_uri", "asset_uri", "text", ""),
    ("asset_uri_2", "asset_uri_2", "text", ""), ("asset_status", "asset_status", "text", ""),
    ("asset_purchase_date", "asset_purchase_date", "date", None),
    ("asset_warranty_expire", "asset_warranty_expire", "date", None),
    ("asset_install_date", "asset_install_date", "date", None), ("asset_notes", "asset_notes", "text", ""),
    ("asset_vendor_id", "asset_vendor_id", "int", 0), ("asset_location_id", "asset_location_id", "int", 0),
    ("asset_contact_id", "asset_contact_id", "int", 0),
]
_INTERFACE_MODEL: List[_Field] = [
    ("asset_ip", "interface_ip", "text", ""), ("asset_mac", "interface_mac", "text", ""),
    ("asset_network_id", "interface_network_id", "int", 0),
]
_CERTIFICATE_MODEL: List[_Field] = [
    ("certificate_name", "certificate_name", "text", ""),
    ("certificate_description", "certificate_description", "text", ""),
    ("certificate_domain", "certificate_domain", "text", ""),
    ("certificate_issued_by", "certificate_issued_by", "text", ""),
    ("certificate_expire", "certificate_expire", "date", None),
    ("certificate_public_key", "certificate_public_key", "text", ""),
    ("certificate_notes", "certificate_notes", "text", ""),
    ("certificate_domain_id", "certificate_domain_id", "int", 0),
]
_CLIENT_MODEL: List[_Field] = [
    ("client_name", "client_name", "text", ""), ("client_type", "client_type", "text", ""),
    ("client_website", "client_website", "web", ""), ("client_referral", "client_referral", "text", ""),
    ("client_rate", "client_rate", "float", 0), ("client_currency_code", "client_currency_code", "text", ""),
    ("client_net_terms", "client_net_terms", "int", 0),
    ("client_tax_id_number", "client_tax_id_number", "text", ""),
    ("client_abbreviation", "client_abbreviation", "abbr", ""), ("client_is_lead", "client_lead", "int", 0),
    ("client_notes", "client_notes", "text", ""),
]
_CONTACT_MODEL: List[_Field] = [
    ("contact_name", "contact_name", "text", ""), ("contact_title", "contact_title", "text", ""),
    ("contact_department", "contact_department", "text", ""), ("contact_email", "contact_email", "text", ""),
    ("contact_phone", "contact_phone", "digits", ""), ("contact_extension", "contact_extension", "digits", ""),
    ("contact_mobile", "contact_mobile", "digits", ""), ("contact_notes", "contact_notes", "text", ""),
    ("contact_primary", "contact_primary", "int", 0), ("contact_important", "contact_important", "int", 0),
    ("contact_billing", "contact_billing", "int", 0), ("contact_technical", "contact_technical", "int", 0),
    ("contact_location_id", "contact_location_id", "int", 0),
]
_CREDENTIAL_MODEL: List[_Field] = [
    ("credential_name", "credential_name", "text", ""),
    ("credential_description", "credential_description", "text", ""),
    ("credential_uri", "credential_uri", "text", ""), ("credential_uri_2", "credential_uri_2", "text", ""),
    ("credential_username", "credential_username", "secret", ""),
    ("credential_password", "credential_password", "secret", ""),
    ("credential_otp_secret", "credential_otp_secret", "text", ""),
    ("credential_note", "credential_note", "text", ""), ("credential_favorite", "credential_favorite", "int", 0),
    ("credential_contact_id", "credential_contact_id", "int", 0),
    ("credential_asset_id", "credential_asset_id", "int", 0),
]
_DOCUMENT_MODEL: List[_Field] = [
    ("document_name", "document_name", "text", ""), ("document_description", "document_description", "text", ""),
    ("document_content", "document_content", "raw", ""), ("document_folder_id", "document_folder_id", "int", 0),
]
_LOCATION_MODEL: List[_Field] = [
    ("location_name", "location_name", "text", ""), ("location_description", "location_description", "text", ""),
    ("location_country", "location_country", "text", ""), ("location_address", "location_address", "text", ""),
    ("location_city", "location_city", "text", ""), ("location_state", "location_state", "text", ""),
    ("location_zip", "location_zip", "text", ""), ("location_hours", "location_hours", "text", ""),
    ("location_notes", "location_notes", "text", ""), ("location_primary", "location_primary", "int", 0),
]
_TICKET_MODEL: List[_Field] = [
    ("ticket_contact_id", "ticket_contact_id", "int", 0), ("ticket_asset_id", "ticket_asset_id", "int", 0),
    ("ticket_subject", "ticket_subject", "text", ""), ("ticket_priority", "ticket_priority", "text", "Low"),
    ("ticket_vendor_id", "ticket_vendor_id", "int", 0),
    ("ticket_vendor_ticket_id", "ticket_vendor_ticket_number", "int", 0),
    ("ticket_assigned_to", "ticket_assigned_to", "int", 0), ("ticket_billable", "ticket_billable", "int", 0),
]

_write_lock = threading.Lock()


def _stored(column: str, value: Any) -> Optional[str]:
    """A value as mysqli would read it back: a string, NULL as None, decimals with 2 places."""
    if value is None:
        return None
    if column in DECIMAL_COLUMNS:
        return "%.2f" % Decimal(str(value))
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


class _Write:
    """One run of a write endpoint: the body, the client it names, the dataset."""

    def __init__(self, call: V1Call) -> None:
        self.call = call
        self.data = call.data
        self.posted = call.posted
        raw = self.posted.get("client_id")
        raw = call.query.get("client_id") if raw is None else raw
        self.client_id = 0 if raw is None else php_intval(php_str(raw))
        self.now = time.strftime("%Y-%m-%d %H:%M:%S")
        self.decrypt_password_right = call.decrypt_password_right()

    def isset(self, key: str) -> bool:
        return self.posted.get(key) is not None

    def text(self, key: str) -> str:
        return php_trim(php_strip_tags(php_str(self.posted[key])))

    def intval(self, key: str) -> int:
        return php_intval(php_str(self.posted.get(key)))

    def model(self, fields: List[_Field], row: Optional[Row]) -> Dict[str, Any]:
        values: Dict[str, Any] = {}
        for key, column, kind, default in fields:
            if self.isset(key) and (kind != "date" or php_str(self.posted[key]) not in ("", "0")):
                values[column] = self._convert(key, kind)
            elif row is not None and row.get(column) is not None:  # a NULL is not isset(): the default
                values[column] = row[column]
            else:
                values[column] = default
        return values

    def _convert(self, key: str, kind: str) -> Any:
        if kind == "int":
            return self.intval(key)
        if kind == "float":
            return php_floatval(php_str(self.posted[key]))
        if kind == "secret":
            return encrypt_credential(php_str(self.posted[key]), self.decrypt_password_right)
        if kind == "raw":
            return php_str(self.posted[key])
        if kind == "digits":
            return re.sub(r"[^0-9]", "", php_str(self.posted[key]))
        if kind == "web":
            return re.sub(r"^https?://", "", self.text(key))
        if kind == "abbr":
            return php_trim(php_strip_tags(php_str(self.posted[key])[:6]))
        return self.text(key)

    # -- the tables

    def table(self, name: str) -> List[Row]:
        rows: List[Row] = self.data.setdefault(name, [])
        return rows

    def find(self, table: str, id_column: str, record_id: int, **where: Any) -> Optional[Row]:
        for row in table_rows(self.data, table, id_column):
            if sql_int(row.get(id_column)) != record_id:
                continue
            if all(_matches(row.get(column), wanted) for column, wanted in where.items()):
                return row
        return None

    def insert(self, table: str, values: Dict[str, Any]) -> int:
        rows = self.table(table)
        id_column = next(iter(TABLES[table]))
        new_id = max((sql_int(row.get(id_column)) or 0 for row in rows), default=0) + 1
        row: Dict[str, Any] = {column: (self.now if default == NOW else default)
                               for column, default in TABLES[table].items()}
        row[id_column] = new_id
        row.update(values)
        rows.append({column: _stored(column, value) for column, value in row.items()})
        return new_id

    def update(self, row: Row, values: Dict[str, Any]) -> int:
        """Set columns; MySQL's affected rows: 1 when a value changed, else 0."""
        changed = {column: _stored(column, value) for column, value in values.items()}
        changed = {column: value for column, value in changed.items() if row.get(column) != value}
        if not changed:
            return 0
        row.update(changed)
        stamp = _updated_at(row)
        if stamp and stamp not in changed:
            row[stamp] = self.now
        return 1

    def delete(self, table: str, row: Row) -> None:
        self.table(table).remove(row)


def _matches(value: Any, wanted: Any) -> bool:
    if wanted is None:
        return value is None
    if wanted == "NOT NULL":
        return value is not None
    return bool(sql_int(value) == wanted)


def _updated_at(row: Row) -> Optional[str]:
    return next((column for column in row if column.endswith("_updated_at")), None)


# --- the endpoints ------------------------------------------------------------------
# Each answers ("create", insert_id or None) / ("update", count or None) / ("delete", ...),
# or a finished reply.

Outcome = Union[Reply, Tuple[str, Optional[int]]]


def _assets_create(w: _Write) -> Outcome:
    values = w.model(_ASSET_MODEL, None)
    values.pop("asset_uri_2")  # create.php does not set it
    if not (values["asset_name"] and w.client_id):
        return "create", None
    asset_id = w.insert("assets", dict(values, asset_client_id=w.client_id))
    interface = w.model(_INTERFACE_MODEL, None)
    w.insert("asset_interfaces", dict(interface, interface_name="1", interface_primary=1,
                                      interface_asset_id=asset_id))
    return "create", asset_id


def _assets_update(w: _Write) -> Outcome:
    asset_id = w.intval("asset_id")
    if not asset_id:
        return "update", None
    row = w.find("assets", "asset_id", asset_id, asset_client_id=w.client_id)
    if row is None:
        return "update", None
    count = w.update(row, w.model(_ASSET_MODEL, row))
    interface = next((i for i in w.table("asset_interfaces")
                      if sql_int(i.get("interface_asset_id")) == asset_id and i.get("interface_primary") == "1"), None)
    if interface is not None:  # asset_model.php looks for the interface's values in the asset row: defaults
        w.update(interface, w.model(_INTERFACE_MODEL, None))
    return "update", count


def _assets_delete(w: _Write) -> Outcome:
    """The asset goes (its interfaces with it: ON DELETE CASCADE), then ``DELETE FROM asset_interfaces``
    of that asset id, for any client, finds nothing left: ITFlow reports its affected rows, so every
    delete of an asset answers the delete refusal, done or not."""
    asset_id = w.intval("asset_id")
    if not asset_id:
        return "delete", None
    row = w.find("assets", "asset_id", asset_id, asset_client_id=w.client_id)
    if row is not None:
        w.delete("assets", row)
    interfaces = w.table("asset_interfaces")  # by the cascade, else by that unscoped DELETE
    interfaces[:] = [i for i in interfaces if sql_int(i.get("interface_asset_id")) != asset_id]
    return "delete", 0


def _certificates_create(w: _Write) -> Outcome:
    values = w.model(_CERTIFICATE_MODEL, None)
    if not (values["certificate_name"] and values["certificate_domain"] and w.client_id):
        return "create", None
    return "create", w.insert("certificates", dict(values, certificate_client_id=w.client_id))


def _clients_create(w: _Write) -> Outcome:
    values = w.model(_CLIENT_MODEL, None)
    if not values["client_name"] or w.client_id != 0:
        return "create", None
    return "create", w.insert("clients", dict(values, client_accessed_at=w.now))


def _clients_update(w: _Write) -> Outcome:
    if not w.client_id:
        return "update", None
    row = w.find("clients", "client_id", w.client_id)
    if row is not None and (not w.isset("client_is_lead")
                            or (not w.isset("client_rate") and row.get("client_rate") is None)):
        # client_model.php falls back to $client_row['client_is_lead'], a column that does not
        # exist (and to a NULL client_rate as is): "client_lead = ," is an SQL syntax error,
        # uncaught on PHP >= 8.1.
        return Reply(500, b"", JSON_TYPE)
    if row is None:
        return "update", 0
    return "update", w.update(row, w.model(_CLIENT_MODEL, row))


def _clients_archive(w: _Write, archive: bool = True) -> Outcome:
    if not w.client_id:
        return "update", None
    row = w.find("clients", "client_id", w.client_id, client_archived_at=None if archive else "NOT NULL")
    if row is None:
        return "update", None
    return "update", w.update(row, {"client_archived_at": w.now if archive else None})


def _contacts_create(w: _Write) -> Outcome:
    values = w.model(_CONTACT_MODEL, None)
    if not (values["contact_name"] and values["contact_email"] and w.client_id):
        return "create", None
    mine = [c for c in w.table("contacts") if sql_int(c.get("contact_client_id")) == w.client_id]
    if any(sql_equal(c.get("contact_email"), values["contact_email"]) for c in mine):
        return "create", None
    if values["contact_primary"] == 1:
        for contact in mine:
            w.update(contact, {"contact_primary": 0})
    return "create", w.insert("contacts", dict(values, contact_client_id=w.client_id))


def _contacts_update(w: _Write) -> Outcome:
    contact_id = w.intval("contact_id")
    if not contact_id:
        return "update", None
    row = w.find("contacts", "contact_id", contact_id, contact_client_id=w.client_id)
    values = w.model(_CONTACT_MODEL, row)
    if sql_int(values["contact_primary"]) == 1:
        for contact in w.table("contacts"):
            if sql_int(contact.get("contact_client_id")) == w.client_id:
                w.update(contact, {"contact_primary": 0})
    if row is None:
        return "update", 0
    return "update", w.update(row, values)


def _contacts_delete(w: _Write) -> Outcome:
    contact_id = w.intval("contact_id")
    row = w.find("contacts", "contact_id", contact_id, contact_client_id=w.client_id) if contact_id else None
    if row is None or not row.get("contact_name"):
        return "delete", None
    w.delete("contacts", row)
    return "delete", 1


def _contacts_archive(w: _Write, archive: bool = True) -> Outcome:
    contact_id = w.intval("contact_id")
    if not contact_id:
        return "update", None
    row = w.find("contacts", "contact_id", contact_id, contact_client_id=w.client_id,
                 contact_archived_at=None if archive else "NOT NULL")
    if row is None:
        return "update", None
    if archive:
        return "update", w.update(row, {"contact_important": 0, "contact_billing": 0, "contact_technical": 0,
                                        "contact_archived_at": w.now})
    return "update", w.update(row, {"contact_archived_at": None})


# checkCredentialLengths(): bytes for what is encrypted, characters for the rest.
_CREDENTIAL_LIMITS = (("username", 350, True), ("password", 350, True), ("name", 200, False),
                      ("description", 500, False), ("uri", 500, False), ("uri_2", 500, False),
                      ("otp_secret", 200, False))


def _credential_too_long(w: _Write) -> Optional[Reply]:
    for field, limit, in_bytes in _CREDENTIAL_LIMITS:
        if w.isset("credential_" + field):
            value = php_str(w.posted["credential_" + field])
            if len(value.encode("utf-8") if in_bytes else value) > limit:
                return w.call.failure(200, "credential_%s is too long to store." % field)
    return None


def _credentials_create(w: _Write) -> Outcome:
    too_long = _credential_too_long(w)
    if too_long is not None:
        return too_long
    values = w.model(_CREDENTIAL_MODEL, None)
    if php_empty(w.posted.get("api_key_decrypt_password")) or not values["credential_name"] \
            or php_empty(values["credential_password"]):
        return "create", None
    return "create", w.insert("credentials", dict(values, credential_client_id=w.client_id))


def _credentials_update(w: _Write) -> Outcome:
    credential_id = w.intval("credential_id")
    if php_empty(w.posted.get("api_key_decrypt_password")) or not credential_id:
        return "update", None
    row = w.find("credentials", "credential_id", credential_id, credential_client_id=w.client_id)
    too_long = _credential_too_long(w)
    if too_long is not None:
        return too_long
    if row is None:
        return "update", None
    count = w.update(row, w.model(_CREDENTIAL_MODEL, row))
    if w.isset("credential_password"):
        w.update(row, {"credential_password_changed_at": w.now})
    return "update", count


def _documents_create(w: _Write) -> Outcome:
    values = w.model(_DOCUMENT_MODEL, None)
    if not (values["document_name"] and values["document_content"]):
        return "create", None
    raw = "%s%s %s" % (php_str(w.posted.get("document_name")), php_str(w.posted.get("document_description")),
                       values["document_content"].replace("<", " <"))
    return "create", w.insert("documents", dict(values, document_content_raw=php_trim(php_strip_tags(raw)),
                                                document_created_by=0, document_client_id=w.client_id))


def _documents_update(w: _Write) -> Outcome:
    document_id = w.intval("document_id")
    if not document_id:
        return "update", None
    row = w.find("documents", "document_id", document_id, document_client_id=w.client_id)
    if row is None:
        return "update", None
    w.table("document_versions").append({
        "document_version_name": row.get("document_name"), "document_version_content": row.get("document_content"),
        "document_version_document_id": str(document_id)})
    values = w.model(_DOCUMENT_MODEL, row)
    raw = "%s %s" % (values["document_name"], values["document_content"].replace("<", " <"))
    values["document_content_raw"] = php_trim(php_strip_tags(raw))
    w.update(row, dict(values, document_updated_by=0))
    return "update", 1  # update.php counts any UPDATE without an SQL error


def _invoice_items_create(w: _Write) -> Outcome:
    invoice_id = w.intval("invoice_id")
    name = php_strip_tags(php_str(w.posted.get("name"))[:200]).strip()
    qty = php_floatval(php_str(w.posted.get("qty", 0)))
    price = php_floatval(php_str(w.posted.get("price", 0)))
    tax_id = w.intval("tax_id")
    if not (invoice_id and name and qty > 0):
        return "create", None
    invoice = w.find("invoices", "invoice_id", invoice_id)
    if invoice is None or invoice.get("invoice_status") == "Paid":
        return "create", None
    if w.client_id != 0 and sql_int(invoice.get("invoice_client_id")) != w.client_id:
        return "create", None
    subtotal = Decimal(str(price)) * Decimal(str(qty))
    tax = Decimal(0)
    if tax_id > 0:
        rate = next((t.get("tax_percent") for t in w.table("taxes") if sql_int(t.get("tax_id")) == tax_id), None)
        tax = subtotal * Decimal(str(php_floatval(rate or "0"))) / 100
    item_id = w.insert("invoice_items", {
        "item_name": name, "item_description": w.text("description") if w.isset("description") else "",
        "item_quantity": qty, "item_price": price, "item_subtotal": subtotal, "item_tax": tax,
        "item_total": subtotal + tax, "item_order": w.intval("item_order"), "item_tax_id": tax_id,
        "item_product_id": w.intval("product_id"), "item_invoice_id": invoice_id})
    total = sum(Decimal(item.get("item_total") or "0") for item in w.table("invoice_items")
                if sql_int(item.get("item_invoice_id")) == invoice_id)
    discount = Decimal(invoice.get("invoice_discount_amount") or "0")
    w.update(invoice, {"invoice_amount": total - discount})
    return "create", item_id


def _locations_create(w: _Write) -> Outcome:
    values = w.model(_LOCATION_MODEL, None)
    if not (values["location_name"] and w.client_id):
        return "create", None
    if values["location_primary"] == 1:
        for location in w.table("locations"):
            if sql_int(location.get("location_client_id")) == w.client_id:
                w.update(location, {"location_primary": 0})
    return "create", w.insert("locations", dict(values, location_client_id=w.client_id))


def _ticket_replies_create(w: _Write) -> Outcome:
    ticket_id = w.intval("ticket_id")
    reply = php_str(w.posted.get("ticket_reply"))
    if not (ticket_id and reply):
        return "create", None
    ticket = w.find("tickets", "ticket_id", ticket_id)
    if ticket is None or (w.client_id != 0 and sql_int(ticket.get("ticket_client_id")) != w.client_id):
        return "create", None
    reply_type = php_str(w.posted.get("ticket_reply_type", "Internal")).lower().capitalize()
    if reply_type not in ("Internal", "Public"):
        reply_type = "Internal"
    worked = php_trim(php_strip_tags(php_str(w.posted.get("ticket_reply_time_worked", "00:00:00"))))
    time_format = re.fullmatch(r"(\d{1,3}):([0-5]\d:[0-5]\d)", worked)
    worked = "%02d:%s" % (int(time_format.group(1)), time_format.group(2)) if time_format else "00:00:00"  # TIME
    original = sql_int(ticket.get("ticket_status"))
    if reply_type == "Public" and not ticket.get("ticket_first_response_at"):
        w.update(ticket, {"ticket_first_response_at": w.now})
    reply_id = w.insert("ticket_replies", {
        "ticket_reply": reply, "ticket_reply_type": reply_type, "ticket_reply_time_worked": worked,
        "ticket_reply_by": API_USER_ID, "ticket_reply_ticket_id": ticket_id})
    status = w.intval("ticket_status")
    if status:
        w.update(ticket, {"ticket_status": status})
        if status == 4 and original != 4 and ticket.get("ticket_resolved_at") is None:
            w.update(ticket, {"ticket_resolved_at": w.now})
    return "create", reply_id


def _tickets_create(w: _Write) -> Outcome:
    values = w.model(_TICKET_MODEL, None)
    if not values["ticket_subject"]:
        return "create", None
    if values["ticket_contact_id"] == 0 and w.client_id != 0:
        primary = next((c for c in table_rows(w.data, "contacts", "contact_id")
                        if sql_int(c.get("contact_client_id")) == w.client_id and c.get("contact_primary") == "1"),
                       {})
        values["ticket_contact_id"] = sql_int(primary.get("contact_id")) or 0
    details = php_str(w.posted["ticket_details"]) + "<br>" if w.isset("ticket_details") else "< blank ><br>"
    number = max((sql_int(t.get("ticket_number")) or 0 for t in w.table("tickets")), default=0) + 1
    return "create", w.insert("tickets", dict(
        values, ticket_prefix=TICKET_PREFIX, ticket_number=number, ticket_source="API", ticket_details=details,
        ticket_status=1, ticket_created_by=0, ticket_url_key=secrets.token_urlsafe(24)[:32],
        ticket_client_id=w.client_id))


def _tickets_resolve(w: _Write) -> Outcome:
    ticket_id = w.intval("ticket_id")
    if not ticket_id:
        return "update", None
    row = w.find("tickets", "ticket_id", ticket_id, ticket_resolved_at=None, ticket_client_id=w.client_id)
    if row is None:
        return "update", 0
    if not row.get("ticket_first_response_at"):
        row["ticket_first_response_at"] = w.now
    return "update", w.update(row, {"ticket_status": 4, "ticket_resolved_at": w.now})


_ENDPOINTS: Dict[Tuple[str, str], Callable[[_Write], Outcome]] = {
    ("assets", "create.php"): _assets_create,
    ("assets", "update.php"): _assets_update,
    ("assets", "delete.php"): _assets_delete,
    ("certificates", "create.php"): _certificates_create,
    ("clients", "create.php"): _clients_create,
    ("clients", "update.php"): _clients_update,
    ("clients", "archive.php"): _clients_archive,
    ("clients", "unarchive.php"): lambda w: _clients_archive(w, archive=False),
    ("contacts", "create.php"): _contacts_create,
    ("contacts", "update.php"): _contacts_update,
    ("contacts", "delete.php"): _contacts_delete,
    ("contacts", "archive.php"): _contacts_archive,
    ("contacts", "unarchive.php"): lambda w: _contacts_archive(w, archive=False),
    ("credentials", "create.php"): _credentials_create,
    ("credentials", "update.php"): _credentials_update,
    ("documents", "create.php"): _documents_create,
    ("documents", "update.php"): _documents_update,
    ("invoice_items", "create.php"): _invoice_items_create,
    ("locations", "create.php"): _locations_create,
    ("ticket_replies", "create.php"): _ticket_replies_create,
    ("tickets", "create.php"): _tickets_create,
    ("tickets", "resolve.php"): _tickets_resolve,
}
ENDPOINTS = frozenset(_ENDPOINTS) | {("technicians", "time.php")}


# --- technicians/time.php (a GET) ----------------------------------------------------------


def _users(data: Dataset) -> List[Row]:
    return rows_or_default(data, "users", DEFAULT_USERS)


def _seconds(worked: Optional[str]) -> int:
    hours, minutes, seconds = (int(part) for part in (worked or "0:0:0").split(":"))
    return hours * 3600 + minutes * 60 + seconds


def _technician_time(call: V1Call) -> Reply:
    query = call.query
    year = php_intval(query["year"]) if "year" in query else int(time.strftime("%Y"))
    month = php_intval(query["month"]) if "month" in query else None
    if month is not None and not 1 <= month <= 12:
        return call.failure(200, BAD_MONTH)
    technician = php_intval(query["technician_id"]) if "technician_id" in query else None
    data = call.data
    tickets = {sql_int(t.get("ticket_id")): t for t in data.get("tickets") or []}
    clients = {sql_int(c.get("client_id")): c for c in data.get("clients") or []}
    users = {sql_int(u.get("user_id")): u for u in _users(data)}
    groups: Dict[Tuple[int, int], Dict[str, Any]] = {}
    for reply in data.get("ticket_replies") or []:
        worked = reply.get("ticket_reply_time_worked")
        created = reply.get("ticket_reply_created_at") or ""
        if worked in (None, "00:00:00") or php_intval(created[:4]) != year:
            continue
        if month is not None and php_intval(created[5:7]) != month:
            continue
        ticket = tickets.get(sql_int(reply.get("ticket_reply_ticket_id")))
        user = users.get(sql_int(reply.get("ticket_reply_by")))
        client = clients.get(sql_int(ticket.get("ticket_client_id"))) if ticket else None
        if not (ticket and user and client) or (technician is not None and sql_int(user.get("user_id")) != technician):
            continue
        key = (sql_int(ticket.get("ticket_id")) or 0, sql_int(user.get("user_id")) or 0)
        group = groups.setdefault(key, {
            "ticket_id": ticket.get("ticket_id"),
            "ticket_number": "%s%s" % (ticket.get("ticket_prefix") or "", ticket.get("ticket_number")),
            "ticket_subject": ticket.get("ticket_subject"), "client_id": client.get("client_id"),
            "company": client.get("client_name"), "technician_id": user.get("user_id"),
            "technician": user.get("user_name"), "seconds": 0, "number": sql_int(ticket.get("ticket_number")) or 0})
        group["seconds"] += _seconds(worked)
    rows = []
    # ORDER BY c.client_name, t.ticket_number (the integer column), u.user_name
    for group in sorted(groups.values(), key=lambda g: (sql_collation_key(g["company"] or ""), g["number"],
                                                         sql_collation_key(g["technician"] or ""))):
        del group["number"]
        seconds = group.pop("seconds")
        group["time_worked"] = "%02d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)
        rows.append(group)
    return call.page(rows)


# --- the hook ------------------------------------------------------------------------------


def handles(module: str, script: str) -> bool:
    """Whether ``/api/v1/<module>/<script>`` is one of the write scripts (or technicians/time)."""
    return (module, script) in ENDPOINTS


def answer(call: V1Call) -> Reply:
    """The reply of a non-read v1 endpoint, after ``validate_api_key.php`` accepted the key."""
    endpoint = (call.module, call.script)
    if endpoint == ("technicians", "time.php"):
        if call.method != "GET":
            return call.failure(405, GET_ONLY)
        return _technician_time(call)
    if call.method != "POST":
        return call.failure(405, POST_ONLY)
    with _write_lock:
        outcome = _ENDPOINTS[endpoint](_Write(call))
    if isinstance(outcome, Reply):
        return outcome
    kind, value = outcome
    if kind == "create":
        if value is None:
            return call.failure(200, CREATE_FAILED)
        return call.json(200, {"success": "True", "count": "1", "data": [{"insert_id": value}]})
    if not value:
        return call.failure(200, UPDATE_FAILED if kind == "update" else DELETE_FAILED)
    return call.json(200, {"success": "True", "count": value})


__all__ = ["answer", "handles", "ENDPOINTS", "CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED"]
