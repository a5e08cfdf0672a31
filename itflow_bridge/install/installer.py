"""The ``install`` sub-command: what a PBX needs, in order, and how it is said.

Order: the bridge's own files (config, cache, AGI wrappers, prompts, dialplan
file); then ``check`` against ITFlow, and nothing of Asterisk's is touched when
it fails; then Asterisk's files (one include, one global, the bridge's manager
user), the daemon's unit, systemd, the dialplan and manager reloads.  A config file that exists already is rewritten
only after the check passed, so a wrong ``--url`` or ``--api-key`` never replaces
a working one.  ``--dry-run`` lists every path a real run would write (the
bookkeeping included) and runs the same check, failing as the real run would.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Set, Tuple

from ..core.exits import Exit, fail
from .. import __version__
from ..core.constants import FASTAGI_PORT
from ..core.errors import ConfigError
from . import cdr_custom, edits, manager_user
from ..storage.layout import CACHE_DIR_MODE, files_off_policy
from .asterisk_layout import Layout, detect
from .plan import Change, Plan, Record, Want
from .settings import DIALPLAN, new_config, set_values
from .units import (
    SOCKET_NAME, SYNC_SERVICE_NAME, SYNC_TIMER_NAME, UNIT_DIR, UNIT_NAME, socket_text, sync_service_text,
    sync_timer_text, systemctl, systemd_running, unit_text,
)

if TYPE_CHECKING:
    from ..core.config import Config
    from ..health import Report

    # ``itflow-bridge check`` (config, transport): given by the command line, so the installer and the
    # check, which reads what the installer recorded, do not import each other.
    CheckRunner = Callable[[Config, Optional[str]], Report]

TRANSPORTS = ("fastagi", "classic")


def install(args: argparse.Namespace, run_checks: CheckRunner) -> int:
    """Install or uninstall as ``args`` (the command line's ``install`` options) say; ``run_checks`` is
    ``itflow-bridge check``, run on what was written before Asterisk's files are touched."""
    if os.geteuid() != 0:
        return fail("install must run as root (it writes Asterisk's files and chowns them)")
    layout = detect(Path(args.prefix), asterisk_etc=args.asterisk_etc, agi_dir=args.agi_dir,
                    sounds_dir=args.sounds_dir, user=args.user, group=args.group, freepbx=args.freepbx)
    plan = Plan(layout.root, _namer(layout))
    print(layout.describe())
    pointed = [flag for flag, value in (("--asterisk-etc", args.asterisk_etc), ("--agi-dir", args.agi_dir),
                                        ("--sounds-dir", args.sounds_dir)) if value]
    if pointed and str(layout.root) == "/":  # only --prefix moves the bridge's own files: say so
        print("note: %s only point%s at Asterisk's directories; the bridge's own config (%s), cache, state (%s) "
              "and systemd units (%s) are this machine's (--prefix DIR puts every path under DIR)"
              % (", ".join(pointed), "s" if len(pointed) == 1 else "", Path(args.config_file).parent,
                 plan.state_dir, UNIT_DIR))
    if args.uninstall:
        return Uninstaller(layout, plan, args).run()
    return Installer(layout, plan, args, getattr(args, "cache_dir", None), run_checks).run()


def _namer(layout: Layout) -> Callable[[int, int], str]:
    account = layout.account

    def names(uid: int, gid: int) -> str:
        user = account.user if uid == account.uid else ("root" if uid == 0 else str(uid))
        group = account.group if gid == account.gid else ("root" if gid == 0 else str(gid))
        return "%s:%s" % (user, group)

    return names


class Installer:
    def __init__(self, layout: Layout, plan: Plan, args: argparse.Namespace, cache_dir: Optional[str],
                 run_checks: CheckRunner) -> None:
        self.layout, self.plan, self.args = layout, plan, args
        self.run_checks = run_checks
        self.cache_flag = cache_dir
        self.account = layout.account
        self.dry = args.dry_run

    # --- the config file -------------------------------------------------------------

    def config_bytes(self) -> bytes:
        """The config file as it should be: the existing one (values from flags replaced), or a new one."""
        path = self.layout.host(self.args.config_file)
        values: Dict[Tuple[str, str], str] = {}
        url = self.args.install_url or getattr(self.args, "url", None)
        key = self.args.install_api_key
        if path.exists():
            text = path.read_text(encoding="utf-8")
        else:
            url, key = self._ask(url, key)
            text = None
            values[("balance", "sounds_dir")] = self.layout.sounds_dir
        if url:
            values[("itflow", "url")] = url
        if key:
            values[("itflow", "api_key")] = key
        if self.args.port:
            values[("server", "port")] = str(self.args.port)
        if self.cache_flag:
            values[("cache", "dir")] = self.cache_flag
        if self.args.sounds_dir:
            values[("balance", "sounds_dir")] = self.args.sounds_dir
        values.update(manager_user.config_values(text, enable=bool(getattr(self.args, "calls", False)),
                                                 click_to_call=self.click_to_call()))
        if text is None:
            return new_config(values).encode("utf-8")
        return set_values(text, values).encode("utf-8") if values else text.encode("utf-8")

    def click_to_call(self) -> Optional[bool]:
        """``--click-to-call`` / ``--no-click-to-call`` as given, else as given to an earlier install (None:
        neither, so the click-to-call user comes with the calls)."""
        given: Optional[bool] = getattr(self.args, "click_to_call", None)
        return given if given is not None else self.plan.manifest.get("click_to_call")

    def _ask(self, url: Optional[str], key: Optional[str]) -> Tuple[str, str]:
        if url and key:
            return url, key
        if not sys.stdin.isatty():
            raise ConfigError("no config file yet: give --url and --api-key (or run install on a terminal)")
        try:
            url = url or _answer(lambda: input("ITFlow base URL (e.g. https://itflow.example.com): "),
                                 "an address is needed: the base URL of your ITFlow site", "ITFlow URL")
            key = key or _answer(lambda: getpass.getpass("ITFlow API key (not shown): "),
                                 "a key is needed: ITFlow > Admin > API Keys", "API key")
        except EOFError:
            print()
            raise ConfigError("install cancelled (end of input): nothing was written") from None
        return url, key

    def load(self, data: bytes) -> "Config":
        """The Config this file gives (the product's own validation), read from a private copy."""
        from ..core.config import load_config

        with tempfile.TemporaryDirectory(prefix="itflow-bridge-install-") as scratch:
            path = Path(scratch) / "itflow-bridge.conf"
            path.write_bytes(data)
            try:
                config = load_config(str(path), env={})
            except ConfigError as exc:  # name the file the admin edits, not the private copy
                raise ConfigError(str(exc).replace(str(path), self.args.config_file)) from None
        return dataclasses.replace(config, source=Path(self.args.config_file))

    # --- what the PBX should have --------------------------------------------------------

    def bridge_wants(self, config: "Config", data: bytes) -> List[Want]:
        from ..core.paths import CONFIG_FILE_MODE  # ``check`` holds the config file to the same mode

        layout, account = self.layout, self.account
        uid, gid = account.uid, account.gid
        wants = [
            Want(str(Path(self.args.config_file).parent), "dir", 0o750, 0, gid, "the bridge's config directory"),
            Want(self.args.config_file, "file", CONFIG_FILE_MODE, 0, gid, "the bridge's config (holds the API key)",
                 content=data, secret=True),
            Want(str(config.cache.dir), "dir", CACHE_DIR_MODE, uid, gid,
                 "the shared cache (setgid: every file in it stays the %s group's)" % account.group, purge=True),
        ]
        if not layout.host(layout.agi_dir).is_dir():
            wants.append(Want(layout.agi_dir, "dir", 0o755, uid, gid, "Asterisk's agi-bin"))
        for name, text in _wrappers():
            wants.append(Want("%s/%s" % (layout.agi_dir, name), "file", 0o755, uid, gid,
                              "classic AGI wrapper running %s" % sys.executable, content=text.encode()))
        sounds = str(config.balance.sounds_dir)
        for language in self.languages(config):
            sources = _prompt_files(language)
            if not sources:
                print("note: no balance prompts are shipped for language %r: point [prompts] at your own "
                      "recordings" % language)
                continue
            language_dir = "%s/%s" % (sounds, language)
            if not layout.host(language_dir).is_dir():
                wants.append(Want(language_dir, "dir", 0o755, uid, gid, "sounds for language %s" % language))
            wants.append(Want(language_dir + "/itflow", "dir", 0o755, uid, gid, "the balance IVR's prompts"))
            wants += [Want("%s/itflow/%s" % (language_dir, source.name), "file", 0o644, uid, gid, "prompt",
                           content=source.read_bytes()) for source in sources]
        include_file = self.include_file()
        owner = _stat(layout.host(include_file))
        wants.append(Want(layout.asterisk_etc + "/" + edits.DIALPLAN, "file",
                          owner[2] if owner else 0o644, owner[0] if owner else uid, owner[1] if owner else gid,
                          "the itflow-cid and itflow-balance contexts (owner and mode of %s)" % include_file,
                          content=DIALPLAN.read_bytes()))
        return wants

    def languages(self, config: "Config") -> List[str]:
        return list(dict.fromkeys(self.args.language or [config.balance.language]))

    def include_file(self) -> str:
        name = "extensions_custom.conf" if self.layout.freepbx else "extensions.conf"
        return self.layout.asterisk_etc + "/" + name

    def agi_global(self, transport: str, config: "Config") -> Optional[str]:
        if transport == "classic":
            return self.layout.agi_dir
        if config.server.port != FASTAGI_PORT:
            return "agi://127.0.0.1:%d" % config.server.port
        return None  # the dialplan's default: the daemon on 127.0.0.1:FASTAGI_PORT

    def asterisk_wants(self, transport: str, config: "Config") -> List[Want]:
        layout, account = self.layout, self.account
        value = self.agi_global(transport, config)
        wants = []
        include_file = self.include_file()
        current = _read(layout.host(include_file))
        owner = _stat(layout.host(include_file)) or (account.uid, account.gid, 0o664)
        content = edits.add_include(current or b"")
        what = "one line: #include %s" % edits.DIALPLAN
        if not layout.freepbx:
            content = edits.set_section_global(content, value)
            what += ", and %s in [globals]" % (edits.global_line(value).decode() if value else "no " + edits.GLOBAL)
        wants.append(Want(include_file, "file", owner[2], owner[0], owner[1], what, content=content))
        if layout.freepbx:
            globals_file = layout.asterisk_etc + "/globals_custom.conf"
            current = _read(layout.host(globals_file))
            if current is not None or value is not None:
                owner_g = _stat(layout.host(globals_file)) or owner
                wanted = edits.set_plain_global(current or b"", value)
                what = edits.global_line(value).decode() if value else "no %s (the daemon on 127.0.0.1:%d)" % (
                    edits.GLOBAL, FASTAGI_PORT)
                if current is not None or wanted:
                    wants.append(Want(globals_file, "file", owner_g[2], owner_g[0], owner_g[1], what, content=wanted))
        if config.calls.enabled and config.calls.catch_up_hours:
            wants += cdr_custom.wants(layout, str(config.calls.cdr_file), owner)
        wants += manager_user.wants(layout, config.calls.ami_user, config.calls.ami_secret,
                                    config.calls.originate_user, config.calls.originate_secret)
        if transport == "fastagi":
            wants.append(Want(UNIT_DIR + "/" + SOCKET_NAME, "file", 0o644, 0, 0,
                              "the daemon's port, held by systemd across restarts",
                              content=socket_text(host=config.server.host, port=config.server.port).encode()))
            wants.append(Want(UNIT_DIR + "/" + UNIT_NAME, "file", 0o644, 0, 0,
                              "the FastAGI daemon, as %s, hardened" % account.user,
                              content=unit_text(python=sys.executable, user=account.user, group=account.group,
                                                config=self.args.config_file,
                                                cache_dir=str(config.cache.dir)).encode()))
        elif config.directory.sync_interval:  # classic: no daemon keeps the local directory fresh
            wants.append(Want(UNIT_DIR + "/" + SYNC_SERVICE_NAME, "file", 0o644, 0, 0,
                              "itflow-bridge sync, as %s, hardened" % account.user,
                              content=sync_service_text(python=sys.executable, user=account.user,
                                                        group=account.group, config=self.args.config_file,
                                                        cache_dir=str(config.cache.dir)).encode()))
            wants.append(Want(UNIT_DIR + "/" + SYNC_TIMER_NAME, "file", 0o644, 0, 0,
                              "the local directory's sync every %d s" % config.directory.sync_interval,
                              content=sync_timer_text(config.directory.sync_interval).encode()))
        return wants

    def cache_fixups(self, config: "Config") -> List[Change]:
        """Files already in the cache dir (an earlier version, a manual install) made the group's, read-write."""
        gid = self.account.gid
        wrong = files_off_policy(str(self.layout.host(str(config.cache.dir))), gid)
        if not wrong:
            return []

        def fix() -> None:
            for path in wrong:
                os.chown(path, -1, gid)
                os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | 0o060)  # a file: no set-id bit

        return [Change("make %d existing file(s) in %s read-write for group %s"
                       % (len(wrong), config.cache.dir, self.account.group), fix)]

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        data = self.config_bytes()
        config = self.load(data)
        transport = self.args.transport or self.plan.manifest.get("transport") or "fastagi"
        if transport == "fastagi" and config.server.host not in ("127.0.0.1", "0.0.0.0", "::", "localhost"):
            print("note: the daemon listens on %s; the dialplan reaches it at 127.0.0.1" % config.server.host)
        bridge_wants = self.bridge_wants(config, data)
        first = self.plan.changes(bridge_wants)
        # a working config is replaced only once the check passed on its new values
        held = [change for change in first if change.want is not None and change.want.path == self.args.config_file
                and self.layout.host(self.args.config_file).exists()]
        first += self.cache_fixups(config)
        asterisk_wants = self.asterisk_wants(transport, config)
        wanted_paths = {want.path for want in bridge_wants + asterisk_wants}
        stale_paths = {path for path in {record["path"] for record in self.plan.manifest["entries"]} - wanted_paths
                       if not any(wanted.startswith(path + "/") for wanted in wanted_paths)}  # parents stay
        unit_path = UNIT_DIR + "/" + UNIT_NAME
        socket_path = UNIT_DIR + "/" + SOCKET_NAME
        timer_path = UNIT_DIR + "/" + SYNC_TIMER_NAME
        print("transport: %s" % transport)
        if self.dry:
            return self.dry_run(config, transport, first, asterisk_wants, stale_paths)

        for change in first:
            if change not in held:
                print(change.description)
                change.apply()
        if not self.check(config, transport, kept_config=bool(held)):
            return Exit.FAILURE
        for change in held:
            print(change.description)
            change.apply()
        second = self.plan.changes(asterisk_wants)  # computed now: the files may have changed meanwhile
        stale = self.plan.undo_changes(keep=lambda record: record["path"] not in stale_paths)
        # One transaction: the socket stopped with its daemon, or a call on it would start the daemon again.
        stale_units = [name for name in (SOCKET_NAME, UNIT_NAME, SYNC_TIMER_NAME)
                       if UNIT_DIR + "/" + name in stale_paths]
        if stale_units and systemd_running(self.layout.root):
            _report(systemctl("disable", "--now", *stale_units))
        for change in second + stale:
            print(change.description)
            change.apply()
        upgraded = self.plan.manifest.get("version") != __version__
        self.plan.manifest.update({"transport": transport, "version": __version__})
        if getattr(self.args, "click_to_call", None) is not None:
            self.plan.manifest["click_to_call"] = bool(self.args.click_to_call)
        self.plan.save()
        changed = bool(first or second or stale)
        if not changed:
            print("nothing to change: already installed as wanted")
        unit_changed = any(change.description.split(" (")[0].endswith(unit_path) for change in second)
        socket_changed = any(change.description.split(" (")[0].endswith(socket_path) for change in second)
        if transport == "fastagi":
            self.start_daemon(unit_changed or socket_changed, socket_changed, changed or upgraded)
        elif any(want.path == timer_path for want in asterisk_wants):
            self.start_sync_timer(bool(second or stale))
        dialplan_files = {self.include_file(), self.layout.asterisk_etc + "/" + edits.DIALPLAN,
                          self.layout.asterisk_etc + "/globals_custom.conf"}
        if any(path in dialplan_files for path in _paths(first + second + stale)) or stale_paths & dialplan_files:
            reload_dialplan(self.layout)
        if cdr_custom.conf_path(self.layout) in _paths(second + stale):
            cdr_custom.load_module(self.layout)
        manager_files = manager_user.places(self.layout)
        if any(path in manager_files for path in _paths(second + stale)) or stale_paths & manager_files:
            reload_manager(self.layout)
        print_next_steps(self.layout)
        return Exit.OK

    def dry_run(self, config: "Config", transport: str, first: List[Change], asterisk_wants: List[Want],
                stale_paths: Set[str]) -> int:
        """Every path the real run would write, then the real run's check: the exit code it would give."""
        second = self.plan.changes(asterisk_wants)
        stale = self.plan.undo_changes(keep=lambda record: record["path"] not in stale_paths)
        changes = first + second + stale
        root = str(self.layout.root)
        print("dry run: nothing is changed. %s" % ("Would:" if changes else "Nothing to change."))
        if changes:
            print("  (every path is under %s, --prefix)" % root if root != "/" else
                  "  (every path is on this machine: --prefix DIR would put them all under DIR)")
        for line in [change.description for change in changes] + self.plan.bookkeeping(changes):
            print("  " + line)
        if self.args.skip_check:
            print("would skip itflow-bridge check (--skip-check)")
            return Exit.OK
        print("would run itflow-bridge check against %s before touching Asterisk's files:" % config.itflow.url)
        sounds = self.layout.host(str(config.balance.sounds_dir))
        with tempfile.TemporaryDirectory(prefix="itflow-bridge-dry-run-") as scratch:
            installed_sounds = self.sounds_as_installed(config, sounds, Path(scratch) / "sounds")
            trial = dataclasses.replace(
                _before_manager_user(config), cache=dataclasses.replace(config.cache, dir=Path(scratch) / "cache"),
                balance=dataclasses.replace(config.balance, sounds_dir=installed_sounds))
            report = self.run_checks(trial, transport)
            self.check_manager(config, report)
            shown = [item for item in report.items  # the scratch cache says nothing of the real one
                     if item.name not in ("cache", "local directory") and not item.name.startswith("store: ")]
            for item in shown:
                print("  " + item.line().replace(str(installed_sounds), str(sounds)).replace("\n", "\n  "))
        if any(item.status == "FAIL" for item in shown):
            print("itflow-bridge: the install would stop there: fix what check says and run it again",
                  file=sys.stderr)
            return Exit.FAILURE
        return Exit.OK

    def sounds_as_installed(self, config: "Config", sounds: Path, scratch: Path) -> Path:
        """A view of the sounds directory ``sounds`` with our prompts in it, as the real run leaves it
        (links to the real files and to the shipped ones), for the dry run's check."""
        if not sounds.is_dir():
            return sounds  # the check says so, as it would in the real run
        _link_entries(sounds, scratch)
        for language in self.languages(config):
            sources = _prompt_files(language)
            if sources:
                _link_entries(sounds / language, scratch / language)
                ours = _link_entries(sounds / language / "itflow", scratch / language / "itflow")
                for source in sources:
                    if not os.path.lexists(ours / source.name):
                        (ours / source.name).symlink_to(source)
        return scratch

    def check(self, config: "Config", transport: str, kept_config: bool = False) -> bool:
        """``itflow-bridge check`` on what was written (paths inside the target); False stops the install.
        ``kept_config``: the existing config file is not rewritten yet (and stays as it is on failure)."""
        if self.args.skip_check:
            print("check skipped (--skip-check)")
            return True
        host_config = dataclasses.replace(
            _before_manager_user(config),
            cache=dataclasses.replace(config.cache, dir=self.layout.host(str(config.cache.dir))),
            balance=dataclasses.replace(config.balance,
                                        sounds_dir=self.layout.host(str(config.balance.sounds_dir))))
        report = self.run_checks(host_config, transport)
        self.check_manager(config, report)
        print("itflow-bridge check:")
        for item in report.items:
            print("  " + item.line().replace("\n", "\n  "))
        if not report.ok:
            self.plan.save()
            kept = " (%s is unchanged)" % self.args.config_file if kept_config else ""
            print("itflow-bridge: install stopped before touching Asterisk's files%s: fix what check says "
                  "(e.g. install --url ... --api-key ...) and run install again" % kept, file=sys.stderr)
        return report.ok

    def check_manager(self, config: "Config", report: "Report") -> None:
        """Asterisk's manager interface must be on for calls to be journaled: a failure when ``[calls]
        enabled``, else a note (it is never switched on here); a port other than ``[calls] ami_port``, a note."""
        off = manager_user.disabled(self.layout)
        if off is None:
            listening = manager_user.port(self.layout)
            if listening is not None and listening != config.calls.ami_port:
                print("note: %s/%s has the manager on port %d, [calls] ami_port is %d: set ami_port = %d"
                      % (self.layout.asterisk_etc, manager_user.MANAGER_CONF, listening, config.calls.ami_port,
                         listening))
            return
        if config.calls.enabled:
            report.add("Asterisk manager", "FAIL", off + ": the bridge cannot read call events",
                       manager_user.enable_fix(self.layout))
        else:
            print("note: %s; [calls] needs it on: %s" % (off, manager_user.enable_fix(self.layout)))

    def start_daemon(self, units_changed: bool, socket_changed: bool, restart: bool) -> None:
        """Enable and start the socket and the daemon; a restart keeps the port open (systemd holds it).

        Only a new or changed socket unit (another port, or an install before
        socket activation, whose daemon bound the port itself) needs the daemon
        stopped while the socket is re-made.
        """
        if not systemd_running(self.layout.root):
            print("systemd is not running here: skipped daemon-reload and enable --now %s %s; start the daemon "
                  "yourself: %s -m itflow_bridge.cli serve (as %s, ITFLOW_BRIDGE_CONFIG=%s)"
                  % (SOCKET_NAME, UNIT_NAME, sys.executable, self.account.user, self.args.config_file))
            return
        if units_changed:
            _report(systemctl("daemon-reload"))
        was_running = systemctl("is-active", "--quiet", UNIT_NAME) is None  # enable --now starts a stopped one
        if socket_changed:
            _report(systemctl("stop", UNIT_NAME))
            _report(systemctl("enable", SOCKET_NAME))
            _report(systemctl("restart", SOCKET_NAME))
        _report(systemctl("enable", "--now", SOCKET_NAME, UNIT_NAME))
        restart = restart and not socket_changed and was_running  # a stopped daemon was just started anew
        if restart:
            _report(systemctl("try-restart", UNIT_NAME))
        print("daemon: systemctl enable --now %s %s%s" % (SOCKET_NAME, UNIT_NAME, ", restarted" if restart else ""))

    def start_sync_timer(self, units_changed: bool) -> None:
        if not systemd_running(self.layout.root):
            print("systemd is not running here: skipped enabling %s; sync from cron instead, e.g. in "
                  "/etc/cron.d/itflow-bridge: */15 * * * * %s %s -m itflow_bridge.cli sync"
                  % (SYNC_TIMER_NAME, self.account.user, sys.executable))
            return
        if units_changed:
            _report(systemctl("daemon-reload"))
        _report(systemctl("enable", "--now", SYNC_TIMER_NAME))
        print("local directory: systemctl enable --now %s (first sync in a minute or two)" % SYNC_TIMER_NAME)


