"""Drive a real Asterisk 22 (in the chroot built by asterisk_root) for the e2e tests.

The tests must see what a PBX really does with our dialplan and AGI handlers, so the
harness runs the packaged Asterisk with a minimal config, places calls over Local
channels (no SIP needed), and reads the outcome from two places Asterisk itself
writes: astdb (variables the e2e dialplan records before and after the code under
test) and the verbose log (which files the caller heard).

Per-call inputs go into astdb family ``e2e/<id>`` before the originate; the
dialplan in ``extensions_e2e.conf`` (generated here, never shipped) reads them back
with DB(), so values with spaces, quotes or commas reach CALLERID() untouched.

Every mount the harness makes is inside the root and is undone (newest first) on
stop, at exit, and at the next start after a crash, so deleting the root can never
reach host files.
"""

from __future__ import annotations

import atexit
import configparser
import itertools
import math
import os
import re
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from asterisk_root import AGI_DIR, root_lock, unmount_all_under
from itflow_bridge.sample.fake_itflow import RecordedRequest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DIALPLAN = REPO_ROOT / "asterisk-conf" / "extensions_itflow.conf"
CLASSIC_AGI_SOURCES = REPO_ROOT / "agi"
AGI_BASE_DIR = "/" + AGI_DIR
BRIDGE_CONFIG = "etc/itflow-bridge/itflow-bridge.conf"
LOG_NAME = "e2e.log"
TARGETS = ("cid", "balance", "proto")
# The facts' module set plus what the e2e dialplan itself uses (DB, CUT, TIMEOUT)
# and a timing source; modules missing from the package are left out.
MODULES = (
    "res_speech", "res_agi", "pbx_config", "res_clioriginate", "res_timing_timerfd",
    "bridge_simple", "app_playback", "app_senddtmf", "app_verbose", "app_system",
    "app_stack", "app_read", "app_exec", "func_callerid", "func_strings", "func_logic",
    "func_channel", "func_sayfiles", "func_db", "func_cut", "func_timeout", "func_shell",
    "format_gsm", "format_wav", "format_pcm", "codec_gsm", "codec_ulaw",
)
# Variables the e2e dialplan records before (prefix "before_") and after the call.
RECORDED = (
    ("CHANNEL", "${CHANNEL}"),
    ("CALLERID_NAME", "${CALLERID(name)}"),
    ("CALLERID_NUM", "${CALLERID(num)}"),
    ("ITFLOW_CID_STATUS", "${ITFLOW_CID_STATUS}"),
    ("ITFLOW_CLIENT_ID", "${ITFLOW_CLIENT_ID}"),
    ("ITFLOW_CLIENT_NAME", "${ITFLOW_CLIENT_NAME}"),
    ("ITFLOW_CONTACT_NAME", "${ITFLOW_CONTACT_NAME}"),
    ("ITFLOW_CONTACT_ID", "${ITFLOW_CONTACT_ID}"),
    ("ITFLOW_CLIENT_URL", "${ITFLOW_CLIENT_URL}"),
    ("ITFLOW_BALANCE_STATUS", "${ITFLOW_BALANCE_STATUS}"),
    ("ITFLOW_BALANCE", "${ITFLOW_BALANCE}"),
    ("ITFLOW_CURRENCY", "${ITFLOW_CURRENCY}"),
    ("AGISTATUS", "${AGISTATUS}"),
)
NOW = "${STRFTIME(,,%s.%6q)}"
BOOT_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
LOCK_TIMEOUT = 900.0
POLL_INTERVAL = 0.05
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DTMF_DIGITS = re.compile(r"^[0-9A-Da-d*#w]+$")
PLAYING = re.compile(r"<(?P<channel>[^>]+)> Playing '(?P<file>[^']+)'")
CALL_TAG = re.compile(r"\[(C-[0-9a-f]+)\]")


