"""One sync of the local directory, whoever asks: ``sync_directory(bridge) -> SyncOutcome``.

The ``sync`` command (run by itflow-bridge-sync.timer) and the daemon's
background re-sync both come here, so after either the directory is new and
the classic scripts' answer book (``classic.prepare``) is written from it.  A
failed sync raises and leaves the previous directory answering; a book that
cannot be written is reported in the outcome, not fatal: the calls then take
the full path for a synced number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple

from .service import store_for
from .sync import SyncReport, SyncSettings, sync

if TYPE_CHECKING:
    from ..app import Bridge
    from ..classic.prepare import AnswerBookReport

@dataclass(frozen=True)
class SyncOutcome:
    report: SyncReport
    book: "Optional[AnswerBookReport]"  # None: no book written (see ``book_problem``, or no directory)
    book_problem: str = ""  # why the book could not be written; "" when it was


def sync_directory(bridge: "Bridge") -> SyncOutcome:
    """Sync this bridge's directory from ITFlow, then write the answer book from it."""
    config = bridge.config
    adapter = bridge.adapter()
    report = sync(adapter, store_for(config, adapter.generation), SyncSettings.from_config(config))
    book, problem = _answer_book(bridge)
    return SyncOutcome(report, book, problem)


def _answer_book(bridge: "Bridge") -> "Tuple[Optional[AnswerBookReport], str]":
    from ..classic.prepare import prepare_answers

    try:
        return prepare_answers(bridge), ""
    except OSError as exc:
        return None, ("the classic scripts' answer book could not be written (%s): a first call from a "
                      "synced number takes the full path" % exc)
