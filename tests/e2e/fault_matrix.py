"""Machinery for test_fault_matrix.py: many independent cases on one real Asterisk, side by side.

The matrix is about two hundred calls; one after another they would take far longer than
CI allows, so every case gets its own fake ITFlow and its own bridge and the cases run
concurrently.  For FastAGI that is one ``itflow-bridge serve`` per case.  The classic
scripts read one config file per chroot, so each case gets a directory in agi-bin with
two small ``sh`` wrappers that set ``ITFLOW_BRIDGE_CONFIG`` to the case's file, send the
script's stderr to the case's own file (it would otherwise land, unattributed, in
Asterisk's stdout; a case can keep it there), and ``exec`` the scripts exactly as
``itflow-bridge install-agi`` writes them (same PID, so Asterisk's SIGHUP still reaches
Python).

It also adds to the fake ITFlow the two answers the matrix needs that it cannot give
on its own (a 405, and bytes that are not UTF-8, as PHP would send them), gives a
case a resolver that knows nothing (so a DNS failure never sends a packet beyond
loopback), and reads Asterisk's verbose log back into dialplan steps.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from asterisk_harness import AGI_BASE_DIR, AsteriskHarness, CallWithRequests, bridge_sections
from faulty_itflow import FaultyITFlow
from itflow_bridge.sample.fake_itflow import LOGIN_PATH, FakeITFlow
from itflow_bridge.sample.php import php_json_encode
from itflow_bridge.sample.wire import JSON_TYPE

MATRIX_API_KEY = "fmKey7c2e9a41d0b3f6"  # distinctive, so a leak anywhere is found by a plain grep
RAW_BYTE_MARK = "<0xFF>"  # in fake.data: sent as the byte 0xFF (not UTF-8), as PHP echoes raw bytes
CHROOT_CACHES = "var/cache/itflow-bridge-e2e"  # emptied by the launcher fixture (conftest)
CLASSIC_DIR = f"{AGI_BASE_DIR}/fault-matrix"
CLASSIC_CONFIGS = "/etc/itflow-bridge/fault-matrix"
CLASSIC_LOGS = "/var/log/itflow-bridge-fault-matrix"
ASTERISK_STDOUT = "var/log/asterisk/stdout.log"  # where the harness keeps Asterisk's stdout and stderr
ROUTES = ("itflow-cid.agi", "itflow-balance.agi")
# 'Executing [exten@context:priority] App("channel", ...' in Asterisk's verbose log.
DIALPLAN_STEP = re.compile(r'Executing \[(?P<exten>[^@\]]+)@(?P<context>[^:\]]+):(?P<priority>\d+)\] '
                           r'(?P<app>\w+)\("(?P<channel>[^"]+)"')
RUN_LEG = ";2"  # of the harness's Local channel: the half that runs the code under test
# The caller-ID flow's VERBOSE line: "itflow-bridge: caller N: STATUS detail (source, 12 ms)".
LOOKUP_LINE = re.compile(r"itflow-bridge: caller (?P<number>\S+): (?P<status>[A-Z]+) (?P<detail>.*) "
                         r"\((?P<source>[a-z]+|-), (?P<ms>\d+) ms\)")
# With "agi set debug on" Asterisk logs every line of the AGI conversation.
AGI_RECEIVED = re.compile(r"AGI Rx << (?P<line>.*)$", re.MULTILINE)
AGI_REFUSED = re.compile(r"AGI Tx >> (?P<code>510|520)[ -]")
AGI_COMMANDS = ("ANSWER", "CHANNEL STATUS", "EXEC ", "GET DATA ", "GET FULL VARIABLE ", "GET VARIABLE ", "NOOP",
                "SET VARIABLE ", "STREAM FILE ", "VERBOSE ", "WAIT FOR DIGIT ")
LOG_STAMP = re.compile(r"^\[(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\]")
PLAYING = re.compile(r"<(?P<channel>[^>]+)> Playing '(?P<file>[^'.]+)\.")
CALLER_GONE = re.compile(r"exited non-zero on '[^']*;1'")  # the caller's leg ended: it hung up
GSM_BYTES_PER_SECOND = 1650  # 33-byte frames of 20 ms
GET_ONLY_405 = php_json_encode({"success": "False", "message": "Can only send GET requests to this endpoint."})
# A resolver that knows nothing: nothing listens on 127.0.0.1:53, so every lookup fails at once.
EMPTY_RESOLVER = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"

Sections = Dict[str, Dict[str, str]]


# --- the fake ITFlow, with two more answers ------------------------------------------


class MatrixITFlow(FaultyITFlow):
    """The fake ITFlow, plus a 405 on every request and raw 0xFF bytes (see the module doc).

    ``method_not_allowed``: the JSON API's own 405 answer to each request, as when a proxy
    in front of ITFlow rewrites the method.  ``RAW_BYTE_MARK`` in any text of ``data``
    becomes the byte 0xFF in a legacy body (PHP echoes what the database holds); a JSON
    body that would contain it is empty, because PHP's ``json_encode`` fails on invalid
    UTF-8 and ``echo false`` prints nothing.
    """

    def __init__(self, *, method_not_allowed: bool = False, **kwargs: Any) -> None:
        super().__init__(api_key=MATRIX_API_KEY, **kwargs)
        self.method_not_allowed = method_not_allowed

    def _answer(self, request: Any) -> Any:  # the fake's one seam: every reply passes here
        reply = super()._answer(request)
        if reply is None:
            return None
        if self.method_not_allowed and request.path != LOGIN_PATH:
            return replace(reply, status=405, body=GET_ONLY_405.encode("ascii"), content_type=JSON_TYPE)
        mark = RAW_BYTE_MARK.encode("ascii")
        if mark not in reply.body:
            return reply
        if reply.content_type == JSON_TYPE:
            return replace(reply, body=b"")
        return replace(reply, body=reply.body.replace(mark, b"\xff"))


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server-side TLS context with a fresh self-signed certificate for 127.0.0.1."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


# --- bridges that can run side by side ------------------------------------------------


def empty_resolver_prefix(resolv_conf: Path) -> List[str]:
    """A command prefix that runs a program in its own mount namespace with ``resolv_conf`` as resolver."""
    script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "empty-resolver", str(resolv_conf)]


class FastAGIBridge:
    """``itflow-bridge serve`` for one case; ``restart()`` starts a new process on the same cache."""

    def __init__(self, launcher, fake: FakeITFlow, mode: str, overrides: Mapping[str, Mapping[str, str]],
                 workdir: Path, prefix: Sequence[str] = ()) -> None:
        self._launcher = launcher
        self._fake = fake
        self._mode = mode
        self._overrides = {**overrides, "cache": {**overrides.get("cache", {}), "dir": str(workdir / "cache")}}
        self._workdir = workdir
        self._prefix = list(prefix)
        self._logs: List[str] = []
        self.pids: List[int] = []
        self._daemon = self._start()

    @property
    def agi_base(self) -> str:
        return self._daemon.agi_base

    def restart(self) -> None:
        self._stop_daemon()
        self._daemon = self._start()

    def log(self) -> str:
        return "".join(self._logs) + (self._daemon.output() if self._daemon is not None else "")

    def stop(self) -> None:
        self._stop_daemon()

    def _start(self):
        daemon = self._launcher.daemon(self._fake, self._mode, self._overrides,
                                       self._workdir / f"daemon{len(self.pids)}", self._prefix)
        self.pids.append(daemon.process.pid)
        return daemon

    def _stop_daemon(self) -> None:
        if self._daemon is not None:
            self._daemon.stop()
            self._logs.append(self._daemon.output())
            self._daemon = None


class ClassicBridge:
    """The shipped classic scripts for one case, behind its two wrappers (see the module doc).

    With ``own_stderr`` False the scripts' stderr goes to Asterisk's stdout as shipped, and
    the case's log is the lines there that name its ITFlow URL (its port is unique).
    """

    def __init__(self, asterisk: AsteriskHarness, fake: FakeITFlow, mode: str,
                 overrides: Mapping[str, Mapping[str, str]], name: str, own_stderr: bool = True) -> None:
        self.pids: List[int] = []  # no process outlives a call
        self._root = asterisk.root
        self._url = fake.url
        self.agi_base = f"{CLASSIC_DIR}/{name}"
        self._config = f"{CLASSIC_CONFIGS}/{name}.conf"
        self._stderr = f"{CLASSIC_LOGS}/{name}.log" if own_stderr else None
        self._asterisk_stdout = self._root / ASTERISK_STDOUT
        self._stdout_offset = size_of(self._asterisk_stdout)
        cache = f"/{CHROOT_CACHES}/fault-matrix-{name}"
        shutil.rmtree(self._host(cache), ignore_errors=True)  # a fresh cache, as every case has
        write_config(self._host(self._config), bridge_sections(fake, mode, cache, overrides))
        wrappers = self._host(self.agi_base)
        wrappers.mkdir(parents=True, exist_ok=True)
        redirect = f"exec 2>>{self._stderr}\n" if self._stderr else ""
        for route in ROUTES:
            wrapper = wrappers / route
            wrapper.write_text(
                "#!/bin/sh\n"
                f"ITFLOW_BRIDGE_CONFIG={self._config}\nexport ITFLOW_BRIDGE_CONFIG\n"
                f"{redirect}exec {CLASSIC_DIR}/shipped/{route} \"$@\"\n")
            wrapper.chmod(0o755)

    def restart(self) -> None:
        """Nothing runs between calls: every call is a new process already."""

    def log(self) -> str:
        if self._stderr is None:
            printed = read_from(self._asterisk_stdout, self._stdout_offset)
            return "".join(line for line in printed.splitlines(keepends=True) if self._url in line)
        path = self._host(self._stderr)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """The scripts are removed with the whole matrix (``ClassicArea.remove``)."""

    def _host(self, inside: str) -> Path:
        return self._root / inside.lstrip("/")


def write_config(path: Path, sections: Sections) -> None:
    """The INI file, mode 600 (it holds the API key)."""
    parser = configparser.ConfigParser(interpolation=None)
    for name, values in sections.items():
        parser[name] = values
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        parser.write(handle)


class ClassicArea:
    """Where the classic cases live in the chroot: the shipped scripts once, an empty resolver."""

    def __init__(self, asterisk: AsteriskHarness, resolv_conf: Path) -> None:
        self._root = asterisk.root
        asterisk.install_classic_agi()  # mounts our Python into the chroot (read-only)
        shipped = self._root / CLASSIC_DIR.lstrip("/") / "shipped"
        shipped.mkdir(parents=True, exist_ok=True)  # install-agi never creates an agi-bin
        subprocess.run(
            [sys.executable, "-m", "itflow_bridge.cli", "install-agi", "--dest", str(shipped), "--owner", ""],
            check=True, capture_output=True, env=_env_without_bridge_settings())
        (self._root / CLASSIC_LOGS.lstrip("/")).mkdir(parents=True, exist_ok=True)
        # The chroot's own resolver, for as long as the matrix runs: only the DNS case resolves names.
        self._resolver = self._root / "etc/resolv.conf"
        subprocess.run(["mount", "--bind", str(resolv_conf), str(self._resolver)], check=True)

    def remove(self) -> None:
        subprocess.run(["umount", str(self._resolver)], check=False, capture_output=True)
        for inside in (CLASSIC_DIR, CLASSIC_CONFIGS, CLASSIC_LOGS):
            shutil.rmtree(self._root / inside.lstrip("/"), ignore_errors=True)


def _env_without_bridge_settings() -> Dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("ITFLOW_")}


# --- one case, played --------------------------------------------------------------------


Call = CallWithRequests  # one finished call and the ITFlow requests made while it ran


@dataclass
class Outcome:
    """A finished case: its calls by label, the bridge's log, what its script noted."""

    calls: Dict[str, Call]
    bridge_log: str
    notes: Dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, label: str) -> Call:
        return self.calls[label]


