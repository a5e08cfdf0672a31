"""The daemon of figures 16 and 17, as ``itflow-bridge serve --http-port`` builds it with ``[calls] enabled``.

The ``Bridge`` and its FastAGI server, the agent screen (``AgentScreen.for_bridge``)
served by the directory's HTTP server (``DirectoryServices`` with its background
sync), and the call journal feeding the screen from its AMI connection, logged
in to the bench's manager interface.  The local directory is synced from the
fake ITFlow before anything is measured, so the screen names callers from it.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from calls import CALLS_INI
from harness import HOST, RemoteAMI, RemoteFake, require, running_daemon

SYNC_TIMEOUT = 120.0


@dataclass
class ScreenDaemon:
    bridge: object
    port: int  # FastAGI
    http_port: int  # the directory's HTTP server: the agents' pages
    screen: object  # AgentScreen
    journal: object  # CallJournal

    def page_path(self, extension: str) -> str:
        """A new link of ``extension``'s page (as ``itflow-bridge agent-link EXT`` issues one)."""
        return "/agent/" + self.screen.links.issue(extension)  # type: ignore[attr-defined]


def free_port() -> int:
    """A free loopback port for ``--http-port`` (0 there means no HTTP server)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_screen(fake: RemoteFake, ami: RemoteAMI, workdir: Path) -> Iterator[ScreenDaemon]:
    """The daemon with its agent screen and journal, its directory synced; yields a ``ScreenDaemon``."""
    from itflow_bridge.calls.journal import journal_for
    from itflow_bridge.directory.daemon import DirectoryServices
    from itflow_bridge.screen.agent_screen import AgentScreen

    with running_daemon(fake, "v1", workdir, CALLS_INI % ami.port) as (bridge, port):
        screen = AgentScreen.for_bridge(bridge)
        directory = DirectoryServices(bridge, http_port=free_port(), extra_routes=screen.routes).start()
        journal = journal_for(bridge)
        screen.attach(journal)
        journal.start()
        try:
            ami.wait_login()
            _wait_synced(directory)
            require(directory.http is not None, "the HTTP server did not start")
            yield ScreenDaemon(bridge, port, directory.http.server_address[1], screen, journal)
        finally:
            journal.stop()
            screen.close()
            directory.stop()
            journal.close()


def _wait_synced(directory) -> None:
    """Until the daemon's first background sync of the local directory is done."""
    deadline = time.monotonic() + SYNC_TIMEOUT
    while directory.sync is None or directory.sync.last_report is None:
        require(directory.sync is not None and not directory.sync.failures,
                "the daemon's directory sync failed (or is off)")
        require(time.monotonic() < deadline, "the directory was not synced within %.0f s" % SYNC_TIMEOUT)
        time.sleep(0.1)  # polling the sync's observable state
