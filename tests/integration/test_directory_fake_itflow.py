"""The directory against the fake ITFlow over real HTTP: both API generations, the CLI, /cnam."""

import http.client
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from directory_data import build_dataset, contact, location, vendor
from itflow_bridge.app import Bridge
from itflow_bridge.core.config import load_config
from itflow_bridge.directory.http_server import make_http_server
from itflow_bridge.directory.phonebook import FORMATS, PhonebookOptions
from itflow_bridge.directory.service import Phonebooks, cnam_lookup, existing_store, store_for
from itflow_bridge.directory.sync import SyncSettings, sync
from itflow_bridge.sample.fake_itflow import FakeITFlow


def config_for(fake, tmp_path, mode):
    conf = tmp_path / "bridge.conf"
    if not conf.exists():
        conf.write_text("", encoding="utf-8")
    return load_config(env={"ITFLOW_BRIDGE_CONFIG": str(conf), "ITFLOW_URL": fake.url,
                            "ITFLOW_API_KEY": fake.api_key, "ITFLOW_API_MODE": mode,
                            "ITFLOW_BRIDGE_CACHE_DIR": str(tmp_path / "cache")})


@pytest.fixture
def big_fake():
    data = build_dataset(contacts=1500, locations=60, vendors=25)
    first = max(int(row["contact_id"]) for row in data["contacts"]) + 1
    data["contacts"] += [
        contact(first, 3, "Dieter Berlin", phone="0301234599", phone_cc="49"),
        contact(first + 1, 3, "Dora Berlin", phone="301234598", phone_cc="49"),
        contact(first + 2, 2, "Liam London", phone="02079460000", phone_cc="44", mobile="7700900123",
                mobile_cc="44"),
        contact(first + 3, 1, "Nora NYC", phone="2125550100", phone_cc="1"),
    ]
    data["locations"].append(location(999, 3, "Hamburg Lager", "040123456", "49"))
    data["vendors"].append(vendor(999, "Deutsche Telekom", "08003301000", "49"))
    with FakeITFlow(data=data) as fake:
        yield fake


def bridge(fake, tmp_path, mode):
    return Bridge(config_for(fake, tmp_path, mode))


def synced(fake, tmp_path, mode):
    """(store, report) of a sync from ``fake`` with the bridge's own settings."""
    b = bridge(fake, tmp_path, mode)
    try:
        store = store_for(b.config, mode)
        return store, sync(b.adapter(), store, SyncSettings.from_config(b.config))
    finally:
        b.close()


def test_v1_sync_pages_through_more_than_a_thousand_contacts(big_fake, tmp_path):
    store, report = synced(big_fake, tmp_path, "v1")
    contact_reads = [r for r in big_fake.requests if r.path == "/api/v1/contacts/read.php"]
    assert [r.query["offset"] for r in contact_reads] == ["0", "500", "1000", "1500"]
    assert all(r.query["limit"] == "500" for r in contact_reads)
    assert all("client_id" not in r.query for r in big_fake.requests)
    directory = store.open()
    assert directory.find("+12125001499").name == "Generated Person 01499"
    assert directory.find("+19175001497").number_kind == "mobile"
    assert report.rows["contact"] > 1500 + 500 and report.rows["location"] == 64 and report.rows["vendor"] == 28
    assert store.path.parent == tmp_path / "cache" and big_fake.api_key not in store.path.name


def test_v1_country_code_columns_locations_and_vendors(big_fake, tmp_path):
    store, _ = synced(big_fake, tmp_path, "v1")
    directory = store.open()
    assert directory.find("+49301234599").name == "Dieter Berlin"  # stored with the trunk 0
    assert directory.find("+49301234598").name == "Dora Berlin"  # stored without it
    assert directory.find("+442079460000").name == "Liam London"
    assert directory.find("+447700900123").number_kind == "mobile"
    assert directory.find("+12125550100").name == "Nora NYC"
    hamburg = directory.find("+4940123456")
    assert (hamburg.kind, hamburg.client_name) == ("location", "Müller GmbH")
    telekom = directory.find("+498003301000")
    assert (telekom.kind, telekom.name) == ("vendor", "Deutsche Telekom")
    att = directory.find("+15558880000")
    assert (att.kind, att.name) == ("vendor", "AT&T")
    assert directory.find("+15556660000") is None  # archived contact of an archived client


def test_legacy_phonebook_sync(fake_itflow_legacy, tmp_path):
    store, report = synced(fake_itflow_legacy, tmp_path, "legacy")
    assert fake_itflow_legacy.count("/api.php", phonebook=None) == 1
    directory = store.open()
    john = directory.find("+15551234567")  # a primary contact
    assert (john.kind, john.name, john.client_name) == ("contact", "John Smith", "Acme Corp")
    att = directory.find("+15558880000")  # vendors come unescaped: "AT&T"
    assert (att.kind, att.name) == ("vendor", "AT&T")
    assert directory.find("+15559876543") is None  # not a primary contact: out of legacy's reach
    assert directory.find("+15552220000") is None  # locations: out of reach too
    assert report.generation == "legacy" and report.rows["location"] == 0 and report.rows["vendor"] == 2
    assert directory.info().generation == "legacy"


def test_each_phonebook_format_from_a_synced_directory(fake_itflow, tmp_path):
    store, _ = synced(fake_itflow, tmp_path, "v1")
    books = Phonebooks(store.open(), PhonebookOptions())
    for fmt in FORMATS:
        document = books(fmt)
        root = ET.fromstring(document.body)
        text = " ".join(list(root.itertext()) + [v for el in root.iter() for v in el.attrib.values()])
        for name in ("AT&T", 'Evil "Quote" \\ Co', "Jürgen Müller", "O'Brien & Sons - Plumbing"):
            assert name in text, (fmt, name)
        assert books(fmt) is document  # rendered once per sync


