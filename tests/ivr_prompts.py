"""Every prompt name the balance IVR may play: ours (itflow/*) and Asterisk's stock sounds.

Shared by the unit tests (ours are registered and shipped) and the e2e tier
(the stock ones exist in a real Asterisk's sounds).
"""

from __future__ import annotations

from typing import Set

from itflow_bridge.services.speech import DEFAULT_CURRENCY_WORDS, PromptNames


def currency_prompt_names() -> Set[str]:
    return {
        name
        for words in DEFAULT_CURRENCY_WORDS.values()
        for name in (words.major_one, words.major_many, words.minor_one, words.minor_many)
    }


def every_name_the_ivr_may_play() -> Set[str]:
    """PromptNames, currency words, and every digit/scale/letter amount_prompts can produce."""
    numbers = {f"digits/{n}" for n in list(range(21)) + list(range(30, 100, 10))}
    numbers |= {"digits/hundred", "digits/thousand", "digits/million", "digits/billion"}
    letters = {f"letters/{char}" for char in "abcdefghijklmnopqrstuvwxyz"}
    return set(PromptNames().all_names()) | currency_prompt_names() | numbers | letters
