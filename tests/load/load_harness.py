"""The load and abuse run: many calls at once against a slow, flaky ITFlow.

Three processes, so that what is measured is the daemon alone:

* the fake ITFlow behind ``slow_itflow`` (0..800 ms per request, 5% errors);
* the real daemon, ``itflow-bridge serve`` (``FastAGIServer`` + ``routes(Bridge)``),
  whose threads, file descriptors and RSS are sampled from ``/proc/<pid>``;
* this process, which plays Asterisk: N concurrent caller-ID sessions, each
  ``simulated_asterisk.simulate_call``, back to back until time is up.

Then the classic transport: rounds of concurrent ``agi/itflow-cid.agi``
processes (environment on stdin, commands answered by ``drive_classic``)
sharing one sqlite cache directory.

Everything listens on 127.0.0.1; every loop is bounded in time and count.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from itflow_bridge.core.config import ENV_OVERRIDES
from itflow_bridge.sample.fake_itflow import load_sample_data
from itflow_bridge.sample.simulated_asterisk import SimulatedCall, answer, environment, simulate_call, tokenize
from itflow_bridge.services.budget import WORKERS
from slow_itflow import CONTROL_PATH

LOAD_DIR = Path(__file__).resolve().parent
ROOT = LOAD_DIR.parents[1]
CID_SCRIPT = "itflow-cid.agi"
STATUS = "ITFLOW_CID_STATUS"
HOST = "127.0.0.1"

# The margin over the budget, and why 500 ms: a session is also the TCP connect, the wait in
# the accept queue, the environment block and up to five AGI round trips after the lookup
# (whose wait the budget caps, counted from the lookup's start).  Back to back, 200 sessions
# saturate the daemon (about 400 calls/s on two CPUs shared with the fake ITFlow and this
# driver, where a real 200-line PBX sets up about one call per second): the daemon's ~330
# threads then take turns at one interpreter, so a call whose budget ran out resumes some
# milliseconds late and each round trip queues.  Measured: session time minus the flow's own
# time p99 80-130 ms, max 200-410 ms; the longest session 1.70-1.83 s.  A lookup that waited
# for ITFlow's 5 s read timeout, or a call queued behind a disk write, still fails.
SESSION_MARGIN = 0.5
# "No growth" allows for what the daemon fills on demand and never beyond: its session pool (one
# thread per call in progress, kept for the next call, so it reaches the number of concurrent
# sessions), its lookup pool (``WORKERS`` threads, each keeping one pooled HTTP connection to
# ITFlow) and a few threads of its own (main, cache writer, start-up).  Sockets come and go with
# every call, so they are compared with what those pools can hold; other descriptors (files,
# sqlite, pipes) must simply stay level.  A leak of one thread or descriptor per 1,000 calls
# would add about 20 over a 60 s run; one kilobyte per call about 20 MiB.
BASE_THREADS = 6
BASE_SOCKETS = 1  # the listener
THREAD_SLACK = 5
FD_SLACK = 5
# RSS: glibc gives each thread a small cache of freed chunks (tcache, at most 7 per size class)
# that fills over minutes as each of the daemon's ~330 threads meets new allocation sizes; it is
# bounded and counts as memory in use.  Measured over 120 s: RSS +2.4 MiB after the first 36 s,
# +0.8 MiB with GLIBC_TUNABLES=glibc.malloc.tcache_count=0, while Python's own objects stayed level
# (gc object counts, sys.getallocatedblocks) and a run served from the cache stayed flat.
RSS_SLACK_MIB = 8.0
WINDOW_MAX = 10.0  # seconds compared at the start and at the end of the run
SAMPLE_EVERY = 1.0  # /proc/net/tcp holds every TIME_WAIT socket: reading it is not free
MAX_SESSIONS_PER_WORKER = 100_000
MAX_CLASSIC_COMMANDS = 100
CLASSIC_TIMEOUT = 45.0  # seconds a classic script may take, lingering included, before it is killed
ROUND_PAUSE = 6.0  # between classic rounds: late answers reach the shared cache, a cool-down (5 s) ends
START_TIMEOUT = 20.0
LOCK_ERROR = re.compile(r"locked|busy", re.IGNORECASE)
# The flow's VERBOSE line: "itflow-bridge: caller NUMBER: STATUS DETAIL (SOURCE, N ms)".
REPORTED = re.compile(r": (?:FOUND|NOTFOUND|SKIPPED|ERROR) (.*) \((cache|itflow|stale|-), (\d+) ms\)\Z")


# --- the numbers callers call from ----------------------------------------------------


def known_numbers() -> List[str]:
    """Every phone number in the sample dataset, as a trunk may present it."""
    data = load_sample_data()
    stored = [row.get(column) for table, column in (("contacts", "contact_phone"), ("contacts", "contact_mobile"),
                                                     ("locations", "location_phone"), ("vendors", "vendor_phone"))
              for row in data.get(table, [])]
    numbers = []
    for digits in filter(None, stored):
        international = "+44" + digits[1:] if digits.startswith("0") else "+1" + digits
        numbers += [digits, international]
    return numbers


@dataclass(frozen=True)
class NumberMix:
    """Who calls: numbers ITFlow knows, unknown ones from a fixed pool, and withheld ones."""

    known: Tuple[str, ...]
    unknown: Tuple[str, ...]
    withheld: Tuple[str, ...] = ("anonymous", "", "123", "Restricted")
    names: Tuple[str, ...] = ("WIRELESS CALLER", "", "Some Caller", "5551230000")

    @classmethod
    def build(cls, unknown_count: int, seed: int) -> "NumberMix":
        rng = random.Random(seed)
        unknown = {"+1212%07d" % rng.randrange(10 ** 7) for _ in range(unknown_count)}
        return cls(known=tuple(known_numbers()), unknown=tuple(sorted(unknown)))

    def pick(self, rng: random.Random) -> Tuple[str, str]:
        roll = rng.random()
        pool = self.known if roll < 0.45 else self.unknown if roll < 0.9 else self.withheld
        return rng.choice(pool), rng.choice(self.names)


# --- processes we start ---------------------------------------------------------------------


def _read_prefixed(stream, prefix: str, deadline: float) -> str:
    """The rest of the first line of ``stream`` starting with ``prefix`` (bounded by ``deadline``)."""
    for _ in range(100):
        if time.monotonic() > deadline:
            break
        line = stream.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    raise RuntimeError("no %r line from the helper process" % prefix)


@dataclass
class SlowITFlowProcess:
    process: subprocess.Popen
    url: str
    api_key: str

    @classmethod
    def start(cls, latency_max: float, error_rate: float, seed: int) -> "SlowITFlowProcess":
        """Started without injected errors: ``errors(True)`` switches them on after the warm-up."""
        command = [sys.executable, str(LOAD_DIR / "slow_itflow.py"), "--latency-max", str(latency_max),
                   "--error-rate", str(error_rate), "--seed", str(seed), "--start-quiet"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
        deadline = time.monotonic() + START_TIMEOUT
        try:
            url = _read_prefixed(process.stdout, "URL: ", deadline)
            key = _read_prefixed(process.stdout, "API key: ", deadline)
        except RuntimeError:
            process.kill()
            raise
        return cls(process, url, key)

    def errors(self, on: bool) -> None:
        with urllib.request.urlopen(self.url + CONTROL_PATH + ("on" if on else "off"), timeout=START_TIMEOUT):
            pass

    def stop(self) -> Dict[str, int]:
        """Stop it; the request counts it printed last."""
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return {}
        lines = [line for line in out.splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else {}


def write_config(path: Path, url: str, api_key: str, cache_dir: Path, budget_ms: int, ttl: int) -> Path:
    """An INI file for the bridge; short TTLs keep a mix of cached and uncached numbers all run long."""
    path.write_text(
        "[itflow]\nurl = %s\napi_key = %s\napi_mode = v1\n\n"
        "[cache]\ndir = %s\nhit_ttl = %d\nmiss_ttl = %d\nstale_grace = %d\n\n"
        "[callerid]\nbudget_ms = %d\n\n"
        "[directory]\nsync_interval = 0\n" % (url, api_key, cache_dir, ttl, ttl, ttl, budget_ms),  # every call asks
        encoding="utf-8",
    )
    return path


def bridge_env(config: Path) -> Dict[str, str]:
    """This environment for a bridge process, minus settings that would override ``config``."""
    env = {name: value for name, value in os.environ.items() if name not in ENV_OVERRIDES}
    env["ITFLOW_BRIDGE_CONFIG"] = str(config)
    return env


def _logged_port(log_path: Path, offset: int, process: subprocess.Popen, deadline: float) -> Optional[int]:
    """The port ``serve --port 0`` says it listens on, once its log says so."""
    while time.monotonic() < deadline and process.poll() is None:
        with open(log_path, "rb") as log:
            log.seek(offset)
            listening = re.search(rb"FastAGI listening on [^:\s]+:(\d+)", log.read())
        if listening:
            return int(listening.group(1))
        time.sleep(0.05)
    return None


@dataclass
class DaemonProcess:
    process: subprocess.Popen
    port: int
    log_path: Path

    @classmethod
    def start(cls, config: Path, log_path: Path) -> "DaemonProcess":
        """``itflow-bridge serve --port 0``: the daemon binds a free port itself and logs which."""
        offset = log_path.stat().st_size if log_path.exists() else 0
        command = [sys.executable, "-m", "itflow_bridge.cli", "serve", "--port", "0"]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT),
                                       env=bridge_env(config))
        port = _logged_port(log_path, offset, process, time.monotonic() + START_TIMEOUT)
        if port is not None:
            return cls(process, port, log_path)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=START_TIMEOUT)
        raise RuntimeError("the daemon did not start; see %s" % log_path)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=START_TIMEOUT)


# --- what the daemon holds ----------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One look at the daemon; connections are told apart so calls in progress are not mistaken for leaks."""

    at: float  # seconds since the load started
    threads: int
    fds: int
    socket_fds: int
    rss_mib: float
    agi_connections: int  # accepted FastAGI connections (calls in progress)
    itflow_connections: int  # HTTP connections to ITFlow (the pool)
    cpu_seconds: float

    @property
    def other_fds(self) -> int:
        return self.fds - self.socket_fds


