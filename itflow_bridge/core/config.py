"""All configuration, in one typed place, validated once at start-up.

Sources, strongest first: command-line flags, environment variables, the INI
file (``--config``, ``$ITFLOW_BRIDGE_CONFIG`` or
``/etc/itflow-bridge/itflow-bridge.conf``), built-in defaults.  Every invalid
value raises ``ConfigError`` with one sentence naming the key, the bad value
and what is allowed, so an admin can fix it without reading code.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Tuple

from . import paths
from .constants import CACHE_MAX_ENTRIES, CDR_CUSTOM_DIR, CDR_FILE_NAME, FASTAGI_PORT
from .errors import ConfigError
from .redact import SHORTEST_ITFLOW_KEY, register_secret

if TYPE_CHECKING:
    from .networks import Network

DEFAULT_CACHE_DIR = Path(paths.DEFAULT_CACHE_DIR)
API_MODES = ("auto", "legacy", "v1")
VERIFY_MODES = ("none", "callerid", "pin")

# Environment variables that override one setting each: name -> (section, key).
ENV_OVERRIDES = {
    "ITFLOW_URL": ("itflow", "url"),
    "ITFLOW_API_KEY": ("itflow", "api_key"),
    "ITFLOW_API_MODE": ("itflow", "api_mode"),
    paths.CACHE_DIR_ENV: ("cache", "dir"),
}


# --- value parsers: each takes the raw string and returns the typed value or raises ValueError


def _text(raw: str) -> str:
    return raw.strip()


def _spaced_text(raw: str) -> str:
    """Text whose edge spaces matter: INI strips them, so they may be kept in double quotes."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "yes", "true", "on"):
        return True
    if value in ("0", "no", "false", "off"):
        return False
    raise ValueError("use yes or no")


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw.strip())
        except ValueError:
            raise ValueError("use a number greater than 0") from None
        if value <= 0:
            raise ValueError("use a number greater than 0")
        return value

    return parse


def _whole_number(minimum: int, maximum: Optional[int], hint: str) -> Callable[[str], int]:
    """A parser for whole numbers from ``minimum`` to ``maximum`` (None: no bound); ``hint`` says what to use."""

    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(hint) from None
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(hint)
        return value

    return parse


_non_negative_int = _whole_number(0, None, "use a whole number, 0 or more")
_seconds_or_off = _whole_number(0, None, "use a number of seconds, or 0 for off")
_port_or_off = _whole_number(0, 65535, "use a TCP port from 1 to 65535, or 0 for off")


def _tcp_port(raw: str) -> int:
    value = _port_or_off(raw)
    if value == 0:
        raise ValueError("use a TCP port from 1 to 65535")
    return value


def _api_key(raw: str) -> str:
    """A key as ITFlow issues it: none shorter than SHORTEST_ITFLOW_KEY (a part copied is no key)."""
    value = _text(raw)
    if value and len(value) < SHORTEST_ITFLOW_KEY:
        raise ValueError("ITFlow's API keys are at least %d characters: copy the whole key from "
                         "Admin > API Keys" % SHORTEST_ITFLOW_KEY)
    return value


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError("use " + ", ".join(allowed[:-1]) + " or " + allowed[-1])
        return value

    return parse


def _url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not value:
        return ""
    if not re.match(r"^https?://[^/\s?#]+", value):
        raise ValueError("use the base address of your ITFlow site, e.g. https://itflow.example.com")
    if "?" in value or "#" in value:
        raise ValueError("give only the base address, without ?query or #fragment")
    for suffix in ("/api.php", "/api/v1"):
        if value.lower().endswith(suffix):
            raise ValueError("give the base address of the site, without %s" % suffix)
    return value


def _region(raw: str) -> str:
    value = raw.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", value) or not _has_numbering_plan(value):
        raise ValueError("use a two-letter ISO region such as US, GB, DE; UK is GB")
    return value


def _has_numbering_plan(region: str) -> bool:
    """Whether ``phonenumbers`` knows the region's numbers, without importing it when it does.

    Importing it costs 30 to 100 ms, which a classic AGI call reading this file
    must not pay: its plan for a region is the file ``data/region_XX.py``, so a
    known region is one look at the disk.  Only a region without that file (a
    wrong one, or an install that keeps no such files) imports the package to ask.
    """
    import importlib.util

    spec = importlib.util.find_spec("phonenumbers")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if os.path.isfile(os.path.join(location, "data", "region_%s.py" % region)):
            return True
    import phonenumbers

    return region in phonenumbers.SUPPORTED_REGIONS


def _currency(raw: str) -> str:
    value = raw.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError("use a three-letter ISO 4217 code such as USD, EUR or GBP")
    return value


def _path(raw: str) -> Path:
    return Path(paths.directory(raw))


