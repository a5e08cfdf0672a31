"""Expiring links to voicemail messages, for the tickets that name them.

ITFlow's API takes no attachments, so a voicemail ticket carries a link,
``[calls] link_base_url`` + ``/voicemail/<token>``, which the bridge's own HTTP
server answers with the message's audio.  The token is
``secrets.token_urlsafe(32)`` (256 random bits): unguessable, so the link alone
is the permission, as with a shared-document link.

Only the token's SHA-256 is stored (``VOICEMAIL_LINKS_DB`` in the cache
directory), so a copy of the database opens no message.  A token is looked up
by its hash, which also makes the lookup's timing useless to a guesser: how
far an index comparison gets depends on the hash of what was sent, and a
guesser cannot choose hash prefixes that lead toward a stored token's hash
(that would take a SHA-256 preimage).  The token itself is never compared.

Each link lasts ``[calls] link_days`` from when it was made; expired rows are
removed whenever a link is made.  A link remembers the mailbox folder and the
message's ``msg_id``, not its file, so it still plays after the message was
listened to (moved to ``Old``) or filed elsewhere; deleted, it answers nothing.

Two processes share the file: the call journal makes links, the daemon's HTTP
server reads them.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Optional

from ..core.config import CallsSettings
from ..core.link_tokens import new_token, token_hash
from ..storage.layout import VOICEMAIL_LINKS_DB, open_durable_store
from .voicemail import VoicemailAudio, VoicemailMessage, locate

LINK_PATH = "/voicemail/"  # what the HTTP server answers, under link_base_url
DAY = 86400.0
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    token_hash TEXT PRIMARY KEY,
    mailbox TEXT NOT NULL,
    mailbox_dir TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    issued REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS links_expires ON links (expires);
"""


class VoicemailLinks:
    """The links store at ``path``; ``days`` each link lasts, ``base_url`` the server as ITFlow users reach it."""

    def __init__(self, path: "os.PathLike[str] | str", *, days: int = 30, base_url: str = ""):
        self.path = Path(path)
        self.days = days
        self.base_url = base_url.rstrip("/")
        self._lock = threading.Lock()  # the HTTP server's request threads share the connection
        self._db = open_durable_store(self.path, _SCHEMA)  # a link is on disk before the ticket carrying it

    @classmethod
    def in_cache(cls, cache_dir: "os.PathLike[str] | str", settings: CallsSettings) -> "VoicemailLinks":
        """The store of ``cache_dir``, with ``[calls] link_days`` and ``link_base_url``."""
        return cls(Path(cache_dir) / VOICEMAIL_LINKS_DB, days=settings.link_days, base_url=settings.link_base_url)

    @property
    def enabled(self) -> bool:
        """Whether links are made at all: only with a ``link_base_url`` to put in front of them."""
        return bool(self.base_url)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "VoicemailLinks":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def issue(self, message: VoicemailMessage, now: Optional[float] = None) -> str:
        """A new token for ``message``, valid ``days`` from ``now``; expired links are removed on the way."""
        now = time.time() if now is None else now
        token = new_token()
        with self._lock:
            self._db.execute("DELETE FROM links WHERE expires <= ?", (now,))
            self._db.execute(
                "INSERT INTO links (token_hash, mailbox, mailbox_dir, msg_id, issued, expires)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (token_hash(token), message.mailbox, str(message.mailbox_dir), message.msg_id, now,
                 now + self.days * DAY))
        return token

    def url_for(self, token: str) -> Optional[str]:
        """The link ITFlow users open; None without ``link_base_url``."""
        return self.base_url + LINK_PATH + token if self.base_url else None

    def link_for(self, message: VoicemailMessage, now: Optional[float] = None) -> Optional[str]:
        """A new link to ``message`` (``issue`` then ``url_for``); None, and nothing stored, without a base URL."""
        return self.url_for(self.issue(message, now)) if self.enabled else None

    def audio(self, token: str, now: Optional[float] = None) -> Optional[VoicemailAudio]:
        """The audio a token opens now; None for a token unknown or expired, or a message gone."""
        if not _TOKEN.fullmatch(token):
            return None
        now = time.time() if now is None else now
        with self._lock:
            row = self._db.execute("SELECT mailbox_dir, msg_id FROM links WHERE token_hash = ? AND expires > ?",
                                   (token_hash(token), now)).fetchone()
        if row is None:
            return None
        return locate(Path(row[0]), row[1])

    def resolve(self, token: str, now: Optional[float] = None) -> Optional[Path]:
        """The audio file a token opens now (see ``audio``)."""
        found = self.audio(token, now)
        return found.path if found is not None else None

    def count(self) -> int:
        """How many links are stored, expired ones not yet swept included."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM links").fetchone()[0])
