"""No input or environment an admin can produce makes a command print a traceback.

The command line runs in this process (``cli.main``) with generated arguments, config
files and environment; every run must end with one of the README's exit codes, and
whatever it printed on stderr must be the bridge's own one line(s), never a Python
traceback.  ITFlow is only ever a dead local port or nothing: no traffic leaves the
machine, and the generated URLs are never valid ones.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
from typing import Iterator, List, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itflow_bridge import cli
from itflow_bridge.core.redact import redact

EXIT_CODES = {0, 1, 2, 3}
KEY = "fuzz-cli-key-7d2c41e0a9"


def _dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % probe.getsockname()[1]


DEAD = _dead_url()
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
word = st.one_of(text, st.sampled_from(["", "-", "--", "1", "0", "-1", "99999999999999999999", "+15551234567",
                                        "anonymous", "clients", "read", "contacts", "x=y", "=", "--all",
                                        "--json", "--csv", "--table", "--format", "yealink"]))
# Not one of these is a URL that could reach another machine.
urls = st.one_of(st.none(), st.sampled_from(["", DEAD, "http://", "ftp://127.0.0.1", "127.0.0.1",
                                             DEAD + "/api.php", DEAD + "?x=1", "https://[::1"]),
                 st.text(st.characters(blacklist_characters=":/\x00", blacklist_categories=("Cs",)), max_size=20))
modes = st.one_of(st.none(), st.sampled_from(["auto", "v1", "legacy", "", "soap"]), text)
ini = st.one_of(st.just(""), text, st.builds(
    lambda section, key, value: "[%s]\n%s = %s\n" % (section, key, value),
    st.sampled_from(["itflow", "cache", "callerid", "balance", "server", "directory", "prompts", "nope"]),
    st.sampled_from(["url", "api_mode", "dir", "budget_ms", "port", "allow", "min_digits", "verify", "x"]),
    text))
commands = st.sampled_from([
    ["lookup"], ["balance"], ["check"], ["sync"], ["phonebook"], ["emails"], ["add-asset"], ["api"],
    ["api-phonebook"], ["lookup", "--json"], ["balance", "--json"], ["check", "--json"],
])


@contextlib.contextmanager
def environment(values: dict) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def own_logging() -> Iterator[None]:
    """``main`` sets up logging for its process; give the test process its own back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def run_main(argv: List[str]) -> tuple:
    out, err = io.StringIO(), io.StringIO()
    with own_logging(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: Optional[int] = cli.main(argv)
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz-cli")


@given(command=commands, args=st.lists(word, max_size=4), url=urls, mode=modes, config_text=ini)
def test_no_command_prints_a_traceback(workdir, command, args, url, mode, config_text):
    conf = workdir / "bridge.conf"
    conf.write_text(config_text, encoding="utf-8")
    env = {"ITFLOW_BRIDGE_CONFIG": str(conf), "ITFLOW_URL": url, "ITFLOW_API_KEY": KEY,
           "ITFLOW_API_MODE": mode or None, "ITFLOW_BRIDGE_CACHE_DIR": str(workdir / "cache")}
    with environment(env):
        code, stdout, stderr = run_main(command + args)
    assert code in EXIT_CODES, (code, stderr)
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert "internal error" not in stderr  # the one-line net for our own bugs must never be needed
    assert KEY not in stdout + stderr
    if code and stderr:
        assert stderr.startswith(("itflow-bridge: ", "usage: ")), stderr
    assert redact(stderr) == stderr
