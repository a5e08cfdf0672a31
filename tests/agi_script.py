"""A scripted fake Asterisk for driving AGI handlers without a PBX.

It sends an AGI environment block, answers each command from a script (in
order) and then from an optional responder, and records every command line
split into words exactly as res_agi would split it.  The same fake runs in
memory (``session()``), over a FastAGI socket (``call_fastagi``) and over the
pipes of a classic AGI subprocess (``serve_pipes``), so one script can drive a
handler over every transport.

Script items: a reply string (several lines joined by ``"\\n"``, e.g.
``"HANGUP\\n200 result=1"``), a callable ``Command -> str``, or ``Close(text)``,
which sends ``text`` and then closes the connection (EOF for the handler).
When the script and responder have nothing left, the fake closes too.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from itflow_bridge.agi import AGISession

AGI_DEFAULT_ENV: Tuple[Tuple[str, str], ...] = (
    ("agi_request", "/var/lib/asterisk/agi-bin/itflow-test.agi"),
    ("agi_channel", "Local/s@test-00000000;2"),
    ("agi_language", "en"),
    ("agi_type", "Local"),
    ("agi_uniqueid", "1700000000.1"),
    ("agi_version", "22.0.0"),
    ("agi_callerid", "unknown"),
    ("agi_calleridname", "unknown"),
    ("agi_callingpres", "0"),
    ("agi_callingani2", "0"),
    ("agi_callington", "0"),
    ("agi_callingtns", "0"),
    ("agi_dnid", "unknown"),
    ("agi_rdnis", "unknown"),
    ("agi_context", "test"),
    ("agi_extension", "s"),
    ("agi_priority", "1"),
    ("agi_enhanced", "0.0"),
    ("agi_accountcode", ""),
    ("agi_threadid", "140000000000000"),
)


# res_agi's answer to a command on a channel that has hung up.
DEAD_CHANNEL = "511 Command Not Permitted on a dead channel or intercept routine"
MAX_ARGS = 128  # res_agi's argv size; a command never comes near it


def res_agi_words(line: bytes) -> List[bytes]:
    """The words res_agi's parse_args makes of one command line (newline already cut).

    Space and tab separate words outside quotes; an unescaped ``"`` toggles
    quoting and, right after whitespace, starts a (possibly empty) word; a
    ``\\`` makes the next byte literal; a NUL ends the C string.
    """
    words: List[bytearray] = []
    quoted = escaped = False
    between = True
    for byte in line.split(b"\0", 1)[0]:
        char = bytes([byte])
        if char == b'"' and not escaped:
            quoted = not quoted
            if quoted and between:
                words.append(bytearray())
                between = False
        elif char in b" \t" and not quoted and not escaped:
            between = True
        elif char == b"\\" and not escaped:
            escaped = True
        else:
            if between:
                if len(words) >= MAX_ARGS - 1:
                    escaped = False
                    continue
                words.append(bytearray())
                between = False
            words[-1] += char
            escaped = False
    return [bytes(word) for word in words]


def asterisk_tokenise(line: bytes) -> List[str]:
    """``res_agi_words`` as text (undecodable bytes replaced), as a handler's commands are compared."""
    return [word.decode("utf-8", errors="replace") for word in res_agi_words(line)]


def env_block(
    env: Optional[Mapping[str, str]] = None,
    args: Sequence[str] = (),
    network_script: Optional[str] = None,
) -> bytes:
    """An environment block in Asterisk's order; ``env`` overrides or adds keys."""
    values: Dict[str, str] = dict(AGI_DEFAULT_ENV)
    if network_script is not None:
        values["agi_request"] = "agi://127.0.0.1/" + network_script
    values.update(env or {})
    lines = []
    if network_script is not None:
        lines += ["agi_network: yes", "agi_network_script: " + network_script]
    lines += ["%s: %s" % item for item in values.items()]
    lines += ["agi_arg_%d: %s" % (number, arg) for number, arg in enumerate(args, 1)]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


@dataclass(frozen=True)
class Command:
    """One command as received: the raw line and res_agi's words."""

    line: bytes
    words: List[str]

    def matches(self, name: str) -> bool:
        """True when the command is ``name`` (e.g. ``"get variable"``), any case."""
        expected = name.upper().split()
        return [word.upper() for word in self.words[: len(expected)]] == expected

    def args_after(self, name: str) -> List[str]:
        return self.words[len(name.split()) :]


@dataclass(frozen=True)
class Close:
    """Script item: send ``text`` (may be empty or a partial reply), then close."""

    text: str = ""


ScriptItem = Union[str, Callable[[Command], str], Close]
Responder = Callable[[Command], Optional[str]]