class Uninstaller:
    def __init__(self, layout: Layout, plan: Plan, args: argparse.Namespace) -> None:
        self.layout, self.plan, self.args = layout, plan, args

    def run(self) -> int:
        if not self.plan.installed:
            print("nothing to uninstall: no install manifest in %s" % self.plan.manifest_path)
            return Exit.OK
        config_paths = {self.args.config_file, str(Path(self.args.config_file).parent)}
        keep: Callable[[Record], bool] = (
            (lambda record: record["path"] in config_paths) if self.args.keep_config else (lambda record: False))
        changes = self.plan.undo_changes(keep)
        recorded = [record["path"] for record in self.plan.manifest["entries"]]
        units = [name for name in (SOCKET_NAME, UNIT_NAME, SYNC_TIMER_NAME)
                 if any(path.endswith("/" + name) for path in recorded)]
        if self.args.dry_run:
            print("dry run: nothing is changed. Would:")
            if units and systemd_running(self.layout.root):  # as the real run: systemd of another root is not asked
                print("  systemctl disable --now %s" % " ".join(units))
            for change in changes:
                print("  " + change.description)
            print("  " + self.plan.state_description())
            return Exit.OK
        if units and systemd_running(self.layout.root):
            _report(systemctl("disable", "--now", *units))
        for change in changes:
            print(change.description)
            change.apply()
        self.plan.forget_state()
        if units and systemd_running(self.layout.root):
            _report(systemctl("daemon-reload"))
        reload_dialplan(self.layout)
        if cdr_custom.conf_path(self.layout) in recorded:
            cdr_custom.load_module(self.layout)
        if manager_user.places(self.layout) & set(recorded):
            reload_manager(self.layout)
        print("uninstalled%s" % (" (config kept: %s)" % self.args.config_file if self.args.keep_config else ""))
        return Exit.OK