@dataclass
class CallResult:
    """What one call left behind: astdb record, files heard, log slice, timing."""

    vars: Dict[str, str]
    played: List[str]
    log: str
    elapsed: Optional[float]


@dataclass
class CallWithRequests:
    """One finished call and the ITFlow requests made while it ran."""

    result: CallResult
    requests: List[RecordedRequest]

    @property
    def vars(self) -> Dict[str, str]:
        return self.result.vars

    @property
    def played(self) -> List[str]:
        return self.result.played

    @property
    def log(self) -> str:
        return self.result.log


@dataclass
class _Mount:
    target: Path
    created: List[Path] = field(default_factory=list)


def cli_quote(value: str) -> str:
    """Quote one argument for the Asterisk CLI parser (quotes group, backslash escapes)."""
    if "\r" in value or "\n" in value:
        raise ValueError("CLI arguments cannot contain CR/LF")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rewrite_shebang(script: str, interpreter: str) -> str:
    """The script with its first line replaced (or preceded) by ``#!interpreter``."""
    body = script.partition("\n")[2] if script.startswith("#!") else script
    return f"#!{interpreter}\n{body}"


def parse_dtmf_steps(spec: str) -> List[Tuple[float, str]]:
    """``"1:42#|6:1"`` -> [(1.0, "42#"), (6.0, "1")]: wait that long, then send the digits."""
    steps = []
    for step in filter(None, spec.split("|")):
        delay, sep, digits = step.partition(":")
        if not sep or not DTMF_DIGITS.match(digits) or float(delay) < 0:
            raise ValueError(f"bad DTMF step {step!r}: want SECONDS:DIGITS")
        steps.append((float(delay), digits))
    return steps


def parse_database_show(output: str, family: str) -> Dict[str, str]:
    """Keys and values of ``database show FAMILY`` (values lose trailing blanks: CLI padding)."""
    prefix = f"/{family}/"
    values = {}
    for line in output.splitlines():
        if line.startswith(prefix) and ":" in line:
            key, _, value = line[len(prefix):].partition(":")
            values[key.strip()] = value[1:].rstrip() if value.startswith(" ") else value.rstrip()
    return values


def played_files(log_slice: str) -> List[str]:
    """Files (without extension) that ``Playing '...'`` lines report, in order."""
    return [os.path.splitext(match.group("file"))[0] for match in PLAYING.finditer(log_slice)]


def call_log_slice(log: str, channel_prefix: str) -> str:
    """Lines that name one of the call's channels or carry one of their call tags."""
    lines = log.splitlines(keepends=True)
    tags = {tag for line in lines if channel_prefix in line for tag in CALL_TAG.findall(line)}
    return "".join(
        line for line in lines
        if channel_prefix in line or any(tag in tags for tag in CALL_TAG.findall(line))
    )


def _record_context() -> List[str]:
    """[e2e-record]: stores each watched variable under e2e/<id>/<ARG1><key>."""
    sets = [f"Set(DB(e2e/${{E2E_ID}}/${{ARG1}}{key})={expr})" for key, expr in RECORDED]
    return (
        ["; Records the watched variables under keys prefixed with ARG1.", "[e2e-record]", f"exten => s,1,{sets[0]}"]
        + [f" same => n,{app}" for app in sets[1:]]
        + [" same => n,Return()"]
    )