class Player:
    """What a case's script uses: place calls, reach the fake and the bridge."""

    def __init__(self, asterisk: AsteriskHarness, fake: MatrixITFlow, bridge) -> None:
        self.fake = fake
        self.bridge = bridge
        self.calls: Dict[str, Call] = {}
        self.notes: Dict[str, Any] = {}
        self._asterisk = asterisk

    def call(self, label: str, target: str, *, caller: Optional[str], caller_name: Optional[str] = None,
             dtmf: str = "", hangup_after: Optional[float] = None, timeout: float = 45.0) -> Call:
        before = len(self.fake.requests)
        result = self._asterisk.call(target, caller_num=caller, caller_name=caller_name,
                                     agi_base=self.bridge.agi_base, dtmf=dtmf, hangup_after=hangup_after,
                                     timeout=timeout)
        self.calls[label] = Call(result, self.fake.requests[before:])
        return self.calls[label]


# --- reading what Asterisk logged ----------------------------------------------------------


def dialplan_steps(log: str) -> List[Tuple[str, int, str]]:
    """(context, priority, application) of every step the code-under-test leg executed, in order."""
    return [(match.group("context"), int(match.group("priority")), match.group("app"))
            for match in DIALPLAN_STEP.finditer(log) if match.group("channel").endswith(RUN_LEG)]


