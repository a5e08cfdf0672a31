"""The demo, as a new user runs it: true notes for each API, columns that hold, sentences that read."""

import re
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def demo() -> str:
    out = subprocess.run([sys.executable, "-m", "itflow_bridge.cli", "demo"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    return out.stdout


def sections(text: str):
    v1, legacy = text.split("== ITFlow before 2022")
    return v1, legacy


def test_each_api_gets_its_own_notes(demo):
    v1, legacy = sections(demo)
    assert "the legacy API has no currency" not in v1
    assert "the legacy API has no currency" in legacy
    assert re.search(r"keys 77 then \*\s+CANCELLED .*'not valid', then \* back to the menu", v1)
    assert re.search(r"keys 77 then \*\s+UNAVAILABLE .*legacy API answers 0 for it", legacy)


def test_a_long_name_keeps_the_columns(demo):
    calls = [line for line in demo.splitlines() if line.startswith("  call from ")]
    assert calls and len({line.index(" ms, ") for line in calls}) == 1
    assert any('…"' in line for line in calls)  # "O'Brien & Sons - Plumbing - Mary O'Brien" is cut


def test_spoken_sentences_are_punctuated(demo):
    assert "and fifty cents. Press 1 to hear it again, or star to return to the menu." in demo
    assert "dollars Press" not in demo