def e2e_dialplan() -> str:
    """The test-only contexts (see the module docstring and each context's comment)."""
    return "\n".join([
        "; Generated by tests/e2e/asterisk_harness.py: test contexts, never shipped.",
        "",
        "; The code under test's leg: inputs from astdb e2e/<id>, records before/after.",
        "[e2e-run]",
        "exten => _X.,1,Set(E2E_ID=${EXTEN})",
        " same => n,Set(CHANNEL(hangup_handler_push)=e2e-finish,s,1)",
        " same => n,GotoIf(${DB_EXISTS(e2e/${E2E_ID}/in_cnum)}?:cnum_done)",
        " same => n,Set(CALLERID(num)=${DB(e2e/${E2E_ID}/in_cnum)})",
        " same => n(cnum_done),GotoIf(${DB_EXISTS(e2e/${E2E_ID}/in_cname)}?:cname_done)",
        " same => n,Set(CALLERID(name)=${DB(e2e/${E2E_ID}/in_cname)})",
        " same => n(cname_done),GotoIf(${DB_EXISTS(e2e/${E2E_ID}/in_agi)}?:agi_done)",
        " same => n,Set(ITFLOW_AGI=${DB(e2e/${E2E_ID}/in_agi)})",
        " same => n(agi_done),Set(E2E_VAR=1)",
        " same => n(var),GotoIf($[${E2E_VAR} > ${DB(e2e/${E2E_ID}/in_vars)}]?vars_done)",
        " same => n,Set(${DB(e2e/${E2E_ID}/in_var_${E2E_VAR}_name)}=${DB(e2e/${E2E_ID}/in_var_${E2E_VAR}_value)})",
        " same => n,Set(E2E_VAR=$[${E2E_VAR} + 1])",
        " same => n,Goto(var)",
        " same => n(vars_done),ExecIf($[\"${DB(e2e/${E2E_ID}/in_answer)}\" = \"1\"]?Answer())",
        " same => n,Gosub(e2e-record,s,1(before_))",
        " same => n,Goto(target_${DB(e2e/${E2E_ID}/in_target)})",
        f" same => n(target_cid),Set(E2E_T_BEFORE={NOW})",
        " same => n,Gosub(itflow-cid,s,1)",
        f" same => n,Set(E2E_T_AFTER={NOW})",
        " same => n,Hangup()",
        " same => n(target_balance),ExecIf($[\"${DB(e2e/${E2E_ID}/in_ivr)}\" = \"1\"]?Set(IVR_CONTEXT=e2e-ivr))",
        f" same => n,Set(E2E_T_BEFORE={NOW})",
        " same => n,Goto(itflow-balance,s,1)",
        f" same => n(target_proto),Set(E2E_T_BEFORE={NOW})",
        " same => n,AGI(${DB(e2e/${E2E_ID}/in_url)})",
        f" same => n,Set(E2E_T_AFTER={NOW})",
        " same => n,Hangup()",
        "",
        "; Where itflow-balance sends the caller back (IVR_CONTEXT=e2e-ivr).",
        "[e2e-ivr]",
        f"exten => return,1,Set(E2E_T_AFTER={NOW})",
        " same => n,Set(DB(e2e/${E2E_ID}/returned_to_ivr)=1)",
        " same => n,Hangup()",
        "",
        "; The caller's leg: DTMF steps from astdb, optional early hangup, else linger.",
        "[e2e-caller]",
        "exten => s,1,Set(E2E_ID=${CUT(CHANNEL,@,1)})",
        " same => n,Set(E2E_ID=${CUT(E2E_ID,/,2)})",
        " same => n,GotoIf(${DB_EXISTS(e2e/${E2E_ID}/in_hangup_after)}?:steps)",
        " same => n,Set(TIMEOUT(absolute)=${DB(e2e/${E2E_ID}/in_hangup_after)})",
        " same => n(steps),Set(E2E_STEP=1)",
        " same => n(step),GotoIf($[${E2E_STEP} > ${DB(e2e/${E2E_ID}/in_dtmf_steps)}]?linger)",
        " same => n,Wait(${DB(e2e/${E2E_ID}/in_dtmf_${E2E_STEP}_wait)})",
        " same => n,SendDTMF(${DB(e2e/${E2E_ID}/in_dtmf_${E2E_STEP}_digits)})",
        " same => n,Set(E2E_STEP=$[${E2E_STEP} + 1])",
        " same => n,Goto(step)",
        " same => n(linger),Wait(${DB(e2e/${E2E_ID}/in_linger)})",
        " same => n,Hangup()",
        "",
        *_record_context(),
        "",
        "; Hangup handler of the e2e-run leg: final values, timestamps, done=1 last.",
        "[e2e-finish]",
        "exten => s,1,Gosub(e2e-record,s,1())",
        f" same => n,ExecIf($[\"${{E2E_T_AFTER}}\" = \"\"]?Set(E2E_T_AFTER={NOW}))",
        " same => n,GotoIf($[\"${E2E_T_BEFORE}\" = \"\"]?done)",
        " same => n,Set(DB(e2e/${E2E_ID}/t_before)=${E2E_T_BEFORE})",
        " same => n,Set(DB(e2e/${E2E_ID}/t_after)=${E2E_T_AFTER})",
        " same => n(done),Set(DB(e2e/${E2E_ID}/done)=1)",
        " same => n,Return()",
        "",
    ])


