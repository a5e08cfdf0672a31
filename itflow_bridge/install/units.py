"""The systemd units: the FastAGI daemon, the directory sync timer of classic installs; talking to systemd.

The daemon runs as the Asterisk user with everything it does not need taken
away: no new privileges, a read-only system except its cache directory, no
home directories, devices or foreign address families.  ``UMask=0007`` keeps
its cache files usable by the Asterisk group (classic scripts, ``check``).

systemd holds the daemon's port (``itflow-bridge.socket``) and hands it to the
daemon, which says when it is ready (``Type=notify``): a restart or an upgrade
refuses no call, the calls arriving meanwhile wait in the socket's backlog and
are answered by the next process.

A classic install has no daemon to keep the local directory fresh, so it gets
``itflow-bridge-sync.timer``: ``itflow-bridge sync`` every ``[directory]
sync_interval`` seconds (first 30 s after the timer starts, plus up to a tenth
of the interval at random, at most a minute), as the Asterisk user, hardened
like the daemon.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
from pathlib import Path
from typing import List, Optional

from ..core.errors import ConfigError

UNIT_NAME = "itflow-bridge.service"
SOCKET_NAME = "itflow-bridge.socket"
SYNC_SERVICE_NAME = "itflow-bridge-sync.service"
SYNC_TIMER_NAME = "itflow-bridge-sync.timer"
UNIT_DIR = "/etc/systemd/system"
SYSTEMD_RUNNING = "/run/systemd/system"
_HOME_DIRS = ("/home/", "/root/", "/run/user/")

UNIT_TEMPLATE = """\
# Written by itflow-bridge install; the next install rewrites it. Local changes belong in a
# drop-in (systemctl edit itflow-bridge).
[Unit]
Description=itflow-bridge FastAGI daemon (caller-ID names and balances from ITFlow)
Requires={socket}
After=network-online.target {socket}
Wants=network-online.target
Before=asterisk.service freepbx.service

[Service]
# Active once it said READY=1 (calls answered from then on); the port is {socket}'s.
Type=notify
NotifyAccess=main
User={user}
Group={group}
Environment=ITFLOW_BRIDGE_CONFIG={config}
ExecStart={python} -m itflow_bridge.cli serve
Restart=always
RestartSec=2
# SIGTERM: stop accepting calls, let calls in progress finish (up to 10 s).
KillSignal=SIGTERM
TimeoutStopSec=15
{hardening}
[Install]
WantedBy=multi-user.target
"""

HARDENING = """\
UMask=0007
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={cache_dir}
ProtectHome={protect_home}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
CapabilityBoundingSet=
AmbientCapabilities=
"""

SOCKET_TEMPLATE = """\
# Written by itflow-bridge install; the next install rewrites it ([server] host and port).
[Unit]
Description=itflow-bridge FastAGI port (held open while the daemon restarts)

[Socket]
ListenStream={listen}
# As many waiting calls as the daemon runs sessions at once: a burst queues, no SYN dropped.
Backlog=512
NoDelay=yes

[Install]
WantedBy=sockets.target
"""

SYNC_SERVICE_TEMPLATE = """\
# Written by itflow-bridge install; the next install rewrites it. Started by itflow-bridge-sync.timer.
[Unit]
Description=itflow-bridge: copy ITFlow's phone numbers into the local directory
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
User={user}
Group={group}
Environment=ITFLOW_BRIDGE_CONFIG={config}
ExecStart={python} -m itflow_bridge.cli sync
Nice=10
TimeoutStartSec=600
{hardening}"""

SYNC_TIMER_TEMPLATE = """\
# Written by itflow-bridge install; the next install rewrites it ([directory] sync_interval).
[Unit]
Description=itflow-bridge: sync the local directory every {interval} s

[Timer]
OnActiveSec=30
OnUnitActiveSec={interval}
RandomizedDelaySec={jitter}

[Install]
WantedBy=timers.target
"""


def _hardening(python: str, cache_dir: str) -> str:
    # A venv under a home directory stays readable; nothing there is ever writable.
    protect_home = "read-only" if any((python + "/").startswith(home) for home in _HOME_DIRS) else "yes"
    return HARDENING.format(cache_dir=cache_dir, protect_home=protect_home)


def unit_text(*, python: str, user: str, group: str, config: str, cache_dir: str) -> str:
    """The unit for an installation whose interpreter is ``python`` (the venv's)."""
    return UNIT_TEMPLATE.format(user=user, group=group, config=config, python=python, socket=SOCKET_NAME,
                                hardening=_hardening(python, cache_dir))


def listen_address(host: str, port: int) -> str:
    """``host``:``port`` as ``ListenStream=`` reads it: a numeric address (systemd resolves no names)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise ConfigError("[server] host %r does not resolve to an address of this machine" % host) from None
        address = ipaddress.ip_address(str(found[0][4][0]))
    if address.version == 6:
        return "[%s]:%d" % (address, port)
    return "%s:%d" % (address, port)


def socket_text(*, host: str, port: int) -> str:
    """The daemon's listening socket, owned by systemd so it stays open across restarts and upgrades."""
    return SOCKET_TEMPLATE.format(listen=listen_address(host, port))


def sync_service_text(*, python: str, user: str, group: str, config: str, cache_dir: str) -> str:
    """``itflow-bridge sync`` once, as the Asterisk user, hardened like the daemon."""
    return SYNC_SERVICE_TEMPLATE.format(user=user, group=group, config=config, python=python,
                                        hardening=_hardening(python, cache_dir))


def sync_timer_text(interval: int) -> str:
    """Start the sync every ``interval`` seconds (a little jitter, so PBXs of one ITFlow spread out)."""
    return SYNC_TIMER_TEMPLATE.format(interval=interval, jitter=max(1, min(60, interval // 10)))


def systemd_running(root: Path) -> bool:
    """True when this is the live system and systemd manages it (not a chroot, not a container without it)."""
    return str(root) == "/" and Path(SYSTEMD_RUNNING).is_dir()


def systemctl(*args: str) -> Optional[str]:
    """Run ``systemctl args``; None when it worked, else what it said."""
    command: List[str] = ["systemctl", *args]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "%s: %s" % (" ".join(command), exc)
    if result.returncode != 0:
        return "%s: %s" % (" ".join(command), (result.stderr or result.stdout).strip())
    return None
