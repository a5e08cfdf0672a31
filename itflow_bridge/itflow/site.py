"""``ITFlowClient``: the configured entry point to whichever ITFlow API a site has.

It owns the process's one HTTP session and picks the adapter: the generation
named in the config, or in ``auto`` mode the one detected on first use,
remembered in memory and in the persistent cache (classic AGI scripts would
otherwise probe on every call).
"""

from __future__ import annotations

import logging
import threading
from typing import Dict, Optional, Type

from ..storage.cache import Cache
from ..core.config import ITFlowSettings
from .http import ITFlowHTTP
from .base import ITFlowAdapter
from .detect import detect_generation
from .legacy import LegacyAdapter
from .v1 import V1Adapter
from ..core.errors import ITFlowError
from ..storage.identity import generation_key
from ..core.redact import register_secret

log = logging.getLogger(__name__)

GENERATION_TTL = 86400.0  # detected again after a day...
GENERATION_KEPT = 30 * 86400.0  # ...but remembered meanwhile: cached answers are filed under it
ADAPTERS: Dict[str, Type[ITFlowAdapter]] = {"legacy": LegacyAdapter, "v1": V1Adapter}


class ITFlowClient:
    def __init__(self, settings: ITFlowSettings, cache: Optional[Cache] = None):
        self.settings = settings
        register_secret(settings.api_key)  # settings may come from code, not only from load_config
        self.http = ITFlowHTTP(settings)
        self._cache = cache
        self._lock = threading.Lock()
        self._adapter: Optional[ITFlowAdapter] = None

    @property
    def generation(self) -> str:
        return self.adapter().generation

    def adapter(self, timeout: Optional[float] = None) -> ITFlowAdapter:
        """The adapter for this site, detecting the generation once if needed."""
        with self._lock:
            if self._adapter is None:
                generation = self._resolve_generation(timeout)
                self._adapter = ADAPTERS[generation](self.http)
            return self._adapter

    def _resolve_generation(self, timeout: Optional[float]) -> str:
        if self.settings.api_mode != "auto":
            return self.settings.api_mode
        key = generation_key(self.settings)
        cache = self._cache
        entry = cache.get(key) if cache is not None else None
        if cache is not None and entry is not None and entry.value in ADAPTERS and entry.is_fresh(cache.now()):
            return str(entry.value)
        generation = detect_generation(self.http, timeout)
        log.info("ITFlow at %s speaks the %s API", self.settings.url, ADAPTERS[generation].api_name)
        if self._cache is not None:
            self._cache.put(key, generation, GENERATION_TTL, GENERATION_KEPT)
        return generation

    def detect(self, timeout: Optional[float] = None) -> Optional[str]:
        """Which generation answers at the URL whatever the configuration says; None for neither."""
        try:
            return detect_generation(self.http, timeout)
        except ITFlowError:
            return None

    def close(self) -> None:
        self.http.close()
