"""The fake ITFlow with switchable failures, for tests and benchmarks.

``FaultyITFlow`` is ``FakeITFlow`` plus ``set_fault(name, **params)`` (the tests
plug ITFlow's v1 writes in with ``writes=``), one failure at a time
(None = normal):

* transport failures, which are not ITFlow's doing: ``slow`` (answers after
  ``delay`` seconds), ``held`` (answers only once the fault is switched off:
  a slow ITFlow whose slowness the test ends, with no guess at durations),
  ``blackhole`` (reads the request, never answers),
  ``refuse`` (the port is closed; clearing it reopens the same port),
  ``500_empty``, ``garbage`` (non-UTF-8 bytes), ``truncated`` (half the body),
  ``huge`` (5 MB), ``redirect_login`` (302 to ITFlow's login page, as a proxy
  or a lost session does);
* ITFlow's own states, which ``FakeITFlow`` has as attributes and which this
  switches for convenience: ``bad_key`` (``key_state="refused"``),
  ``key_not_tied``, ``key_user_invalid``, ``bool_success``.

It is test tooling, not part of the package: the demo and ``python -m
itflow_bridge.sample`` serve a healthy ITFlow.  It lives in ``bench/`` (the
benchmarks' fake runs it in a process of its own); the tests import it from
here too (``bench`` is on pytest's ``pythonpath``).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any, Dict, Optional, Tuple

from itflow_bridge.sample.fake_itflow import LOGIN_PATH, FakeITFlow
from itflow_bridge.sample.json_api import KEY_NOT_TIED, KEY_REFUSED, KEY_USER_INVALID, KEY_VALID, V1_PREFIX
from itflow_bridge.sample.wire import HTML_TYPE, JSON_TYPE, Reply, Request

TRANSPORT_FAULTS = frozenset({
    "slow", "held", "blackhole", "refuse", "500_empty", "garbage", "truncated", "huge", "redirect_login",
})
KEY_FAULTS = {"bad_key": KEY_REFUSED, "key_not_tied": KEY_NOT_TIED, "key_user_invalid": KEY_USER_INVALID}
FAULTS = TRANSPORT_FAULTS | frozenset(KEY_FAULTS) | {"bool_success"}

GARBAGE_BODY = b"\x00\xffnot what you expected"
HUGE_BODY_SIZE = 5 * 1024 * 1024


class FaultyITFlow(FakeITFlow):
    """``FakeITFlow`` with ``set_fault`` (tests plug the v1 writes in: ``writes=fake_writes``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fault: Optional[str] = None
        self._fault_params: Dict[str, Any] = {}
        self._released = threading.Event()  # cleared while the fault is "held"
        self._released.set()

    def start(self) -> "FaultyITFlow":
        super().start()
        if self._fault == "refuse":
            self._close_listener()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._released.set()  # held requests end with the fake
        super().stop()

    def __enter__(self) -> "FaultyITFlow":
        return self.start()

    def set_fault(self, fault: Optional[str], **params: Any) -> None:
        """Switch the failure mode (None = normal); ``slow`` needs ``delay`` in seconds."""
        if fault is not None and fault not in FAULTS:
            raise ValueError("unknown fault %r; known: %s" % (fault, ", ".join(sorted(FAULTS))))
        if fault == "slow":
            params = {"delay": float(params["delay"])}
        with self._lock:
            previous = self._fault
            self._fault, self._fault_params = fault, params
            if fault == "held":
                self._released.clear()
            else:
                self._released.set()
            self.key_state = KEY_FAULTS.get(fault or "", KEY_VALID)
            self.bool_success = fault == "bool_success"
        running = bool(self.url) and not self._stopped.is_set()
        if running and fault == "refuse" and previous != "refuse":
            self._close_listener()
        elif running and previous == "refuse" and fault != "refuse":
            self._open_listener()

    def _fault_snapshot(self) -> Tuple[Optional[str], Dict[str, Any]]:
        with self._lock:
            return self._fault, dict(self._fault_params)

    def _answer(self, request: Request) -> Optional[Reply]:
        """The reply for one request, or None to send nothing (blackhole, or stopped while waiting)."""
        self._record(request)
        fault, params = self._fault_snapshot()
        if fault == "blackhole":
            self._stopped.wait()
            return None
        if fault == "held":
            self._released.wait()
            if self._stopped.is_set():
                return None
        if fault == "slow" and self._stopped.wait(params["delay"]):
            return None
        if fault == "redirect_login" and request.path != LOGIN_PATH:
            return Reply(302, b"", HTML_TYPE, (("Location", LOGIN_PATH),))
        content_type = JSON_TYPE if request.path.startswith(V1_PREFIX) else HTML_TYPE
        if fault == "500_empty":
            return Reply(500, b"", content_type)
        if fault == "garbage":
            return Reply(200, GARBAGE_BODY, content_type)
        if fault == "huge":
            return Reply(200, b"A" * HUGE_BODY_SIZE, content_type)
        reply = self._route(request)
        if fault == "truncated":
            reply = replace(reply, body=reply.body[:len(reply.body) // 2])
        return reply
