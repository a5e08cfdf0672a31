"""Which ITFlow API generation answers at a URL.

The probes are the cheapest requests whose answers a generic web server cannot
imitate by accident: the JSON API must answer a one-row read with JSON holding
``success`` (or 401 with an empty body, its answer to a missing key); the
legacy API must answer a request with a key and no action with an empty 200,
or one of its two exact 401 texts.
"""

from __future__ import annotations

from typing import Optional

from ..core.errors import ITFlowAPIMissing, ITFlowError
from .http import ITFlowHTTP
from .v1_reader import endpoint, is_success

LEGACY_401_TEXTS = ("Missing the API Key.", "Incorrect or expired API Key.")


def looks_like_v1(http: ITFlowHTTP, timeout: Optional[float] = None) -> bool:
    response = http.get(endpoint("clients"), {"limit": 1}, timeout=timeout)
    if response.status == 401 and not response.body.strip():
        return True
    if response.status not in (200, 401, 403, 405):
        return False
    try:
        is_success(response.json())
    except ITFlowError:
        return False
    return True


def looks_like_legacy(http: ITFlowHTTP, timeout: Optional[float] = None) -> bool:
    response = http.get("/api.php", {}, timeout=timeout)
    text = response.text.strip()
    if response.status == 200:
        return text == ""
    return response.status == 401 and text in LEGACY_401_TEXTS


def detect_generation(http: ITFlowHTTP, timeout: Optional[float] = None) -> str:
    """``"v1"`` or ``"legacy"``; the JSON API wins when a site somehow has both."""
    if looks_like_v1(http, timeout):
        return "v1"
    if looks_like_legacy(http, timeout):
        return "legacy"
    raise ITFlowAPIMissing(
        "no ITFlow API answers at %s (neither /api/v1 nor /api.php): check [itflow] url" % http.base_url
    )
