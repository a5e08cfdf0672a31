"""The links of the agents' pages: one unguessable token per link, kept only as its sha256.

``itflow-bridge agent-link EXT`` issues a link (an extension may have several:
a desk and a phone), ``agent-link --revoke EXT`` ends them all.  The file keeps
no token, only its hash: a copy of the cache directory opens no page.  A token
is looked up by its hash (an index, not a comparison per stored token) and the
row found is compared again in constant time.  The daemon and the command share
the file (sqlite, WAL), so a link revoked from the shell stops working at once,
and a page already open is closed at its next heartbeat.
"""

from __future__ import annotations

import hmac
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

from ..core.link_tokens import new_token, token_hash
from ..storage.layout import AGENTS_DB, open_durable_store

EXTENSION = re.compile(r"[0-9A-Za-z_.+*#-]{1,32}")
TOKEN = re.compile(r"[0-9A-Za-z_-]{16,128}")
AGENT_PATH = "/agent/"  # the page of a link: <base>/agent/<token>

_SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    token_sha256 TEXT PRIMARY KEY,
    extension TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS links_by_extension ON links (extension);
"""


def valid_extension(extension: str) -> bool:
    return bool(EXTENSION.fullmatch(extension))


def agent_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + AGENT_PATH + token


class AgentLinks:
    """The links table in ``path`` (created with the cache directory's mode policy)."""

    def __init__(self, path: "os.PathLike[str] | str", *, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()  # one connection, shared by the HTTP server's threads
        self._db = open_durable_store(self.path, _SCHEMA)

    @classmethod
    def in_cache(cls, cache_dir: "os.PathLike[str] | str", **options: Any) -> "AgentLinks":
        return cls(Path(cache_dir) / AGENTS_DB, **options)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "AgentLinks":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def issue(self, extension: str) -> str:
        """A new token for ``extension``'s page (the extension's other links stay valid)."""
        if not valid_extension(extension):
            raise ValueError("%r is not an extension (digits, letters, _ . + * # - only)" % extension)
        token = new_token()
        with self._lock:
            self._db.execute("INSERT INTO links (token_sha256, extension, created) VALUES (?, ?, ?)",
                             (token_hash(token), extension, self.clock()))
        return token

    def revoke(self, extension: str) -> int:
        """End every link of ``extension``; answers how many there were."""
        with self._lock:
            return int(self._db.execute("DELETE FROM links WHERE extension = ?", (extension,)).rowcount)

    def extension_of(self, token: str) -> Optional[str]:
        """The extension whose page ``token`` opens, or None."""
        if not TOKEN.fullmatch(token):
            return None
        wanted = token_hash(token)
        with self._lock:
            row = self._db.execute("SELECT token_sha256, extension FROM links WHERE token_sha256 = ?",
                                   (wanted,)).fetchone()
        if row is None or not hmac.compare_digest(str(row[0]), wanted):
            return None
        return str(row[1])

    def extensions(self) -> List[Tuple[str, int]]:
        """(extension, how many links) of every extension that has one."""
        with self._lock:
            rows = self._db.execute("SELECT extension, COUNT(*) FROM links GROUP BY extension ORDER BY extension")
            return [(str(row[0]), int(row[1])) for row in rows]
