"""The fake ITFlow in a process of its own, controlled over a pipe.

Why: ITFlow is another server; run inside the benchmark's process its request
handling would share the daemon's GIL and be billed to the bridge (100
concurrent lookups are 100 requests the fake must parse and answer).  The
parent sends one JSON request per line on stdin, the child answers one JSON
line on stdout.  The first line the child prints is {"url": ..., "api_key": ...}.

Requests:
  {"op": "add_contacts", "first_phone": N, "count": C}   -> {"phones": [...]}
  {"op": "scale", "contacts": C, "locations": L, "vendors": V} -> {"rows": {table: count}}
      (the sample plus generated rows, as the directory tests build them)
  {"op": "fault", "fault": NAME or null, "delay": S}      -> {}
  {"op": "clear"}                                         -> {}
  {"op": "count", "path": PREFIX, "query": {name: value or null}} -> {"count": N}
  {"op": "arrivals", "path": PREFIX}                      -> {"times": [monotonic seconds]}
  {"op": "add_clients", "first_phone": N, "count": C}    -> {"phones": [...]}
      (C more clients, each with one contact whose phone is the next number)
  {"op": "landed"}  -> {"writes": [[what, key, monotonic seconds], ...]}  tickets and replies stored
Closing stdin stops the fake (a black hole's waiting handlers are released).
"""

from __future__ import annotations

import sys
from typing import Dict, List

from directory_data import build_dataset
from faulty_itflow import FaultyITFlow
from pipe_commands import serve_commands
from ticket_writes import TicketWrites

BENCH_CLIENT_ID = "6"  # "Big Client Inc" in the sample data


def add_contacts(fake: FaultyITFlow, first_phone: int, count: int) -> List[str]:
    """``count`` more contacts of one client with consecutive 10-digit phones; returns the phones."""
    contacts = fake.data["contacts"]
    template = dict(contacts[0])
    next_id = max(int(row["contact_id"]) for row in contacts) + 1
    phones = []
    for offset in range(count):
        phone = str(first_phone + offset)
        contacts.append(dict(
            template, contact_id=str(next_id + offset), contact_name="Bench Contact %d" % offset,
            contact_phone=phone, contact_mobile="", contact_email="", contact_client_id=BENCH_CLIENT_ID,
            contact_primary="0"))
        phones.append(phone)
    return phones


def add_clients(fake: FaultyITFlow, first_phone: int, count: int) -> List[str]:
    """``count`` more clients, each with one (primary) contact of the next 10-digit phone; returns the phones."""
    clients, contacts = fake.data["clients"], fake.data["contacts"]
    client_template, contact_template = dict(clients[0]), dict(contacts[0])
    next_client = max(int(row["client_id"]) for row in clients) + 1
    next_contact = max(int(row["contact_id"]) for row in contacts) + 1
    phones = []
    for offset in range(count):
        client_id, phone = str(next_client + offset), str(first_phone + offset)
        clients.append(dict(client_template, client_id=client_id, client_name="Bench Client %d" % offset,
                            client_abbreviation="BC%d" % offset, client_website=""))
        contacts.append(dict(
            contact_template, contact_id=str(next_contact + offset), contact_name="Caller %d" % offset,
            contact_phone=phone, contact_mobile="", contact_email="", contact_client_id=client_id,
            contact_location_id="0", contact_primary="1"))
        phones.append(phone)
    return phones


def scale(fake: FaultyITFlow, contacts: int, locations: int, vendors: int) -> Dict[str, int]:
    """Serve the sample plus generated clients, contacts, locations and vendors (directory_data.py)."""
    data = build_dataset(contacts=contacts, locations=locations, vendors=vendors, clients=max(40, contacts // 25))
    for table in ("clients", "contacts", "locations", "vendors"):
        fake.data[table] = data[table]
    return {table: len(data[table]) for table in ("clients", "contacts", "locations", "vendors")}


def answer(fake: FaultyITFlow, writes: TicketWrites, request: Dict) -> Dict:
    op = request.get("op")
    if op == "add_clients":
        return {"phones": add_clients(fake, int(request["first_phone"]), int(request["count"]))}
    if op == "landed":
        return {"writes": writes.landed()}
    if op == "add_contacts":
        return {"phones": add_contacts(fake, int(request["first_phone"]), int(request["count"]))}
    if op == "scale":
        return {"rows": scale(fake, int(request["contacts"]), int(request["locations"]), int(request["vendors"]))}
    if op == "fault":
        params = {"delay": request["delay"]} if request.get("fault") == "slow" else {}
        fake.set_fault(request.get("fault"), **params)
        return {}
    if op == "clear":
        fake.clear_requests()
        return {}
    if op == "count":
        return {"count": fake.count(request.get("path", ""), **request.get("query", {}))}
    if op == "arrivals":
        return {"times": [r.time for r in fake.requests if r.path.startswith(request.get("path", ""))]}
    raise ValueError("unknown op %r" % op)


def main() -> int:
    writes = TicketWrites()
    with FaultyITFlow(writes=writes) as fake:
        return serve_commands({"url": fake.url, "api_key": fake.api_key},
                              lambda command: answer(fake, writes, command))


if __name__ == "__main__":
    sys.exit(main())
