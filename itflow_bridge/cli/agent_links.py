"""``itflow-bridge agent-link EXT``: print a new link to extension EXT's agent page; ``--revoke`` ends them all.

The link is ``[calls] link_base_url`` + ``/agent/<token>``: the bridge's HTTP
server as the agents' browsers reach it.  The token is printed once and kept
only as a hash, so a lost link is revoked and issued again, never shown again.
"""

from __future__ import annotations

import argparse

from ..core.config import Config
from ..core.exits import Exit, fail


def agent_link_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("extension", metavar="EXT", help="the extension whose calls the page shows (e.g. 201)")
    parser.add_argument("--revoke", action="store_true", help="end every link of EXT (open pages close)")


def cmd_agent_link(config: Config, args: argparse.Namespace) -> int:
    from ..screen.tokens import AgentLinks, agent_url, valid_extension

    extension = args.extension.strip()
    if not valid_extension(extension):
        return fail("%r is not an extension: use its number, e.g. 201" % extension, Exit.FAILURE)
    base = config.calls.link_base_url
    if not args.revoke and not base:
        where = " in %s" % config.source if config.source else ""
        return fail("[calls] link_base_url is not set%s: set it to this bridge's HTTP server as the agents' "
                    "browsers reach it, e.g. http://pbx.example.com:8089 (the port of [directory] http_port), "
                    "then run agent-link again" % where, Exit.CONFIG)
    with AgentLinks.in_cache(config.cache.dir) as links:
        if args.revoke:
            count = links.revoke(extension)
            print("%d link(s) of extension %s revoked" % (count, extension))
            return 0
        print(agent_url(base, links.issue(extension)))
    return 0
