"""The AMI client against a small in-process AMI server on a real loopback socket."""

from __future__ import annotations

import logging
import socket
import threading
from typing import List, Optional, Tuple

import pytest

from itflow_bridge.calls.ami import (
    AMIAuthenticationError, AMIClient, AMIConnectionLost, AMIError, AMITimeout,
)
from itflow_bridge.calls.ami_protocol import Message, MessageParser, encode_action
from polling import wait_for
from sockets import free_port

USER = "itflow-events"
SECRET = "s3cret-that-must-not-leak-0123456789"


class FakeAMI:
    """Speaks enough AMI for the client: banner, Login, Ping, Logoff, events pushed by the test.

    ``Silent`` is an action it never answers; anything else unknown gets Asterisk's error.
    """

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.sessions: List[socket.socket] = []  # logged in
        self.received: List[Message] = []
        self.logins = 0
        self.accepting = True
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
        connection.sendall(b"Asterisk Call Manager/11.0.0\r\n")
        parser = MessageParser()
        while True:
            try:
                data = connection.recv(4096)
            except OSError:
                data = b""
            if not data:
                connection.close()
                return
            for action in parser.feed(data):
                with self.lock:
                    self.received.append(action)
                if not self._answer(connection, action):
                    connection.close()
                    return

    def _reply(self, connection: socket.socket, action: Message, *pairs: Tuple[str, str]) -> None:
        lines = [("Response", pairs[0][1])] + [("ActionID", action.action_id)] + list(pairs[1:])
        connection.sendall(b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in lines) + b"\r\n")

    def _answer(self, connection: socket.socket, action: Message) -> bool:
        name = action.get("Action").lower()
        if name == "login":
            if action.get("Username") != USER or action.get("Secret") != self.secret:
                self._reply(connection, action, ("Response", "Error"), ("Message", "Authentication failed"))
                return False
            self._reply(connection, action, ("Response", "Success"), ("Message", "Authentication accepted"))
            with self.lock:
                self.logins += 1
                self.sessions.append(connection)
            return True
        if name == "ping":
            self._reply(connection, action, ("Response", "Success"), ("Ping", "Pong"))
        elif name == "logoff":
            self._reply(connection, action, ("Response", "Goodbye"), ("Message", "Thanks for all the fish."))
            return False
        elif name == "originate":
            self._reply(connection, action, ("Response", "Success"), ("Message", "Originate successfully queued"))
            self.send(connection, [("Event", "OriginateResponse"), ("ActionID", action.action_id),
                                   ("Response", "Success"), ("Channel", action.get("Channel"))])
        elif name != "silent":
            self._reply(connection, action, ("Response", "Error"),
                        ("Message", "Invalid/unknown command: %s" % action.get("Action")))
        return True

    @staticmethod
    def send(connection: socket.socket, pairs: List[Tuple[str, str]]) -> None:
        connection.sendall(b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in pairs) + b"\r\n")

    def push(self, raw: bytes) -> None:
        with self.lock:
            sessions = list(self.sessions)
        for connection in sessions:
            try:
                connection.sendall(raw)
            except OSError:
                pass

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


@pytest.fixture
def server():
    fake = FakeAMI()
    yield fake
    fake.close()


class Collected:
    def __init__(self) -> None:
        self.events: List[Message] = []
        self.lock = threading.Lock()

    def __call__(self, message: Message) -> None:
        with self.lock:
            self.events.append(message)

    def names(self) -> List[Optional[str]]:
        with self.lock:
            return [event.event for event in self.events]


def client_for(server: FakeAMI, secret: str = SECRET, **kwargs) -> AMIClient:
    kwargs.setdefault("backoff", (0.01, 0.05))
    kwargs.setdefault("ping_interval", None)
    return AMIClient("127.0.0.1", server.port, USER, secret, **kwargs)


def test_login_action_and_logoff(server, caplog):
    caplog.set_level(logging.DEBUG)
    with client_for(server) as client:
        assert client.connected and client.banner == "Asterisk Call Manager/11.0.0"
        assert client.send_action("Ping").get("Ping") == "Pong"
    assert [m.get("Action") for m in server.received] == ["Login", "Ping", "Logoff"]
    assert not client.connected
    assert SECRET not in caplog.text


def test_wrong_secret_is_a_clear_error_without_the_secret(server, caplog):
    client = client_for(server, secret="wrong-secret-value-987654")
    with pytest.raises(AMIAuthenticationError) as raised:
        client.connect()
    assert "Authentication failed" in str(raised.value) and USER in str(raised.value)
    assert "wrong-secret-value-987654" not in str(raised.value) + caplog.text


