"""The PBX-side sub-commands: ``serve``, ``install``, ``install-agi``, ``install-prompts`` and ``demo``."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Tuple

from ..core import systemd
from ..core.config import Config
from ..core.errors import BridgeError, ConfigError
from ..core.exits import Exit
from ..core.logs import setup_logging
from ..core.process import exit_now, signal_handlers

if TYPE_CHECKING:
    from ..app import Bridge
    from ..calls.voicemail_links import VoicemailLinks

log = logging.getLogger(__name__)


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    from ..agi.fastagi import FastAGIServer
    from ..app import Bridge
    from ..calls.journal import journal_for
    from ..directory.daemon import DirectoryServices
    from ..routes import routes
    from ..screen.agent_screen import AgentScreen

    config.require_itflow()
    if not args.verbose:  # -v wins; else the daemon logs at [server] log_level
        setup_logging(config.server.log_level)
    bridge = Bridge(config, long_running=True)
    host = args.host or config.server.host
    port = config.server.port if args.port is None else args.port
    table = routes(bridge)
    try:
        # Under itflow-bridge.socket, systemd holds the port (open across restarts); else bind it here.
        server = FastAGIServer(table, host, port, verbose_level=config.server.verbose_level,
                               allow=config.server.allow, listener=systemd.inherited_listener())
    except (OSError, OverflowError, ValueError) as exc:
        bridge.close()
        raise listen_error(host, port, exc) from None
    threading.Thread(target=_announce_generation, args=(bridge,), daemon=True).start()
    links = voicemail_links(config)
    # The agent screen needs the call events: with [calls] enabled, its pages are served beside /cnam.
    screen = AgentScreen.for_bridge(bridge) if config.calls.enabled else None
    directory = DirectoryServices(bridge, http_port=args.http_port,  # background sync, HTTP server
                                  voicemail=links.audio if links is not None else None,
                                  extra_routes=screen.routes if screen is not None else None).start()
    journal = journal_for(bridge, links) if config.calls.enabled else None  # calls into ITFlow
    if journal is not None:
        if screen is not None:
            screen.attach(journal)
        journal.start()

    stopping: List[threading.Thread] = []  # the thread running shutdown(): calls in progress get its grace period

    def shut_down(signum: int) -> None:
        systemd.notify("STOPPING=1")
        log.info("signal %d: finishing calls in progress, then stopping", signum)
        server.shutdown()

    def stop(signum: int, _frame: object) -> None:
        # Nothing but starting a thread here: the signal may arrive while this thread is writing a
        # log line, and a second write to stderr from the handler would be a reentrant call.
        if not stopping:
            stopping.append(threading.Thread(target=shut_down, args=(signum,), daemon=True))
            stopping[0].start()

    with signal_handlers({signal.SIGTERM: stop, signal.SIGINT: stop}):
        # where it listens, the server says as it starts listening: here only what it serves
        log.info("FastAGI scripts served: %s", ", ".join(sorted(table)))
        systemd.notify("READY=1")  # listening with the routes built: a Type=notify unit is active from now
        server.serve_forever()
        for thread in stopping:
            thread.join()
    if journal is not None:
        journal.stop()
    if screen is not None:
        screen.close()  # ends the open pages' streams, so the HTTP server stops at once
    directory.stop()
    if links is not None:
        links.close()
    bridge.close()
    log.info("stopped")
    # Every call has ended; lookup threads still waiting on a hung ITFlow must not hold the exit.
    exit_now(0)
    return 0  # not reached


def voicemail_links(config: Config) -> "Optional[VoicemailLinks]":
    """The voicemail links the HTTP server opens: with ``[calls] link_base_url`` only (else no links exist)."""
    import sqlite3

    from ..calls.voicemail_links import VoicemailLinks

    if not config.calls.link_base_url:
        return None
    try:
        return VoicemailLinks.in_cache(config.cache.dir, config.calls)
    except (OSError, sqlite3.Error) as exc:  # the rest of the daemon works without them
        log.warning("voicemail links cannot be served: %s: %s", type(exc).__name__, exc)
        return None


def listen_error(host: str, port: int, exc: BaseException) -> BridgeError:
    """Why the daemon cannot listen, as one sentence naming the setting to change."""
    where = "%s port %d" % (host, port)
    code = getattr(exc, "errno", None)
    if isinstance(exc, socket.gaierror) or (isinstance(code, int) and code < 0):  # getaddrinfo codes are negative
        return ConfigError("[server] host %r does not resolve to an address of this machine" % host)
    if code == errno.EADDRINUSE:
        return BridgeError("%s is already in use (another itflow-bridge serve?): stop it, or set [server] port"
                           % where)
    if code == errno.EADDRNOTAVAIL:
        return ConfigError("[server] host %s is not an address of this machine: use 127.0.0.1, or one of "
                           "its own addresses" % host)
    if code == errno.EACCES:
        return BridgeError("not allowed to listen on %s (ports below 1024 need root): use a higher port" % where)
    if isinstance(exc, (OverflowError, ValueError)):
        return ConfigError("[server] port %r is not a TCP port: use 1 to 65535" % port)
    return BridgeError("cannot listen on %s: %s" % (where, getattr(exc, "strerror", None) or exc))


def _announce_generation(bridge: "Bridge") -> None:
    """Detect the API at start-up so the first call does not pay for it, and say what was found."""
    from ..core.errors import BridgeError

    try:
        bridge.adapter()
    except BridgeError as exc:
        log.warning("ITFlow is not answering yet (%s); calls go on without names until it does", exc)


def cmd_install_agi(args: argparse.Namespace) -> int:
    """Write the classic AGI scripts into agi-bin with this Python in the shebang (the right venv)."""
    from ..classic.wrapper import installed_scripts

    dest = existing_asterisk_dir(Path(args.dest), "agi-bin directory", "--dest")
    uid, gid = asterisk_owner(args.owner)
    for name, text in installed_scripts(sys.executable):
        target = dest / name
        target.write_text(text, encoding="utf-8")
        target.chmod(0o755)
        if (uid, gid) != (-1, -1):
            os.chown(target, uid, gid)
        print("installed %s" % target)
    return Exit.OK


def cmd_install_prompts(config: Config, args: argparse.Namespace) -> int:
    """Copy the balance IVR's recordings; say each file written, then one summary line."""
    from ..prompts import install_prompts, prompts_dir, shipped_files

    flag = "--sounds-dir" if args.sounds_dir else "[balance] sounds_dir"
    sounds = existing_asterisk_dir(Path(args.sounds_dir) if args.sounds_dir else config.balance.sounds_dir,
                                   "Asterisk sounds directory", flag)
    language = args.language or config.balance.language
    written = install_prompts(sounds, language)
    for path in written:
        print("installed %s" % path)
    total = len(shipped_files(language))
    print("%d prompts in %s: %d installed, %d already up to date"
          % (total, prompts_dir(sounds, language), len(written), total - len(written)))
    return Exit.OK


