"""Several robots replaying recorded validation demonstrations (Meta-World frames the default
model was not trained on) against a running reflexd at a fixed rate each, with the budget
changed live half-way: the run behind the trace plot in docs/OPERATIONS.md.

    python -m reflex_trace.replay --policy tcp://127.0.0.1:5555 --control tcp://127.0.0.1:5557 \\
        --demos ~/.cache/reflex/demos-dart --robots 4 --seconds 60 --hz 20 --budgets 0.4,0.7
"""
from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import numpy as np

from reflex_client import ControlClient, ReflexClient, ReflexError


def robot(name: str, demo: Path, policy: str, hz: float, stop: threading.Event, counts: dict) -> None:
    d = np.load(demo)
    images, states, instruction = d["images"], d["states"].astype(np.float32), str(d["instruction"])
    starts = set(int(s) for s in d["episode_start"])
    with ReflexClient(policy, timeout_ms=5000) as client:
        i = 0
        next_at = time.monotonic()
        while not stop.is_set():
            k = i % len(images)
            if k in starts:
                client.reset(name)
            try:
                client.step(name, instruction, image=images[k], state=states[k])
                counts[name] = counts.get(name, 0) + 1
            except ReflexError:
                pass
            i += 1
            next_at += 1 / hz
            time.sleep(max(0.0, next_at - time.monotonic()))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--policy", default="tcp://127.0.0.1:5555")
    ap.add_argument("--control", default="tcp://127.0.0.1:5557")
    ap.add_argument("--demos", type=Path, default=Path.home() / ".cache/reflex/demos-dart")
    ap.add_argument("--robots", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--hz", type=float, default=20, help="steps per second per robot")
    ap.add_argument("--budgets", default="0.4,0.7", help="average_fraction values applied in equal parts of the run")
    args = ap.parse_args(argv)
    demos = sorted(args.demos.glob("*-val.npz"))[: args.robots]
    if len(demos) < args.robots:
        raise SystemExit(f"{args.demos}: need {args.robots} *-val.npz demonstrations, found {len(demos)}")
    budgets = [float(b) for b in args.budgets.split(",")]
    stop, counts = threading.Event(), {}
    with ControlClient(args.control) as control:
        control.budget(average_fraction=budgets[0])
        threads = [threading.Thread(target=robot, args=(f"arm-{n + 1}", demo, args.policy, args.hz, stop, counts))
                   for n, demo in enumerate(demos)]
        for t in threads:
            t.start()
        for b in budgets[1:]:
            time.sleep(args.seconds / len(budgets))
            control.budget(average_fraction=b)
        time.sleep(args.seconds / len(budgets))
        stop.set()
        for t in threads:
            t.join()
    print({"steps": counts})


if __name__ == "__main__":
    main()
