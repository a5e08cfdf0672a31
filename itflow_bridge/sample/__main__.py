"""``python -m itflow_bridge.sample``: serve the fake ITFlow with the sample dataset.

Prints the URL, the API key and a ready ``export`` line for the bridge's
environment, then serves on 127.0.0.1 until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from typing import Optional, Sequence

from .fake_itflow import GENERATIONS, FakeITFlow


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m itflow_bridge.sample",
        description="A fake ITFlow on 127.0.0.1 serving the sample dataset (both API generations).")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (0 = any free port; default 8080)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--legacy-only", action="store_true", help="serve only the legacy /api.php")
    only.add_argument("--v1-only", action="store_true", help="serve only the JSON /api/v1/")
    parser.add_argument("--php", default="8.2", metavar="VERSION",
                        help="PHP version to imitate (8.0 = clean legacy cid answers; >= 8.1 = HTTP 500)")
    parser.add_argument("--display-errors", action="store_true", help="imitate PHP display_errors=On")
    args = parser.parse_args(argv)
    generations = ("legacy",) if args.legacy_only else ("v1",) if args.v1_only else GENERATIONS

    stop_requested = threading.Event()
    previous_handler = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop_requested.set())
    try:
        with FakeITFlow(generations=generations, php_version=args.php,
                        display_errors=args.display_errors, port=args.port) as fake:
            print("URL: %s" % fake.url)
            print("API key: %s" % fake.api_key)
            print("export ITFLOW_URL=%s ITFLOW_API_KEY=%s" % (shlex.quote(fake.url), shlex.quote(fake.api_key)),
                  flush=True)
            print("Serving %s (PHP %s); Ctrl-C to stop." % (" + ".join(generations), args.php),
                  file=sys.stderr, flush=True)
            while not stop_requested.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print("fake ITFlow: cannot listen on port %d: %s" % (args.port, error.strerror), file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
