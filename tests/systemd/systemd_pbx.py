"""The PBX the systemd tier installs on: a booted container with an Asterisk tree, release bundles and
a fake ITFlow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

from itflow_bridge.prompts import STOCK_PROMPTS
from systemd_container import Container

SYSTEMD_DIR = Path(__file__).resolve().parent
SAMPLE_DIR = SYSTEMD_DIR.parents[1] / "itflow_bridge/sample"

VENV = "/opt/itflow-bridge/venv"  # install.sh's default, which the README's install command relies on
BRIDGE = VENV + "/bin/itflow-bridge"
FAKE_VENV = "/opt/fake-itflow/venv"  # its own venv, so upgrading the bridge's never pulls files from under it
FAKE_PORT = 8080
FAKE_URL = "http://127.0.0.1:%d" % FAKE_PORT
FAKE_KEY = "sample-key-d8f3b2a9c1e0"
FASTAGI_PORT = 4573
KNOWN_CALLER = "+15551234567"  # a contact's phone in the sample data
CLIENT_DIR = "/root/agi-client"
BUNDLE_DIR = "/root"  # where the admin copies a bundle and unpacks it
STATE_TIMEOUT = 60.0

# A FreePBX 17-like Asterisk tree: the installer reads the layout from asterisk.conf.
ASTERISK_CONF = """\
[directories]
astetcdir => /etc/asterisk
astagidir => /var/lib/asterisk/agi-bin
astdatadir => /var/lib/asterisk
astvarlibdir => /var/lib/asterisk
astspooldir => /var/spool/asterisk
astrundir => /var/run/asterisk
astlogdir => /var/log/asterisk