def reload_dialplan(layout: Layout) -> None:
    if not layout.asterisk_running:
        print("Asterisk is not running: skipped the dialplan reload (it reads the files when it starts)")
        return
    if layout.freepbx and layout.fwconsole:
        command = [layout.fwconsole, "reload"]
    elif layout.asterisk_binary:
        command = [layout.asterisk_binary, "-rx", "dialplan reload"]
    else:
        print("no asterisk binary found: reload the dialplan yourself (asterisk -rx 'dialplan reload')")
        return
    _run_reload(layout, command, "dialplan")


def reload_manager(layout: Layout) -> None:
    """Asterisk reads the manager users again (ours added, changed or removed)."""
    if not layout.asterisk_running:
        print("Asterisk is not running: skipped the manager reload (it reads the files when it starts)")
        return
    if not layout.asterisk_binary:
        print("no asterisk binary found: reload the manager yourself (asterisk -rx '%s')" % manager_user.RELOAD)
        return
    _run_reload(layout, [layout.asterisk_binary, "-rx", manager_user.RELOAD], "manager")


def _run_reload(layout: Layout, command: List[str], what: str) -> None:
    """Run an Asterisk command on the target and say how it went."""
    ok, detail = layout.run(command)
    if not ok:
        print("itflow-bridge: %s failed: %s; reload the %s yourself" % (" ".join(command), detail, what),
              file=sys.stderr)
    else:
        print("%s reloaded (%s)" % (what, " ".join(command)))


