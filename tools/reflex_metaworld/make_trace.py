"""Writes a replay trace for `reflexctl bench scheduler`: recorded observations of the held-out
validation demonstrations (never used for training), as plain .npy files the Swift benchmark reads.

    ~/.cache/reflex/venv/bin/python -m reflex_metaworld.make_trace [--episodes 2] [--out DIR]

Output (default ~/.cache/reflex/trace): images.npy uint8 [N,H,W,3], states.npy float32 [N,4],
episodes.npy float32 [N] (episode number of each frame: the benchmark resets the recurrent
state where it changes), tasks.npy float32 [N] (index into instructions.json).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .dataset import camera_frames
from .tasks import TASKS

DEMOS = Path.home() / ".cache/reflex/demos"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2, help="validation episodes per task")
    parser.add_argument("--demos", type=Path, default=DEMOS)
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache/reflex/trace")
    parser.add_argument("--image-camera", default="",
                        help="CAMERA@FOVY (e.g. corner@30): the images from the re-rendered "
                             "`<task>-val.CAMERA@FOVY.npz` (reflex_metaworld.add_camera), for a model trained on them")
    args = parser.parse_args(argv)
    images, states, episodes, tasks = [], [], [], []
    episode = 0
    for index, task in enumerate(TASKS):
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
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "images.npy", np.ascontiguousarray(np.concatenate(images)))
    np.save(args.out / "states.npy", np.concatenate(states).astype(np.float32))
    np.save(args.out / "episodes.npy", np.concatenate(episodes))
    np.save(args.out / "tasks.npy", np.concatenate(tasks))
    (args.out / "instructions.json").write_text(json.dumps([t.instruction for t in TASKS]))
    print(f"{sum(len(s) for s in states)} frames of {episode} episodes written to {args.out}")


if __name__ == "__main__":
    main()
