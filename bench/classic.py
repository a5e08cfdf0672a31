"""Figure 2: a classic AGI script answering from the warm cache, installed as a PBX has it.

Asterisk forks the agi-bin script for every call, so what a call pays is the
whole process: interpreter start, imports, the AGI conversation, exit.  The
figure measures it in a normal (non-editable) virtualenv built from this
checkout, with the scripts written by that venv's ``itflow-bridge install-agi``
(what an admin runs).  Its floor is the same venv's interpreter doing nothing
(``python -c pass``), run the same way (pipes, environment), interleaved run for
run.  The development venv's figures (an editable install, whose import hooks
make ``python -c pass`` itself slower) are reported as a note only.

Bytecode: pip compiles the installed modules, as on a PBX; the cost without
any bytecode (an empty PYTHONPYCACHEPREFIX, nothing written) is reported too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from harness import CID_SCRIPT, ROOT, RemoteFake, Row, bounded, config_env, mean, percentile, require
from itflow_bridge.sample.simulated_asterisk import environment

SCRIPT = ROOT / "agi" / "itflow-cid.agi"
HIT_NUMBER = "+15551234567"  # John Smith, Acme Corp, in the sample data
CANNED_REPLY = b"200 result=1\n"
PROCESS_TIMEOUT = 30.0
MAX_COMMANDS = 1000
NO_BYTECODE_RUNS = 5
IMPORT_TOP = 12
BYTECODE_VARIABLES = ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
HEAVY_MODULES = ("requests", "urllib3", "phonenumbers", "itflow_bridge.itflow.site", "itflow_bridge.flows.balance_ivr")


def classic_environment(number: str) -> bytes:
    """The env block for ``AGI(itflow-cid.agi)``: the simulated Asterisk's (a script ignores its agi_network lines)."""
    return environment(CID_SCRIPT, number, "", 0)


def run_process(argv: Sequence[str], env: Dict[str, str], stdin_block: bytes = b"",
                stderr_path: Optional[Path] = None) -> Tuple[float, List[str]]:
    """Start ``argv``, play Asterisk on its pipes (canned replies), wait; (ms, commands)."""
    stderr = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
    commands: List[str] = []
    try:
        began = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=stderr, env=env, cwd="/")
        watchdog = threading.Timer(PROCESS_TIMEOUT, proc.kill)
        watchdog.start()
        try:
            _converse(proc, stdin_block, commands)
            proc.wait()
        finally:
            watchdog.cancel()
        elapsed_ms = (time.perf_counter() - began) * 1000.0
    finally:
        if stderr_path:
            stderr.close()
    require(proc.returncode == 0, "%s exited with %s" % (argv[-1], proc.returncode))
    return elapsed_ms, commands


def _converse(proc: subprocess.Popen, stdin_block: bytes, commands: List[str]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    try:
        if stdin_block:
            proc.stdin.write(stdin_block)
            proc.stdin.flush()
        for raw in proc.stdout:
            commands.append(raw.decode("utf-8", errors="replace").rstrip("\n"))
            if len(commands) > MAX_COMMANDS:
                break
            proc.stdin.write(CANNED_REPLY)
            proc.stdin.flush()
    except BrokenPipeError:
        pass  # the script closed its stdin (it detaches after the call)
    finally:
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except BrokenPipeError:
                pass


def cid_status(commands: Sequence[str]) -> Optional[str]:
    prefix = 'SET VARIABLE "ITFLOW_CID_STATUS" "'
    for line in commands:
        if line.startswith(prefix):
            return line[len(prefix):].rstrip('"')
    return None


def child_env(fake, workdir: Path, bytecode: Optional[bool]) -> Dict[str, str]:
    """``bytecode``: None uses what is installed; True writes it to a private prefix; False: none at all."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("ITFLOW_") and name not in BYTECODE_VARIABLES}
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "bench.conf"
    conf.write_text("", encoding="utf-8")
    env.update(config_env(fake, "v1", workdir, conf))
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    elif bytecode is False:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "no-bytecode")  # empty: installed .pyc are not looked at
    return env


def parse_importtime(stderr_text: str) -> List[Tuple[int, int, int, str]]:
    """``-X importtime`` lines as (self us, cumulative us, depth, module)."""
    entries = []
    for line in stderr_text.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        entries.append((int(self_us), int(cumulative_us), depth, name.strip()))
    return entries


def import_profile(env: Dict[str, str], workdir: Path, script: Sequence[str]) -> List[str]:
    """Detail lines: what the hit path imports beyond ``python -c pass``, by origin and slowest."""
    script_log, pass_log = workdir / "importtime-script.txt", workdir / "importtime-pass.txt"
    timed = dict(env, PYTHONPROFILEIMPORTTIME="1")
    _, commands = run_process(list(script), timed, classic_environment(HIT_NUMBER), script_log)
    require(cid_status(commands) == "FOUND", "importtime run: not a cache hit")
    run_process([sys.executable, "-X", "importtime", "-c", "pass"], env, stderr_path=pass_log)
    startup = {name for _, _, _, name in parse_importtime(pass_log.read_text(encoding="utf-8"))}
    entries = [entry for entry in parse_importtime(script_log.read_text(encoding="utf-8", errors="replace"))
               if entry[3] not in startup]
    names = {name for _, _, _, name in entries}
    by_origin: Dict[str, int] = {}
    for self_us, _, _, name in entries:
        by_origin[_origin(name)] = by_origin.get(_origin(name), 0) + self_us
    lines = ["-X importtime, beyond what python -c pass imports: %d modules, %.1f ms (%s)" % (
        len(entries), sum(by_origin.values()) / 1000.0,
        ", ".join("%s %.1f ms" % (origin, us / 1000.0)
                  for origin, us in sorted(by_origin.items(), key=lambda item: -item[1])))]
    lines.append("modules a caller-ID cache hit should not need, loaded: %s"
                 % (", ".join(m for m in HEAVY_MODULES if m in names) or "none"))
    lines.append("slowest of them (self ms, cumulative ms, module):")
    top = sorted(entries, key=lambda entry: entry[0], reverse=True)[:IMPORT_TOP]
    lines += ["  %5.1f  %5.1f  %s" % (s / 1000.0, c / 1000.0, name) for s, c, _, name in top]
    return lines


def _origin(module: str) -> str:
    top = module.split(".")[0]
    if top == "itflow_bridge":
        return "itflow_bridge"
    stdlib = getattr(sys, "stdlib_module_names", None)  # Python >= 3.10
    if stdlib is None:
        return "other"
    return "stdlib" if top in stdlib or top.lstrip("_") in stdlib else "third-party/site"


PBX_VENV = ROOT / ".bench-pbx-venv"  # rebuilt when the package's sources change
TARGET = 1.3


def pbx_venv() -> Path:
    """A normal virtualenv with this checkout pip-installed (not editable), as on a PBX."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "itflow_bridge").rglob("*")) + [ROOT / "pyproject.toml"]:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    stamp = PBX_VENV / ".source-digest"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return PBX_VENV
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PBX_VENV)], check=True)
    built = subprocess.run([str(PBX_VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                            "--disable-pip-version-check", str(ROOT)], capture_output=True, text=True,
                           cwd=str(PBX_VENV))
    require(built.returncode == 0, "pip install of the checkout failed:\n" + built.stderr[-2000:])
    stamp.write_text(digest.hexdigest())
    return PBX_VENV


def installed_script(venv: Path, workdir: Path) -> Path:
    """The caller-ID script exactly as ``itflow-bridge install-agi`` of that venv writes it."""
    agi_bin = workdir / "agi-bin"
    agi_bin.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(venv / "bin" / "itflow-bridge"), "install-agi", "--dest", str(agi_bin), "--owner", ""],
                   check=True, capture_output=True)
    return agi_bin / "itflow-cid.agi"


