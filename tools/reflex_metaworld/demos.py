"""Generates the default model's demonstrations: Meta-World scripted experts, rendered camera images.

    nice -n 10 ~/.cache/reflex/venv/bin/python -m reflex_metaworld.demos            # all 12 tasks
    python -m reflex_metaworld.demos --tasks drawer-open-v3 --episodes 5 --out /tmp/d
    python -m reflex_metaworld.demos --check-experts 20      # expert success rates, no rendering

Run from the repository root. Writes into --out (default ~/.cache/reflex/demos, outside git):
  <task>.npz        training episodes (layouts from tasks.TRAIN_SEEDS), successful ones only
  <task>-val.npz    held-out validation episodes (layouts from tasks.VAL_SEED): calibration data
  manifest.json     settings, seeds, expert success rates, counts, render time
  layout_distances.json   each evaluation layout (tasks.EVAL_SEED)'s distance to the nearest
                    training layout (and the same for the validation layouts)

Each .npz holds, per frame: images uint8 [N,H,W,3] (upright), states float32 [N,4] (obs[0:4]),
actions float32 [N,4] (the expert's, clipped to [-1,1]), episode int32 [N] (index in the file),
step int32 [N], success bool [N] (the simulator's success flag for that observation); per episode:
episode_start, episode_length, episode_first_success (first step whose observation has success),
episode_seed, episode_layout_index (index within MT1(task, seed)), episode_layout [E,9] (object
and goal positions, metres; for the layout report only, never a model input), episode_rand_vec;
and task, task_index, instruction, meta_json.

An episode runs the expert from the layout's reset for at most the task's max_steps steps and
stops STEPS_AFTER_SUCCESS steps after the first success. Resumable: a task whose file exists is
skipped unless --force.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import add_camera as AC
from . import dataset as DS
from . import render as R
from . import tasks as T

DEFAULT_OUT = Path(os.path.expanduser("~/.cache/reflex/demos"))
FORMAT_VERSION = 2   # 2: per-frame `obs` [N, 39] and `executed` [N, 4]; DART noise in meta["noise"]
NOISE_DIMS = (0, 1, 2)   # DART noise on the hand's motion (dx, dy, dz), not on the gripper


def noise_rng(name: str, split: str, seed: int) -> np.random.Generator:
    """The noise stream of one task and split: deterministic, independent of the other tasks."""
    return np.random.default_rng([seed, T.TASK_NAMES.index(name) if name in T.TASK_NAMES else 99,
                                  {"train": 0, "val": 1}.get(split, 2)])


def log(msg: str) -> None:
    print(f"[demos {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Episode:
    __slots__ = ("images", "states", "actions", "steps", "success", "first_success", "layout",
                 "rand_vec", "seed", "layout_index", "sim_s", "render_s", "frames", "obs", "executed",
                 "extra_images")

    def __init__(self):
        self.images, self.states, self.actions, self.steps, self.success = [], [], [], [], []
        self.extra_images: list[list[np.ndarray]] = []
        self.obs, self.executed = [], []
        self.first_success = None
        self.sim_s = 0.0
        self.render_s = 0.0
        self.frames = 0


def run_episode(env, policy, layout, max_steps: int, camera=None,
                steps_after_success: int = T.STEPS_AFTER_SUCCESS, noise_std: float = 0.0,
                noise_dims: tuple = NOISE_DIMS, rng: np.random.Generator | None = None,
                extra_cameras: tuple = ()) -> Episode:
    """Runs the expert on one layout. With `camera` None nothing is rendered (expert checks).
    extra_cameras: further `render.Camera`s of the same env rendered at every recorded frame,
    right after `camera` (`ep.extra_images[k]` frame for frame; the frames `add_camera` would
    make by replay, without the replay).

    DART (Laskey et al. 2017): with noise_std > 0 the action EXECUTED is the expert's action plus
    Gaussian noise (std noise_std on `noise_dims`, then clipped), so the episode visits states
    off the expert's own path; the action RECORDED as the label is always the clean expert
    action for the state visited. `ep.executed` holds what was executed, `ep.obs` the full
    39-value observation of every recorded frame (auxiliary targets: object and goal positions)."""
    if noise_std > 0 and rng is None:
        raise ValueError("noise needs an rng")
    ep = Episode()
    T.set_layout(env, layout)
    obs, _ = env.reset()
    ep.layout = T.layout_of(obs)
    ep.rand_vec = np.asarray(env._last_rand_vec, dtype=np.float64).copy()
    ep.extra_images = [[] for _ in extra_cameras]
    succ = False
    for t in range(max_steps):
        if ep.first_success is not None and t >= ep.first_success + steps_after_success:
            break
        a = T.expert_action(policy, obs)
        if camera is not None:
            t0 = time.perf_counter()
            img = camera.render()
            for frames, extra in zip(ep.extra_images, extra_cameras):
                frames.append(extra.render())
            ep.render_s += time.perf_counter() - t0
            ep.images.append(img)
            ep.states.append(T.state_of(obs))
            ep.actions.append(a)
            ep.steps.append(t)
            ep.success.append(succ)
            ep.obs.append(np.asarray(obs, np.float32))
        executed = a
        if noise_std > 0:
            executed = a.copy()
            executed[list(noise_dims)] += rng.normal(0.0, noise_std, len(noise_dims)).astype(np.float32)
            executed = np.clip(executed, T.ACTION_LOW, T.ACTION_HIGH).astype(np.float32)
        if camera is not None:
            ep.executed.append(executed)
        ep.frames += 1
        t0 = time.perf_counter()
        obs, _r, _term, trunc, info = env.step(executed)
        ep.sim_s += time.perf_counter() - t0
        succ = bool(info["success"])
        if succ and ep.first_success is None:
            ep.first_success = t + 1
        if trunc:
            break
    return ep


def _atomic_write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def save_manifest(path: Path, manifest: dict, names) -> dict:
    """Writes the manifest, merged with what is on disk under a lock: the entries of `names` in
    `tasks` and the top-level keys are ours, other tasks' entries are kept, so that two generators
    (e.g. one per core, with disjoint --tasks) can share one --out."""
    import fcntl
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = json.loads(path.read_text()) if path.exists() else {}
        tasks = dict(current.get("tasks", {}))
        tasks.update({n: manifest["tasks"][n] for n in names if n in manifest.get("tasks", {})})
        current.update({k: v for k, v in manifest.items() if k != "tasks"})
        current["tasks"] = tasks
        _atomic_write_json(path, current)
    return current


def _save_npz(path: Path, arrays: dict) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def generate_split(name: str, split: str, n_episodes: int, image_size: int, camera_name: str,
                   out: Path, progress_every: int = 10, noise_std: float = 0.0,
                   noise_seed: int = 0, extra_views: tuple[str, ...] = (),
                   deadline: float | None = None) -> dict:
    """Generates `n_episodes` successful episodes of one task and split ('train' or 'val'),
    executing the expert's action plus DART noise of std `noise_std` (labels stay clean).
    extra_views: further views (`CAMERA[@FOVY]`) rendered at the same frames and written beside
    the file as `<file>.<view>.npz` (dataset.camera_path, add_camera's format).
    deadline: a `time.time()` after which no new episode starts; the file then holds the episodes
    kept so far (fewer than asked, said in the log) — a time-boxed run still ends with data."""
    rng = noise_rng(name, split, noise_seed)
    spec = T.spec(name)
    if split == "train":
        layout_iter = T.train_layouts(name)
    elif split == "val":
        layout_iter = ((T.VAL_SEED, i, lay) for i, lay in enumerate(T.layouts(name, T.VAL_SEED)))
    else:
        raise ValueError(split)
    env = T.make_env(name)
    cam = R.Camera(env, image_size=image_size, camera=camera_name)
    views = [(v, *R.parse_view(v)) for v in extra_views]     # (text, camera, fovy)
    extra_cams = tuple(R.Camera(env, image_size=image_size, camera=c, fovy=f) for _, c, f in views)
    policy = T.expert(name)
    kept: list[Episode] = []
    attempts, failed_layouts = 0, []
    render_s = sim_s = 0.0
    frames_rendered = 0
    t_start = time.time()
    try:
        for seed, idx, layout in layout_iter:
            if len(kept) >= n_episodes:
                break
            if deadline is not None and time.time() > deadline and kept:
                log(f"  {name} {split}: time budget reached at {len(kept)} episodes")
                break
            ep = run_episode(env, policy, layout, spec.max_steps, camera=cam,
                             noise_std=noise_std, rng=rng, extra_cameras=extra_cams)
            ep.seed, ep.layout_index = seed, idx
            attempts += 1
            render_s += ep.render_s
            sim_s += ep.sim_s
            frames_rendered += ep.frames
            if ep.first_success is not None:
                kept.append(ep)
            else:
                failed_layouts.append([seed, idx])
            if attempts % progress_every == 0:
                log(f"  {name} {split}: {len(kept)}/{n_episodes} episodes kept, {attempts} tried, "
                    f"{time.time() - t_start:.0f}s")
    finally:
        cam.close()
        for c in extra_cams:
            c.close()
        env.close()
    seconds = time.time() - t_start
    if len(kept) < n_episodes:
        log(f"WARNING {name} {split}: only {len(kept)} successful episodes out of {attempts} "
            f"layouts (asked for {n_episodes})")
    if not kept:
        raise RuntimeError(f"{name} {split}: the expert succeeded on no layout")

    lengths = np.array([len(e.steps) for e in kept], dtype=np.int32)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    rate = len(kept) / attempts
    meta = {
        "format_version": FORMAT_VERSION,
        "task": name,
        "instruction": spec.instruction,
        "task_index": T.task_index(name) if name in T.TASK_NAMES else -1,
        "split": split,
        "episodes": len(kept),
        "attempts": attempts,
        "expert_success_rate": rate,
        "failed_layouts": failed_layouts,
        "frames": int(lengths.sum()),
        "max_steps": spec.max_steps,
        "steps_after_success": T.STEPS_AFTER_SUCCESS,
        "render": R.render_settings(image_size, camera_name),
        "state_slice": list(T.STATE_SLICE),
        "noise": {"kind": "DART: executed = clip(expert + N(0, std^2) on dims); label = clean expert",
                  "std": noise_std, "dims": list(NOISE_DIMS), "seed": noise_seed},
        "layouts": [[e.seed, e.layout_index] for e in kept],
        "seconds": round(seconds, 1),
        "render_ms_per_frame": round(1000 * render_s / max(frames_rendered, 1), 2),
        "sim_ms_per_step": round(1000 * sim_s / max(frames_rendered, 1), 2),
        "frames_rendered": frames_rendered,
        "versions": R.simulator_versions(),
    }
    arrays = {
        "images": np.stack([im for e in kept for im in e.images]).astype(np.uint8),
        "states": np.stack([s for e in kept for s in e.states]).astype(np.float32),
        "actions": np.stack([a for e in kept for a in e.actions]).astype(np.float32),
        "executed": np.stack([a for e in kept for a in e.executed]).astype(np.float32),
        "obs": np.stack([o for e in kept for o in e.obs]).astype(np.float32),
        "episode": np.concatenate([np.full(n, i, np.int32) for i, n in enumerate(lengths)]),
        "step": np.concatenate([np.asarray(e.steps, np.int32) for e in kept]),
        "success": np.concatenate([np.asarray(e.success, bool) for e in kept]),
        "episode_start": starts,
        "episode_length": lengths,
        "episode_first_success": np.array([e.first_success for e in kept], np.int32),
        "episode_seed": np.array([e.seed for e in kept], np.int32),
        "episode_layout_index": np.array([e.layout_index for e in kept], np.int32),
        "episode_layout": np.stack([e.layout for e in kept]).astype(np.float64),
        "episode_rand_vec": np.stack([e.rand_vec for e in kept]).astype(np.float64),
        "task": np.array(name),
        "task_index": np.array(meta["task_index"], np.int32),
        "instruction": np.array(spec.instruction),
        "meta_json": np.array(json.dumps(meta)),
    }
    path = out / file_name(name, split)
    for k, (view, camera, fovy) in enumerate(views):   # the sidecars first: a base file implies them
        frames = np.stack([im for e in kept for im in e.extra_images[k]]).astype(np.uint8)
        AC.write_camera_file(DS.camera_path(path, view), frames, camera, fovy)
    _save_npz(path, arrays)
    meta["file"] = path.name
    meta["bytes"] = path.stat().st_size
    return meta


def file_name(name: str, split: str) -> str:
    return f"{name}.npz" if split == "train" else f"{name}-{split}.npz"


def read_meta(path: Path) -> dict:
    with np.load(path) as z:
        meta = json.loads(str(z["meta_json"]))
    meta["file"] = path.name
    meta["bytes"] = path.stat().st_size
    return meta


def load(path, mmap: bool = False) -> dict:
    """Loads one demonstrations file into a dict of arrays (meta_json parsed into `meta`)."""
    with np.load(path) as z:
        d = {k: z[k] for k in z.files}
    d["meta"] = json.loads(str(d.pop("meta_json")))
    return d


def check_experts(names, n: int, seed: int) -> dict:
    """Expert success on the first `n` layouts of MT1(name, seed), no rendering."""
    out = {}
    for name in names:
        t0 = time.time()
        spec = T.spec(name)
        env, policy = T.make_env(name), T.expert(name)
        firsts = []
        for lay in T.layouts(name, seed)[:n]:
            ep = run_episode(env, policy, lay, spec.max_steps, camera=None)
            firsts.append(ep.first_success)
        env.close()
        ok = [f for f in firsts if f is not None]
        rate = len(ok) / len(firsts)
        out[name] = {"episodes": len(firsts), "successes": len(ok), "success_rate": rate,
                     "max_steps": spec.max_steps, "seed": seed,
                     "steps_to_success_median": float(np.median(ok)) if ok else None,
                     "steps_to_success_max": int(max(ok)) if ok else None}
        flag = "" if rate >= T.MIN_EXPERT_SUCCESS else "  BELOW %.0f%%: swap it" % (100 * T.MIN_EXPERT_SUCCESS)
        log(f"expert {name:26s} {len(ok):3d}/{len(firsts)} = {100 * rate:5.1f}%  steps to success "
            f"median {out[name]['steps_to_success_median']} max {out[name]['steps_to_success_max']} "
            f"(limit {spec.max_steps}, {time.time() - t0:.0f}s){flag}")
    return out


def eval_layouts(name: str, seed: int = T.EVAL_SEED) -> np.ndarray:
    """Layout vectors (object and goal positions) of the 50 layouts of MT1(name, seed)."""
    env = T.make_env(name)
    rows = []
    for lay in T.layouts(name, seed):
        T.set_layout(env, lay)
        obs, _ = env.reset()
        rows.append(T.layout_of(obs))
    env.close()
    return np.stack(rows)


def layout_report(names, out: Path) -> dict:
    """For each task: every evaluation layout's distance (m) to the nearest training layout (the
    layouts of the training episodes actually kept), and the same summary for the validation layouts."""
    report = {"eval_seed": T.EVAL_SEED, "val_seed": T.VAL_SEED, "train_seeds": list(T.TRAIN_SEEDS),
              "layout": "object 1 position, object 2 position, goal position from the reset "
                        "observation (obs[4:7], obs[11:14], obs[36:39]); Euclidean distance, metres",
              "tasks": {}}
    for name in names:
        tp = out / file_name(name, "train")
        if not tp.exists():
            continue
        with np.load(tp) as z:
            tr = z["episode_layout"]
            tr_id = np.stack([z["episode_seed"], z["episode_layout_index"]], 1)
        ev = eval_layouts(name)
        d, idx = T.nearest_layout_distances(ev, tr)
        entry = {
            "train_layouts": int(len(tr)),
            "eval": [{"index": i, "distance_m": round(float(d[i]), 5),
                      "nearest_train": [int(x) for x in tr_id[idx[i]]]} for i in range(len(ev))],
            "eval_summary": _summary(d),
        }
        vp = out / file_name(name, "val")
        if vp.exists():
            with np.load(vp) as z:
                dv, _ = T.nearest_layout_distances(z["episode_layout"], tr)
            entry["val_distance_m"] = [round(float(x), 5) for x in dv]
            entry["val_summary"] = _summary(dv)
        report["tasks"][name] = entry
    import fcntl
    path = out / "layout_distances.json"
    with open(path.with_name(path.name + ".lock"), "w") as lock:   # other generators' tasks stay
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = json.loads(path.read_text()).get("tasks", {}) if path.exists() else {}
        merged = dict(report, tasks={**old, **report["tasks"]})
        _atomic_write_json(path, merged)
    return report


def _summary(d: np.ndarray) -> dict:
    d = np.asarray(d, float)
    return {"n": int(len(d)), "min_m": round(float(d.min()), 5), "median_m": round(float(np.median(d)), 5),
            "mean_m": round(float(d.mean()), 5), "max_m": round(float(d.max()), 5),
            "under_5mm": int((d < 0.005).sum()), "under_10mm": int((d < 0.010).sum())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--tasks", default=",".join(T.TASK_NAMES),
                    help="comma-separated task names (default: the 12 tasks of tasks.py)")
    ap.add_argument("--episodes", type=int, default=40, help="successful training episodes per task")
    ap.add_argument("--val-episodes", type=int, default=5, help="validation episodes per task")
    ap.add_argument("--image-size", type=int, default=R.DEFAULT_IMAGE_SIZE)
    ap.add_argument("--camera", default=R.DEFAULT_CAMERA)
    ap.add_argument("--noise-std", type=float, default=0.0,
                    help="DART noise on the executed hand motion of training episodes (labels stay "
                         "the clean expert action); 0 = none")
    ap.add_argument("--val-noise-std", type=float, default=0.0, help="the same for validation episodes")
    ap.add_argument("--noise-seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="regenerate files that exist")
    ap.add_argument("--extra-views", default="",
                    help="comma-separated further views rendered at the same frames (CAMERA or "
                         "CAMERA@FOVY, e.g. corner@30), written as <file>.<view>.npz beside each file")
    ap.add_argument("--minutes", type=float, default=None,
                    help="time budget of the whole run: training episodes stop starting after it "
                         "(validation episodes are always made); fewer episodes are then logged")
    ap.add_argument("--check-experts", type=int, metavar="N", default=0,
                    help="only measure expert success on N layouts of TRAIN_SEED (no rendering)")
    ap.add_argument("--spares", action="store_true", help="with --check-experts: also the spare tasks")
    args = ap.parse_args(argv)

    names = [n.strip() for n in args.tasks.split(",") if n.strip()]
    for n in names:
        T.spec(n)  # raises on unknown names
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}

    if args.check_experts:
        if args.spares:
            names = names + [t.name for t in T.SPARE_TASKS]
        res = check_experts(names, args.check_experts, T.TRAIN_SEED)
        manifest.setdefault("expert_check", {}).update(res)
        _atomic_write_json(manifest_path, manifest)
        return 0

    settings = {
        "format_version": FORMAT_VERSION,
        "render": R.render_settings(args.image_size, args.camera),
        "train_seeds": list(T.TRAIN_SEEDS), "val_seed": T.VAL_SEED, "eval_seed": T.EVAL_SEED,
        "steps_after_success": T.STEPS_AFTER_SUCCESS, "state_slice": list(T.STATE_SLICE),
        "noise_std": {"train": args.noise_std, "val": args.val_noise_std},
        "noise_dims": list(NOISE_DIMS), "noise_seed": args.noise_seed,
    }
    if manifest.get("settings") not in (None, settings) and not args.force:
        log(f"ERROR: {manifest_path} was written with other settings:\n"
            f"  {manifest['settings']}\n  now {settings}\nuse another --out or --force")
        return 2
    manifest["settings"] = settings
    manifest["versions"] = R.simulator_versions()
    manifest["observation"] = R.observation_spec(args.image_size, args.camera,
                                                 [n for n in T.TASK_NAMES])
    manifest.setdefault("tasks", {})
    log(f"{len(names)} tasks, {args.episodes} train + {args.val_episodes} val episodes each, "
        f"{args.image_size}px {args.camera} camera, MUJOCO_GL={os.environ.get('MUJOCO_GL')}, "
        f"out {args.out}")

    t_all = time.time()
    deadline = None if args.minutes is None else t_all + 60 * args.minutes
    extra_views = tuple(v.strip() for v in args.extra_views.split(",") if v.strip())
    for v in extra_views:
        R.parse_view(v)  # raises on a bad field of view
    for k, name in enumerate(names):
        entry = manifest["tasks"].setdefault(name, {"instruction": T.spec(name).instruction,
                                                    "max_steps": T.spec(name).max_steps})
        for split, n, std in (("train", args.episodes, args.noise_std),
                              ("val", args.val_episodes, args.val_noise_std)):
            if n <= 0:
                continue
            path = args.out / file_name(name, split)
            if path.exists() and not args.force:
                meta = read_meta(path)
                missing = [v for v in extra_views if not DS.camera_path(path, v).exists()]
                if meta["episodes"] < n:
                    log(f"[{k + 1}/{len(names)}] {name} {split}: {path.name} has {meta['episodes']} "
                        f"episodes < {n}; regenerating")
                elif missing:
                    log(f"[{k + 1}/{len(names)}] {name} {split}: {path.name} lacks the views "
                        f"{', '.join(missing)}; regenerating")
                else:
                    entry[split] = meta
                    log(f"[{k + 1}/{len(names)}] {name} {split}: exists ({meta['episodes']} episodes, "
                        f"{meta['frames']} frames), skipped")
                    continue
            log(f"[{k + 1}/{len(names)}] {name} {split}: generating {n} episodes")
            meta = generate_split(name, split, n, args.image_size, args.camera, args.out,
                                  noise_std=std, noise_seed=args.noise_seed, extra_views=extra_views,
                                  deadline=deadline if split == "train" else None)
            entry[split] = meta
            low = meta["expert_success_rate"] < T.MIN_EXPERT_SUCCESS
            log(f"[{k + 1}/{len(names)}] {name} {split}: {meta['episodes']} episodes kept of "
                f"{meta['attempts']} ({100 * meta['expert_success_rate']:.0f}% expert success), "
                f"{meta['frames']} frames, {meta['seconds']:.0f}s, render {meta['render_ms_per_frame']} ms/frame, "
                f"sim {meta['sim_ms_per_step']} ms/step, {meta['bytes'] / 1e6:.1f} MB"
                + ("  WARNING: expert below 80%: swap this task in tasks.py" if low else ""))
            save_manifest(manifest_path, manifest, names)
        save_manifest(manifest_path, manifest, names)

    log(f"layout distances (evaluation layouts of seed {T.EVAL_SEED} to the nearest training layout):")
    rep = layout_report(names, args.out)
    for name, e in rep["tasks"].items():
        s = e["eval_summary"]
        log(f"  {name:26s} min {1000 * s['min_m']:6.1f} mm  median {1000 * s['median_m']:6.1f} mm  "
            f"max {1000 * s['max_m']:6.1f} mm  <10mm: {s['under_10mm']}/{s['n']}")
    manifest["layout_report"] = "layout_distances.json"
    manifest["seconds_last_run"] = round(time.time() - t_all, 1)
    save_manifest(manifest_path, manifest, names)

    log("summary:")
    log(f"  {'task':26s} {'train ep':>8s} {'frames':>7s} {'val ep':>6s} {'frames':>7s} {'expert':>7s} {'ms/frame':>8s}")
    tot_tr = tot_v = 0
    for name in names:
        e = manifest["tasks"].get(name, {})
        tr, va = e.get("train", {}), e.get("val", {})
        tot_tr += tr.get("frames", 0)
        tot_v += va.get("frames", 0)
        log(f"  {name:26s} {tr.get('episodes', 0):8d} {tr.get('frames', 0):7d} {va.get('episodes', 0):6d} "
            f"{va.get('frames', 0):7d} {100 * tr.get('expert_success_rate', 0):6.0f}% "
            f"{tr.get('render_ms_per_frame', 0):8.2f}")
    log(f"  total: {tot_tr} train frames, {tot_v} val frames; {time.time() - t_all:.0f}s this run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
