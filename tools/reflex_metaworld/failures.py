"""Why do the episodes that fail, fail? Runs held-out layouts of a few tasks through a reflexd of our
own at one setting (default full depth), exactly as the evaluation does (episodes.run_episode),
follows the object in the simulator's state, and classes each failed episode by how far it got;
the scripted expert is run on the same layouts beside it (does the layout defeat the expert too?).

    python -m reflex_metaworld.failures --model models/default --episodes 20 \\
        --tasks peg-insert-side-v3,assembly-v3 --out docs/results/failures

Per episode, from Meta-World's observation after each step (metres: hand obs[0:3], object obs[4:7];
the thresholds are phase_exits' NEAR_M and MOVED_M) and the task's own step info (`obj_to_target`:
the distance its success is judged on, below a task threshold, e.g. peg-insert-side's peg head to
the hole, 0.07; Meta-World's assembly reports 0 at every step, so there it says nothing;
`grasp_success`: the task's own grasp test):
- `no_reach`: the hand never came within 6 cm of the object;
- `no_move`: it reached the object but never moved it 2 cm from where it started (no grasp, or a
  grasp that slipped at once);
- `moved_not_placed`: the object moved but the task's success never came; `min_to_target` (the
  closest `obj_to_target` came) and `final_to_target` say by how much it missed.
Writes OUT.jsonl (one record per episode) and prints per task the success, the failure classes,
the task's grasp test, the expert's success on the same layouts, and the median `min_to_target`
of the failures.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from .demos import run_episode as run_expert
from .phase_exits import MOVED_M, NEAR_M, closed_loop_episodes
from .rollout import Scene

DEFAULT_TASKS = "peg-insert-side-v3,assembly-v3,bin-picking-v3,window-open-v3"
CLASSES = ("success", "no_reach", "no_move", "moved_not_placed")


class ObjectTrack:
    """How far one episode got, updated with each step's observation and step info (see the
    module docstring)."""

    def __init__(self, first_obs: np.ndarray):
        self.start = np.asarray(first_obs)[4:7].copy()
        self.min_hand_m, self.max_moved_m = float("inf"), 0.0
        self.min_to_target = self.final_to_target = float("inf")
        self.grasped = False

    def update(self, obs: np.ndarray, info: dict) -> None:
        obs = np.asarray(obs)
        self.min_hand_m = min(self.min_hand_m, float(np.linalg.norm(obs[0:3] - obs[4:7])))
        self.max_moved_m = max(self.max_moved_m, float(np.linalg.norm(obs[4:7] - self.start)))
        if "obj_to_target" in info:
            self.final_to_target = float(info["obj_to_target"])
            self.min_to_target = min(self.min_to_target, self.final_to_target)
        self.grasped = self.grasped or bool(info.get("grasp_success", False))

    def outcome(self, success: bool) -> str:
        if success:
            return "success"
        if self.min_hand_m >= NEAR_M:
            return "no_reach"
        return "no_move" if self.max_moved_m < MOVED_M else "moved_not_placed"


def expert_succeeds(scene: Scene, layout: int) -> bool:
    """The scripted expert (no noise) on evaluation layout `layout`, for the task's step limit:
    `demos.run_episode` without rendering, stopped at the first success."""
    episode = run_expert(scene.env, scene.policy, scene.layouts[scene.layout_index(layout)],
                         scene.spec.max_steps, steps_after_success=0)
    return episode.first_success is not None


def run(args) -> list[dict]:
    """One record per episode: task, layout, outcome, the track's figures, expert_success."""
    records: list[dict] = []
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for ep in closed_loop_episodes(args.model, args.setting, tasks,
                                   range(args.first_layout, args.first_layout + args.episodes), "failures"):
        track: list[ObjectTrack] = []

        def hook(_t, _image, _action, _info, env_info, track=track, scene=ep.scene):
            obs = scene.env._get_obs()
            if not track:       # the object's start: read after the first step, as phase_exits does
                track.append(ObjectTrack(obs))
            track[0].update(obs, env_info)

        result = ep.run(hook)
        tr = track[0]
        rec = {"task": ep.task, "layout": ep.layout, "setting": ep.setting.name, "steps": result["steps"],
               "outcome": tr.outcome(result["success"]), "min_hand_m": round(tr.min_hand_m, 4),
               "max_moved_m": round(tr.max_moved_m, 4), "grasped": tr.grasped,
               "min_to_target": round(tr.min_to_target, 4), "final_to_target": round(tr.final_to_target, 4),
               "expert_success": expert_succeeds(ep.scene, ep.layout)}
        records.append(rec)
        print(json.dumps(rec), flush=True)
    return records


def summary(records: list[dict]) -> dict:
    """Per task: episodes, the count per outcome class, episodes where the task's grasp test ever
    passed, expert successes on the same layouts, failures on layouts the expert solves, and the
    median min_to_target of the failures."""
    out = {}
    for task in dict.fromkeys(r["task"] for r in records):
        rs = [r for r in records if r["task"] == task]
        fails = [r for r in rs if r["outcome"] != "success"]
        counts = Counter(r["outcome"] for r in rs)
        out[task] = {"episodes": len(rs), **{c: counts.get(c, 0) for c in CLASSES},
                     "grasped": sum(r["grasped"] for r in rs),
                     "expert_success": sum(r["expert_success"] for r in rs),
                     "failures_where_expert_succeeds": sum(r["expert_success"] for r in fails),
                     "median_min_to_target_of_failures": round(float(np.median([r["min_to_target"] for r in fails])), 4)
                     if fails else None}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("models/default"))
    ap.add_argument("--tasks", default=DEFAULT_TASKS)
    ap.add_argument("--episodes", type=int, default=20, help="per task")
    ap.add_argument("--first-layout", type=int, default=0, help="first evaluation layout (MT1(task, 200))")
    ap.add_argument("--setting", default="full", help="an evaluation setting (eval_settings)")
    ap.add_argument("--out", type=Path, default=Path("docs/results/failures"), help="OUT.jsonl")
    args = ap.parse_args(argv)
    records = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out.with_suffix(".jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    print(json.dumps({"setting": args.setting, "model": str(args.model), "by_task": summary(records)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
