"""A small threaded Asterisk Manager Interface client: login, actions, events, reconnect.

Threaded rather than asyncio because the rest of the bridge is threaded and
synchronous; one reader thread owns the socket's input, callers send actions from
any thread and wait for the response keyed by ActionID (with a timeout, so a
response that never comes cannot hang a caller).  After EOF (an Asterisk restart)
the reader reconnects with growing back-off and logs in again.  The secret is
never logged or put in an exception; a refused login stops the client with
``AMIAuthenticationError`` instead of retrying a wrong secret forever.

Why not panoramisk 1.4 (the usual Python choice), as measured against Asterisk 22:
no release since 2021; used as its README shows it warns "There is no current event
loop" on Python 3.12 and 3.13; an Originate's future waits for ``OriginateResponse``
with no timeout (forever for a user without ``read = call``) and takes that event
from the event handlers; actions queued over a reconnect are re-sent only for users
that receive ``FullyBooted`` (``read = system``).
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from itflow_bridge.calls.ami_protocol import Message, MessageParser, encode_action
from itflow_bridge.core.errors import BridgeError

log = logging.getLogger(__name__)

BANNER_PREFIX = "Asterisk Call Manager/"
AUTHENTICATION_FAILED = "Authentication failed"
READ_SIZE = 65536

EventCallback = Callable[[Message], None]
SessionCallback = Callable[[], None]


class AMIError(BridgeError):
    """The manager interface could not be used (connection, protocol, refused action)."""


class AMIAuthenticationError(AMIError):
    """Asterisk refused the username or secret."""


class AMIUnreachable(AMIError):
    """No manager interface answered at the address (refused, unreachable, unknown host)."""


class AMITimeout(AMIError):
    """No response to an action within its timeout."""


class AMIConnectionLost(AMIError):
    """The connection closed before the response came."""


class _Pending:
    __slots__ = ("done", "message")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.message: Optional[Message] = None


class AMIClient:
    """One manager session that survives Asterisk restarts.

    ``connect()`` logs in (raising on refusal) and starts the reader thread;
    ``on_event`` is called in that thread for every event, in arrival order.
    ``on_login`` is called after every login, before the session's first event
    (events missed while disconnected are never replayed: a listener catches up
    from elsewhere); ``on_lost`` when a session ends other than by ``close()``.
    ``close()`` sends Logoff and stops.  ``backoff`` is the sequence of waits
    (seconds) between reconnect attempts; the last one repeats.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        on_event: Optional[EventCallback] = None,
        on_login: Optional[SessionCallback] = None,
        on_lost: Optional[SessionCallback] = None,
        timeout: float = 5.0,
        ping_interval: Optional[float] = 20.0,
        backoff: Tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
        events: str = "on",
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret
        self._on_event = on_event
        self._on_login = on_login
        self._on_lost = on_lost
        self.timeout = timeout
        self.ping_interval = ping_interval
        self.backoff = backoff
        self._events = events
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending: Dict[str, _Pending] = {}
        self._sock: Optional[socket.socket] = None
        self._parser = MessageParser(expect_banner=True)
        self._closing = threading.Event()
        self._connected = threading.Event()
        self._reader: Optional[threading.Thread] = None
        self._pinger: Optional[threading.Thread] = None
        self.banner: Optional[str] = None
        self.logins = 0
        self.failure: Optional[AMIError] = None

    def __repr__(self) -> str:
        return "AMIClient(%s@%s:%d)" % (self.username, self.host, self.port)

    # --- lifecycle ---------------------------------------------------------

    def connect(self) -> None:
        """Connect and log in now (raises AMIError/AMIAuthenticationError), then read in the background."""
        self._closing.clear()
        self._open_and_login()
        self._reader = threading.Thread(target=self._read_loop, name="ami-reader", daemon=True)
        self._reader.start()
        if self.ping_interval:
            self._pinger = threading.Thread(target=self._ping_loop, name="ami-ping", daemon=True)
            self._pinger.start()

    def close(self) -> None:
        """Log off (best effort), close the socket and stop the threads."""
        if self._closing.is_set():
            return
        was_connected = self._connected.is_set()
        self._closing.set()  # from here on, EOF is expected: no warning, no reconnect
        if was_connected:
            try:
                self.send_action("Logoff", timeout=min(self.timeout, 2.0))
            except AMIError:
                pass
        self._drop_socket()
        for thread in (self._reader, self._pinger):
            if thread is not None and thread is not threading.current_thread():
                thread.join(self.timeout)

    def __enter__(self) -> "AMIClient":
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """True once logged in (again), False after ``timeout`` seconds."""
        return self._connected.wait(timeout)

    # --- actions -----------------------------------------------------------

    def send_action(self, action: str, headers: Iterable[Tuple[str, str]] = (),
                    timeout: Optional[float] = None) -> Message:
        """Send one action and return its response; ``Response: Error`` raises AMIError with its message."""
        response = self._request(action, list(headers), timeout)
        if response.get("Response").lower() == "error":
            raise AMIError("%s refused: %s" % (action, response.get("Message") or "no message"))
        return response

    def _request(self, action: str, headers: List[Tuple[str, str]], timeout: Optional[float]) -> Message:
        action_id = "itflow-%d" % next(self._ids)
        data = encode_action(action, action_id, headers)
        pending = _Pending()
        with self._lock:
            sock = self._sock
            if sock is None:
                raise AMIConnectionLost("not connected to the manager interface")
            self._pending[action_id] = pending
        try:
            with self._write_lock:
                sock.sendall(data)
            log.debug("AMI action %s sent (%s)", action, action_id)
            if not pending.done.wait(self.timeout if timeout is None else timeout):
                raise AMITimeout("no response to %s within %.1f s" % (action, self.timeout if timeout is None
                                                                       else timeout))
        except OSError as error:
            raise AMIConnectionLost("sending %s failed: %s" % (action, error.strerror or error)) from None
        finally:
            with self._lock:
                self._pending.pop(action_id, None)
        if pending.message is None:
            raise AMIConnectionLost("the connection closed before the response to %s" % action)
        return pending.message

    def ping(self, timeout: Optional[float] = None) -> None:
        self.send_action("Ping", timeout=timeout)

    # --- connection --------------------------------------------------------

    def _open_and_login(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as error:
            raise AMIUnreachable("cannot connect to %s:%d: %s" % (self.host, self.port,
                                                                  error.strerror or error)) from None
        parser = MessageParser(expect_banner=True)
        try:
            messages = self._read_banner(sock, parser)
            with self._lock:
                self._sock = sock
                self._parser = parser
            self.banner = parser.banner
            leftover = self._login(sock, parser, messages)
        except BaseException:
            with self._lock:
                if self._sock is sock:
                    self._sock = None
            sock.close()
            raise
        sock.settimeout(None)
        self.logins += 1
        self._connected.set()
        log.info("AMI logged in to %s:%d as %s (%s)", self.host, self.port, self.username, self.banner)
        self._session_changed(self._on_login)
        for message in leftover:
            self._deliver(message)

    def _read_banner(self, sock: socket.socket, parser: MessageParser) -> List[Message]:
        messages: List[Message] = []
        while parser.banner is None:
            data = self._recv(sock)
            messages.extend(parser.feed(data))
        if not parser.banner.startswith(BANNER_PREFIX):
            raise AMIError("not an Asterisk manager interface: banner %r" % parser.banner[:80])
        return messages

    def _login(self, sock: socket.socket, parser: MessageParser, early: List[Message]) -> List[Message]:
        """Log in on the socket before the reader owns it (so the response is read here).

        Answers the messages that came after the login response in the same read.
        """
        action_id = "itflow-login-%d" % next(self._ids)
        headers = [("Username", self.username), ("Secret", self._secret), ("Events", self._events)]
        with self._write_lock:
            sock.sendall(encode_action("Login", action_id, headers))
        backlog = list(early)
        while True:
            for index, message in enumerate(backlog):
                if message.is_response and message.action_id == action_id:
                    if message.get("Response").lower() != "success":
                        text = message.get("Message") or "login refused"
                        if AUTHENTICATION_FAILED.lower() in text.lower():
                            raise AMIAuthenticationError(
                                "Asterisk refused the manager login for user %r: %s" % (self.username, text))
                        raise AMIError("manager login for user %r failed: %s" % (self.username, text))
                    return backlog[index + 1:]
                self._deliver(message)
            backlog = parser.feed(self._recv(sock))

    def _recv(self, sock: socket.socket) -> bytes:
        try:
            data = sock.recv(READ_SIZE)
        except socket.timeout:
            raise AMITimeout("%s:%d did not answer within %.1f s" % (self.host, self.port, self.timeout)) from None
        except OSError as error:
            raise AMIConnectionLost("reading from %s:%d failed: %s" % (
                self.host, self.port, error.strerror or error)) from None
        if not data:
            raise AMIConnectionLost("%s:%d closed the connection" % (self.host, self.port))
        return data

    def _drop_socket(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
            pending = list(self._pending.values())
        self._connected.clear()
        if sock is not None and not self._closing.is_set():
            self._session_changed(self._on_lost)
        for waiter in pending:
            waiter.done.set()  # message stays None: the caller sees AMIConnectionLost
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    # --- reader ------------------------------------------------------------

    def _read_loop(self) -> None:
        while not self._closing.is_set():
            with self._lock:
                sock, parser = self._sock, self._parser
            if sock is None:
                if not self._reconnect():
                    return
                continue
            try:
                data = self._recv(sock)
            except AMIError as error:
                if not self._closing.is_set():
                    log.warning("AMI connection lost: %s", error)
                self._drop_socket()
                continue
            for message in parser.feed(data):
                self._deliver(message)

    def _deliver(self, message: Message) -> None:
        if message.is_event:
            self._dispatch_event(message)
            return
        with self._lock:
            waiter = self._pending.get(message.action_id)
        if waiter is not None:
            waiter.message = message
            waiter.done.set()

    def _dispatch_event(self, message: Message) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(message)
        except Exception:  # a faulty callback must not kill the session
            log.exception("AMI event callback failed on %s", message.event)

    def _session_changed(self, callback: Optional[SessionCallback]) -> None:
        if callback is None:
            return
        try:
            callback()
        except Exception:  # a faulty callback must not kill the session
            log.exception("AMI session callback failed")

    def _reconnect(self) -> bool:
        """Log in again with back-off; False once closing or the login is refused."""
        for attempt in itertools.count():
            wait = self.backoff[min(attempt, len(self.backoff) - 1)] if self.backoff else 1.0
            if self._closing.wait(wait):
                return False
            try:
                self._open_and_login()
                return True
            except AMIAuthenticationError as error:
                self.failure = error
                log.error("AMI: %s; not retrying", error)
                self._closing.set()
                return False
            except AMIError as error:
                log.info("AMI reconnect attempt %d failed: %s", attempt + 1, error)
        return False  # pragma: no cover - count() never ends

    def _ping_loop(self) -> None:
        interval = self.ping_interval or 0.0
        while not self._closing.wait(interval):
            if not self._connected.is_set():
                continue
            try:
                self.ping()
            except AMITimeout:
                log.warning("AMI: no Pong within %.1f s; reconnecting", self.timeout)
                self._drop_socket()
            except AMIError:
                continue
