"""Logging set-up shared by the CLI, the daemon and the classic AGI scripts.

Logs go to stderr, always through the redacting filter.  Under systemd the
daemon's stderr is the journal (``journalctl -u itflow-bridge``): journald
stamps each line itself and reads a ``<N>`` prefix as its priority, so there
lines carry no time of their own and start with the level's priority.
Elsewhere (a terminal, Asterisk's console for a classic script) lines carry
their time and level name.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Mapping, Optional, TextIO

from .redact import install_log_filter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(name)s: %(message)s"
# sd-daemon(3) priorities: err, warning, info, debug (CRITICAL is logged as err).
_PRIORITIES = ((logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
_DEBUG_PRIORITY = 7


def journal_priority(levelno: int) -> int:
    """The syslog priority journald files a record of this level under."""
    for threshold, priority in _PRIORITIES:
        if levelno >= threshold:
            return priority
    return _DEBUG_PRIORITY


class JournalFormatter(logging.Formatter):
    """Every line (a traceback's too) prefixed with ``<priority>``, no timestamp: journald adds its own."""

    def __init__(self, fmt: str = JOURNAL_FORMAT) -> None:
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        prefix = "<%d>" % journal_priority(record.levelno)
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


def writes_to_journal(stream: TextIO, environ: Optional[Mapping[str, str]] = None) -> bool:
    """True when ``stream`` is the journal systemd connected (``$JOURNAL_STREAM`` names its device:inode)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # no real file behind it (a test's StringIO)
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


def setup_logging(level: str = "INFO", *, stream: Optional[TextIO] = None, fmt: str = FORMAT) -> logging.Handler:
    target = stream or sys.stderr
    handler = logging.StreamHandler(target)
    journal = fmt == FORMAT and writes_to_journal(target)
    handler.setFormatter(JournalFormatter() if journal else logging.Formatter(fmt))
    install_log_filter(handler)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # its retry warnings are noise
    return handler
