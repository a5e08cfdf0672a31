"""Builders of ITFlow-shaped datasets at any scale, for the directory tests and benchmarks.

``build_dataset`` returns a dict the fake ITFlow accepts as ``FakeITFlow(data=...)``:
the sample dataset's tables with many more generated clients, contacts,
locations and vendors, rows shaped exactly like the sample's (every column a
string or null).  ``StubV1Adapter`` serves the same rows through the adapter's
``read_page`` interface without HTTP.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional

from itflow_bridge.sample.fake_itflow import load_sample_data
from itflow_bridge.itflow.v1 import V1Adapter

_SAMPLE = load_sample_data()
_TEMPLATES = {table: _SAMPLE[table][0] for table in ("clients", "contacts", "locations", "vendors")}


def _row(table: str, **values: Any) -> dict:
    row = copy.deepcopy(_TEMPLATES[table])
    for key in row:
        if key.endswith(("_archived_at", "_updated_at", "_accessed_at")):
            row[key] = None
    row.update({key: (None if value is None else str(value)) for key, value in values.items()})
    return row


def client(client_id: int, name: str, archived: bool = False) -> dict:
    return _row("clients", client_id=client_id, client_name=name,
                client_archived_at="2025-03-01 12:00:00" if archived else None)


def contact(contact_id: int, client_id: int, name: str, phone: str = "", mobile: str = "", phone_cc: str = "",
            mobile_cc: str = "", archived: bool = False, primary: bool = False) -> dict:
    return _row("contacts", contact_id=contact_id, contact_client_id=client_id, contact_name=name,
                contact_phone=phone, contact_phone_country_code=phone_cc, contact_mobile=mobile,
                contact_mobile_country_code=mobile_cc, contact_primary="1" if primary else "0",
                contact_email="c%d@example.test" % contact_id, contact_pin="",
                contact_archived_at="2025-02-01 08:00:00" if archived else None)


def location(location_id: int, client_id: int, name: str, phone: str, phone_cc: str = "",
             archived: bool = False) -> dict:
    return _row("locations", location_id=location_id, location_client_id=client_id, location_name=name,
                location_phone=phone, location_phone_country_code=phone_cc,
                location_archived_at="2025-02-01 08:00:00" if archived else None)


def vendor(vendor_id: int, name: str, phone: str, phone_cc: str = "", client_id: int = 0,
           archived: bool = False) -> dict:
    return _row("vendors", vendor_id=vendor_id, vendor_name=name, vendor_phone=phone,
                vendor_phone_country_code=phone_cc, vendor_client_id=client_id,
                vendor_archived_at="2025-02-01 08:00:00" if archived else None)


def build_dataset(contacts: int = 1200, locations: int = 50, vendors: int = 20, clients: int = 40,
                  base: Optional[Mapping[str, List[dict]]] = None) -> Dict[str, List[dict]]:
    """The sample dataset plus generated rows: ids continue after the sample's.

    Generated numbers are unique US numbers in the 212 area (valid for
    phonenumbers): contact n has office 212-5NN-NNNN and, every third one, a mobile.
    """
    data = copy.deepcopy(dict(base) if base is not None else _SAMPLE)
    first_client = max((int(row["client_id"]) for row in data["clients"]), default=0) + 1
    client_ids = list(range(first_client, first_client + clients))
    data["clients"] += [client(cid, "Generated Client %04d" % cid) for cid in client_ids]
    first_contact = max((int(row["contact_id"]) for row in data["contacts"]), default=0) + 1
    for n in range(contacts):
        data["contacts"].append(contact(
            first_contact + n, client_ids[n % len(client_ids)], "Generated Person %05d" % n,
            phone="212%07d" % (5000000 + n), mobile="917%07d" % (5000000 + n) if n % 3 == 0 else ""))
    first_location = max((int(row["location_id"]) for row in data["locations"]), default=0) + 1
    for n in range(locations):
        data["locations"].append(location(first_location + n, client_ids[n % len(client_ids)],
                                          "Generated Site %04d" % n, "646%07d" % (5000000 + n)))
    first_vendor = max((int(row["vendor_id"]) for row in data["vendors"]), default=0) + 1
    for n in range(vendors):
        data["vendors"].append(vendor(first_vendor + n, "Generated Vendor %03d" % n, "718%07d" % (5000000 + n)))
    return data


def empty_dataset() -> Dict[str, List[dict]]:
    data = copy.deepcopy(_SAMPLE)
    for table in ("clients", "contacts", "locations", "vendors"):
        data[table] = []
    return data


class StubV1Adapter(V1Adapter):
    """The real V1 adapter with ``read_page`` over an in-memory dataset (ITFlow's paging: limit/offset)."""

    def __init__(self, data: Mapping[str, List[dict]], fail_on: Optional[str] = None, fail_after_pages: int = 0):
        super().__init__(http=None)  # read_page below never reaches HTTP
        self.data = data
        self.requests: List[tuple] = []
        self.fail_on = fail_on
        self.fail_after_pages = fail_after_pages

    def read_page(self, module: str, params: Mapping[str, Any], *, timeout: Optional[float] = None) -> List[dict]:
        from itflow_bridge.core.errors import ITFlowUnavailable

        self.requests.append((module, dict(params)))
        if module == self.fail_on and sum(1 for m, _ in self.requests if m == module) > self.fail_after_pages:
            raise ITFlowUnavailable("ITFlow answered HTTP 500")
        limit, offset = int(params.get("limit", 50)), int(params.get("offset", 0))
        return list(self.data.get(module, [])[offset:offset + limit])