class AsteriskHarness:
    """One Asterisk process in ``root``: start(), call() as often as needed, stop()."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        self._process: Optional[subprocess.Popen] = None
        self._mounts: List[_Mount] = []
        self._python_mounted = False
        self._call_numbers = itertools.count(1)
        self._session = ExitStack()
        self._started = False

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> float:
        """Configure, mount, boot; returns the seconds it took.  Holds the root's lock until stop()."""
        if self._started:
            raise RuntimeError("this harness is already running")
        started = time.monotonic()
        self._session.enter_context(root_lock(self.root, timeout=LOCK_TIMEOUT))
        self._started = True
        atexit.register(self.stop)
        try:
            self._clean_leftovers()
            self._write_config()
            self._mount(Path("/proc"), source=None)
            self._boot()
        except BaseException:
            self.stop()
            raise
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop Asterisk, undo every mount (newest first), release the lock.  Safe to repeat.

        Does nothing unless this harness holds the lock: once released, the mounts
        under the root may already belong to the next session.
        """
        if not self._started:
            return
        try:
            self._shutdown_asterisk()
        finally:
            try:
                self._unmount_all()
            finally:
                self._started = False
                atexit.unregister(self.stop)
                self._session.close()

    # --- public helpers ----------------------------------------------------------

    def cli(self, command: str) -> str:
        """Run one CLI command (``asterisk -rx``) and return its output."""
        result = subprocess.run(
            ["chroot", str(self.root), "/usr/sbin/asterisk", "-rx", command],
            capture_output=True, text=True, errors="replace", timeout=15, env=_asterisk_env(),
        )
        if result.returncode != 0 or "Unable to connect to remote asterisk" in result.stdout:
            raise RuntimeError(f"asterisk -rx {command!r} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def log_text(self) -> str:
        """The whole verbose log of this Asterisk run so far."""
        return self._log_path.read_text(errors="replace")

    def write_bridge_config(self, sections: Dict[str, Dict[str, str]]) -> Path:
        """Write ROOT/etc/itflow-bridge/itflow-bridge.conf (INI, mode 600) for the classic scripts."""
        parser = configparser.ConfigParser(interpolation=None)
        for section, values in sections.items():
            for key, value in values.items():
                if "\r" in value or "\n" in value:
                    raise ValueError(f"[{section}] {key}: value contains CR/LF")
            parser[section] = values
        path = self.root / BRIDGE_CONFIG
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as config_file:
            parser.write(config_file)
        return path

    def install_classic_agi(self) -> str:
        """Make the repo's agi/*.agi runnable inside the chroot; returns the agi-bin dir to use."""
        if not self._python_mounted:
            for source in _python_mount_sources(self.root):
                self._mount(source, source=source, read_only=True)
            self._python_mounted = True
        agi_dir = self.root / AGI_DIR
        for script in sorted(CLASSIC_AGI_SOURCES.glob("*.agi")):
            installed = agi_dir / script.name
            installed.write_text(rewrite_shebang(script.read_text(), sys.executable))
            installed.chmod(0o755)
        return AGI_BASE_DIR

    def call(
        self,
        target: str,
        *,
        caller_num: Optional[str] = None,
        caller_name: Optional[str] = None,
        agi_base: str,
        dtmf: str = "",
        hangup_after: Optional[float] = None,
        ivr: bool = True,
        timeout: float = 30.0,
        extra_vars: Optional[dict] = None,
    ) -> CallResult:
        """Place one call and block until its dialplan finished (done=1).

        ``target``: "cid" (Gosub itflow-cid), "balance" (Goto itflow-balance, with
        IVR_CONTEXT=e2e-ivr unless ``ivr`` is False) or "proto" (``AGI(agi_base)``
        raw: a URL or script path, optionally followed by ",arg1,arg2").
        For cid/balance ``agi_base`` becomes ITFLOW_AGI ("" leaves it unset).
        ``caller_num``/``caller_name``: None keeps Asterisk's default (empty).
        ``dtmf``: "SECONDS:DIGITS|SECONDS:DIGITS..." sent by the caller, each step
        after waiting that long.  ``hangup_after``: the caller hangs up that many
        seconds after the call is answered.  ``extra_vars``: channel variables set
        before the code under test runs.
        Raises AssertionError (with the call's log) if it does not finish in ``timeout``.
        """
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
        call_id = f"{next(self._call_numbers):06d}"
        family = f"e2e/{call_id}"
        self._put_inputs(family, self._inputs(
            target, caller_num, caller_name, agi_base, dtmf, hangup_after, ivr, timeout, extra_vars or {},
        ))
        log_start = self._log_size()
        self.cli(f"channel originate Local/{call_id}@e2e-run extension s@e2e-caller")
        channel_prefix = f"Local/{call_id}@e2e-run-"
        if not self._wait_for_done(family, timeout):
            self._hang_up_channels(channel_prefix)
            log = call_log_slice(self._log_since(log_start), channel_prefix)
            raise AssertionError(f"call {call_id} ({target}) did not finish within {timeout} s; its log:\n{log}")
        self._wait_for_log(log_start, f"DB({family}/done)=1")
        log = call_log_slice(self._log_since(log_start), channel_prefix)
        values = parse_database_show(self.cli(f"database show {family}"), family)
        return CallResult(vars=values, played=played_files(log), log=log, elapsed=_elapsed(values))

    # --- calls -------------------------------------------------------------------

    @staticmethod
    def _inputs(target: str, caller_num: Optional[str], caller_name: Optional[str], agi_base: str, dtmf: str,
                hangup_after: Optional[float], ivr: bool, timeout: float, extra_vars: dict) -> Dict[str, str]:
        steps = parse_dtmf_steps(dtmf)
        inputs = {
            "in_target": target,
            "in_ivr": "1" if ivr else "0",
            # An unanswered leg never runs the caller context, so answer when the caller must act;
            # caller-ID lookup runs before answer on a real PBX, so leave cid calls ringing otherwise.
            "in_answer": "1" if target != "cid" or steps or hangup_after is not None else "0",
            "in_linger": str(math.ceil(timeout) + 5),
            "in_dtmf_steps": str(len(steps)),
            "in_vars": str(len(extra_vars)),
        }
        if target == "proto":
            inputs["in_url"] = agi_base
        elif agi_base:
            inputs["in_agi"] = agi_base
        if caller_num is not None:
            inputs["in_cnum"] = caller_num
        if caller_name is not None:
            inputs["in_cname"] = caller_name
        if hangup_after is not None:
            inputs["in_hangup_after"] = f"{hangup_after:.3f}"
        for number, (delay, digits) in enumerate(steps, 1):
            inputs[f"in_dtmf_{number}_wait"] = f"{delay:g}"
            inputs[f"in_dtmf_{number}_digits"] = digits
        for number, (name, value) in enumerate(extra_vars.items(), 1):
            if not VARIABLE_NAME.match(name):
                raise ValueError(f"extra_vars: {name!r} is not a plain variable name")
            inputs[f"in_var_{number}_name"] = name
            inputs[f"in_var_{number}_value"] = str(value)
        return inputs

    def _put_inputs(self, family: str, inputs: Dict[str, str]) -> None:
        self.cli(f"database deltree {family}")
        for key, value in inputs.items():
            answer = self.cli(f"database put {family} {key} {cli_quote(value)}")
            if "successfully" not in answer:
                raise RuntimeError(f"astdb refused {family}/{key}: {answer.strip()}")

    def _wait_for_done(self, family: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.cli(f"database get {family} done").strip() == "Value: 1":
                return True
            if self._process is None or self._process.poll() is not None:
                raise AssertionError(f"Asterisk died during the call; log:\n{self._log_tail()}")
            time.sleep(POLL_INTERVAL)
        return False

    def _wait_for_log(self, start: int, needle: str) -> None:
        """The logger writes asynchronously: wait (briefly) until the call's last line is in the file."""
        deadline = time.monotonic() + 2.0
        while needle not in self._log_since(start) and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL)

    def _hang_up_channels(self, channel_prefix: str) -> None:
        """Hang up a stuck call and wait (briefly) until its channels are gone."""
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            names = [line.split("!", 1)[0] for line in self.cli("core show channels concise").splitlines()]
            stuck = [name for name in names if name.startswith(channel_prefix)]
            if not stuck:
                return
            for name in stuck:
                self.cli(f"channel request hangup {name}")
            time.sleep(POLL_INTERVAL)

    # --- log ---------------------------------------------------------------------

    @property
    def _log_path(self) -> Path:
        return self.root / "var/log/asterisk" / LOG_NAME

    def _log_size(self) -> int:
        try:
            return self._log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def _log_since(self, offset: int) -> str:
        with open(self._log_path, "rb") as log_file:
            log_file.seek(offset)
            return log_file.read().decode("utf-8", errors="replace")

    def _log_tail(self, lines: int = 60) -> str:
        try:
            return "".join(self.log_text().splitlines(keepends=True)[-lines:])
        except FileNotFoundError:
            return "(no log written)"

    # --- configuration -------------------------------------------------------------

    def _module_dir(self) -> str:
        found = sorted(self.root.glob("usr/lib/*/asterisk/modules"))
        if not found:
            raise RuntimeError(f"no Asterisk modules under {self.root}/usr/lib")
        return "/" + str(found[0].relative_to(self.root))

    def _write_config(self) -> None:
        etc = self.root / "etc/asterisk"
        module_dir = self._module_dir()
        present = [name for name in MODULES if (self.root / module_dir.lstrip("/") / f"{name}.so").exists()]
        files = {
            "asterisk.conf": _asterisk_conf(module_dir),
            "modules.conf": "[modules]\nautoload = no\n" + "".join(f"load = {name}.so\n" for name in present),
            "logger.conf": (
                "[general]\ndateformat = %F %T.%6q\n\n[logfiles]\n"
                f"{LOG_NAME} => notice,warning,error,dtmf,verbose(4)\n"
            ),
            "extensions.conf": (
                "[general]\nstatic = yes\nwriteprotect = yes\n\n[globals]\n\n"
                "#include extensions_itflow.conf\n#include extensions_e2e.conf\n"
            ),
            "extensions_e2e.conf": e2e_dialplan(),
        }
        for name, text in files.items():
            (etc / name).write_text(text)
        shutil.copyfile(SHIPPED_DIALPLAN, etc / "extensions_itflow.conf")
        for stale in (self.root / AGI_DIR).glob("*.agi"):
            stale.unlink()
        (self.root / BRIDGE_CONFIG).unlink(missing_ok=True)
        self._log_path.unlink(missing_ok=True)

    # --- process -------------------------------------------------------------------

    def _boot(self) -> None:
        output = open(self.root / "var/log/asterisk/stdout.log", "wb")
        self._session.callback(output.close)
        self._process = subprocess.Popen(
            ["chroot", str(self.root), "/usr/sbin/asterisk", "-f", "-U", "root", "-G", "root"],
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=_asterisk_env(),
            start_new_session=True,
        )
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Asterisk exited with {self._process.returncode}; log:\n{self._log_tail()}")
            try:
                self.cli("core waitfullybooted")
                self.cli("database deltree e2e")
                return
            except RuntimeError:
                time.sleep(0.1)
        raise RuntimeError(f"Asterisk did not finish booting in {BOOT_TIMEOUT} s; log:\n{self._log_tail()}")

    def _shutdown_asterisk(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            subprocess.run(
                ["chroot", str(self.root), "/usr/sbin/asterisk", "-rx", "core stop now"],
                capture_output=True, timeout=STOP_TIMEOUT, env=_asterisk_env(),
            )
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _clean_leftovers(self) -> None:
        """A crashed earlier session may have left its Asterisk running and its mounts in place."""
        for pid in _processes_rooted_at(self.root):
            os.kill(pid, signal.SIGKILL)
        unmount_all_under(self.root)
        (self.root / "run/asterisk").mkdir(parents=True, exist_ok=True)
        for leftover in (self.root / "run/asterisk").glob("asterisk.*"):
            leftover.unlink()

    # --- mounts ----------------------------------------------------------------------

    def _mount(self, path: Path, source: Optional[Path], read_only: bool = False) -> None:
        """Mount ``source`` (None: a fresh proc) at ``path`` inside the root."""
        target = self.root / str(path).lstrip("/")
        mount = _Mount(target=path)
        self._mounts.append(mount)
        mount.created = _make_mount_point(target, is_file=source is not None and source.is_file())
        if source is None:
            subprocess.run(["mount", "-t", "proc", "proc", str(target)], check=True)
            return
        subprocess.run(["mount", "--bind", str(source), str(target)], check=True)
        if read_only:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)

    def _unmount_all(self) -> None:
        unmount_all_under(self.root)
        for mount in reversed(self._mounts):
            for created in reversed(mount.created):
                try:
                    created.unlink() if created.is_file() else created.rmdir()
                except OSError:
                    pass
        self._mounts.clear()
        self._python_mounted = False