def _optional_path(raw: str) -> Optional[Path]:
    return _path(raw) if raw.strip() else None


def _template(raw: str) -> str:
    value = _spaced_text(raw)
    try:
        value.format(client="", contact="", name="", number="")
    except (KeyError, IndexError, ValueError):
        raise ValueError("use only the fields {client}, {contact}, {name} and {number}") from None
    return value


def _networks(raw: str) -> "Tuple[Network, ...]":
    from .networks import parse_networks

    return parse_networks(raw)


def _loglevel(raw: str) -> str:
    return _choice("debug", "info", "warning", "error")(raw).upper()


DEFAULT_ORIGINATE_CHANNEL = "Local/{ext}@originate-skipvm"  # FreePBX: rings the extension, never its voicemail
DEFAULT_ORIGINATE_CONTEXT = "from-internal"  # FreePBX: dials out with the extension's outbound routes
ORIGINATE_EXTENSION_FIELD = "{ext}"
_DIALPLAN_CONTEXT = re.compile(r"[0-9A-Za-z_.-]{1,80}")


def check_originate_channel(raw: str) -> str:
    """A channel naming the agent's phone: ``{ext}`` once, nothing Asterisk would read as more."""
    value = raw.strip()
    if value.count(ORIGINATE_EXTENSION_FIELD) != 1:
        raise ValueError("use a channel with {ext} once, e.g. %s" % DEFAULT_ORIGINATE_CHANNEL)
    if any(char in value for char in ",;&\"\\") or not value.isprintable():
        raise ValueError("use a channel such as %s or PJSIP/{ext} (no , ; & quotes or control characters)"
                         % DEFAULT_ORIGINATE_CHANNEL)
    return value


def check_dialplan_context(raw: str) -> str:
    value = raw.strip()
    if not _DIALPLAN_CONTEXT.fullmatch(value):
        raise ValueError("use a dialplan context name (letters, digits, _ . -), e.g. %s"
                         % DEFAULT_ORIGINATE_CONTEXT)
    return value


def _setting(default: Any, parse: Callable[[str], Any], doc: str = "") -> Any:
    return field(default=default, metadata={"parse": parse, "doc": doc})


# --- the settings, one dataclass per INI section


@dataclass(frozen=True)
class ITFlowSettings:
    url: str = _setting("", _url, "base URL of the ITFlow site")
    api_key: str = field(default="", repr=False, metadata={"parse": _api_key, "secret": True})
    api_mode: str = _setting("auto", _choice(*API_MODES))
    verify_tls: bool = _setting(True, _boolean)
    ca_bundle: Optional[Path] = _setting(None, _optional_path)
    connect_timeout: float = _setting(2.0, _positive(float))
    read_timeout: float = _setting(5.0, _positive(float))
    retries: int = _setting(1, _non_negative_int)


@dataclass(frozen=True)
class CacheSettings:
    dir: Path = _setting(DEFAULT_CACHE_DIR, _path)
    hit_ttl: int = _setting(3600, _positive(int))
    miss_ttl: int = _setting(300, _positive(int))
    stale_grace: int = _setting(86400, _non_negative_int)
    max_entries: int = _setting(CACHE_MAX_ENTRIES, _positive(int))  # in memory; sqlite holds every entry


@dataclass(frozen=True)
class CallerIDSettings:
    budget_ms: int = _setting(1500, _positive(int))
    default_region: str = _setting("US", _region)
    min_digits: int = _setting(5, _positive(int))
    template: str = _setting("{client} - {contact}", _template)
    max_length: int = _setting(40, _positive(int))
    ascii_only: bool = _setting(False, _boolean)
    prefix: str = _setting("", _spaced_text)
    keep_trunk_name: bool = _setting(True, _boolean)
    unknown_name: str = _setting("", _template)


@dataclass(frozen=True)
class BalanceSettings:
    budget_ms: int = _setting(3000, _positive(int))
    digit_timeout_ms: int = _setting(6000, _positive(int))
    max_digits: int = _setting(10, _positive(int))
    max_attempts: int = _setting(3, _positive(int))
    verify: str = _setting("none", _choice(*VERIFY_MODES))
    max_failures_per_hour: int = _setting(10, _positive(int))
    default_currency: str = _setting("USD", _currency)
    sounds_dir: Path = _setting(Path("/var/lib/asterisk/sounds"), _path)
    language: str = _setting("en", _text)
    # The caller's balance on the agent's screen; no: the card never fetches it nor shows it.
    agent_screen: bool = _setting(True, _boolean)


@dataclass(frozen=True)
class ServerSettings:
    host: str = _setting("127.0.0.1", _text)
    port: int = _setting(FASTAGI_PORT, _tcp_port)
    verbose_level: int = _setting(3, _non_negative_int)  # Asterisk verbosity of our VERBOSE lines; 0: none
    log_level: str = _setting("INFO", _loglevel)
    # FastAGI peers served (addresses or CIDR networks); any other connection is closed unread.
    allow: "Tuple[Network, ...]" = _setting(_networks("127.0.0.1, ::1"), _networks)


