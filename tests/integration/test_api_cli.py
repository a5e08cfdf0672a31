"""The scripting commands, run as real processes against the fake ITFlow."""

import csv
import io
import json

import pytest

from test_cli import run


def test_api_read_prints_json_and_exit_1_when_nothing(fake_itflow, tmp_path):
    out = run(fake_itflow, tmp_path, "api", "contacts", "read", "contact_id=1", mode="v1")
    assert out.returncode == 0 and json.loads(out.stdout)[0]["contact_id"] == "1"
    miss = run(fake_itflow, tmp_path, "api", "contacts", "read", "contact_id=99999", mode="v1")
    assert (miss.returncode, json.loads(miss.stdout), miss.stderr) == (1, [], "")


def test_api_read_all_as_table(fake_itflow, tmp_path):
    out = run(fake_itflow, tmp_path, "api", "clients", "read", "--all", "--table", "--columns",
              "client_id,client_name", mode="v1")
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and lines[0] == "client_id\tclient_name" and lines[1] == "1\tAcme Corp"
    assert len(lines) == 1 + len(fake_itflow.data["clients"])


def test_api_write_from_stdin_and_body_file(fake_itflow, tmp_path):
    import subprocess
    import sys
    import os

    body = tmp_path / "ticket.json"
    body.write_text('{"ticket_subject": "Backup failed", "ticket_priority": "High"}', encoding="utf-8")
    out = run(fake_itflow, tmp_path, "api", "tickets", "create", "client_id=1", "--body", str(body), mode="v1")
    assert (out.returncode, json.loads(out.stdout)) == (0, {"insert_id": 1})
    env = dict(os.environ, ITFLOW_BRIDGE_CONFIG=str(tmp_path / "bridge.conf"), ITFLOW_URL=fake_itflow.url,
               ITFLOW_API_KEY=fake_itflow.api_key, ITFLOW_API_MODE="v1",
               ITFLOW_BRIDGE_CACHE_DIR=str(tmp_path / "cache"))
    piped = subprocess.run([sys.executable, "-m", "itflow_bridge.cli", "api", "tickets", "create", "-"],
                           input='{"ticket_subject": "Disk full", "client_id": 1}', capture_output=True,
                           text=True, env=env, timeout=60)
    assert (piped.returncode, json.loads(piped.stdout)) == (0, {"insert_id": 2})
    resolved = run(fake_itflow, tmp_path, "api", "tickets", "resolve", "ticket_id=2", mode="v1")
    assert (resolved.returncode, json.loads(resolved.stdout)) == (0, {"count": 1})
    assert fake_itflow.data["tickets"][1]["ticket_priority"] == "Low"
    assert fake_itflow.data["tickets"][0]["ticket_priority"] == "High"


@pytest.mark.parametrize("args", [
    ("api", "nope", "read"), ("api", "domains", "create"), ("api", "contacts", "read", "colour=red"),
    ("api", "contacts", "create", "client_id=1", "contact_name=X"),
])
def test_api_usage_errors_exit_2_before_any_request(fake_itflow, tmp_path, args):
    out = run(fake_itflow, tmp_path, *args, mode="v1")
    assert out.returncode == 2 and out.stdout == "" and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr
    assert fake_itflow.count("/api") == 0


def test_refused_write_exit_2_without_values_or_key(fake_itflow, tmp_path):
    out = run(fake_itflow, tmp_path, "api", "contacts", "create", "client_id=1", "contact_name=Dup",
              "contact_email=john.smith@acme.example", mode="v1")
    assert out.returncode == 2
    assert out.stderr.strip() == ("itflow-bridge: ITFlow refused the create: missing or invalid fields "
                                  "(sent client_id, contact_email, contact_name)")


def test_bad_key_is_exit_2_and_never_printed(fake_itflow, tmp_path):
    key = "wrong-key-5f1e2d3c4b5a"
    for args in (("api", "contacts", "read"), ("emails",), ("add-asset", "1", "PC")):
        out = run(fake_itflow, tmp_path, *args, mode="v1", key=key)
        assert out.returncode == 2 and key not in out.stdout + out.stderr and "Traceback" not in out.stderr


def test_missing_url_is_a_configuration_error(fake_itflow, tmp_path):
    out = run(fake_itflow, tmp_path, "api", "contacts", "read", mode="v1", extra_env={"ITFLOW_URL": ""})
    assert out.returncode == 3 and "url" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("mode", ["legacy", "v1"])
def test_emails_csv_on_both_generations(fake_itflow, tmp_path, mode):
    out = run(fake_itflow, tmp_path, "emails", "--csv", mode=mode)
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert out.returncode == 0 and rows[0] == ["client", "contact", "email"]
    assert rows[1] == ["Acme Corp", "John Smith", "john.smith@acme.example"]


@pytest.mark.parametrize("mode, prints_id", [("legacy", False), ("v1", True)])
def test_add_asset_on_both_generations(fake_itflow, tmp_path, mode, prints_id):
    out = run(fake_itflow, tmp_path, "add-asset", "2", "NAS-1", "--type", "Server", "--make", "Synology", mode=mode)
    assert out.returncode == 0
    asset = fake_itflow.data["assets"][-1]
    assert (asset["asset_name"], asset["asset_type"], asset["asset_make"], asset["asset_client_id"]) == (
        "NAS-1", "Server", "Synology", "2")
    assert out.stdout == (asset["asset_id"] + "\n" if prints_id else "")


def test_api_phonebook(fake_itflow, tmp_path):
    legacy = run(fake_itflow, tmp_path, "api-phonebook", mode="legacy")
    assert legacy.returncode == 0 and legacy.stdout.endswith("</AddressBook>")
    v1 = run(fake_itflow, tmp_path, "api-phonebook", mode="v1")
    assert v1.returncode == 2 and "no phonebook" in v1.stderr