def _socket_inodes(pid: int) -> Tuple[int, Set[int]]:
    """How many descriptors the process has, and the inodes of its sockets."""
    names = os.listdir("/proc/%d/fd" % pid)
    inodes = set()
    for name in names:
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return len(names), inodes


def _tcp_ports(inodes: Set[int]) -> List[Tuple[int, int]]:
    """(local port, remote port) of each IPv4 TCP socket among ``inodes``."""
    ports = []
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            columns = line.split()
            if int(columns[9]) in inodes:
                ports.append((int(columns[1].rsplit(":", 1)[1], 16), int(columns[2].rsplit(":", 1)[1], 16)))
    return ports


def _cpu_seconds(pid: int) -> float:
    stat = Path("/proc/%d/stat" % pid).read_text()
    columns = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(columns[11]) + int(columns[12])) / os.sysconf("SC_CLK_TCK")


def sample_process(pid: int, at: float, agi_port: int, itflow_port: int) -> Sample:
    status = Path("/proc/%d/status" % pid).read_text()
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    fds, inodes = _socket_inodes(pid)
    ports = _tcp_ports(inodes)
    agi = sum(1 for local, remote in ports if local == agi_port and remote != 0)  # not the listener
    itflow = sum(1 for _local, remote in ports if remote == itflow_port)
    return Sample(at, int(values["Threads"]), fds, len(inodes), int(values["VmRSS"].split()[0]) / 1024.0, agi,
                  itflow, _cpu_seconds(pid))