def print_next_steps(layout: Layout) -> None:
    if layout.freepbx:
        print("""Left to do in the FreePBX GUI:
  1. Admin > Custom Destinations > Add: target itflow-cid,s,1, Return: Yes, destination after return:
     where the calls went before (ring group, IVR, ...).
  2. Connectivity > Inbound Routes: set each route's destination to that custom destination.
  3. Balance IVR: add a Custom Destination itflow-balance,s,1 (Return: No), then in Applications > IVR
     point option 3 at it. Submit and Apply Config.""")
    else:
        print("""Left to do in extensions.conf:
  1. In the context your trunk delivers calls to: exten => _X.,1,Gosub(itflow-cid,s,1) before Dial().
  2. For the balance IVR: an option that does Goto(itflow-balance,s,1) (set IVR_CONTEXT to come back).
  Then: asterisk -rx 'dialplan reload'.""")


def _before_manager_user(config: "Config") -> "Config":
    """``config`` for the check run before Asterisk's files are written: the bridge's manager user is
    written after it, so the calls lines (the manager login) belong to a later ``itflow-bridge check``."""
    return dataclasses.replace(config, calls=dataclasses.replace(config.calls, enabled=False))


def _answer(ask: Callable[[], str], hint: str, what: str, tries: int = 3) -> str:
    """A non-empty answer to ``ask``; ``hint`` after an empty one; cancelled after ``tries`` empty ones."""
    for _ in range(tries):
        answer = ask().strip()
        if answer:
            return answer
        print(hint)
    raise ConfigError("install cancelled: no %s given: nothing was written" % what)


def _link_entries(source: Path, target: Path) -> Path:
    """``target`` made a directory of links to each entry of ``source`` (if any); returns ``target``.
    A link already at ``target`` is replaced first: nothing is ever created through it in ``source``."""
    if target.is_symlink():
        target.unlink()
    target.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        for entry in source.iterdir():
            (target / entry.name).symlink_to(entry)
    return target


def _wrappers() -> List[Tuple[str, str]]:
    from ..classic.wrapper import installed_scripts

    return installed_scripts(sys.executable)


def _prompt_files(language: str) -> List[Path]:
    from ..prompts import shipped_files

    return shipped_files(language)


def _read(path: Path) -> Optional[bytes]:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _stat(path: Path) -> Optional[Tuple[int, int, int]]:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


def _paths(changes: List[Change]) -> List[str]:
    """The path each change is about (its description names it after the verb)."""
    found = []
    for change in changes:
        for word in change.description.split():
            if word.startswith("/"):
                found.append(word)
                break
    return found


def _report(problem: Optional[str]) -> None:
    if problem:
        print("itflow-bridge: %s" % problem, file=sys.stderr)
