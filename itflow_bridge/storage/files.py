"""Files several processes share: the cache directory and what the bridge creates in it.

The cache is used by whoever runs first: ``check`` as root, the daemon as the
Asterisk user, a classic script as whatever user Asterisk runs it as.  The
installer makes the directory the Asterisk user's, group-writable and setgid;
every file the bridge creates there is then read-write for that group whoever
creates it (SQLite gives its -wal and -shm files the database file's mode, and
their owner too when it runs as root).
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Optional, Sequence

SHARED_FILE_MODE = 0o660


def create_shared_file(path: Path) -> None:
    """Create ``path`` empty if it is missing: mode 0660 whatever the umask, group of its directory."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SHARED_FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, SHARED_FILE_MODE)
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # root's files would be root's group otherwise
            os.fchown(fd, -1, os.stat(path.parent).st_gid)
    finally:
        os.close(fd)


def write_problem(directory: Path, names: Sequence[str] = ()) -> Optional[str]:
    """Why the current user cannot use ``directory`` (and the files ``names`` in it) read-write, or None."""
    user = _user()
    if not directory.exists():
        return "%s does not exist" % directory
    if not directory.is_dir():
        return "%s is not a directory" % directory
    if not os.access(directory, os.W_OK | os.X_OK):
        return "%s is not writable by %s" % (directory, user)
    for name in names:
        path = directory / name
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            return "%s is not writable by %s" % (path, user)
    return None


def _user() -> str:
    try:
        return "user %s" % getpass.getuser()
    except (KeyError, OSError):
        return "uid %d" % os.getuid()