class Sampler:
    """Samples the daemon every ``SAMPLE_EVERY`` seconds on a thread of its own."""

    def __init__(self, pid: int, started: float, agi_port: int, itflow_port: int):
        self.samples: List[Sample] = []
        self._args = (pid, agi_port, itflow_port)
        self._started = started
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        pid, agi_port, itflow_port = self._args
        while not self._stop.is_set():
            try:
                self.samples.append(sample_process(pid, time.monotonic() - self._started, agi_port, itflow_port))
            except (OSError, KeyError, ValueError):
                return  # the process is gone
            self._stop.wait(SAMPLE_EVERY)


def write_samples(samples: Sequence[Sample], path: Path) -> None:
    """The daemon's samples as CSV, for a look after the run (``run-load --keep DIR``)."""
    names = [f.name for f in fields(Sample)]
    rows = [",".join(names)] + [",".join(str(getattr(sample, name)) for name in names) for sample in samples]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (whole network namespace)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return dict(zip(names.split()[1:], map(int, values.split()[1:]))).get("ListenOverflows", 0)
    return 0


# --- FastAGI sessions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionResult:
    started: float  # seconds since the load started
    duration: float  # connect to close, as the caller's side saw it
    number: str
    status: Optional[str]
    source: str
    daemon_ms: Optional[int] = None  # the flow's own time, from its VERBOSE line
    detail: str = ""  # what the flow said beside the status (the reason of an ERROR)
    error: str = ""  # why the session itself failed


