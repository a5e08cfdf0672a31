"""A faithful fake ITFlow: real HTTP on loopback, ITFlow's exact bytes and quirks.

Why it exists: real ITFlow needs Apache, PHP and MariaDB, yet the bridge has to
be proven against exactly what ITFlow answers (see itflow-api-facts.md), for
both API generations.  Integration tests, the Asterisk e2e tests, the
benchmarks and ``itflow-bridge demo`` all run against this server, so it ships
inside the package and uses only the standard library.

What it re-enacts (the behaviour follows the real PHP, line numbers included):

* legacy ``/api.php`` (April 2022): ``intval()`` of ``cid`` compared NUMERICALLY
  with varchar columns (so ``cid=anonymous`` reads as 0 and matches the first
  empty phone), HTTP 500 after the body on PHP >= 8.1, the HTML warning/fatal
  blocks of ``display_errors``, PHP float printing of balances, the unescaped
  Yealink phonebook;
* JSON ``/api/v1/{module}/{function}.php``: PHP ``json_encode`` bytes, every
  column a string, ``"True"``/``"False"`` strings, ``limit``/``offset`` paging,
  ``client_id`` ignored on reads, the auth answers, Apache's 404 page;
* switchable faults (slow, blackhole, refused connections, garbage, ...).

The dataset is the mutable ``FakeITFlow.data`` (tables of ITFlow-shaped rows,
loaded from ``sample_itflow.json``); every request reads it afresh.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qsl, unquote, urlsplit

SAMPLE_API_KEY = "sample-key-d8f3b2a9c1e0"
SAMPLE_DATA_PATH = Path(__file__).with_name("sample_itflow.json")
GENERATIONS = ("legacy", "v1")
FAULTS = frozenset({
    "slow", "blackhole", "refuse", "500_empty", "garbage", "truncated", "bool_success",
    "huge", "redirect_login", "bad_key", "key_not_tied", "key_user_invalid",
})

SERVER_SIGNATURE = "Apache/2.4.62 (Debian)"
LEGACY_PATH = "/api.php"
LOGIN_PATH = "/login.php"
V1_PREFIX = "/api/v1/"
LEGACY_SCRIPT = "/var/www/html/api.php"

HTML_TYPE = "text/html; charset=UTF-8"
XML_TYPE = "text/xml;charset=UTF-8"
JSON_TYPE = "application/json"
APACHE_ERROR_TYPE = "text/html; charset=iso-8859-1"

GARBAGE_BODY = b"\x00\xffnot what you expected"
HUGE_BODY_SIZE = 5 * 1024 * 1024
SERVE_POLL_SECONDS = 0.05

_INT64_MAX = 2 ** 63 - 1
_INT64_MIN = -(2 ** 63)


def load_sample_data() -> dict:
    """A fresh deep copy of the sample dataset (sample_itflow.json) on every call."""
    with SAMPLE_DATA_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)


# --- PHP and MySQL semantics ------------------------------------------------

_PHP_NUMERIC_PREFIX = re.compile(r"[ \t\n\r\v\f]*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")
_MYSQL_NUMERIC_PREFIX = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")
_DIGITS_ONLY = re.compile(r"[+-]?\d+")


def php_intval(text: str) -> int:
    """PHP 8 ``intval()`` of a string: its leading number, 0 if none, capped to 64 bits."""
    match = _PHP_NUMERIC_PREFIX.match(text)
    if match is None:
        return 0
    number = match.group(1)
    if _DIGITS_ONLY.fullmatch(number):
        value = int(number)
    else:
        as_float = float(number)
        if as_float in (float("inf"), float("-inf")):
            return 0
        value = int(as_float)
    return max(_INT64_MIN, min(_INT64_MAX, value))


def mysql_number(text: str) -> float:
    """How MySQL reads a varchar compared with a number: its leading number, else 0."""
    match = _MYSQL_NUMERIC_PREFIX.match(text)
    return float(match.group(1)) if match else 0.0


def php_float_str(value: float) -> str:
    """PHP's ``echo`` of a float (precision=14): ``1700.5``, ``600``, ``-25.5``, ``1.0E+15``."""
    text = "{:.14G}".format(value)
    if "E" not in text:
        return text
    mantissa, exponent = text.split("E")
    if "." not in mantissa:
        mantissa += ".0"
    return "{}E{:+d}".format(mantissa, int(exponent))


def php_echo(value: Union[None, str, int, float]) -> str:
    """PHP's string conversion for ``echo``: null is empty, floats per ``php_float_str``."""
    if value is None:
        return ""
    if isinstance(value, float):
        return php_float_str(value)
    return str(value)


