"""Adds a second camera to recorded demonstrations by replaying them: no new expert runs.

    nice -n 10 python -m reflex_metaworld.add_camera --demos ~/.cache/reflex/demos-dart \\
        --splits train,val,dagger1,dagger2 --camera gripperPOV --image-size 64

Every episode of `<task>[-<split>].npz` is replayed from its layout's reset (`episode_seed`,
`episode_layout_index`) with the actions that were executed then (`executed`), and camera
`--camera` is rendered before each step, exactly where the first camera's frame was taken.
MuJoCo is deterministic on one machine, so the replay visits the recorded states: the largest
difference between the replayed and the recorded 39-value observation, less the difference it
already had at the reset, is checked against `--tolerance` (metres) and recorded; an episode over
it is an error (the file is not written). The reset's own difference is recorded, not checked:
door-open-v3 reports its handle 5 cm away from the recording in obs[4] in every episode while
every other value (the hand, the gripper, the goal) matches to 3e-8 through the whole episode,
measured, so the physics is the same and only that reported position differs.

Writes `<task>[-<split>].<camera>.npz` beside the demonstrations: images uint8 [N, S, S, 3]
(frame for frame the source file's order), camera, image_size, max_obs_error. Resumable: a file
that exists is skipped unless --force. The training loads it with `--cameras image,<camera>`.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import dataset as DS
from . import render as R
from . import tasks as T

DEFAULT_CAMERA = "gripperPOV"   # a camera on the gripper, looking down past the fingers
DEFAULT_SIZE = 64


def replay_file(demo_file: Path, task: str, camera: str, image_size: int, tolerance: float,
                env=None, fovy: float | None = None) -> dict:
    """Replays every episode of one demonstration file and renders `camera` at each frame.

    Returns {"images": uint8 [N, S, S, 3], "max_obs_error": float (metres, after the reset's
    offset), "max_reset_offset": float (metres)}. Raises ValueError
    when the file lacks `executed`/`obs` (format 1 demos) or a replay drifts beyond tolerance."""
    with np.load(demo_file) as z:
        if "executed" not in z.files or "obs" not in z.files:
            raise ValueError(f"{demo_file}: no `executed`/`obs` arrays (regenerate with demos.py format 2)")
        starts, lengths = z["episode_start"], z["episode_length"]
        seeds, layout_index = z["episode_seed"], z["episode_layout_index"]
        executed, obs_rec, steps = z["executed"], z["obs"], z["step"]
    env = env or T.make_env(task)
    cam = R.Camera(env, image_size=image_size, camera=camera, fovy=fovy)
    images = np.zeros((len(executed), image_size, image_size, 3), np.uint8)
    worst = worst_offset = 0.0
    try:
        for e in range(len(starts)):
            s, n = int(starts[e]), int(lengths[e])
            if steps[s] != 0 or not np.array_equal(steps[s:s + n], np.arange(n)):
                raise ValueError(f"{demo_file}: episode {e} is not recorded from its reset step by step")
            T.set_layout(env, T.layouts(task, int(seeds[e]))[int(layout_index[e])])
            obs, _ = env.reset()
            offset = np.asarray(obs, np.float32) - obs_rec[s]
            worst_offset = max(worst_offset, float(np.abs(offset).max()))
            for t in range(n):
                err = float(np.abs(np.asarray(obs, np.float32) - obs_rec[s + t] - offset).max())
                worst = max(worst, err)
                if err > tolerance:
                    raise ValueError(f"{demo_file}: episode {e} step {t}: the replay is {err:.2e} m "
                                     f"away from the recording (tolerance {tolerance})")
                images[s + t] = cam.render()
                obs, *_ = env.step(executed[s + t])
    finally:
        cam.close()
    return {"images": images, "max_obs_error": worst, "max_reset_offset": worst_offset}


def write_camera_file(out: Path, images: np.ndarray, camera: str, fovy: float | None,
                      max_obs_error: float = 0.0, max_reset_offset: float = 0.0) -> None:
    """Writes a further camera's frames for a demonstration file (`dataset.camera_path`) in the
    format `dataset.camera_frames` reads, atomically (a temporary file, then a rename)."""
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, images=images, camera=camera, fovy=np.nan if fovy is None else fovy,
                        image_size=images.shape[1], max_obs_error=max_obs_error,
                        max_reset_offset=max_reset_offset)
    os.replace(tmp, out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demos", type=Path, default=Path(os.path.expanduser("~/.cache/reflex/demos")))
    ap.add_argument("--tasks", default=",".join(T.TASK_NAMES))
    ap.add_argument("--splits", default="train,val", help="comma-separated: train, val, dagger1, …")
    ap.add_argument("--camera", default=DEFAULT_CAMERA,
                    help="CAMERA or CAMERA@FOVY (degrees: e.g. corner@30, the corner camera zoomed 1.55x); "
                         "the file suffix is the same text")
    ap.add_argument("--image-size", type=int, default=DEFAULT_SIZE)
    ap.add_argument("--tolerance", type=float, default=1e-4, help="metres")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    try:
        camera, fovy = R.parse_view(args.camera)
    except ValueError as e:
        ap.error(str(e))
    for task in [t for t in args.tasks.split(",") if t]:
        env = None
        for split in [s for s in args.splits.split(",") if s]:
            src = DS.demo_path(args.demos, task, split)
            out = DS.camera_path(src, args.camera)
            if not src.exists():
                print(f"[add_camera] {src}: missing, skipped", flush=True)
                continue
            if out.exists() and not args.force:
                continue
            env = env or T.make_env(task)
            t0 = time.time()
            r = replay_file(src, task, camera, args.image_size, args.tolerance, env, fovy)
            write_camera_file(out, r["images"], camera, fovy, r["max_obs_error"], r["max_reset_offset"])
            print(f"[add_camera {time.strftime('%H:%M:%S')}] {out.name}: {len(r['images'])} frames, "
                  f"max obs error {r['max_obs_error']:.1e} m (reset offset {r['max_reset_offset']:.1e} m), "
                  f"{time.time() - t0:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
