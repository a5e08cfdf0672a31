"""At most so many calls per link and minute: a stolen or looping page cannot ring the phone all day."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Deque, Dict

CALLS_PER_WINDOW = 5
WINDOW_SECONDS = 60.0


class RateLimit:
    """A sliding window per key (the link's token hash): ``allow(key)`` counts an attempt if it is allowed."""

    def __init__(self, limit: int = CALLS_PER_WINDOW, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: Dict[str, Deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            for name in [name for name, times in self._seen.items()
                         if not times or times[-1] <= now - self.window]:
                del self._seen[name]  # keys quiet for a whole window: forgotten, the table stays small
            times = self._seen.setdefault(key, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may call again (0 when it may now)."""
        now = self.clock()
        with self._lock:
            times = self._seen.get(key)
            if not times or len(times) < self.limit:
                return 0.0
            return max(0.0, times[0] + self.window - now)
