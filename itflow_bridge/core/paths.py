"""Where the configuration file and the cache directory are: one answer for every entry point.

``load_config`` and the classic AGI fast path both ask here, so they can never
disagree about which file is read or which directory holds the cache (``~`` is
expanded the same way for both).  Only ``os`` is imported: the fast path runs on
every classic call and cannot afford ``configparser``, ``pathlib`` or ``re``.
"""

import os

TYPE_CHECKING = False  # typing costs a classic call milliseconds it does not have
if TYPE_CHECKING:
    from typing import Mapping, Optional, Tuple

DEFAULT_CONFIG = "/etc/itflow-bridge/itflow-bridge.conf"
CONFIG_FILE_MODE = 0o640  # it holds the API key: root writes it, the Asterisk group reads it (install sets it)
DEFAULT_CACHE_DIR = "/var/cache/itflow-bridge"
CONFIG_ENV = "ITFLOW_BRIDGE_CONFIG"
CACHE_DIR_ENV = "ITFLOW_BRIDGE_CACHE_DIR"
API_KEY_ENV = "ITFLOW_API_KEY"
# Every variable that overrides a setting (``config.ENV_OVERRIDES``): a stored answer depends on each.
SETTING_ENV = ("ITFLOW_URL", "ITFLOW_API_MODE", CACHE_DIR_ENV, API_KEY_ENV)


def config_file(environ: "Mapping[str, str]", explicit: "Optional[str]" = None) -> "Tuple[str, bool]":
    """The INI file to read, and whether the admin named it (then it must exist)."""
    if explicit:
        return explicit, True
    if environ.get(CONFIG_ENV):
        return environ[CONFIG_ENV], True
    return DEFAULT_CONFIG, False


def directory(raw: str) -> str:
    """A directory setting as typed by the admin: surrounding blanks dropped, ``~`` expanded."""
    value = raw.strip()
    if not value:
        raise ValueError("an empty path names no directory")
    return os.path.expanduser(value)


def cache_dir(environ: "Mapping[str, str]") -> "Optional[str]":
    """The cache directory a classic call uses (environment, then the INI file, then the default).

    Returns None when the file is one this small reader cannot be sure about
    (continuation lines, a ``[DEFAULT]`` section, duplicates, unreadable): the
    caller then takes the full path, whose ``configparser`` decides.
    """
    if environ.get(CACHE_DIR_ENV):
        try:
            return directory(environ[CACHE_DIR_ENV])
        except ValueError:
            return None
    path, named = config_file(environ)
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except FileNotFoundError:
        return None if named else DEFAULT_CACHE_DIR
    except (OSError, UnicodeDecodeError):
        return None
    found = ini_value(text, "cache", "dir")
    if found is None:
        return None
    if found == "":
        return DEFAULT_CACHE_DIR
    try:
        return directory(found)
    except ValueError:
        return None


def ini_value(text: str, section: str, key: str) -> "Optional[str]":
    """``section.key`` as ``configparser`` would read it; "" when absent, None when unsure."""
    current = None
    found = None
    previous_was_key = False
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line[0] in "#;":
            continue  # blank lines and comments may sit inside a multi-line value
        if raw_line[0] in " \t":
            if previous_was_key:
                return None  # a continuation of our value: multi-line values are not for us
            continue
        previous_was_key = False
        if line.startswith("["):
            current = line[1:line.find("]")] if "]" in line else None
            if current == "DEFAULT":
                return None  # its keys apply to every section
            continue
        separator = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if separator < 0 or current != section:
            continue
        if line[:separator].strip().lower() == key:
            if found is not None:
                return None  # configparser refuses duplicates; let it say so
            found = line[separator + 1:].strip()
            previous_was_key = True
    return "" if found is None else found
