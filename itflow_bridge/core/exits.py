"""Exit codes of every command: one table, the README's, enforced by a test over every command.

Each failure prints one line on stderr (``itflow-bridge: ...``), never a
traceback; ``--verbose`` adds detail to the log, not to the message.
"""

from __future__ import annotations

import sys
from enum import IntEnum

from .errors import BridgeError, ConfigError
from .redact import redact


class Exit(IntEnum):
    OK = 0
    NO = 1  # it worked, and the answer is no: nobody matches, no such client, balance not knowable
    FAILURE = 2  # ITFlow unreachable, refused or answering nonsense; bad input; an operation that failed
    CONFIG = 3  # a setting is missing or invalid: fix the configuration (or the flag)
    INTERRUPTED = 130  # Ctrl-C
    # The reader of stdout went away (``itflow-bridge emails | head -1``): a normal end, said by no message,
    # with the status a shell gives a command SIGPIPE ends (128 + 13), as ``cat`` or ``grep`` would exit.
    CLOSED_PIPE = 141


def for_error(exc: BaseException) -> Exit:
    """The exit code a raised error means."""
    if isinstance(exc, ConfigError):
        return Exit.CONFIG
    if isinstance(exc, BridgeError):
        return Exit.FAILURE
    if isinstance(exc, KeyboardInterrupt):
        return Exit.INTERRUPTED
    return Exit.FAILURE


def fail(message: object, code: Exit = Exit.FAILURE) -> int:
    """Say what went wrong in one line on stderr; returns ``code`` for the caller to exit with."""
    text = " ".join(redact(message).split()) or "failed"
    print("itflow-bridge: %s" % text, file=sys.stderr)
    return int(code)
