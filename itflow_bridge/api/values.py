"""Typed values from ITFlow's all-string rows.

The JSON API answers every column as a string or null (``"contact_id":"1"``,
``"invoice_amount":"800.00"``).  A ``Row`` gives the same columns typed by
their name: ``int`` for ids, numbers, counts and flags; ``Decimal`` for
amounts; ``date``/``datetime`` for dates; ``None`` for null and empty
strings; text otherwise.  A value that does not parse as its column's type is
left as the string ITFlow sent (``ticket_number`` is ``"TCK-12"`` in
``technicians/time``), and ``row.raw`` always holds the row exactly as sent.
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Iterator, Mapping

from ..core.constants import MAX_DIGITS

_INT_SUFFIXES = (
    "_id", "_count", "_net_terms", "_order", "_primary", "_important", "_billing",
    "_technical", "_favorite", "_lead", "_billable", "_onsite", "_client_visible", "_sla_met",
    "_alert_stage", "_created_by", "_updated_by", "_assigned_to", "_closed_by", "_reply_by",
)
# Only these *_number columns are numbers: tax ids and vendor account numbers are text.
_INT_NAMES = frozenset({"ticket_status", "count", "invoice_number", "quote_number", "ticket_number"})
_DECIMAL_SUFFIXES = (
    "_amount", "_price", "_subtotal", "_tax", "_total", "_rate", "_quantity", "_cost", "_balance",
    "_percent",
)
_DATE_SUFFIXES = ("_date", "_due", "_expire", "_warranty_expire")
_INT = re.compile(r"-?\d{1,%d}" % MAX_DIGITS)
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def typed(column: str, value: Any) -> Any:
    """``value`` as the type its column name says, or unchanged when it does not parse."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return value
    if column in _INT_NAMES or column.endswith(_INT_SUFFIXES):
        return int(value) if _INT.fullmatch(value) else value
    if column.endswith(_DECIMAL_SUFFIXES):
        if _DECIMAL.fullmatch(value):
            try:
                return Decimal(value)
            except InvalidOperation:  # pragma: no cover - the pattern admits only finite numbers
                return value
        return value
    if _DATETIME.fullmatch(value):
        return _datetime(value)
    if _DATE.fullmatch(value) and (column.endswith(_DATE_SUFFIXES) or column.endswith("_at")):
        return _date(value)
    return value


def _date(value: str) -> Any:
    if value == "0000-00-00":
        return None
    try:
        return _dt.date.fromisoformat(value)
    except ValueError:
        return value


def _datetime(value: str) -> Any:
    if value.startswith("0000-00-00"):
        return None
    try:
        return _dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


class Row(Mapping[str, Any]):
    """One ITFlow row: typed values by column (``row["contact_id"]`` or ``row.contact_id``), ``.raw`` as sent."""

    __slots__ = ("raw", "_typed")

    def __init__(self, raw: Mapping[str, Any]):
        self.raw: Dict[str, Any] = dict(raw)
        self._typed: Dict[str, Any] = {column: typed(column, value) for column, value in self.raw.items()}

    def __getitem__(self, column: str) -> Any:
        return self._typed[column]

    def __iter__(self) -> Iterator[str]:
        return iter(self._typed)

    def __len__(self) -> int:
        return len(self._typed)

    def __getattr__(self, column: str) -> Any:
        if column.startswith("_"):
            raise AttributeError(column)
        try:
            return self._typed[column]
        except KeyError:
            raise AttributeError(column) from None

    def __repr__(self) -> str:
        return "Row(%r)" % (self._typed,)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            return self.raw == other.raw
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # mutable raw: not hashable, like a dict


def to_json_value(value: Any) -> Any:
    """A typed value for ``json.dumps``: Decimal and dates as strings in ITFlow's own format."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, _dt.date):
        return value.isoformat()
    return value
