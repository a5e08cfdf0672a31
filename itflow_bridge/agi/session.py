"""One AGI conversation over a binary reader/writer pair.

Classic AGI (stdin/stdout) and FastAGI (a socket) speak the same line protocol,
so it is implemented once, here: read the environment, send quoted commands,
read replies robustly (unsolicited ``HANGUP`` lines, multi-line ``520`` blocks,
EOF, timeouts) and turn every failure into the ``errors.py`` exception a
handler expects.  Handlers only ever see ``AGIHangup`` for "the caller is
gone" and ``AGICommandError`` for "Asterisk refused".
"""

from __future__ import annotations

import logging
import posixpath
import socket
import threading
from dataclasses import dataclass
from typing import BinaryIO, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

from itflow_bridge.agi.protocol import (
    MAX_COMMAND_LINE_BYTES,
    Reply,
    has_unclosed_data,
    parse_env,
    parse_reply,
    quote,
)
from itflow_bridge.core.errors import AGICommandError, AGIError, AGIHangup

logger = logging.getLogger("itflow_bridge.agi")

MAX_INPUT_LINE_BYTES = 65536
MAX_ENV_LINES = 1000
MAX_REPLY_LINES = 1000
VERBOSE_MAX_CHARS = 2000  # 4 bytes per char at worst: stays under the line limit
_HANGUP_LINE = "HANGUP"
_UNKNOWN = ("", "unknown")
_FORBIDDEN_IN_COMMAND = set('\r\n\0"\\')


@dataclass(frozen=True)
class StreamResult:
    """Outcome of STREAM FILE: the escape digit pressed, or a missing file."""

    digit: Optional[str]
    missing: bool


@dataclass(frozen=True)
class DigitsResult:
    """Outcome of GET DATA: the digits entered (maybe ``""``) and whether it timed out."""

    digits: str
    timed_out: bool


