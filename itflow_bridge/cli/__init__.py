"""itflow-bridge: caller-ID names, spoken balances and ITFlow tools for FreePBX/Asterisk.

Exit codes (one table, ``itflow_bridge.core.exits``): 0 ok, 1 "no" (nobody
matches, no such client, balance not knowable), 2 failure, 3 configuration
error; one line on stderr, never a traceback.  Output piped into a reader that
stops early (``| head``) ends quietly with 141, as a shell reports for ``cat``.  The commands are in
``itflow_bridge.cli.table``; the config is loaded only for those that need it.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import List, Optional

from ..core.config import Config, load_config
from ..core.errors import BridgeError
from ..core.exits import Exit, fail, for_error
from ..core.logs import setup_logging


def main(argv: Optional[List[str]] = None) -> int:
    try:
        from .table import COMMANDS, build_parser  # here: an error while building the commands is one line too

        args = build_parser().parse_args(argv)  # usage errors: argparse's one line and exit 2
        command = COMMANDS[args.command]
        setup_logging("DEBUG" if args.verbose else command.log_level)

        def config() -> Config:
            return load_config(args.config, overrides={
                ("itflow", "url"): args.url,
                ("itflow", "api_mode"): args.api_mode,
                ("cache", "dir"): args.cache_dir,
            })

        code = int(command.run(args, config))
        sys.stdout.flush()  # here, so that a closed pipe is met inside the net, not at the interpreter's exit
        return code
    except BrokenPipeError:
        return stdout_closed()
    except (BridgeError, KeyboardInterrupt) as exc:
        return fail(exc if str(exc) else "interrupted", for_error(exc))
    except Exception as exc:  # a bug of ours: still one line; the traceback goes to the -v log
        logging.getLogger("itflow_bridge").debug("internal error", exc_info=True)
        return fail("internal error (%s: %s); run again with -v for the details" % (type(exc).__name__, exc))


def stdout_closed() -> int:
    """The reader of stdout is gone: send what is still buffered nowhere (the Python documentation's
    recipe: the interpreter's last flush would fail again and print a message) and end quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return int(Exit.CLOSED_PIPE)


if __name__ == "__main__":
    sys.exit(main())
