"""``itflow-bridge sync`` and ``itflow-bridge phonebook --format F``.

Exit codes as everywhere: 0 ok, 1 no (no directory yet), 2 failure, 3
configuration error; one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.config import Config

from ..core.exits import Exit, fail


def cmd_sync(config: "Config", args: argparse.Namespace) -> int:
    """Sync, then write the classic scripts' answer book from the new directory."""
    from ..app import Bridge
    from ..directory.refresh import sync_directory

    config.require_itflow()
    bridge = Bridge(config)
    try:
        outcome = sync_directory(bridge)
    except (OSError, sqlite3.Error) as exc:
        return fail("cannot write the directory in %s: %s" % (config.cache.dir, exc), Exit.FAILURE)
    finally:
        bridge.close()
    report, book = outcome.report, outcome.book
    if args.json:
        answer = report.to_dict()
        answer["answer_book"] = {"forms": book.forms, "numbers": book.numbers, "seconds": round(book.seconds, 3)} \
            if book is not None else None
        print(json.dumps(answer, ensure_ascii=False))
    else:
        print(report.line())
        for note in report.notes:
            print("note: %s" % note)
        if book is not None:
            print(book.line())
    if outcome.book_problem:
        fail("the directory is synced, but %s" % outcome.book_problem, Exit.OK)
    return Exit.OK


def cmd_phonebook(config: "Config", args: argparse.Namespace) -> int:
    from ..directory.phonebook import PhonebookOptions, render
    from ..directory.service import existing_store

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
