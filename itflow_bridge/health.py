"""``itflow-bridge check``: is this installation ready, and if not, what to do.

Each check yields one line an admin can act on: what was found and, when it is
wrong, how to fix it.  The checks run in order and stop at the first one that
makes the rest meaningless (no URL, no ITFlow, key refused).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from .core.config import Config
from .core.errors import (
    ITFlowAPIMissing,
    ConfigError,
    ITFlowAuthError,
    ITFlowError,
    ITFlowTimeout,
    ITFlowTLSError,
    ITFlowUnavailable,
)
from .core.models import Capabilities
from .core.paths import CONFIG_FILE_MODE
from .core.redact import redact

if TYPE_CHECKING:
    from .app import Bridge
    from .itflow.site import ITFlowClient
    from .services.speech import SpeechSettings

PASS, WARN, FAIL = "ok", "warning", "FAIL"
AMI_CHECK_BUDGET = 3.0  # seconds for the manager login of ``check``: a local Asterisk answers at once
FAILED_REASONS_SHOWN = 3

AUTH_FIXES = {
    "missing": "set [itflow] api_key (or ITFLOW_API_KEY)",
    "invalid": "the key is wrong or expired: create a new one in ITFlow (Admin > API Keys) and set [itflow] api_key",
    "not_tied_to_user": "this key predates ITFlow's per-user keys: recreate it in ITFlow (Admin > API Keys)",
    "user_invalid": "the key's user is archived, inactive or gone in ITFlow: create a key for an active user "
                    "(Admin > API Keys)",
    "forbidden": "give the key's user access to the clients the PBX must know, or create a key with wider access",
}

TLS_FIXES = {
    "certificate": "install a valid certificate on ITFlow, or set [itflow] ca_bundle to its CA file",
    "not_tls": "set [itflow] url to the http:// address, or to the port where ITFlow serves HTTPS",
    "handshake": "see that the TLS protocols and ciphers of ITFlow's web server are current ones, and that "
                 "nothing between the PBX and ITFlow intercepts the connection",
}


@dataclass
class CheckItem:
    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = "[%s] %s: %s" % (self.status, self.name, self.detail)
        return text + ("\n       fix: %s" % self.fix if self.fix else "")


@dataclass
class StoreState:
    """One store of the cache directory as this user finds it (``check`` lists them in lookup order)."""

    store: str
    path: str
    exists: bool
    files: int  # 1 for a file; a folder's files
    size: int  # bytes
    age: Optional[float]  # seconds since its newest file was written; None when there is none
    writable: bool  # this user can write it (or create it, when it does not exist yet)

    def describe(self) -> str:
        if not self.exists:
            state = "not written yet"
        else:
            count = "%d file%s, " % (self.files, "" if self.files == 1 else "s") if self.path.endswith("/") else ""
            age = "written %s ago" % _duration(self.age) if self.age is not None else "empty"
            state = "%s%s, %s" % (count, _size(self.size), age)
        return "%s: %s; %s by this user" % (self.path, state, "writable" if self.writable else "NOT writable")


@dataclass
class Report:
    items: List[CheckItem] = field(default_factory=list)
    generation: Optional[str] = None
    stores: List[StoreState] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(item.status != FAIL for item in self.items)

    @property
    def configuration_failed(self) -> bool:
        """The configuration itself is incomplete or invalid (exit code 3, not 2)."""
        return any(item.status == FAIL and item.name == "configuration" for item in self.items)

    def add(self, name: str, status: str, detail: str, fix: str = "") -> None:
        self.items.append(CheckItem(name, status, redact(detail), fix))

    def to_dict(self) -> Dict[str, Any]:
        return {"ok": self.ok, "generation": self.generation, "checks": [vars(item) for item in self.items],
                "stores": [vars(state) for state in self.stores]}


def run_checks(config: Config, transport: Optional[str] = None) -> Report:
    """``transport``: how Asterisk reaches the bridge (fastagi | classic); default: as installed, if known."""
    report = Report()
    source = str(config.source) if config.source else "defaults and environment (no config file found)"
    report.add("configuration", PASS, "read from %s" % source)
    _check_config_file(config, report)
    try:
        config.require_itflow()
    except ConfigError as exc:
        report.add("configuration", FAIL, str(exc), "edit the config file, see itflow-bridge.conf.example")
        return report

    from .app import Bridge

    bridge = Bridge(config)
    _check_cache(bridge, report)
    _list_stores(str(bridge.config.cache.dir), report)
    _check_directory(bridge, report, transport)
    if config.calls.enabled:
        check_calls(config, report)
    client = bridge.client
    mode = "detected" if config.itflow.api_mode == "auto" else "configured"
    try:
        adapter = client.adapter()  # auto mode: detection asks ITFlow
        adapter.verify_key()  # one authenticated request: reachability, API and key at once
    except ITFlowAuthError as exc:
        report.generation = client.adapter().generation
        report.add("reach ITFlow", PASS,
                   "%s answers with the %s API (%s)" % (config.itflow.url, report.generation, mode))
        report.add("API key", FAIL, str(exc), AUTH_FIXES.get(exc.reason, AUTH_FIXES["invalid"]))
        return report
    except ITFlowAPIMissing as exc:
        report.add("API generation", FAIL, str(exc), _reach_fix(exc, config, client))
        return report
    except ITFlowError as exc:
        report.add("reach ITFlow", FAIL, str(exc), _reach_fix(exc, config, client))
        return report
    report.generation = adapter.generation
    report.add("reach ITFlow", PASS, "%s answers with the %s API (%s)" % (config.itflow.url, adapter.generation, mode))
    report.add("API key", PASS, "accepted by ITFlow")

    _check_features(client.adapter().capabilities, config, report)
    _check_prompts(config, report)
    return report


def check_calls(config: Config, report: Report, budget: float = AMI_CHECK_BUDGET) -> None:
    """Calls journaled in ITFlow: the manager login, the CDR file for catch-up, the outbox's backlog."""
    _check_ami(config, report, budget)
    _check_cdr_file(config, report)
    _check_outbox(config, report)
    check_screen(config, report, budget)