def _php_arithmetic_operand(sql_value: Optional[str]) -> Union[int, float]:
    """A mysqli string used in PHP arithmetic: null -> 0, "12.50" -> 12.5, "12" -> 12."""
    if sql_value is None:
        return 0
    return float(sql_value) if any(mark in sql_value for mark in ".eE") else int(sql_value)


_JSON_SHORT_ESCAPES = {
    '"': '\\"', "\\": "\\\\", "/": "\\/",
    "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
}
_JSON_ESCAPED_CHARS = re.compile(r'[\x00-\x1f"\\/]|[^\x00-\x7f]')


def _json_escape(match: "re.Match[str]") -> str:
    char = match.group()
    if char in _JSON_SHORT_ESCAPES:
        return _JSON_SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x10000:
        return "\\u%04x" % code
    code -= 0x10000
    return "\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))


def php_json_encode(value: Any) -> str:
    """PHP ``json_encode`` with default flags: compact, ``\\/``, ``\\u00fc``, surrogate pairs."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + _JSON_ESCAPED_CHARS.sub(_json_escape, value) + '"'
    if isinstance(value, dict):
        members = (php_json_encode(str(key)) + ":" + php_json_encode(item) for key, item in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(php_json_encode(item) for item in value) + "]"
    raise TypeError("php_json_encode cannot encode %s" % type(value).__name__)


def _php_version_at_least(version: str, minimum: Tuple[int, int]) -> bool:
    parts = [php_intval(part) for part in version.split(".")[:2]]
    return tuple(parts + [0] * (2 - len(parts))) >= minimum


def _php_warning(message: str, line: int) -> str:
    """The HTML block PHP prints for a warning when display_errors is on."""
    return "<br />\n<b>Warning</b>:  %s in <b>%s</b> on line <b>%d</b><br />\n" % (
        message, LEGACY_SCRIPT, line)


def _php_uncaught_sql_error(message: str, line: int) -> str:
    """The HTML block of an uncaught mysqli_sql_exception (PHP >= 8.1, display_errors on).

    The message is HTML-escaped (``&``, ``"``, ``<``, ``>``) and the stack trace shows no
    arguments (``zend.exception_ignore_args = On`` in Debian's php.ini).
    """
    escaped = message.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        "<br />\n<b>Fatal error</b>:  Uncaught mysqli_sql_exception: %s in %s:%d\n"
        "Stack trace:\n#0 %s(%d): mysqli_query()\n#1 {main}\n"
        "  thrown in <b>%s</b> on line <b>%d</b><br />\n"
    ) % (escaped, LEGACY_SCRIPT, line, LEGACY_SCRIPT, line, LEGACY_SCRIPT, line)


def _alerts_insert_error(name: str, cid: int) -> str:
    """Why api.php's ``INSERT INTO alerts`` fails: an apostrophe in the unescaped name breaks
    the SQL before the missing table matters (MariaDB quotes the rest, cut to 80 characters)."""
    if "'" not in name:
        return "Table 'itflow.alerts' doesn't exist"
    rest = "%s - %d', alert_date = NOW(), company_id = 1" % (name.split("'", 1)[1], cid)
    if len(rest) > 80:
        rest = rest[:77] + "..."
    return ("You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server "
            "version for the right syntax to use near '%s' at line 1" % rest)


def _php_strip_tags(text: str) -> str:
    return re.sub(r"<[^>]*(?:>|$)", "", text)


# --- dataset access -----------------------------------------------------------


def _as_int(value: Any) -> Optional[int]:
    """An id column as MySQL compares it; NULL stays None (matches nothing)."""
    if value is None:
        return None
    return value if isinstance(value, int) else php_intval(str(value))


def _table_rows(data: dict, table: str, id_column: str) -> List[dict]:
    """A table's rows in primary-key order (InnoDB's scan order)."""
    return sorted(data.get(table) or [], key=lambda row: _as_int(row.get(id_column)) or 0)


def _sql_sum(values: Iterable[Optional[str]]) -> Optional[str]:
    """MySQL ``SUM()`` of decimal columns as mysqli returns it: a string, or NULL for no rows."""
    present = [Decimal(str(value)) for value in values if value is not None]
    return str(sum(present)) if present else None


# --- replies --------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received; ``time`` is ``time.monotonic()`` at arrival."""

    method: str
    path: str
    query: Dict[str, str]
    time: float
    user_agent: Optional[str] = None
    body: bytes = b""


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    content_type: str
    headers: Tuple[Tuple[str, str], ...] = ()


_APACHE_404 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found</title>\n'
    "</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n"
    "<hr>\n<address>%s Server at %s Port %d</address>\n</body></html>\n"
)

_LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    "<title>ITFlow | Login</title>\n</head>\n<body class=\"hold-transition login-page\">\n"
    '<div class="login-box">\n<h3>ITFlow</h3>\n<form method="post">\n'
    '<input type="email" name="email" placeholder="Agent Email" required autofocus>\n'
    '<input type="password" name="password" placeholder="Agent Password" required>\n'
    '<button type="submit" name="login">Sign In</button>\n</form>\n</div>\n</body>\n</html>\n'
)


def _apache_not_found(host: str, port: int) -> _Reply:
    body = _APACHE_404 % (SERVER_SIGNATURE, host, port)
    return _Reply(404, body.encode("ascii"), APACHE_ERROR_TYPE)


# --- legacy /api.php ------------------------------------------------------------

_PHONEBOOK_ENTRY = (
    "        <Contact>\n"
    "            <LastName>{name}</LastName>\n"
    "            <Phone>\n"
    "                <phonenumber>{phone}</phonenumber>\n"
    "            </Phone>\n"
    "            <Groups>\n"
    "                <groupid>{group}</groupid>\n"
    "            </Groups>\n"
    "        </Contact>\n"
)
_PHONEBOOK_HEADERS = (("Pragma", "public"), ("Cache-control", "private"), ("Expires", "-1"))

# (table, id column, phone column, name column), in the order of api.php's UNION.
_CALLER_ID_SOURCES = (
    ("contacts", "contact_id", "contact_phone", "contact_name"),
    ("contacts", "contact_id", "contact_mobile", "contact_name"),
    ("locations", "location_id", "location_phone", "location_name"),
    ("vendors", "vendor_id", "vendor_phone", "vendor_name"),
)

# add_asset's optional parameters and the api.php line that reads each one.
_ASSET_PARAMETER_LINES = (("type", 182), ("make", 183), ("model", 184), ("serial", 185), ("os", 186))
_ASSET_COLUMNS = (
    "asset_id", "asset_type", "asset_name", "asset_description", "asset_make", "asset_model",
    "asset_serial", "asset_os", "asset_uri", "asset_uri_2", "asset_uri_client", "asset_status",
    "asset_purchase_reference", "asset_purchase_date", "asset_warranty_expire",
    "asset_install_date", "asset_photo", "asset_physical_location", "asset_notes",
    "asset_favorite", "asset_created_at", "asset_updated_at", "asset_archived_at",
    "asset_accessed_at", "asset_vendor_id", "asset_location_id", "asset_contact_id",
    "asset_client_id",
)
_ASSET_ZERO_COLUMNS = frozenset({
    "asset_favorite", "asset_vendor_id", "asset_location_id", "asset_contact_id", "asset_client_id",
})


class _ScriptExit(Exception):
    """PHP stopped executing the script (``exit()`` or an uncaught exception)."""


