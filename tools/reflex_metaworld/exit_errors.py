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

    python -m reflex_metaworld.exit_errors --model models/default --closed-loop 8 [--commit 1]

With `--closed-loop N` the frames are the learner's own instead: the bundle drives the simulator
on N layouts per task of the last training seed (`tasks.TRAIN_SEEDS[-1]`, a reserve: the default's
demonstrations used seeds 0-4; never a validation or evaluation layout), acting with and committing the read of exit
`--commit` (1: the states forced exit 1 visits; E: full depth's) while every exit's action is read
at every visited state and labelled by the scripted expert. Same figures, plus the success of the
episodes and the mean error per exit per task. Expert labels on the expert's own states (the
validation split) cannot show compounding error; on exit 1's own states they show where it starts.
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
from . import render as R
from . import rollout as RO
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
                err, dist = step_reads(r, demos.actions[t, CRITERION_DIMS].numpy())
                errs.append(err)
                dists.append(dist)
    return np.asarray(errs, np.float64), np.asarray(dists, np.float64)


def step_reads(r, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step's row of `exit_errors`: every exit's error against `label` (the expert's action
    over the criterion dims: RMS over x, y, z) and the criterion `dist` at every exit, each [E]."""
    a = r.actions[1:, CRITERION_DIMS].numpy()
    return np.sqrt(((a - label) ** 2).mean(-1)), r.distances.numpy()


def closed_loop_exit_errors(net, task: str, layouts, commit: int, view=(R.DEFAULT_CAMERA, None),
                            max_steps: int | None = None) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    """The learner in the loop: on each layout of `layouts` (Meta-World task instances) from its
    reset, act with exit `commit`'s clipped action and commit its head state, reading every exit
    at every step; until the first success or the task's step limit (`max_steps` overrides it).
    view: (camera, fovy) the bundle sees (`rollout.load_policy`). Returns (err [N, E], dist [N, E]
    as `exit_errors`, labels from `tasks.expert_action` on the visited state; one success per
    layout)."""
    scene = RO.Scene(task, camera=view[0], fovy=view[1])
    ids, unknown = net.tokenize(scene.spec.instruction)
    if unknown:
        raise ValueError(f"{task}: instruction words {unknown} are not in the model's vocabulary")
    if not 1 <= commit <= net.num_exits:
        raise ValueError(f"commit exit {commit} outside 1 … {net.num_exits}")
    limit = scene.spec.max_steps if max_steps is None else max_steps
    errs, dists, successes = [], [], []
    try:
        with torch.no_grad():
            for layout in layouts:
                T.set_layout(scene.env, layout)
                obs, _ = scene.env.reset()
                rec, success = None, False
                for _ in range(limit):
                    r = net.step({"image": torch.from_numpy(scene.camera.render()),
                                  "state": torch.from_numpy(T.state_of(obs)), "word_ids": ids}, rec)
                    err, dist = step_reads(r, T.expert_action(scene.policy, obs)[CRITERION_DIMS])
                    errs.append(err)
                    dists.append(dist)
                    rec = r.states[commit]
                    obs, _r, _term, trunc, info = scene.env.step(r.actions[commit].numpy().astype(np.float32))
                    if info.get("success"):
                        success = True
                        break
                    if trunc:
                        break
                successes.append(success)
    finally:
        scene.close()
    return np.asarray(errs, np.float64), np.asarray(dists, np.float64), successes


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
                  "dist1": np.argsort(dist[:, 0], kind="stable"),    # what exit 1's threshold reads
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
    ap.add_argument("--demos", type=Path, default=None, help="the demonstrations folder (its val split)")
    ap.add_argument("--closed-loop", type=int, default=0, metavar="N",
                    help="the learner's own states instead: N layouts per task of the reserve training seed")
    ap.add_argument("--commit", type=int, default=None,
                    help="with --closed-loop: the exit whose action is executed and committed [1]")
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
    if args.closed_loop:
        view = R.image_view(manifest.get("observation"))
        commit = args.commit or 1
        errs, dists, per_task = [], [], {}
        for task in [t for t in args.tasks.split(",") if t]:
            layouts = T.layouts(task, T.TRAIN_SEEDS[-1])[: args.closed_loop]
            err, dist, ok = closed_loop_exit_errors(net, task, layouts, commit, view)
            errs.append(err)
            dists.append(dist)
            per_task[task] = {"success": sum(ok), "episodes": len(ok), "frames": len(err),
                              "mean_err_per_exit": err.mean(0).round(4).tolist()}
            print(f"[exit_errors] {task}: {sum(ok)}/{len(ok)} at commit exit {commit}, {len(err)} frames",
                  file=sys.stderr)
        out = report(np.concatenate(errs), np.concatenate(dists), costs, args.budget)
        print(json.dumps({"model": str(args.model), "closed_loop": {"seed": T.TRAIN_SEEDS[-1],
                          "layouts": args.closed_loop, "commit_exit": commit, "per_task": per_task},
                          **out}, indent=1))
        return 0
    if args.demos is None:
        ap.error("--demos is needed (the validation split), unless --closed-loop")
    demos = DS.load_split(args.demos, "val", [t for t in args.tasks.split(",") if t], net.vocabulary,
                          manifest["architecture"]["instruction_tokens"],
                          image_camera=DS.image_camera_for(manifest.get("observation")))
    err, dist = exit_errors(net, demos)
    print(json.dumps({"model": str(args.model), **report(err, dist, costs, args.budget)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
