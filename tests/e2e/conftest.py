"""Fixtures for the real-Asterisk e2e tests.

One Asterisk per pytest session (booting is cheap, building the chroot is not and is
cached by asterisk_root).  The tests need root for chroot and mounts; without it
they fail loudly instead of skipping, so a CI that lost root cannot go green by
silently running nothing.  ITFLOW_E2E=skip is the explicit opt-out.

The product runs as shipped: the FastAGI transport is a real ``itflow-bridge serve``
subprocess, the classic transport is the scripts ``itflow-bridge install-agi`` writes,
run by Asterisk inside the chroot.  Both talk to a fresh fake ITFlow per test, with a
fresh cache, so no test sees another's cached answers, cool-downs or failure counts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Sequence

import pytest

from ami_recorder import AMIRecorder
from asterisk_harness import AsteriskHarness, bridge_sections
from asterisk_root import ensure_root
from itflow_bridge.install.asterisk_layout import resolve_in
from itflow_bridge.prompts import install_prompts
import fake_writes
from faulty_itflow import FaultyITFlow

E2E_DIR = Path(__file__).resolve().parent
SKIP_ENV = "ITFLOW_E2E"
DAEMON_BOOT_TIMEOUT = 15.0
DAEMON_STOP_TIMEOUT = 5.0
# Inside the chroot: Asterisk's data dir is /usr/share/asterisk (see the harness's asterisk.conf).
CHROOT_SOUNDS = "usr/share/asterisk/sounds"
CHROOT_CACHE_PARENT = "var/cache/itflow-bridge-e2e"  # emptied at the start and end of a session
BRIDGE_PROCESS_EXIT_TIMEOUT = 5.0
# Added latency per call, gathered across tests for the README's table.
LATENCY_REPORT = Path(tempfile.gettempdir()) / "itflow-bridge-e2e-latency.json"
# Environment variables that would override the config file a bridge process is given.
BRIDGE_ENV_OVERRIDES = ("ITFLOW_URL", "ITFLOW_API_KEY", "ITFLOW_API_MODE", "ITFLOW_BRIDGE_CACHE_DIR")

_timings: Dict[str, float] = {}
_latencies: Dict[str, float] = {}

Sections = Dict[str, Dict[str, str]]


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_privileges() -> None:
    """Skip on explicit request, fail without root (chroot and mount need it)."""
    if os.environ.get(SKIP_ENV) == "skip":
        pytest.skip(f"{SKIP_ENV}=skip: real-Asterisk tests disabled on purpose")
    if os.geteuid() != 0:
        pytest.fail(
            "the e2e tests need root (chroot, mount) to run a real Asterisk; "
            f"run pytest as root, or set {SKIP_ENV}=skip to leave them out on purpose",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def asterisk(e2e_privileges: None) -> Iterator[AsteriskHarness]:
    """A running Asterisk 22 with our dialplan loaded, shared by the whole session."""
    started = time.monotonic()
    root = ensure_root()
    _timings["root ready"] = time.monotonic() - started
    harness = AsteriskHarness(root)
    _timings["Asterisk start"] = harness.start()
    try:
        yield harness
    finally:
        harness.stop()


# --- ITFlow ----------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FaultyITFlow]:
    """A fake ITFlow speaking both API generations, fresh data and no fault, for one test."""
    server = FaultyITFlow(writes=fake_writes).start()
    try:
        yield server
    finally:
        server.stop()


def write_ini(path: Path, sections: Sections) -> None:
    lines: List[str] = []
    for name, values in sections.items():
        lines += [f"[{name}]"] + [f"{key} = {value}" for key, value in values.items()] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)


# --- the FastAGI daemon ------------------------------------------------------------


def _clean_env() -> Dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in BRIDGE_ENV_OVERRIDES}


class Daemon:
    """One ``itflow-bridge serve`` subprocess; its stderr log is kept for the test to read."""

    def __init__(self, config_path: Path, log_path: Path, prefix: Sequence[str] = ()) -> None:
        """``prefix``: a command that runs the daemon (e.g. ``unshare ...`` for its own resolver)."""
        self.log_path = log_path
        self.port = 0  # the daemon picks a free port itself and says which: no race for a just-freed one
        env = dict(_clean_env(), ITFLOW_BRIDGE_CONFIG=str(config_path))
        with open(log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                [*prefix, sys.executable, "-m", "itflow_bridge.cli", "serve", "--port", "0"],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )
        self.agi_base = ""

    def wait_ready(self) -> float:
        started = time.monotonic()
        while time.monotonic() - started < DAEMON_BOOT_TIMEOUT:
            if self.process.poll() is not None:
                raise RuntimeError(f"itflow-bridge serve exited with {self.process.returncode}:\n{self.output()}")
            listening = re.search(r"FastAGI listening on 127\.0\.0\.1:(\d+)", self.output())
            if listening:
                self.port = int(listening.group(1))
                self.agi_base = f"agi://127.0.0.1:{self.port}"
                return time.monotonic() - started
            time.sleep(0.02)
        raise RuntimeError(f"itflow-bridge serve did not start in {DAEMON_BOOT_TIMEOUT} s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=DAEMON_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_daemon(fake: FaultyITFlow, mode: str, overrides: Sections, workdir: Path,
                 prefix: Sequence[str] = ()) -> Daemon:
    """A ready ``itflow-bridge serve`` pointed at ``fake``, its config, cache and log in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "itflow-bridge.conf"
    write_ini(config_path, bridge_sections(fake, mode, str(workdir / "cache"), overrides))
    process = Daemon(config_path, workdir / "daemon.log", prefix)
    try:
        seconds = process.wait_ready()
        _timings["daemon start (slowest)"] = max(seconds, _timings.get("daemon start (slowest)", 0.0))
    except BaseException:
        process.stop()
        raise
    return process