class _LegacyScript:
    """One run of April-2022 ``api.php``: its actions in source order, output echoed as it goes."""

    def __init__(self, fake: "FakeITFlow", request: "_Request", key_refused: bool) -> None:
        self._data = fake.data
        self._query = request.query
        self._user_agent = request.user_agent
        self._accepted_key = None if key_refused else fake.api_key
        self._display_errors = fake.display_errors
        self._sql_errors_throw = _php_version_at_least(fake.php_version, (8, 1))
        self._output: List[str] = []
        self._status = 200
        self._content_type = HTML_TYPE
        self._headers: Tuple[Tuple[str, str], ...] = ()

    def run(self) -> _Reply:
        try:
            if self._user_agent is None:
                self._warn('Undefined array key "HTTP_USER_AGENT"', 9)
            self._authenticate()
            self._caller_id()
            self._primary_contact_numbers()
            self._phonebook()
            self._primary_contact_emails()
            self._account_balance()
            self._add_asset()
        except _ScriptExit:
            pass
        body = "".join(self._output).encode("utf-8")
        return _Reply(self._status, body, self._content_type, self._headers)

    # -- helpers

    def _echo(self, text: str) -> None:
        self._output.append(text)

    def _warn(self, message: str, line: int) -> None:
        if self._display_errors:
            self._echo(_php_warning(message, line))

    def _rows(self, table: str, id_column: str) -> List[dict]:
        return _table_rows(self._data, table, id_column)

    def _clients_with_primary_contact(self) -> Iterator[Tuple[dict, dict]]:
        """``clients LEFT JOIN contacts ON primary contact``: ``{}`` when a client has none."""
        contacts = self._rows("contacts", "contact_id")
        for client in self._rows("clients", "client_id"):
            client_id = _as_int(client.get("client_id"))
            primary = next((contact for contact in contacts
                            if _as_int(contact.get("contact_client_id")) == client_id
                            and _as_int(contact.get("contact_primary")) == 1), {})
            yield client, primary

    # -- api.php, top to bottom

    def _authenticate(self) -> None:
        key = self._query.get("api_key", "")
        if key in ("", "0"):  # PHP empty(): "0" is empty too
            self._unauthorized("Missing the API Key.")
        if key != self._accepted_key:
            self._unauthorized("Incorrect or expired API Key.")

    def _unauthorized(self, message: str) -> None:
        self._status = 401
        self._echo(message)
        raise _ScriptExit

    def _caller_id(self) -> None:
        if "cid" not in self._query:
            return
        cid = php_intval(self._query["cid"])
        name = self._caller_name(cid)
        if name is None:
            self._warn("Trying to access array offset on value of type null", 45)
        self._echo("%s - %d" % (name or "", cid))
        if self._sql_errors_throw:  # the alerts INSERT hits a renamed table
            self._uncaught_sql_error(_alerts_insert_error(name or "", cid), 49)

    def _caller_name(self, cid: int) -> Optional[str]:
        """The UNION's first row's name, None without a row: ``varchar = <int>`` compares as numbers."""
        target = float(cid)
        for table, id_column, phone_column, name_column in _CALLER_ID_SOURCES:
            for row in self._rows(table, id_column):
                phone = row.get(phone_column)
                if phone is not None and mysql_number(str(phone)) == target:
                    return php_echo(row.get(name_column))
        return None

    def _uncaught_sql_error(self, message: str, line: int) -> None:
        if self._display_errors:  # the error text is output, so the status stays 200
            self._echo(_php_uncaught_sql_error(message, line))
        else:
            self._status = 500
        raise _ScriptExit

    def _primary_contact_numbers(self) -> None:
        if "primary_contact_numbers" not in self._query:
            return
        for client, contact in self._clients_with_primary_contact():
            self._echo("%s - %s - %s - %s<br>" % tuple(php_echo(value) for value in (
                client.get("client_name"), contact.get("contact_name"),
                contact.get("contact_phone"), contact.get("contact_mobile"))))

    def _phonebook(self) -> None:
        if "phonebook" not in self._query:
            return
        self._content_type = XML_TYPE
        self._headers = _PHONEBOOK_HEADERS
        self._echo('<?xml version="1.0" encoding="utf-8"?><AddressBook>')
        for _client, contact in self._clients_with_primary_contact():
            self._echo(_PHONEBOOK_ENTRY.format(
                name=php_echo(contact.get("contact_name")),
                phone=php_echo(contact.get("contact_phone")), group=0) + "        ")
        for vendor in self._rows("vendors", "vendor_id"):
            self._echo(_PHONEBOOK_ENTRY.format(
                name=php_echo(vendor.get("vendor_name")),
                phone=php_echo(vendor.get("vendor_phone")), group=1) + "\n        ")
        self._echo("</AddressBook>")

    def _primary_contact_emails(self) -> None:
        if "primary_contact_emails" not in self._query:
            return
        for client, contact in self._clients_with_primary_contact():
            self._echo("%s - %s - %s<br>" % tuple(php_echo(value) for value in (
                client.get("client_name"), contact.get("contact_name"), contact.get("contact_email"))))

    def _account_balance(self) -> None:
        if "account_balance" not in self._query:
            return
        client_id = php_intval(self._query["account_balance"])
        invoices = [invoice for invoice in self._rows("invoices", "invoice_id")
                    if _as_int(invoice.get("invoice_client_id")) == client_id]
        billed = _sql_sum(invoice.get("invoice_amount") for invoice in invoices
                          if _counts_towards_balance(invoice))
        invoice_ids = {_as_int(invoice.get("invoice_id")) for invoice in invoices}
        paid = _sql_sum(payment.get("payment_amount") for payment in self._rows("payments", "payment_id")
                        if _as_int(payment.get("payment_invoice_id")) in invoice_ids)
        self._echo(php_echo(_php_arithmetic_operand(billed) - _php_arithmetic_operand(paid)))

    def _add_asset(self) -> None:
        if "add_asset" not in self._query or "client_id" not in self._query:
            return
        values = {"name": self._query["add_asset"]}
        for parameter, line in _ASSET_PARAMETER_LINES:
            if parameter not in self._query:
                self._warn('Undefined array key "%s"' % parameter, line)
            values[parameter] = self._query.get(parameter, "")
        cleaned = {name: _php_strip_tags(value).strip(" \t\n\r\0\x0b") for name, value in values.items()}
        self._store_asset(cleaned, php_intval(self._query["client_id"]))
        self._echo("Asset added!")

    def _store_asset(self, values: Dict[str, str], client_id: int) -> None:
        assets = self._data.setdefault("assets", [])
        next_id = max((_as_int(asset.get("asset_id")) or 0 for asset in assets), default=0) + 1
        row: Dict[str, Optional[str]] = {
            column: ("0" if column in _ASSET_ZERO_COLUMNS else None) for column in _ASSET_COLUMNS}
        row.update({
            "asset_id": str(next_id), "asset_name": values["name"], "asset_type": values["type"],
            "asset_make": values["make"], "asset_model": values["model"],
            "asset_serial": values["serial"], "asset_os": values["os"],
            "asset_created_at": time.strftime("%Y-%m-%d %H:%M:%S"), "asset_client_id": str(client_id),
        })
        assets.append(row)


