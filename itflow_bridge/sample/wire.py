"""What one ITFlow PHP script receives and answers, as plain values.

The HTTP server (``fake_itflow.py``) turns each request into a ``Request`` and
sends back the ``Reply`` a script (``legacy_api.py``, ``json_api.py``, the
writes tests plug in) produced, so the scripts never touch a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

SERVER_SIGNATURE = "Apache/2.4.62 (Debian)"

HTML_TYPE = "text/html; charset=UTF-8"
XML_TYPE = "text/xml;charset=UTF-8"
JSON_TYPE = "application/json"
APACHE_ERROR_TYPE = "text/html; charset=iso-8859-1"


@dataclass(frozen=True)
class Request:
    """One request: ``path`` is URL-decoded, ``query`` is PHP's ``$_GET``."""

    method: str
    path: str
    query: Dict[str, str]
    user_agent: Optional[str]
    body: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class Reply:
    """One answer: status, body bytes, ``Content-Type`` and any other headers."""

    status: int
    body: bytes
    content_type: str
    headers: Tuple[Tuple[str, str], ...] = ()
