"""The README's script examples for the ITFlow API, run against the fake ITFlow."""

import contextlib
import csv
import io
import re
from pathlib import Path


README = Path(__file__).resolve().parents[2] / "README.md"


def api_examples():
    text = README.read_text(encoding="utf-8")
    section = text.split("## ITFlow API for scripts", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_the_readme_has_the_three_examples():
    assert len(api_examples()) == 3


def run_example(code, fake, monkeypatch):
    monkeypatch.setenv("ITFLOW_URL", fake.url)
    monkeypatch.setenv("ITFLOW_API_KEY", fake.api_key)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    return out.getvalue()


def test_export_contacts_to_csv(fake_itflow_v1, monkeypatch):
    rows = list(csv.reader(io.StringIO(run_example(api_examples()[0], fake_itflow_v1, monkeypatch))))
    assert rows[0] == ["client", "name", "email", "phone", "mobile"]
    assert len(rows) == 1 + len(fake_itflow_v1.data["contacts"])
    assert ["Acme Corp", "John Smith", "john.smith@acme.example"] == rows[1][:3]


def test_ticket_from_a_monitoring_alert(fake_itflow_v1, monkeypatch):
    out = run_example(api_examples()[1], fake_itflow_v1, monkeypatch)
    assert out == "ticket 1\n"
    ticket = fake_itflow_v1.data["tickets"][0]
    assert (ticket["ticket_subject"], ticket["ticket_priority"], ticket["ticket_status"]) == (
        "CRITICAL: disk C: on fs01", "High", "4")
    assert fake_itflow_v1.data["ticket_replies"][0]["ticket_reply"] == "Alert cleared"


def test_unpaid_invoices_per_client(fake_itflow_v1, monkeypatch):
    out = run_example(api_examples()[2], fake_itflow_v1, monkeypatch)
    unpaid = [i for i in fake_itflow_v1.data["invoices"] if i["invoice_status"] in ("Sent", "Viewed", "Partial")]
    lines = out.splitlines()
    assert unpaid and len(lines) == len(unpaid) + len({i["invoice_currency_code"] for i in unpaid})
    assert all(line.startswith("total ") for line in lines[len(unpaid):])
