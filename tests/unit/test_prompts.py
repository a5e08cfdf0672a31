"""The prompt registry, the shipped recordings, and installing them into a sounds dir."""

from __future__ import annotations

import importlib.util
import os
import stat
import wave
from decimal import Decimal
from pathlib import Path

import pytest

from itflow_bridge.core.errors import ConfigError
from itflow_bridge.prompts import (
    OUR_PROMPTS,
    PLAYABLE_EXTENSIONS,
    STOCK_PROMPTS,
    install_prompts,
    missing_prompts,
    prompt_text,
    shipped_files,
)
from itflow_bridge.services.speech import amount_prompts, currency_words
from ivr_prompts import every_name_the_ivr_may_play

REPO = Path(__file__).resolve().parents[2]
GSM_FRAME_BYTES = 33
MAX_PROMPT_SECONDS = 6


def load_generator():
    spec = importlib.util.spec_from_file_location("build_prompts", REPO / "sounds" / "build_prompts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the registry ----------------------------------------------------------------


def test_generator_input_says_exactly_what_the_registry_says():
    assert load_generator().read_prompt_texts(REPO / "sounds" / "prompts.tsv") == dict(OUR_PROMPTS)


def test_every_prompt_we_play_is_registered():
    unregistered = sorted(name for name in every_name_the_ivr_may_play() if prompt_text(name) is None)
    assert unregistered == []


def test_every_registered_prompt_is_played():
    """check and install require every registered prompt: one never played would be a false alarm."""
    assert set(OUR_PROMPTS) | set(STOCK_PROMPTS) == every_name_the_ivr_may_play()


def test_ours_and_stock_do_not_overlap_and_ours_live_under_itflow():
    assert not set(OUR_PROMPTS) & set(STOCK_PROMPTS)
    assert all(name.startswith("itflow/") for name in OUR_PROMPTS)
    assert not any(name.startswith("itflow/") for name in STOCK_PROMPTS)


def test_prompt_text():
    assert prompt_text("digits/7") == "seven"
    assert prompt_text("itflow/dollars") == "dollars"
    assert prompt_text("letters/q") == "Q"
    assert prompt_text("custom/nothing") is None


def test_unknown_currency_plays_only_registered_prompts():
    files = amount_prompts(Decimal("-1234567.89"), currency_words("QWZ"))
    assert all(prompt_text(name) is not None for name in files)


# --- the shipped recordings --------------------------------------------------


@pytest.mark.parametrize("name", sorted(OUR_PROMPTS))
def test_each_of_our_prompts_ships_as_8khz_mono_wav_and_gsm(name):
    base = REPO / "itflow_bridge" / "sounds" / "en" / name
    with wave.open(str(base.with_name(base.name + ".wav")), "rb") as recording:
        assert recording.getframerate() == 8000
        assert recording.getnchannels() == 1
        assert recording.getsampwidth() == 2
        assert recording.getcomptype() == "NONE"
        assert 0 < recording.getnframes() <= MAX_PROMPT_SECONDS * 8000
    gsm_size = base.with_name(base.name + ".gsm").stat().st_size
    assert gsm_size > 0 and gsm_size % GSM_FRAME_BYTES == 0


def test_nothing_is_shipped_that_is_not_registered():
    shipped = {f"itflow/{path.stem}" for path in shipped_files("en")}
    assert shipped == set(OUR_PROMPTS)
    assert len(shipped_files("en")) == 2 * len(OUR_PROMPTS)


def test_every_ivr_prompt_of_ours_is_shipped(tmp_path):
    ours = sorted(name for name in every_name_the_ivr_may_play() if name.startswith("itflow/"))
    install_prompts(tmp_path)
    assert ours and missing_prompts(tmp_path, ours) == []




# --- install_prompts -----------------------------------------------------------


def test_install_prompts_copies_every_recording_readable_by_asterisk(tmp_path):
    previous_umask = os.umask(0o077)  # a root shell with a strict umask must not matter
    try:
        installed = install_prompts(tmp_path)
    finally:
        os.umask(previous_umask)
    assert sorted(path.name for path in installed) == sorted(path.name for path in shipped_files("en"))
    for path in installed:
        assert path.parent == tmp_path / "en" / "itflow"
        assert path.read_bytes() == (REPO / "itflow_bridge" / "sounds" / "en" / "itflow" / path.name).read_bytes()
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "en" / "itflow").stat().st_mode) == 0o755
    assert not [path for path in (tmp_path / "en" / "itflow").iterdir() if path.name.startswith(".")]


def test_install_prompts_replaces_old_files(tmp_path):
    target = tmp_path / "en" / "itflow" / "dollars.wav"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"stale")
    install_prompts(tmp_path)
    install_prompts(tmp_path)
    assert target.read_bytes()[:4] == b"RIFF"


def test_install_prompts_into_the_language_dir_itself(tmp_path):
    language_dir = tmp_path / "en"
    installed = install_prompts(language_dir)
    assert {path.parent for path in installed} == {language_dir / "itflow"}
    assert missing_prompts(language_dir, ["itflow/cents"]) == []


def test_install_prompts_refuses_a_language_we_do_not_ship(tmp_path):
    with pytest.raises(ConfigError, match="language"):
        install_prompts(tmp_path, language="fr")
    assert list(tmp_path.iterdir()) == []


# --- missing_prompts -------------------------------------------------------------


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0")


def test_missing_prompts_finds_any_playable_extension(tmp_path):
    touch(tmp_path / "en" / "digits" / "1.gsm")
    touch(tmp_path / "en" / "digits" / "2.ulaw")
    touch(tmp_path / "en" / "digits" / "3.sln16")
    touch(tmp_path / "en" / "digits" / "4.txt")
    touch(tmp_path / "en" / "digits" / "5.gsm" / "not-a-file")
    touch(tmp_path / "fr" / "digits" / "6.gsm")
    names = [f"digits/{n}" for n in range(1, 7)]
    assert missing_prompts(tmp_path, names) == ["digits/4", "digits/5", "digits/6"]
    assert missing_prompts(tmp_path, names, language="fr") == names[:5]


def test_missing_prompts_keeps_order_without_repeats(tmp_path):
    assert missing_prompts(tmp_path, ["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_missing_prompts_accepts_the_language_dir_itself(tmp_path):
    touch(tmp_path / "en" / "vm-and.wav")
    assert missing_prompts(tmp_path / "en", ["vm-and", "vm-goodbye"]) == ["vm-goodbye"]
    assert missing_prompts(tmp_path / "other", ["vm-and"]) == ["vm-and"]


def test_missing_prompts_looks_up_absolute_names_as_they_are(tmp_path):
    touch(tmp_path / "elsewhere" / "hello.WAV")
    absolute = str(tmp_path / "elsewhere" / "hello")
    assert missing_prompts(tmp_path / "sounds", [absolute, str(tmp_path / "nothing")]) == [str(tmp_path / "nothing")]


def test_missing_prompts_treats_empty_names_as_missing(tmp_path):
    touch(tmp_path / "en" / ".gsm")
    assert missing_prompts(tmp_path, ["", " "]) == ["", " "]


def test_playable_extensions_cover_what_freepbx_writes():
    # FreePBX converts system recordings to ulaw, g722, gsm, wav and sln16.
    assert {"ulaw", "g722", "gsm", "wav", "sln16"} <= set(PLAYABLE_EXTENSIONS)
