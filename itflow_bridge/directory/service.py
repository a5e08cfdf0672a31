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
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, Optional, Tuple, Union

from .http_server import PhonebookDocument
from .formats import FORMATS
from .phonebook import CONTENT_TYPE, PhonebookOptions, render
from ..storage.directory_file import Directory, DirectoryInfo, DirectoryStore

if TYPE_CHECKING:
    from ..app import Bridge
    from ..core.config import Config

def store_for(config: "Config", generation: str) -> DirectoryStore:
    return DirectoryStore.for_identity(config.cache.dir, config.itflow.url, generation, config.itflow.api_key)


def existing_store(config: "Config") -> Optional[DirectoryStore]:
    """The most recently synced directory of this URL and key, whichever API generation built it."""
    return DirectoryStore.current(config.cache.dir, config.itflow.url, config.itflow.api_key)


@dataclass(frozen=True)
class DirectoryStatus:
    path: str
    size: int  # bytes
    info: DirectoryInfo


def directory_status(bridge: "Bridge") -> Optional[DirectoryStatus]:
    """The directory the bridge's lookups use, and what its last sync recorded; None if none is readable."""
    directory = bridge.directory()
    info = directory.info() if directory is not None else None
    if directory is None or info is None:
        return None
    try:
        size = directory.path.stat().st_size
    except OSError:
        return None
    return DirectoryStatus(str(directory.path), size, info)


def directory_check(bridge: "Bridge", transport: Optional[str]) -> Tuple[str, str, str]:
    """``check``'s line on the local directory: (ok | warning, what was found, how to fix it).

    How old and how big it is, and what keeps it fresh; a warning when it is
    older than three sync intervals, or absent while classic scripts answer.
    """
    interval = bridge.config.directory.sync_interval
    if not interval:
        keeper = "[directory] sync_interval = 0: nothing syncs it by itself"
    elif transport == "fastagi":
        keeper = "the daemon syncs it every %d s" % interval
    elif transport == "classic":
        keeper = "itflow-bridge-sync.timer syncs it every %d s" % interval
    else:
        keeper = "to be synced every %d s (by the daemon, or a timer or cron job)" % interval
    status = directory_status(bridge)
    if status is None:
        detail = "not synced yet (%s): calls are named by asking ITFlow" % keeper
        if transport == "classic":
            return ("warning", detail, "run itflow-bridge sync (as the asterisk user) and see that "
                    "itflow-bridge-sync.timer is enabled (systemctl list-timers)")
        return "ok", detail, ""
    info = status.info
    age = max(0.0, time.time() - info.synced_at)
    kinds = ", ".join("%d %ss" % (count, kind) for kind, count in sorted(info.rows.items()) if count)
    detail = "%s: %d numbers (%s), %s, synced %s ago from the %s API; %s" % (
        status.path, info.total, kinds or "none", _size(status.size), _duration(age), info.generation, keeper)
    if interval and age > 3 * interval:
        return ("warning", detail, "older than three sync intervals: run itflow-bridge sync and read what it "
                "says (ITFlow down? the key changed?)")
    return "ok", detail, ""


def _duration(seconds: float) -> str:
    if seconds < 120:
        return "%d s" % seconds
    if seconds < 7200:
        return "%d min" % (seconds // 60)
    if seconds < 172800:
        return "%.1f h" % (seconds / 3600)
    return "%d days" % (seconds // 86400)


def _size(size: int) -> str:
    return "%.1f MB" % (size / 1048576) if size >= 1048576 else "%d kB" % max(1, round(size / 1024))


class Phonebooks:
    """``format -> PhonebookDocument`` (None before the first sync); KeyError for unknown formats.

    ``directory``: the directory, or a callable answering it (None before the first sync), as the
    daemon's ``Bridge.directory`` does.
    """

    def __init__(self, directory: Union[Directory, Callable[[], Optional[Directory]]],
                 options: Optional[PhonebookOptions] = None):
        self._directory = directory
        self.options = options or PhonebookOptions()
        self._lock = threading.Lock()
        self._rendered: Dict[str, Tuple[str, PhonebookDocument]] = {}

    @property
    def directory(self) -> Optional[Directory]:
        return self._directory if isinstance(self._directory, Directory) else self._directory()

    def __call__(self, format: str) -> Optional[PhonebookDocument]:
        if format not in FORMATS:
            raise KeyError(format)
        directory = self.directory
        info = directory.info() if directory is not None else None
        if directory is None or info is None:
            return None
        with self._lock:
            cached = self._rendered.get(format)
            if cached is not None and cached[0] == info.version:
                return cached[1]
            body = render(directory.entries(), format, self.options)
            document = PhonebookDocument(body=body, etag='"%s"' % hashlib.sha256(body).hexdigest()[:32],
                                         last_modified=info.synced_at, content_type=CONTENT_TYPE)
            self._rendered[format] = (info.version, document)
            return document


def cnam_lookup(bridge: "Bridge") -> Callable[[str], str]:
    """The display name for a caller number, "" when nobody matches or ITFlow failed."""
    from ..services.display import display_name
    from ..services.lookup import FOUND

    def lookup(number: str) -> str:
        result = bridge.lookup.lookup(number)
        if result.status != FOUND or result.match is None:
            return ""
        return display_name(result.match, bridge.config.callerid, result.number or "")

    return lookup
