"""The bridge's mapping in Asterisk's ``cdr_custom.conf``: Asterisk's own record of calls, for the catch-up.

``cdr_custom`` is a stock Asterisk module that appends a CSV line per CDR to each
file of its ``[mappings]``; with no mapping it declines to load (Debian's sample
file is all comments).  The installer adds one line, after a comment saying who
added it, in ``[mappings]`` (made when missing) and keeps every other line as it
was; uninstall puts the file back from its backup, byte for byte.  Neither
FreePBX's framework nor its core and cdr modules write ``cdr_custom.conf``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import List, Optional, Tuple

from ..calls.cdr import mapping_line, mapping_target
from .asterisk_layout import Layout
from .plan import Want

CONF = "cdr_custom.conf"
MODULE = "cdr_custom.so"
MARK = b"; itflow-bridge: Asterisk's record of calls, read back after a restart (itflow-bridge install)"
_SECTION = re.compile(rb"^\s*\[([^\]]*)\]")


def conf_path(layout: Layout) -> str:
    return layout.asterisk_etc + "/" + CONF


def _is_our_line(line: bytes, target: bytes) -> bool:
    key = line.split(b"=>", 1)[0].strip() if b"=>" in line else b""
    return key == target


def add_mapping(data: bytes, cdr_file: str) -> bytes:
    """``data`` (a cdr_custom.conf) with the bridge's mapping for ``cdr_file`` in ``[mappings]``, once.

    An earlier mapping of the bridge (the line after our comment, or one for the
    same file) is replaced, so a new column list or file reaches Asterisk.
    """
    wanted = mapping_line(cdr_file).encode()
    target = mapping_target(cdr_file).encode()
    lines = data.splitlines(keepends=True)
    eol = b"\r\n" if lines and lines[0].endswith(b"\r\n") else b"\n"
    ours = set()
    for index, line in enumerate(lines):
        body = line.rstrip(b"\r\n")
        if body == MARK:
            ours.add(index)
            if index + 1 < len(lines) and not lines[index + 1].lstrip().startswith((b";", b"[")):
                ours.add(index + 1)
        elif _is_our_line(body, target):
            ours.add(index)
    kept = [line for index, line in enumerate(lines) if index not in ours]
    header = next((index for index, line in enumerate(kept)
                   if (match := _SECTION.match(line)) and match.group(1).strip().lower() == b"mappings"), None)
    if header is None:
        if kept and not kept[-1].endswith(b"\n"):
            kept[-1] += eol
        kept += [b"[mappings]" + eol]
        header = len(kept) - 1
    elif not kept[header].endswith(b"\n"):
        kept[header] += eol
    kept[header + 1:header + 1] = [MARK + eol, wanted + eol]
    result = b"".join(kept)
    return data if result == data else result


def wants(layout: Layout, cdr_file: str, owner: Tuple[int, int, int]) -> List[Want]:
    """The mapping in cdr_custom.conf (its owner and mode kept; ``owner`` for a new file), and the
    directory Asterisk writes ``cdr_file`` in made the Asterisk user's (Asterisk creates the file there)."""
    path = conf_path(layout)
    host = layout.host(path)
    try:
        current: Optional[bytes] = host.read_bytes()
        info = host.stat()
        owner = (info.st_uid, info.st_gid, info.st_mode & 0o7777)
    except FileNotFoundError:
        current = None
    directory = str(PurePosixPath(cdr_file).parent)
    try:
        directory_mode = layout.host(directory).stat().st_mode & 0o7777
    except FileNotFoundError:
        directory_mode = 0o755
    found = [Want(directory, "dir", directory_mode, layout.account.uid, layout.account.gid,
                  "where Asterisk (as %s) writes the bridge's CDR file" % layout.account.user)]
    found.append(Want(path, "file", owner[2], owner[0], owner[1],
                      "one mapping: Asterisk's record of calls in %s, for the catch-up after a restart" % cdr_file,
                      content=add_mapping(current or b"", cdr_file)))
    return found


def load_module(layout: Layout) -> None:
    """Make Asterisk read cdr_custom.conf again: load the module (it declined without a mapping) or reload it."""
    if not layout.asterisk_running:
        print("Asterisk is not running: it loads %s (the bridge's CDR file) when it starts" % MODULE)
        return
    if not layout.asterisk_binary:
        print("no asterisk binary found: run asterisk -rx 'module load %s' (or 'module reload %s' when loaded)"
              % (MODULE, MODULE))
        return
    ok, shown = layout.run([str(layout.asterisk_binary), "-rx", "module show like cdr_custom"], 60)
    command = "module reload %s" % MODULE if ok and MODULE in shown else "module load %s" % MODULE
    ok, detail = layout.run([str(layout.asterisk_binary), "-rx", command], 60)
    if ok:
        print("CDR file: asterisk -rx '%s'" % command)
    else:
        print("itflow-bridge: asterisk -rx '%s' failed: %s; run it yourself" % (command, detail))
