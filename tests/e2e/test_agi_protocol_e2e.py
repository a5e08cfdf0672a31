"""Our AGI layer against the replies of a real Asterisk 22.

The unit protocol suite proves these properties with scripted replies; here every
reply comes from res_agi itself: the environment block (raw bytes, ``unknown``,
arguments with spaces), results with data, GET DATA timeouts, 510/511/520, the
unsolicited HANGUP line, quoting of hostile values, long values, and a classic
script surviving the SIGHUP that a hangup sends it.

Handlers are small routes on ``itflow_bridge.agi.FastAGIServer`` (and one classic
script on ``run_classic``); each writes what it observed into ``seen``.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable, Dict, Iterator, List, Tuple

import pytest

from asterisk_harness import AsteriskHarness, CallResult, rewrite_shebang
from itflow_bridge.agi import AGISession, FastAGIServer, quote
from itflow_bridge.agi.protocol import MAX_COMMAND_LINE_BYTES
from itflow_bridge.core.errors import AGICommandError, AGIError, AGIHangup

pytestmark = pytest.mark.e2e

GET_VARIABLE_LIMIT = 1023  # res_agi's handle_getvariable copies into char[1024]
LONG_VALUE_BYTES = 10 * 1024
REPLACEMENT = "\ufffd"
ENV_ORDER = [
    "agi_request", "agi_channel", "agi_language", "agi_type", "agi_uniqueid", "agi_version", "agi_callerid",
    "agi_calleridname", "agi_callingpres", "agi_callingani2", "agi_callington", "agi_callingtns", "agi_dnid",
    "agi_rdnis", "agi_context", "agi_extension", "agi_priority", "agi_enhanced", "agi_accountcode",
    "agi_threadid", "agi_arg_1", "agi_arg_2",
]

Handler = Callable[[AGISession, Dict[str, object]], None]


class Route:
    """One handler served by a real FastAGIServer; what it observed, and any error it raised."""

    def __init__(self, handler: Handler) -> None:
        self.seen: Dict[str, object] = {}
        self.errors: List[BaseException] = []
        self.done = threading.Event()
        self.url = ""
        self._handler = handler

    def __call__(self, session: AGISession) -> None:
        try:
            self._handler(session, self.seen)
        except BaseException as error:  # reported by the test, not swallowed by the server
            self.errors.append(error)
            raise
        finally:
            self.done.set()


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], Route]]:
    """``serve(handler)`` -> the Route, run by a real FastAGIServer at ``route.url``."""
    servers: List[FastAGIServer] = []

    def start(handler: Handler) -> Route:
        route = Route(handler)
        servers.append(FastAGIServer({"probe": route}, "127.0.0.1", 0, idle_timeout=20).start())
        route.url = f"agi://127.0.0.1:{servers[-1].server_address[1]}/probe"
        return route

    yield start
    for server in servers:
        server.shutdown(grace=2)


def run(asterisk: AsteriskHarness, serve, handler: Handler, suffix: str = "", **call) -> Tuple[dict, CallResult]:
    """One call through AGI(url + suffix); returns (what the handler saw, the call's result)."""
    route = serve(handler)
    result = asterisk.call("proto", agi_base=route.url + suffix, timeout=20, **call)
    assert route.done.wait(5), "the handler never finished"
    assert route.errors == [], route.errors
    return route.seen, result


# --- the environment block ---------------------------------------------------------------


def test_env_with_raw_bytes_unknown_values_query_and_spaced_args(asterisk, serve) -> None:
    def handler(session: AGISession, seen: Dict[str, object]) -> None:
        seen.update(env=dict(session.env), args=session.args, script=session.script, query=session.query,
                    number=session.caller_number, name=session.caller_name,
                    live_name=session.get_variable("CALLERID(name)"))
        session.set_variable("ITFLOW_CLIENT_NAME", session.caller_name)

    # astdb hands the byte 0xE9 (Latin-1 "é", invalid UTF-8) to CALLERID(name) untouched.
    seen, result = run(asterisk, serve, handler, "?x=1&who=a%20b,arg 1,arg 2", caller_name="Caf\udce9 Ltd")

    env = seen["env"]
    assert env["agi_network"] == "yes"
    assert env["agi_network_script"] == "probe?x=1&who=a%20b"
    assert (seen["script"], seen["query"]) == ("probe", {"x": "1", "who": "a b"})
    assert seen["args"] == ["arg 1", "arg 2"]
    assert (env["agi_arg_1"], env["agi_arg_2"]) == ("arg 1", "arg 2")
    assert env["agi_callerid"] == env["agi_dnid"] == env["agi_rdnis"] == "unknown"
    assert seen["number"] is None
    assert env["agi_calleridname"] == seen["name"] == seen["live_name"] == f"Caf{REPLACEMENT} Ltd"
    assert env["agi_channel"] == result.vars["CHANNEL"]
    assert [key for key in env if key in ENV_ORDER] == ENV_ORDER  # all there, in res_agi's order
    assert result.vars["ITFLOW_CLIENT_NAME"] == f"Caf{REPLACEMENT} Ltd"
    assert result.vars["AGISTATUS"] == "SUCCESS"


def test_unknown_caller_name_is_none(asterisk, serve) -> None:
    def handler(session: AGISession, seen: Dict[str, object]) -> None:
        seen.update(name=session.caller_name, raw=session.env["agi_calleridname"], number=session.caller_number)

    seen, _ = run(asterisk, serve, handler, caller_num="5551234567")

    assert (seen["raw"], seen["name"], seen["number"]) == ("unknown", None, "5551234567")


# --- replies ---------------------------------------------------------------------------------


def test_results_with_data_and_get_data_timeouts(asterisk, serve) -> None:
    def handler(session: AGISession, seen: Dict[str, object]) -> None:
        seen["channel"] = session.get_variable("CHANNEL")
        seen["unset"] = session.get_variable("ITFLOW_NEVER_SET")
        seen["raw_unset"] = session.execute("GET VARIABLE", "ITFLOW_NEVER_SET").raw
        seen["full"] = session.get_full_variable("${CHANNEL}|${LEN(abc)}")
        seen["ended_by_pound"] = session.get_data("silence/1", 3000, 5)
        seen["partial"] = session.get_data("silence/1", 1500, 5)
        seen["empty"] = session.get_data("silence/1", 500, 5)
        seen["empty_raw"] = session.execute("GET DATA", "silence/1", 300, 5).raw

    # '42#' ends the first GET DATA; '7' then nothing: the second times out holding "7".
    seen, result = run(asterisk, serve, handler, dtmf="0.5:42#|0.5:7")

    assert seen["channel"] == result.vars["CHANNEL"]
    assert seen["unset"] is None and seen["raw_unset"] == "200 result=0"
    assert seen["full"] == f"{result.vars['CHANNEL']}|3"
    assert (seen["ended_by_pound"].digits, seen["ended_by_pound"].timed_out) == ("42", False)
    assert (seen["partial"].digits, seen["partial"].timed_out) == ("7", True)
    assert (seen["empty"].digits, seen["empty"].timed_out) == ("", True)
    assert seen["empty_raw"] == "200 result= (timeout)"


def test_510_and_520_leave_the_conversation_in_step(asterisk, serve) -> None:
    def handler(session: AGISession, seen: Dict[str, object]) -> None:
        for name, command in (("unknown", ("FROBNICATE", "x")), ("usage", ("GET DATA",))):
            try:
                session.execute(*command)
            except AGICommandError as error:
                seen[name] = (error.code, str(error))
        seen["after"] = session.get_variable("CHANNEL")

    seen, result = run(asterisk, serve, handler)

    assert seen["unknown"] == (510, "Asterisk rejected FROBNICATE: 510 Invalid or unknown command")
    code, message = seen["usage"]
    assert code == 520 and "Asterisk rejected GET DATA: 520" in message
    assert seen["after"] == result.vars["CHANNEL"]  # the whole 520 block was consumed


# --- hangup ------------------------------------------------------------------------------------


def test_hangup_gives_minus_one_then_the_hangup_line_then_511(asterisk, serve) -> None:
    def handler(session: AGISession, seen: Dict[str, object]) -> None:
        seen["wait"] = session.execute("WAIT FOR DIGIT", 10000).raw
        seen["hung_up_before_next_read"] = session.hung_up
        seen["noop"] = session.execute("NOOP", "after hangup").raw  # the HANGUP line comes first
        seen["hung_up_after"] = session.hung_up
        try:
            session.execute("STREAM FILE", "digits/1", "")
        except AGIHangup as error:
            seen["stream"] = str(error)
        session.set_variable("ITFLOW_CLIENT_NAME", "set on a dead channel")
        seen["get_after"] = session.get_variable("ITFLOW_CLIENT_NAME")

    seen, result = run(asterisk, serve, handler, hangup_after=0.5)

    assert seen["wait"] == "200 result=-1"
    assert seen["hung_up_before_next_read"] is False
    assert seen["noop"] == "200 result=0"
    assert seen["hung_up_after"] is True
    assert seen["stream"] == "STREAM FILE not permitted: the channel is dead"  # a 511 reply
    assert seen["get_after"] == "set on a dead channel"
    assert result.vars["ITFLOW_CLIENT_NAME"] == "set on a dead channel"
    assert result.vars["AGISTATUS"] == "HANGUP"


def test_get_data_on_hangup_raises_agi_hangup(asterisk, serve) -> None:
    def handler(session: AGISession, seen: Dict[str, object]) -> None:
        try:
            session.get_data("silence/10", 10000, 4)
        except AGIHangup:
            seen["hangup"] = True
        try:
            session.execute("GET DATA", "silence/1", 1000, 4)
        except AGIHangup as error:
            seen["again"] = str(error)

    seen, result = run(asterisk, serve, handler, hangup_after=0.5)

    assert seen["hangup"] is True
    assert seen["again"] == "GET DATA not permitted: the channel is dead"  # a 511 reply
    assert result.vars["AGISTATUS"] == "HANGUP"


# --- values ------------------------------------------------------------------------------------


def test_hostile_values_are_quoted_and_lose_cr_lf(asterisk, serve) -> None:
    hostile = 'O"Brien \\ Co\r\nHANGUP\n  "two  spaces" ${CHANNEL} ;x'
    expected = 'O"Brien \\ CoHANGUP  "two  spaces" ${CHANNEL} ;x'

    def handler(session: AGISession, seen: Dict[str, object]) -> None:
        session.set_variable("ITFLOW_CLIENT_NAME", hostile)
        seen["back"] = session.get_variable("ITFLOW_CLIENT_NAME")
        seen["next"] = session.get_variable("CHANNEL")

    seen, result = run(asterisk, serve, handler)

    assert seen["back"] == expected
    assert result.vars["ITFLOW_CLIENT_NAME"] == expected
    assert seen["next"] == result.vars["CHANNEL"]  # no injected command shifted the replies
    assert "Invalid or unknown command" not in result.log


def test_long_values_round_trip(asterisk, serve) -> None:
    half = LONG_VALUE_BYTES // 2
    first = "".join(chr(ord("a") + index % 26) for index in range(half))
    second = '"\\' + first[: half - 2]
    command = 'SET VARIABLE "ITFLOW_LONG" '
    longest = "x" * (MAX_COMMAND_LINE_BYTES - 1 - len(command) - 2)  # the line is exactly 8191 bytes

    def handler(session: AGISession, seen: Dict[str, object]) -> None:
        try:
            session.set_variable("ITFLOW_TOO_LONG", first + second)
        except AGIError as error:
            seen["refused"] = str(error)
        session.set_variable("ITFLOW_LONG", longest)
        seen["longest"] = session.get_full_variable("${ITFLOW_LONG}")
        session.set_variable("ITFLOW_A", first)
        session.set_variable("ITFLOW_B", second)
        seen["joined"] = session.get_full_variable("${ITFLOW_A}${ITFLOW_B}")
        seen["get_variable"] = session.get_variable("ITFLOW_A")

    seen, _ = run(asterisk, serve, handler)

    assert len(command) + len(quote(longest)) + 1 == MAX_COMMAND_LINE_BYTES
    assert "exceeds the AGI limit" in seen["refused"]  # refused before sending: no half command
    assert seen["longest"] == longest
    assert seen["joined"] == first + second and len(seen["joined"]) == LONG_VALUE_BYTES
    # Asterisk's GET VARIABLE answers at most 1023 bytes; only GET FULL VARIABLE returns more.
    assert seen["get_variable"] == first[:GET_VARIABLE_LIMIT]


# --- the classic transport -----------------------------------------------------------------------


CLASSIC_PROBE = r'''#!/bin/false
"""e2e probe: a classic AGI on run_classic that outlives the caller's hangup."""
import sys
import time

from itflow_bridge.agi import run_classic


def handle(session):
    session.set_variable("ITFLOW_CONTACT_NAME", " ".join(session.args + sys.argv[1:]))
    session.execute("WAIT FOR DIGIT", 10000)  # the caller hangs up meanwhile: Asterisk sends SIGHUP
    deadline = time.monotonic() + 3
    while not session.hung_up and time.monotonic() < deadline:
        time.sleep(0.02)
    session.set_variable("ITFLOW_CLIENT_NAME", "hung_up=%s" % session.hung_up)
    print("a stray print must not reach Asterisk")
    session.stream_file("digits/1")  # 511 on the dead channel: AGIHangup, ends the handler quietly
    session.set_variable("ITFLOW_CLIENT_ID", "not reached")


sys.exit(run_classic(handle))
'''


@pytest.fixture
def classic_probe(asterisk: AsteriskHarness) -> Iterator[str]:
    agi_dir = asterisk.install_classic_agi()
    script = asterisk.root / agi_dir.lstrip("/") / "e2e-sighup-probe.agi"
    script.write_text(rewrite_shebang(CLASSIC_PROBE, sys.executable))
    script.chmod(0o755)
    try:
        yield f"{agi_dir}/{script.name}"
    finally:
        script.unlink(missing_ok=True)


def test_classic_script_survives_sighup_and_ends_cleanly(asterisk, classic_probe, asterisk_stdout) -> None:
    result: CallResult = asterisk.call("proto", agi_base=f"{classic_probe},arg 1,arg 2", hangup_after=1.0,
                                       timeout=20)

    assert result.vars["ITFLOW_CONTACT_NAME"] == "arg 1 arg 2 arg 1 arg 2"
    assert result.vars["ITFLOW_CLIENT_NAME"] == "hung_up=True"  # SIGHUP recorded, the process lived on
    assert result.vars["ITFLOW_CLIENT_ID"] == ""
    assert result.vars["AGISTATUS"] == "HANGUP"
    assert "AGI Script" in result.log and "completed, returning" in result.log
    stdout = asterisk_stdout()
    assert "Traceback" not in stdout and "Traceback" not in result.log
    assert "a stray print must not reach Asterisk" in stdout  # it went to stderr
    assert "Invalid or unknown command" not in result.log
    assert 0.8 <= result.elapsed < 4.0