def _counts_towards_balance(invoice: dict) -> bool:
    """``invoice_status NOT LIKE 'Draft' AND NOT LIKE 'Cancelled'`` (case-insensitive; NULL fails)."""
    status = invoice.get("invoice_status")
    return status is not None and status.lower() not in ("draft", "cancelled")


# --- JSON /api/v1 -----------------------------------------------------------------

_V1_INVALID_KEY = "Authentication failed. API key is invalid or has expired."
_V1_NOT_TIED = "This API key is not tied to a user and is no longer valid. Please recreate it."
_V1_USER_INVALID = "The user linked to this API key is inactive, archived, or invalid."
_V1_GET_ONLY = "Can only send GET requests to this endpoint."
_V1_POST_ONLY = "Can only send POST requests to this endpoint."
_V1_MISS = "No resource (for this client and company) with the specified parameter(s)."
_V1_WRITE_FAILED = (
    "Auth success but insert query failed, ensure ALL required variables are provided (and aren't "
    "duplicates where applicable) and database schema is up-to-date. Turn on error logging and look "
    "for 'undefined index'."
)
_V1_DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class _ReadEndpoint:
    """What one ``{module}/read.php`` accepts, in the order its PHP tests the parameters."""

    id_column: str  # the table's primary key: row order, and the ``{id}=N`` single lookup
    lookup_by_id: bool = True
    unpaged_filters: Tuple[str, ...] = ()  # ``column=VALUE`` exact match, every matching row
    paged_filters: Tuple[str, ...] = ()  # ``column=VALUE`` exact match, LIMIT/OFFSET applied


_V1_READS: Dict[str, _ReadEndpoint] = {
    "assets": _ReadEndpoint("asset_id", paged_filters=(
        "asset_type", "asset_name", "asset_serial", "asset_uri", "asset_uri_2")),
    "certificates": _ReadEndpoint("certificate_id", paged_filters=("certificate_name",)),
    "clients": _ReadEndpoint("client_id", lookup_by_id=False, unpaged_filters=("client_name",)),
    "contacts": _ReadEndpoint("contact_id", unpaged_filters=("contact_email",)),
    "credentials": _ReadEndpoint("credential_id", lookup_by_id=False),
    "documents": _ReadEndpoint("document_id"),
    "domains": _ReadEndpoint("domain_id", paged_filters=("domain_name",)),
    "expenses": _ReadEndpoint("expense_id"),
    "invoice_items": _ReadEndpoint("item_id"),
    "invoices": _ReadEndpoint("invoice_id"),
    "locations": _ReadEndpoint("location_id"),
    "networks": _ReadEndpoint("network_id", paged_filters=("network_name",)),
    "products": _ReadEndpoint("product_id"),
    "quotes": _ReadEndpoint("quote_id"),
    "software": _ReadEndpoint("software_id", paged_filters=("software_key", "software_name", "software_type")),
    "ticket_replies": _ReadEndpoint("ticket_reply_id"),
    "tickets": _ReadEndpoint("ticket_id"),
    "vendors": _ReadEndpoint("vendor_id"),
}

