"""A short load and abuse run with the same checks as ``./run-load``, small enough for every test run.

30 concurrent FastAGI sessions for 6 s against ``itflow-bridge serve`` and the
slow, flaky fake ITFlow, then two rounds of 6 concurrent classic AGI
processes sharing one sqlite cache: no failed session, none over budget, no
growth of the daemon's threads, descriptors or memory, no lock errors.
"""

from __future__ import annotations

from load_harness import SESSION_MARGIN, LoadReport, LoadSettings, SessionResult, run_load, summary

SHORT_RUN = LoadSettings(seconds=6.0, sessions=30, classic=6, classic_rounds=2)


def test_a_short_load_run_passes_every_check(tmp_path):
    report = run_load(SHORT_RUN, tmp_path)
    failed = [check.name for check in report.checks() if not check.passed]
    assert not failed, "\n" + summary(report, SHORT_RUN.latency_max, SHORT_RUN.error_rate)


def test_the_checks_catch_a_session_over_budget():
    """The verdicts themselves can fail: a report with one slow session and no samples does not pass."""
    budget = SHORT_RUN.budget_ms / 1000.0
    slow = SessionResult(started=0.0, duration=budget + SESSION_MARGIN + 0.01, number="5551234567", status="ERROR",
                         source="-")
    report = LoadReport(seconds=6.0, sessions=1, budget=budget, results=[slow], samples=[])
    failed = {check.name for check in report.checks() if not check.passed}
    assert failed == {"every session within budget + %d ms" % (SESSION_MARGIN * 1000), "daemon sampled"}
