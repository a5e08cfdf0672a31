"""What the FastAGI daemon runs beside its calls: the directory's re-sync and its HTTP server.

``DirectoryServices(bridge, http_port).start()`` starts

* a background sync every ``[directory] sync_interval`` seconds (0: none), the
  first right away but never holding up the daemon's start; like the ``sync``
  command it writes the classic scripts' answer book too (``refresh``).  A failed sync is
  logged once (one line per attempt, so once per interval) and leaves the
  previous directory answering: a sync replaces the file only once it has read
  everything.
* the HTTP server (``/cnam``, ``/phonebook/<format>.xml``, and
  ``/voicemail/<token>`` when given a ``voicemail`` source) on
  ``[directory] http_host:http_port`` when the port (or ``serve --http-port``)
  is not 0, with the token and allow-list of ``[directory]``.

``stop()`` ends both; the daemon calls it on SIGTERM after its calls ended.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from typing import TYPE_CHECKING, Optional

from ..core.errors import BridgeError
from ..core.redact import redact

if TYPE_CHECKING:
    from ..app import Bridge
    from .http_server import DirectoryHTTPServer, ExtraRoutes, VoicemailSource
    from .sync import SyncReport

log = logging.getLogger(__name__)


class BackgroundSync:
    """Syncs the bridge's directory now and then every ``interval`` seconds, on a daemon thread."""

    def __init__(self, bridge: "Bridge", interval: float):
        self.bridge = bridge
        self.interval = interval
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.last_report: Optional[SyncReport] = None
        self.failures = 0

    def start(self) -> "BackgroundSync":
        self._thread = threading.Thread(target=self._run, name="directory-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop re-syncing; a sync in progress is left to finish on its daemon thread (never awaited long)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.sync_once()
            if self._stopping.wait(self.interval):
                return

    def sync_once(self) -> bool:
        """One sync of this ITFlow's directory and the answer book; False (logged) when the sync failed."""
        from .refresh import sync_directory

        started = time.monotonic()
        try:
            outcome = sync_directory(self.bridge)
        except Exception as exc:  # any failure: the previous directory keeps answering
            self.failures += 1
            log.warning("directory sync failed after %.1f s (%s: %s); the previous directory keeps answering, "
                        "next try in %d s", time.monotonic() - started, type(exc).__name__, redact(exc),
                        self.interval)
            return False
        self.last_report = outcome.report
        if outcome.book_problem:
            log.warning("the directory is synced, but %s", redact(outcome.book_problem))
        return True


class DirectoryServices:
    """The daemon's directory work: background sync and the HTTP server, started and stopped together."""

    def __init__(self, bridge: "Bridge", http_port: Optional[int] = None, http_host: Optional[str] = None,
                 voicemail: "Optional[VoicemailSource]" = None, extra_routes: "Optional[ExtraRoutes]" = None):
        settings = bridge.config.directory
        self.bridge = bridge
        self.voicemail = voicemail
        self.extra_routes = extra_routes  # served beside /cnam and the phonebooks (the agent screen)
        self.http_host = http_host or settings.http_host
        self.http_port = settings.http_port if http_port is None else http_port
        self.sync: Optional[BackgroundSync] = None
        self.http: Optional[DirectoryHTTPServer] = None

    def start(self) -> "DirectoryServices":
        """Start both (as configured); raises ``BridgeError`` when the HTTP port cannot be had."""
        settings = self.bridge.config.directory
        if self.http_port:
            self.http = self._http_server()
            self.http.start()
            served = ["/cnam", "/phonebook/<format>.xml"] + (["/voicemail/<link>"] if self.voicemail else []) + (
                [self.extra_routes.served] if self.extra_routes is not None else [])
            log.info("directory HTTP server listening on %s:%d (%s)", *self.http.server_address[:2], ", ".join(served))
        if settings.sync_interval:
            self.sync = BackgroundSync(self.bridge, settings.sync_interval).start()
        else:
            log.info("[directory] sync_interval = 0: the daemon does not sync the local directory")
        return self

    def stop(self) -> None:
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        if self.sync is not None:
            self.sync.stop()

    def _http_server(self) -> "DirectoryHTTPServer":
        from .http_server import make_http_server
        from .phonebook import PhonebookOptions
        from .service import Phonebooks, cnam_lookup

        config = self.bridge.config
        try:
            return make_http_server(self.http_host, self.http_port, cnam_lookup(self.bridge),
                                    Phonebooks(self.bridge.directory, PhonebookOptions.from_config(config)),
                                    token=config.directory.http_token, allow=config.directory.http_allow,
                                    budget=config.callerid.budget_ms / 1000.0, voicemail=self.voicemail,
                                    extra_routes=self.extra_routes)
        except (OSError, OverflowError) as exc:
            where = "%s port %s" % (self.http_host, self.http_port)
            if getattr(exc, "errno", None) == errno.EADDRINUSE:
                raise BridgeError("the directory's HTTP server cannot listen on %s: already in use; set "
                                  "[directory] http_port (or serve --http-port) to a free port" % where) from None
            raise BridgeError("the directory's HTTP server cannot listen on %s: %s"
                              % (where, getattr(exc, "strerror", None) or exc)) from None