def _interleaved(script: Sequence[str], floor: Sequence[str], env: Dict[str, str], env_block: bytes,
                 runs: int, seconds: float) -> Tuple[List[float], List[float]]:
    script_ms, floor_ms = [], []
    for _ in bounded(runs, seconds):
        elapsed, commands = run_process(script, env, env_block)
        require(cid_status(commands) == "FOUND", "classic call: status %r" % cid_status(commands))
        script_ms.append(elapsed)
        floor_ms.append(run_process(floor, env)[0])
    return script_ms, floor_ms


def classic_cache_hit(workdir: Path, runs: int, seconds: float) -> List[Row]:
    venv = pbx_venv()
    python = str(venv / "bin" / "python")
    script = installed_script(venv, workdir)
    env_block = classic_environment(HIT_NUMBER)
    with RemoteFake() as fake:
        env = child_env(fake, workdir, bytecode=None)
        _, warm = run_process([str(script)], env, env_block, workdir / "warm.log")
        require(cid_status(warm) == "FOUND", "warm-up call: status %r, see %s" % (cid_status(warm), workdir))
        run_process([python, "-c", "pass"], env)
        asked = fake.count()
        script_ms, pass_ms = _interleaved([str(script)], [python, "-c", "pass"], env, env_block, runs, seconds)
        require(fake.count() == asked, "classic cache hits asked ITFlow")

        cold_env = child_env(fake, workdir, bytecode=False)
        cold = [run_process([str(script)], cold_env, env_block)[0] for _ in range(NO_BYTECODE_RUNS)]
        cold_pass = [run_process([python, "-c", "pass"], cold_env)[0] for _ in range(NO_BYTECODE_RUNS)]
        # The development checkout, for comparison: editable install, the repository's agi/ script.
        dev_env = child_env(fake, workdir / "editable", bytecode=True)
        run_process([sys.executable, str(SCRIPT)], dev_env, env_block)
        dev_script, dev_pass = _interleaved([sys.executable, str(SCRIPT)], [sys.executable, "-c", "pass"], dev_env,
                                            env_block, min(runs, 10), seconds)
        details = import_profile(env, workdir, [str(script)])
    ratio = percentile(script_ms, 0.5) / percentile(pass_ms, 0.5)
    details.insert(0, "%d runs each, interleaved; means: script %.1f ms, python -c pass %.1f ms (%s)"
                   % (len(script_ms), mean(script_ms), mean(pass_ms), venv.name))
    details.insert(1, "without any bytecode (empty PYTHONPYCACHEPREFIX, none written): script p50 %.1f ms, "
                      "python -c pass p50 %.1f ms" % (percentile(cold, 0.5), percentile(cold_pass, 0.5)))
    details.insert(2, "note, the editable development venv: script p50 %.1f ms against its python -c pass "
                      "p50 %.1f ms (%.2fx; its import hooks slow the floor itself)"
                   % (percentile(dev_script, 0.5), percentile(dev_pass, 0.5),
                      percentile(dev_script, 0.5) / percentile(dev_pass, 0.5)))
    return [Row(
        "2", "classic AGI cache hit", "v1",
        "p50 %.1f / p99 %.1f ms" % (percentile(script_ms, 0.5), percentile(script_ms, 0.99)),
        "pip-installed venv: python -c pass p50 %.1f ms" % percentile(pass_ms, 0.5),
        "%.2fx" % ratio, "<= %.1fx (p50)" % TARGET, ratio <= TARGET, details)]
