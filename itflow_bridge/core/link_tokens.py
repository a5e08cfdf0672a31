"""Unguessable link tokens (voicemail links, agent pages) and the only form in which they are stored.

A token is its own permission, like a shared-document link: 256 random bits,
URL-safe.  Stores keep only its SHA-256 and look a token up by that hash, so a
copied database opens nothing, and the lookup's timing says nothing about how
close a guess came (an index on a hash of the guess, not a comparison with the
secret).
"""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 URL-safe characters
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")  # anything else is no token (checked before any lookup)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What a store keeps of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
