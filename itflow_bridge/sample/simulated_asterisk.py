"""The Asterisk side of a FastAGI conversation, simulated for the demo and the benchmarks.

It connects like Asterisk does, sends an environment block, tokenises each
command line with Asterisk's own rules (whitespace separates, double quotes
group, a backslash escapes the next character) and answers the way Asterisk 22
answers.  Tests of the real thing run on a real Asterisk; this exists so a demo
needs no PBX and a benchmark can drive thousands of sessions.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Dict, List, Optional


def tokenize(line: str) -> List[str]:
    """Split an AGI command line exactly as res_agi's parse_args does."""
    tokens: List[str] = []
    current: List[str] = []
    quoted = escaped = started = False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped, started = False, True
        elif ch == "\\":
            escaped = True  # a word starts only when the escaped character comes
        elif ch == '"':
            quoted = not quoted
            started = True
        elif ch in " \t" and not quoted:
            if started:
                tokens.append("".join(current))
                current, started = [], False
        else:
            current.append(ch)
            started = True
    if started:
        tokens.append("".join(current))
    return tokens


@dataclass
class SimulatedCall:
    """What the handler did to the simulated channel."""

    variables: Dict[str, str] = field(default_factory=dict)
    played: List[str] = field(default_factory=list)
    verbose: List[str] = field(default_factory=list)
    commands: List[str] = field(default_factory=list)


def environment(script: str, caller_num: str, caller_name: str, port: int, uniqueid: str = "1700000000.1") -> bytes:
    lines = [
        ("agi_network", "yes"),
        ("agi_network_script", script),
        ("agi_request", "agi://127.0.0.1:%d/%s" % (port, script)),
        ("agi_channel", "PJSIP/trunk-00000001"),
        ("agi_language", "en"),
        ("agi_type", "PJSIP"),
        ("agi_uniqueid", uniqueid),
        ("agi_version", "22.0.0"),
        ("agi_callerid", caller_num or "unknown"),
        ("agi_calleridname", caller_name or "unknown"),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", "5550100"),
        ("agi_rdnis", "unknown"),
        ("agi_context", "from-trunk"),
        ("agi_extension", "s"),
        ("agi_priority", "1"),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", "140000000000000"),
    ]
    return b"".join(("%s: %s\n" % pair).encode("utf-8") for pair in lines) + b"\n"


def simulate_call(
    host: str,
    port: int,
    script: str,
    *,
    caller_num: str = "",
    caller_name: str = "",
    dtmf: Optional[List[str]] = None,
    timeout: float = 30.0,
) -> SimulatedCall:
    """Run one FastAGI session against a server; ``dtmf`` answers GET DATA / WAIT FOR DIGIT in order."""
    call = SimulatedCall()
    pending = list(dtmf or [])
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = conn.makefile("rb")
        conn.sendall(environment(script, caller_num, caller_name, port))
        for raw in reader:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            call.commands.append(line)
            conn.sendall((answer(tokenize(line), call, pending) + "\n").encode("utf-8"))
    return call


def answer(tokens: List[str], call: SimulatedCall, dtmf: List[str]) -> str:
    """Asterisk 22's reply to one command, updating the simulated channel."""
    words = [t.upper() for t in tokens[:3]]
    if words[:2] == ["SET", "VARIABLE"] and len(tokens) >= 4:
        call.variables[tokens[2]] = tokens[3]
        return "200 result=1"
    if words[:2] == ["GET", "VARIABLE"] and len(tokens) >= 3:
        value = call.variables.get(tokens[2])
        return "200 result=0" if value is None else "200 result=1 (%s)" % value
    if words[:1] == ["VERBOSE"]:
        call.verbose.append(tokens[1] if len(tokens) > 1 else "")
        return "200 result=1"
    if words[:2] == ["STREAM", "FILE"] and len(tokens) >= 3:
        call.played.append(tokens[2])
        escape = tokens[3] if len(tokens) > 3 else ""
        if dtmf and dtmf[0][:1] and dtmf[0][:1] in escape:
            return "200 result=%d endpos=4000" % ord(dtmf.pop(0)[0])
        return "200 result=0 endpos=8000"
    if words[:2] == ["GET", "DATA"] and len(tokens) >= 3:
        call.played.append(tokens[2])
        if not dtmf:
            return "200 result= (timeout)"
        return "200 result=%s" % dtmf.pop(0)
    if words[:3] == ["WAIT", "FOR", "DIGIT"]:
        return "200 result=%d" % (ord(dtmf.pop(0)[0]) if dtmf else 0)
    if words[:1] == ["ANSWER"]:
        return "200 result=0"
    if words[:2] == ["CHANNEL", "STATUS"]:
        return "200 result=6"
    if words[:1] in (["EXEC"], ["NOOP"]):
        return "200 result=0"
    return "510 Invalid or unknown command"
