"""Writing the answer book (``answers``) after a sync, with the full path's own code.

For every synced number and every form a trunk may send it in, the book keeps
the lines the full path would send: the lookup's choice of number (the first
of ``directory_keys`` found in the directory, so a form two numbers could claim
goes where the full path sends it) and the caller-ID flow's own variables,
quoted as the AGI session quotes them.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, AbstractSet, Dict, List, Mapping, Optional

from ..agi.protocol import quote
from ..flows.callerid import found_variables
from ..services.lookup import FOUND, LookupResult
from ..services.numbers import caller_forms, directory_keys, lookup_number
from ..storage.answer_book import directory_stamp, remove_outdated, write_book
from ..storage.replay import configuration

if TYPE_CHECKING:
    from ..app import Bridge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnswerBookReport:
    path: str
    numbers: int
    forms: int
    seconds: float

    def line(self) -> str:
        return "classic AGI answer book: %d caller-number forms of %d numbers in %.2f s" % (
            self.forms, self.numbers, self.seconds)


def prepare_answers(bridge: "Bridge", environ: Optional[Mapping[str, str]] = None) -> Optional[AnswerBookReport]:
    """Write the book for this configuration from the directory the lookups use; None without one.

    ``environ``: the environment the classic scripts run with (default: this process's).
    """
    started = time.monotonic()
    directory = bridge.directory()
    if directory is None:
        return None
    path = str(directory.path)
    stamp = directory_stamp(path)
    settings = bridge.config.callerid
    region, min_digits = settings.default_region, settings.min_digits
    known = set(directory.numbers())
    per_form = "{number}" in settings.template or "{number}" in settings.prefix
    answers: Dict[str, List[str]] = {}
    count = 0
    for number, match in directory.callers():
        count += 1
        shared: Optional[List[str]] = None
        for form in caller_forms(number, region):
            if lookup_number(form, min_digits) != form:
                continue  # the full path skips it (too short, too long)
            if not (form == number and form.startswith("+")) and not _reads_as(form, number, region, known):
                continue  # the full path reads this form as another number
            if shared is None or per_form:
                result = LookupResult(FOUND, form, match, "directory")
                shared = [" ".join(["SET VARIABLE", quote(name), quote(value)])
                          for name, value in found_variables(result, bridge.config.callerid,
                                                                        bridge.config.itflow.url)]
            answers[form] = shared
    if directory_stamp(path) != stamp:
        log.info("the directory changed while the answer book was written: left to that sync")
        return None
    cache_dir = str(bridge.config.cache.dir)
    book = write_book(cache_dir, configuration(os.environ if environ is None else environ), path, answers)
    remove_outdated(cache_dir, book)
    report = AnswerBookReport(book, count, len(answers), time.monotonic() - started)
    log.info("%s", report.line())
    return report


def _reads_as(form: str, number: str, region: str, known: AbstractSet[str]) -> bool:
    """Whether the full path's lookup of the caller number ``form`` finds ``number`` in the directory."""
    import phonenumbers

    # The quick answer: a form that is a valid number of the region, formatted as ``number``,
    # is the first of ``directory_keys`` (a valid local reading always comes first).
    try:
        local = phonenumbers.parse(form, region)
    except phonenumbers.NumberParseException:
        local = None
    if (local is not None and phonenumbers.is_valid_number(local)
            and phonenumbers.format_number(local, phonenumbers.PhoneNumberFormat.E164) == number):
        return True
    for candidate in directory_keys(form, region):
        if candidate in known:
            return candidate == number
    return False