def check_screen(config: Config, report: Report, budget: float = AMI_CHECK_BUDGET) -> None:
    """The agent's screen (served with the calls): its links, the server of its pages, click to call."""
    _check_agent_links(config, report)
    _check_agent_pages(config, report)
    _check_dial_user(config, report, budget)


def _check_ami(config: Config, report: Report, budget: float) -> None:
    calls = config.calls
    if not calls.ami_user or not calls.ami_secret:
        report.add("Asterisk manager", FAIL, "[calls] ami_user or ami_secret is not set",
                   "run itflow-bridge install (it adds the bridge's manager user and sets both), or set them to "
                   "a manager user of manager.conf")
        return
    _manager_login(config, report, budget, "Asterisk manager", calls.ami_user, calls.ami_secret,
                   "[calls] ami_user/ami_secret")


def _check_dial_user(config: Config, report: Report, budget: float) -> None:
    calls = config.calls
    if not calls.originate_user:
        report.add("click to call", PASS, "click to call off ([calls] originate_user is empty)")
        return
    if not calls.originate_secret:
        report.add("click to call", FAIL, "[calls] originate_secret is not set for user %s" % calls.originate_user,
                   "run itflow-bridge install --calls (it adds the user itflow-bridge-dial and sets both), or set "
                   "it to the secret of that manager user")
        return
    _manager_login(config, report, budget, "click to call", calls.originate_user, calls.originate_secret,
                   "[calls] originate_user/originate_secret")


