"""A Debian 12 container booted with its own systemd, for testing the installed units live.

The machine running the tests may have no systemd as PID 1, so the tier boots
one: a debootstrapped bookworm root (systemd 252, as on a FreePBX 17 host) run
by ``systemd-nspawn -b`` with a private network (its own loopback, no route
out, so the software is installed from wheels copied in).  Commands run inside
through ``nsenter`` into the container's init.

The pristine root is built once (about five minutes) and kept as a tarball in
/var/cache/itflow-bridge-systemd/, named after its recipe: a flock serialises
builders, and the tarball appears by an atomic rename only once complete, so a
build killed halfway leaves nothing that looks usable.  Each session unpacks a
fresh copy, so tests never see another run's leftovers.

Usable as a script: ``python tests/systemd/systemd_container.py`` builds the tarball (CI runs it first).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

CACHE_DIR = Path(os.environ.get("ITFLOW_SYSTEMD_CACHE") or "/var/cache/itflow-bridge-systemd")
SUITE = "bookworm"  # systemd 252: still boots on a host with the hybrid cgroup layout
PACKAGES = ("systemd", "systemd-sysv", "dbus", "python3", "python3-venv", "iproute2", "procps")
RECIPE = f"debootstrap --variant=minbase --include={','.join(PACKAGES)} {SUITE}\n"
HOST_PACKAGES = {"debootstrap": "debootstrap", "systemd-nspawn": "systemd-container", "nsenter": "util-linux"}
BOOT_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
INSIDE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def tarball_path() -> Path:
    """The pristine root for the current recipe (a changed recipe builds a new one)."""
    digest = hashlib.sha256(RECIPE.encode()).hexdigest()[:12]
    return CACHE_DIR / f"{SUITE}-root-{digest}.tar"


@contextmanager
def build_lock() -> Iterator[None]:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / "build.lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def missing_host_tools() -> List[str]:
    """The Debian packages this machine lacks for the tier."""
    return sorted({package for tool, package in HOST_PACKAGES.items() if not shutil.which(tool)})


def install_host_tools() -> None:
    """apt-get install what is missing (systemd-container may upgrade the host's systemd within Debian 12)."""
    missing = missing_host_tools()
    if not missing:
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    command = ["apt-get", "install", "-y", "-o", "DPkg::Lock::Timeout=600", *missing]
    if subprocess.run(command, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(command, env=env, check=True)


def ensure_tarball() -> Path:
    """The pristine root's tarball, built if missing.  Needs root to build."""
    tarball = tarball_path()
    if tarball.exists():
        return tarball
    with build_lock():
        if tarball.exists():
            return tarball
        install_host_tools()
        work = CACHE_DIR / "build"
        _remove_tree(work)
        result = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), SUITE,
                                 str(work)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            tail = "\n".join(result.stdout.splitlines()[-30:])
            raise RuntimeError(f"debootstrap failed (exit {result.returncode}):\n{tail}")
        _unmount_under(work)
        (work / "etc/hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")  # minbase has none
        subprocess.run(["chroot", str(work), "apt-get", "clean"], check=True)
        partial = tarball.with_name(tarball.name + ".partial")
        subprocess.run(["tar", "-C", str(work), "--numeric-owner", "-cf", str(partial), "."], check=True)
        os.replace(partial, tarball)
        _remove_tree(work)
    return tarball


def _mounts_under(root: Path) -> List[str]:
    prefix = os.path.realpath(root) + "/"
    with open("/proc/self/mountinfo") as mountinfo:
        return [line.split()[4] for line in mountinfo if line.split()[4].startswith(prefix)]


def _unmount_under(root: Path) -> None:
    for point in reversed(_mounts_under(root)):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True)
    if _mounts_under(root):
        raise RuntimeError(f"could not unmount everything under {root}; refusing to delete it")


def _remove_tree(path: Path) -> None:
    """Delete a root, only once nothing is mounted inside (an rm -rf never reaches host files)."""
    if not os.path.lexists(path):
        return
    if len(Path(os.path.realpath(path)).parts) < 3:
        raise RuntimeError(f"refusing to delete {path}: too close to /")
    _unmount_under(path)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


class Container:
    """One booted container over a fresh copy of the pristine root."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self._nspawn: Optional[subprocess.Popen] = None
        self.init_pid = 0
        self.console = root.with_name(root.name + ".console.log")

    @classmethod
    def unpack(cls, tarball: Path, root: Path, name: str) -> "Container":
        _remove_tree(root)
        root.mkdir(parents=True)
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-xf", str(tarball)], check=True)
        return cls(root, name)

    def boot(self) -> float:
        """Boot and wait until systemd says ``running``; returns the seconds it took."""
        started = time.monotonic()
        with open(self.console, "wb") as console:
            self._nspawn = subprocess.Popen(
                ["systemd-nspawn", "-D", str(self.root), "-b", "--register=no", "--keep-unit",
                 "--private-network", "--console=read-only", "-M", self.name],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = started + BOOT_TIMEOUT
        while not self.init_pid:
            if self._nspawn.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the container did not start: {self.console.read_text(errors='replace')[-3000:]}")
            found = subprocess.run(["pgrep", "-P", str(self._nspawn.pid), "-x", "systemd"],
                                   capture_output=True, text=True).stdout.split()
            if found:
                self.init_pid = int(found[0])
            else:
                time.sleep(0.1)  # polling for the init process nspawn forks
        while True:  # systemctl can talk to systemd once its private socket exists, early in the boot
            state = self.run("systemctl", "is-system-running", "--wait", timeout=BOOT_TIMEOUT, check=False)
            if "Failed to connect to bus" not in state.stderr or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if state.stdout.strip() != "running":
            failed = self.run("systemctl", "--failed", "--no-legend", check=False).stdout
            raise RuntimeError(f"the container's systemd is {state.stdout.strip()!r}; failed units:\n{failed}")
        return time.monotonic() - started

    def run(self, *command: str, timeout: float = 300.0, check: bool = True, input: Optional[str] = None,
            env: Sequence[str] = ()) -> subprocess.CompletedProcess:
        """Run ``command`` inside, with a clean environment, as root."""
        full = ["nsenter", "-t", str(self.init_pid), "-a", "env", "-i", "PATH=" + INSIDE_PATH, "LANG=C.UTF-8",
                *env, *command]
        result = subprocess.run(full, capture_output=True, text=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n"
                                 f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def popen(self, *command: str) -> subprocess.Popen:
        """Start ``command`` inside without waiting (its output on pipes)."""
        return subprocess.Popen(["nsenter", "-t", str(self.init_pid), "-a", "env", "-i", "PATH=" + INSIDE_PATH,
                                 "LANG=C.UTF-8", *command],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def path(self, inside: str) -> Path:
        """Where a file of the container is on the host."""
        return self.root / inside.lstrip("/")

    def stop(self) -> None:
        """Power off, then remove the copy of the root."""
        if self._nspawn is not None and self._nspawn.poll() is None:
            if self.init_pid:
                subprocess.run(["nsenter", "-t", str(self.init_pid), "-a", "systemctl", "poweroff"],
                               capture_output=True, timeout=STOP_TIMEOUT)
            try:
                self._nspawn.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self._nspawn.pid, signal.SIGTERM)
                self._nspawn.wait(timeout=STOP_TIMEOUT)
        _remove_tree(self.root)


def main(argv: List[str]) -> int:
    started = time.monotonic()
    tarball = ensure_tarball()
    print(f"systemd container root ready at {tarball} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