def steps_after_agi(log: str, context: str) -> List[Tuple[str, int, str]]:
    """The dialplan steps executed after ``context``'s AGI() step (empty if it never ran)."""
    steps = dialplan_steps(log)
    positions = [index for index, (where, _priority, app) in enumerate(steps) if where == context and app == "AGI"]
    return steps[positions[-1] + 1:] if positions else []


def agi_commands(log: str) -> List[str]:
    """Every line the bridge sent Asterisk during the call (needs AGI debug on)."""
    return [match.group("line") for match in AGI_RECEIVED.finditer(log)]


def agi_refusals(log: str) -> List[str]:
    """Asterisk's 510/520 answers: a command it did not know, or could not parse."""
    return [match.group("code") for match in AGI_REFUSED.finditer(log)]


def lookup_lines(log: str) -> List[Dict[str, str]]:
    """The caller-ID flow's VERBOSE lines as Asterisk printed them (not as AGI debug echoes the command)."""
    printed = (line for line in log.splitlines() if "AGI Rx << " not in line)
    return [match.groupdict() for match in map(LOOKUP_LINE.search, printed) if match]


def plays(log: str) -> List[Tuple[float, str]]:
    """(log time, file) of every file the code-under-test leg started to play."""
    found = []
    for line in log.splitlines():
        match, stamp = PLAYING.search(line), LOG_STAMP.match(line)
        if match and stamp and match.group("channel").endswith(RUN_LEG):
            found.append((_log_time(stamp), match.group("file")))
    return found