def _reported(call: SimulatedCall) -> Tuple[str, str, Optional[int]]:
    """The detail, source and milliseconds the flow reported in its VERBOSE line."""
    found = [m for m in (REPORTED.search(line) for line in call.verbose) if m]
    if not found:
        return "", "?", None
    detail, source, millis = found[-1].groups()
    return detail, source, int(millis)


def one_session(address: Tuple[str, int], number: str, name: str, started: float, timeout: float) -> SessionResult:
    begin = time.monotonic()
    try:
        call = simulate_call(*address, CID_SCRIPT, caller_num=number, caller_name=name, timeout=timeout)
    except Exception as exc:
        return SessionResult(begin - started, time.monotonic() - begin, number, None, "", error=repr(exc)[:200])
    detail, source, daemon_ms = _reported(call)
    return SessionResult(begin - started, time.monotonic() - begin, number, call.variables.get(STATUS), source,
                         daemon_ms, detail)


def run_sessions(address: Tuple[str, int], mix: NumberMix, sessions: int, seconds: float, timeout: float,
                 seed: int, started: float) -> List[SessionResult]:
    """``sessions`` workers, each calling back to back until ``seconds`` are up; ramped up over 1 s."""
    results: List[SessionResult] = []
    lock = threading.Lock()
    stop_at = started + seconds

    def worker(index: int) -> None:
        rng = random.Random(seed * 100_003 + index)
        time.sleep(index / max(sessions, 1))  # calls arrive over a second, not in one instant
        for _ in range(MAX_SESSIONS_PER_WORKER):
            if time.monotonic() >= stop_at:
                return
            number, name = mix.pick(rng)
            result = one_session(address, number, name, started, timeout)
            with lock:
                results.append(result)

    threads = [threading.Thread(target=worker, args=(i,), name="caller-%d" % i, daemon=True) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, stop_at - time.monotonic()) + timeout + 5)
    with lock:
        return list(results)


# --- classic AGI processes ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassicResult:
    number: str
    status: Optional[str]
    source: str
    detail: str
    held: float  # seconds Asterisk's side was held (environment sent -> script closed stdout)
    lifetime: float  # seconds until the process exited
    returncode: Optional[int]
    lock_errors: Tuple[str, ...]
    other_stderr: Tuple[str, ...]


