"""What a daemon started by systemd is told and tells back, with the standard library only.

Socket activation: systemd listens on the port itself (``itflow-bridge.socket``)
and hands the listening socket to the daemon as fd 3 (``LISTEN_FDS``,
``LISTEN_PID``), so the port stays open while the daemon restarts or is
upgraded; calls arriving meanwhile wait in the backlog instead of being refused.

Readiness: a ``Type=notify`` unit is active only once the daemon sends
``READY=1`` to ``$NOTIFY_SOCKET``, so ``systemctl start`` returns when calls
are answered, not half a second before.
"""

from __future__ import annotations

import os
import socket
from typing import List, Mapping, MutableMapping, Optional

LISTEN_FDS_START = 3  # sd_listen_fds(3): the first inherited fd
_ACTIVATION_VARIABLES = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")


def listen_fds(environ: Optional[MutableMapping[str, str]] = None, pid: Optional[int] = None) -> List[int]:
    """The listening fds systemd passed to this process ([] when none); the variables are then removed.

    The variables are dropped so a child process never takes fds meant for us
    (what ``sd_listen_fds(1)`` does); a ``LISTEN_PID`` naming another process
    means they were inherited by mistake and are ignored.
    """
    env = os.environ if environ is None else environ
    count, owner = env.get("LISTEN_FDS", ""), env.get("LISTEN_PID", "")
    for name in _ACTIVATION_VARIABLES:
        env.pop(name, None)
    if not (count.isdigit() and owner.isdigit()) or int(owner) != (os.getpid() if pid is None else pid):
        return []
    return list(range(LISTEN_FDS_START, LISTEN_FDS_START + int(count)))


def inherited_listener(environ: Optional[MutableMapping[str, str]] = None) -> Optional[socket.socket]:
    """The TCP listening socket systemd passed, or None when started without socket activation."""
    fds = listen_fds(environ)
    if not fds:
        return None
    listener = socket.socket(fileno=fds[0])  # family and type are read from the fd
    for extra in fds[1:]:  # the unit declares one ListenStream; anything else is not ours to keep
        os.close(extra)
    return listener


def notify(state: str, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Send ``state`` (e.g. ``READY=1``) to systemd; False when not run by a notify unit or it failed."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    target = "\0" + address[1:] if address[0] == "@" else address  # "@": the abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as channel:
            channel.sendto(state.encode(), target)
    except OSError:
        return False
    return True
