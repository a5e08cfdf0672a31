"""The scripting commands, run as real processes against ITFlow: the fake, and real ITFlow.

Tests taking ``v1_site`` or ``sites`` run against both kinds (``tests/itflow_sites.py``;
real ITFlow 26.08 and April 2022, marked ``real_itflow``); request counts need the fake.
"""

import csv
import io
import json

import pytest

from test_cli import run


def test_api_read_prints_json_and_exit_1_when_nothing(v1_site, tmp_path):
    out = run(v1_site, tmp_path, "api", "contacts", "read", "contact_id=1", mode="v1")
    assert out.returncode == 0 and json.loads(out.stdout)[0]["contact_id"] == "1"
    miss = run(v1_site, tmp_path, "api", "contacts", "read", "contact_id=99999", mode="v1")
    assert (miss.returncode, json.loads(miss.stdout), miss.stderr) == (1, [], "")


def test_api_read_all_as_table(v1_site, tmp_path):
    out = run(v1_site, tmp_path, "api", "clients", "read", "--all", "--table", "--columns",
              "client_id,client_name", mode="v1")
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and lines[0] == "client_id\tclient_name" and lines[1] == "1\tAcme Corp"
    assert len(lines) == 1 + len(v1_site.rows("clients")) == 9


def test_api_write_from_stdin_and_body_file(v1_site, tmp_path):
    import subprocess
    import sys
    import os

    body = tmp_path / "ticket.json"
    body.write_text('{"ticket_subject": "Backup failed", "ticket_priority": "High"}', encoding="utf-8")
    out = run(v1_site, tmp_path, "api", "tickets", "create", "client_id=1", "--body", str(body), mode="v1")
    assert (out.returncode, json.loads(out.stdout)) == (0, {"insert_id": 1})
    env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(tmp_path / "bridge.conf"), ITFLOW_URL=v1_site.url,
               ITFLOW_API_KEY=v1_site.api_key, ITFLOW_API_MODE="v1",
               ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cache"))
    piped = subprocess.run([sys.executable, "-m", "itflow_bridge.cli", "api", "tickets", "create", "-"],
                           input='{"ticket_subject": "Disk full", "client_id": 1}', capture_output=True,
                           text=True, env=env, timeout=60)
    assert (piped.returncode, json.loads(piped.stdout)) == (0, {"insert_id": 2})
    resolved = run(v1_site, tmp_path, "api", "tickets", "resolve", "ticket_id=2", mode="v1")
    assert (resolved.returncode, json.loads(resolved.stdout)) == (0, {"count": 1})
    tickets = v1_site.rows("tickets")
    assert [(t["ticket_subject"], t["ticket_priority"], t["ticket_status"]) for t in tickets] == [
        ("Backup failed", "High", "1"), ("Disk full", "Low", "4")]


@pytest.mark.parametrize("args", [
    ("api", "nope", "read"), ("api", "domains", "create"), ("api", "contacts", "read", "colour=red"),
    ("api", "contacts", "create", "client_id=1", "contact_name=X"),
])
def test_api_usage_errors_exit_2_before_any_request(v1_site, tmp_path, args):
    out = run(v1_site, tmp_path, *args, mode="v1")
    assert out.returncode == 2 and out.stdout == "" and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr
    if v1_site.fake:
        assert v1_site.fake.count("/api") == 0


def test_refused_write_exit_2_without_values_or_key(v1_site, tmp_path):
    out = run(v1_site, tmp_path, "api", "contacts", "create", "client_id=1", "contact_name=Dup",
              "contact_email=john.smith@acme.example", mode="v1")
    assert out.returncode == 2
    assert out.stderr.strip() == ("itflow-bridge: ITFlow refused the create: missing or invalid fields "
                                  "(sent client_id, contact_email, contact_name)")


@pytest.mark.parametrize("mode", ["legacy", "v1"])
def test_bad_key_is_exit_2_and_never_printed(sites, tmp_path, mode):
    key = "wrong-key-5f1e2d3c4b5a"
    commands = [("emails",), ("add-asset", "1", "PC")] + ([("api", "contacts", "read")] if mode == "v1" else [])
    for args in commands:
        out = run(sites[mode], tmp_path, *args, mode=mode, key=key)
        assert out.returncode == 2 and key not in out.stdout + out.stderr and "Traceback" not in out.stderr


def test_missing_url_is_a_configuration_error(fake_itflow, tmp_path):
    out = run(fake_itflow, tmp_path, "api", "contacts", "read", mode="v1", extra_env={"ITFLOW_URL": ""})
    assert out.returncode == 3 and "url" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("mode", ["legacy", "v1"])
def test_emails_csv_on_both_generations(sites, tmp_path, mode):
    out = run(sites[mode], tmp_path, "emails", "--csv", mode=mode)
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert out.returncode == 0 and rows[0] == ["client", "contact", "email"]
    assert rows[1:] == [  # every client, its primary contact's name and e-mail (blank without one)
        ["Acme Corp", "John Smith", "john.smith@acme.example"],
        ["O'Brien & Sons - Plumbing", "Mary O'Brien", "mary@obrien.example"],
        ["Müller GmbH", "Jürgen Müller", "juergen@mueller.example"],
        ['Evil "Quote" \\ Co', "Line\nBreak ${HANGUP} ;x", "line@evil.example"],
        ["Archived Ltd", "Old Timer", "old@archived.example"],
        ["Big Client Inc", "", ""],
        ["Empty Phones LLC", "No Phone Person", "nophone@emptyphones.example"],
        ["Millionaire Corp", "", ""],
    ]


@pytest.mark.parametrize("mode, prints_id", [("legacy", False), ("v1", True)])
def test_add_asset_on_both_generations(sites, tmp_path, mode, prints_id):
    out = run(sites[mode], tmp_path, "add-asset", "2", "<b>NAS-1</b> ", "--type", "Server", "--make", "Synology",
              mode=mode)
    assert out.returncode == 0
    asset = sites[mode].rows("assets")[-1]
    assert (asset["asset_name"], asset["asset_type"], asset["asset_make"], asset["asset_model"],
            asset["asset_client_id"]) == ("NAS-1", "Server", "Synology", "", "2")
    assert out.stdout == (asset["asset_id"] + "\n" if prints_id else "")


def test_api_phonebook(sites, tmp_path):
    legacy = run(sites["legacy"], tmp_path, "api-phonebook", mode="legacy")
    assert legacy.returncode == 0 and legacy.stdout.endswith("</AddressBook>")
    assert "<LastName>AT&T</LastName>" in legacy.stdout
    v1 = run(sites["v1"], tmp_path, "api-phonebook", mode="v1")
    assert v1.returncode == 2 and "no phonebook" in v1.stderr