def test_refused_connection_is_an_ami_error():
    with pytest.raises(AMIError, match="cannot connect"):
        AMIClient("127.0.0.1", free_port(), USER, SECRET, ping_interval=None).connect()


def test_an_error_response_raises_with_its_message(server):
    with client_for(server) as client:
        with pytest.raises(AMIError, match="Invalid/unknown command: NoSuchAction"):
            client.send_action("NoSuchAction")


def test_an_unanswered_action_times_out_and_the_session_goes_on(server):
    with client_for(server) as client:
        with pytest.raises(AMITimeout):
            client.send_action("Silent", timeout=0.2)
        assert client.send_action("Ping").get("Ping") == "Pong"


def test_events_reach_the_callback_in_order_and_originate_response_is_an_event(server):
    seen = Collected()
    with client_for(server, on_event=seen) as client:
        server.push(b"Event: Newchannel\r\nLinkedid: 1.0\r\n\r\nEvent: Hang")
        server.push(b"up\r\nLinkedid: 1.0\r\n\r\n")
        response = client.send_action("Originate", [("Channel", "Local/201@x"), ("Variable", "A=1"),
                                                    ("Variable", "B=2")])
        assert response.get("Message") == "Originate successfully queued"
        wait_for(lambda: len(seen.names()) == 3, "three events")
    assert seen.names() == ["Newchannel", "Hangup", "OriginateResponse"]
    assert seen.events[2].action_id == response.action_id
    originate = [m for m in server.received if m.get("Action") == "Originate"][0]
    assert originate.get_all("Variable") == ["A=1", "B=2"]


def test_a_failing_callback_does_not_end_the_session(server):
    def explode(message: Message) -> None:
        raise RuntimeError("callback bug")

    with client_for(server, on_event=explode) as client:
        server.push(b"Event: Newchannel\r\n\r\n")
        assert client.send_action("Ping").get("Ping") == "Pong"


def test_reconnects_and_logs_in_again_after_eof(server):
    seen = Collected()
    with client_for(server, on_event=seen) as client:
        server.drop_all()
        wait_for(lambda: server.logins == 2 and client.connected, "the second login")
        server.push(b"Event: FullyBooted\r\n\r\n")
        wait_for(lambda: seen.names() == ["FullyBooted"], "an event on the new session")
        assert client.send_action("Ping").get("Ping") == "Pong"
        assert client.logins == 2


def test_a_pending_action_fails_at_once_when_the_connection_drops(server):
    with client_for(server, backoff=(30.0,)) as client:
        outcome: List[BaseException] = []

        def wait_silent() -> None:
            try:
                client.send_action("Silent", timeout=30.0)
            except AMIError as error:
                outcome.append(error)

        waiter = threading.Thread(target=wait_silent)
        waiter.start()
        wait_for(lambda: any(m.get("Action") == "Silent" for m in server.received), "the action to arrive")
        server.drop_all()
        waiter.join(10.0)
        assert len(outcome) == 1 and isinstance(outcome[0], AMIConnectionLost)


def test_a_secret_changed_while_disconnected_stops_the_client(server):
    client = client_for(server)
    client.connect()
    try:
        server.secret = "rotated"
        server.drop_all()
        wait_for(lambda: client.failure is not None, "the refused login")
        assert isinstance(client.failure, AMIAuthenticationError)
        assert not client.connected
    finally:
        client.close()


def test_keepalive_pings_and_reconnects_when_pong_never_comes(server):
    with client_for(server, ping_interval=0.05, timeout=30.0) as client:
        wait_for(lambda: sum(m.get("Action") == "Ping" for m in server.received) >= 2, "two keepalive pings")
        assert server.logins == 1 and client.logins == 1
    # A server that stops answering: the keepalive gives up on the session and logs in again.
    silent = FakeAMI()
    original = silent._answer

    def no_pong(connection: socket.socket, action: Message) -> bool:
        if action.get("Action") == "Ping" and silent.logins == 1:
            return True
        return original(connection, action)

    silent._answer = no_pong  # type: ignore[method-assign]
    try:
        with client_for(silent, ping_interval=0.05, timeout=0.3):
            wait_for(lambda: silent.logins >= 2, "a new login after the unanswered Ping")
    finally:
        silent.close()


def test_action_headers_with_newlines_are_refused_before_sending(server):
    with client_for(server) as client:
        with pytest.raises(ValueError):
            client.send_action("Originate", [("Channel", "Local/201@x\r\nAction: Command")])
    assert encode_action("Ping", "x")  # the encoder itself still works
    assert not any("Command" in m.get("Action") for m in server.received)