def _asterisk_env() -> Dict[str, str]:
    """A clean environment: nothing of the host's Python or shell leaks into Asterisk or its AGIs."""
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}


def _asterisk_conf(module_dir: str) -> str:
    directories = {
        "astetcdir": "/etc/asterisk", "astmoddir": module_dir, "astvarlibdir": "/var/lib/asterisk",
        "astdbdir": "/var/lib/asterisk", "astkeydir": "/var/lib/asterisk", "astdatadir": "/usr/share/asterisk",
        "astagidir": AGI_BASE_DIR, "astspooldir": "/var/spool/asterisk", "astrundir": "/run/asterisk",
        "astlogdir": "/var/log/asterisk", "astsbindir": "/usr/sbin", "astcachedir": "/var/cache/asterisk",
    }
    lines = ["[directories]"] + [f"{key} => {value}" for key, value in directories.items()]
    # transmit_silence: a waiting leg sends silence like a real phone's RTP; without media,
    # Answer() on the e2e-run leg waits 500 ms for a first frame.
    options = ["verbose = 4", "runuser = root", "rungroup = root", "hideconnect = yes", "transmit_silence = yes"]
    lines += ["", "[options]"] + options + [""]
    return "\n".join(lines)


def _elapsed(values: Dict[str, str]) -> Optional[float]:
    try:
        return float(values["t_after"]) - float(values["t_before"])
    except (KeyError, ValueError):
        return None