def _dial_prefix(raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"[0-9*#]*", value):
        raise ValueError("use digits, * or # only (e.g. 9 for an outside line), or leave it empty")
    return value


def _address_list(raw: str) -> Tuple[str, ...]:
    import ipaddress

    items = tuple(item for item in re.split(r"[\s,]+", raw.strip()) if item)
    if not items:
        raise ValueError("list at least one address or network, e.g. 127.0.0.1, ::1, 192.168.1.0/24")
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError("%r is not an IP address or network (e.g. 192.168.1.0/24)" % item) from None
    return items


@dataclass(frozen=True)
class DirectorySettings:
    """The local directory, its phonebooks and its HTTP endpoint (``itflow_bridge.directory``)."""

    sync_interval: int = _setting(900, _seconds_or_off)  # 0: the daemon does not sync, no timer is installed
    include_archived: bool = _setting(False, _boolean)
    number_format: str = _setting("e164", _choice("e164", "national"))
    dial_prefix: str = _setting("", _dial_prefix)
    http_host: str = _setting("127.0.0.1", _text)
    http_port: int = _setting(0, _port_or_off)
    http_token: str = field(default="", repr=False, metadata={"parse": _text, "secret": True})
    http_allow: Tuple[str, ...] = _setting(("127.0.0.1", "::1"), _address_list)


TICKET_PRIORITIES = ("Low", "Medium", "High", "Critical")
ANSWERED_MODES = ("off", "reply", "ticket")
AMI_PORT = 5038


