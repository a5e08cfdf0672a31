"""``itflow-bridge demo``: the whole bridge against an embedded sample ITFlow, no setup.

It starts the fake ITFlow (both API generations, real HTTP on loopback), the
FastAGI daemon on a free port, and plays simulated inbound calls through the
FastAGI socket the way Asterisk would, printing what the phones would show.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, List, Tuple

from .simulated_asterisk import simulate_call

if TYPE_CHECKING:
    from ..core.config import Config
    from .fake_itflow import FakeITFlow

# (digits keyed in, one entry per prompt; what it shows on the JSON API; on the legacy API)
BALANCE_CALLS: List[Tuple[List[str], str, str]] = [
    (["1"], "Acme Corp, USD", "Acme Corp, USD"),
    (["3"], "Müller GmbH, EUR",
     "Müller GmbH, EUR: the legacy API has no currency, [balance] default_currency is said"),
    (["4"], "a client in credit: the JSON API cannot see overpayments, it reads 0",
     "a client in credit: the legacy API knows"),
    (["2"], "a part-paid invoice: the JSON API has no payments, so no exact balance",
     "a part-paid invoice: exact from the legacy API"),
    (["77", "*"], "an unknown client id: 'not valid', then * back to the menu",
     "an unknown client id: the legacy API answers 0 for it, which is never spoken"),
]
NAME_WIDTH = 34  # the phones' column; longer names are cut with an ellipsis

# (caller number as the trunk sends it, trunk-provided name, what it shows)
CALLS: List[Tuple[str, str, str]] = [
    ("+15551234567", "WIRELESS CALLER", "a contact's phone, E.164 from the trunk"),
    ("5559876543", "", "a contact's mobile, national form"),
    ("+15552220000", "", "a client location's phone"),
    ("+15553330000", "", "a vendor"),
    ("+441632960123", "", "a UK number stored with its trunk 0 (01632...)"),
    ("+15550009999", "Some Caller", "nobody in ITFlow: the trunk's name is kept"),
    ("anonymous", "", "withheld number: ITFlow is not asked"),
    ("+15551234567", "WIRELESS CALLER", "the first caller again: answered from the cache"),
]


def run_demo() -> int:
    from ..agi.fastagi import FastAGIServer
    from ..app import Bridge
    from ..routes import routes
    from .fake_itflow import FakeITFlow

    with FakeITFlow() as fake, tempfile.TemporaryDirectory(prefix="itflow-bridge-demo-") as tmp:
        print("Sample ITFlow (both API generations) at %s\n" % fake.url)
        for mode, title in (("v1", "current ITFlow, JSON API /api/v1"), ("legacy", "ITFlow before 2022, /api.php")):
            config = demo_config(fake, mode, Path(tmp) / mode)
            bridge = Bridge(config)
            server = FastAGIServer(routes(bridge), "127.0.0.1", 0).start()
            host, port = server.server_address[:2]
            print("== %s; FastAGI daemon on %s:%d" % (title, host, port))
            try:
                for number, trunk_name, what in CALLS:
                    show_call(host, port, number, trunk_name, what, fake)
                print("  -- IVR option 3, \"press 3 for your balance\" (caller keys in the client number):")
                for keys, on_v1, on_legacy in BALANCE_CALLS:
                    show_balance_call(host, port, keys, on_v1 if mode == "v1" else on_legacy)
            finally:
                server.shutdown()
                bridge.close()
            print()
    return 0


def demo_config(fake: "FakeITFlow", mode: str, cache_dir: Path) -> "Config":
    from ..core.config import load_config

    cache_dir.mkdir(parents=True, exist_ok=True)
    empty = cache_dir / "demo.conf"
    empty.write_text("", encoding="utf-8")
    return load_config(env={
        "ITFLOW_BRIDGE_CONFIG": str(empty),
        "ITFLOW_URL": fake.url,
        "ITFLOW_API_KEY": fake.api_key,
        "ITFLOW_API_MODE": mode,
        "ITFLOW_BRIDGE_CACHE_DIR": str(cache_dir),
    })


def show_call(host: str, port: int, number: str, trunk_name: str, what: str, fake: "FakeITFlow") -> None:
    before = len(fake.requests)
    started = time.perf_counter()
    call = simulate_call(host, port, "itflow-cid.agi", caller_num=number, caller_name=trunk_name)
    elapsed = (time.perf_counter() - started) * 1000
    shown = call.variables.get("CALLERID(name)", trunk_name)
    status = call.variables.get("ITFLOW_CID_STATUS", "?")
    quoted = '"%s"' % shown
    if len(quoted) > NAME_WIDTH:
        quoted = quoted[:NAME_WIDTH - 2] + '…"'
    print("  call from %-14s %-9s phones show %-*s %4.0f ms, %d ITFlow request(s)  <- %s" % (
        number, status, NAME_WIDTH, quoted, elapsed, len(fake.requests) - before, what))


def show_balance_call(host: str, port: int, keys: List[str], what: str) -> None:
    call = simulate_call(host, port, "itflow-balance.agi", caller_num="5551234567", dtmf=keys)
    heard = [name for name in call.played if name != "itflow/enter-client-number"]
    print("  keys %-10s %-11s caller hears: %s  <- %s" % (
        " then ".join(k or "nothing" for k in keys), call.variables.get("ITFLOW_BALANCE_STATUS", "?"),
        heard_text(heard), what))


def heard_text(files: List[str]) -> str:
    """The words of the prompts played, as sentences: a prompt that starts with a capital starts one."""
    from ..prompts import prompt_text

    sentences: List[str] = []
    for name in files:
        text = prompt_text(name) or "[%s]" % name
        if sentences and not text[:1].isupper():
            sentences[-1] += " " + text
        else:
            sentences.append(text)
    return " ".join(text if text[-1:] in ".?!" else text + "." for text in sentences)
