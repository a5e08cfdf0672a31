"""The bridge's own Asterisk manager user: call events only, from this machine only.

The bridge reads call events over the Asterisk Manager Interface (AMI), so
install gives it a manager user of its own, ``itflow-bridge``, with the least
it needs: ``read = call,cdr,dialplan`` (calls, their CDRs, and the dialplan's
variables, where a voicemail's message and status are told) and no write class
(Ping, Events and Logoff need none), reachable from 127.0.0.1 only, with a long random secret.  The secret
lives in two places only: Asterisk's file (root and the Asterisk group) and
``[calls] ami_secret`` of the bridge's config (0640 as well); a re-install
reads it back from the bridge's config, so it stays the same.

Where the user goes: on FreePBX, ``manager_custom.conf`` (FreePBX's
``manager.conf`` includes it; ``manager_additional.conf`` is FreePBX's own);
on plain Asterisk, a file ``manager.d/itflow-bridge.conf`` when ``manager.conf``
includes ``manager.d/*.conf`` (Debian's does), else a marked section at the end
of ``manager.conf``.  Our section is recognised by its heading, so running the
edit again changes nothing, and uninstall gives the file back byte for byte.

Click to call comes with the calls: an install with ``--calls`` (or with
``[calls] enabled`` on already) adds a second user, ``itflow-bridge-dial``,
allowed only to originate calls (``write = originate``, no read class: an async
Originate's "queued" answer needs none), also from 127.0.0.1 only, its secret
as ``[calls] originate_secret``.  It lives beside the first, in the same file,
with a heading of its own, and uninstall removes it the same way.  An
``originate_user`` of the admin's own is kept; ``--no-click-to-call`` leaves it
out (and takes ours out of an earlier install); ``--click-to-call`` adds it even
without the calls.

AMI itself is never switched on here: when ``manager.conf`` says it is off,
install says so and what to change.
"""

from __future__ import annotations

import configparser
import re
import secrets
import stat
from typing import Dict, List, Optional, Sequence, Set, Tuple, Union

from .asterisk_layout import Layout, read_asterisk_conf
from .plan import Want

USER = "itflow-bridge"
READ = "call,cdr,dialplan"
WRITE = ""
DENY = "0.0.0.0/0.0.0.0"
PERMIT = "127.0.0.1/255.255.255.255"
SECRET_BYTES = 32  # 64 hex digits: nothing in it that manager.conf would read as syntax
FILE_MODE = 0o640  # a file of ours holding the secret: root writes it, the Asterisk group reads it
MANAGER_CONF = "manager.conf"
FREEPBX_FILE = "manager_custom.conf"
DROP_IN_DIR = "manager.d"
DROP_IN = DROP_IN_DIR + "/" + USER + ".conf"
MARK = b"; itflow-bridge: its manager user, call events only (itflow-bridge install)"
DIAL_USER = "itflow-bridge-dial"
DIAL_READ = ""
DIAL_WRITE = "originate"
DIAL_MARK = b"; itflow-bridge: its click-to-call manager user, originate only (itflow-bridge install)"
RELOAD = "manager reload"
_ASTERISK_TRUE = ("yes", "true", "y", "t", "1", "on")  # ast_true: what Asterisk reads as on
_DROP_IN_INCLUDE = re.compile(rb'^\s*#(try)?include\s+"?(\S*/)?' + re.escape(DROP_IN_DIR.encode())
                              + rb'/\*(\.conf)?"?\s*$')
_SECTION = re.compile(rb"^\s*\[([^\]]*)\]")

Values = Dict[Tuple[str, str], str]
Secrets = Sequence[Tuple[str, str]]  # (user, secret) of our users to write: USER, DIAL_USER
# Our users: name -> (heading mark, read, write)
_USERS = {USER: (MARK, READ, WRITE), DIAL_USER: (DIAL_MARK, DIAL_READ, DIAL_WRITE)}


def new_secret() -> str:
    return secrets.token_hex(SECRET_BYTES)


