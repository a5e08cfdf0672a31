"""Entry point of the classic AGI scripts in agi-bin: a new Python process per call.

A caller-ID lookup answered from fresh data should cost about what starting
Python costs.  So this module imports nothing beyond ``os``, ``sys``, ``time``
and ``zlib`` (an integration test holds it to an allow-list): it reads the AGI
environment, finds the cache directory exactly as ``load_config`` would
(``core.paths``), and sends the answer the sync wrote into the answer book for a
synced number (as the full path, which asks the local directory first, would),
else replays the recorded answer.  Anything else (neither, another route, a
config file it cannot read with certainty) takes the full path.

SIGHUP is left at its default here: until the full path installs its handler,
a caller hanging up can only end a process that has nothing to save.
"""

import os
import sys

from ..agi.environment import parse_env
from ..core.paths import cache_dir
from ..storage.answer_book import answer
from ..storage.replay import configuration, replay, replay_key

REPLAYED_ROUTES = ("itflow-cid.agi",)


def main(route: str) -> int:
    """Run one call: replay a recorded answer if there is one, else the full bridge."""
    reader = sys.stdin.buffer
    env = parse_env(iter(reader.readline, b""))
    if route in REPLAYED_ROUTES:
        directory = cache_dir(os.environ)
        if directory is not None:
            settings = configuration(os.environ)
            if answer(directory, settings, env, reader, sys.stdout.buffer):
                return 0
            if replay(directory, replay_key(route, env, os.environ, settings), reader, sys.stdout.buffer):
                return 0
    from .fullpath import run_call

    return run_call(route, env)