@dataclass
class FakeAsterisk:
    """Answers AGI commands from ``script``, then ``responder``; records them."""

    script: Sequence[ScriptItem] = ()
    env: Optional[Mapping[str, str]] = None
    args: Sequence[str] = ()
    network_script: Optional[str] = None
    raw_env: Optional[bytes] = None
    responder: Optional[Responder] = None
    commands: List[Command] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._pending = list(self.script)

    def env_bytes(self) -> bytes:
        if self.raw_env is not None:
            return self.raw_env
        return env_block(self.env, self.args, self.network_script)

    def answer(self, line: bytes) -> Tuple[bytes, bool]:
        """Record one command line; return (reply bytes, close afterwards)."""
        command = Command(line.rstrip(b"\n"), asterisk_tokenise(line.rstrip(b"\n")))
        self.commands.append(command)
        item = self._next_item(command)
        if item is None:
            return b"", True
        if isinstance(item, Close):
            return _reply_bytes(item.text), True
        text = item(command) if callable(item) else item
        return _reply_bytes(text), False

    def words(self) -> List[List[str]]:
        """Every command received so far, as words."""
        return [command.words for command in self.commands]

    def session(self, **kwargs: object) -> AGISession:
        """An AGISession talking to this fake in memory (same thread)."""
        link = _MemoryLink(self)
        return AGISession(link.reader, link.writer, **kwargs)

    def serve_lines(self, lines: Iterable[bytes], send: Callable[[bytes], None]) -> None:
        """Answer commands read from ``lines`` until EOF or a close."""
        for line in lines:
            reply, close = self.answer(line)
            if reply:
                send(reply)
            if close:
                return

    def serve_pipes(self, from_agi: BinaryIO, to_agi: BinaryIO) -> None:
        """Drive a classic AGI subprocess: its stdout is ``from_agi``, stdin ``to_agi``."""
        try:
            _write_flush(to_agi, self.env_bytes())
            self.serve_lines(from_agi, lambda data: _write_flush(to_agi, data))
        except BrokenPipeError:
            pass  # the script died or exited: what it sent is recorded
        finally:
            with contextlib.suppress(OSError):
                to_agi.close()

    def _next_item(self, command: Command) -> Optional[ScriptItem]:
        if self._pending:
            return self._pending.pop(0)
        if self.responder is not None:
            return self.responder(command)
        return None


def call_fastagi(address: Tuple[str, int], fake: FakeAsterisk, timeout: float = 10.0) -> FakeAsterisk:
    """Connect to a FastAGI server as Asterisk would and run ``fake`` to the end."""
    with socket.create_connection(address, timeout=timeout) as connection:
        connection.sendall(fake.env_bytes())
        with connection.makefile("rb") as lines:
            with contextlib.suppress(ConnectionError):
                fake.serve_lines(lines, connection.sendall)
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
    return fake


def reference_handler(session: AGISession) -> None:
    """A handler touching the common helpers; used to compare transports."""
    session.answer()
    name = session.get_variable("CALLERID(name)")
    entered = session.get_data("custom/enter-number", 3000, 4)
    summary = [session.script, ",".join(session.args), str(session.caller_number), str(name)]
    session.set_variable("REF_RESULT", "|".join(summary + [entered.digits, str(entered.timed_out)]))
    session.verbose('done: "quoted" \\ backslash')


REFERENCE_SCRIPT: Tuple[str, ...] = (
    "200 result=0",
    "200 result=1 (Bob \"The\" (Builder))",
    "200 result=42 (timeout)",
    "200 result=1",
    "200 result=1",
)


class _MemoryLink:
    """Reader and writer ends of an in-memory AGI connection to a fake."""

    def __init__(self, fake: FakeAsterisk) -> None:
        self._fake = fake
        self._incoming = bytearray(fake.env_bytes())
        self._outgoing = bytearray()
        self._closed = False
        self.reader = _Reader(self)
        self.writer = _Writer(self)

    def readline(self, limit: int = -1) -> bytes:
        end = self._incoming.find(b"\n") + 1 or len(self._incoming)
        if limit is not None and limit >= 0:
            end = min(end, limit)
        line = bytes(self._incoming[:end])
        del self._incoming[:end]
        return line

    def write(self, data: bytes) -> int:
        if self._closed:
            raise BrokenPipeError("fake Asterisk closed the connection")
        self._outgoing += data
        while b"\n" in self._outgoing and not self._closed:
            line, _, rest = bytes(self._outgoing).partition(b"\n")
            self._outgoing = bytearray(rest)
            reply, self._closed = self._fake.answer(line + b"\n")
            self._incoming += reply
        return len(data)


class _Reader:
    def __init__(self, link: _MemoryLink) -> None:
        self.readline = link.readline


class _Writer:
    def __init__(self, link: _MemoryLink) -> None:
        self.write = link.write

    def flush(self) -> None:
        """Nothing buffered: every write is answered at once."""


def _reply_bytes(text: str) -> bytes:
    return (text + "\n").encode("utf-8") if text else b""


def _write_flush(stream: BinaryIO, data: bytes) -> None:
    stream.write(data)
    stream.flush()
