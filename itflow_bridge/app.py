"""Wiring: one ``Bridge`` per process builds the cache, the ITFlow client and the services.

Everything heavy is built on first use, so a classic AGI script that answers
from the cache never imports requests, and a bad URL only fails the features
that need ITFlow.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional

from .storage.cache import Cache
from .core.config import Config
from .storage.identity import cache_scope, known_generation

if TYPE_CHECKING:
    from .itflow.site import ITFlowClient
    from .storage.directory_file import Directory, DirectoryStore
    from .itflow.base import ITFlowAdapter
    from .services.balance import BalanceService
    from .services.lookup import CallerLookup
    from .services.speech import SpeechSettings
    from .services.verification import CallerVerification


class Bridge:
    def __init__(self, config: Config, *, cache: Optional[Cache] = None, long_running: bool = False):
        """``long_running``: a daemon, whose cache writes go to disk in the background (see ``Cache``)."""
        self.config = config
        self.cache = cache if cache is not None else Cache(config.cache.dir, max_entries=config.cache.max_entries,
                                                           write_behind=long_running)
        self._lock = threading.RLock()
        self._seen: Dict[Path, float] = {}  # directory file -> when last seen there
        self._client: Optional[ITFlowClient] = None
        self._lookup: Optional[CallerLookup] = None
        self._balance: Optional[BalanceService] = None
        self._verification: Optional[CallerVerification] = None
        self._speech: Optional[SpeechSettings] = None
        self._directory: Optional[Directory] = None
        self._stores: "Dict[str, Optional[DirectoryStore]]" = {}

    @property
    def client(self) -> "ITFlowClient":
        """The ``ITFlowClient`` (imports requests on first use)."""
        with self._lock:
            if self._client is None:
                from .itflow.site import ITFlowClient

                self.config.require_itflow()
                self._client = ITFlowClient(self.config.itflow, self.cache)
            return self._client

    def adapter(self) -> "ITFlowAdapter":
        return self.client.adapter()

    def scope(self) -> str:
        """Which ITFlow this process's cached answers belong to (site, API generation, key); no network."""
        return cache_scope(self.config.itflow, self.cache)

    def directory_store(self) -> "Optional[DirectoryStore]":
        """Where this ITFlow's local directory is: of the API generation in use, when known; no network."""
        from .storage.directory_file import DirectoryStore

        itflow = self.config.itflow
        generation = known_generation(itflow, self.cache)
        if generation is None:
            return DirectoryStore.current(self.config.cache.dir, itflow.url, itflow.api_key)
        store = self._stores.get(generation)  # one SHA-256 per generation, not one per call
        if store is None:
            store = self._stores[generation] = DirectoryStore.current(self.config.cache.dir, itflow.url,
                                                                      itflow.api_key, generation)
        return store

    def directory(self) -> "Optional[Directory]":
        """This ITFlow's local directory, None before its first sync (never another ITFlow's)."""
        if not (self.config.itflow.url and self.config.itflow.api_key):
            return None
        store = self.directory_store()
        if store is None or not self._exists(store.path):
            return None
        with self._lock:
            if self._directory is None or self._directory.path != store.path:
                if self._directory is not None:
                    self._directory.close()
                self._directory = store.open()
            return self._directory

    def _exists(self, path: Path) -> bool:
        """Whether the directory file is there; once seen, looked at again at most once a second
        (every call asks, and a stat costs more than the rest of a cache hit)."""
        now = time.monotonic()
        seen = self._seen.get(path)
        if seen is not None and now - seen < 1.0:
            return True
        if path.exists():
            self._seen[path] = now
            return True
        self._seen.pop(path, None)
        return False

    @property
    def lookup(self) -> "CallerLookup":
        with self._lock:
            if self._lookup is None:
                from .services.lookup import CallerLookup

                self._lookup = CallerLookup(self.config.callerid, self.config.cache, self.cache, self.adapter,
                                            scope=self.scope, directory=self.directory)
            return self._lookup

    @property
    def balance(self) -> "BalanceService":
        with self._lock:
            if self._balance is None:
                from .services.balance import BalanceService

                self._balance = BalanceService(self.config.balance, self.adapter)
            return self._balance

    @property
    def verification(self) -> "CallerVerification":
        with self._lock:
            if self._verification is None:
                from .services.verification import CallerVerification

                self._verification = CallerVerification(self.config.balance, self.config.callerid.default_region,
                                                        self.cache, self.adapter, scope=self.scope)
            return self._verification

    @property
    def speech(self) -> "SpeechSettings":
        """Prompt names and currency words (raises ConfigError on bad [prompts]/[currencies])."""
        with self._lock:
            if self._speech is None:
                from .services.speech import speech_settings

                self._speech = speech_settings(self.config.prompts, self.config.currencies)
            return self._speech

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._directory is not None:
            self._directory.close()
        self.cache.close()
