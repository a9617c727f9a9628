"""Which exit the scheduler chose at each step, against the phase of the task: do the hard moments
(grasp, the start of transport) get the deep exits? Runs a few episodes through a reflexd of our
own (one setting, default `avg-0.4-online`) exactly as the evaluation does (episodes.run_episode),
records per step the exit, the reason, and the task phase, then draws one strip per episode.

    python -m reflex_metaworld.phase_exits --model models/default --episodes 2 \\
        --out docs/results/phase-exits

Phase of a step, from the simulator's state after it (metres; Meta-World's `obs`: hand obs[0:3],
object obs[4:7]) and the scripted expert's gripper command for that state (`action[3] > 0` closes);
"near": the hand within 6 cm of the object, "moved": the object >= 2 cm from where it started:
- approach: not near, and not yet grasped and moved (reaching, with the gripper open or closed);
- grasp: near, the object not moved, the expert closing the gripper (grasping, or pressing down);
- transport: near and the object moved (carried, pushed or pulled);
- release: after a grasp, the object moved, and the expert opens the gripper or the hand leaves.
Writes OUT.jsonl (one record per step) and OUT.png; prints the mean exit per phase.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from reflex_client import ReflexClient

from . import eval_settings as S
from . import render as R
from . import tasks as T
from .episodes import REPLY_TIMEOUT_MS, Daemon, default_binary, image_view, inspect_model, run_episode
from .rollout import Scene

PHASES = ("approach", "grasp", "transport", "release")
NEAR_M, MOVED_M = 0.06, 0.02
DEFAULT_TASKS = "hammer-v3,assembly-v3,drawer-open-v3,button-press-topdown-v3"


class PhaseTracker:
    """The phase of each step of one episode (see the module docstring)."""

    def __init__(self, expert, first_obs: np.ndarray):
        self.expert, self.start, self.grasped = expert, np.asarray(first_obs[4:7]).copy(), False

    def phase(self, obs: np.ndarray) -> str:
        obs = np.asarray(obs)
        closes = float(T.expert_action(self.expert, obs)[3]) > 0
        near = float(np.linalg.norm(obs[0:3] - obs[4:7])) < NEAR_M
        moved = float(np.linalg.norm(obs[4:7] - self.start)) >= MOVED_M
        if not moved:
            if near and closes:
                self.grasped = True
                return "grasp"
            return "approach"
        if near and (closes or not self.grasped):
            return "transport"
        return "release" if self.grasped else "approach"


@dataclasses.dataclass
class TracedEpisode:
    """One episode `closed_loop_episodes` is about to run: `run(step_hook)` runs it (the
    evaluation's run_episode) and returns its result; `scene.env` and `scene.policy` (the task's
    scripted expert) are there for the hook."""
    task: str
    layout: int
    scene: Scene
    setting: S.Setting
    model: S.ModelInfo
    run: Callable[[Callable], dict]


def closed_loop_episodes(model_path: Path, setting_name: str, tasks: list[str], layouts: range,
                         robot: str) -> Iterator[TracedEpisode]:
    """Every (task, layout) through a reflexd of our own at one evaluation setting, exactly as
    the evaluation runs them (episodes.run_episode); the daemon and each task's scene live while
    the caller iterates."""
    reflexd, reflexctl = default_binary("REFLEXD_BIN", "reflexd"), default_binary("REFLEXCTL_BIN", "reflexctl")
    model = inspect_model(reflexctl, model_path)
    setting = S.parse(setting_name, model.exits)
    daemon = Daemon(reflexd, model_path, **setting.daemon_config(model))
    daemon.start()
    try:
        with ReflexClient(daemon.policy, timeout_ms=REPLY_TIMEOUT_MS) as client:
            for task in tasks:
                scene = Scene(task, R.DEFAULT_IMAGE_SIZE, *image_view(model))
                try:
                    for layout in layouts:
                        def run(step_hook, scene=scene, task=task, layout=layout):
                            return run_episode(scene, client, f"{robot}-{task}", layout, setting, model, step_hook=step_hook)
                        yield TracedEpisode(task, layout, scene, setting, model, run)
                finally:
                    scene.close()
    finally:
        daemon.stop()


def run(args) -> tuple[list[dict], int]:
    """(one record per step, the model's number of exits)."""
    records: list[dict] = []
    exits = 0
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for ep in closed_loop_episodes(args.model, args.setting, tasks,
                                   range(args.first_layout, args.first_layout + args.episodes), "phase"):
        exits = ep.model.exits
        steps: list[dict] = []
        tracker: list[PhaseTracker] = []

        def hook(t, _image, _action, info, env_info, steps=steps, tracker=tracker, scene=ep.scene):
            obs = scene.env._get_obs()
            if not tracker:     # the object's start: read after the first step, before it can move 1 cm
                tracker.append(PhaseTracker(scene.policy, obs))
            steps.append({"t": t, "exit": int(info["exit"]), "reason": info["reason"],
                          "phase": tracker[0].phase(obs),
                          "success": bool(env_info.get("success"))})

        result = ep.run(hook)
        for s in steps:
            records.append({"task": ep.task, "episode": ep.layout, "setting": ep.setting.name,
                            "episode_success": result["success"], **s})
        print(f"{ep.task} layout {ep.layout}: success {result['success']}, {result['steps']} steps, "
              f"mean exit {np.mean([s['exit'] for s in steps]):.2f}", flush=True)
    return records, exits


def summary(records: list[dict]) -> dict:
    """{phase: {"steps": n, "mean_exit": m}} over every recorded step."""
    by = defaultdict(list)
    for r in records:
        by[r["phase"]].append(r["exit"])
    return {p: {"steps": len(by[p]), "mean_exit": round(float(np.mean(by[p])), 3)} for p in PHASES if by[p]}


def plot(records: list[dict], exits: int, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    colours = {"approach": "#dbe9f6", "grasp": "#f9d5a7", "transport": "#cfe8cf", "release": "#e8d4ef"}
    episodes = sorted({(r["task"], r["episode"]) for r in records})
    fig, axes = plt.subplots(len(episodes), 1, figsize=(10, 1.5 * len(episodes) + 0.8), squeeze=False)
    for ax, (task, ep) in zip(axes[:, 0], episodes):
        steps = [r for r in records if r["task"] == task and r["episode"] == ep]
        for r in steps:
            ax.axvspan(r["t"] - 0.5, r["t"] + 0.5, color=colours[r["phase"]], lw=0)
        ax.step([r["t"] for r in steps], [r["exit"] for r in steps], where="mid", color="black", lw=1)
        ax.set_ylim(0.5, exits + 0.5)
        ax.set_yticks(range(1, exits + 1))
        ax.set_ylabel("exit")
        ok = "success" if steps and steps[0]["episode_success"] else "failure"
        ax.set_title(f"{task}, layout {ep} ({ok})", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("step")
    fig.legend(handles=[Patch(color=c, label=p) for p, c in colours.items()], loc="upper right", ncol=4, fontsize=8)
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("models/default"))
    ap.add_argument("--tasks", default=DEFAULT_TASKS)
    ap.add_argument("--episodes", type=int, default=2, help="per task")
    ap.add_argument("--first-layout", type=int, default=0, help="first evaluation layout (MT1(task, 200))")
    ap.add_argument("--setting", default="avg-0.4-online", help="an evaluation setting (eval_settings)")
    ap.add_argument("--out", type=Path, default=Path("docs/results/phase-exits"), help="OUT.jsonl and OUT.png")
    args = ap.parse_args(argv)
    records, exits = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out.with_suffix(".jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    table = summary(records)
    plot(records, exits, args.out.with_suffix(".png"),
         f"{args.model} · {args.setting} · exit chosen per step (line) and task phase (colour)")
    print(json.dumps({"setting": args.setting, "model": str(args.model), "mean_exit_by_phase": table}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
