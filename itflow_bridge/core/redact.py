"""Keep the ITFlow API key out of every log line, message and printed URL.

The key travels in the query string (ITFlow accepts it nowhere else on GET), so
any URL that requests or urllib3 put into an exception carries it.  Secrets are
registered once at start-up; ``redact`` scrubs them (raw and URL-encoded) from
any text, and ``install_log_filter`` applies that to every record logged.
A secret shorter than any key ITFlow issues (the configuration refuses such a
key; a script may still pass one) is masked only as a whole word, so that a key
``e`` cannot turn every ``e`` of a message into ``***``.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "***"
# ITFlow's keys: legacy keygen() makes 16 letters and digits, current ITFlow randomString(32).
SHORTEST_ITFLOW_KEY = 16
_API_KEY_PARAM = re.compile(r"(api_key=)[^&\s'\"]*", re.IGNORECASE)
_WORD = r"[A-Za-z0-9_\-]"  # the characters of a key (base64url): a short secret must not touch one

_lock = threading.Lock()
_secrets: "tuple[str, ...]" = ()


def register_secret(secret: str) -> None:
    """Remember a secret so that ``redact`` removes it from any text from now on."""
    global _secrets
    if not secret:
        return
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    with _lock:
        # Longest first, so a form never leaves a tail of a longer one behind.
        _secrets = tuple(sorted(set(_secrets) | forms, key=len, reverse=True))


def redact(text: object) -> str:
    """``text`` as a string with every registered secret and api_key value masked."""
    result = _API_KEY_PARAM.sub(r"\1" + MASK, str(text))
    for secret in _secrets:
        if len(secret) >= SHORTEST_ITFLOW_KEY:
            result = result.replace(secret, MASK)
        else:
            result = re.sub("(?<!%s)%s(?!%s)" % (_WORD, re.escape(secret), _WORD), MASK, result)
    return result


class RedactingFilter(logging.Filter):
    """Masks secrets in the final message and any traceback text of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True


def install_log_filter(handler: logging.Handler) -> None:
    """Attach the redacting filter to ``handler`` (once)."""
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())
