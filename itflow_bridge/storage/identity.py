"""Which ITFlow an answer came from: the site, the API generation and the key.

Everything the bridge keeps (cached names and misses, cool-down and failure
counters, the detected generation, the local directory) belongs to one
identity, so pointing the bridge at another ITFlow, another API or another key
never serves the old one's data.  The key enters only a SHA-256 digest: the
identity can be shown and used in file names, and the key cannot be read back.
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .cache import Cache
    from ..core.config import ITFlowSettings

GENERATION_KEY = "itflow:generation"


@functools.lru_cache(maxsize=64)
def itflow_identity(url: str, generation: str, api_key: str) -> str:
    """20 hex digits naming one ITFlow site, API generation and key (remembered: every lookup asks)."""
    digest = hashlib.sha256()
    for part in ("itflow-bridge directory", url.strip().rstrip("/"), generation, api_key):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()[:20]


def generation_key(settings: "ITFlowSettings") -> str:
    """Where the generation detected for this site and key is cached (auto mode)."""
    return "%s:%s" % (GENERATION_KEY, itflow_identity(settings.url, "auto", settings.api_key))


def known_generation(settings: "ITFlowSettings", cache: "Optional[Cache]") -> Optional[str]:
    """The generation in use without asking ITFlow: configured, or detected earlier (even long ago)."""
    if settings.api_mode != "auto":
        return settings.api_mode
    entry = cache.get(generation_key(settings)) if cache is not None else None
    return str(entry.value) if entry is not None and entry.value in ("legacy", "v1") else None


def cache_scope(settings: "ITFlowSettings", cache: "Optional[Cache]") -> str:
    """The prefix of every cached answer that belongs to this ITFlow; no network."""
    return itflow_identity(settings.url, known_generation(settings, cache) or "auto", settings.api_key)