def config_values(existing: Optional[str], enable: bool, click_to_call: Optional[bool] = None) -> Values:
    """What install sets in the bridge's config (``existing`` text, None for a new file): our user and
    a new secret unless it has them (or another manager user the admin chose); ``enabled = yes`` when
    ``enable`` (``--calls``) and it is not so already.  The click-to-call user likewise when the calls
    are on (``enable``, or ``enabled`` in the config) or ``click_to_call`` is True, or the config names
    it without a secret; ``click_to_call`` False (``--no-click-to-call``) takes ours out instead.  An
    ``originate_user`` of the admin's own is never touched."""
    parser = configparser.ConfigParser(interpolation=None)
    if existing is not None:
        try:
            parser.read_string(existing)
        except configparser.Error:
            pass  # the config's own validation says what is wrong with it
    user = parser.get("calls", "ami_user", fallback="").strip()
    secret = parser.get("calls", "ami_secret", fallback="").strip()
    values: Values = {}
    if user in ("", USER) and not (user == USER and secret):
        values[("calls", "ami_user")] = USER
        values[("calls", "ami_secret")] = new_secret()
    values.update(_dial_values(parser, click_to_call, enable or _enabled(parser)))
    if enable and not _enabled(parser):
        values[("calls", "enabled")] = "yes"
    return values


def _dial_values(parser: configparser.ConfigParser, click_to_call: Optional[bool], calls_on: bool) -> Values:
    """The click-to-call user's settings to write: ours added, completed or (opted out) taken out."""
    dial_user = parser.get("calls", "originate_user", fallback="").strip()
    dial_secret = parser.get("calls", "originate_secret", fallback="").strip()
    if dial_user not in ("", DIAL_USER):
        return {}  # the admin's own user: theirs to keep
    if click_to_call is False:
        if not dial_user and not dial_secret:
            return {}
        return {("calls", "originate_user"): "", ("calls", "originate_secret"): ""}
    wanted = dial_user == DIAL_USER or click_to_call is True or calls_on
    if not wanted or (dial_user == DIAL_USER and dial_secret):
        return {}
    return {("calls", "originate_user"): DIAL_USER, ("calls", "originate_secret"): new_secret()}


def _enabled(parser: configparser.ConfigParser) -> bool:
    try:
        return parser.getboolean("calls", "enabled", fallback=False)  # the words the bridge's config reads
    except ValueError:
        return False


def section(secret: str, user: str = USER) -> bytes:
    """One of our users' section of a manager config file, heading line first."""
    mark, read, write = _USERS[user]
    lines = [mark, b"[" + user.encode() + b"]", b"secret = " + secret.encode(), b"deny = " + DENY.encode(),
             b"permit = " + PERMIT.encode(), b"read =" + (b" " + read.encode() if read else b""),
             b"write =" + (b" " + write.encode() if write else b"")]
    return b"".join(line + b"\n" for line in lines)


def sections(users: Secrets) -> bytes:
    return b"".join(section(secret, user) for user, secret in users)


def set_section(data: bytes, secret: Union[str, Secrets]) -> bytes:
    """``data`` (a manager config file) with our sections (``secret``: the first user's, or (user, secret)
    pairs), at its end, exactly once; unchanged if so already."""
    users: Secrets = [(USER, secret)] if isinstance(secret, str) else secret
    kept = remove_section(data)
    if kept and not kept.endswith(b"\n"):
        kept += b"\r\n" if kept.splitlines(keepends=True)[0].endswith(b"\r\n") else b"\n"
    return kept + sections(users)


def remove_section(data: bytes) -> bytes:
    """``data`` without our sections (each from its heading line to the next section or the end)."""
    lines = data.splitlines(keepends=True)
    result: List[bytes] = []
    inside = False
    for index, line in enumerate(lines):
        bare = line.rstrip(b"\r\n")
        ours = _ours(bare)
        if ours is not None and index + 1 < len(lines) and _is_header_of(lines[index + 1], ours):
            inside = True
            continue
        if inside:
            header = _SECTION.match(line)
            if header and not any(_is_header_of(line, user) for user in _USERS):
                inside = False
            elif bare.strip().startswith(b"#"):
                inside = False  # an include after our section is not ours
            else:
                continue
        result.append(line)
    return b"".join(result)


def _ours(line: bytes) -> Optional[str]:
    """The user whose heading mark ``line`` is, else None."""
    return next((user for user, (mark, _read, _write) in _USERS.items() if line == mark), None)


def _is_header_of(line: bytes, user: str) -> bool:
    header = _SECTION.match(line)
    return header is not None and header.group(1).strip() == user.encode()


