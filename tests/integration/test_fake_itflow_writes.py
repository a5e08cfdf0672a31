"""The package's fake ITFlow only reads; tests plug ITFlow's v1 writes into it."""

from __future__ import annotations

import requests

import fake_writes
from itflow_bridge.sample.fake_itflow import FakeITFlow

TIMEOUT = 10


def create_contact(fake: FakeITFlow) -> requests.Response:
    return requests.post("%s/api/v1/contacts/create.php" % fake.url, params={"api_key": fake.api_key},
                         json={"api_key": fake.api_key, "client_id": 1, "contact_name": "New Person",
                               "contact_email": "new.person@example.com"},
                         timeout=TIMEOUT)


def test_without_writes_a_write_script_does_not_exist():
    with FakeITFlow() as fake:
        response = create_contact(fake)
        assert response.status_code == 404 and b"Not Found" in response.content
        assert requests.get("%s/api/v1/technicians/time.php" % fake.url, params={"api_key": fake.api_key},
                            timeout=TIMEOUT).status_code == 404
        assert requests.get("%s/api/v1/contacts/read.php" % fake.url, params={"api_key": fake.api_key},
                            timeout=TIMEOUT).json()["success"] == "True"


def test_plugged_writes_persist_into_the_dataset():
    with FakeITFlow(writes=fake_writes) as fake:
        response = create_contact(fake)
        assert response.status_code == 200 and response.json()["success"] == "True", response.content
        new_id = response.json()["data"][0]["insert_id"]
        assert any(str(row["contact_id"]) == str(new_id) and row["contact_name"] == "New Person"
                   for row in fake.data["contacts"])
