"""The PBX-side sub-commands: ``serve``, ``install-agi`` and ``demo``."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, List

from .config import Config
from .process import exit_now, signal_handlers

if TYPE_CHECKING:
    from .app import Bridge

log = logging.getLogger(__name__)


def register(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    serve = commands.add_parser("serve", help="run the FastAGI daemon")
    serve.add_argument("--host", help="address to listen on (default [server] host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default [server] port, 4573)")
    serve.add_argument("--http-port", type=int, help="also serve /cnam and /phonebook/<format>.xml on this port "
                       "(default [directory] http_port; 0: off)")
    serve.set_defaults(handler=cmd_serve)

    install = commands.add_parser("install-agi", help="install the classic AGI scripts into agi-bin")
    install.add_argument("--dest", default="/var/lib/asterisk/agi-bin", help="agi-bin directory")
    install.add_argument("--owner", default="asterisk", help="user that runs Asterisk (chown target)")
    install.set_defaults(handler=cmd_install_agi)

    prompts = commands.add_parser("install-prompts", help="copy the balance IVR's sound files into Asterisk")
    prompts.add_argument("--sounds-dir", help="Asterisk sounds directory (default [balance] sounds_dir)")
    prompts.add_argument("--language", help="language folder (default [balance] language, en)")
    prompts.set_defaults(handler=cmd_install_prompts)

    from .install import register as register_install

    register_install(commands)

    demo = commands.add_parser("demo", help="simulated calls against an embedded sample ITFlow")
    demo.set_defaults(handler=cmd_demo)

    from .api.commands import register as register_api_commands  # api, emails, add-asset, api-phonebook

    register_api_commands(commands)


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    from .agi.fastagi import FastAGIServer
    from .app import Bridge
    from .directory.daemon import DirectoryServices
    from .routes import routes

    config.require_itflow()
    bridge = Bridge(config, long_running=True)
    host = args.host or config.server.host
    port = args.port or config.server.port
    server = FastAGIServer(routes(bridge), host, port, verbose_level=config.server.verbose_level,
                           allow=config.server.allow)
    threading.Thread(target=_announce_generation, args=(bridge,), daemon=True).start()
    directory = DirectoryServices(bridge, http_port=args.http_port).start()  # background sync, HTTP server

    stopping: List[threading.Thread] = []  # the thread running shutdown(): calls in progress get its grace period

    def stop(signum: int, _frame: object) -> None:
        if not stopping:
            log.info("signal %d: finishing calls in progress, then stopping", signum)
            stopping.append(threading.Thread(target=server.shutdown, daemon=True))
            stopping[0].start()

    with signal_handlers({signal.SIGTERM: stop, signal.SIGINT: stop}):
        log.info("FastAGI daemon listening on %s:%d (routes: %s)", *server.server_address[:2],
                 ", ".join(sorted(routes(bridge))))
        server.serve_forever()
        for thread in stopping:
            thread.join()
    directory.stop()
    bridge.close()
    log.info("stopped")
    # Every call has ended; lookup threads still waiting on a hung ITFlow must not hold the exit.
    exit_now(0)
    return 0  # not reached


def _announce_generation(bridge: "Bridge") -> None:
    """Detect the API at start-up so the first call does not pay for it, and say what was found."""
    from .errors import BridgeError

    try:
        bridge.adapter()
    except BridgeError as exc:
        log.warning("ITFlow is not answering yet (%s); calls go on without names until it does", exc)


def cmd_install_agi(config: Config, args: argparse.Namespace) -> int:
    """Write the classic AGI scripts into agi-bin with this Python in the shebang (the right venv)."""
    from .classic.wrapper import installed_scripts

    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, text in installed_scripts(sys.executable):
        target = dest / name
        target.write_text(text, encoding="utf-8")
        target.chmod(0o755)
        if args.owner and hasattr(os, "chown"):
            try:
                shutil.chown(str(target), user=args.owner, group=args.owner)
            except (LookupError, PermissionError) as exc:
                print("itflow-bridge: could not chown %s to %s: %s" % (target, args.owner, exc), file=sys.stderr)
        print("installed %s" % target)
    return 0


def cmd_install_prompts(config: Config, args: argparse.Namespace) -> int:
    from .prompts import install_prompts

    sounds = Path(args.sounds_dir) if args.sounds_dir else config.balance.sounds_dir
    for path in install_prompts(sounds, args.language or config.balance.language):
        print("installed %s" % path)
    return 0


def cmd_demo(config: Config, args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo()