def includes_drop_ins(manager_conf: bytes) -> bool:
    """``manager.conf`` reads every file of ``manager.d`` (Debian's ``#include "manager.d/*.conf"``)."""
    return any(_DROP_IN_INCLUDE.match(line.rstrip(b"\r\n")) for line in manager_conf.splitlines())


def target(layout: Layout) -> Tuple[str, bool]:
    """Where our user goes, as the PBX sees the path, and whether that file is ours alone."""
    etc = layout.asterisk_etc
    if layout.freepbx:
        return etc + "/" + FREEPBX_FILE, False
    manager_conf = _read(layout, etc + "/" + MANAGER_CONF)
    if manager_conf is not None and includes_drop_ins(manager_conf):
        return etc + "/" + DROP_IN, True
    return etc + "/" + MANAGER_CONF, False


def places(layout: Layout) -> Set[str]:
    """Every file our user may be in (after a change of ``manager.conf``, an earlier install's may differ)."""
    etc = layout.asterisk_etc
    return {etc + "/" + FREEPBX_FILE, etc + "/" + DROP_IN, etc + "/" + MANAGER_CONF}


def wants(layout: Layout, user: str, secret: str, dial_user: str = "", dial_secret: str = "") -> List[Want]:
    """The file holding our users, as it should be; none when the bridge uses other manager users."""
    users = ([(USER, secret)] if user == USER and secret else []) + (
        [(DIAL_USER, dial_secret)] if dial_user == DIAL_USER and dial_secret else [])
    if not users:
        return []
    path, own = target(layout)
    described = []
    if users[0][0] == USER:
        described.append("the bridge's manager user %s: read %s, no write, from 127.0.0.1 only (secret as "
                         "[calls] ami_secret)" % (USER, READ))
    if users[-1][0] == DIAL_USER:
        described.append("its click-to-call user %s: write %s only, no read, from 127.0.0.1 only (secret as "
                         "[calls] originate_secret)" % (DIAL_USER, DIAL_WRITE))
    what = "; ".join(described)
    group = layout.account.gid
    if own:
        return [Want(path, "file", FILE_MODE, 0, group, what, content=sections(users), secret=True)]
    current = _read(layout, path)
    if current is None and not layout.freepbx:
        return []  # no manager.conf: nothing to add to (``disabled`` says so); uninstall never removes one
    if current is None:
        return [Want(path, "file", FILE_MODE, 0, group, what, content=sections(users), secret=True)]
    info = layout.host(path).stat()
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid == layout.account.uid or info.st_gid == group:
        mode &= ~0o007  # Asterisk reads it as its owner or group: nobody else needs the secret
    headings = ", ".join("[%s]" % name for name, _secret in users)
    return [Want(path, "file", mode, info.st_uid, info.st_gid, "a section %s in it: %s" % (headings, what),
                 content=set_section(current, users), secret=True)]


def disabled(layout: Layout) -> Optional[str]:
    """Why Asterisk's manager interface is off (None when ``manager.conf`` switches it on)."""
    path = layout.asterisk_etc + "/" + MANAGER_CONF
    data = _read(layout, path)
    if data is None:
        return "there is no %s, and without it Asterisk's manager interface (AMI) is off" % path
    general = read_asterisk_conf(data.decode("utf-8", errors="replace")).get("general", {})
    if general.get("enabled", "no").strip().lower() in _ASTERISK_TRUE:
        return None
    return "Asterisk's manager interface (AMI) is off: %s has no enabled = yes in [general]" % path


def port(layout: Layout) -> Optional[int]:
    """The port ``manager.conf`` makes the manager listen on, when it says one."""
    data = _read(layout, layout.asterisk_etc + "/" + MANAGER_CONF)
    if data is None:
        return None
    value = read_asterisk_conf(data.decode("utf-8", errors="replace")).get("general", {}).get("port", "")
    return int(value) if value.isdigit() else None


def enable_fix(layout: Layout) -> str:
    return ("set enabled = yes in [general] of %s/%s (with bindaddr = 127.0.0.1 if the manager must not be "
            "reached from elsewhere), run asterisk -rx '%s', then install again"
            % (layout.asterisk_etc, MANAGER_CONF, RELOAD))


def _read(layout: Layout, path: str) -> Optional[bytes]:
    try:
        return layout.host(path).read_bytes()
    except FileNotFoundError:
        return None
