"""Caller lookup within a hard time budget: local directory, cache, one ITFlow request per number.

A number in the local directory (``itflow-bridge sync``) is answered from it
with no HTTP at all, matched by the E.164 forms the caller number stands for
(then by the digit forms ITFlow would be asked for: ``directory_keys``);
the directory is only ever the one of this configuration's ITFlow (the
``directory`` callable says which).  Any other number goes on to the cache and
ITFlow as before, so a contact added since the last sync is still named.

The ITFlow work runs through ``SingleFlight`` (see ``budget.py``): the call
waits no longer than its budget, and a late answer still fills the cache.
When most of ITFlow's recent lookups failed (refused, errors, timeouts of the
HTTP layer), lookups leave it alone for a short cool-down rather than each
paying the whole budget (stale entries are served meanwhile).  A lookup that
merely overruns a call's budget is not a failure: its answer still fills the
cache.  The outcomes and the cool-down live in the cache, so classic AGI
processes share them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Optional, Protocol

from ..storage.cache import Cache, CacheEntry
from ..core.config import CacheSettings, CallerIDSettings
from ..core.errors import BridgeError, ITFlowTimeout
from ..itflow.base import ITFlowAdapter
from ..core.models import CallerMatch
from ..core.redact import redact
from ..core.statuses import CallerIDStatus
from .budget import SingleFlight
from .numbers import candidate_numbers, directory_keys, lookup_number

log = logging.getLogger(__name__)

FOUND, NOTFOUND, SKIPPED, ERROR = (CallerIDStatus.FOUND, CallerIDStatus.NOTFOUND, CallerIDStatus.SKIPPED,
                                   CallerIDStatus.ERROR)
COOL_DOWN = 5.0  # seconds ITFlow is left alone once TRIP_AFTER of its last WINDOW lookups failed
WINDOW, TRIP_AFTER = 20, 10  # half of the last 20 failed: stray errors must not stop all lookups
# Cache keys, each after the ITFlow's scope (see ``identity``):
COOL_DOWN_KEY = "itflow:cooling-down"
OUTCOMES_KEY = "itflow:recent-outcomes"  # "s"/"f" per lookup, newest last
REFRESHING = "itflow:refreshing:"  # + number key: a detached process is asking ITFlow for that number
REFRESH_MARK_TTL = 15.0


class LocalDirectory(Protocol):
    """A local copy of ITFlow's numbers (``itflow_bridge.storage.directory_file.Directory``)."""

    def find_caller(self, number: str) -> Optional[CallerMatch]:
        """What ITFlow would answer for this E.164 number (or bare digits), or None."""


@dataclass(frozen=True)
class LookupResult:
    status: CallerIDStatus
    number: Optional[str] = None  # the cleaned number looked up
    match: Optional[CallerMatch] = None
    source: str = ""  # directory | cache | itflow | stale | ""
    error: str = ""
    fresh_until: Optional[float] = None  # wall-clock end of this answer's freshness (directory | cache | itflow)
    timed_out: bool = False  # the budget ran out with ITFlow still working on it