def run_cli(fake, tmp_path, *args, mode="v1"):
    conf = tmp_path / "bridge.conf"
    if not conf.exists():
        conf.write_text("", encoding="utf-8")
    env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(conf), ITFLOW_URL=fake.url, ITFLOW_API_KEY=fake.api_key,
               ITFLOW_API_MODE=mode, ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.run([sys.executable, "-m", "itflow_bridge.cli", *args], capture_output=True, env=env,
                          timeout=60)


@pytest.mark.parametrize("mode", ["v1", "legacy", "auto"])
def test_cli_sync_then_phonebook(fake_itflow, tmp_path, mode):
    out = run_cli(fake_itflow, tmp_path, "phonebook", "--format", "yealink", mode=mode)
    assert out.returncode == 1 and b"run itflow-bridge sync" in out.stderr and out.stdout == b""
    out = run_cli(fake_itflow, tmp_path, "sync", mode=mode)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(b"synced ") and out.stderr == b""
    out = run_cli(fake_itflow, tmp_path, "phonebook", "--format", "grandstream", mode=mode)
    assert out.returncode == 0 and out.stderr == b""
    assert ET.fromstring(out.stdout).tag == "AddressBook"


def test_cli_sync_failure_is_one_line_and_exit_2(fake_itflow, tmp_path):
    fake_itflow.set_fault("500_empty")
    out = run_cli(fake_itflow, tmp_path, "sync")
    assert out.returncode == 2 and out.stdout == b""
    assert out.stderr.count(b"\n") == 1 and b"Traceback" not in out.stderr
    assert fake_itflow.api_key.encode() not in out.stderr


def test_cli_sync_keeps_the_previous_directory_when_itflow_fails(fake_itflow, tmp_path):
    assert run_cli(fake_itflow, tmp_path, "sync").returncode == 0
    fake_itflow.set_fault("garbage")
    assert run_cli(fake_itflow, tmp_path, "sync").returncode == 2
    fake_itflow.set_fault(None)
    out = run_cli(fake_itflow, tmp_path, "phonebook", "--format", "cisco")
    assert out.returncode == 0 and b"John Smith" in out.stdout


def test_cli_configuration_error_is_exit_3(fake_itflow, tmp_path):
    (tmp_path / "bridge.conf").write_text("[directory]\nnumber_format = fancy\n", encoding="utf-8")
    out = run_cli(fake_itflow, tmp_path, "sync")
    assert out.returncode == 3 and b"number_format" in out.stderr and b"Traceback" not in out.stderr


def test_existing_store_finds_the_synced_generation(fake_itflow, tmp_path):
    config = config_for(fake_itflow, tmp_path, "legacy")
    assert existing_store(config) is None
    assert run_cli(fake_itflow, tmp_path, "sync", mode="legacy").returncode == 0
    assert existing_store(config).path == store_for(config, "legacy").path


def ask(server, path):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


# The shapes FreePBX's CallerID Lookup (HTTP source, query "number=[NUMBER]") and Superfecta's
# Regular Expressions source ("...?number=$thenumber") send: the number substituted unencoded.
@pytest.mark.parametrize("path", [
    "/cnam?number=+15551234567",
    "/cnam?number=%2B15551234567",
    "//cnam?number=+15551234567",
    "/cnam?number=5551234567",
    "/cnam?number=15551234567",
])
def test_cnam_through_the_real_caller_lookup(fake_itflow, tmp_path, path):
    b = bridge(fake_itflow, tmp_path, "v1")
    server = make_http_server("127.0.0.1", 0, cnam_lookup(b), Phonebooks(store_for(b.config, "v1").open()))
    server.start()
    try:
        assert ask(server, path) == (200, b"Acme Corp - John Smith")
        assert ask(server, "/cnam?number=5550009999") == (200, b"")
        assert ask(server, "/cnam?number=anonymous") == (200, b"")
        assert ask(server, "/phonebook/yealink.xml")[0] == 503  # not synced yet
    finally:
        server.shutdown()
        server.server_close()
        b.close()


def test_cnam_is_empty_and_fast_when_itflow_black_holes(fake_itflow, tmp_path):
    b = bridge(fake_itflow, tmp_path, "v1")
    b.adapter()  # no detection inside the call
    fake_itflow.set_fault("blackhole")
    server = make_http_server("127.0.0.1", 0, cnam_lookup(b), Phonebooks(store_for(b.config, "v1").open()),
                              budget=1.0)
    server.start()
    try:
        # ITFlow never answers: an answer at all is the budget's doing (the lookup's 1.5 s,
        # capped by the server's 1 s); without one this client gives up after 10 s and fails.
        assert ask(server, "/cnam?number=5551234567") == (200, b"")
    finally:
        fake_itflow.set_fault(None)
        server.shutdown()
        server.server_close()
        b.close()


def test_cli_sync_json_report(fake_itflow, tmp_path):
    import json

    out = run_cli(fake_itflow, tmp_path, "sync", "--json")
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["generation"] == "v1"
    assert report["rows"]["contact"] > 0 and report["total"] == sum(report["rows"].values())
    assert fake_itflow.api_key not in out.stdout.decode()


def test_cli_phonebook_of_a_corrupt_directory_is_exit_2(fake_itflow, tmp_path):
    config = config_for(fake_itflow, tmp_path, "v1")
    path = store_for(config, "v1").path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"garbage" * 100)
    out = run_cli(fake_itflow, tmp_path, "phonebook", "--format", "snom")
    assert out.returncode == 2 and out.stdout == b"" and b"sync again" in out.stderr
