"""What a classic call loads before it knows whether the fast path answers: an explicit allow-list.

Runs the installed wrapper's own import (``python -S``, the package directory
on ``sys.path``) under ``-X importtime``, which reports every module however it
was imported (``import x``, ``from x import y``, or inside another module).
"""

import subprocess
import sys
from pathlib import Path

import itflow_bridge

PACKAGE_DIR = Path(itflow_bridge.__file__).resolve().parents[1]

# The interpreter's own start-up under -S, and what `os` brings.
STARTUP = {"_abc", "_codecs", "_frozen_importlib", "_frozen_importlib_external", "_imp", "_io", "_signal",
           "_thread", "_warnings", "_weakref", "abc", "codecs", "encodings", "encodings.aliases",
           "encodings.utf_8", "io", "marshal", "posix", "time", "zipimport", "winreg", "nt"}
STANDARD_LIBRARY = {"os", "stat", "_stat", "posixpath", "genericpath", "_collections_abc", "sys", "zlib",
                    "importlib", "warnings"}  # importlib and warnings: the agi package's names load lazily
BRIDGE = {"itflow_bridge", "itflow_bridge.classic", "itflow_bridge.classic.fastpath", "itflow_bridge.agi",
          "itflow_bridge.agi.environment", "itflow_bridge.core", "itflow_bridge.core.paths",
          "itflow_bridge.storage", "itflow_bridge.storage.caller_key", "itflow_bridge.storage.layout",
          "itflow_bridge.storage.replay", "itflow_bridge.storage.answer_book"}


def imported_by(statement):
    code = "import sys; sys.path.insert(0, %r); %s" % (str(PACKAGE_DIR), statement)
    run = subprocess.run([sys.executable, "-S", "-X", "importtime", "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    prefix = "import time:"
    rows = [line[len(prefix):].split("|") for line in run.stderr.splitlines() if line.startswith(prefix)]
    return {row[-1].strip() for row in rows if row[0].strip().isdigit()}  # not the column headings


def test_the_fast_path_loads_only_the_allowed_modules():
    imported = imported_by("from itflow_bridge.classic.fastpath import main")
    assert "itflow_bridge.classic.fastpath" in imported
    assert imported - STARTUP - STANDARD_LIBRARY - BRIDGE == set()


def test_a_from_import_of_a_heavy_module_is_caught():
    """The check sees modules loaded by ``from x import y`` too, not only ``import x`` lines."""
    imported = imported_by("from itflow_bridge.classic.fastpath import main; from json import dumps")
    assert imported - STARTUP - STANDARD_LIBRARY - BRIDGE >= {"json"}