def existing_asterisk_dir(path: Path, what: str, override: str) -> Path:
    """``path`` when it exists; never creates an Asterisk tree on a host that has none."""
    if not path.is_dir():
        raise BridgeError("%s %s does not exist (is Asterisk installed on this machine?): set %s to the "
                          "right directory" % (what, path, override))
    return path


def asterisk_owner(user: str) -> Tuple[int, int]:
    """The uid and primary gid of ``user``, checked before anything is written; (-1, -1): leave as is."""
    import pwd

    if not user:
        return -1, -1
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise BridgeError("there is no user %r on this machine: pass --owner, the user Asterisk runs as" % user) \
            from None
    if os.geteuid() != 0 and os.geteuid() != entry.pw_uid:
        raise BridgeError("only root can give files to %r: run as root, or pass --owner %s"
                          % (user, pwd.getpwuid(os.geteuid()).pw_name))
    return entry.pw_uid, entry.pw_gid


def cmd_install(args: argparse.Namespace) -> int:
    """The installer, given ``check`` to run on what it wrote (the installer does not import the check)."""
    from ..health import run_checks
    from ..install.installer import install

    return install(args, run_checks)


def cmd_demo(args: argparse.Namespace) -> int:
    """Needs no configuration: the demo builds its own against its sample ITFlow, whatever the environment holds."""
    from ..sample.demo import run_demo

    return run_demo()
