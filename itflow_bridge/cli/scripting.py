"""The scripting commands: ``api``, ``emails``, ``add-asset`` and ``api-phonebook``.

``itflow-bridge api MODULE FUNCTION [key=value ...]`` calls any JSON API
function and prints JSON (or ``--table``); writes may take their body as JSON
from stdin (``-``) or a file (``--body FILE``).  Exit codes as everywhere:
0 done, 1 nothing found, 2 failure, 3 configuration error; one line on
stderr, never a traceback, never the key.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, TextIO

from ..core.exits import Exit, fail
from ..core.errors import ConfigError, ITFlowNotFound
from ..api.registry import CREATE, READ, TIME, APIUsageError
from ..api.values import Row, to_json_value
from .queries import client_id_from
from .queries import CLI_BUDGET

if TYPE_CHECKING:
    from ..itflow.site import ITFlowClient
    from ..core.config import Config
    from ..itflow.script_features import ScriptFeatures



def _client(config: "Config") -> "ITFlowClient":
    from ..app import Bridge

    config.require_itflow()
    return Bridge(config).client


def _features(config: "Config") -> "ScriptFeatures":
    """The site's script features: what legacy /api.php offered, on either API generation."""
    from ..itflow.script_features import script_features

    return script_features(_client(config).adapter(CLI_BUDGET))


def parse_params(items: List[str], stdin: Optional[TextIO] = None) -> Dict[str, Any]:
    """``key=value`` pairs (values as text, as a form would send them); ``-`` merges a JSON object from stdin."""
    params: Dict[str, Any] = {}
    for item in items:
        if item == "-":
            params.update(_json_object((stdin or sys.stdin).read(), "stdin"))
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise APIUsageError("parameters are key=value, not %r" % item)
        params[key] = value
    return params


def _json_object(text: str, where: str) -> Dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise APIUsageError("%s is not JSON" % where) from None
    if not isinstance(value, dict):
        raise APIUsageError("%s must hold a JSON object of fields" % where)
    return value


def _body(path: str) -> Dict[str, Any]:
    if path == "-":
        return _json_object(sys.stdin.read(), "stdin")
    try:
        with open(path, encoding="utf-8") as handle:
            return _json_object(handle.read(), path)
    except OSError as exc:
        raise APIUsageError("cannot read %s: %s" % (path, exc.strerror)) from None


def cmd_api(config: "Config", args: argparse.Namespace) -> int:
    from ..api import registry

    registry.function(args.module, args.function)  # before any configuration or request
    params = parse_params(args.params)
    if args.body:
        params = dict(_body(args.body), **params)
    reading = args.function in (READ, TIME)
    if not reading and (args.all or args.table):
        raise APIUsageError("--all and --table are for reads")
    if args.columns is not None and not args.table:
        raise APIUsageError("--columns chooses the columns of --table: add --table")
    if config.itflow.api_mode == "legacy":
        raise ConfigError("[itflow] api_mode = legacy: the api command needs ITFlow's JSON API (/api/v1)")
    from ..api.typed import ITFlowAPI

    api = ITFlowAPI(_client(config).http, timeout=CLI_BUDGET)
    try:
        result = api.call(args.module, args.function, params, all_pages=args.all)
    except ITFlowNotFound as exc:
        return fail(str(exc), Exit.NO)
    if reading:
        rows: List[Row] = result
        if args.table:
            _print_table(rows, args.columns)
        else:
            print(json.dumps([row.raw for row in rows], ensure_ascii=False, indent=1))
        next_offset = getattr(result, "next_offset", None)  # a Page: one page was asked for
        if next_offset is not None:
            sys.stdout.flush()  # the rows first, then the hint, on a terminal showing both
            print("itflow-bridge: more rows: use --all or offset=%d" % next_offset, file=sys.stderr)
        return Exit.OK if rows else Exit.NO
    key = "insert_id" if args.function == CREATE else "count"
    print(json.dumps({key: result}))
    return Exit.OK


def _print_table(rows: List[Row], columns: Any) -> None:
    if not rows:
        return
    names = [name.strip() for name in columns.split(",")] if columns else list(rows[0].raw)
    print("\t".join(names))
    for row in rows:
        print("\t".join(_cell(row.get(name)) for name in names))


def _cell(value: Any) -> str:
    value = to_json_value(value)
    return "" if value is None else " ".join(str(value).split())


def cmd_emails(config: "Config", args: argparse.Namespace) -> int:
    entries = _features(config).contact_emails(timeout=CLI_BUDGET)
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["client", "contact", "email"])
        for entry in entries:
            writer.writerow([entry.client_name, entry.contact_name, entry.email])
    else:
        for entry in entries:
            print("\t".join(_cell(text) for text in (entry.client_name, entry.contact_name, entry.email)))
    return Exit.OK if entries else Exit.NO


def cmd_add_asset(config: "Config", args: argparse.Namespace) -> int:
    client_id = client_id_from(args.client_id)
    if client_id is None:
        return fail("client id must be a positive whole number, not %r" % args.client_id)
    features = _features(config)
    try:
        new_id = features.add_asset(client_id, args.name, type=args.type, make=args.make, model=args.model,
                                    serial=args.serial, os=args.os, timeout=CLI_BUDGET)
    except ITFlowNotFound as exc:
        return fail(exc, Exit.NO)
    if new_id is not None:
        print(new_id)
    missing = ([] if new_id is not None else ["gives no id"]) + (
        [] if features.checks_client else ["cannot tell whether client %d exists: check the asset in ITFlow"
                                           % client_id])
    if missing:
        print("itflow-bridge: asset added; the %s API %s" % (features.adapter.generation, " and ".join(missing)),
              file=sys.stderr)
    return Exit.OK


def cmd_api_phonebook(config: "Config", args: argparse.Namespace) -> int:
    sys.stdout.write(_features(config).raw_phonebook(timeout=CLI_BUDGET))
    return Exit.OK
