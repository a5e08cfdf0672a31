"""The caller-ID flow names the client's and contact's ids and the client's ITFlow page, from every source."""

import io
import json
import re

import pytest

from itflow_bridge.agi.session import AGISession
from itflow_bridge.core.config import CacheSettings, CallerIDSettings
from itflow_bridge.core.itflow_pages import client_url
from itflow_bridge.core.models import CallerMatch
from itflow_bridge.flows.callerid import run_callerid
from itflow_bridge.itflow.http import HTTPResponse
from itflow_bridge.itflow.legacy import LegacyAdapter
from itflow_bridge.itflow.v1 import V1Adapter
from itflow_bridge.services.lookup import CallerLookup
from itflow_bridge.storage.cache import Cache
from itflow_bridge.storage.directory_file import CALLER_DETAILS, DirectoryEntry, DirectoryStore

URL = "https://itflow.example.com"
ACME_PAGE = URL + "/agent/client_overview.php?client_id=4"
NEW_VARIABLES = ("ITFLOW_CLIENT_ID", "ITFLOW_CONTACT_ID", "ITFLOW_CLIENT_URL")
SET = re.compile(r'^SET VARIABLE "([^"]*)" "((?:[^"\\]|\\.)*)"$')


class CannedHTTP:
    """Stands in for ``ITFlowHTTP``: one answer per v1 module, or the legacy /api.php answer."""

    def __init__(self, modules=None, legacy_text=""):
        self.modules = modules or {}
        self.legacy_text = legacy_text
        self.paths = []

    def get(self, path, params, *, timeout=None, body=None):
        self.paths.append(path)
        if path.endswith("api.php"):
            return HTTPResponse(200, self.legacy_text.encode(), "text/html")
        module = path.split("/")[3]
        rows = self.modules.get(module, [])
        asked = params.get("contact_phone_or_mobile")  # the one filter ITFlow applies itself
        if asked is not None:
            rows = [row for row in rows if asked in (row.get("contact_phone"), row.get("contact_mobile"))]
        payload = {"success": "True", "count": len(rows), "data": rows} if rows else {"success": "False"}
        return HTTPResponse(200, json.dumps(payload).encode(), "application/json")


def call(lookup, number, itflow_url=URL):
    """One caller-ID call on a real AGI session; the variables it set, as Asterisk would read them."""
    reader, writer = io.BytesIO(b"200 result=1\n" * 20), io.BytesIO()
    session = AGISession(reader, writer, env={"agi_request": "itflow-cid", "agi_callerid": number},
                         verbose_level=0)
    result = run_callerid(session, lookup, CallerIDSettings(), 0, itflow_url)
    variables = {}
    for line in writer.getvalue().decode().splitlines():
        name, value = SET.match(line).groups()
        variables[name] = value
    return result, variables


def lookup_with(tmp_path, adapter, directory=None):
    return CallerLookup(CallerIDSettings(), CacheSettings(dir=tmp_path), Cache(tmp_path), lambda: adapter,
                        directory=lambda: directory)


def v1_http():
    return CannedHTTP({
        "contacts": [{"contact_id": 12, "contact_name": "John Smith", "contact_client_id": 4,
                      "contact_phone": "5551234567", "contact_mobile": ""}],
        "clients": [{"client_id": 4, "client_name": "Acme Corp"}],
    })


def test_itflow_v1_names_the_contact_and_the_client_page(tmp_path):
    result, variables = call(lookup_with(tmp_path, V1Adapter(v1_http())), "5551234567")
    assert (result.status, result.source) == ("FOUND", "itflow")
    assert [variables[name] for name in NEW_VARIABLES] == ["4", "12", ACME_PAGE]
    assert variables["ITFLOW_CONTACT_NAME"] == "John Smith"


def test_a_cached_answer_keeps_the_ids_and_the_page(tmp_path):
    lookup = lookup_with(tmp_path, V1Adapter(v1_http()))
    call(lookup, "5551234567")
    result, variables = call(lookup, "5551234567")
    assert result.source == "cache"
    assert [variables[name] for name in NEW_VARIABLES] == ["4", "12", ACME_PAGE]


def test_a_cache_entry_stored_before_contact_ids_still_reads(tmp_path):
    lookup = lookup_with(tmp_path, V1Adapter(CannedHTTP()))
    old = CallerMatch("John Smith", "contact", 4, "Acme Corp", "John Smith", "5551234567").to_dict()
    del old["contact_id"]
    lookup.cache.put(lookup.cache_key("5551234567"), old, 3600)
    result, variables = call(lookup, "5551234567")
    assert result.source == "cache"
    assert [variables[name] for name in NEW_VARIABLES] == ["4", "", ACME_PAGE]


def test_a_location_has_a_client_page_and_no_contact(tmp_path):
    http = CannedHTTP({"locations": [{"location_phone": "5552220000", "location_name": "Acme HQ",
                                      "location_client_id": 4}],
                       "clients": [{"client_id": 4, "client_name": "Acme Corp"}]})
    _, variables = call(lookup_with(tmp_path, V1Adapter(http)), "5552220000")
    assert [variables[name] for name in NEW_VARIABLES] == ["4", "", ACME_PAGE]


def test_legacy_itflow_gives_a_name_only_so_no_ids_and_no_page(tmp_path):
    http = CannedHTTP(legacy_text="John Smith - 5551234567")
    result, variables = call(lookup_with(tmp_path, LegacyAdapter(http)), "5551234567")
    assert (result.status, variables["CALLERID(name)"]) == ("FOUND", "John Smith")
    assert [variables[name] for name in NEW_VARIABLES] == ["", "", ""]


@pytest.mark.parametrize("name_only, expected", [(False, ["4", "12", ACME_PAGE]), (True, ["", "", ""])])
def test_the_directory_sets_what_itflow_would(tmp_path, name_only, expected):
    store = DirectoryStore(tmp_path / "d.sqlite3")
    with store.writer() as writer:
        writer.add([DirectoryEntry(kind="contact", name="John Smith", number="+15551234567", digits="5551234567",
                                   record_id=12, client_id=4, client_name="Acme Corp")])
        writer.commit(duration=0.01, generation="legacy" if name_only else "v1",
                      extra={CALLER_DETAILS: "0"} if name_only else {})
    adapter = V1Adapter(CannedHTTP())
    result, variables = call(lookup_with(tmp_path, adapter, store.open()), "5551234567")
    assert result.source == "directory"
    assert adapter.http.paths == []
    assert [variables[name] for name in NEW_VARIABLES] == expected


def test_no_page_without_a_site_address(tmp_path):
    _, variables = call(lookup_with(tmp_path, V1Adapter(v1_http())), "5551234567", itflow_url="")
    assert [variables[name] for name in NEW_VARIABLES] == ["4", "12", ""]


def test_a_miss_sets_no_client_variables(tmp_path):
    result, variables = call(lookup_with(tmp_path, V1Adapter(v1_http())), "5559999999")
    assert result.status == "NOTFOUND"
    assert not set(NEW_VARIABLES) & set(variables)


def test_the_page_address_is_the_itflow_26_client_overview():
    assert client_url(URL + "/", 7) == URL + "/agent/client_overview.php?client_id=7"
    assert (client_url("", 7), client_url(URL, None)) == ("", "")
