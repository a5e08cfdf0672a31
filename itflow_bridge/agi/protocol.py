"""The AGI wire format as pure functions: environment block, replies, quoting.

Kept free of I/O so every quirk of res_agi (``200 result= (timeout)``, data with
parentheses, 5xx lines) is provable by plain unit tests, and so quoting, the one
place where a client name could inject a second AGI command, has a single owner.
"""

from __future__ import annotations

import re
from collections import namedtuple

from ..core.errors import AGIError
from .environment import parse_env as parse_env  # part of the wire format's API

TYPE_CHECKING = False  # typing costs milliseconds a replayed classic call does not have
if TYPE_CHECKING:
    from typing import Iterable, List, Optional

# res_agi reads a command with fgets() into an 8192-byte buffer: at most 8191
# bytes including the newline.  A longer line is cut and the rest runs as a
# second command, so the session refuses to send one.
MAX_COMMAND_LINE_BYTES = 8191

_STRIPPED_CHARS = {ord("\r"): None, ord("\n"): None, ord("\0"): None}
_CODE_LINE = re.compile(r"(\d{3})(?:[ -](.*))?\Z", re.ASCII | re.DOTALL)
_RESULT = re.compile(r"result=(\S*)(.*)\Z", re.ASCII | re.DOTALL)
_ENDPOS = re.compile(r"(?:^|\s)endpos=(-?\d+)(?=\s|$)", re.ASCII)
_INTEGER = re.compile(r"-?\d+\Z", re.ASCII)


class Reply(namedtuple("Reply", "code result data endpos raw")):
    """One parsed reply line (or 520 block) from Asterisk: code, result, data, endpos, raw.

    ``data`` is the text in parentheses of a ``200`` reply (``None`` when
    absent), or the message text of any other code (``510``, ``511``, ``520``).
    """

    __slots__ = ()

    @property
    def result_int(self) -> Optional[int]:
        """``result`` as an integer, or ``None`` when it is empty or not a number."""
        if _INTEGER.match(self.result):
            return int(self.result)
        return None


def quote(value: object, max_bytes: Optional[int] = None) -> str:
    """Return ``value`` as one double-quoted AGI argument.

    CR, LF and NUL are removed (a newline would end the command and start
    another), ``\\`` and ``"`` are backslash-escaped.  With ``max_bytes`` the
    value is cut, never inside a character or an escape, so that the quoted
    result encodes to at most that many UTF-8 bytes.
    """
    text = _as_text(value).translate(_STRIPPED_CHARS)
    escaped = [_escape_char(char) for char in text]
    if max_bytes is not None:
        escaped = _fit_bytes(escaped, max_bytes - 2)
    return '"' + "".join(escaped) + '"'


def parse_reply(line: str) -> Reply:
    """Parse one reply line: ``200 result=N [(data)] [endpos=N]`` or ``5xx text``.

    Raises ``AGIError`` for anything that is not a reply (including the
    unsolicited ``HANGUP`` line, which the session handles before parsing).
    """
    raw = line.rstrip("\r\n")
    code_match = _CODE_LINE.match(raw)
    if not code_match:
        raise AGIError("not an AGI reply: %r" % _excerpt(raw))
    code = int(code_match.group(1))
    text = code_match.group(2) or ""
    if code != 200:
        return Reply(code=code, result="", data=text, endpos=None, raw=raw)
    return _parse_success(text, raw)


def has_unclosed_data(line: str) -> bool:
    """True when a ``200`` reply opens ``(`` without closing it.

    A variable value containing a newline arrives split over several lines;
    the session keeps reading until the data closes.
    """
    if not line.startswith("200 "):
        return False
    opening = line.find("(")
    return opening != -1 and ")" not in line[opening:]


def _parse_success(text: str, raw: str) -> Reply:
    result_match = _RESULT.match(text)
    if not result_match:
        raise AGIError("200 reply without result=: %r" % _excerpt(raw))
    result, rest = result_match.group(1), result_match.group(2).lstrip()
    data: Optional[str] = None
    if rest.startswith("("):
        closing = rest.rfind(")")
        if closing == -1:
            raise AGIError("unterminated data in reply: %r" % _excerpt(raw))
        data, rest = rest[1:closing], rest[closing + 1 :]
    endpos_match = _ENDPOS.search(rest)
    endpos = int(endpos_match.group(1)) if endpos_match else None
    return Reply(code=200, result=result, data=data, endpos=endpos, raw=raw)


def _as_text(value: object) -> str:
    """``value`` as text that always encodes to UTF-8 (lone surrogates become ``?``)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    text = value if isinstance(value, str) else str(value)
    return text.encode("utf-8", errors="replace").decode("utf-8")


def _escape_char(char: str) -> str:
    if char in '\\"':
        return "\\" + char
    return char


def _fit_bytes(pieces: Iterable[str], budget: int) -> List[str]:
    if budget < 0:
        raise ValueError("max_bytes must leave room for the two quotes")
    kept: List[str] = []
    for piece in pieces:
        size = len(piece.encode("utf-8"))
        if size > budget:
            break
        kept.append(piece)
        budget -= size
    return kept


def _excerpt(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
