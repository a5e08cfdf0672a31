"""FastAGIServer over real loopback sockets: routing, isolation, limits, shutdown.

Also proves the transports are interchangeable: the same handler and script give
the same commands over a FastAGI socket and over a classic process's stdin/stdout.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from polling import PATIENCE
from sockets import read_until_closed

TESTS_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS_DIR))  # agi_script

from agi_script import (  # noqa: E402
    REFERENCE_SCRIPT,
    FakeAsterisk,
    call_fastagi,
    env_block,
    reference_handler,
)

from itflow_bridge.agi import FastAGIServer  # noqa: E402


@pytest.fixture
def serve():
    """Start FastAGI servers on ephemeral loopback ports; shut them all down after."""
    servers = []

    def start(routes, **kwargs):
        server = FastAGIServer(routes, "127.0.0.1", 0, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown(grace=2.0)


def _wait_until(predicate, timeout=PATIENCE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_binds_loopback_ephemeral_port(serve):
    server = serve({})
    host, port = server.server_address
    assert host == "127.0.0.1" and port > 0


def test_same_handler_same_commands_over_fastagi_and_classic(serve):
    server = serve({"ref.agi": reference_handler})
    caller = {"agi_callerid": "5551234567"}
    over_socket = call_fastagi(
        server.server_address,
        FakeAsterisk(script=REFERENCE_SCRIPT, env=caller, args=["a b", "c"], network_script="ref.agi?x=1"),
    )

    classic_env = dict(caller, agi_request="/var/lib/asterisk/agi-bin/ref.agi")
    over_pipes = FakeAsterisk(script=REFERENCE_SCRIPT, env=classic_env, args=["a b", "c"])
    code = (
        "import sys\nsys.path.insert(0, %r)\n"
        "from agi_script import reference_handler\n"
        "from itflow_bridge.agi import run_classic\n"
        "sys.exit(run_classic(reference_handler))\n" % str(TESTS_DIR)
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    over_pipes.serve_pipes(process.stdout, process.stdin)
    assert process.wait(timeout=20) == 0

    expected = [
        ["ANSWER"],
        ["GET", "VARIABLE", "CALLERID(name)"],
        ["GET", "DATA", "custom/enter-number", "3000", "4"],
        ["SET", "VARIABLE", "REF_RESULT", 'ref.agi|a b,c|5551234567|Bob "The" (Builder)|42|True'],
        ["VERBOSE", 'done: "quoted" \\ backslash', "1"],
    ]
    assert over_socket.words() == expected
    assert over_pipes.words() == expected
    assert [c.line for c in over_socket.commands] == [c.line for c in over_pipes.commands]


def test_unknown_route_says_so_and_closes(serve):
    called = []
    server = serve({"known.agi": called.append})
    fake = call_fastagi(server.server_address, FakeAsterisk(network_script="nope.agi", responder=lambda c: "200 result=1"))
    assert fake.words() == [["VERBOSE", "itflow-bridge: no route for 'nope.agi'", "1"]]
    assert called == []
    assert _wait_until(lambda: server.active_sessions == 0)


def test_routes_ignore_a_leading_slash_in_the_table(serve):
    server = serve({"/lead.agi": lambda session: session.set_variable("OK", "1")})
    fake = call_fastagi(server.server_address, FakeAsterisk(script=["200 result=1"], network_script="lead.agi"))
    assert fake.words() == [["SET", "VARIABLE", "OK", "1"]]


def test_handler_exception_is_logged_not_sent(serve, caplog):
    def failing(session):
        session.answer()
        raise RuntimeError("boom with details")

    server = serve({"fail.agi": failing})
    with caplog.at_level(logging.ERROR, logger="itflow_bridge.agi"):
        fake = call_fastagi(server.server_address, FakeAsterisk(script=["200 result=0"], network_script="fail.agi"))
        assert _wait_until(lambda: server.active_sessions == 0)
    assert fake.words() == [["ANSWER"]]
    failures = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(failures) == 1
    assert failures[0].exc_info[0] is RuntimeError
    assert "fail.agi" in failures[0].getMessage()


def test_hangup_ends_a_session_quietly(serve, caplog):
    def stubborn(session):
        session.answer()
        session.stream_file("beep")

    server = serve({"x.agi": stubborn})
    with caplog.at_level(logging.WARNING, logger="itflow_bridge.agi"):
        fake = call_fastagi(
            server.server_address,
            FakeAsterisk(script=["200 result=0", "HANGUP\n200 result=-1 endpos=10"], network_script="x.agi"),
        )
        assert _wait_until(lambda: server.active_sessions == 0)
    assert fake.words() == [["ANSWER"], ["STREAM", "FILE", "beep", ""]]
    assert caplog.records == []


def test_fifty_concurrent_sessions_stay_isolated(serve):
    sessions = 50
    all_in = threading.Barrier(sessions, timeout=10)

    def handler(session):
        secret = session.get_variable("SECRET")
        all_in.wait()  # deadlocks (and fails) unless every session runs at once
        session.set_variable("OUT", "%s:%s" % (session.caller_number, secret))

    server = serve({"iso.agi": handler})

    def fake_for(number):
        def respond(command):
            if command.matches("GET VARIABLE"):
                return "200 result=1 (secret-%d)" % number
            return "200 result=1"

        return FakeAsterisk(env={"agi_callerid": str(5550000 + number)}, network_script="iso.agi", responder=respond)

    fakes = [fake_for(number) for number in range(sessions)]
    threads = [threading.Thread(target=call_fastagi, args=(server.server_address, fake)) for fake in fakes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    for number, fake in enumerate(fakes):
        assert fake.words()[-1] == ["SET", "VARIABLE", "OUT", "%d:secret-%d" % (5550000 + number, number)]
    assert _wait_until(lambda: server.active_sessions == 0)


def test_connections_beyond_max_sessions_are_closed_at_once(serve):
    release = threading.Event()
    server = serve({"hold.agi": lambda session: release.wait(10)}, max_sessions=1)
    with socket.create_connection(server.server_address, timeout=5) as first:
        first.sendall(env_block(network_script="hold.agi"))
        assert _wait_until(lambda: server.active_sessions == 1)
        with socket.create_connection(server.server_address, timeout=5) as second:
            second.sendall(env_block(network_script="hold.agi"))
            assert read_until_closed(second, timeout=3) == b""
        assert server.active_sessions == 1
        release.set()
        assert read_until_closed(first) == b""
    assert _wait_until(lambda: server.active_sessions == 0)


def test_idle_peer_is_dropped_after_the_timeout(serve):
    server = serve({"x.agi": lambda session: session.answer()}, idle_timeout=0.3)
    with socket.create_connection(server.server_address, timeout=5) as connection:
        connection.sendall(env_block(network_script="x.agi"))
        # Never answered: the server hangs up on its own, long before this side would give up.
        assert read_until_closed(connection, timeout=PATIENCE) == b"ANSWER\n"
    assert _wait_until(lambda: server.active_sessions == 0)


def test_shutdown_waits_for_grace_then_cuts_running_sessions():
    server = FastAGIServer({"x.agi": lambda session: session.answer()}, "127.0.0.1", 0).start()
    with socket.create_connection(server.server_address, timeout=5) as connection:
        connection.sendall(env_block(network_script="x.agi"))
        connection.settimeout(5)
        assert connection.recv(100) == b"ANSWER\n"
        started = time.monotonic()
        stopping = threading.Thread(target=server.shutdown, kwargs={"grace": 0.3}, daemon=True)
        stopping.start()
        stopping.join(PATIENCE)
        assert not stopping.is_alive(), "shutdown waits on a session that never ends"
        assert time.monotonic() - started >= 0.3  # the grace was given
        assert read_until_closed(connection) == b""
    assert _wait_until(lambda: server.active_sessions == 0)
    with pytest.raises(OSError):
        socket.create_connection(server.server_address, timeout=1).close()


def test_shutdown_returns_at_once_when_idle():
    server = FastAGIServer({}, "127.0.0.1", 0).start()
    stopping = threading.Thread(target=server.shutdown, kwargs={"grace": 3600}, daemon=True)
    stopping.start()
    stopping.join(PATIENCE)
    assert not stopping.is_alive(), "shutdown sat out its grace with no session running"


def test_serve_forever_in_the_caller_thread_stops_on_shutdown():
    server = FastAGIServer({}, "127.0.0.1", 0)
    runner = threading.Thread(target=server.serve_forever)
    runner.start()
    server.shutdown(grace=1)
    runner.join(timeout=PATIENCE)
    assert not runner.is_alive()
