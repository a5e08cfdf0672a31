"""``itflow-bridge api ... read``: paging values from the command line, options in any order, the hint of more rows."""

import json

import pytest

from test_cli import run


def test_limit_and_offset_given_as_text_read_that_page(fake_itflow_v1, tmp_path):
    first = run(fake_itflow_v1, tmp_path, "api", "clients", "read", "limit=3", mode="v1")
    assert first.returncode == 0, first.stderr
    second = run(fake_itflow_v1, tmp_path, "api", "clients", "read", "limit=3", "offset=3", mode="v1")
    assert second.returncode == 0, second.stderr
    ids = [row["client_id"] for row in json.loads(first.stdout) + json.loads(second.stdout)]
    assert ids == [str(row["client_id"]) for row in fake_itflow_v1.data["clients"][:6]]


@pytest.mark.parametrize("value", ["-1", "0", "five", "１２"])
def test_a_limit_that_is_not_a_count_is_refused_before_any_request(fake_itflow_v1, tmp_path, value):
    out = run(fake_itflow_v1, tmp_path, "api", "clients", "read", "limit=" + value, mode="v1")
    assert (out.returncode, out.stdout) == (2, "") and "limit must be a whole number" in out.stderr
    assert fake_itflow_v1.count("/api") == 0


def test_a_full_page_says_on_stderr_how_to_get_the_rest(fake_itflow_v1, tmp_path):
    out = run(fake_itflow_v1, tmp_path, "api", "clients", "read", "limit=2", "offset=4", mode="v1")
    assert out.returncode == 0 and len(json.loads(out.stdout)) == 2
    assert out.stderr == "itflow-bridge: more rows: use --all or offset=6\n"


def test_a_page_that_is_not_full_has_no_hint(fake_itflow_v1, tmp_path):
    everything = len(fake_itflow_v1.data["clients"])
    out = run(fake_itflow_v1, tmp_path, "api", "clients", "read", "limit=%d" % (everything + 1), mode="v1")
    assert (out.returncode, out.stderr) == (0, "") and len(json.loads(out.stdout)) == everything


@pytest.mark.parametrize("args", [
    ("api", "clients", "read", "client_id=1", "--table"),
    ("api", "clients", "read", "--table", "client_id=1"),
    ("api", "--table", "clients", "read", "client_id=1"),
    ("api", "clients", "--table", "read", "--columns", "client_id,client_name", "client_id=1"),
])
def test_options_come_in_any_order(fake_itflow_v1, tmp_path, args):
    out = run(fake_itflow_v1, tmp_path, *args, mode="v1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith("client_id\t")
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and lines[1].startswith("1\t") and "\tAcme Corp\t" in lines[1] + "\t"


def test_all_after_a_filter_reads_every_page(fake_itflow_v1, tmp_path):
    out = run(fake_itflow_v1, tmp_path, "api", "contacts", "read", "client_id=1", "--all", mode="v1")
    assert out.returncode == 0, out.stderr
    assert {row["contact_client_id"] for row in json.loads(out.stdout)} == {"1"}
    both = run(fake_itflow_v1, tmp_path, "api", "clients", "read", "--all", "limit=5", mode="v1")
    assert both.returncode == 2 and "either limit/offset or all pages" in both.stderr


def test_columns_without_table_is_refused_in_one_line(fake_itflow_v1, tmp_path):
    out = run(fake_itflow_v1, tmp_path, "api", "clients", "read", "--columns", "client_id", mode="v1")
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == "itflow-bridge: --columns chooses the columns of --table: add --table\n"
    assert fake_itflow_v1.count("/api") == 0
