"""``itflow-bridge sync`` and ``itflow-bridge phonebook --format F``.

Exit codes as everywhere: 0 ok, 1 no (no directory yet), 2 failure, 3
configuration error; one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from ..exits import Exit, fail


def register(commands) -> None:
    from .phonebook import FORMATS

    sync = commands.add_parser("sync", help="copy ITFlow's phone numbers into the local directory")
    sync.add_argument("--json", action="store_true", help="print the sync report as JSON")
    sync.set_defaults(handler=cmd_sync)

    phonebook = commands.add_parser("phonebook", help="print a desk-phone phonebook from the local directory")
    phonebook.add_argument("--format", required=True, choices=FORMATS, help="phone vendor's XML format")
    phonebook.set_defaults(handler=cmd_phonebook)


def cmd_sync(config, args: argparse.Namespace) -> int:
    from ..app import Bridge
    from .service import store_for
    from .sync import SyncSettings, sync

    config.require_itflow()
    bridge = Bridge(config)
    try:
        adapter = bridge.adapter()
        report = sync(adapter, store_for(config, adapter.generation), SyncSettings.from_config(config))
    except (OSError, sqlite3.Error) as exc:
        return fail("cannot write the directory in %s: %s" % (config.cache.dir, exc), Exit.FAILURE)
    finally:
        bridge.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.line())
        for note in report.notes:
            print("note: %s" % note)
    return Exit.OK


def cmd_phonebook(config, args: argparse.Namespace) -> int:
    from .phonebook import PhonebookOptions, render
    from .service import existing_store

    store = existing_store(config)
    if store is None:
        return fail("no local directory yet in %s: run itflow-bridge sync first" % config.cache.dir, Exit.NO)
    directory = store.open()
    try:
        if directory.info() is None:
            return fail("the directory %s cannot be read: run itflow-bridge sync again" % store.path, Exit.FAILURE)
        body = render(directory.entries(), args.format, PhonebookOptions.from_config(config))
    except (OSError, sqlite3.Error) as exc:
        return fail("cannot read the directory %s: %s" % (store.path, exc), Exit.FAILURE)
    finally:
        directory.close()
    sys.stdout.buffer.write(body)
    sys.stdout.flush()
    return Exit.OK
