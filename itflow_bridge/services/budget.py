"""Run ITFlow work on worker threads and wait for it no longer than a budget.

A call cannot wait on a socket timeout: the caller waits on a future with a
timeout instead, while the work goes on and, if it finishes late, still leaves
its result in the cache.  Concurrent requests for the same key share one
future (single flight), so 100 calls from one number cost one ITFlow request.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Dict, Optional

from ..core.errors import BudgetExceeded

WORKERS = 128  # ITFlow requests in flight at once; a slow ITFlow must not queue calls


def wait(future: "Future[Any]", budget: float, started: Optional[float] = None) -> Any:
    """The future's result within ``budget`` seconds, else ``BudgetExceeded`` (the work goes on).

    ``started`` (a ``time.monotonic()`` reading) counts the budget from then, not from now.
    """
    remaining = budget if started is None else budget - (time.monotonic() - started)
    try:
        return future.result(timeout=max(remaining, 0.0))
    except FutureTimeout:
        raise BudgetExceeded("no answer from ITFlow within the call's budget of %d ms" % (budget * 1000)) from None


class SingleFlight:
    def __init__(self, workers: int = WORKERS, name: str = "itflow"):
        self._workers = workers
        self._name = name
        self._lock = threading.Lock()
        self._in_flight: Dict[str, "Future[Any]"] = {}
        self._executor: Optional[ThreadPoolExecutor] = None

    def run(self, key: str, work: Callable[[], Any], budget: float, started: Optional[float] = None) -> Any:
        """``work()``'s result, shared by everyone asking for ``key`` meanwhile.

        Raises ``BudgetExceeded`` once ``budget`` seconds have passed since
        ``started`` (default: now; the work goes on), or whatever ``work`` raised.
        """
        return wait(self.start(key, work), budget, started)

    def wait_idle(self, timeout: float) -> None:
        """Give work still running up to ``timeout`` seconds to finish."""
        with self._lock:
            pending = list(self._in_flight.values())
        deadline = time.monotonic() + timeout
        for future in pending:
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:
                pass

    def start(self, key: str, work: Callable[[], Any]) -> "Future[Any]":
        """The future of ``key``'s work: the running one, or a new one."""
        with self._lock:
            future = self._in_flight.get(key)
            if future is not None:
                return future
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix=self._name)
            future = self._executor.submit(work)
            self._in_flight[key] = future
        # Outside the lock: a future that is already done runs the callback right here.
        future.add_done_callback(lambda _done: self._forget(key, future))
        return future

    def _forget(self, key: str, future: "Future[Any]") -> None:
        with self._lock:
            if self._in_flight.get(key) is future:
                del self._in_flight[key]
