"""Does the exit criterion find the steps where a shallow exit is as good as full depth? Offline,
on the clean validation episodes, in process (PyTorch `ReflexNet.step`, not the daemon).

    python -m reflex_metaworld.exit_errors --model models/default --demos ~/.cache/reflex/demos-dart

Every validation frame is stepped through the bundle with a full-depth history (the recurrent
state committed at the last exit) and every exit's action is read (`ReflexNet.step` without a stop
rule). Per frame and exit: the action error `err` (RMS over the criterion dims — x, y, z — against
the scripted expert's label, action units) and DeeR's criterion `dist` (RMS distance between the
exit's action and the previous read's; `dist_2` compares exits 2 and 1).

Prints JSON: the mean error per exit; the Spearman correlation with exit 1's excess error
(err_1 − err_E: what stopping at exit 1 costs that frame) of `dist_1` (exit 1 against the
reference read: the distance the runtime's threshold at exit 1 is compared with) and of `dist_2`
(what a rule could know one exit later); and, at a mean compute `--budget`
(a fraction of full depth), the mean error of policies that answer a share q of the frames at
exit 1 and the rest at the fixed depth that spends the remaining budget (interpolated between the
two neighbouring exits), where the exit-1 frames are chosen by the criterion (lowest `dist_2`, as
DeeR's threshold does), at random, or by an oracle (the frames where exit 1's error exceeds the
rest's least: the best choice of that many frames) — beside fixed depth alone at the budget.
The oracle bounds what any criterion could gain on these frames; the random choice is what a
criterion that carries no information gets.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from reflex_model.bundle import read_bundle

from . import dataset as DS
from . import tasks as T
from .episodes import default_binary, inspect_model

CRITERION_DIMS = slice(0, 3)   # x, y, z: DEFAULT_CRITERION_DIMS of reflex_model.configs


def exit_errors(net, demos: DS.Demos) -> tuple[np.ndarray, np.ndarray]:
    """(err [N, E], dist [N, E]) for every frame of `demos`, episode by episode from a reset,
    with the full-depth history. err: RMS over x, y, z of (exit action − label); dist: the
    criterion at each exit (ReflexNet.distance). Single-camera, one-action bundles."""
    errs, dists = [], []
    with torch.no_grad():
        for e in range(len(demos.ep_start)):
            s, n = int(demos.ep_start[e]), int(demos.ep_length[e])
            rec = None
            for t in range(s, s + n):
                r = net.step({"image": demos.images[t], "state": demos.states[t],
                              "word_ids": demos.word_ids[t]}, rec)
                rec = r.state
                a = r.actions[1:, CRITERION_DIMS].numpy()
                label = demos.actions[t, CRITERION_DIMS].numpy()
                errs.append(np.sqrt(((a - label) ** 2).mean(-1)))
                dists.append(r.distances.numpy())
    return np.asarray(errs, np.float64), np.asarray(dists, np.float64)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (Pearson's on ranks; float ties broken by order, which the
    continuous values here make rare)."""
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def fixed_depth_error(err: np.ndarray, costs: np.ndarray, budget: float) -> np.ndarray:
    """Per-frame error of fixed depth at mean cost `budget` (fraction of full depth): the two
    exits around it mixed in proportion (the forced-exit curve interpolated). err [N, E]."""
    budget = float(np.clip(budget, costs[0], costs[-1]))
    j = int(np.clip(np.searchsorted(costs, budget), 1, len(costs) - 1))
    w = (budget - costs[j - 1]) / (costs[j] - costs[j - 1])
    return (1 - w) * err[:, j - 1] + w * err[:, j]


def report(err: np.ndarray, dist: np.ndarray, costs, budget: float = 0.4,
           shares=(0.3, 0.46), seed: int = 0) -> dict:
    """The module docstring's figures from exit_errors' arrays; costs: fraction of full depth per
    exit (increasing, the last 1.0)."""
    costs = np.asarray(costs, np.float64)
    n = len(err)
    excess = err[:, 0] - err[:, -1]
    out = {"frames": n, "budget": budget, "cost_per_exit": costs.round(3).tolist(),
           "mean_err_per_exit": err.mean(0).round(4).tolist(),
           "median_dist_per_exit": np.median(dist, 0).round(4).tolist(),
           "spearman_dist1_vs_exit1_excess_err": round(spearman(dist[:, 0], excess), 3),
           "spearman_dist2_vs_exit1_excess_err": round(spearman(dist[:, 1], excess), 3),
           "fixed_depth_err": round(float(fixed_depth_error(err, costs, budget).mean()), 4),
           "shares": {}}
    for q in shares:
        k = int(round(q * n))
        rest = (budget - q * costs[0]) / (1 - q)
        if not costs[0] <= rest <= costs[-1]:
            continue
        rest_err = fixed_depth_error(err, costs, rest)
        row = {"rest_at_fraction": round(float(rest), 3)}
        orders = {"criterion": np.argsort(dist[:, 1], kind="stable"),
                  "random": np.random.default_rng(seed).permutation(n),
                  # the k frames where exit 1 loses least against the rest's depth: optimal for k
                  "oracle": np.argsort(err[:, 0] - rest_err, kind="stable")}
        for name, order in orders.items():
            at1 = np.zeros(n, bool)
            at1[order[:k]] = True
            row[f"{name}_err"] = round(float(np.where(at1, err[:, 0], rest_err).mean()), 4)
        out["shares"][str(q)] = row
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("models/default"))
    ap.add_argument("--demos", type=Path, required=True, help="the demonstrations folder (its val split)")
    ap.add_argument("--tasks", default=",".join(T.TASK_NAMES))
    ap.add_argument("--budget", type=float, default=0.4, help="mean compute, fraction of full depth")
    ap.add_argument("--costs", default=None,
                    help="cost fraction per exit, comma-separated (default: `reflexctl inspect`)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    net, manifest = read_bundle(args.model)
    net.eval()
    if args.costs:
        costs = [float(c) for c in args.costs.split(",")]
    else:
        costs = list(inspect_model(default_binary("REFLEXCTL_BIN", "reflexctl"), args.model).fractions)
    if len(costs) != net.num_exits:
        ap.error(f"{len(costs)} costs for a model with {net.num_exits} exits")
    demos = DS.load_split(args.demos, "val", [t for t in args.tasks.split(",") if t], net.vocabulary,
                          manifest["architecture"]["instruction_tokens"],
                          image_camera=DS.image_camera_for(manifest.get("observation")))
    err, dist = exit_errors(net, demos)
    print(json.dumps({"model": str(args.model), **report(err, dist, costs, args.budget)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
