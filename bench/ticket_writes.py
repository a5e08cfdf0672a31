"""The two ITFlow writes the call journal makes, for the benchmarks' fake ITFlow.

The package's fake only reads; the tests' full re-enactment of ITFlow's writes
stays with the tests (the bench imports nothing from them).  This one answers
``tickets/create.php`` and ``ticket_replies/create.php`` as ITFlow 26.08 does
(``{"success":"True","count":"1","data":[{"insert_id":N}]}``), keeps the rows in
the fake's dataset (so ``tickets/read.php`` finds them, as the outbox's
look-up of an uncertain entry needs), and notes when each write of a call
landed: ``time.monotonic()`` as the row is stored, with the call's key read
from its marker line ``Call ID: <key>``.  Plugged in with
``FaultyITFlow(writes=TicketWrites())``.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from itflow_bridge.sample.json_api import POST_ONLY, V1Call
from itflow_bridge.sample.php import php_intval, php_str, sql_int
from itflow_bridge.sample.schema import API_USER_ID, TABLES
from itflow_bridge.sample.wire import Reply

CREATE_FAILED = (
    "Auth success but insert query failed, ensure ALL required variables are provided (and aren't "
    "duplicates where applicable) and database schema is up-to-date. Turn on error logging and look "
    "for 'undefined index'."
)
TICKET_PREFIX = "TCK-"
MARKER = re.compile(r"Call ID: ([^<\s]+)")


class TicketWrites:
    """``WriteEndpoints`` for tickets and replies; ``landed()`` says when each call's write was stored."""

    ENDPOINTS = frozenset({("tickets", "create.php"), ("ticket_replies", "create.php")})

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._landed: List[Tuple[str, str, float]] = []  # (what, the marker's key, monotonic time)

    def handles(self, module: str, script: str) -> bool:
        return (module, script) in self.ENDPOINTS

    def answer(self, call: V1Call) -> Reply:
        if call.method != "POST":
            return call.failure(405, POST_ONLY)
        with self._lock:
            if call.module == "tickets":
                inserted = self._ticket(call)
            else:
                inserted = self._reply(call)
        if inserted is None:
            return call.failure(200, CREATE_FAILED)
        return call.json(200, {"success": "True", "count": "1", "data": [{"insert_id": inserted}]})

    def landed(self) -> List[Tuple[str, str, float]]:
        with self._lock:
            return list(self._landed)

    def clear(self) -> None:
        with self._lock:
            del self._landed[:]

    # --- the two writes -------------------------------------------------------------------

    def _ticket(self, call: V1Call) -> Optional[int]:
        posted = call.posted
        subject = php_str(posted.get("ticket_subject")).strip()
        client_id = php_intval(php_str(posted.get("client_id")))
        if not subject or not client_id:
            return None
        details = php_str(posted.get("ticket_details"))
        rows = call.data.setdefault("tickets", [])
        number = max((sql_int(row.get("ticket_number")) or 0 for row in rows), default=0) + 1
        return self._insert(call, "tickets", "ticket", details, {
            "ticket_prefix": TICKET_PREFIX, "ticket_number": number, "ticket_source": "API",
            "ticket_subject": subject, "ticket_details": details + "<br>",
            "ticket_priority": php_str(posted.get("ticket_priority")) or "Low", "ticket_status": 1,
            "ticket_billable": php_intval(php_str(posted.get("ticket_billable"))), "ticket_created_by": 0,
            "ticket_client_id": client_id,
            "ticket_contact_id": php_intval(php_str(posted.get("ticket_contact_id")))})

    def _reply(self, call: V1Call) -> Optional[int]:
        posted = call.posted
        ticket_id = php_intval(php_str(posted.get("ticket_id")))
        text = php_str(posted.get("ticket_reply"))
        tickets = call.data.get("tickets") or []
        if not text or not any(sql_int(row.get("ticket_id")) == ticket_id for row in tickets):
            return None
        return self._insert(call, "ticket_replies", "reply", text, {
            "ticket_reply": text, "ticket_reply_type": "Internal", "ticket_reply_by": API_USER_ID,
            "ticket_reply_time_worked": php_str(posted.get("ticket_reply_time_worked")) or "00:00:00",
            "ticket_reply_ticket_id": ticket_id})

    def _insert(self, call: V1Call, table: str, what: str, text: str, values: Dict[str, Any]) -> int:
        rows = call.data.setdefault(table, [])
        id_column = next(iter(TABLES[table]))
        new_id = max((sql_int(row.get(id_column)) or 0 for row in rows), default=0) + 1
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        row: Dict[str, Any] = dict.fromkeys(TABLES[table])
        row.update({column: stamp for column in TABLES[table] if column.endswith("_created_at")})
        row.update(values)
        row[id_column] = new_id
        rows.append({column: None if value is None else str(value) for column, value in row.items()})
        found = MARKER.search(text)
        self._landed.append((what, found.group(1) if found else "", time.monotonic()))
        return new_id
