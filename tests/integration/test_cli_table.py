"""The command table: one parser from it, the config loaded only where a command uses it, one line on any error."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from typing import Iterator

import pytest

from itflow_bridge import cli
from itflow_bridge.cli import table
from itflow_bridge.core.errors import ConfigError

HEAVY = ("requests", "urllib3", "phonenumbers")
STANDALONE = {"demo", "install", "install-agi"}  # must run whatever the config and the environment hold


@pytest.fixture(autouse=True)
def own_logging() -> Iterator[None]:
    """``main`` sets the process's logging up (level, a handler on stderr): put back what the next test expects."""
    root, urllib3 = logging.getLogger(), logging.getLogger("urllib3")
    saved = list(root.handlers), root.level, urllib3.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    urllib3.setLevel(saved[2])


def test_building_the_parser_imports_no_http_or_number_library():
    code = ("import sys; from itflow_bridge.cli.table import build_parser; build_parser(); "
            "print(sorted(name for name in sys.modules if name.split('.')[0] in %r))" % (HEAVY,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (0, "[]\n", "")


def test_the_parser_offers_exactly_the_commands_of_the_table():
    commands = next(action for action in table.build_parser()._actions
                    if isinstance(action, argparse._SubParsersAction))
    assert list(commands.choices) == list(table.COMMANDS)


def test_only_the_standalone_commands_run_without_the_config():
    assert {name for name, command in table.COMMANDS.items() if not command.needs_config} == STANDALONE


def test_a_command_has_exactly_one_kind_of_handler():
    with pytest.raises(ValueError):
        table.Command("neither", table.no_arguments)
    with pytest.raises(ValueError):
        table.Command("both", table.no_arguments, lambda config, args: 0, standalone=lambda args: 0)


def refusing_config(*args: object, **kwargs: object) -> object:
    raise ConfigError("the config must not be read for this command")


def test_a_standalone_command_never_loads_the_config(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "load_config", refusing_config)
    missing = tmp_path / "agi-bin"
    assert cli.main(["install-agi", "--dest", str(missing), "--owner", ""]) == 2
    err = capsys.readouterr().err
    assert err.startswith("itflow-bridge: agi-bin directory %s does not exist" % missing) and err.count("\n") == 1


def test_a_command_that_uses_the_config_loads_it(monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_config", refusing_config)
    assert cli.main(["lookup", "5551234567"]) == 3
    assert capsys.readouterr().err == "itflow-bridge: the config must not be read for this command\n"


def test_a_bad_url_in_the_environment_still_fails_the_commands_that_use_it(monkeypatch, capsys):
    monkeypatch.setenv("ITFLOW_URL", "garbage")
    assert cli.main(["lookup", "5551234567"]) == 3
    err = capsys.readouterr().err
    assert "ITFLOW_URL" in err and err.count("\n") == 1


def test_an_error_while_building_the_parser_is_one_line(monkeypatch, capsys):
    def broken() -> argparse.ArgumentParser:
        raise RuntimeError("no parser today")

    monkeypatch.setattr(table, "build_parser", broken)
    assert cli.main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err == "itflow-bridge: internal error (RuntimeError: no parser today); run again with -v for the details\n"


def test_a_usage_error_is_still_argparse_s_own(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["phonebook", "--format", "nokia"])
    assert exit.value.code == 2
    assert "invalid choice: 'nokia'" in capsys.readouterr().err


def test_the_demo_runs_whatever_the_environment_and_config_file_hold(monkeypatch, tmp_path, capsys):
    """``ITFLOW_URL=garbage ./run-demo`` works: the demo builds its own config against its sample ITFlow."""
    broken = tmp_path / "broken.conf"
    broken.write_text("[itflow\nurl = \x01", encoding="utf-8")
    monkeypatch.setenv("ITFLOW_URL", "garbage")
    monkeypatch.setenv("ITFLOW_API_MODE", "soap")
    monkeypatch.setenv("ITFLOW_BRIDGE_CONFIG", str(broken))
    monkeypatch.setenv("ITFLOW_BRIDGE_CACHE_DIR", str(broken / "cache"))  # under a file: cannot exist
    assert cli.main(["demo"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "== current ITFlow, JSON API /api/v1" in out and "== ITFlow before 2022, /api.php" in out
    assert "garbage" not in out