[options]
runuser = asterisk
rungroup = asterisk
"""
ASTERISK_FILES = {
    "/etc/asterisk/asterisk.conf": ASTERISK_CONF,
    "/etc/asterisk/extensions.conf": "[globals]\n#include globals_custom.conf\n\n#include extensions_custom.conf\n",
    "/etc/asterisk/extensions_custom.conf": "; This file is for your own dialplan: FreePBX includes it and never edits it.\n",
    "/etc/asterisk/globals_custom.conf": "",
    "/etc/freepbx.conf": "<?php\n// FreePBX bootstrap (marker for the installer)\n",
}
ASTERISK_DIRS = ("/var/lib/asterisk/agi-bin", "/var/lib/asterisk/sounds/en", "/var/spool/asterisk",
                 "/var/log/asterisk", "/var/run/asterisk")
# What install and uninstall may touch; uninstall must leave it as it was.
WATCHED = ("/etc/asterisk", "/etc/freepbx.conf", "/etc/systemd/system", "/etc/itflow-bridge",
           "/var/lib/asterisk", "/var/lib/itflow-bridge", "/var/cache/itflow-bridge")



def bumped(version: str) -> str:
    """The next version after ``version`` (last number + 1): what an upgrade installs."""
    parts = version.split(".")
    return ".".join(parts[:-1] + [str(int(parts[-1]) + 1)])


class PBX:
    """A booted Debian 12 with an Asterisk tree, the bridge's release bundles and a fake ITFlow."""

    def __init__(self, container: Container, bundles: Dict[str, Path]) -> None:
        self.container = container
        self.bundles = bundles  # version -> bundle tarball on the host; the first is installed first

    # --- setting up --------------------------------------------------------------------

    def prepare(self) -> None:
        run = self.container.run
        run("useradd", "--system", "--user-group", "--home-dir", "/home/asterisk", "--create-home",
            "--shell", "/usr/sbin/nologin", "asterisk")
        for directory in ASTERISK_DIRS:
            run("install", "-d", "-o", "asterisk", "-g", "asterisk", "-m", "0755", directory)
        for inside, text in ASTERISK_FILES.items():
            path = self.container.path(inside)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            run("chown", "asterisk:asterisk", inside)
            run("chmod", "0664", inside)
        for name in STOCK_PROMPTS:  # stand-ins for Asterisk's core sounds, which FreePBX ships
            stub = self.container.path("/var/lib/asterisk/sounds/en/%s.gsm" % name)
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_bytes(b"")
        run("chown", "-R", "asterisk:asterisk", "/var/lib/asterisk/sounds")
        assert self.routes_out() == [], "the container must have no network: the bundle installs offline"
        for tarball in self.bundles.values():  # copied over, as onto a PBX with no network
            shutil.copyfile(tarball, self.container.path(BUNDLE_DIR + "/" + tarball.name))
        client = self.container.path(CLIENT_DIR)
        client.mkdir(parents=True)
        for source in (SYSTEMD_DIR / "agi_client.py", SAMPLE_DIR / "simulated_asterisk.py"):
            client.joinpath(source.name).write_text(source.read_text())
        self.install_bundle(next(iter(self.bundles)), "--venv", FAKE_VENV)
        run("systemd-run", "--unit=fake-itflow", "--property=Type=exec", FAKE_VENV + "/bin/python",
            "-m", "itflow_bridge.sample", "--port", str(FAKE_PORT))
        self.wait_listening(FAKE_PORT)

    def install_bundle(self, version: str, *args: str) -> subprocess.CompletedProcess:
        """As the README says: unpack the bundle of ``version``, run its ``install.sh ARGS``."""
        tarball = self.bundles[version].name
        self.container.run("tar", "-xzf", BUNDLE_DIR + "/" + tarball, "-C", BUNDLE_DIR)
        return self.container.run("%s/itflow-bridge-%s/install.sh" % (BUNDLE_DIR, version), *args)

    # --- observing ---------------------------------------------------------------------

    def routes_out(self) -> List[str]:
        """The container's IPv4 and IPv6 routes through any interface but loopback."""
        routes = self.container.run("cat", "/proc/net/route", "/proc/net/ipv6_route").stdout.splitlines()
        return [line for line in routes if line.split() and line.split()[0] not in ("Iface", "lo")
                and line.split()[-1] != "lo"]

    def install(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.container.run(BRIDGE, "install", *args, check=check)

    def show(self, unit: str, prop: str) -> str:
        return self.container.run("systemctl", "show", "-P", prop, unit).stdout.strip()

    def main_process(self) -> Tuple[str, str]:
        """The daemon's (MainPID, ExecMainStartTimestamp): both change when it restarts."""
        return self.show("itflow-bridge.service", "MainPID"), self.show("itflow-bridge.service",
                                                                       "ExecMainStartTimestamp")

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float = STATE_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for " + what)
            time.sleep(0.1)  # polling systemd's state

    def wait_listening(self, port: int) -> None:
        self.wait_for("port %d to listen" % port, lambda: self.container.run(
            "ss", "-Hltn", "sport = :%d" % port).stdout.strip() != "")

    def call(self, number: str = KNOWN_CALLER, port: int = FASTAGI_PORT) -> Dict[str, str]:
        """One FastAGI caller-ID call from inside the container; the variables it set."""
        result = self.container.run("python3", CLIENT_DIR + "/agi_client.py", "call", str(port), number)
        return dict(json.loads(result.stdout))

    @contextmanager
    def calls_every_10ms(self, outcome: dict) -> Iterator[None]:
        """Calls placed all along the block; ``outcome`` gets their counts once the last one ended."""
        stop_file = "/root/stop-calling"
        self.container.path(stop_file).unlink(missing_ok=True)
        client = self.container.popen("python3", CLIENT_DIR + "/agi_client.py", "hammer", str(FASTAGI_PORT),
                                      KNOWN_CALLER, stop_file)
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "started", client.stderr.read() if client.stderr else ""
        try:
            yield
        finally:
            self.container.path(stop_file).write_text("")
            out, err = client.communicate(timeout=120)
            assert client.returncode == 0, err
            outcome.update(json.loads(out))

    def snapshot(self) -> Dict[str, Tuple]:
        """Every watched path: type, owner, mode and content (or link target)."""
        found: Dict[str, Tuple] = {}
        for top in WATCHED:
            base = self.container.path(top)
            paths: List[Path] = [base] + sorted(base.rglob("*")) if os.path.lexists(base) else []
            for path in paths:
                info = path.lstat()
                if path.is_symlink():
                    content: object = os.readlink(path)
                elif path.is_file():
                    content = path.read_bytes()
                else:
                    content = None
                found["/" + str(path.relative_to(self.container.root))] = (
                    info.st_mode, info.st_uid, info.st_gid, content)
        return found

    def journal(self, unit: str) -> List[Dict[str, str]]:
        out = self.container.run("journalctl", "-u", unit, "-o", "json", "--output-fields=PRIORITY,MESSAGE").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def analyze(self, *args: str) -> subprocess.CompletedProcess:
        return self.container.run("systemd-analyze", *args, check=False)

    def describe(self) -> str:
        """What to print when an assertion about the units fails."""
        return self.container.run("sh", "-c", "systemctl status --no-pager 'itflow-bridge*'; "
                                  "journalctl --no-pager -n 80 -u 'itflow-bridge*'", check=False).stdout
