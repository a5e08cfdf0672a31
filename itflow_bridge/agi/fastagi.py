"""A threaded FastAGI server: Asterisk connects once per call, we route by script.

One pooled thread per connection keeps handlers simple blocking code (they
mostly wait on ITFlow or on the caller).  The threads are reused: starting a
thread per call costs the accept loop a hand-over of the GIL to the new thread
and back, which under a burst of calls queues the next connections behind it.
The guards are what a long-running daemon needs: a bounded number of
sessions, an idle read timeout so a peer that vanished without closing never
pins a thread, and handler failures kept in our log, never sent to Asterisk.

When no route matches, the server sends one VERBOSE line and closes the
connection; Asterisk then ends the AGI with ``AGISTATUS=SUCCESS`` (an early EOF
is a normal end for res_agi), so dialplan should check the status variables
the handlers set, not only ``AGISTATUS``.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Callable, Dict, Mapping, Optional, Sequence, Set, Tuple

from itflow_bridge.agi.access import PeerFilter
from itflow_bridge.core.networks import Network
from itflow_bridge.agi.session import AGISession
from itflow_bridge.core.constants import FASTAGI_PORT
from itflow_bridge.core.errors import AGIHangup

Handler = Callable[[AGISession], object]  # what it returns is the caller's business

_ACCEPT_POLL_SECONDS = 0.2


class FastAGIServer:
    """Serve ``routes`` (script name -> handler) on a TCP port.

    ``idle_timeout`` bounds the wait for any single reply from Asterisk, so it
    must exceed the longest command a handler sends (a prompt plus its digit
    timeout); the default leaves ample room for an IVR.  ``allow``: addresses or
    networks whose connections are served (default 127.0.0.1 and ::1; see ``access``).
    ``listener``: an already listening socket to accept on (systemd's, under socket
    activation: it stays open across restarts) instead of binding ``host``:``port``.
    """

    def __init__(
        self,
        routes: Mapping[str, Handler],
        host: str = "127.0.0.1",
        port: int = FASTAGI_PORT,
        *,
        verbose_level: int = 1,
        max_sessions: int = 512,
        logger: Optional[logging.Logger] = None,
        idle_timeout: float = 120.0,
        allow: Optional[Sequence[Network]] = None,
        listener: Optional[socket.socket] = None,
    ) -> None:
        self._routes: Dict[str, Handler] = {name.lstrip("/"): handler for name, handler in routes.items()}
        self._verbose_level = verbose_level
        self._max_sessions = max_sessions
        self._logger = logger or logging.getLogger("itflow_bridge.agi")
        self._idle_timeout = idle_timeout
        self._peers = PeerFilter(allow, logger=self._logger)  # None: 127.0.0.1 and ::1 only
        if listener is None:
            listener = socket.create_server((host, port), backlog=max_sessions)  # a burst queues, no SYN dropped
        self._listener = listener
        self.server_address: Tuple[str, int] = self._listener.getsockname()[:2]
        self._stopping = threading.Event()
        self._serving = threading.Event()
        self._loop_done = threading.Event()
        self._lock = threading.Condition()
        self._connections: Set[socket.socket] = set()
        self._accept_thread: Optional[threading.Thread] = None
        # Grows to the peak number of calls at once, never beyond max_sessions.
        self._workers = ThreadPoolExecutor(max_sessions, thread_name_prefix="fastagi-session")

    @property
    def active_sessions(self) -> int:
        with self._lock:
            return len(self._connections)

    def serve_forever(self) -> None:
        """Accept connections until ``shutdown()``; blocks the calling thread."""
        self._serving.set()
        self._logger.info("FastAGI listening on %s:%d", *self.server_address)
        try:
            while not self._stopping.is_set():
                if self._connection_waiting():
                    self._accept_one()
        finally:
            self._listener.close()
            self._loop_done.set()

    def start(self) -> "FastAGIServer":
        """Serve from a background daemon thread; returns ``self``."""
        self._accept_thread = threading.Thread(
            target=self.serve_forever, name="fastagi-accept", daemon=True
        )
        self._accept_thread.start()
        return self

    def shutdown(self, grace: float = 10.0) -> None:
        """Stop accepting, give running sessions ``grace`` seconds, then cut them off."""
        self._stopping.set()
        if self._serving.is_set():
            self._loop_done.wait(timeout=_ACCEPT_POLL_SECONDS * 5)
        with self._lock:
            if not self._lock.wait_for(lambda: not self._connections, timeout=grace):
                self._logger.warning(
                    "FastAGI shutdown: closing %d session(s) still running", len(self._connections)
                )
                for connection in self._connections:
                    _cut(connection)
        self._listener.close()
        self._workers.shutdown(wait=False)

    # --- accepting --------------------------------------------------------

    def _connection_waiting(self) -> bool:
        try:
            readable, _, _ = select.select([self._listener], [], [], _ACCEPT_POLL_SECONDS)
        except (OSError, ValueError):  # listener closed under us
            self._stopping.set()
            return False
        return bool(readable)

    def _accept_one(self) -> None:
        try:
            connection, peer = self._listener.accept()
        except OSError as exc:  # e.g. out of file descriptors: back off, do not spin
            self._logger.warning("FastAGI accept failed: %s", exc)
            self._stopping.wait(_ACCEPT_POLL_SECONDS)
            return
        if not self._peers.allows(peer[0]):  # closed before a byte of its environment is read
            connection.close()
            self._peers.refused(peer[0])
            return
        with self._lock:
            if len(self._connections) >= self._max_sessions:
                self._logger.warning(
                    "FastAGI: %d sessions running, refusing connection from %s",
                    len(self._connections),
                    peer[0],
                )
                connection.close()
                return
            self._connections.add(connection)
        try:
            self._workers.submit(self._serve_connection, connection)
        except RuntimeError:  # shut down meanwhile
            self._forget(connection)

    # --- one call ---------------------------------------------------------

    def _serve_connection(self, connection: socket.socket) -> None:
        started = time.monotonic()
        try:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.settimeout(self._idle_timeout)
            with connection.makefile("rb") as reader, connection.makefile("wb") as writer:
                self._run_session(reader, writer)
        except OSError as exc:
            self._logger.debug("FastAGI connection error: %s", exc)
        finally:
            self._forget(connection)
            self._logger.debug("FastAGI session ended after %.3f s", time.monotonic() - started)

    def _forget(self, connection: socket.socket) -> None:
        connection.close()
        with self._lock:
            self._connections.discard(connection)
            self._lock.notify_all()

    def _run_session(self, reader: BinaryIO, writer: BinaryIO) -> None:
        script: Optional[str] = None
        try:
            session = AGISession(reader, writer, verbose_level=self._verbose_level)
            script = session.script
            handler = self._routes.get(script)
            if handler is None:
                self._logger.warning("FastAGI: no route for script %r", script)
                session.verbose("itflow-bridge: no route for %r" % script)
                return
            handler(session)
        except AGIHangup as exc:
            self._logger.debug("FastAGI session for %r ended by hangup: %s", script, exc)
        except Exception:
            self._logger.exception("FastAGI handler for %r failed", script)


def _cut(connection: socket.socket) -> None:
    """Shut a session's socket down so its blocked reads end at once."""
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
