"""Glue between the directory pieces and the rest of the bridge.

* ``store_for(config, generation)`` / ``existing_store(config)``: where this
  configuration's directory file lives (``[cache] dir``, one file per ITFlow
  identity).
* ``Phonebooks``: the HTTP server's phonebook provider, rendering each format
  once per sync.
* ``cnam_lookup(bridge)``: the HTTP server's ``/cnam`` callable, the bridge's
  ``CallerLookup`` and display-name rules behind a plain ``str -> str``.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Callable, Dict, Optional, Tuple

from .http_server import PhonebookDocument
from .phonebook import CONTENT_TYPE, FORMATS, PhonebookOptions, render
from .store import Directory, DirectoryStore

def store_for(config: "Config", generation: str) -> DirectoryStore:
    return DirectoryStore.for_identity(config.cache.dir, config.itflow.url, generation, config.itflow.api_key)


def existing_store(config: "Config") -> Optional[DirectoryStore]:
    """The most recently synced directory of this URL and key, whichever API generation built it."""
    return DirectoryStore.current(config.cache.dir, config.itflow.url, config.itflow.api_key)


class Phonebooks:
    """``format -> PhonebookDocument`` (None before the first sync); KeyError for unknown formats."""

    def __init__(self, directory: Directory, options: PhonebookOptions = PhonebookOptions()):
        self.directory = directory
        self.options = options
        self._lock = threading.Lock()
        self._rendered: Dict[str, Tuple[str, PhonebookDocument]] = {}

    def __call__(self, format: str) -> Optional[PhonebookDocument]:
        if format not in FORMATS:
            raise KeyError(format)
        info = self.directory.info()
        if info is None:
            return None
        with self._lock:
            cached = self._rendered.get(format)
            if cached is not None and cached[0] == info.version:
                return cached[1]
            body = render(self.directory.entries(), format, self.options)
            document = PhonebookDocument(body=body, etag='"%s"' % hashlib.sha256(body).hexdigest()[:32],
                                         last_modified=info.synced_at, content_type=CONTENT_TYPE)
            self._rendered[format] = (info.version, document)
            return document


def cnam_lookup(bridge) -> Callable[[str], str]:
    """The display name for a caller number, "" when nobody matches or ITFlow failed."""
    from ..services.display import display_name
    from ..services.lookup import FOUND

    def lookup(number: str) -> str:
        result = bridge.lookup.lookup(number)
        if result.status != FOUND or result.match is None:
            return ""
        return display_name(result.match, bridge.config.callerid, result.number or "")

    return lookup
