"""Command-line values checked one way: a port option says what its own 0 means, client ids are ASCII digits."""

import argparse

import pytest

from itflow_bridge.cli import queries, table
from itflow_bridge.core.config import Config


@pytest.mark.parametrize("option, zero", [("--port", "0 for any free port"), ("--http-port", "0 for off")])
def test_a_bad_port_says_what_0_means_for_that_option(capsys, option, zero):
    with pytest.raises(SystemExit) as info:
        table.build_parser().parse_args(["serve", option, "-1"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.splitlines()[-1] == "itflow-bridge serve: error: argument %s: -1 is not a TCP port: use 1 to " \
                                   "65535, or %s" % (option, zero)


def test_each_port_help_says_the_same_about_0():
    help_text = " ".join(table.build_parser()._subparsers._group_actions[0].choices["serve"].format_help().split())
    assert "0: any free port" in help_text and "0: off" in help_text


@pytest.mark.parametrize("client_id", ["１２", "١٢", "12\u00b2", "12abc", "0", "-3", ""])
def test_balance_takes_only_ascii_digits_before_any_configuration(capsys, client_id):
    # Config(): no URL and no key, so anything past the check would fail with a configuration error instead.
    code = queries.cmd_balance(Config(), argparse.Namespace(client_id=client_id, json=False))
    assert code == 2
    assert capsys.readouterr().err == "itflow-bridge: client id must be a positive whole number, not %r\n" % client_id
