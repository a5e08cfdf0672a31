"""The bridge's own config file as the installer writes it.

A new file starts from the shipped example (every setting, commented) with the
ITFlow address and key and this PBX's paths filled in, and a first paragraph
saying what the file is instead of the example's copying instructions.  An existing file is
kept as it is; only the values given on the command line are replaced, in
place, so the admin's comments and other settings survive a re-install.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Mapping, Tuple

DATA_DIR = Path(__file__).resolve().parent / "data"
EXAMPLE = DATA_DIR / "itflow-bridge.conf.example"
DIALPLAN = DATA_DIR / "extensions_itflow.conf"
_SECTION = re.compile(r"^\s*\[([^\]]+)\]")
_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[=:]")

Values = Mapping[Tuple[str, str], str]

# Replaces the example's first paragraph (how to copy it) in the file install writes.
INSTALLED_HEADER = """\
# itflow-bridge configuration, written by itflow-bridge install. Edit it here: a re-install
# keeps your changes and replaces only the values given to it (--url, --api-key, ...).
# It holds the API key: root and the Asterisk group only (0640).
"""


def set_values(text: str, values: Values) -> str:
    """``text`` with each (section, key) set to its value: replaced where it is, else added to its section."""
    lines: List[str] = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    pending: Dict[Tuple[str, str], str] = dict(values)
    section = None
    last_in_section: Dict[str, int] = {}
    for index, line in enumerate(lines):
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip()
            last_in_section[section] = index
            continue
        if section is None:
            continue
        key = _KEY.match(line)
        if key and (section, key.group(1)) in pending:
            lines[index] = _line(key.group(1), pending.pop((section, key.group(1))))
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            last_in_section[section] = index
    for (name, setting), value in pending.items():  # settings the file does not have yet
        if name in last_in_section:
            at = last_in_section[name] + 1
            lines.insert(at, _line(setting, value))
            last_in_section = {s: i + 1 if i >= at else i for s, i in last_in_section.items()}
            last_in_section[name] = at
        else:
            lines += ["\n", "[%s]\n" % name, _line(setting, value)]
            last_in_section[name] = len(lines) - 1
    return "".join(lines)


def _line(setting: str, value: str) -> str:
    """``setting = value``; an empty value as the example writes it (``setting =``, no trailing blank)."""
    return "%s = %s\n" % (setting, value) if value else "%s =\n" % setting


def new_config(values: Values) -> str:
    """The shipped example with ``values`` filled in, its first paragraph saying what the file is."""
    example = EXAMPLE.read_text(encoding="utf-8")
    instructions, blank, rest = example.partition("\n\n")
    if not blank or not instructions.startswith("# "):
        raise ValueError("%s must begin with a paragraph of comments on how to use it" % EXAMPLE)
    return set_values(INSTALLED_HEADER + "\n" + rest, values)
