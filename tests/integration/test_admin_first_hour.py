"""What a PBX admin sees in the first hour: true answers, the README's exit codes, one line each.

Every command runs as a real process. The exit-code table is ``itflow_bridge.core.exits.Exit``
(0 ok, 1 no, 2 failure, 3 configuration error); the README states the same table.
"""

import contextlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from itflow_bridge.core.exits import Exit
from itflow_bridge.storage.cache import Cache
from polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = "first-hour-key-5b1e0c9d"


def run(tmp_path, *args, url=None, key=KEY, mode="auto", cache=None, extra_env=None, timeout=60):
    conf = tmp_path / "bridge.conf"
    if not conf.exists():
        conf.write_text("", encoding="utf-8")
    env = {name: value for name, value in os.environ.items() if not name.startswith("ITFLOW")}
    env.update({"ITFLOW_BRIDGE_CONFIG": str(conf), "ITFLOW_API_MODE": mode,
                "ITFLOW_BRIDGE_CACHE_DIR": str(cache or tmp_path / "cache")})
    if url:
        env["ITFLOW_URL"] = url
    if key:
        env["ITFLOW_API_KEY"] = key
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "itflow_bridge.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def one_line(out):
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("itflow-bridge: "), out.stderr
    assert "Traceback" not in out.stderr
    return lines[0]


def dead_url():
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % probe.getsockname()[1]


@pytest.fixture
def plain_web_server(tmp_path):
    """A web server that is not ITFlow: every path is 404."""
    docroot = tmp_path / "www"
    docroot.mkdir()
    process = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"], cwd=docroot,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
    port = int(re.search(r"port (\d+)", line).group(1))
    yield "http://127.0.0.1:%d" % port
    process.terminate()
    process.wait(timeout=10)


# --- one table: every command, three situations ------------------------------------------

# Commands that need ITFlow, with arguments; each must exit 3 without a URL, 2 when nothing answers.
ITFLOW_COMMANDS = [
    ("lookup", "5551234567"),
    ("balance", "1"),
    ("check",),
    ("sync",),
    ("emails",),
    ("add-asset", "1", "PC-01"),
    ("api", "clients", "read"),
    ("api-phonebook",),
]


@pytest.mark.parametrize("command", ITFLOW_COMMANDS + [("serve",)], ids=lambda c: c[0])
def test_every_command_without_a_url_is_a_configuration_error(tmp_path, command):
    out = run(tmp_path, *command, url=None)
    assert out.returncode == Exit.CONFIG
    assert "[itflow] url is not set" in out.stderr + out.stdout and "Traceback" not in out.stderr


@pytest.mark.parametrize("command", ITFLOW_COMMANDS, ids=lambda c: c[0])
def test_every_command_against_a_dead_url_is_a_failure(tmp_path, command):
    url = dead_url()
    out = run(tmp_path, *command, url=url)
    assert out.returncode == Exit.FAILURE, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and KEY not in out.stderr + out.stdout
    if command[0] != "check":  # check prints its report on stdout
        assert "nothing listens at %s (connection refused)" % url in one_line(out)


@pytest.mark.parametrize("command", [c for c in ITFLOW_COMMANDS if c[0] != "api-phonebook"], ids=lambda c: c[0])
def test_every_command_against_a_web_server_that_is_not_itflow_is_a_failure(tmp_path, plain_web_server, command):
    out = run(tmp_path, *command, url=plain_web_server)
    assert out.returncode == Exit.FAILURE, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr


def test_the_readme_states_the_same_exit_codes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Exit codes: 0 ok, 1 \"no\", 2 failure, 3 configuration error" in readme
    assert [int(code) for code in (Exit.OK, Exit.NO, Exit.FAILURE, Exit.CONFIG)] == [0, 1, 2, 3]


# --- a cache never answers for another ITFlow ----------------------------------------------


def test_lookup_against_a_dead_url_is_not_answered_from_another_itflows_cache(fake_itflow, tmp_path):
    cache = tmp_path / "shared-cache"
    warm = run(tmp_path, "lookup", "+15551234567", url=fake_itflow.url, key=fake_itflow.api_key, cache=cache)
    assert warm.returncode == Exit.OK and warm.stdout == "Acme Corp - John Smith\n"
    out = run(tmp_path, "lookup", "--json", "+15551234567", url=dead_url(), key=fake_itflow.api_key, cache=cache)
    assert out.returncode == Exit.FAILURE and out.stdout == ""


