"""The caller-ID name a desk phone shows, built from what ITFlow knows.

Phones show few characters and Asterisk must never receive control
characters, so the result is one clean line, optionally ASCII only, cut to the
configured length.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

from ..core.config import CallerIDSettings
from ..core.models import CallerMatch

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """One line: control characters become spaces, runs of spaces collapse."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def to_ascii(text: str) -> str:
    """Drop accents (Müller -> Muller); characters with no ASCII form are dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ord(ch) < 128 and not unicodedata.combining(ch))


def display_name(match: CallerMatch, settings: CallerIDSettings, number: str = "") -> str:
    """``{client} - {contact}`` (the template) when both are known, else whichever is."""
    client = clean_text(match.client_name or "")
    person = clean_text(match.contact_name or (match.name if match.kind == "location" else ""))
    name = clean_text(match.name)
    if client and person and client != person:
        text = settings.template.format(client=client, contact=person, name=name, number=number)
    else:
        text = client or person or name
    return finish(text, settings)


def finish(text: str, settings: CallerIDSettings) -> str:
    text = clean_text(settings.prefix + text)
    if settings.ascii_only:
        text = clean_text(to_ascii(text))
    return text[: settings.max_length].rstrip()


def is_meaningful_name(name: Optional[str]) -> bool:
    """Whether a trunk-provided name says more than a number: it has a letter and is no placeholder."""
    text = clean_text(name or "").lower()
    if text in ("unknown", "anonymous", "unavailable", "<unknown>", "private", "withheld"):
        return False
    return any(ch.isalpha() for ch in text)
