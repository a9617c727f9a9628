"""Writes a replay trace for `reflexctl bench scheduler`: recorded observations of the held-out
validation demonstrations (never used for training), as plain .npy files the Swift benchmark reads.

    ~/.cache/reflex/venv/bin/python -m reflex_metaworld.make_trace [--model BUNDLE] [--episodes 2] [--out DIR]

With --model the frames are those the bundle sees (its `observation`: camera and field of view,
e.g. `corner@30`, read from `<task>-val.corner@30.npz` made by `add_camera`), and a trace whose
frames do not have the bundle's image shape is refused with the command that would make them.

Output (default ~/.cache/reflex/trace): images.npy uint8 [N,H,W,3], states.npy float32 [N,4],
episodes.npy float32 [N] (episode number of each frame: the benchmark resets the recurrent
state where it changes), tasks.npy float32 [N] (index into instructions.json).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .dataset import camera_frames, image_camera_for
from .tasks import TASKS

DEMOS = Path.home() / ".cache/reflex/demos"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2, help="validation episodes per task")
    parser.add_argument("--demos", type=Path, default=DEMOS)
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache/reflex/trace")
    parser.add_argument("--image-camera", default="",
                        help="CAMERA@FOVY (e.g. corner@30): the images from the re-rendered "
                             "`<task>-val.CAMERA@FOVY.npz` (reflex_metaworld.add_camera, at the model's image size: "
                             "--image-size 96 for the default), for a model trained on them")
    parser.add_argument("--model", type=Path, default=None,
                        help="a bundle: take --image-camera from its observation and check the frame shape")
    parser.add_argument("--tasks", default=",".join(t.name for t in TASKS), help="comma-separated [all 12]")
    args = parser.parse_args(argv)
    chosen = {t for t in args.tasks.split(",") if t}
    unknown = chosen - {t.name for t in TASKS}
    if unknown:
        parser.error(f"unknown tasks {sorted(unknown)}")
    missing = [t.name for t in TASKS if t.name in chosen and not (args.demos / f"{t.name}-val.npz").exists()]
    if missing:
        raise SystemExit(f"make_trace: no validation demonstrations of {', '.join(missing)} in {args.demos}: make them "
                         f"with `python -m reflex_metaworld.demos --episodes 1 --val-episodes {args.episodes} "
                         f"--out {args.demos}` (about a minute), or give --demos")
    want_shape = None
    if args.model is not None:
        manifest = json.loads((args.model / "manifest.json").read_text())
        if not args.image_camera:
            args.image_camera = image_camera_for(manifest.get("observation")) or ""
        cameras = [i for i in manifest["inputs"] if i["name"] != "state"]
        if len(cameras) != 1:
            parser.error(f"{args.model} has {len(cameras)} cameras; the trace holds one")
        want_shape = tuple(cameras[0]["shape"])
    images, states, episodes, tasks = [], [], [], []
    episode = 0
    for index, task in enumerate(TASKS):
        if task.name not in chosen:
            continue
        path = args.demos / f"{task.name}-val.npz"
        data = np.load(path)
        frames = data["images"] if not args.image_camera else camera_frames(path, args.image_camera, len(data["states"]))
        for e in range(min(args.episodes, len(data["episode_start"]))):
            start, length = int(data["episode_start"][e]), int(data["episode_length"][e])
            images.append(frames[start:start + length])
            states.append(data["states"][start:start + length])
            episodes.append(np.full(length, episode, np.float32))
            tasks.append(np.full(length, index, np.float32))
            episode += 1
    shape = tuple(images[0].shape[1:])
    if want_shape is not None and shape != want_shape:
        raise SystemExit(f"make_trace: the frames are {list(shape)}, {args.model} takes {list(want_shape)}: render "
                         f"them at its size, e.g. `python -m reflex_metaworld.add_camera --demos {args.demos} "
                         f"--splits val --camera {args.image_camera or 'corner'} --image-size {want_shape[0]}`")
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "images.npy", np.ascontiguousarray(np.concatenate(images)))
    np.save(args.out / "states.npy", np.concatenate(states).astype(np.float32))
    np.save(args.out / "episodes.npy", np.concatenate(episodes))
    np.save(args.out / "tasks.npy", np.concatenate(tasks))
    (args.out / "instructions.json").write_text(json.dumps([t.instruction for t in TASKS]))
    print(f"{sum(len(s) for s in states)} frames of {episode} episodes written to {args.out}")


if __name__ == "__main__":
    main()
