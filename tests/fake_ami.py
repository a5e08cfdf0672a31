"""A small Asterisk Manager Interface on a loopback socket, for the AMI client and the call journal.

Speaks enough AMI for the bridge: the banner, Login (checks user and secret),
Ping, Logoff, Originate (queued, with its OriginateResponse); ``Silent`` is an
action it never answers; anything else unknown gets Asterisk's error.  Events
are what the test pushes (``push``: raw bytes, e.g. a recorded call from
``ami_recordings``) to every logged-in session; ``drop_all`` closes the
sessions as an Asterisk restart does, and the listener keeps accepting.
"""

from __future__ import annotations

import socket
import threading
from typing import List, Tuple

from itflow_bridge.calls.ami_protocol import Message, MessageParser

USER = "itflow-events"
SECRET = "s3cret-that-must-not-leak-0123456789"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


class FakeAMI:
    """The server; ``logins`` counts accepted logins, ``refused_logins`` the others, ``received`` every action."""

    def __init__(self, secret: str = SECRET, user: str = USER) -> None:
        self.user = user
        self.secret = secret
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.sessions: List[socket.socket] = []  # logged in
        self.received: List[Message] = []
        self.logins = 0
        self.refused_logins = 0
        self.after_login = b""  # sent right behind the login response (one read may hold both)
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            connection.sendall(BANNER)
        except OSError:
            connection.close()
            return
        parser = MessageParser()
        while True:
            try:
                data = connection.recv(4096)
            except OSError:
                data = b""
            if not data:
                self._forget(connection)
                connection.close()
                return
            for action in parser.feed(data):
                with self.lock:
                    self.received.append(action)
                if not self._answer(connection, action):
                    self._forget(connection)
                    connection.close()
                    return

    def _forget(self, connection: socket.socket) -> None:
        with self.lock:
            if connection in self.sessions:
                self.sessions.remove(connection)

    def _reply(self, connection: socket.socket, action: Message, *pairs: Tuple[str, str]) -> None:
        lines = [("Response", pairs[0][1])] + [("ActionID", action.action_id)] + list(pairs[1:])
        self.send(connection, lines)

    def _answer(self, connection: socket.socket, action: Message) -> bool:
        name = action.get("Action").lower()
        try:
            if name == "login":
                if action.get("Username") != self.user or action.get("Secret") != self.secret:
                    with self.lock:
                        self.refused_logins += 1
                    self._reply(connection, action, ("Response", "Error"), ("Message", "Authentication failed"))
                    return False
                with self.lock:  # a session from here on: pushed events follow the login response
                    self._reply(connection, action, ("Response", "Success"),
                                ("Message", "Authentication accepted"))
                    if self.after_login:
                        connection.sendall(self.after_login)
                    self.logins += 1
                    self.sessions.append(connection)
                return True
            if name == "ping":
                self._reply(connection, action, ("Response", "Success"), ("Ping", "Pong"))
            elif name == "logoff":
                self._reply(connection, action, ("Response", "Goodbye"), ("Message", "Thanks for all the fish."))
                return False
            elif name == "originate":
                self._reply(connection, action, ("Response", "Success"),
                            ("Message", "Originate successfully queued"))
                self.send(connection, [("Event", "OriginateResponse"), ("ActionID", action.action_id),
                                       ("Response", "Success"), ("Channel", action.get("Channel"))])
            elif name != "silent":
                self._reply(connection, action, ("Response", "Error"),
                            ("Message", "Invalid/unknown command: %s" % action.get("Action")))
        except OSError:  # the client went away mid-answer
            return False
        return True

    @staticmethod
    def send(connection: socket.socket, pairs: List[Tuple[str, str]]) -> None:
        connection.sendall(b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in pairs) + b"\r\n")

    def push(self, raw: bytes) -> int:
        """Send ``raw`` to every logged-in session; answers to how many."""
        with self.lock:
            sessions = list(self.sessions)
            for connection in sessions:
                try:
                    connection.sendall(raw)
                except OSError:
                    pass
        return len(sessions)

    def unread(self) -> int:
        """Bytes sent to the clients that they have not read yet (Linux: /proc/net/tcp's tx and rx queues).

        Zero once a client's reader took in everything pushed so far: events it can no longer miss.
        """
        unread = 0
        port = ":%04X" % self.port
        with open("/proc/net/tcp", encoding="ascii") as table:
            for line in table.readlines()[1:]:
                fields = line.split()
                if fields[3] != "01":  # established connections only
                    continue
                queued, received = (int(count, 16) for count in fields[4].split(":"))
                if fields[1].endswith(port):  # this server's end: sent, not acknowledged yet
                    unread += queued
                elif fields[2].endswith(port):  # a client's end: received, not read yet
                    unread += received
        return unread

    def drop_all(self) -> None:
        """Close every session, as an Asterisk restart does."""
        with self.lock:
            sessions, self.sessions = self.sessions, []
        for connection in sessions:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by a Logoff

    def close(self) -> None:
        # shutdown wakes the thread blocked in accept(); a bare close would leave it blocked on a
        # descriptor number the kernel may give another test's socket (a restarted accept then takes
        # that socket's connections).
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.acceptor.join(5.0)
        self.drop_all()