def drive_classic(process: subprocess.Popen, environment: bytes) -> SimulatedCall:
    """Play Asterisk on the script's pipes until it closes its stdout."""
    call = SimulatedCall()
    try:
        process.stdin.write(environment)
        process.stdin.flush()
        for raw in process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            call.commands.append(line)
            if len(call.commands) > MAX_CLASSIC_COMMANDS:
                break
            process.stdin.write((answer(tokenize(line), call, []) + "\n").encode("utf-8"))
            process.stdin.flush()
    except (BrokenPipeError, ValueError):
        pass  # the script went away: what it sent is recorded
    finally:
        try:
            process.stdin.close()
        except OSError:
            pass
    return call


def one_classic(config: Path, number: str, name: str, timeout: float) -> ClassicResult:
    begin = time.monotonic()
    process = subprocess.Popen([sys.executable, str(ROOT / "agi" / CID_SCRIPT)], env=bridge_env(config),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT))
    stderr_chunks: List[bytes] = []
    stderr_reader = threading.Thread(target=lambda: stderr_chunks.append(process.stderr.read()), daemon=True)
    stderr_reader.start()
    watchdog = threading.Timer(timeout, process.kill)  # a hung script is killed, never waited on forever
    watchdog.start()
    try:
        call = drive_classic(process, environment(CID_SCRIPT, number, name, 0))
        held = time.monotonic() - begin
        returncode = _wait_or_kill(process, timeout)
    finally:
        watchdog.cancel()
    stderr_reader.join(timeout=5)
    process.stdout.close()
    process.stderr.close()
    lines = b"".join(stderr_chunks).decode("utf-8", errors="replace").splitlines()
    detail, source, _millis = _reported(call)
    if source == "?" and call.variables.get(STATUS):
        source = "replay"  # the classic fast path replays a recorded answer: its SET VARIABLE lines, no VERBOSE
    return ClassicResult(number, call.variables.get(STATUS), source, detail, held, time.monotonic() - begin,
                         returncode, tuple(line for line in lines if LOCK_ERROR.search(line)),
                         tuple(line for line in lines if line.strip() and not LOCK_ERROR.search(line)))


def _wait_or_kill(process: subprocess.Popen, timeout: float) -> Optional[int]:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return None


def run_classic(config: Path, numbers: Sequence[Tuple[str, str]], timeout: float) -> List[ClassicResult]:
    """One process per number, all at once."""
    results: List[Optional[ClassicResult]] = [None] * len(numbers)

    def run(index: int) -> None:
        results[index] = one_classic(config, *numbers[index], timeout)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(numbers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout + 10)
    return [result for result in results if result is not None]


# --- verdicts and the summary -----------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1] if ordered else float("nan")


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


# What "no growth" compares: the level the first window reached (its max) against the last
# window's median (robust to a sample taken mid-burst), plus slack; threads and sockets may also
# grow up to what the pools hold for ``sessions`` concurrent calls, which the warm-up usually but
# not always fills.
GROWTH_MEASURES: Tuple[Tuple[str, Callable[[Sample], float], float, Callable[[int], float]], ...] = (
    ("threads", lambda s: s.threads, THREAD_SLACK, lambda sessions: BASE_THREADS + WORKERS + sessions),
    ("sockets", lambda s: s.socket_fds, FD_SLACK, lambda sessions: BASE_SOCKETS + WORKERS + sessions),
    ("other fds", lambda s: s.other_fds, FD_SLACK, lambda _sessions: 0.0),
    ("RSS MiB", lambda s: s.rss_mib, RSS_SLACK_MIB, lambda _sessions: 0.0),
)
RAW_MEASURES: Tuple[Tuple[str, Callable[[Sample], float]], ...] = (
    ("fds", lambda s: s.fds), ("calls in progress", lambda s: s.agi_connections),
    ("ITFlow connections", lambda s: s.itflow_connections),
)


