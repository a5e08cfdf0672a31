"""``check`` with ``[calls] enabled``: the CDR file for catch-up and the outbox's backlog, each a line to act on."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from itflow_bridge.calls.outbox import Delivered, Entry, Outbox, Refused, Writer
from itflow_bridge.core.config import CacheSettings, CallsSettings, Config
from itflow_bridge.core.errors import ITFlowUnavailable
from itflow_bridge.health import FAIL, PASS, WARN, Report, _check_ami, _check_cdr_file, _check_outbox


def config(tmp_path: Path, **calls) -> Config:
    return Config(cache=CacheSettings(dir=tmp_path / "cache"),
                  calls=CallsSettings(**{"enabled": True, "cdr_file": tmp_path / "cdr.csv", **calls}))


def lines(report: Report):
    return [(item.name, item.status, item.detail, item.fix) for item in report.items]


class Answers(Writer):
    """ITFlow refusing some writes for good and failing others for now."""

    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse

    def send(self, entry: Entry, parent: Optional[Delivered]) -> Delivered:
        if self.refuse:
            raise Refused("ITFlow refused the ticket for %s: client archived" % entry.key)
        raise ITFlowUnavailable("ITFlow did not answer (connection refused)")

    def find(self, entry: Entry, parent: Optional[Delivered]) -> Optional[Delivered]:
        return None


def test_the_cdr_file_found_is_said_with_how_far_back(tmp_path):
    (tmp_path / "cdr.csv").write_text("")
    report = Report()
    _check_cdr_file(config(tmp_path, catch_up_hours=6), report)
    assert lines(report) == [("calls catch-up", PASS, "calls that ended up to 6 h ago are read back from %s"
                              % (tmp_path / "cdr.csv"), "")]


def test_a_missing_cdr_file_warns_that_calls_while_away_are_lost(tmp_path):
    report = Report()
    _check_cdr_file(config(tmp_path), report)
    [(name, status, detail, fix)] = lines(report)
    assert (name, status) == ("calls catch-up", WARN)
    assert "%s not found: calls that end while the bridge is stopped will not be journaled" % (tmp_path / "cdr.csv") \
        == detail
    assert "cdr_custom" in fix and "[calls] cdr_file" in fix


def test_catch_up_off_needs_no_cdr_file(tmp_path):
    report = Report()
    _check_cdr_file(config(tmp_path, catch_up_hours=0), report)
    assert [(name, status) for name, status, _, _ in lines(report)] == [("calls catch-up", PASS)]
    assert "catch_up_hours = 0" in report.items[0].detail


def test_no_outbox_yet_is_fine_and_is_not_created(tmp_path):
    report = Report()
    _check_outbox(config(tmp_path), report)
    assert [(name, status) for name, status, _, _ in lines(report)] == [("calls outbox", PASS)]
    assert "no call has been written to ITFlow yet" in report.items[0].detail
    assert not (tmp_path / "cache").exists()


def outbox(tmp_path: Path) -> Outbox:
    return Outbox.in_cache(tmp_path / "cache")


def test_failed_writes_fail_with_the_first_reasons_and_the_retry_command(tmp_path):
    with outbox(tmp_path) as box:
        for number in range(5):
            box.add("call-%d/missed" % number, "ticket", {"subject": "Missed call"})
        box.deliver(Answers(refuse=True))
    report = Report()
    _check_outbox(config(tmp_path), report)
    [(name, status, detail, fix)] = lines(report)
    assert (name, status) == ("calls outbox", FAIL)
    assert detail.startswith("5 call writes refused by ITFlow, not retried: call-0/missed: ITFlow refused the ticket "
                             "for call-0/missed: client archived; call-1/missed: ")
    assert "call-2/missed" in detail and "call-3/missed" not in detail and detail.endswith("; and 2 more")
    assert fix == "fix what the reasons say, then run itflow-bridge calls --retry"


def test_writes_waiting_for_itflow_warn_with_the_last_attempt(tmp_path):
    with outbox(tmp_path) as box:
        box.add("call-1/missed", "ticket", {"subject": "Missed call"})
        box.add("call-2/missed", "ticket", {"subject": "Missed call"})
        box.deliver(Answers(refuse=False))
    report = Report()
    _check_outbox(config(tmp_path), report)
    [(name, status, detail, fix)] = lines(report)
    assert (name, status) == ("calls outbox", WARN)
    assert detail == ("2 call writes waiting for ITFlow; the last attempt: ITFlow did not answer "
                      "(connection refused)")
    assert "reach ITFlow" in fix


def test_writes_not_tried_yet_are_being_sent(tmp_path):
    with outbox(tmp_path) as box:
        box.add("call-1/missed", "ticket", {"subject": "Missed call"})
    report = Report()
    _check_outbox(config(tmp_path), report)
    assert lines(report) == [("calls outbox", PASS, "1 call write being sent to ITFlow", "")]


def test_an_outbox_with_every_write_delivered_passes(tmp_path):
    class Accepts(Writer):
        def send(self, entry: Entry, parent: Optional[Delivered]) -> Delivered:
            return Delivered(7, "TCK-7")

        def find(self, entry: Entry, parent: Optional[Delivered]) -> Optional[Delivered]:
            return None

    with outbox(tmp_path) as box:
        box.add("call-1/missed", "ticket", {"subject": "Missed call"})
        box.deliver(Accepts())
    report = Report()
    _check_outbox(config(tmp_path), report)
    assert [(name, status) for name, status, _, _ in lines(report)] == [("calls outbox", PASS)]
    assert report.items[0].detail.startswith("every call write is in ITFlow")


def test_no_manager_user_configured_fails_before_any_connection(tmp_path):
    report = Report()
    _check_ami(config(tmp_path), report, budget=1.0)  # the unit tier refuses sockets: none is opened
    [(name, status, detail, fix)] = lines(report)
    assert (name, status) == ("Asterisk manager", FAIL)
    assert detail == "[calls] ami_user or ami_secret is not set" and "itflow-bridge install" in fix
