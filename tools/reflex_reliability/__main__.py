"""reflex's reliability runs against a real reflexd (docs/RELIABILITY.md). Each prints one JSON
object on stdout (progress on stderr).

    ~/.cache/reflex/venv/bin/python -m reflex_reliability load --robots 8 --hz 10
    ... load --robots 8 --hz 100                     # stress: more than 2 cores serve at full depth
    ... faults --killed 1000 --reconnects 2000 --rounds 3
    ... soak --steps 1000000
    ... lifecycle --sighups 50 --budget-changes 200

The daemon is $REFLEXD_BIN, else .build/release/reflexd, else .build/debug/reflexd, started on
ipc:// endpoints in a folder of its own; --model chooses the bundle (default models/default;
soak defaults to the small test fixture, whose microsecond steps make 10^6 steps a matter of
minutes: the daemon's own paths, not the model's size, are what a soak exercises).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reflexd_process import exit_on_sigterm

from . import common as C


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m reflex_reliability", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="bundle [models/default; soak: the fixture]")
    ap.add_argument("--reflexd", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    sub = ap.add_subparsers(dest="run", required=True)
    load = sub.add_parser("load", help="R robots x H Hz")
    load.add_argument("--robots", type=int, default=8)
    load.add_argument("--hz", type=float, default=10.0)
    load.add_argument("--seconds", type=float, default=30.0)
    load.add_argument("--average-fraction", type=float, default=1.0)
    load.add_argument("--mode", choices=("online", "fixed"), default="fixed")
    load.add_argument("--deadline-ms", type=float, default=None)
    faults = sub.add_parser("faults", help="killed clients, reconnect storm, silent robots")
    faults.add_argument("--killed", type=int, default=1000)
    faults.add_argument("--reconnects", type=int, default=2000)
    faults.add_argument("--rounds", type=int, default=3)
    soak = sub.add_parser("soak", help="N steps; memory and open files")
    soak.add_argument("--steps", type=int, default=1_000_000)
    soak.add_argument("--robots", type=int, default=4)
    life = sub.add_parser("lifecycle", help="SIGHUP storm, budget changes, SIGTERM under load")
    life.add_argument("--robots", type=int, default=4)
    life.add_argument("--sighups", type=int, default=50)
    life.add_argument("--budget-changes", type=int, default=200)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    model = args.model or (C.FIXTURE if args.run == "soak" else C.DEFAULT_MODEL)
    if args.run == "load":
        from .load import run_load
        budget = {"average_fraction": args.average_fraction, "deadline_ms": args.deadline_ms}
        result = run_load(model, args.robots, args.hz, args.seconds,
                          {"budget": budget, "scheduler": {"mode": args.mode}}, args.reflexd)
        ok = result["unanswered"] == 0 and not result["failures"]
    elif args.run == "faults":
        from .faults import run_faults
        result = run_faults(model, args.killed, args.reconnects, args.rounds, args.reflexd)
        ok = (result["monitor"]["unanswered"] == 0 and result["fd_growth"] == 0
              and result["sessions_final"] == 1 and result["exit_status"] == 0)
    elif args.run == "soak":
        from .soak import run_soak
        result = run_soak(model, args.steps, args.robots, args.reflexd)
        ok = result["unanswered"] == 0 and result["fd_growth"] == 0 and result["exit_status"] == 0
    else:
        from .lifecycle import run_lifecycle
        result = run_lifecycle(model, args.robots, args.sighups, args.budget_changes, reflexd=args.reflexd)
        ok = result["unanswered"] == 0 and result["phases"]["sigterm"]["exit_status"] == 0
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