@dataclass
class LoadReport:
    seconds: float
    sessions: int
    budget: float
    results: List[SessionResult]
    samples: List[Sample]
    classic: List[List[ClassicResult]] = field(default_factory=list)
    itflow_counts: Dict[str, int] = field(default_factory=dict)
    daemon_log_problems: List[str] = field(default_factory=list)
    warmup: List[SessionResult] = field(default_factory=list)  # checked for failures only
    listen_overflows: int = 0

    @property
    def window(self) -> float:
        return min(WINDOW_MAX, self.seconds / 3)

    def failed_sessions(self) -> List[SessionResult]:
        return [r for r in self.warmup + self.results if r.error or r.status is None]

    def over_budget(self, sessions: Optional[List[SessionResult]] = None) -> List[SessionResult]:
        """Sessions longer than budget + margin; by default those of the measured run (not the warm-up)."""
        chosen = self.results if sessions is None else sessions
        return [r for r in chosen if r.duration > self.budget + SESSION_MARGIN]

    def windows(self) -> Tuple[List[Sample], List[Sample]]:
        first = [s for s in self.samples if s.at <= self.window]
        last = [s for s in self.samples if s.at >= self.seconds - self.window]
        return first, last

    def checks(self) -> List[Check]:
        checks = [
            Check("sessions ran", len(self.results) >= self.sessions, "%d sessions" % len(self.results)),
            Check("no failed session", not self.failed_sessions(), _examples(self.failed_sessions())),
            Check("every session within budget + %d ms" % (SESSION_MARGIN * 1000), not self.over_budget(),
                  _examples(self.over_budget())),
            Check("daemon log has no tracebacks", not self.daemon_log_problems,
                  "; ".join(self.daemon_log_problems[:3])),
        ]
        checks += self._growth_checks()
        for number, round_results in enumerate(self.classic, 1):
            checks += _classic_checks(number, round_results)
        return checks

    def _growth_checks(self) -> List[Check]:
        first, last = self.windows()
        if not first or not last:
            return [Check("daemon sampled", False, "no samples in the first or last window")]
        checks = []
        for label, measure, slack, pool_ceiling in GROWTH_MEASURES:
            reached, now = max(map(measure, first)), _median(list(map(measure, last)))
            allowed = max(reached, pool_ceiling(self.sessions)) + slack
            checks.append(Check("no growth in daemon %s" % label, now <= allowed,
                                "first %.0f s max %.1f, last %.0f s median %.1f, allowed %.1f"
                                % (self.window, reached, self.window, now, allowed)))
        return checks


def _median(values: List[float]) -> float:
    return percentile(values, 0.5)


def _classic_checks(number: int, results: List[ClassicResult]) -> List[Check]:
    prefix = "classic round %d: " % number
    unset = [r for r in results if r.status is None]
    locks = [line for r in results for line in r.lock_errors]
    bad_exit = [r for r in results if r.returncode != 0]
    return [
        Check(prefix + "every process ran", bool(results), "%d processes" % len(results)),
        Check(prefix + "status set in every call", not unset, ", ".join(r.number for r in unset[:5])),
        Check(prefix + "no lock errors on stderr", not locks, "; ".join(locks[:3])),
        Check(prefix + "every process exited 0", not bad_exit, ", ".join(str(r.returncode) for r in bad_exit[:5])),
    ]


def _examples(results: List[SessionResult]) -> str:
    shown = ["%s %.0f ms %s" % (r.number or "''", r.duration * 1000, r.error or r.status) for r in results[:3]]
    return "%d: %s" % (len(results), "; ".join(shown)) if results else "none"


def daemon_log_problems(log_path: Path) -> List[str]:
    """Lines of the daemon's log that say something crashed."""
    text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    return [line for line in text.splitlines() if "Traceback" in line or " crashed" in line or "ERROR" in line]