def assert_clean_log(text: str, fake: FaultyITFlow) -> None:
    """A bridge's log never shows the API key, and never a traceback (every failure is handled)."""
    assert fake.api_key not in text, "the API key leaked into a log"
    assert "Traceback" not in text, text


# --- the classic scripts -------------------------------------------------------------


class ClassicInstall:
    """The classic scripts in the chroot's agi-bin, configured for one fake ITFlow.

    The chroot has one config file, so only one install may be active at a time.
    """

    def __init__(self, asterisk: AsteriskHarness, fake: FaultyITFlow, mode: str, overrides: Sections) -> None:
        self._asterisk = asterisk
        inside = f"/{CHROOT_CACHE_PARENT}/{uuid.uuid4().hex[:12]}"
        self.cache_dir = asterisk.root / inside.lstrip("/")
        self.config_path = asterisk.write_bridge_config(bridge_sections(fake, mode, inside, overrides))
        self.agi_base = asterisk.install_classic_agi()  # mounts the interpreter and checkout
        # Then the scripts exactly as the shipped installer writes them.
        subprocess.run(
            [sys.executable, "-m", "itflow_bridge.cli", "--config", str(self.config_path), "install-agi",
             "--dest", str(asterisk.root / self.agi_base.lstrip("/")), "--owner", ""],
            check=True, capture_output=True, env=_clean_env(),
        )

    def remove(self) -> None:
        self.config_path.unlink(missing_ok=True)
        shutil.rmtree(self.cache_dir, ignore_errors=True)


