"""Build, once, the Debian sid chroot that gives the e2e tests a real Asterisk 22.

Debian 12 ships no Asterisk, so the tests debootstrap sid (about a minute, ~500 MB)
and keep the result under /var/cache across sessions.  Several pytest sessions or CI
jobs may start at once, and a build can be killed halfway: a flock serialises
builders, and a marker file written last says the root is complete (its content is
the recipe, so changing the recipe rebuilds).  Deleting a half-built root is only
done after every mount under it is gone, so an ``rm -rf`` never reaches host files.

Usable as a script: ``python tests/e2e/asterisk_root.py [ROOT]`` (CI runs it first).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

DEFAULT_ROOT = Path("/var/cache/itflow-bridge-e2e/asterisk-sid")
ROOT_ENV = "ITFLOW_E2E_ROOT"
SUITE = "sid"
# libexpat1: Debian's own python3 binary links it, and the classic-AGI tests may run
# the host's Python (bind-mounted) inside the chroot.
PACKAGES = ("asterisk", "asterisk-core-sounds-en-gsm", "libexpat1")
RECIPE = f"debootstrap --variant=minbase {SUITE} {','.join(PACKAGES)}\n"
MARKER_NAME = ".itflow-e2e-complete"
# Asterisk's packaged dirs belong to the chroot's asterisk uid, which is some other
# user on the host; Asterisk runs as root (-U root) and must own them.
ASTERISK_DIRS = (
    "etc/asterisk",
    "var/lib/asterisk",
    "var/log/asterisk",
    "var/spool/asterisk",
    "var/cache/asterisk",
    "run/asterisk",
)
AGI_DIR = "var/lib/asterisk/agi-bin"


def default_root() -> Path:
    """The root to use: $ITFLOW_E2E_ROOT, else the shared cache path."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def lock_path(root: Path) -> Path:
    """The lock file beside (never inside) the root, so rebuilding keeps it."""
    return root.with_name(root.name + ".lock")


@contextmanager
def root_lock(root: Path, timeout: Optional[float] = None) -> Iterator[None]:
    """Hold the root's exclusive flock; wait at most ``timeout`` seconds (None: forever)."""
    path = lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock_file:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path} is held by another process (an e2e session or build)") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def is_complete(root: Path) -> bool:
    """True when the marker holds the current recipe."""
    try:
        return (root / MARKER_NAME).read_text() == RECIPE
    except OSError:
        return False


def _unescape_mountinfo(field: str) -> str:
    """Mount points in mountinfo escape space, tab, newline and backslash as octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts_under(root: Path) -> List[str]:
    """Mount points strictly inside ``root``, in the order they were mounted."""
    prefix = str(Path(os.path.realpath(root))) + "/"
    with open("/proc/self/mountinfo") as mountinfo:
        points = [_unescape_mountinfo(line.split()[4]) for line in mountinfo]
    return [point for point in points if point.startswith(prefix)]


def unmount_all_under(root: Path) -> None:
    """Unmount everything inside ``root``, newest first; lazily if busy.  Raises if any stays."""
    for point in reversed(mounts_under(root)):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True)
    left = mounts_under(root)
    if left:
        raise RuntimeError(f"could not unmount {left}; refusing to touch {root}")


def _remove_root(root: Path) -> None:
    """Delete a half-built root, but only once nothing is mounted inside it."""
    resolved = Path(os.path.realpath(root))
    if len(resolved.parts) < 3:
        raise RuntimeError(f"refusing to delete {resolved}: too close to /")
    unmount_all_under(resolved)
    subprocess.run(["rm", "-rf", "--one-file-system", str(resolved)], check=True)


def _ensure_debootstrap() -> str:
    """Path of debootstrap, installing the Debian package if it is missing."""
    found = shutil.which("debootstrap")
    if found:
        return found
    install = ["apt-get", "install", "-y", "debootstrap"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    found = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not os.access(found, os.X_OK):
        raise RuntimeError("debootstrap is still missing after apt-get install")
    return found


def _debootstrap(root: Path) -> None:
    command = [
        _ensure_debootstrap(),
        "--variant=minbase",
        "--include=" + ",".join(PACKAGES),
        SUITE,
        str(root),
    ]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-30:])
        raise RuntimeError(f"debootstrap failed (exit {result.returncode}):\n{tail}")
    # debootstrap mounts proc/sys inside the target itself; make sure none is left.
    unmount_all_under(root)


def _own_asterisk_dirs(root: Path) -> None:
    (root / AGI_DIR).mkdir(parents=True, exist_ok=True)
    for relative in ASTERISK_DIRS:
        directory = root / relative
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(["chown", "-R", "root:root", str(directory)], check=True)


def _write_marker(root: Path) -> None:
    marker = root / MARKER_NAME
    with open(marker, "w") as marker_file:
        marker_file.write(RECIPE)
        marker_file.flush()
        os.fsync(marker_file.fileno())


def build_root(root: Path) -> None:
    """Build a fresh root at ``root`` (which must not exist), marker last."""
    root.parent.mkdir(parents=True, exist_ok=True)
    _debootstrap(root)
    _own_asterisk_dirs(root)
    subprocess.run(["chroot", str(root), "apt-get", "clean"], check=True)
    _write_marker(root)


def ensure_root(path: Optional[Path] = None) -> Path:
    """Return a complete Asterisk root at ``path`` (default: ``default_root()``), building it if needed.

    Idempotent and safe to call from concurrent processes; a half-built or outdated
    root is deleted and rebuilt.  Needs root privileges to build.
    """
    root = Path(os.path.abspath(path or default_root()))
    if is_complete(root):
        return root
    with root_lock(root):
        if is_complete(root):
            return root
        if os.geteuid() != 0:
            raise PermissionError(f"building the Asterisk root {root} needs root")
        if os.path.lexists(root):
            _remove_root(root)
        build_root(root)
    return root


def main(argv: List[str]) -> int:
    started = time.monotonic()
    root = ensure_root(Path(argv[1]) if len(argv) > 1 else None)
    print(f"Asterisk root ready at {root} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