def _manager_login(config: Config, report: Report, budget: float, name: str, user: str, secret: str,
                   settings: str) -> None:
    """One line ``name``: ``user`` logs in to the manager interface (the secret is never said)."""
    from .calls.ami import AMIAuthenticationError, AMIClient, AMIError, AMITimeout, AMIUnreachable

    calls = config.calls
    where = "%s:%d" % (calls.ami_host, calls.ami_port)
    client = AMIClient(calls.ami_host, calls.ami_port, user, secret, timeout=budget, ping_interval=None,
                       events="off")
    try:
        client.connect()
    except AMIAuthenticationError:
        report.add(name, FAIL, "AMI refused the login for user %s on %s" % (user, where),
                   "check %s and manager.conf (itflow-bridge install writes both)" % settings)
        return
    except AMIUnreachable as exc:
        report.add(name, FAIL, "no Asterisk manager on %s: %s" % (where, exc),
                   "start Asterisk; see that manager.conf has enabled = yes and port = %d in [general] (or set "
                   "[calls] ami_host/ami_port to where it listens)" % calls.ami_port)
        return
    except AMITimeout as exc:
        report.add(name, FAIL, "the manager on %s did not answer in time: %s" % (where, exc),
                   "see that Asterisk runs and is not overloaded (asterisk -rx 'manager show settings')")
        return
    except AMIError as exc:
        report.add(name, FAIL, "the manager on %s: %s" % (where, exc),
                   "see that [calls] ami_host/ami_port point at Asterisk's manager interface")
        return
    try:
        banner = client.banner or "Asterisk Call Manager"
    finally:
        client.close()
    report.add(name, PASS, "logged in as %s on %s (%s)" % (user, where, banner))


def _check_agent_links(config: Config, report: Report) -> None:
    """The agents' links: how many extensions have one; a store that cannot be read opens no page."""
    import sqlite3

    from .screen.tokens import AgentLinks
    from .storage.layout import AGENTS_DB

    path = config.cache.dir / AGENTS_DB
    if not path.is_file():
        report.add("agent links", PASS, "no agent link issued yet (itflow-bridge agent-link EXT prints one)")
        return
    try:
        with AgentLinks(path) as links:
            extensions = links.extensions()
    except (OSError, sqlite3.Error) as exc:
        report.add("agent links", FAIL, "%s cannot be read by %s: %s: no agent's page opens"
                   % (path, _effective_user(), exc),
                   "make it the Asterisk group's, read-write (itflow-bridge install fixes the cache's files), or "
                   "move a damaged file aside and issue the links again (itflow-bridge agent-link EXT)")
        return
    if not extensions:
        report.add("agent links", PASS, "no extension has an agent link (itflow-bridge agent-link EXT prints one)")
        return
    links_count = sum(count for _extension, count in extensions)
    report.add("agent links", PASS, "%d extension%s with agent links (%d link%s)" % (
        len(extensions), "" if len(extensions) == 1 else "s", links_count, "" if links_count == 1 else "s"))


def _check_agent_pages(config: Config, report: Report) -> None:
    """The pages are served by the bridge's HTTP server at ``[calls] link_base_url``: both must be set."""
    directory, base = config.directory, config.calls.link_base_url
    if not directory.http_port:
        report.add("agent pages", WARN, "the bridge's HTTP server is off ([directory] http_port = 0): the agents' "
                   "pages are not served, and a link agent-link prints does not open",
                   "set [directory] http_port (e.g. 8089), http_host to an address the agents' browsers reach "
                   "and http_allow to their networks, and [calls] link_base_url to that address "
                   "(e.g. http://pbx.example.com:8089); then restart the daemon")
        return
    served = "%s:%d" % (directory.http_host, directory.http_port)
    if not base:
        report.add("agent pages", WARN, "served on %s, but [calls] link_base_url is not set: agent-link prints "
                   "no link" % served,
                   "set [calls] link_base_url to this server as the agents' browsers reach it, e.g. "
                   "http://pbx.example.com:%d" % directory.http_port)
        return
    report.add("agent pages", PASS, "served on %s; links start with %s/agent/" % (served, base))