class Launcher:
    """Starts the product for tests that manage lifetimes themselves (e.g. a batch of concurrent calls)."""

    def __init__(self, asterisk: AsteriskHarness) -> None:
        self._asterisk = asterisk

    def daemon(self, fake: FaultyITFlow, mode: str, overrides: Sections, workdir: Path,
               prefix: Sequence[str] = ()) -> Daemon:
        return start_daemon(fake, mode, overrides, workdir, prefix)

    def classic(self, fake: FaultyITFlow, mode: str, overrides: Sections) -> ClassicInstall:
        return ClassicInstall(self._asterisk, fake, mode, overrides)

    def asterisk_stdout_size(self) -> int:
        path = self._asterisk_stdout_path()
        return path.stat().st_size if path.exists() else 0

    def asterisk_stdout_since(self, offset: int) -> str:
        """Asterisk's stdout/stderr from ``offset`` on: a classic script's stderr lands there."""
        with open(self._asterisk_stdout_path(), "rb") as stream:
            stream.seek(offset)
            return stream.read().decode("utf-8", errors="replace")

    def _asterisk_stdout_path(self) -> Path:
        return self._asterisk.root / "var/log/asterisk/stdout.log"

    def wait_for_bridge_processes(self, timeout: float = BRIDGE_PROCESS_EXIT_TIMEOUT) -> List[int]:
        """Wait until no itflow-bridge process runs in the chroot (classic scripts, refreshers); the rest."""
        deadline = time.monotonic() + timeout
        while self._bridge_processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self._bridge_processes()

    def _bridge_processes(self) -> List[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                inside = entry.name.isdigit() and os.readlink(entry / "root") == str(self._asterisk.root)
                if inside and b"itflow" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile, or not ours to read
                continue
        return found


# --- the bridge, as tests start it ------------------------------------------------


@pytest.fixture(scope="session")
def launcher(asterisk: AsteriskHarness) -> Iterator[Launcher]:
    caches = asterisk.root / CHROOT_CACHE_PARENT
    shutil.rmtree(caches, ignore_errors=True)
    yield Launcher(asterisk)
    shutil.rmtree(caches, ignore_errors=True)


@pytest.fixture
def daemon(fake: FaultyITFlow, tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """``daemon(mode, **sections)`` -> a running ``itflow-bridge serve`` pointed at ``fake``."""
    started: List[Daemon] = []

    def start(mode: str, **overrides: Dict[str, str]) -> Daemon:
        started.append(start_daemon(fake, mode, overrides, tmp_path / f"daemon{len(started)}"))
        return started[-1]

    yield start
    fake.stop()  # first, so that no daemon waits on a black-holed request before it can exit
    for process in started:
        process.stop()
    for process in started:
        assert_clean_log(process.output(), fake)


@pytest.fixture
def classic(launcher: Launcher, fake: FaultyITFlow) -> Iterator[Callable[..., str]]:
    """``classic(mode, **sections)`` -> the agi-bin dir of the installed scripts, config pointing at ``fake``."""
    installs: List[ClassicInstall] = []
    log_start = launcher.asterisk_stdout_size()

    def start(mode: str, **overrides: Dict[str, str]) -> str:
        installs.append(launcher.classic(fake, mode, overrides))
        return installs[-1].agi_base

    yield start
    fake.stop()  # a detached refresher still waiting on ITFlow now fails at once
    outliving = launcher.wait_for_bridge_processes()
    for install in installs:
        install.remove()
    assert outliving == [], "itflow-bridge processes outlived the test and ITFlow"
    if installs:  # the scripts' stderr lands in Asterisk's stdout
        assert_clean_log(launcher.asterisk_stdout_since(log_start), fake)


@pytest.fixture
def bridge(daemon: Callable[..., Daemon], classic: Callable[..., str]) -> Callable[..., str]:
    """``bridge(transport, mode, **sections)`` -> the ITFLOW_AGI value for a call through that transport."""

    def start(transport: str, mode: str, **overrides: Dict[str, str]) -> str:
        if transport == "fastagi":
            return daemon(mode, **overrides).agi_base
        if transport == "classic":
            return classic(mode, **overrides)
        raise ValueError(f"unknown transport {transport!r}")

    return start


@pytest.fixture
def asterisk_stdout(launcher: Launcher) -> Callable[[], str]:
    """What Asterisk's stdout/stderr received since the test began (a classic script's stderr lands there)."""
    start = launcher.asterisk_stdout_size()
    return lambda: launcher.asterisk_stdout_since(start)


# --- prompts -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prompts(asterisk: AsteriskHarness) -> Iterator[Path]:
    """Our sound files installed where the chroot's Asterisk finds ``itflow/*`` (removed afterwards).

    The chroot's ``sounds/en`` is an absolute symlink (to en_US_f_Allison via
    /etc/alternatives) that means nothing on the host, so the files are installed by
    ``install_prompts`` into a staging ``en`` dir and moved into the resolved language dir.
    """
    language_dir = resolve_in(asterisk.root, f"/{CHROOT_SOUNDS}/en")
    target = language_dir / "itflow"
    if target.exists():
        shutil.rmtree(target)
    with tempfile.TemporaryDirectory() as staging:
        installed = install_prompts(Path(staging) / "en", "en")
        shutil.copytree(installed[0].parent, target)
    try:
        yield target
    finally:
        shutil.rmtree(target, ignore_errors=True)


# --- latency figures -----------------------------------------------------------------


@pytest.fixture(scope="session")
def latency_report() -> Iterator[Callable[[str, float], None]]:
    """``record(name, seconds)``: kept in LATENCY_REPORT and printed in the summary."""
    yield _latencies.__setitem__
    if _latencies:
        milliseconds = {name: round(seconds * 1000, 1) for name, seconds in sorted(_latencies.items())}
        LATENCY_REPORT.write_text(json.dumps(milliseconds, indent=2) + "\n")


def pytest_terminal_summary(terminalreporter) -> None:
    if _timings:
        summary = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in _timings.items())
        terminalreporter.write_line(f"e2e harness: {summary}")
    if _latencies:
        terminalreporter.write_line(f"e2e latency per call (ms), also in {LATENCY_REPORT}:")
        for name, seconds in sorted(_latencies.items()):
            terminalreporter.write_line(f"  {name}: {seconds * 1000:.0f}")


@pytest.fixture(scope="module")
def recorder(asterisk: AsteriskHarness) -> Iterator[AMIRecorder]:
    """The harness as the recording PBX of the call fixtures (manager, CDR, voicemail, queue, scenarios)."""
    ami = AMIRecorder(asterisk)
    ami.enable()
    yield ami
