"""The classic AGI scripts written into agi-bin.

Installed with the installation's own interpreter in the shebang.  When the
installer knows where the package lives, the script starts Python with ``-S``
(no ``site`` module: about a third of the interpreter's start-up) and puts
that one directory on ``sys.path``; the full path loads ``site`` itself when
the fast path misses.
"""

import os
from typing import List, Optional, Tuple

SCRIPTS = {"itflow-cid.agi": "caller-ID names from ITFlow", "itflow-balance.agi": "the account balance IVR"}

_HEADER = '''#!{shebang}
"""Classic AGI script of itflow-bridge: {what}.

Written by `itflow-bridge install` (or install-agi) for the interpreter of
that installation; the dialplan runs it through extensions_itflow.conf.
"""
import sys
'''
_PATH = "sys.path.insert(0, {path!r})\n"
_CALL = '''
from itflow_bridge.classic.fastpath import main

sys.exit(main("{name}"))
'''


def script_text(name: str, python: str = "/usr/bin/env python3", package_dir: Optional[str] = None) -> str:
    """The script for route ``name``; ``package_dir`` (where ``itflow_bridge`` is) enables ``-S``."""
    shebang = "%s -S" % python if package_dir else python
    text = _HEADER.format(shebang=shebang, what=SCRIPTS[name])
    if package_dir:
        text += _PATH.format(path=package_dir)
    return text + _CALL.format(name=name)


def installed_scripts(python: str) -> List[Tuple[str, str]]:
    """(name, text) of every script, for this installation's interpreter and package directory."""
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return [(name, script_text(name, python, os.path.dirname(package_dir))) for name in sorted(SCRIPTS)]
