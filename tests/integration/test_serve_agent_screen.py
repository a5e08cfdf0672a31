"""``serve`` with [calls] enabled serves the agents' pages beside /cnam, and stops at once with pages open."""

import os
import signal
import subprocess
import sys

from agent_screen_harness import EventStream
from polling import wait_for
from itflow_bridge.screen.tokens import AgentLinks
from sockets import free_port


def test_serve_serves_an_agents_page_and_stops_with_it_open(fake_itflow, tmp_path):
    http_port, ami_port = free_port(), free_port()  # nothing answers on the AMI port: the journal keeps trying
    conf = tmp_path / "bridge.conf"
    conf.write_text("[directory]\nhttp_port = %d\n[calls]\nenabled = yes\nami_port = %d\nami_user = bridge\n"
                    "ami_secret = s3cret-never-logged\nlink_base_url = http://127.0.0.1:%d\n"
                    % (http_port, ami_port, http_port), encoding="utf-8")
    log_path = tmp_path / "serve.log"
    env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(conf), ITFLOW_URL=fake_itflow.url,
               ITFLOW_API_KEY=fake_itflow.api_key, ITFLOW_API_MODE="v1", ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cache"))
    link = subprocess.run([sys.executable, "-m", "itflow_bridge.cli", "agent-link", "201"], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()
    token = link.rsplit("/", 1)[1]
    assert link == "http://127.0.0.1:%d/agent/%s" % (http_port, token)
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "itflow_bridge.cli", "-v", "serve", "--port", "0"],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        wait_for(lambda: "directory HTTP server listening" in log_path.read_text(), "the HTTP server")
        wait_for(lambda: "FastAGI scripts served" in log_path.read_text(), "the daemon to take signals")
        assert ", /agent/<link>)" in log_path.read_text()  # the start line says what it serves
        stream = EventStream(http_port, "/agent/%s/events" % token)
        state = stream.next_where(lambda event: True)
        assert (state["type"], state["extension"], state["calls"]) == ("state", "201", [])
        with AgentLinks.in_cache(tmp_path / "cache") as links:
            assert links.extension_of(token) == "201"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert list(stream.events()) == []  # the stream ended with the daemon
        stream.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log_path.read_text()
    assert "Traceback" not in text and token not in text and "s3cret-never-logged" not in text