def _counts(values: Sequence[Optional[str]]) -> str:
    return ", ".join("%s %d" % (key or "none", count) for key, count in Counter(values).most_common())


def _spread(values: Sequence[float]) -> str:
    return "p50 %.0f, p99 %.0f, max %.0f" % (percentile(values, 0.5), percentile(values, 0.99),
                                             max(values, default=float("nan")))


def _session_lines(report: LoadReport, latency_max: float, error_rate: float) -> List[str]:
    results = report.results
    timed = [r for r in results if r.daemon_ms is not None]
    cpu = report.samples[-1].cpu_seconds - report.samples[0].cpu_seconds if len(report.samples) > 1 else 0.0
    return [
        "FastAGI: %d concurrent sessions for %.0f s against `itflow-bridge serve`; fake ITFlow 0-%d ms, %.0f%% errors"
        % (report.sessions, report.seconds, latency_max * 1000, error_rate * 100),
        "  warm-up without injected errors (fills the daemon's lookup pool): %d sessions, over budget %d, ms %s"
        % (len(report.warmup), len(report.over_budget(report.warmup)),
           _spread([r.duration * 1000 for r in report.warmup])),
        "  sessions %d (%.0f/s), failed %d (warm-up included), over budget %d (budget %d ms + %d ms)"
        % (len(results), len(results) / report.seconds, len(report.failed_sessions()), len(report.over_budget()),
           report.budget * 1000, SESSION_MARGIN * 1000),
        "  status: %s" % _counts([r.status for r in results]),
        "  source: %s" % _counts([r.source for r in results if r.status]),
        "  ERROR because: %s" % _counts([r.detail[:60] for r in results if r.status == "ERROR"]),
        "  session ms (caller side): %s" % _spread([r.duration * 1000 for r in results]),
        "  flow ms (daemon's VERBOSE): %s" % _spread([float(r.daemon_ms) for r in timed]),
        "  transport ms (caller side - flow): %s" % _spread([r.duration * 1000 - r.daemon_ms for r in timed]),
        "  daemon CPU %.1f s (%.0f%% of one core, %.2f ms per session); listen queue overflows %d"
        % (cpu, 100 * cpu / report.seconds, 1000 * cpu / max(len(results), 1), report.listen_overflows),
        "  ITFlow requests: %s" % ", ".join("%s %d" % item for item in sorted(report.itflow_counts.items())),
    ]


def _sample_lines(report: LoadReport) -> List[str]:
    first, last = report.windows()
    if not first or not last:
        return []
    lines = ["  daemon                               first %.0f s max   last %.0f s median   (last max)"
             % (report.window, report.window)]
    for label, measure in RAW_MEASURES + tuple((label, measure) for label, measure, _slack, _cap in GROWTH_MEASURES):
        lines.append("  %-36s %12.1f %17.1f %12.1f" % (label, max(map(measure, first)),
                                                        _median(list(map(measure, last))), max(map(measure, last))))
    return lines


def _classic_lines(number: int, results: List[ClassicResult]) -> List[str]:
    held = [r.held * 1000 for r in results]
    lines = [
        "Classic AGI round %d: %d concurrent agi/%s processes, one shared sqlite cache" % (number, len(results),
                                                                                            CID_SCRIPT),
        "  status: %s" % _counts([r.status for r in results]),
        "  source: %s" % _counts([r.source for r in results]),
        "  ERROR because: %s" % _counts([r.detail[:60] for r in results if r.status == "ERROR"]),
        "  held ms: %s; lifetime max %.1f s; lock errors %d; exit!=0 %d"
        % (_spread(held), max((r.lifetime for r in results), default=0.0),
           sum(len(r.lock_errors) for r in results), sum(1 for r in results if r.returncode != 0)),
    ]
    stray = Counter(line.split(": ", 1)[-1][:90] for r in results for line in r.other_stderr)
    return lines + ["  stderr x%d: %s" % (count, text) for text, count in stray.most_common(3)]