# Endpoints other than read.php; fake_v1_writes.py answers them.
_V1_WRITES = frozenset({
    ("technicians", "time.php"),
    ("assets", "create.php"), ("assets", "update.php"), ("assets", "delete.php"),
    ("certificates", "create.php"),
    ("clients", "create.php"), ("clients", "update.php"), ("clients", "archive.php"),
    ("clients", "unarchive.php"),
    ("contacts", "create.php"), ("contacts", "update.php"), ("contacts", "delete.php"),
    ("contacts", "archive.php"), ("contacts", "unarchive.php"),
    ("credentials", "create.php"), ("credentials", "update.php"),
    ("documents", "create.php"), ("documents", "update.php"),
    ("invoice_items", "create.php"), ("locations", "create.php"),
    ("ticket_replies", "create.php"), ("tickets", "create.php"), ("tickets", "resolve.php"),
})


def _v1_endpoint(path: str) -> Optional[Tuple[str, str]]:
    """``(module, file)`` when ``path`` names an existing v1 PHP file, else None."""
    if not path.startswith(V1_PREFIX):
        return None
    parts = path[len(V1_PREFIX):].split("/")
    if len(parts) != 2:
        return None
    module, script = parts
    if (script == "read.php" and module in _V1_READS) or (module, script) in _V1_WRITES:
        return module, script
    return None


