"""A child process's observable state: which signals it has yet to take.

Linux shows a process's pending signals in /proc/PID/status (``SigPnd`` for the
thread, ``ShdPnd`` for the process); a signal no longer pending has been taken:
its handler ran in the kernel's sense, or its default action (death) happened.
"""

from __future__ import annotations

import subprocess

from polling import wait_for


def _pending_masks(pid: int) -> int:
    try:
        with open("/proc/%d/status" % pid, encoding="ascii") as status:
            lines = status.read().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    mask = 0
    for line in lines:
        name, _, value = line.partition(":")
        if name in ("SigPnd", "ShdPnd"):
            mask |= int(value.strip(), 16)
    return mask


def wait_until_signal_taken(process: "subprocess.Popen[bytes]", signum: int) -> None:
    """Return once ``signum``, already sent, is no longer pending in ``process``."""
    bit = 1 << (signum - 1)
    wait_for(lambda: process.poll() is not None or not _pending_masks(process.pid) & bit,
             "signal %d to be taken by pid %d" % (signum, process.pid))
