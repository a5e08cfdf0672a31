"""The confirm page's form token: proof that a click-to-call POST comes from the page the bridge served.

The token is an HMAC of the agent's link token under a key made when the
daemon starts: another site cannot compute it (it knows neither), it is the
same for every page of one link (no state kept per page), it opens nothing by
itself, and a restart voids the pages served before (the agent clicks again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

KEY_BYTES = 32
PURPOSE = b"itflow-bridge click to call\0"


class FormTokens:
    def __init__(self, key: bytes = b"") -> None:
        self._key = key or secrets.token_bytes(KEY_BYTES)

    def __repr__(self) -> str:
        return "FormTokens()"

    def issue(self, link_token: str) -> str:
        """The form token of the page opened by ``link_token``."""
        digest = hmac.new(self._key, PURPOSE + link_token.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def check(self, link_token: str, offered: str) -> bool:
        """True when ``offered`` is the form token of ``link_token``'s page (compared in constant time)."""
        return hmac.compare_digest(self.issue(link_token).encode("ascii"), offered.encode("utf-8", "replace"))