def _posted_json(body: bytes) -> dict:
    """``$_POST = json_decode(php://input, true)``: only a JSON object yields parameters."""
    try:
        decoded = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _php_string(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class _V1Script:
    """One run of ``validate_api_key.php`` + ``require_*_method.php`` + the endpoint."""

    def __init__(self, fake: "FakeITFlow", request: "_Request", module: str, script: str,
                 fault: Optional[str]) -> None:
        self._fake = fake
        self._request = request
        self._module = module
        self._script = script
        self._fault = fault
        self._query = request.query
        self._posted = _posted_json(request.body)

    def run(self) -> _Reply:
        method = self._request.method
        if method not in ("GET", "POST"):  # validate_api_key.php var_dump()s the method
            return _Reply(405, ('string(%d) "%s"\n' % (len(method), method)).encode("utf-8"), JSON_TYPE)
        key = self._api_key()
        if key is None:
            return _Reply(401, b"", JSON_TYPE)
        if key != self._fake.api_key or self._fault == "bad_key":
            return self._failure(401, _V1_INVALID_KEY)
        if self._fault == "key_not_tied":
            return self._failure(403, _V1_NOT_TIED)
        if self._fault == "key_user_invalid":  # the key's user was deleted, archived or disabled
            return self._failure(403, _V1_USER_INVALID)
        if self._script != "read.php":
            from .fake_v1_writes import answer  # writes (persisted) and technicians/time

            return answer(self, method)
        if method != "GET":
            return self._failure(405, _V1_GET_ONLY)
        return self._read(_V1_READS[self._module])

    def _api_key(self) -> Optional[str]:
        posted_key = self._posted.get("api_key")
        if posted_key is not None:
            return _php_string(posted_key)
        return self._query.get("api_key")

    def _paging_parameter(self, name: str, default: int) -> int:
        if name in self._query:
            return php_intval(self._query[name])
        if self._posted.get(name) is not None:
            return php_intval(_php_string(self._posted[name]))
        return default

    def _read(self, endpoint: _ReadEndpoint) -> _Reply:
        rows = _table_rows(self._fake.data, self._module, endpoint.id_column)
        if endpoint.lookup_by_id and endpoint.id_column in self._query:
            wanted_id = php_intval(self._query[endpoint.id_column])
            return self._rows_answer([row for row in rows if _as_int(row.get(endpoint.id_column)) == wanted_id])
        for column in endpoint.unpaged_filters:
            if column in self._query:
                return self._rows_answer([row for row in rows if row.get(column) == self._query[column]])
        for column in endpoint.paged_filters:
            if column in self._query:
                return self._page([row for row in rows if row.get(column) == self._query[column]])
        if self._module == "contacts" and "contact_phone_or_mobile" in self._query:
            return self._rows_answer(_first_phone_or_mobile(rows, self._query["contact_phone_or_mobile"]))
        return self._page(rows)

    def _page(self, rows: List[dict]) -> _Reply:
        limit = self._paging_parameter("limit", _V1_DEFAULT_LIMIT)
        offset = self._paging_parameter("offset", 0)
        if limit < 0 or offset < 0:  # "LIMIT -1" is an SQL syntax error: uncaught, 500, no body
            return _Reply(500, b"", JSON_TYPE)
        return self._rows_answer(rows[offset:offset + limit])

    def _rows_answer(self, rows: List[dict]) -> _Reply:
        if not rows:
            return self._failure(200, _V1_MISS)
        return self._json(200, {"success": "True", "count": len(rows), "data": rows})

    def _failure(self, status: int, message: str) -> _Reply:
        return self._json(status, {"success": "False", "message": message})

    def _json(self, status: int, payload: dict) -> _Reply:
        if self._fault == "bool_success":
            payload = dict(payload, success=payload["success"] == "True")
        return _Reply(status, php_json_encode(payload).encode("ascii"), JSON_TYPE)


def _first_phone_or_mobile(rows: Sequence[dict], number: str) -> List[dict]:
    """``WHERE contact_mobile = 'X' OR contact_phone = 'X' ... LIMIT 1``: exact strings, NULL never matches."""
    for row in rows:
        if row.get("contact_mobile") == number or row.get("contact_phone") == number:
            return [row]
    return []


# --- HTTP plumbing ----------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: Dict[str, str]
    user_agent: Optional[str]
    body: bytes = field(repr=False)


def parse_query(query_string: str) -> Dict[str, str]:
    """The query string as PHP's ``$_GET`` sees it: ``a`` alone is ``""``, the last duplicate wins."""
    return dict(parse_qsl(query_string, keep_blank_values=True))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_SIGNATURE

    server: "_Server"

    def version_string(self) -> str:
        return SERVER_SIGNATURE

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle plus the
        # client's delayed ACK would add ~40 ms to every reply (Apache sets it too).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track_connection(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track_connection(self.connection, open_=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent on purpose: request lines carry the API key."""

    def _handle(self) -> None:
        target = urlsplit(self.path)
        request = _Request(
            method=self.command, path=unquote(target.path), query=parse_query(target.query),
            user_agent=self.headers.get("User-Agent"), body=self._read_body())
        reply = self.server.fake._answer(request)
        if reply is None:
            self.close_connection = True
            return
        self._send(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _read_body(self) -> bytes:
        length = php_intval(self.headers.get("Content-Length", "0"))
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 511  # Apache's default backlog; Python's 5 drops connection bursts

    def __init__(self, address: Tuple[str, int], fake: "FakeITFlow") -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host (slow without DNS)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # client went away, or a fault cut it off
            return
        super().handle_error(request, client_address)


def _loopback_host(host: str) -> str:
    address = "127.0.0.1" if host == "localhost" else host
    if not (ipaddress.ip_address(address).version == 4 and ipaddress.ip_address(address).is_loopback):
        raise ValueError("the fake ITFlow listens on IPv4 loopback only, not %r" % host)
    return address


class FakeITFlow:
    """A started-on-demand fake ITFlow; see the module docstring for what it re-enacts."""

    def __init__(self, data: Optional[dict] = None, *, generations: Sequence[str] = GENERATIONS,
                 api_key: str = SAMPLE_API_KEY, php_version: str = "8.2",
                 display_errors: bool = False, host: str = "127.0.0.1", port: int = 0,
                 tls: Optional["ssl.SSLContext"] = None) -> None:
        unknown = set(generations) - set(GENERATIONS)
        if unknown or not generations:
            raise ValueError("generations must be a non-empty subset of %s" % (GENERATIONS,))
        self.data = load_sample_data() if data is None else data
        self.generations = frozenset(generations)
        self.api_key = api_key
        self.php_version = php_version
        self.display_errors = display_errors
        self.url = ""
        self._host = _loopback_host(host)
        self._port = port
        self._tls = tls  # a server-side SSLContext: serve HTTPS (certificate tests)
        self._lock = threading.Lock()
        self._requests: List[RecordedRequest] = []
        self._fault: Optional[str] = None
        self._fault_params: Dict[str, Any] = {}
        self._connections: set = set()
        self._stopped = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle

    def start(self) -> "FakeITFlow":
        self._stopped.clear()
        self._open_listener()
        self.url = "%s://%s:%d" % ("https" if self._tls else "http", self._host, self._port)
        if self._fault == "refuse":
            self._close_listener()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._close_listener()

    def __enter__(self) -> "FakeITFlow":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _open_listener(self) -> None:
        server = _Server((self._host, self._port), self)
        self._port = server.server_address[1]  # port 0 becomes the real port, kept for reopening
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SERVE_POLL_SECONDS},
                                  name="fake-itflow:%d" % self._port, daemon=True)
        thread.start()
        self._server, self._thread = server, thread

    def _close_listener(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()
        self._drop_connections()

    def _track_connection(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _drop_connections(self) -> None:
        """Cut open (keep-alive) connections so clients see the server gone, as a real restart does."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- request log

    @property
    def requests(self) -> List[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def count(self, path_prefix: str = "", **query_match: Optional[str]) -> int:
        """Requests under ``path_prefix`` whose query has each name (value None) or name=value."""
        return sum(1 for recorded in self.requests
                   if recorded.path.startswith(path_prefix) and _query_matches(recorded.query, query_match))

    # -- faults

    def set_fault(self, fault: Optional[str], **params: Any) -> None:
        """Switch the failure mode (None = normal); ``slow`` needs ``delay`` in seconds."""
        if fault is not None and fault not in FAULTS:
            raise ValueError("unknown fault %r; known: %s" % (fault, ", ".join(sorted(FAULTS))))
        if fault == "slow":
            params = {"delay": float(params["delay"])}
        with self._lock:
            previous = self._fault
            self._fault, self._fault_params = fault, params
        running = bool(self.url) and not self._stopped.is_set()
        if running and fault == "refuse" and previous != "refuse":
            self._close_listener()
        elif running and previous == "refuse" and fault != "refuse":
            self._open_listener()

    def _fault_snapshot(self) -> Tuple[Optional[str], Dict[str, Any]]:
        with self._lock:
            return self._fault, dict(self._fault_params)

    # -- answering

    def _answer(self, request: _Request) -> Optional[_Reply]:
        """The reply for one request, or None to send nothing (blackhole, or stopped while waiting)."""
        with self._lock:
            self._requests.append(RecordedRequest(
                request.method, request.path, dict(request.query), time.monotonic(),
                request.user_agent, request.body))
        fault, params = self._fault_snapshot()
        if fault == "blackhole":
            self._stopped.wait()
            return None
        if fault == "slow" and self._stopped.wait(params["delay"]):
            return None
        if fault == "redirect_login" and request.path != LOGIN_PATH:
            return _Reply(302, b"", HTML_TYPE, (("Location", LOGIN_PATH),))
        content_type = JSON_TYPE if request.path.startswith(V1_PREFIX) else HTML_TYPE
        if fault == "500_empty":
            return _Reply(500, b"", content_type)
        if fault == "garbage":
            return _Reply(200, GARBAGE_BODY, content_type)
        if fault == "huge":
            return _Reply(200, b"A" * HUGE_BODY_SIZE, content_type)
        reply = self._route(request, fault)
        if fault == "truncated":
            reply = replace(reply, body=reply.body[:len(reply.body) // 2])
        return reply

    def _route(self, request: _Request, fault: Optional[str]) -> _Reply:
        if request.path == LOGIN_PATH:
            return _Reply(200, _LOGIN_PAGE.encode("utf-8"), HTML_TYPE)
        if request.path == LEGACY_PATH and "legacy" in self.generations:
            return _LegacyScript(self, request, key_refused=fault == "bad_key").run()
        endpoint = _v1_endpoint(request.path) if "v1" in self.generations else None
        if endpoint is not None:
            module, script = endpoint
            return _V1Script(self, request, module, script, fault).run()
        return _apache_not_found(self._host, self._port)


def _query_matches(query: Dict[str, str], wanted: Dict[str, Optional[str]]) -> bool:
    return all((name in query) if value is None else query.get(name) == value
               for name, value in wanted.items())


# --- command line -------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve the sample dataset until Ctrl-C or SIGTERM (for the demo and manual testing)."""
    parser = argparse.ArgumentParser(
        prog="python -m itflow_bridge.sample.fake_itflow",
        description="Fake ITFlow on 127.0.0.1 serving the sample dataset.")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (0 = any free port)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--legacy-only", action="store_true", help="serve only the legacy /api.php")
    only.add_argument("--v1-only", action="store_true", help="serve only the JSON /api/v1/")
    parser.add_argument("--php", default="8.2", metavar="VERSION",
                        help="PHP version to imitate (8.0 = clean legacy cid answers; >= 8.1 = HTTP 500)")
    parser.add_argument("--display-errors", action="store_true", help="imitate PHP display_errors=On")
    args = parser.parse_args(argv)
    generations = ("legacy",) if args.legacy_only else ("v1",) if args.v1_only else GENERATIONS

    stop_requested = threading.Event()
    previous_handler = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop_requested.set())
    try:
        with FakeITFlow(generations=generations, php_version=args.php,
                        display_errors=args.display_errors, port=args.port) as fake:
            print("URL: %s" % fake.url, flush=True)
            print("API key: %s" % fake.api_key, flush=True)
            print("Serving %s (PHP %s); Ctrl-C to stop." % (" + ".join(generations), args.php),
                  file=sys.stderr, flush=True)
            while not stop_requested.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print("fake ITFlow: cannot listen on port %d: %s" % (args.port, error.strerror), file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