def _check_cdr_file(config: Config, report: Report) -> None:
    calls = config.calls
    if not calls.catch_up_hours:
        report.add("calls catch-up", PASS, "off ([calls] catch_up_hours = 0): calls that end while the bridge "
                   "is stopped are not journaled")
        return
    path = calls.cdr_file
    away = "calls that end while the bridge is stopped will not be journaled"
    if not path.is_file():
        report.add("calls catch-up", WARN, "%s not found: %s" % (path, away),
                   "have Asterisk's cdr_custom write it (cdr_custom.conf), or set [calls] cdr_file to the CDR "
                   "file Asterisk writes (catch_up_hours = 0: no catch-up)")
    elif not os.access(path, os.R_OK):
        report.add("calls catch-up", WARN, "%s cannot be read by %s: %s" % (path, _effective_user(), away),
                   "make it readable by the Asterisk group (chmod g+r %s)" % path)
    else:
        report.add("calls catch-up", PASS, "calls that ended up to %d h ago are read back from %s"
                   % (calls.catch_up_hours, path))


def _check_outbox(config: Config, report: Report) -> None:
    """The writes to ITFlow that calls made: none failed, none stuck."""
    import sqlite3

    from .calls.outbox import FAILED, PENDING, SENDING, Outbox
    from .storage.layout import OUTBOX_DB

    path = config.cache.dir / OUTBOX_DB
    if not path.is_file():
        report.add("calls outbox", PASS, "no call has been written to ITFlow yet (%s)" % path)
        return
    try:
        with Outbox(path) as outbox:
            waiting = outbox.entries(PENDING, SENDING)
            failed = outbox.entries(FAILED)
    except (OSError, sqlite3.Error) as exc:
        report.add("calls outbox", WARN, "%s cannot be read by %s: %s" % (path, _effective_user(), exc),
                   "run check as root or as the Asterisk user")
        return
    if failed:
        reasons = ["%s: %s" % (entry.key, entry.reason or "no reason kept") for entry in failed[:FAILED_REASONS_SHOWN]]
        more = "; and %d more" % (len(failed) - FAILED_REASONS_SHOWN) if len(failed) > FAILED_REASONS_SHOWN else ""
        report.add("calls outbox", FAIL, "%d call write%s refused by ITFlow, not retried: %s%s"
                   % (len(failed), "" if len(failed) == 1 else "s", "; ".join(reasons), more),
                   "fix what the reasons say, then run itflow-bridge calls --retry")
    stuck = [entry for entry in waiting if entry.reason]
    if stuck:
        report.add("calls outbox", WARN, "%d call write%s waiting for ITFlow; the last attempt: %s"
                   % (len(waiting), "" if len(waiting) == 1 else "s", stuck[-1].reason),
                   "see that ITFlow answers (the reach ITFlow line): they are sent once it does")
    elif waiting:
        report.add("calls outbox", PASS, "%d call write%s being sent to ITFlow"
                   % (len(waiting), "" if len(waiting) == 1 else "s"))
    elif not failed:
        report.add("calls outbox", PASS, "every call write is in ITFlow (%s)" % path)


def _check_features(capabilities: Capabilities, config: Config, report: Report) -> None:
    """What the bridge can do with this ITFlow, and whether that fits the configuration."""
    report.add("caller-ID names", PASS, capabilities.caller_names)
    report.add("balance", PASS if capabilities.confirms_clients else WARN, capabilities.balance)
    if capabilities.verifies_callers:
        report.add("caller verification", PASS, "by caller number or by contact PIN")
    elif config.balance.verify == "none":
        report.add("caller verification", PASS, "not possible with this API, and not configured (verify = none)")
    else:
        report.add("caller verification", FAIL, "not possible: this API cannot list a client's contacts",
                   "set [balance] verify = none, or upgrade ITFlow")


