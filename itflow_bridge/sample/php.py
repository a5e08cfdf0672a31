"""PHP 8 and MySQL semantics the fake ITFlow re-enacts, one function per behaviour.

ITFlow is PHP on MariaDB: its answers are shaped by ``intval()``, by how PHP
echoes a float, by ``json_encode``'s escaping, by the HTML blocks PHP prints
with ``display_errors`` on, by ``strip_tags``, and by how MySQL compares a
varchar with a number or sums decimal columns.  Nothing here knows about
ITFlow's endpoints.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union
from urllib.parse import parse_qsl

Row = Dict[str, Any]
"""One database row as mysqli hands it to PHP: column -> string or None (NULL)."""

Dataset = Dict[str, Any]
"""Tables by name, each a list of ``Row`` (what ``sample_itflow.json`` holds)."""

_PHP_NUMERIC_PREFIX = re.compile(r"[ \t\n\r\v\f]*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")
_LEADING_NUMBER = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")  # floatval, MySQL
_DIGITS_ONLY = re.compile(r"[+-]?\d+")
_INT64_MAX = 2 ** 63 - 1
_INT64_MIN = -(2 ** 63)


# --- numbers ----------------------------------------------------------------------


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


def php_floatval(text: str) -> float:
    """PHP ``floatval()`` of a string: its leading number, 0.0 if none."""
    match = _LEADING_NUMBER.match(text)
    return float(match.group(1)) if match else 0.0


def php_version_at_least(version: str, minimum: Tuple[int, int]) -> bool:
    """``version`` (``"8.2"``, ``"8.0.30"``) is ``minimum`` (major, minor) or newer."""
    parts = [php_intval(part) for part in version.split(".")[:2]]
    return tuple(parts + [0] * (2 - len(parts))) >= minimum


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


def php_arithmetic_operand(sql_value: Optional[str]) -> Union[int, float]:
    """A mysqli string used in PHP arithmetic: null -> 0, "12.50" -> 12.5, "12" -> 12."""
    if sql_value is None:
        return 0
    return float(sql_value) if any(mark in sql_value for mark in ".eE") else int(sql_value)


def php_str(value: Any) -> str:
    """PHP's string conversion of a ``json_decode``d value (``(string)``, as ``escapeSql`` sees it)."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float):
        return repr(value).rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return value if isinstance(value, str) else str(value)


# --- text ---------------------------------------------------------------------------


def php_strip_tags(text: str) -> str:
    """PHP ``strip_tags()``: every ``<...>``, and an unclosed ``<`` to the end."""
    return re.sub(r"<[^>]*(?:>|$)", "", text)


def php_trim(text: str) -> str:
    """PHP ``trim()`` with its default characters."""
    return text.strip(" \t\n\r\0\x0b")


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


# --- what PHP prints with display_errors=On ------------------------------------------


def php_warning(message: str, script: str, line: int) -> str:
    """The HTML block PHP prints for a warning when display_errors is on."""
    return "<br />\n<b>Warning</b>:  %s in <b>%s</b> on line <b>%d</b><br />\n" % (message, script, line)


def php_uncaught_sql_error(message: str, script: str, line: int) -> str:
    """The HTML block of an uncaught mysqli_sql_exception (PHP >= 8.1, display_errors on).

    The message is HTML-escaped (``&``, ``"``, ``<``, ``>``) and the stack trace shows no
    arguments (``zend.exception_ignore_args = On`` in Debian's php.ini).
    """
    escaped = message.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        "<br />\n<b>Fatal error</b>:  Uncaught mysqli_sql_exception: %s in %s:%d\n"
        "Stack trace:\n#0 %s(%d): mysqli_query()\n#1 {main}\n"
        "  thrown in <b>%s</b> on line <b>%d</b><br />\n"
    ) % (escaped, script, line, script, line, script, line)


# --- the request as PHP sees it --------------------------------------------------------


def php_get(query_string: str) -> Dict[str, str]:
    """The query string as PHP's ``$_GET`` sees it: ``a`` alone is ``""``, the last duplicate wins."""
    return dict(parse_qsl(query_string, keep_blank_values=True))


def php_json_post(body: bytes) -> Dict[str, Any]:
    """``$_POST = json_decode(php://input, true)``: only a JSON object yields parameters."""
    try:
        decoded = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


# --- MySQL --------------------------------------------------------------------------------


_MYSQL_ESCAPES = {"\0": "\\0", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "'": "\\'", '"': '\\"', "\x1a": "\\Z"}
_MYSQL_UNESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


def mysql_escape(text: str) -> str:
    """``mysqli_real_escape_string()``: NUL, line breaks, backslash, quotes and ^Z escaped."""
    return "".join(_MYSQL_ESCAPES.get(char, char) for char in text)


def mysql_unescape(literal: str) -> str:
    """What MySQL stores for the inside of a quoted string literal: ``\\n`` is a newline, ``\\x`` is x."""
    return re.sub(r"\\(.)", lambda match: _MYSQL_UNESCAPES.get(match.group(1), match.group(1)), literal,
                  flags=re.DOTALL)


def mysql_number(text: str) -> float:
    """How MySQL reads a varchar compared with a number: its leading number, else 0."""
    match = _LEADING_NUMBER.match(text)
    return float(match.group(1)) if match else 0.0


def sql_int(value: Any) -> Optional[int]:
    """An id column as MySQL compares it; NULL stays None (matches nothing)."""
    if value is None:
        return None
    return value if isinstance(value, int) else php_intval(str(value))


def table_rows(data: Dataset, table: str, id_column: str) -> List[Row]:
    """A table's rows in primary-key order (InnoDB's scan order)."""
    rows: List[Row] = data.get(table) or []
    return sorted(rows, key=lambda row: sql_int(row.get(id_column)) or 0)


def sql_sum(values: Iterable[Optional[str]]) -> Optional[str]:
    """MySQL ``SUM()`` of decimal columns as mysqli returns it: a string, or NULL for no rows."""
    present = [Decimal(str(value)) for value in values if value is not None]
    return str(sum(present)) if present else None


@functools.lru_cache(maxsize=4096)
def _general_ci_weight(char: str) -> str:
    if ord(char) > 0xFFFF:  # utf8mb4_general_ci weighs every character beyond the BMP alike
        return "\ufffd"
    if char == "\u00df":  # ß sorts as S
        return "S"
    base = unicodedata.normalize("NFD", char)[0]
    upper = base.upper()
    return upper if len(upper) == 1 else base


@functools.lru_cache(maxsize=65536)
def sql_collation_key(text: str) -> str:
    """How ``utf8mb4_general_ci`` (ITFlow's collation) compares and sorts ``text``.

    Cached: the fake compares every row of a table per request, and a busy test (100 callers
    at once) must measure the bridge, not this function."""
    if text.isascii():
        return text.rstrip(" ").upper()  # the same weights, without a lookup per character
    return "".join(_general_ci_weight(char) for char in text.rstrip(" "))


def sql_equal(value: Any, wanted: str) -> bool:
    """``column = 'wanted'`` under ``utf8mb4_general_ci``: case and accents do not count
    (``Müller`` = ``MULLER``), nor do trailing spaces; NULL matches nothing."""
    return value is not None and sql_collation_key(str(value)) == sql_collation_key(wanted)


def php_empty(value: Any) -> bool:
    """PHP ``empty()``: null, false, 0, "", "0" and an empty array are empty."""
    return value in (None, False, 0, "", "0") or value == [] or value == {}