def test_a_legacy_answer_is_not_served_after_switching_to_the_json_api(fake_itflow, tmp_path):
    cache = tmp_path / "shared-cache"
    legacy = run(tmp_path, "lookup", "+15551234567", url=fake_itflow.url, key=fake_itflow.api_key, cache=cache,
                 mode="legacy")
    assert legacy.stdout == "John Smith\n"
    fake_itflow.clear_requests()
    v1 = run(tmp_path, "lookup", "--json", "+15551234567", url=fake_itflow.url, key=fake_itflow.api_key,
             cache=cache, mode="v1")
    answer = json.loads(v1.stdout)
    assert (answer["source"], answer["display_name"]) == ("itflow", "Acme Corp - John Smith")
    assert fake_itflow.count("/api/v1") > 0


def test_another_key_does_not_see_the_first_keys_cached_names(fake_itflow, tmp_path):
    cache = tmp_path / "shared-cache"
    run(tmp_path, "lookup", "+15551234567", url=fake_itflow.url, key=fake_itflow.api_key, cache=cache, mode="v1")
    out = run(tmp_path, "lookup", "+15551234567", url=fake_itflow.url, key="another-key-0000000", cache=cache,
              mode="v1")
    assert out.returncode == Exit.FAILURE and out.stdout == ""
    assert "refused the API key" in one_line(out)


def cached_answer_fresh_until(cache_dir, number):
    """When the cached caller-ID answer for ``number`` stops being fresh (wall-clock seconds)."""
    with contextlib.closing(sqlite3.connect(str(Cache(cache_dir).path))) as db:
        (fresh_until,) = db.execute("SELECT MAX(fresh_until) FROM entries WHERE key LIKE ?",
                                    ("%cid:%" + number.lstrip("+"),)).fetchone()
    return fresh_until


def test_stale_answers_still_help_when_the_same_itflow_fails(fake_itflow, tmp_path):
    cache = tmp_path / "shared-cache"
    conf = tmp_path / "bridge.conf"
    conf.write_text("[cache]\nhit_ttl = 1\n", encoding="utf-8")
    run(tmp_path, "lookup", "+15551234567", url=fake_itflow.url, key=fake_itflow.api_key, cache=cache, mode="v1")
    fresh_until = cached_answer_fresh_until(cache, "+15551234567")
    wait_for(lambda: time.time() > fresh_until, "the cached answer's hit_ttl to run out")
    fake_itflow.set_fault("500_empty")
    out = run(tmp_path, "lookup", "--json", "+15551234567", url=fake_itflow.url, key=fake_itflow.api_key,
              cache=cache, mode="v1")
    assert json.loads(out.stdout)["source"] == "stale" and out.returncode == Exit.OK


# --- serve: one line, never a traceback ---------------------------------------------------


