"""Logging set-up shared by the CLI, the daemon and the classic AGI scripts.

Logs go to stderr (journald picks them up under systemd; Asterisk shows a
classic script's stderr on its console), always through the redacting filter.
"""

from __future__ import annotations

import logging
import sys
from typing import Optional, TextIO

from .redact import install_log_filter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str = "INFO", *, stream: Optional[TextIO] = None, fmt: str = FORMAT) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    install_log_filter(handler)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # its retry warnings are noise
    return handler
