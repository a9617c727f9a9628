"""DAgger round: roll out the learner, label every visited state with the scripted expert's action
(the experts act from the full simulator observation, so any state can be labelled), and write
the frames as a demonstrations file that training aggregates (`train --aggregate daggerN`).

    python -m reflex_metaworld.dagger --model ~/.cache/reflex/train-dart/ckpt.pt \\
        --demos ~/.cache/reflex/demos-dart --round 1 --episodes 10
    python -m reflex_metaworld.train ... --init-from ~/.cache/reflex/train-dart/ckpt.pt \\
        --aggregate dagger1

Writes `<task>-dagger<round>.npz` into --demos, in the format of demos.py (per frame: images,
states, actions = the EXPERT's label for the visited state, executed = the learner's action that
was sent, obs = the full 39-value observation; per episode: start, length, first success, seed,
layout index, layout), whether or not the episode succeeded. `images` are always the recording's
own view (the default camera, as in the demonstrations); a learner that sees another view (a
bundle or checkpoint of `train --image-camera corner@30`) acts on that view, rendered at the same
state, and its frames go beside the round as `<task>-dagger<round>.<view>.npz` (the file
`add_camera --camera <view>` would write by replay), so training with `--image-camera <view>`
aggregates the round directly. Layouts: training seeds only
(tasks.TRAIN_SEEDS; default the second, so they differ from most demonstration layouts), never the
validation or evaluation seed. The learner runs in process (`rollout.run_episode`) with a
uniformly random exit per step (the mixed-depth history of the scheduler) unless --exit says
otherwise; --beta executes the expert's action instead with that probability per step.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import add_camera as AC
from . import dataset as DS
from . import demos as D
from . import render as R
from . import rollout as RO
from . import tasks as T


def log(msg: str) -> None:
    print(f"[dagger {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def collect(net, task: str, episodes: int, seed: int, first_layout: int, exit, beta: float,
            rng: np.random.Generator, steps_after_success: int = T.STEPS_AFTER_SUCCESS,
            max_steps: int | None = None,
            view: tuple[str, float | None] = (R.DEFAULT_CAMERA, None)) -> tuple[dict, dict, np.ndarray | None]:
    """Rolls out the learner on `episodes` layouts of MT1(task, seed) from `first_layout` and
    returns (arrays in the demos format, summary, the learner's frames uint8 [N, S, S, 3] when its
    `view` (camera, fovy) is not the recording's default view, else None)."""
    if seed not in T.TRAIN_SEEDS:
        raise ValueError(f"DAgger layouts must come from a training seed {T.TRAIN_SEEDS}, not {seed}")
    scene = RO.Scene(task, camera=view[0], fovy=view[1])
    own_view = view != (R.DEFAULT_CAMERA, None)
    recording = R.Camera(scene.env) if own_view else None
    layouts = T.layouts(task, seed)
    eps, t0 = [], time.time()
    try:
        for i in range(first_layout, first_layout + episodes):
            lay = layouts[i % len(layouts)]
            r = RO.run_episode(scene, net, lay, exit, record=True, beta=beta, rng=rng,
                               steps_after_success=steps_after_success, max_steps=max_steps,
                               record_camera=recording)
            T.set_layout(scene.env, lay)
            o, _ = scene.env.reset()
            eps.append((i % len(layouts), T.layout_of(o), r))
    finally:
        if recording is not None:
            recording.close()
        scene.close()
    lengths = np.array([len(r.labels) for _, _, r in eps], np.int32)
    spec = T.spec(task)
    summary = {"task": task, "round_seed": seed, "episodes": len(eps),
               "successes": int(sum(r.success for _, _, r in eps)), "frames": int(lengths.sum()),
               "seconds": round(time.time() - t0, 1), "exit": exit, "beta": beta,
               "learner_view": R.view_name(*view)}
    meta = {"format_version": D.FORMAT_VERSION, "task": task, "instruction": spec.instruction,
            "task_index": T.task_index(task) if task in T.TASK_NAMES else -1, "split": "dagger",
            "episodes": len(eps), "frames": int(lengths.sum()), "max_steps": spec.max_steps,
            "labels": "the scripted expert's action for the state the learner visited (clipped)",
            "learner_success": summary["successes"], "exit": exit, "beta": beta,
            "learner_view": R.view_name(*view),
            "layouts": [[seed, i] for i, _, _ in eps], "render": R.render_settings(),
            "state_slice": list(T.STATE_SLICE), "versions": R.simulator_versions()}
    arrays = {
        "images": np.stack([im for _, _, r in eps
                            for im in (r.recorded_images if own_view else r.images)]).astype(np.uint8),
        "states": np.stack([s for _, _, r in eps for s in r.states]).astype(np.float32),
        "actions": np.stack([a for _, _, r in eps for a in r.labels]).astype(np.float32),
        "executed": np.stack([a for _, _, r in eps for a in r.executed]).astype(np.float32),
        "obs": np.stack([o for _, _, r in eps for o in r.obs]).astype(np.float32),
        "episode": np.concatenate([np.full(n, k, np.int32) for k, n in enumerate(lengths)]),
        "step": np.concatenate([np.arange(n, dtype=np.int32) for n in lengths]),
        "success": np.concatenate([np.asarray(r.success_flags, bool) for _, _, r in eps]),
        "episode_start": np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
        "episode_length": lengths,
        "episode_first_success": np.array([-1 if r.first_success is None else r.first_success
                                           for _, _, r in eps], np.int32),
        "episode_seed": np.full(len(eps), seed, np.int32),
        "episode_layout_index": np.array([i for i, _, _ in eps], np.int32),
        "episode_layout": np.stack([lay for _, lay, _ in eps]).astype(np.float64),
        "task": np.array(task), "task_index": np.array(meta["task_index"], np.int32),
        "instruction": np.array(spec.instruction), "meta_json": np.array(json.dumps(meta)),
    }
    learner_frames = (np.stack([im for _, _, r in eps for im in r.images]).astype(np.uint8)
                      if own_view else None)
    return arrays, summary, learner_frames


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="bundle directory or training checkpoint")
    ap.add_argument("--demos", type=Path, required=True, help="directory the dagger files go to")
    ap.add_argument("--round", type=int, required=True)
    ap.add_argument("--tasks", default=",".join(T.TASK_NAMES))
    ap.add_argument("--episodes", type=int, default=10, help="learner episodes per task")
    ap.add_argument("--seed", type=int, default=T.TRAIN_SEEDS[1], help="MT1 seed of the layouts (a training seed)")
    ap.add_argument("--first-layout", type=int, default=None,
                    help="first layout index (default: 10 x (round - 1), so rounds use new layouts)")
    ap.add_argument("--exit", default="random", help="'random' (per step) or a forced exit 1 … E")
    ap.add_argument("--beta", type=float, default=0.0)
    ap.add_argument("--max-steps", type=int, default=None, help="default: the task's step limit")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    net, description, view = RO.load_policy(args.model)
    exit = args.exit if args.exit == "random" else int(args.exit)
    first = 10 * (args.round - 1) if args.first_layout is None else args.first_layout
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    args.demos.mkdir(parents=True, exist_ok=True)
    log(f"round {args.round}: learner {description}; {len(tasks)} tasks x {args.episodes} episodes on "
        f"MT1(task, {args.seed}) layouts {first}…; exit {exit}, beta {args.beta}; the learner sees "
        f"{R.view_name(*view)}")
    for k, task in enumerate(tasks):
        path = args.demos / D.file_name(task, f"dagger{args.round}")
        if path.exists() and not args.force:
            log(f"{task}: {path.name} exists, skipped")
            continue
        rng = np.random.default_rng([args.round, k, args.seed])
        arrays, summary, learner_frames = collect(net, task, args.episodes, args.seed, first, exit,
                                                  args.beta, rng, max_steps=args.max_steps, view=view)
        if learner_frames is not None:   # the learner's view first: a round file is never without it
            AC.write_camera_file(DS.camera_path(path, R.view_name(*view)), learner_frames, *view)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
        log(f"{task}: learner succeeded {summary['successes']}/{summary['episodes']}, "
            f"{summary['frames']} frames labelled, {summary['seconds']:.0f}s -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
