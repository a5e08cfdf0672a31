"""The command table: every sub-command's name, help, arguments, handler and whether it needs the config.

One table so the parser, the dispatch and the config loading agree.  Building
the parser imports no handler's dependencies (no requests, no phonenumbers):
handlers import what they use when they run.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import __version__
from ..core.config import Config
from ..core.constants import FASTAGI_PORT
from ..core.paths import CONFIG_ENV, DEFAULT_CONFIG
from ..directory.formats import FORMATS
from ..install.installer import TRANSPORTS
from . import agent_links, call_history, pbx, phonebooks, queries, scripting

ArgumentBuilder = Callable[[argparse.ArgumentParser], None]
ConfigHandler = Callable[[Config, argparse.Namespace], int]
StandaloneHandler = Callable[[argparse.Namespace], int]

DESCRIPTION = "itflow-bridge: caller-ID names, spoken balances and ITFlow tools for FreePBX/Asterisk."
EXIT_CODES = "Exit codes: 0 ok, 1 no (nobody matches, no such client), 2 failure, 3 configuration error."

# The UI's asset types (free text to the API), offered in add-asset's help.
ASSET_TYPES = ("Laptop", "Desktop", "Server", "Phone", "Mobile Phone", "Tablet", "Firewall/Router", "Switch",
               "Access Point", "Printer", "Display", "Camera", "Virtual Machine", "Other")


@dataclass(frozen=True)
class Command:
    """One sub-command: exactly one of ``handler`` (given the loaded config) or ``standalone`` (no config:
    it must run whatever the environment holds, as ``demo`` and ``install`` do)."""

    help: str
    arguments: ArgumentBuilder
    handler: Optional[ConfigHandler] = None
    standalone: Optional[StandaloneHandler] = None
    description: Optional[str] = None
    log_level: str = "ERROR"  # without -v

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.standalone is None):
            raise ValueError("a command has either a handler or a standalone handler")

    @property
    def needs_config(self) -> bool:
        return self.handler is not None

    def run(self, args: argparse.Namespace, load: Callable[[], Config]) -> int:
        if self.handler is not None:
            return self.handler(load(), args)
        assert self.standalone is not None  # __post_init__
        return self.standalone(args)


class AnyOrderParser(argparse.ArgumentParser):
    """A sub-command's parser taking its options anywhere among its words (``read client_id=1 --table``).

    argparse stops filling a ``nargs="*"`` positional at the first option;
    ``parse_known_intermixed_args`` reads the options first, then every other
    word in order.  It calls ``parse_known_args`` itself, hence the guard.
    """

    _intermixing = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Tuple[Any, List[str]]:
        if self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def tcp_port(zero: str) -> Callable[[str], int]:
    """An argparse type: 1 to 65535, or 0 meaning ``zero``; else argparse's own one-line usage error."""

    def parse(text: str) -> int:
        try:
            port = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not a number" % text) from None
        if not 0 <= port < 65536:
            raise argparse.ArgumentTypeError("%d is not a TCP port: use 1 to 65535, or 0 for %s" % (port, zero))
        return port

    return parse


def no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def json_flag(what: str) -> ArgumentBuilder:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="print %s as JSON" % what)

    return add


def lookup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("number", help="the caller's number in any form a trunk sends (+15551234567, 5551234567)")
    json_flag("the whole result")(parser)


def balance_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("client_id", help="the client's number in ITFlow")
    json_flag("the whole answer")(parser)


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default [server] host, 127.0.0.1)")
    parser.add_argument("--port", type=tcp_port("any free port"),
                        help="TCP port (default [server] port, %d; 0: any free port, said in the log)" % FASTAGI_PORT)
    parser.add_argument("--http-port", type=tcp_port("off"),
                        help="also serve /cnam and /phonebook/<format>.xml on this port (default [directory] "
                        "http_port; 0: off)")


def install_agi_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dest", default="/var/lib/asterisk/agi-bin",
                        help="Asterisk's agi-bin directory; must exist (default: %(default)s)")
    parser.add_argument("--owner", default="asterisk",
                        help="the user Asterisk runs as; the scripts get it and its primary group "
                        "(default: %(default)s)")


def install_prompts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sounds-dir", help="Asterisk sounds directory (default [balance] sounds_dir)")
    parser.add_argument("--language", help="language folder (default [balance] language, en)")


