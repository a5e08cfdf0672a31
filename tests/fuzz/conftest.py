"""Hypothesis profiles for the fuzz suite, and a count of the examples it ran.

Why a count: a fuzz run is only as good as the number of inputs it tried, and
hypothesis stops early when a strategy runs dry, so ``max_examples`` alone
does not prove how much was fuzzed.  Every property test's inner function is
wrapped (``test.hypothesis.inner_test``, hypothesis' documented hook for
plugins) to count the examples actually executed.

Profiles, chosen with the environment variable ``HYPOTHESIS_PROFILE``:

* ``ci`` (default): 200 examples per test, a few seconds for the whole suite.
* ``fuzz``: 6,000 examples per test (``FUZZ_EXAMPLES_PER_TEST`` overrides);
  with the 24 property tests here a run executes over 130,000 examples
  (``./run-fuzz``; one test's input space holds only 48 cases).

``FUZZ_MIN_EXAMPLES`` (set by ``./run-fuzz``) fails the session when fewer
examples than that were executed in total.

Loading a profile is global to the pytest process, so when the whole suite
runs, the other hypothesis tests (tests/unit) get the same profile.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from pathlib import Path
from typing import Callable, List

import pytest
from hypothesis import HealthCheck, settings

CI_EXAMPLES = 200
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES_PER_TEST", "6000"))

settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None, print_blob=True)
settings.register_profile(
    "fuzz",
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

_FUZZ_DIR = Path(__file__).resolve().parent
_executed: Counter = Counter()  # test name -> examples executed


def _counting(name: str, inner: Callable) -> Callable:
    @functools.wraps(inner)
    def counted(*args, **kwargs):
        _executed[name] += 1
        return inner(*args, **kwargs)

    counted.fuzz_counted = True
    return counted


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    for item in items:
        handle = getattr(getattr(item, "obj", None), "hypothesis", None)
        if handle is None or _FUZZ_DIR not in Path(item.path).resolve().parents:
            continue
        if not getattr(handle.inner_test, "fuzz_counted", False):
            handle.inner_test = _counting(item.name, handle.inner_test)


def _minimum() -> int:
    return int(os.environ.get("FUZZ_MIN_EXAMPLES", "0") or 0)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _executed and sum(_executed.values()) < _minimum() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    if not _executed:
        return
    total = sum(_executed.values())
    write = terminalreporter.write_line
    terminalreporter.section("fuzz examples (profile %s)" % PROFILE)
    for name, count in sorted(_executed.items()):
        write("%9d  %s" % (count, name))
    write("fuzz: %d examples generated and run in %d property tests (profile %s)" % (total, len(_executed), PROFILE))
    if total < _minimum():
        write("fuzz: FAILED: fewer than FUZZ_MIN_EXAMPLES=%d examples" % _minimum())