def caller_gone_at(log: str) -> float:
    """Log time at which the caller's leg hung up."""
    return next(_log_time(LOG_STAMP.match(line)) for line in log.splitlines() if CALLER_GONE.search(line))


def sound_seconds(language_dir: Path, name: str) -> float:
    """How long a sound file plays (its GSM version: every prompt here has one)."""
    return (language_dir / f"{name}.gsm").stat().st_size / GSM_BYTES_PER_SECOND


def _log_time(stamp: "re.Match[str]") -> float:
    return datetime.strptime(stamp.group("stamp"), "%Y-%m-%d %H:%M:%S.%f").timestamp()


def read_from(path: Path, offset: int) -> str:
    """A file's text from byte ``offset`` on ("" if it does not exist)."""
    if not path.exists():
        return ""
    with open(path, "rb") as stream:
        stream.seek(offset)
        return stream.read().decode("utf-8", errors="replace")


def size_of(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


class Lanes:
    """Runs jobs on a fixed number of threads, in the order given (put the longest first).

    ``lanes[name]`` waits for that job and returns its result or raises its error.
    """

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._results: Dict[str, Any] = {}
        self._errors: Dict[str, BaseException] = {}
        self._done: Dict[str, threading.Event] = {}
        self._queue: List[Tuple[str, Callable[[], Any]]] = []
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []

    def start(self, jobs: Sequence[Tuple[str, Callable[[], Any]]]) -> None:
        self._queue = list(jobs)
        self._done = {name: threading.Event() for name, _job in jobs}
        self._threads = [threading.Thread(target=self._work, name=f"fault-matrix-{number}", daemon=True)
                         for number in range(self._workers)]
        for thread in self._threads:
            thread.start()

    def __getitem__(self, name: str) -> Any:
        if not self._done[name].wait(timeout=900):
            raise TimeoutError(f"case {name!r} did not finish")
        if name in self._errors:
            raise self._errors[name]
        return self._results[name]

    def names(self) -> List[str]:
        return list(self._done)

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                name, job = self._queue.pop(0)
            try:
                self._results[name] = job()
            except BaseException as error:  # handed to the test that asks for this case
                self._errors[name] = error
            finally:
                self._done[name].set()