def _check_cache(bridge: "Bridge", report: Report) -> None:
    from .storage.layout import CACHE_DB, CACHE_DB_FILES, write_problem

    problem = write_problem(str(bridge.config.cache.dir), CACHE_DB_FILES)
    path = bridge.config.cache.dir / CACHE_DB
    damage = None if problem or bridge.cache.persistent else _damage(path)
    if problem:
        report.add("cache", WARN, "%s: this user's lookups are not cached" % problem,
                   "itflow-bridge install sets the cache up for the asterisk user, or set [cache] dir")
    elif bridge.cache.persistent:
        report.add("cache", PASS, "persistent cache at %s" % bridge.cache.path)
    elif damage is not None:
        fix = ("rm -f %s %s-wal %s-shm: the bridge creates a new cache on its next call (what is lost: cached "
               "answers, and this hour's count of failed balance attempts)" % (path, path, path))
        report.add("cache", WARN, "%s %s: classic AGI scripts will ask ITFlow on every call"
                   % (path, _damage_words(damage, path)), _damage_fix(damage, path, fix))
    else:
        report.add(
            "cache", WARN, "no persistent cache in %s: classic AGI scripts will ask ITFlow on every call"
            % bridge.config.cache.dir,
            "create the directory and make it writable by the asterisk user, or set [cache] dir",
        )


def store_states(cache_dir: str, now: Optional[float] = None) -> List[StoreState]:
    """Every store of the cache directory, in the order a caller-ID answer is looked for."""
    import os
    import time

    from .storage.layout import store_paths

    now = time.time() if now is None else now
    states = []
    for store, path in store_paths(cache_dir):
        folder = os.path.isdir(path)
        files: List[os.stat_result] = []
        if folder:
            try:
                with os.scandir(path) as entries:
                    files = [entry.stat() for entry in entries if entry.is_file(follow_symlinks=False)]
            except OSError:
                files = []
        elif os.path.isfile(path):
            files = [os.stat(path)]
        exists = folder or bool(files)
        target = path if exists else os.path.dirname(path)  # a missing store is created in the cache directory
        writable = os.access(target, os.W_OK | (os.X_OK if folder or not exists else 0))
        newest = max((info.st_mtime for info in files), default=None)
        states.append(StoreState(store, path + ("/" if folder else ""), exists, len(files),
                                 sum(info.st_size for info in files),
                                 None if newest is None else max(0.0, now - newest), writable))
    return states


def _list_stores(cache_dir: str, report: Report) -> None:
    report.stores = store_states(cache_dir)
    for state in report.stores:
        if state.writable:
            report.add("store: " + state.store, PASS, state.describe())
        else:
            report.add("store: " + state.store, WARN, state.describe(),
                       "itflow-bridge install makes the cache the asterisk group's, read-write")