def _processes_rooted_at(root: Path) -> List[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if os.readlink(entry / "root") == str(root):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _make_mount_point(target: Path, is_file: bool) -> List[Path]:
    """Create the missing directories (and, for a file mount, the empty file); return what was created."""
    created = []
    missing_dirs = []
    directory = target.parent if is_file else target
    while not directory.exists():
        missing_dirs.append(directory)
        directory = directory.parent
    for directory in reversed(missing_dirs):
        directory.mkdir()
        created.append(directory)
    if is_file and not target.exists():
        target.touch()
        created.append(target)
    return created


def _occupied(root: Path, path: Path) -> bool:
    """True when the chroot has its own content at ``path`` (mounting there would hide it)."""
    inside = root / str(path).lstrip("/")
    if not os.path.lexists(inside):
        return False
    return not inside.is_dir() or any(inside.iterdir())


def _python_mount_sources(root: Path) -> List[Path]:
    """Host paths the test interpreter needs at the same place inside the chroot.

    The checkout, the virtualenv and the base Python's prefix are mounted whole,
    unless the chroot has its own files at that prefix (a system Python in /usr or
    /usr/local): then only the interpreter, its library dirs and libpython are.
    """
    base_prefix = Path(os.path.realpath(sys.base_prefix))
    venv = Path(os.path.realpath(sys.prefix))
    wanted = [REPO_ROOT] + ([venv] if venv != base_prefix else [])
    wanted += _interpreter_pieces(venv == base_prefix) if _occupied(root, base_prefix) else [base_prefix]
    wanted += _symlink_chain(Path(sys.executable))
    chosen: List[Path] = []
    for path in wanted:
        if not any(path == kept or kept in path.parents for kept in chosen):
            chosen = [kept for kept in chosen if path not in kept.parents] + [path]
    for path in chosen:
        if _occupied(root, path):
            raise RuntimeError(
                f"cannot mount {path} into the Asterisk root: the chroot has its own files there; "
                "use a Python installed outside /usr (pyenv, uv, a container's /opt) or FastAGI"
            )
    return chosen


def _interpreter_pieces(with_site_packages: bool) -> List[Path]:
    """The interpreter binary, its standard library, libpython, and (without a venv) its site-packages."""
    paths = sysconfig.get_paths()
    pieces = {Path(paths["stdlib"]), Path(paths["platstdlib"])}
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        pieces.add(Path(sysconfig.get_config_var("LIBDIR")) / sysconfig.get_config_var("LDLIBRARY"))
    if with_site_packages:
        pieces.update(Path(directory) for directory in site.getsitepackages())
    return sorted(Path(os.path.realpath(piece)) for piece in pieces if piece.exists())


def _symlink_chain(path: Path) -> List[Path]:
    """``path`` and every link it passes through: each must exist inside the chroot too."""
    chain = [Path(os.path.abspath(path))]
    while chain[-1].is_symlink() and len(chain) < 40:
        chain.append(Path(os.path.normpath(chain[-1].parent / os.readlink(chain[-1]))))
    return chain


def bridge_sections(fake, mode: str, cache_dir: str,
                    overrides: Mapping[str, Mapping[str, object]]) -> Dict[str, Dict[str, str]]:
    """The INI sections of a bridge pointed at ``fake``: explicit API generation, own cache, DEBUG logs.

    ``overrides`` (section -> key -> value) win.
    """
    sections: Dict[str, Dict[str, str]] = {
        "itflow": {"url": fake.url, "api_key": fake.api_key, "api_mode": mode},
        "cache": {"dir": cache_dir},
        "server": {"log_level": "DEBUG"},
        "directory": {"sync_interval": "0"},  # calls ask ITFlow; tests of the local directory turn it on
    }
    for name, values in overrides.items():
        sections.setdefault(name, {}).update({key: str(value) for key, value in values.items()})
    return sections