class ThrottledLog:
    """Logs a repeated failure once per interval, not once per call."""

    def __init__(self, interval: float = 60.0):
        self._interval = interval
        self._last: Dict[str, float] = {}
        self._lock = threading.Lock()

    def warning(self, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(message, -self._interval) < self._interval:
                return
            self._last[message] = now
        log.warning("%s", message)


class CallerLookup:
    def __init__(
        self,
        settings: CallerIDSettings,
        cache_settings: CacheSettings,
        cache: Cache,
        adapter: Callable[[], ITFlowAdapter],
        *,
        scope: Callable[[], str] = lambda: "",
        flights: Optional[SingleFlight] = None,
        directory: Callable[[], Optional[LocalDirectory]] = lambda: None,
    ):
        self.settings = settings
        self.cache_settings = cache_settings
        self.cache = cache
        self._adapter = adapter  # returns the ITFlow adapter; may detect the API on first use
        self._scope = scope  # which ITFlow the cached answers belong to (no network)
        self._directory = directory  # this ITFlow's local directory, None before its first sync
        self.flights = flights or SingleFlight(name="itflow-lookup")
        self._errors = ThrottledLog()

    def lookup(self, raw_number: Optional[str], budget: Optional[float] = None) -> LookupResult:
        """Who is calling; never takes longer than ``budget`` seconds (default from settings)."""
        started = time.monotonic()  # the budget covers the cache reads too
        budget = self.settings.budget_ms / 1000.0 if budget is None else budget
        number = lookup_number(raw_number, self.settings.min_digits)
        if number is None:
            return LookupResult(SKIPPED)

        local = self._from_directory(number)
        if local is not None:
            return local
        key = self.cache_key(number)
        entry = self.cache.get(key)
        if entry is not None and entry.is_fresh(self.cache.now()):
            return _result(number, entry.value, "cache", entry.fresh_until)
        if self.cooling_down():
            return _fallback(number, entry, "ITFlow failed or was too slow moments ago; not asked again yet")
        if self._being_refreshed(number):  # another process is already asking: its answer is for the next call
            return _fallback(number, entry, "already being looked up; the answer is for the next call")
        try:
            fetched = self.flights.run(key, lambda: self._fetch(number), budget, started)
        except ITFlowTimeout as exc:
            result = _fallback(number, entry, redact(exc))
            return replace(result, timed_out=True) if result.status == ERROR else result
        except BridgeError as exc:
            return _fallback(number, entry, redact(exc))
        except Exception as exc:  # a bug must never break the call: log it, answer ERROR
            log.exception("caller-ID lookup crashed")
            return _fallback(number, entry, "internal error: %s" % type(exc).__name__)
        return _result(number, fetched.value, "itflow", fetched.fresh_until)

    def _from_directory(self, number: str) -> Optional[LookupResult]:
        """The local directory's answer, or None (no directory, not in it, or it cannot be read)."""
        try:
            directory = self._directory()
            if directory is None:
                return None
            for key in directory_keys(number, self.settings.default_region):
                match = directory.find_caller(key)
                if match is not None:
                    # As fresh as a cached hit: a classic script may replay it that long.
                    fresh_until = self.cache.now() + self.cache_settings.hit_ttl
                    return LookupResult(FOUND, number, match, "directory", fresh_until=fresh_until)
        except Exception as exc:  # a broken directory must not cost the call its lookup
            self._errors.warning("local directory unreadable, asking ITFlow: %s: %s" % (type(exc).__name__, exc))
        return None

    def refresh(self, raw_number: str) -> LookupResult:
        """Ask ITFlow now, whatever the cache or the cool-down say, and cache the answer.

        For a classic script's detached refresher, after its call went on without a name.
        """
        number = lookup_number(raw_number, self.settings.min_digits)
        if number is None:
            return LookupResult(SKIPPED)
        marker = self._scoped(REFRESHING) + number
        try:
            return _result(number, self._fetch(number).value, "itflow")
        except BridgeError as exc:
            return LookupResult(ERROR, number, error=redact(exc))
        finally:
            self.cache.delete(marker)

    def mark_refreshing(self, number: str) -> None:
        """Tell other processes that ``number`` is being asked for: they need not ask too."""
        self.cache.put(self._scoped(REFRESHING) + number, True, REFRESH_MARK_TTL)

    def _being_refreshed(self, number: str) -> bool:
        entry = self.cache.get(self._scoped(REFRESHING) + number)
        return entry is not None and entry.is_fresh(self.cache.now())

    def _scoped(self, name: str) -> str:
        return "%s|%s" % (self._scope(), name)

    def cache_key(self, number: str) -> str:
        """Where the answer for ``number`` (as ``lookup_number`` cleaned it) is cached."""
        return self._scoped("cid:%s:%s" % (self.settings.default_region, number))

    def cooling_down(self) -> bool:
        entry = self.cache.get(self._scoped(COOL_DOWN_KEY))
        return entry is not None and entry.is_fresh(self.cache.now())

    def _cool_down(self) -> None:
        self.cache.put(self._scoped(COOL_DOWN_KEY), True, COOL_DOWN)

    def _outcome(self, ok: bool) -> None:
        key = self._scoped(OUTCOMES_KEY)
        entry = self.cache.get(key)
        recent = entry.value if entry is not None and entry.is_fresh(self.cache.now()) else ""
        recent = (recent + ("s" if ok else "f"))[-WINDOW:]
        if recent.count("f") >= TRIP_AFTER:
            self._cool_down()
            recent = ""  # after the cool-down ITFlow starts with a clean record
        self.cache.put(key, recent, COOL_DOWN * 12)

    def _fetch(self, number: str) -> CacheEntry:
        """Runs on a worker: ask ITFlow for each candidate form; cache the hit or the miss.

        The key is taken once the adapter is known: in auto mode the first lookup is
        what detects the API generation, and the answer belongs to that generation.
        """
        try:
            adapter = self._adapter()
            match = None
            asked = set()
            for digits in candidate_numbers(number, self.settings.default_region):
                question = adapter.lookup_question(digits)
                if question in asked:
                    continue
                asked.add(question)
                match = adapter.find_caller(digits)
                if match is not None:
                    break
        except BridgeError as exc:
            self._outcome(False)
            self._errors.warning("caller-ID lookup failed: %s" % redact(exc))
            raise
        self._outcome(True)
        value = match.to_dict() if match else None
        ttl = self.cache_settings.hit_ttl if match else self.cache_settings.miss_ttl
        return self.cache.put(self.cache_key(number), value, ttl, self.cache_settings.stale_grace)


def _fallback(number: str, entry: Optional[CacheEntry], reason: str) -> LookupResult:
    if entry is not None:  # stale-on-error
        return _result(number, entry.value, "stale")
    return LookupResult(ERROR, number, error=reason)


def _result(number: str, value: Optional[Dict[str, Any]], source: str,
            fresh_until: Optional[float] = None) -> LookupResult:
    if value is None:
        return LookupResult(NOTFOUND, number, source=source, fresh_until=fresh_until)
    return LookupResult(FOUND, number, CallerMatch.from_dict(value), source, fresh_until=fresh_until)
