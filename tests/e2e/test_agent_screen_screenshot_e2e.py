"""The README's picture of the agent's page can be made again: ``scripts/agent_screen_screenshot.py`` runs.

The script serves the page with made-up callers, waits in headless Chromium until the ringing caller's
tickets and today's four calls show, and writes the PNG; a page that no longer shows them (a renamed
class, a broken stream) makes it fail, so this test says when the maintainer's tool needs a look.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from browser import browser_binaries

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "agent_screen_screenshot.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple:
    """(width, height) from a PNG's header chunk."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_script_photographs_the_page_at_the_width_asked(e2e_privileges: None, tmp_path: Path) -> None:
    browser_binaries()
    out = tmp_path / "screen.png"
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--width", "400", "--scale", "1"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    width, height = png_size(out.read_bytes())
    assert width == 400
    assert 500 < height < 2000  # the card and today's calls, not a window's worth of blank
    assert str(out) in done.stdout