def test_serve_on_a_port_in_use_is_one_line(fake_itflow, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run(tmp_path, "serve", "--port", str(port), url=fake_itflow.url)
    assert out.returncode == Exit.FAILURE
    assert "already in use" in one_line(out)


def test_serve_on_an_address_that_is_not_this_machines_is_a_configuration_error(fake_itflow, tmp_path):
    out = run(tmp_path, "serve", "--host", "192.0.2.1", "--port", "4573", url=fake_itflow.url)
    assert out.returncode == Exit.CONFIG
    assert "is not an address of this machine" in one_line(out)


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_serve_with_an_impossible_port_is_a_usage_error(fake_itflow, tmp_path, port):
    out = run(tmp_path, "serve", "--port", port, url=fake_itflow.url)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "--port" in out.stderr


def test_a_config_file_port_out_of_range_is_a_configuration_error(fake_itflow, tmp_path):
    (tmp_path / "bridge.conf").write_text("[server]\nport = 70000\n", encoding="utf-8")
    out = run(tmp_path, "serve", url=fake_itflow.url)
    assert out.returncode == Exit.CONFIG and "[server] port" in one_line(out)


# --- advice that leads somewhere -----------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "v1", "legacy"])
def test_check_against_a_plain_web_server_says_neither_api_answers(tmp_path, plain_web_server, mode):
    out = run(tmp_path, "check", url=plain_web_server, mode=mode)
    assert out.returncode == Exit.FAILURE
    assert "neither /api/v1 nor /api.php answers" in out.stdout
    assert "api_mode =" not in out.stdout  # no advice to switch to an API that is not there either
    assert "[ok] reach ITFlow" not in out.stdout


def test_check_with_the_wrong_api_mode_names_the_right_one(fake_itflow_v1, tmp_path):
    out = run(tmp_path, "check", url=fake_itflow_v1.url, key=fake_itflow_v1.api_key, mode="legacy")
    assert out.returncode == Exit.FAILURE
    assert "this ITFlow speaks the v1 API: set [itflow] api_mode = v1" in out.stdout


def test_check_names_the_package_for_missing_stock_sounds(fake_itflow, tmp_path):
    sounds = tmp_path / "sounds"
    (sounds / "en").mkdir(parents=True)
    (tmp_path / "bridge.conf").write_text("[balance]\nsounds_dir = %s\n" % sounds, encoding="utf-8")
    out = run(tmp_path, "check", url=fake_itflow.url, key=fake_itflow.api_key)
    lines = out.stdout.splitlines()
    stock = next(i for i, line in enumerate(lines) if line.startswith("[FAIL] Asterisk sounds"))
    assert "digits/1" in lines[stock] and "vm-and" in lines[stock]
    assert "asterisk-core-sounds-en-gsm" in lines[stock + 1] and "Sound Languages" in lines[stock + 1]
    assert "install-prompts" not in lines[stock + 1]
    ours = next(i for i, line in enumerate(lines) if line.startswith("[FAIL] balance prompts"))
    assert "itflow/your-balance-is" in lines[ours] and "digits/1" not in lines[ours]
    assert "itflow-bridge install-prompts" in lines[ours + 1]


def test_lookup_of_an_unknown_number_says_so_on_stderr_only(fake_itflow, tmp_path):
    out = run(tmp_path, "lookup", "+15550009999", url=fake_itflow.url, key=fake_itflow.api_key)
    assert out.returncode == Exit.NO and out.stdout == ""
    assert one_line(out) == "itflow-bridge: no match in ITFlow for +15550009999"
    as_json = run(tmp_path, "lookup", "--json", "+15550009999", url=fake_itflow.url, key=fake_itflow.api_key)
    assert as_json.stderr == "" and json.loads(as_json.stdout)["status"] == "NOTFOUND"


@pytest.mark.parametrize("number, reason", [
    ("1" * 200, "more than 18 digits"),
    ("12", "fewer than 5 digits"),
    ("+1 (555) abc", "only digits"),
    ("anonymous", "withheld"),
    ("0000000", "all zeros"),
])
def test_lookup_says_why_a_number_cannot_be_looked_up(fake_itflow, tmp_path, number, reason):
    out = run(tmp_path, "lookup", number, url=fake_itflow.url, key=fake_itflow.api_key)
    assert out.returncode == Exit.FAILURE and reason in one_line(out)
    assert fake_itflow.count("/api") == 0


# --- installing pieces by hand ---------------------------------------------------------------


def test_install_agi_refuses_to_create_an_asterisk_tree(tmp_path):
    missing = tmp_path / "var/lib/asterisk/agi-bin"
    out = run(tmp_path, "install-agi", "--dest", str(missing))
    assert out.returncode == Exit.FAILURE and "does not exist" in one_line(out) and "--dest" in out.stderr
    assert not (tmp_path / "var").exists()


def test_install_agi_refuses_an_unknown_owner_before_writing(tmp_path):
    out = run(tmp_path, "install-agi", "--dest", str(tmp_path), "--owner", "no-such-user-here")
    assert out.returncode == Exit.FAILURE and "no user 'no-such-user-here'" in one_line(out)
    assert not list(tmp_path.glob("*.agi"))


def test_install_agi_uses_the_owners_primary_group(tmp_path):
    """Debian's nobody has the group nogroup, not nobody (as root; anyone else installs for themselves)."""
    import pwd

    owner = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    out = run(tmp_path, "install-agi", "--dest", str(tmp_path), "--owner", owner)
    assert out.returncode == Exit.OK, out.stderr
    script = tmp_path / "itflow-cid.agi"
    assert (script.stat().st_uid, script.stat().st_gid) == (pwd.getpwnam(owner).pw_uid, pwd.getpwnam(owner).pw_gid)
    assert script.stat().st_mode & 0o777 == 0o755


def test_install_prompts_refuses_to_create_an_asterisk_tree(tmp_path):
    out = run(tmp_path, "install-prompts", "--sounds-dir", str(tmp_path / "nope"))
    assert out.returncode == Exit.FAILURE and "does not exist" in one_line(out)
    assert not (tmp_path / "nope").exists()


# --- help that reads well -----------------------------------------------------------------


@pytest.mark.parametrize("command", [(), ("lookup",), ("balance",), ("check",), ("install-agi",), ("serve",)])
def test_help_has_no_markup_and_every_argument_is_explained(tmp_path, command):
    out = run(tmp_path, *command, "--help")
    assert out.returncode == 0
    assert "``" not in out.stdout
    if command == ("lookup",):
        assert re.search(r"number\s+the caller's number", out.stdout)
        assert re.search(r"--json\s+print", out.stdout)
    if command == ("balance",):
        assert re.search(r"client_id\s+the client's number in ITFlow", out.stdout)
    if command == ("install-agi",):
        assert "default: /var/lib/asterisk/agi-bin" in " ".join(out.stdout.split())