def summary(report: LoadReport, latency_max: float, error_rate: float) -> str:
    lines = _session_lines(report, latency_max, error_rate) + _sample_lines(report)
    for number, results in enumerate(report.classic, 1):
        lines += _classic_lines(number, results)
    checks = report.checks()
    lines += ["%s  %s (%s)" % ("PASS" if c.passed else "FAIL", c.name, c.detail) for c in checks]
    lines.append("RESULT: %s" % ("PASS" if all(c.passed for c in checks) else "FAIL"))
    return "\n".join(lines)


# --- the whole run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSettings:
    seconds: float = 60.0
    sessions: int = 200
    classic: int = 50
    classic_rounds: int = 2
    latency_max: float = 0.8
    error_rate: float = 0.05
    budget_ms: int = 1500
    warmup: float = 3.0  # seconds of load before the measured run, without injected errors
    ttl: int = 4
    unknown_numbers: int = 2000
    seed: int = 6


def _fastagi_phase(settings: LoadSettings, itflow: SlowITFlowProcess, mix: NumberMix, workdir: Path,
                   progress: Callable[[str], None]) -> LoadReport:
    """Warm-up without injected errors (it fills the lookup pool), then the measured run with them."""
    budget = settings.budget_ms / 1000.0
    config = write_config(workdir / "daemon.conf", itflow.url, itflow.api_key, workdir / "cache-daemon",
                          settings.budget_ms, settings.ttl)
    daemon = DaemonProcess.start(config, workdir / "daemon.log")
    address = (HOST, daemon.port)
    try:
        progress("FastAGI warm-up: %d sessions for %.0f s on port %d" % (settings.sessions, settings.warmup,
                                                                         daemon.port))
        warmup = run_sessions(address, mix, settings.sessions, settings.warmup, budget + 10.0, settings.seed + 1,
                              time.monotonic())
        itflow.errors(True)
        progress("FastAGI: %d sessions for %.0f s" % (settings.sessions, settings.seconds))
        overflows = listen_overflows()
        started = time.monotonic()
        with Sampler(daemon.process.pid, started, daemon.port, int(itflow.url.rsplit(":", 1)[1])) as sampler:
            results = run_sessions(address, mix, settings.sessions, settings.seconds, budget + 10.0, settings.seed,
                                   started)
        overflows = listen_overflows() - overflows
    finally:
        daemon.stop()
    report = LoadReport(settings.seconds, settings.sessions, budget, results, sampler.samples, warmup=warmup,
                        listen_overflows=overflows)
    report.daemon_log_problems = daemon_log_problems(daemon.log_path)
    write_samples(sampler.samples, workdir / "daemon-samples.csv")
    return report


def run_load(settings: LoadSettings, workdir: Path, progress: Callable[[str], None] = lambda _text: None) -> LoadReport:
    """Run the FastAGI load, then the classic rounds; ``workdir`` receives configs, caches and the daemon log."""
    mix = NumberMix.build(settings.unknown_numbers, settings.seed)
    itflow = SlowITFlowProcess.start(settings.latency_max, settings.error_rate, settings.seed)
    try:
        report = _fastagi_phase(settings, itflow, mix, workdir, progress)
        config = write_config(workdir / "classic.conf", itflow.url, itflow.api_key, workdir / "cache-classic",
                              settings.budget_ms, 3600)
        rng = random.Random(settings.seed)
        callers = [mix.pick(rng) for _ in range(settings.classic)]
        for number in range(settings.classic_rounds):  # the same callers again: answers come from the shared cache
            if number:
                time.sleep(ROUND_PAUSE)
            progress("classic round %d: %d processes" % (number + 1, settings.classic))
            report.classic.append(run_classic(config, callers, CLASSIC_TIMEOUT))
    finally:
        counts = itflow.stop()
    report.itflow_counts = counts
    return report
