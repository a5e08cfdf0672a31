"""Entry point of the classic AGI scripts in agi-bin: a new Python process per call.

A caller-ID lookup answered from the cache should cost little more than
starting Python, but the full bridge (configuration, logging, the AGI
session, the services) costs several times that in imports alone.  So the
full path records the exact command lines it sent for a fresh answer, and the
next call with the same inputs *replays* them, using only the standard library:
read the environment, one sqlite SELECT, write the lines.  The replay key holds
the caller number and name, the AGI argument and a fingerprint of the
configuration (file identity and ITFLOW_* settings, never the API key), so any
change of input or configuration simply misses and takes the full path; a
replay never outlives the freshness of the lookup it came from.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import time

DEFAULT_CONFIG = "/etc/itflow-bridge/itflow-bridge.conf"
DEFAULT_CACHE_DIR = "/var/cache/itflow-bridge"
DB_NAME = "itflow-bridge-cache.sqlite3"  # the same file as itflow_bridge.cache
REPLAYED_ROUTES = ("itflow-cid.agi",)
FINGERPRINT_ENV = ("ITFLOW_URL", "ITFLOW_API_MODE", "ITFLOW_BRIDGE_CACHE_DIR")
REPLAYABLE = "SET VARIABLE "

SCRIPT_TEMPLATE = '''#!{python}
"""Classic AGI script of itflow-bridge: {what}.

Install with `itflow-bridge install-agi` (it writes this file into agi-bin with
the Python of your itflow-bridge installation); the dialplan runs it through
asterisk-conf/extensions_itflow.conf.
"""
import sys

from itflow_bridge.classic_script import main

sys.exit(main("{name}"))
'''
SCRIPTS = {"itflow-cid.agi": "caller-ID names from ITFlow", "itflow-balance.agi": "the account balance IVR"}


def script_text(name: str, python: str = "/usr/bin/env python3") -> str:
    """The text of the classic AGI script for route ``name``."""
    return SCRIPT_TEMPLATE.format(python=python, what=SCRIPTS[name], name=name)


def main(route: str) -> int:
    """Run one call: replay a recorded answer if there is one, else the full bridge."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the session installs its own handler
    from .agi.protocol import parse_env

    env = parse_env(iter(sys.stdin.buffer.readline, b""))
    if route in REPLAYED_ROUTES and _replay(replay_key(route, env, os.environ), os.environ):
        return 0
    from .routes import classic_main

    return classic_main(route, env)


def replay_key(route: str, env: dict, environ) -> str:
    """What makes two calls answer alike: inputs of the call and the configuration in force."""
    path = environ.get("ITFLOW_BRIDGE_CONFIG") or DEFAULT_CONFIG
    try:
        stat = os.stat(path)
        config_id = "%s:%d:%d:%d" % (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    except OSError:
        config_id = path + ":absent"
    settings = "|".join(environ.get(name, "") for name in FINGERPRINT_ENV)
    call = "|".join(env.get(name, "") for name in ("agi_callerid", "agi_calleridname", "agi_arg_1"))
    return "replay:%s:%s:%s:%s" % (route, config_id, settings, call)


def cache_dir(environ) -> str:
    if environ.get("ITFLOW_BRIDGE_CACHE_DIR"):
        return environ["ITFLOW_BRIDGE_CACHE_DIR"]
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(environ.get("ITFLOW_BRIDGE_CONFIG") or DEFAULT_CONFIG, encoding="utf-8")
        return parser.get("cache", "dir", fallback=DEFAULT_CACHE_DIR).strip() or DEFAULT_CACHE_DIR
    except (configparser.Error, UnicodeDecodeError):
        return DEFAULT_CACHE_DIR  # the full path will report the broken file


def _replay(key: str, environ) -> bool:
    lines = _recorded_lines(key, environ)
    if not lines or not all(line.startswith(REPLAYABLE) for line in lines):
        return False  # only variable assignments are ever replayed, whatever the file holds
    out = sys.stdout.buffer
    for line in lines:
        out.write(line.encode("utf-8") + b"\n")
        out.flush()
        reply = sys.stdin.buffer.readline()
        while reply.strip() == b"HANGUP":  # an unsolicited hangup notice, not the reply
            reply = sys.stdin.buffer.readline()
        if not reply.startswith(b"200"):
            break  # EOF or a dead channel: nothing more to say
    return True


def _recorded_lines(key: str, environ) -> list:
    path = os.path.join(cache_dir(environ), DB_NAME)
    if not os.path.exists(path):
        return []
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=0.2)
        try:
            row = db.execute("SELECT value FROM entries WHERE key = ? AND fresh_until > ?",
                             (key, time.time())).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return []
    if not row:
        return []
    import json

    try:
        lines = json.loads(row[0])
    except ValueError:
        return []
    return lines if isinstance(lines, list) and all(isinstance(line, str) for line in lines) else []
