"""FastAGI access control: only peers on the allow-list are served, others closed unread."""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from pathlib import Path

import pytest

from sockets import read_until_closed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # agi_script

from agi_script import FakeAsterisk, call_fastagi

from itflow_bridge.agi import FastAGIServer
from itflow_bridge.agi.access import REFUSAL_LOG_INTERVAL, PeerFilter, parse_networks
from itflow_bridge.core.config import load_config
from itflow_bridge.core.errors import ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_default_trusts_only_127_0_0_1_and_ipv6_loopback():
    peers = PeerFilter()
    assert peers.allows("127.0.0.1")
    assert peers.allows("::1")
    assert peers.allows("::ffff:127.0.0.1")  # IPv4 peer of a dual-stack listener
    for other in ("127.0.0.2", "127.1.2.3", "10.0.0.1", "::2", "fe80::1%eth0", "not-an-address", ""):
        assert not peers.allows(other), other


def test_addresses_and_networks_from_the_list():
    peers = PeerFilter(parse_networks("192.0.2.10, 10.1.0.0/24 2001:db8::/32"))
    assert peers.allows("192.0.2.10") and not peers.allows("192.0.2.11")
    assert peers.allows("10.1.0.200") and not peers.allows("10.1.1.1")
    assert peers.allows("2001:db8::5") and not peers.allows("2001:db9::5")
    assert peers.allows("::ffff:10.1.0.7")
    assert not peers.allows("127.0.0.1")  # loopback is trusted only when listed


def test_host_bits_in_a_network_are_accepted():
    assert parse_networks("10.1.0.7/24") == (ipaddress.ip_network("10.1.0.0/24"),)


@pytest.mark.parametrize("raw", ["", "10.0.0.300", "example.com", "10.0.0.0/33"])
def test_bad_entries_are_refused(raw):
    with pytest.raises(ValueError):
        parse_networks(raw)


def test_config_default_and_errors(tmp_path):
    assert load_config(env={}).server.allow == parse_networks("127.0.0.1 ::1")
    path = tmp_path / "bridge.conf"
    path.write_text("[server]\nallow = 127.0.0.1, 192.0.2.0/28\n")
    assert load_config(str(path), env={}).server.allow == parse_networks("127.0.0.1 192.0.2.0/28")
    path.write_text("[server]\nallow = 127.0.0.1, pbx.example.com\n")
    with pytest.raises(ConfigError, match=r"\[server\] allow = .*pbx\.example\.com.*not an IP address"):
        load_config(str(path), env={})


def test_each_refused_peer_is_logged_at_most_once_a_minute(caplog):
    clock = Clock()
    peers = PeerFilter(logger=logging.getLogger("test.access"), clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.access"):
        for _ in range(50):
            peers.refused("192.0.2.1")
        peers.refused("192.0.2.2")
        clock.now += REFUSAL_LOG_INTERVAL - 1
        peers.refused("192.0.2.1")
        clock.now += 1
        peers.refused("192.0.2.1")
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split()[5].rstrip(":") for line in lines] == ["192.0.2.1", "192.0.2.2", "192.0.2.1"], lines
    assert "not in [server] allow (127.0.0.1/32, ::1/128)" in lines[0]


# --- over real sockets ----------------------------------------------------------------


def _connect_from(source: str, address) -> socket.socket:
    connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    connection.settimeout(5)
    connection.bind((source, 0))
    connection.connect(address)
    return connection


@pytest.fixture
def server():
    calls = []
    started = []

    def start(host="0.0.0.0", **kwargs):
        routes = {"cid.agi": lambda session: (calls.append(session.env), session.set_variable("SERVED", "1"))}
        instance = FastAGIServer(routes, host, 0, **kwargs).start()
        started.append(instance)
        return instance, calls

    yield start
    for instance in started:
        instance.shutdown(grace=1.0)


def test_a_peer_not_listed_is_closed_before_it_sends_anything(server, caplog):
    instance, calls = server()
    port = instance.server_address[1]
    with caplog.at_level(logging.WARNING, logger="itflow_bridge.agi"):
        connection = _connect_from("127.0.0.2", ("127.0.0.1", port))
        with connection:
            # Nothing sent: the server closes without waiting for an AGI environment (it would
            # wait up to its 120 s idle timeout; this side gives up after 5 s).
            assert read_until_closed(connection) == b""
        for _ in range(3):  # and with a whole environment sent: still nothing served
            with _connect_from("127.0.0.2", ("127.0.0.1", port)) as again:
                try:
                    again.sendall(FakeAsterisk(network_script="cid.agi").env_bytes())
                except OSError:
                    pass
                assert read_until_closed(again) == b""
    assert calls == []
    refusals = [r.getMessage() for r in caplog.records if "refused a connection" in r.getMessage()]
    assert len(refusals) == 1 and "127.0.0.2" in refusals[0]
    assert instance.active_sessions == 0


def test_listed_peers_are_served(server):
    instance, calls = server(allow=parse_networks("127.0.0.1 127.0.0.2"))
    port = instance.server_address[1]
    fake = call_fastagi(("127.0.0.1", port), FakeAsterisk(script=["200 result=1"], network_script="cid.agi"))
    assert fake.words() == [["SET", "VARIABLE", "SERVED", "1"]]
    with _connect_from("127.0.0.2", ("127.0.0.1", port)) as connection:
        connection.sendall(FakeAsterisk(network_script="cid.agi").env_bytes())
        reply = b""
        while not reply.endswith(b"\n"):
            reply += connection.recv(100)
        assert reply == b'SET VARIABLE "SERVED" "1"\n'
        connection.sendall(b"200 result=1\n")
    assert len(calls) == 2


def test_the_default_loopback_bind_refuses_other_127_addresses_too(server):
    instance, calls = server(host="127.0.0.1")
    with _connect_from("127.0.0.2", instance.server_address) as connection:
        assert read_until_closed(connection) == b""
    fake = call_fastagi(instance.server_address, FakeAsterisk(script=["200 result=1"], network_script="cid.agi"))
    assert fake.words() == [["SET", "VARIABLE", "SERVED", "1"]]
    assert len(calls) == 1