class AGISession:
    """The AGI conversation of one call; not shared between threads."""

    def __init__(
        self,
        reader: BinaryIO,
        writer: BinaryIO,
        *,
        env: Optional[Dict[str, str]] = None,
        verbose_level: int = 1,
        hangup_event: Optional[threading.Event] = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._hangup_event = hangup_event
        self._hangup_seen = False
        self._closed = False
        self.verbose_level = verbose_level
        self.env: Dict[str, str] = dict(env) if env is not None else self._read_env()
        self.args: List[str] = _numbered_args(self.env)
        self.script, self.query = _script_and_query(self.env)
        self.caller_number = _known(self.env.get("agi_callerid"))
        self.caller_name = _known(self.env.get("agi_calleridname"))
        logger.debug("AGI session: script=%r env=%r", self.script, self.env)

    @property
    def hung_up(self) -> bool:
        """True once a HANGUP line, SIGHUP, EOF or a 511 reply was seen."""
        signalled = self._hangup_event is not None and self._hangup_event.is_set()
        return self._hangup_seen or signalled

    # --- the one primitive ------------------------------------------------

    def execute(self, command: str, *args: object) -> Reply:
        """Send ``command`` with every argument quoted; return the ``200`` reply.

        Raises ``AGIHangup`` on EOF, a broken connection or ``511``;
        ``AGICommandError`` on ``510``/``520`` and other non-200 codes;
        ``AGIError`` (nothing sent) when the line would exceed res_agi's limit,
        so callers cut long values first with ``quote(value, max_bytes=...)``.
        """
        line = _command_line(command, args)
        self._send(line)
        reply = self._read_reply()
        # Digits a caller keys in may be a PIN: never log what GET DATA / WAIT FOR DIGIT returned.
        secret = command.upper().startswith(("GET DATA", "WAIT FOR DIGIT", "STREAM FILE"))
        logger.debug("AGI %s -> %d result=%s", command, reply.code, "(not logged)" if secret else repr(reply.result))
        return self._checked(reply, command)

    # --- thin helpers -----------------------------------------------------

    def answer(self) -> None:
        if self.execute("ANSWER").result_int == -1:
            raise self._hangup("ANSWER failed: the channel is gone")

    def get_variable(self, name: str) -> Optional[str]:
        return _variable_value(self.execute("GET VARIABLE", name))

    def get_full_variable(self, expr: str) -> Optional[str]:
        return _variable_value(self.execute("GET FULL VARIABLE", expr))

    def set_variable(self, name: str, value: object) -> None:
        self.execute("SET VARIABLE", name, value)

    def verbose(self, message: str, level: int = 1) -> None:
        """Log to the Asterisk console; never raises (it is only diagnostics)."""
        if level > self.verbose_level:
            return
        try:
            self.execute("VERBOSE", str(message)[:VERBOSE_MAX_CHARS], level)
        except AGIError as exc:
            logger.debug("VERBOSE not delivered: %s", exc)

    def stream_file(self, name: str, escape_digits: str = "") -> StreamResult:
        """Play a sound file; a missing file is reported, not mistaken for a hangup.

        res_agi answers ``result=-1`` both when the file cannot be opened and
        when the caller hangs up, so after ``-1`` the channel is probed.
        """
        code = self._int_result(self.execute("STREAM FILE", name, escape_digits), "STREAM FILE")
        if code > 0:
            return StreamResult(digit=chr(code), missing=False)
        if code == 0:
            return StreamResult(digit=None, missing=False)
        self._raise_if_gone("STREAM FILE")
        logger.warning("STREAM FILE could not play %r (missing sound file?)", name)
        return StreamResult(digit=None, missing=True)

    def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> DigitsResult:
        """Play ``prompt`` and collect up to ``max_digits`` DTMF digits (``#`` ends).

        ``result=-1`` means a hangup, or (on a live channel) that the prompt
        could not be played: the latter raises ``AGICommandError``.
        """
        reply = self.execute("GET DATA", prompt, timeout_ms, max_digits)
        if reply.result == "-1":
            self._raise_if_gone("GET DATA")
            raise AGICommandError("GET DATA failed on a live channel (missing prompt %r?)" % prompt)
        return DigitsResult(digits=reply.result, timed_out=reply.data == "timeout")

    def wait_for_digit(self, timeout_ms: int) -> Optional[str]:
        code = self._int_result(self.execute("WAIT FOR DIGIT", timeout_ms), "WAIT FOR DIGIT")
        if code < 0:
            raise self._hangup("WAIT FOR DIGIT: the channel hung up")
        return chr(code) if code else None

    def exec_app(self, app: str, *args: object) -> Reply:
        """Run a dialplan application; ``args`` become its comma-separated options.

        An argument containing ``,`` is refused: the application would split it.
        """
        options = [str(arg) for arg in args]
        if any("," in option for option in options):
            raise ValueError("EXEC %s: an argument contains ','" % app)
        reply = self.execute("EXEC", app, ",".join(options)) if options else self.execute("EXEC", app)
        if reply.result_int == -2:
            raise AGICommandError("no such application: %s" % app)
        return reply

    def channel_status(self) -> int:
        return self._int_result(self.execute("CHANNEL STATUS"), "CHANNEL STATUS")

    # --- reading and writing ---------------------------------------------

    def _read_env(self) -> Dict[str, str]:
        lines: List[bytes] = []
        while True:
            line = self._read_line()
            if not line.rstrip(b"\r\n"):
                return parse_env(lines)
            if len(lines) >= MAX_ENV_LINES:
                raise AGIError("AGI environment has more than %d lines" % MAX_ENV_LINES)
            lines.append(line)

    def _send(self, line: bytes) -> None:
        if self._closed:
            raise AGIHangup("the AGI connection is closed")
        try:
            self._writer.write(line + b"\n")
            self._writer.flush()
        except (OSError, ValueError) as exc:
            raise self._lost(exc) from None

    def _read_reply(self) -> Reply:
        line = self._next_reply_line()
        if line.startswith("520-"):
            return self._read_usage_block(line)
        if has_unclosed_data(line):
            line = self._read_continuation(line)
        return parse_reply(line)

    def _next_reply_line(self) -> str:
        while True:
            line = self._read_text_line()
            if line != _HANGUP_LINE:
                return line
            self._hangup_seen = True
            logger.debug("Asterisk reports a hangup")

    def _read_usage_block(self, first_line: str) -> Reply:
        lines = [first_line]
        while not lines[-1].startswith("520 "):
            if len(lines) >= MAX_REPLY_LINES:
                raise AGIError("520 usage block never ended")
            lines.append(self._read_text_line())
        usage = "\n".join(lines[1:-1])
        return Reply(code=520, result="", data=usage, endpos=None, raw="\n".join(lines))

    def _read_continuation(self, first_line: str) -> str:
        lines = [first_line]
        while ")" not in lines[-1]:
            if len(lines) >= MAX_REPLY_LINES:
                raise AGIError("reply data never closed")
            lines.append(self._read_text_line())
        return "\n".join(lines)

    def _read_text_line(self) -> str:
        return self._read_line().decode("utf-8", errors="replace").rstrip("\r\n")

    def _read_line(self) -> bytes:
        if self._closed:
            raise AGIHangup("the AGI connection is closed")
        try:
            line = self._reader.readline(MAX_INPUT_LINE_BYTES)
        except socket.timeout:
            logger.warning("no data from Asterisk within the idle timeout: closing the AGI session")
            raise self._lost(TimeoutError("idle timeout")) from None
        except (OSError, ValueError) as exc:
            raise self._lost(exc) from None
        if not line:
            raise self._lost(EOFError("Asterisk closed the AGI connection"))
        if len(line) >= MAX_INPUT_LINE_BYTES and not line.endswith(b"\n"):
            raise AGIError("a line from Asterisk is longer than %d bytes" % MAX_INPUT_LINE_BYTES)
        return line

    # --- outcomes ---------------------------------------------------------

    def _checked(self, reply: Reply, command: str) -> Reply:
        if reply.code == 200:
            return reply
        if reply.code == 511:
            raise self._hangup("%s not permitted: the channel is dead" % command)
        first_line = (reply.data or "").split("\n", 1)[0]
        raise AGICommandError(
            "Asterisk rejected %s: %d %s" % (command, reply.code, first_line), code=reply.code
        )

    def _raise_if_gone(self, command: str) -> None:
        """After a ``-1`` result: raise ``AGIHangup`` unless the channel is still up."""
        if not self.hung_up:
            self.channel_status()
        if self.hung_up:
            raise AGIHangup("%s: the channel hung up" % command)

    def _int_result(self, reply: Reply, command: str) -> int:
        value = reply.result_int
        if value is None:
            raise AGIError("%s: result is not a number: %r" % (command, reply.result))
        return value

    def _hangup(self, message: str) -> AGIHangup:
        self._hangup_seen = True
        return AGIHangup(message)

    def _lost(self, cause: BaseException) -> AGIHangup:
        self._closed = True
        return self._hangup("AGI connection lost (%s: %s)" % (type(cause).__name__, cause))


def _command_line(command: str, args: Tuple[object, ...]) -> bytes:
    if not command or _FORBIDDEN_IN_COMMAND.intersection(command):
        raise ValueError("invalid AGI command name: %r" % command)
    line = " ".join([command] + [quote(arg) for arg in args]).encode("utf-8")
    if len(line) + 1 > MAX_COMMAND_LINE_BYTES:
        raise AGIError(
            "%s: command line of %d bytes exceeds the AGI limit of %d"
            % (command, len(line) + 1, MAX_COMMAND_LINE_BYTES)
        )
    return line


def _variable_value(reply: Reply) -> Optional[str]:
    if reply.result_int != 1:
        return None
    return reply.data if reply.data is not None else ""


def _numbered_args(env: Dict[str, str]) -> List[str]:
    args: List[str] = []
    while "agi_arg_%d" % (len(args) + 1) in env:
        args.append(env["agi_arg_%d" % (len(args) + 1)])
    return args


def _script_and_query(env: Dict[str, str]) -> Tuple[str, Dict[str, str]]:
    path, _, query_string = _script_target(env).partition("?")
    return path.lstrip("/"), dict(parse_qsl(query_string, keep_blank_values=True))


def _script_target(env: Dict[str, str]) -> str:
    """``path?query`` of the script: FastAGI sends it; classic AGI has only the request."""
    network_script = env.get("agi_network_script")
    if network_script is not None:
        return network_script
    path, separator, query_string = env.get("agi_request", "").partition("?")
    path = urlsplit(path).path if "://" in path else posixpath.basename(path)
    return path + separator + query_string


def _known(value: Optional[str]) -> Optional[str]:
    if value is None or value.strip().lower() in _UNKNOWN:
        return None
    return value