def _url_or_empty(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if value and not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", value):
        raise ValueError("use an address like http://pbx.example.com:8080, or leave it empty")
    return value


def _priority(raw: str) -> str:
    value = raw.strip().capitalize()
    if value not in TICKET_PRIORITIES:
        raise ValueError("use " + ", ".join(TICKET_PRIORITIES[:-1]) + " or " + TICKET_PRIORITIES[-1])
    return value


def _context_list(raw: str) -> Tuple[str, ...]:
    items = tuple(item for item in re.split(r"[\s,]+", raw.strip()) if item)
    if not items:
        raise ValueError("list at least one dialplan context, e.g. from-trunk, from-pstn")
    for item in items:
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", item):
            raise ValueError("%r is not a dialplan context name" % item)
    return items


@dataclass(frozen=True)
class CallsSettings:
    """Calls written back to ITFlow as tickets and replies (``itflow_bridge.calls``)."""

    enabled: bool = _setting(False, _boolean)
    answered: str = _setting("off", _choice(*ANSWERED_MODES))
    priority: str = _setting("Low", _priority)
    subject_template: str = _setting("Missed call from {contact} ({client})", _template)
    repeat_window: int = _setting(3600, _seconds_or_off)
    time_step: int = _setting(15, _positive(int))  # minutes
    billable: bool = _setting(False, _boolean)
    inbound_contexts: Tuple[str, ...] = _setting(("from-trunk", "from-pstn"), _context_list)
    ami_host: str = _setting("127.0.0.1", _text)
    ami_port: int = _setting(AMI_PORT, _tcp_port)
    ami_user: str = _setting("", _text)
    ami_secret: str = field(default="", repr=False, metadata={"parse": _text, "secret": True})
    # Calls that ended while the bridge was away are read back from Asterisk's own CDR file this far.
    catch_up_hours: int = _setting(24, _whole_number(0, 24 * 31, "use a number of hours from 0 (off) to 744"))
    cdr_file: Path = _setting(Path(CDR_CUSTOM_DIR) / CDR_FILE_NAME, _path)
    voicemail_spool: Path = _setting(Path("/var/spool/asterisk/voicemail"), _path)
    # Base address of this bridge's HTTP server as ITFlow users reach it; empty: no voicemail links.
    link_base_url: str = _setting("", _url_or_empty)
    link_days: int = _setting(30, _whole_number(1, 3650, "use a number of days from 1 to 3650"))
    # Click to call from the agent's page: a manager user allowed only to originate; empty user: off.
    originate_user: str = _setting("", _text)
    originate_secret: str = field(default="", repr=False, metadata={"parse": _text, "secret": True})
    originate_channel: str = _setting(DEFAULT_ORIGINATE_CHANNEL, check_originate_channel)
    originate_context: str = _setting(DEFAULT_ORIGINATE_CONTEXT, check_dialplan_context)
    originate_auto_confirm: bool = _setting(False, _boolean)


# Free-form sections, checked by the code that uses them (speech names):
#   [prompts]    field of PromptNames = sound name, e.g. enter_client_number = custom/enter-account
#   [currencies] ISO code = major_one, major_many, minor_one, minor_many (sound names)
FREE_SECTIONS = ("prompts", "currencies")

SECTIONS = {
    "itflow": ITFlowSettings,
    "cache": CacheSettings,
    "callerid": CallerIDSettings,
    "balance": BalanceSettings,
    "server": ServerSettings,
    "directory": DirectorySettings,
    "calls": CallsSettings,
}


@dataclass(frozen=True)
class Config:
    itflow: ITFlowSettings = field(default_factory=ITFlowSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    callerid: CallerIDSettings = field(default_factory=CallerIDSettings)
    balance: BalanceSettings = field(default_factory=BalanceSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    directory: DirectorySettings = field(default_factory=DirectorySettings)
    calls: CallsSettings = field(default_factory=CallsSettings)
    prompts: Mapping[str, str] = field(default_factory=dict)
    currencies: Mapping[str, str] = field(default_factory=dict)
    source: Optional[Path] = None  # the INI file read, if any

    def require_itflow(self) -> None:
        """Fail with an actionable message unless ITFlow can be reached at all."""
        where = "in %s" % self.source if self.source else "(no config file was read)"
        if not self.itflow.url:
            raise ConfigError(
                "[itflow] url is not set %s: set it, or the ITFLOW_URL environment variable, "
                "to the base address of your ITFlow site" % where
            )
        if not self.itflow.api_key:
            raise ConfigError(
                "[itflow] api_key is not set %s: create an API key in ITFlow "
                "(Admin > API Keys) and set it, or ITFLOW_API_KEY" % where
            )


Overrides = Mapping[Tuple[str, str], Optional[str]]


def config_path(explicit: Optional[str], env: Mapping[str, str]) -> Tuple[Path, bool]:
    """The INI file to read and whether the admin named it (then it must exist)."""
    path, named = paths.config_file(env, explicit)
    return Path(path), named


def load_config(
    path: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    overrides: Optional[Overrides] = None,
) -> Config:
    """Build the configuration: flags (``overrides``) > env > INI file > defaults."""
    env = os.environ if env is None else env
    file_path, named = config_path(path, env)
    raw: Dict[Tuple[str, str], Tuple[str, str]] = {}  # (section, key) -> (value, origin)

    source = None
    free: Dict[str, Dict[str, str]] = {name: {} for name in FREE_SECTIONS}
    if named or file_path.exists():
        for key, value in _read_ini(file_path).items():
            if key[0] in FREE_SECTIONS:
                free[key[0]][key[1]] = value.strip()
            else:
                raw[key] = (value, str(file_path))  # the message names the key already
        source = file_path
    for name, key in ENV_OVERRIDES.items():
        if env.get(name):
            raw[key] = (env[name], "environment variable %s" % name)
    for key, override in (overrides or {}).items():
        if override is not None:
            raw[key] = (str(override), "option --%s" % key[1].replace("_", "-"))

    sections: Dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        values = {}
        for f in fields(cls):
            if (section, f.name) in raw:
                value, origin = raw[(section, f.name)]
                values[f.name] = _parse(f, value, section, origin)
        sections[section] = cls(**values)
    config = Config(source=source, prompts=free["prompts"], currencies=free["currencies"], **sections)
    register_secret(config.itflow.api_key)  # from the moment it is read, no message may show it
    register_secret(config.calls.ami_secret)
    register_secret(config.calls.originate_secret)
    return config


def _parse(f: Any, value: str, section: str, origin: str) -> Any:
    try:
        return f.metadata["parse"](value)
    except ValueError as exc:
        shown = "(hidden)" if f.metadata.get("secret") else repr(value)
        raise ConfigError("[%s] %s = %s from %s is invalid: %s" % (section, f.name, shown, origin, exc)) from None


def _read_ini(path: Path) -> Dict[Tuple[str, str], str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise ConfigError("cannot read config file %s: %s" % (path, exc.strerror or exc)) from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError("config file %s is not valid INI: %s" % (path, str(exc).splitlines()[0])) from None

    values = {}
    for section in parser.sections():
        if section in FREE_SECTIONS:
            values.update({(section, key): value for key, value in parser.items(section)})
            continue
        if section not in SECTIONS:
            raise ConfigError(
                "config file %s has an unknown section [%s]: use %s"
                % (path, section, ", ".join("[%s]" % s for s in (*SECTIONS, *FREE_SECTIONS)))
            )
        known = {f.name for f in fields(SECTIONS[section])}
        for key, value in parser.items(section):
            if key not in known:
                raise ConfigError(
                    "config file %s: [%s] has no setting %r; known: %s"
                    % (path, section, key, ", ".join(sorted(known)))
                )
            values[(section, key)] = value
    return values
