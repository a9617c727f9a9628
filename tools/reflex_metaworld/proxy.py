"""Fast proxy of the closed-loop evaluation, IN PROCESS (PyTorch `ReflexNet.step`, not reflexd):
a few tasks × a few episodes on held-out layouts (MT1(task, EVAL_SEED), never used for data), at
full depth, a forced exit, and with the camera frozen (eval_settings' frozen-image frame).

    python -m reflex_metaworld.proxy --model models/default \\
        --tasks hammer-v3,assembly-v3,drawer-open-v3,button-press-topdown-v3 --episodes 10 \\
        --settings full,exit-1,frozen-image --out ~/.cache/reflex/proxy/default.jsonl

Episode i of a task runs on layout i of MT1(task, EVAL_SEED), as `evaluate` does, so two models
see the same layouts. Records are appended to --out (one JSON line per episode; episodes already
there for the same model file and setting are skipped, so a run can be interrupted); the summary
table is printed at the end. The full protocol through the daemon is `reflex_metaworld.evaluate`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import render as R
from . import rollout as RO
from . import tasks as T

PROXY_TASKS = "hammer-v3,assembly-v3,drawer-open-v3,button-press-topdown-v3"


def model_id(path: Path) -> str:
    path = Path(path)
    files = [path / "weights.safetensors"] if path.is_dir() else [path]
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def setting_args(name: str, exits: int) -> dict:
    if name == "full":
        return {"exit": exits, "frozen": False}
    if name == "frozen-image":
        return {"exit": exits, "frozen": True}
    if name.startswith("exit-"):
        return {"exit": int(name[5:]), "frozen": False}
    raise ValueError(f"proxy setting {name!r}: full, exit-K or frozen-image")


def read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def table(records: list[dict], tasks: list[str], settings: list[str]) -> str:
    lines = ["| model | setting | " + " | ".join(t.replace("-v3", "") for t in tasks) + " | mean |",
             "|---|---|" + "---|" * (len(tasks) + 1)]
    for label in dict.fromkeys(r["label"] for r in records):
        for s in settings:
            cells, rates = [], []
            for t in tasks:
                rs = [r for r in records if r["label"] == label and r["setting"] == s and r["task"] == t]
                if not rs:
                    cells.append("–")
                    continue
                ok = sum(r["success"] for r in rs)
                cells.append(f"{ok}/{len(rs)}")
                rates.append(ok / len(rs))
            if rates:
                lines.append(f"| {label} | {s} | " + " | ".join(cells)
                             + f" | {100 * np.mean(rates):.0f}% |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="bundle directory or checkpoint")
    ap.add_argument("--label", default=None, help="name in the table (default: the path)")
    ap.add_argument("--tasks", default=PROXY_TASKS)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--settings", default="full,exit-1,frozen-image")
    ap.add_argument("--first-layout", type=int, default=0, help="first layout index of --layout-seed")
    ap.add_argument("--layout-seed", type=int, default=T.EVAL_SEED,
                    help="MT1 seed of the layouts (default the evaluation seed; a training seed "
                         "measures fitting, not generalisation, and is recorded as such)")
    ap.add_argument("--max-steps", type=int, default=None, help="default: the task's step limit")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    net, description, view = RO.load_policy(args.model)
    mid = model_id(args.model)
    label = args.label or str(args.model)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["model_id"], r["setting"], r["task"], r["layout_index"]) for r in read(args.out)
            if r.get("layout_seed", T.EVAL_SEED) == args.layout_seed}
    print(f"[proxy] {description}, id {mid}; {len(tasks)} tasks x {args.episodes} episodes x "
          f"{settings}; in-process ReflexNet.step (not reflexd)", flush=True)
    t_all = time.time()
    for task in tasks:
        scene = RO.Scene(task, R.DEFAULT_IMAGE_SIZE, *view)
        layouts = T.layouts(task, args.layout_seed)
        try:
            for s in settings:
                kw = setting_args(s, net.num_exits)
                ok = n = 0
                for i in range(args.first_layout, args.first_layout + args.episodes):
                    if (mid, s, task, i) in done:
                        continue
                    r = RO.run_episode(scene, net, layouts[i], kw["exit"], frozen=kw["frozen"],
                                       max_steps=args.max_steps)
                    rec = {"label": label, "model": str(args.model), "model_id": mid, "setting": s,
                           "task": task, "layout_seed": args.layout_seed, "layout_index": i,
                           "success": r.success, "steps": r.steps, "exits": r.exits,
                           "wall_s": round(r.wall_s, 2), "runner": "in-process ReflexNet.step"}
                    with open(args.out, "a") as f:
                        f.write(json.dumps(rec) + "\n")
                    ok += r.success
                    n += 1
                print(f"[proxy {time.strftime('%H:%M:%S')}] {task} {s}: {ok}/{n} new episodes "
                      f"succeeded ({time.time() - t_all:.0f}s)", flush=True)
        finally:
            scene.close()
    records = [r for r in read(args.out) if r["model_id"] == mid
               and r.get("layout_seed", T.EVAL_SEED) == args.layout_seed]
    for r in records:
        r["label"] = label
    print(table(records, tasks, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
