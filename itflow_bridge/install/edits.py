"""Edits of Asterisk's own files: one include line, one global; everything else kept byte for byte.

Each function takes a file's bytes and returns the new bytes, so the plan can
compare before writing and an unchanged file is never touched.  Our lines are
recognised by their content, so running the edit again finds them and does
nothing, and removing them gives back the file as it was.
"""

from __future__ import annotations

import re
from typing import List, Optional

DIALPLAN = "extensions_itflow.conf"
GLOBAL = "ITFLOW_AGI"
INCLUDE_LINE = b"#include " + DIALPLAN.encode()
MARK = b"; itflow-bridge: caller-ID names and the balance IVR from ITFlow (itflow-bridge install)"
_INCLUDE = re.compile(rb'^\s*#include\s+"?' + re.escape(DIALPLAN.encode()) + rb'"?\s*$')
_GLOBAL = re.compile(rb"^\s*" + GLOBAL.encode() + rb"\s*=>?")
_SECTION = re.compile(rb"^\s*\[([^\]]*)\]")


def _lines(data: bytes) -> List[bytes]:
    return data.splitlines(keepends=True)


def _eol(lines: List[bytes]) -> bytes:
    return b"\r\n" if lines and lines[0].endswith(b"\r\n") else b"\n"


def _append(data: bytes, new: List[bytes]) -> bytes:
    lines = _lines(data)
    eol = _eol(lines)
    if lines and not lines[-1].endswith(b"\n"):
        lines[-1] += eol
    return b"".join(lines) + b"".join(line + eol for line in new)


def has_include(data: bytes) -> bool:
    return any(_INCLUDE.match(line.rstrip(b"\r\n")) for line in _lines(data))


def add_include(data: bytes) -> bytes:
    """``#include extensions_itflow.conf`` at the end (after a comment saying who added it), once."""
    if has_include(data):
        return data
    return _append(data, [MARK, INCLUDE_LINE])


def global_line(value: str) -> bytes:
    return ("%s=%s" % (GLOBAL, value)).encode()


def set_plain_global(data: bytes, value: Optional[str]) -> bytes:
    """In a file of bare globals (FreePBX's globals_custom.conf): ``ITFLOW_AGI=value``, or none when None."""
    lines = _lines(data)
    ours = [i for i, line in enumerate(lines) if _GLOBAL.match(line)]
    if value is None:
        return b"".join(line for i, line in enumerate(lines) if i not in ours)
    wanted = global_line(value)
    if len(ours) == 1 and lines[ours[0]].rstrip(b"\r\n") == wanted:
        return data
    if ours:
        eol = lines[ours[0]][len(lines[ours[0]].rstrip(b"\r\n")):] or _eol(lines)
        lines[ours[0]] = wanted + eol
        return b"".join(line for i, line in enumerate(lines) if i not in ours[1:])
    return _append(data, [wanted])


def set_section_global(data: bytes, value: Optional[str]) -> bytes:
    """In extensions.conf: ``ITFLOW_AGI=value`` in ``[globals]`` (first line after its header), or none."""
    lines = _lines(data)
    section = None
    ours = []
    header = None
    for i, line in enumerate(lines):
        match = _SECTION.match(line)
        if match:
            section = match.group(1).strip().lower()
            if section == b"globals" and header is None:
                header = i
            continue
        if section == b"globals" and _GLOBAL.match(line):
            ours.append(i)
    if value is None:
        return b"".join(line for i, line in enumerate(lines) if i not in ours)
    wanted = global_line(value)
    if len(ours) == 1 and lines[ours[0]].rstrip(b"\r\n") == wanted:
        return data
    eol = _eol(lines)
    if ours:
        lines[ours[0]] = wanted + eol
        return b"".join(line for i, line in enumerate(lines) if i not in ours[1:])
    if header is None:
        return _append(data, [b"[globals]", wanted])
    if not lines[header].endswith(b"\n"):
        lines[header] += eol
    lines.insert(header + 1, wanted + eol)
    return b"".join(lines)
