"""Command line of the load run (``./run-load``): settings in, summary out, exit 1 on any failed check."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence, Tuple

from load_harness import LoadSettings, run_load, summary


def parse_settings(argv: Optional[Sequence[str]]) -> Tuple[LoadSettings, Optional[str]]:
    defaults = LoadSettings()
    parser = argparse.ArgumentParser(prog="run-load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=defaults.seconds, help="FastAGI load duration")
    parser.add_argument("--sessions", type=int, default=defaults.sessions, help="concurrent FastAGI sessions")
    parser.add_argument("--classic", type=int, default=defaults.classic, help="concurrent classic AGI processes")
    parser.add_argument("--classic-rounds", type=int, default=defaults.classic_rounds)
    parser.add_argument("--latency-max", type=float, default=defaults.latency_max, help="seconds per ITFlow request")
    parser.add_argument("--error-rate", type=float, default=defaults.error_rate)
    parser.add_argument("--budget-ms", type=int, default=defaults.budget_ms, help="[callerid] budget_ms")
    parser.add_argument("--warmup", type=float, default=defaults.warmup, help="seconds of load before the run")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--keep", metavar="DIR", help="keep configs, caches and the daemon log in DIR")
    args = parser.parse_args(argv)
    if args.seconds < 3 or args.sessions < 1 or args.classic < 0:
        parser.error("use --seconds >= 3, --sessions >= 1, --classic >= 0")
    settings = LoadSettings(seconds=args.seconds, sessions=args.sessions, classic=args.classic,
                            classic_rounds=args.classic_rounds if args.classic else 0,
                            latency_max=args.latency_max, error_rate=args.error_rate, budget_ms=args.budget_ms,
                            warmup=args.warmup, seed=args.seed)
    return settings, args.keep


def main(argv: Optional[Sequence[str]] = None) -> int:
    settings, keep = parse_settings(argv)
    progress = lambda text: print("run-load: " + text, file=sys.stderr, flush=True)  # noqa: E731
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        report = run_load(settings, Path(keep), progress)
    else:
        with tempfile.TemporaryDirectory(prefix="itflow-load-") as workdir:
            report = run_load(settings, Path(workdir), progress)
    print(summary(report, settings.latency_max, settings.error_rate))
    return 0 if all(check.passed for check in report.checks()) else 1


if __name__ == "__main__":
    sys.exit(main())
