#!/usr/bin/env python3
"""Regenerate itflow-bridge's own prompt recordings from sounds/prompts.tsv.

The recordings are committed package data so that admins need no speech synthesiser,
yet anyone must be able to rebuild them the same way after changing a text. espeak-ng
(voice en-us) speaks each text; sox turns it into what Asterisk plays without fuss:
8 kHz 16-bit mono PCM ``.wav`` (format_wav) and ``.gsm``, leading and trailing silence
trimmed, peaks normalised to -3 dBFS, no dither (so a rebuild is byte-for-byte the same
with the same espeak-ng and sox versions).

Usage: python sounds/build_prompts.py [--out DIR] [NAME ...]
Without NAMEs every prompt is rebuilt and recordings no longer listed are deleted.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
PROMPTS_TSV = HERE / "prompts.tsv"
DEFAULT_OUT = HERE.parent / "itflow_bridge" / "sounds" / "en"
PROMPT_NAME = re.compile(r"itflow/[a-z0-9][a-z0-9-]*")
FORMATS = ("wav", "gsm")

ESPEAK = ("espeak-ng", "-v", "en-us", "-s", "150")
SILENCE_THRESHOLD = "0.1%"  # quieter than this at either end is cut
SILENCE_MIN_SOUND = "0.02"  # seconds of sound that end the cut
PEAK_DBFS = "-3"


def read_prompt_texts(tsv: Path = PROMPTS_TSV) -> dict[str, str]:
    """``name -> words`` from ``tsv``; ``#`` lines and blank lines are skipped."""
    texts: dict[str, str] = {}
    for number, line in enumerate(tsv.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, separator, text = line.partition("\t")
        if not separator or not PROMPT_NAME.fullmatch(name) or not text.strip():
            raise ValueError(f"{tsv}:{number}: expected itflow/NAME<TAB>words, got {line!r}")
        if name in texts:
            raise ValueError(f"{tsv}:{number}: {name} is listed twice")
        texts[name] = text
    return texts


def build_prompt(name: str, text: str, out_dir: Path) -> list[Path]:
    """Speak ``text`` into ``<out_dir>/<name>.wav`` and ``.gsm``; return both paths."""
    wav = out_dir / f"{name}.wav"
    gsm = out_dir / f"{name}.gsm"
    wav.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        spoken = Path(scratch) / "spoken.wav"
        _run([*ESPEAK, "-w", str(spoken), "--stdin"], stdin=text)
        _run(["sox", "-V1", str(spoken), "-D", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
              str(wav), "rate", "8000", *_trim_silence(), "norm", PEAK_DBFS])
    _run(["sox", "-V1", str(wav), str(gsm)])
    return [wav, gsm]


def remove_stale(out_dir: Path, names: set[str]) -> list[Path]:
    """Delete recordings in ``<out_dir>/itflow/`` whose prompt is no longer listed."""
    stale = [
        path
        for extension in FORMATS
        for path in sorted((out_dir / "itflow").glob(f"*.{extension}"))
        if f"itflow/{path.stem}" not in names
    ]
    for path in stale:
        path.unlink()
    return stale


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="language directory (default: %(default)s)")
    parser.add_argument("names", nargs="*", help="rebuild only these prompts (e.g. itflow/dollars)")
    args = parser.parse_args(argv)
    texts = read_prompt_texts()
    unknown = sorted(set(args.names) - set(texts))
    if unknown:
        parser.error(f"not in {PROMPTS_TSV.name}: {', '.join(unknown)}")
    for name in args.names or texts:
        for path in build_prompt(name, texts[name], args.out):
            print(f"wrote {path} ({path.stat().st_size} bytes)")
    if not args.names:
        for path in remove_stale(args.out, set(texts)):
            print(f"removed {path}")
    return 0


def _trim_silence() -> list[str]:
    leading = ["silence", "1", SILENCE_MIN_SOUND, SILENCE_THRESHOLD]
    return [*leading, "reverse", *leading, "reverse"]


def _run(command: list[str], stdin: Optional[str] = None) -> None:
    subprocess.run(command, input=stdin, text=True, check=True)


if __name__ == "__main__":
    sys.exit(main())
