"""The caller-ID flow: name the caller before the phones ring.

It only reads the caller number and writes channel variables; the lookup
service owns the time budget, so this flow cannot delay the call by more than
that plus a few AGI round trips.  Whatever happens, it ends normally (AGISTATUS
SUCCESS) with ITFLOW_CID_STATUS set.

Variables: CALLERID(name) on a match (or on a miss, see ``unknown_name``),
ITFLOW_CID_STATUS = FOUND | NOTFOUND | SKIPPED | ERROR, and on FOUND
ITFLOW_CLIENT_ID, ITFLOW_CLIENT_NAME, ITFLOW_CONTACT_ID, ITFLOW_CONTACT_NAME and
ITFLOW_CLIENT_URL (the client's page in ITFlow), each empty when not known.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, List, Optional, Tuple

from ..agi.session import AGISession
from ..core.config import CallerIDSettings
from ..core.errors import AGIError
from ..core.itflow_pages import client_url
from ..services.display import clean_text, display_name, finish, is_meaningful_name
from ..services.lookup import CallerLookup, LookupResult
from ..core.statuses import CallerIDStatus

log = logging.getLogger(__name__)
MAX_VARIABLE_CHARS = 255  # a name from ITFlow can be any length; an AGI line cannot


def make_callerid_handler(lookup: CallerLookup, settings: CallerIDSettings, verbose_level: int,
                          itflow_url: str = "") -> Callable[[AGISession], LookupResult]:
    """``itflow_url``: ``[itflow] url``, the base of ITFLOW_CLIENT_URL (empty: no URL)."""

    def handle(session: AGISession) -> LookupResult:
        try:
            return run_callerid(session, lookup, settings, verbose_level, itflow_url)
        except AGIError:
            raise  # the channel is gone or Asterisk refused: the transport ends the session
        except Exception:  # a bug of ours: the call still ends with a status
            log.exception("caller-ID flow crashed")
            session.set_variable("ITFLOW_CID_STATUS", CallerIDStatus.ERROR.value)
            return LookupResult(CallerIDStatus.ERROR, error="internal error")

    return handle


def run_callerid(session: AGISession, lookup: CallerLookup, settings: CallerIDSettings,
                 verbose_level: int, itflow_url: str = "") -> LookupResult:
    """Name the caller; returns the lookup result (the classic script records fresh ones)."""
    started = time.monotonic()
    number = _caller_number(session)
    result = lookup.lookup(number)

    name = None
    if result.status == CallerIDStatus.FOUND and result.match is not None:
        variables = found_variables(result, settings, itflow_url)
        name = str(dict(variables)["CALLERID(name)"])
    else:
        if result.status == CallerIDStatus.NOTFOUND:
            name = _name_for_unknown(session, settings, result.number or "")
        variables = [("CALLERID(name)", name)] if name is not None else []
        variables.append(("ITFLOW_CID_STATUS", result.status.value))
    for variable, value in variables:
        session.set_variable(variable, value)

    level = verbose_level
    if level:
        detail = repr(name) if name is not None else (result.error or "name unchanged")
        session.verbose(
            "itflow-bridge: caller %s: %s %s (%s, %.0f ms)"
            % (result.number or "withheld/invalid", result.status, detail, result.source or "-",
               (time.monotonic() - started) * 1000),
            level,
        )
    return result


def found_variables(result: LookupResult, settings: CallerIDSettings,
                    itflow_url: str = "") -> List[Tuple[str, object]]:
    """The channel variables a FOUND answer sets, in the order they are set.

    The classic answer book stores exactly these for every synced number.  The
    ids and the client's page are empty when the answer does not know them
    (legacy ITFlow's lookup says a name only; a vendor is no client).
    """
    match, number = result.match, result.number or ""
    if match is None:
        raise ValueError("a FOUND answer names its match")
    return [
        ("ITFLOW_CLIENT_ID", match.client_id if match.client_id is not None else ""),
        ("ITFLOW_CLIENT_NAME", clean_text(match.client_name or "")[:MAX_VARIABLE_CHARS]),
        ("ITFLOW_CONTACT_NAME", clean_text(match.contact_name or "")[:MAX_VARIABLE_CHARS]),
        ("ITFLOW_CONTACT_ID", match.contact_id if match.contact_id is not None else ""),
        ("ITFLOW_CLIENT_URL", clean_text(client_url(itflow_url, match.client_id))),
        ("CALLERID(name)", display_name(match, settings, number)),
        ("ITFLOW_CID_STATUS", CallerIDStatus.FOUND.value),
    ]


def _caller_number(session: AGISession) -> Optional[str]:
    """AGI(...,NUMBER) wins over the channel's caller number."""
    if session.args and session.args[0].strip():
        return session.args[0].strip()
    return session.caller_number


def _name_for_unknown(session: AGISession, settings: CallerIDSettings, number: str) -> Optional[str]:
    """On a miss, keep a useful trunk name; replace an empty/"unknown"/numeric one by ``unknown_name``."""
    if settings.keep_trunk_name and is_meaningful_name(session.caller_name):
        return None
    return finish(settings.unknown_name.format(client="", contact="", name="", number=number), settings)