def install_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", dest="install_url", help="base URL of the ITFlow site")
    parser.add_argument("--api-key", dest="install_api_key", help="ITFlow API key (asked for on a terminal)")
    parser.add_argument("--transport", choices=TRANSPORTS,
                        help="how Asterisk reaches the handlers (default: as installed before, else fastagi)")
    parser.add_argument("--port", type=int, help="FastAGI daemon port ([server] port, default %d)" % FASTAGI_PORT)
    parser.add_argument("--language", action="append", help="install the balance prompts for this language "
                        "(repeatable; default [balance] language)")
    parser.add_argument("--config-file", default=DEFAULT_CONFIG, help="the bridge's config file (default %(default)s)")
    parser.add_argument("--calls", action="store_true",
                        help="journal calls in ITFlow: set [calls] enabled = yes (the manager user is added anyway), "
                             "with click to call from the agents' pages (the manager user itflow-bridge-dial, "
                             "originate only, as [calls] originate_user)")
    parser.add_argument("--click-to-call", dest="click_to_call", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="--no-click-to-call: no itflow-bridge-dial (an earlier install's is taken out; "
                             "later installs remember); --click-to-call: add it even without the calls "
                             "(default: with the calls)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--freepbx", dest="freepbx", action="store_true", default=None, help="treat the PBX as FreePBX")
    kind.add_argument("--asterisk", dest="freepbx", action="store_false", help="treat the PBX as plain Asterisk")
    parser.add_argument("--asterisk-etc", help="Asterisk's config dir (default from asterisk.conf)")
    parser.add_argument("--agi-dir", help="agi-bin (default astagidir of asterisk.conf)")
    parser.add_argument("--sounds-dir", help="Asterisk's sounds dir (default astdatadir/sounds)")
    parser.add_argument("--user", help="user Asterisk runs as (default runuser, else owner of agi-bin)")
    parser.add_argument("--group", help="its group (default rungroup, else the user's group)")
    parser.add_argument("--prefix", default="/", help="root of the system to install into (default /)")
    parser.add_argument("--dry-run", action="store_true", help="print every change, change nothing")
    parser.add_argument("--uninstall", action="store_true", help="undo the installation (edited files restored)")
    parser.add_argument("--keep-config", action="store_true", help="with --uninstall: keep the config file")
    parser.add_argument("--skip-check", action="store_true", help=argparse.SUPPRESS)


def phonebook_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, choices=FORMATS, help="phone vendor's XML format")


def api_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("module", help="e.g. contacts, tickets, invoices")
    parser.add_argument("function", help="read, create, update, delete, archive, unarchive, resolve or time")
    parser.add_argument("params", nargs="*", metavar="key=value",
                        help="filters for a read, fields for a write; '-' reads a JSON object from stdin")
    parser.add_argument("--body", metavar="FILE", help="a JSON object of fields for a write ('-' = stdin)")
    parser.add_argument("--all", action="store_true", help="page through every row (reads)")
    parser.add_argument("--table", action="store_true", help="print rows as a tab-separated table")
    parser.add_argument("--columns", help="comma-separated columns for --table (only with --table)")


def emails_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", action="store_true", help="CSV with a header line")


def add_asset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("client_id")
    parser.add_argument("name")
    parser.add_argument("--type", default="", help="e.g. %s" % ", ".join(ASSET_TYPES))
    parser.add_argument("--make", default="")
    parser.add_argument("--model", default="")
    parser.add_argument("--serial", default="")
    parser.add_argument("--os", default="")


COMMANDS: Dict[str, Command] = {
    "lookup": Command("print the caller-ID name for a number", lookup_arguments, queries.cmd_lookup),
    "balance": Command("print a client's account balance", balance_arguments, queries.cmd_balance),
    "check": Command("check the configuration, ITFlow and the API key", json_flag("the report"),
                     queries.cmd_check),
    "serve": Command("run the FastAGI daemon", serve_arguments, pbx.cmd_serve, log_level="INFO"),
    "install-agi": Command("install the classic AGI scripts into agi-bin", install_agi_arguments,
                           standalone=pbx.cmd_install_agi),
    "install-prompts": Command("copy the balance IVR's sound files into Asterisk", install_prompts_arguments,
                               pbx.cmd_install_prompts),
    "install": Command("set the bridge up on this PBX (idempotent; --dry-run, --uninstall)", install_arguments,
                       standalone=pbx.cmd_install,
                       description="Install itflow-bridge on a FreePBX or plain Asterisk PBX. Run as root."),
    "demo": Command("simulated calls against an embedded sample ITFlow", no_arguments, standalone=pbx.cmd_demo),
    "api": Command("call any ITFlow JSON API function (read, create, update, ...)", api_arguments,
                   scripting.cmd_api, description="Call ITFlow's JSON API: MODULE FUNCTION [key=value ...]."),
    "emails": Command("client, primary contact and e-mail of every client", emails_arguments, scripting.cmd_emails),
    "add-asset": Command("add an asset to a client; prints its id where ITFlow gives one", add_asset_arguments,
                         scripting.cmd_add_asset),
    "api-phonebook": Command("the legacy API's phonebook XML, exactly as served", no_arguments,
                             scripting.cmd_api_phonebook),
    "sync": Command("copy ITFlow's phone numbers into the local directory", json_flag("the sync report"),
                    phonebooks.cmd_sync),
    "phonebook": Command("print a desk-phone phonebook from the local directory", phonebook_arguments,
                         phonebooks.cmd_phonebook),
    "calls": Command("the calls journaled into ITFlow and what each did (--retry resends failures)",
                     call_history.calls_arguments, call_history.cmd_calls),
    "agent-link": Command("print a new link to an extension's agent page (--revoke ends its links)",
                          agent_links.agent_link_arguments, agent_links.cmd_agent_link),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="itflow-bridge", description=DESCRIPTION, epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version="itflow-bridge " + __version__)
    parser.add_argument("--config", help="INI file (default $%s or %s)" % (CONFIG_ENV, DEFAULT_CONFIG))
    parser.add_argument("--url", help="base URL of the ITFlow site (overrides [itflow] url)")
    parser.add_argument("--api-mode", choices=("auto", "legacy", "v1"), help="ITFlow API generation")
    parser.add_argument("--cache-dir", help="directory of the persistent cache")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=AnyOrderParser)
    commands.required = True
    for name, command in COMMANDS.items():
        command.arguments(commands.add_parser(name, help=command.help, description=command.description))
    return parser