def _duration(seconds: Optional[float]) -> str:
    value = seconds or 0.0
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if value >= length:
            return "%d %s" % (value // length, unit)
    return "%d s" % value


def _size(size: int) -> str:
    if size < 1024:
        return "%d bytes" % size
    if size < 1024 * 1024:
        return "%.1f KiB" % (size / 1024)
    return "%.1f MiB" % (size / 1024 / 1024)


def _check_directory(bridge: "Bridge", report: Report, transport: Optional[str]) -> None:
    from .directory.service import directory_check, directory_status

    store = bridge.directory_store()
    damage = _damage(store.path) if store is not None else None
    if damage is None and store is not None and store.path.is_file() and directory_status(bridge) is None:
        damage = "corrupt"  # an sqlite file, but not one a sync wrote whole (truncated, or another schema)
    if store is not None and damage is not None:
        fix = "run itflow-bridge sync again: it writes a new file in its place"
        report.add("local directory", WARN, "%s %s: calls are named by asking ITFlow"
                   % (store.path, _damage_words(damage, store.path)), _damage_fix(damage, store.path, fix))
        return
    report.add("local directory", *directory_check(bridge, transport or installed_transport()))


SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every sqlite database file


def _damage(path: Path) -> Optional[str]:
    """Why the sqlite file ``path`` cannot be used: ``unreadable``, ``not_a_file`` or ``corrupt``; None
    when it can, or is absent."""
    import sqlite3
    from urllib.parse import quote

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return "not_a_file"
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return None
    except PermissionError:
        return "unreadable"
    except OSError:
        return None  # nothing more to tell than what the check says anyway
    if header and header != SQLITE_HEADER:
        return "corrupt"
    try:
        db = sqlite3.connect("file:%s?mode=ro" % quote(str(path.resolve())), uri=True)
        try:
            db.execute("PRAGMA quick_check(1)").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return "corrupt" if "not a database" in str(exc) or "malformed" in str(exc) else None
    return None


def _damage_words(damage: str, path: Path) -> str:
    if damage == "unreadable":
        return "cannot be read by %s" % _effective_user()
    if damage == "not_a_file":
        return "is a directory, not a file" if path.is_dir() else "is not a regular file"
    return "is corrupt"


def _damage_fix(damage: str, path: Path, corrupt_fix: str) -> str:
    if damage == "unreadable":
        from .storage.layout import FILE_MODE as SHARED_FILE_MODE

        return ("chgrp %s %s && chmod %04o %s (the cache's files are the Asterisk group's, mode %04o; "
                "itflow-bridge install sets the cache directory up so)"
                % (_group(path.parent), path, SHARED_FILE_MODE, path, SHARED_FILE_MODE))
    if damage == "not_a_file":
        return "remove it (rm -r %s), then %s" % (path, corrupt_fix[0].lower() + corrupt_fix[1:])
    return corrupt_fix


def _effective_user() -> str:
    """Who the file permissions are checked against: the effective user."""
    return "user %s" % _user_name(os.geteuid())


def _group(path: Path) -> str:
    try:
        return _group_name(os.stat(path).st_gid)
    except OSError:
        return "asterisk"


def _check_config_file(config: Config, report: Report) -> None:
    """The config file holds the API key and says where it goes: only root may change it, the Asterisk group read it.

    Writable by every user fails; writable by a group other than root's, or the key readable by
    every user, is a warning.  Its owner can always change it: ``install`` makes that root.
    """
    path = config.source
    if path is None:
        return
    try:
        info = os.stat(path)
    except OSError:
        return
    mode = stat.S_IMODE(info.st_mode)
    found = "mode %04o, %s:%s" % (mode, _user_name(info.st_uid), _group_name(info.st_gid))
    fix = ("chmod %04o %s; chown root:asterisk %s (root changes it, the Asterisk group reads it: as "
           "itflow-bridge install sets it)" % (CONFIG_FILE_MODE, path, path))
    if mode & stat.S_IWOTH:
        report.add("config file", FAIL, "%s is writable by every user (%s): anyone on this machine can change "
                   "which server the API key is sent to and what the bridge does" % (path, found), fix)
    elif mode & stat.S_IWGRP and info.st_gid != 0:
        report.add("config file", WARN, "%s is writable by group %s (%s): its members can change which server "
                   "the API key is sent to" % (path, _group_name(info.st_gid), found), fix)
    elif mode & stat.S_IROTH and _holds_api_key(path):
        report.add("config file", WARN, "every user can read the API key in %s (%s)" % (path, found), fix)
    else:
        report.add("config file", PASS, "%s (%s)" % (path, found))


def _holds_api_key(path: Path) -> bool:
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return False
    return bool(parser.get("itflow", "api_key", fallback="").strip())


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def installed_transport() -> Optional[str]:
    """The transport ``install`` set up here (fastagi | classic); None when unknown or unreadable (not root)."""
    import json
    from pathlib import Path

    from .install.plan import MANIFEST, STATE_DIR

    try:
        transport = json.loads((Path(STATE_DIR) / MANIFEST).read_text(encoding="utf-8")).get("transport")
    except (OSError, ValueError, AttributeError):
        return None
    return transport if transport in ("fastagi", "classic") else None


def required_prompts(speech: "SpeechSettings") -> List[str]:
    """Every sound the balance IVR can play with these settings."""
    from .services.speech import DEFAULT_CURRENCY_WORDS, number_prompts

    names = list(speech.prompts.all_names())
    for words in (*DEFAULT_CURRENCY_WORDS.values(), *speech.currencies.values()):
        names += [words.major_one, words.major_many, words.minor_one, words.minor_many]
    for n in (*range(21), *range(30, 100, 10), 100, 1000, 10**6, 10**9):
        names += number_prompts(n)
    return list(dict.fromkeys(name for name in names if name))


def _check_prompts(config: Config, report: Report) -> None:
    from .app import Bridge
    from .prompts import OUR_PROMPTS, STOCK_PROMPTS, missing_prompts

    try:
        speech = Bridge(config).speech
    except ConfigError as exc:
        report.add("balance prompts", FAIL, str(exc), "fix the [prompts] / [currencies] section")
        return
    sounds = config.balance.sounds_dir
    if not sounds.exists():
        report.add("balance prompts", WARN, "sounds directory %s not found (not on the PBX?)" % sounds,
                   "run check on the PBX, or set [balance] sounds_dir")
        return
    language = config.balance.language
    missing = missing_prompts(sounds, required_prompts(speech), language)
    ours = [name for name in missing if name in OUR_PROMPTS]
    stock = [name for name in missing if name in STOCK_PROMPTS]
    own = [name for name in missing if name not in OUR_PROMPTS and name not in STOCK_PROMPTS]
    if ours:
        report.add("balance prompts", FAIL, "missing in %s: %s" % (sounds, ", ".join(ours)),
                   "run: itflow-bridge install-prompts (or point [prompts] at your own System Recordings)")
    if stock:
        report.add("Asterisk sounds", FAIL, "missing in %s: %s" % (sounds, ", ".join(stock)),
                   "install Asterisk's core sounds for language %r: on FreePBX, Admin > Sound Languages; on "
                   "Debian, apt-get install asterisk-core-sounds-%s-gsm (or point [prompts] at files you have)"
                   % (language, language.split("_")[0]))
    if own:
        report.add("your prompts", FAIL, "missing in %s: %s" % (sounds, ", ".join(own)),
                   "record them (FreePBX: Admin > System Recordings) or correct [prompts] / [currencies]")
    if not missing:
        report.add("balance prompts", PASS, "every prompt the balance IVR plays exists in %s" % sounds)


def _reach_fix(exc: ITFlowError, config: Config, client: "ITFlowClient") -> str:
    if isinstance(exc, ITFlowTLSError):
        return TLS_FIXES.get(exc.reason, TLS_FIXES["certificate"])
    if isinstance(exc, ITFlowAPIMissing):
        found = client.detect() if config.itflow.api_mode != "auto" else None
        if found is not None and found != config.itflow.api_mode:
            return "this ITFlow speaks the %s API: set [itflow] api_mode = %s (or auto)" % (found, found)
        return "neither /api/v1 nor /api.php answers there: check [itflow] url, the base address of your ITFlow site"
    if isinstance(exc, ITFlowTimeout):
        return ("see that ITFlow's web server and PHP answer (open the URL in a browser) and that the firewall lets "
                "the PBX through; if ITFlow is only slow, raise [itflow] connect_timeout / read_timeout")
    if isinstance(exc, ITFlowUnavailable):
        return "check [itflow] url, DNS and the firewall between the PBX and ITFlow"
    return "check [itflow] url: it must be the base address of the ITFlow site"
