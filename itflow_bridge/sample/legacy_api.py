"""The legacy ``/api.php`` of ITFlow up to April 2022, re-enacted line by line.

One ``LegacyScript`` is one run of ``api.php``: its actions in source order,
output echoed as it goes.  What it keeps of the real script: ``intval()`` of
``cid`` compared NUMERICALLY with varchar columns (so ``cid=anonymous`` reads
as 0 and matches the first empty phone), HTTP 500 after the body on PHP >= 8.1
(the ``alerts`` INSERT hits a missing table), the HTML warning/fatal blocks of
``display_errors``, PHP float printing of balances, the unescaped Yealink
phonebook, ``add_asset``.  Line numbers in messages are api.php's.
"""

from __future__ import annotations

import time
from typing import Dict, Iterator, List, Optional, Tuple

from .php import (
    Dataset, Row, mysql_escape, mysql_number, mysql_unescape, php_arithmetic_operand, php_echo, php_intval,
    php_strip_tags, php_trim, php_uncaught_sql_error, php_version_at_least, php_warning, sql_int, sql_sum,
    table_rows,
)
from .wire import HTML_TYPE, XML_TYPE, Reply, Request

LEGACY_PATH = "/api.php"
LEGACY_SCRIPT = "/var/www/html/api.php"  # where PHP's messages say api.php lives

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
# The assets table of April 2022 (db.sql), in column order, and its defaults (None is NULL).
_ASSET_COLUMNS = (
    "asset_id", "asset_type", "asset_name", "asset_make", "asset_model", "asset_serial", "asset_os",
    "asset_ip", "asset_mac", "asset_purchase_date", "asset_warranty_expire", "asset_install_date",
    "asset_reciept", "asset_notes", "asset_meshcentral_id", "asset_created_at", "asset_updated_at",
    "asset_archived_at", "asset_login_id", "asset_vendor_id", "asset_location_id", "asset_contact_id",
    "asset_network_id", "asset_client_id", "company_id",
)
_ASSET_DEFAULTS = {"asset_contact_id": "0", "company_id": "1"}


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


class _ScriptExit(Exception):
    """PHP stopped executing the script (``exit()`` or an uncaught exception)."""


class LegacyScript:
    """One run of April-2022 ``api.php`` against ``data``.

    ``accepted_key`` is the one valid key (None: every key is refused, as when the
    key expired); ``php_version`` decides whether SQL errors throw (8.1 and newer).
    """

    def __init__(self, data: Dataset, request: Request, *, accepted_key: Optional[str],
                 php_version: str = "8.2", display_errors: bool = False) -> None:
        self._data = data
        self._query = request.query
        self._user_agent = request.user_agent
        self._accepted_key = accepted_key
        self._display_errors = display_errors
        self._sql_errors_throw = php_version_at_least(php_version, (8, 1))
        self._output: List[str] = []
        self._status = 200
        self._content_type = HTML_TYPE
        self._headers: Tuple[Tuple[str, str], ...] = ()

    def run(self) -> Reply:
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
        return Reply(self._status, body, self._content_type, self._headers)

    # -- helpers

    def _echo(self, text: str) -> None:
        self._output.append(text)

    def _warn(self, message: str, line: int) -> None:
        if self._display_errors:
            self._echo(php_warning(message, LEGACY_SCRIPT, line))

    def _rows(self, table: str, id_column: str) -> List[Row]:
        return table_rows(self._data, table, id_column)

    def _clients_with_primary_contact(self) -> Iterator[Tuple[Row, Row]]:
        """``clients LEFT JOIN contacts ON primary contact``: ``{}`` when a client has none."""
        contacts = self._rows("contacts", "contact_id")
        for client in self._rows("clients", "client_id"):
            client_id = sql_int(client.get("client_id"))
            primary = next((contact for contact in contacts
                            if sql_int(contact.get("contact_client_id")) == client_id
                            and sql_int(contact.get("contact_primary")) == 1), {})
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
            self._echo(php_uncaught_sql_error(message, LEGACY_SCRIPT, line))
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
                    if sql_int(invoice.get("invoice_client_id")) == client_id]
        billed = sql_sum(invoice.get("invoice_amount") for invoice in invoices
                         if _counts_towards_balance(invoice))
        invoice_ids = {sql_int(invoice.get("invoice_id")) for invoice in invoices}
        paid = sql_sum(payment.get("payment_amount") for payment in self._rows("payments", "payment_id")
                       if sql_int(payment.get("payment_invoice_id")) in invoice_ids)
        self._echo(php_echo(php_arithmetic_operand(billed) - php_arithmetic_operand(paid)))

    def _add_asset(self) -> None:
        if "add_asset" not in self._query or "client_id" not in self._query:
            return
        values = {"name": self._query["add_asset"]}
        for parameter, line in _ASSET_PARAMETER_LINES:
            if parameter not in self._query:
                self._warn('Undefined array key "%s"' % parameter, line)
            values[parameter] = self._query.get(parameter, "")
        # trim(strip_tags(mysqli_real_escape_string(...))): escaped first, so an escaped newline is
        # no longer whitespace to trim; MySQL reads the escapes back when it stores the value.
        cleaned = {name: mysql_unescape(php_trim(php_strip_tags(mysql_escape(value))))
                   for name, value in values.items()}
        self._store_asset(cleaned, php_intval(self._query["client_id"]))
        self._echo("Asset added!")

    def _store_asset(self, values: Dict[str, str], client_id: int) -> None:
        assets = self._data.setdefault("assets", [])
        next_id = max((sql_int(asset.get("asset_id")) or 0 for asset in assets), default=0) + 1
        row: Dict[str, Optional[str]] = {
            column: _ASSET_DEFAULTS.get(column) for column in _ASSET_COLUMNS}
        row.update({
            "asset_id": str(next_id), "asset_name": values["name"], "asset_type": values["type"],
            "asset_make": values["make"], "asset_model": values["model"],
            "asset_serial": values["serial"], "asset_os": values["os"],
            "asset_created_at": time.strftime("%Y-%m-%d %H:%M:%S"), "asset_client_id": str(client_id),
        })
        assets.append(row)


def _counts_towards_balance(invoice: Row) -> bool:
    """``invoice_status NOT LIKE 'Draft' AND NOT LIKE 'Cancelled'`` (case-insensitive; NULL fails)."""
    status = invoice.get("invoice_status")
    return status is not None and status.lower() not in ("draft", "cancelled")


def answer(data: Dataset, request: Request, *, accepted_key: Optional[str], php_version: str = "8.2",
           display_errors: bool = False) -> Reply:
    """The reply of one ``/api.php`` request."""
    return LegacyScript(data, request, accepted_key=accepted_key, php_version=php_version,
                        display_errors=display_errors).run()
