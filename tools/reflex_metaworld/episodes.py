"""The closed-loop evaluation's episode runner: a Meta-World task's scene (environment, camera,
evaluation layouts, frozen frame), one episode through a reflexd over ZeroMQ (`run_episode`), the
daemons episodes run against (`Daemon`, a reflexd of our own with one setting's config;
`External`, a running one whose budget is set over its control socket), the model's description
(`reflexctl inspect`) and the check that the evaluation makes observations the way the bundle says
its were made, and the loop's measured per-step cost with the time estimate it gives.

Used by `evaluate.py` (the command line) and `rollout.py` (TaskScene).
"""
from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

import numpy as np

from reflex_client import ControlClient, ReflexClient
from reflexd_process import ReflexdProcess, binary

from . import eval_settings as S
from . import render as R
from . import tasks as T
from .records import Key, lat_add

REASONS = ("threshold", "last", "deadline", "memory")   # a reply's `reason` for its exit
START_TIMEOUT_S = 60.0
REPLY_TIMEOUT_MS = 30_000
MEASURE_STEPS = 40


# --------------------------------------------------------------------------- binaries, model

def default_binary(variable: str, name: str) -> Path:
    """$variable, else the release build, else the debug build (reflexd_process.binary)."""
    return binary(variable, name, builds=("release", "debug"))


def inspect_model(reflex: Path, model: Path) -> S.ModelInfo:
    """`reflexctl inspect MODEL --json` (reflex: the reflexctl binary) as a ModelInfo: exits,
    GFLOPs and resident bytes per exit, inputs, the bundle's observation description."""
    out = subprocess.run([str(reflex), "inspect", str(model), "--json"], capture_output=True,
                         text=True, timeout=120)
    if out.returncode != 0:
        raise SystemExit(f"`reflexctl inspect {model}` failed ({out.returncode}):\n{out.stderr}")
    return S.ModelInfo.from_inspect(json.loads(out.stdout))


def check_observation(model: S.ModelInfo, image_size: int) -> list[str]:
    """Differences between how the bundle says its observations were made and how we make them."""
    obs, problems = model.observation, []
    inputs = {name: shape for name, _dtype, shape in model.inputs}
    if inputs.get("image") != (image_size, image_size, 3):
        problems.append(f"the model's image input is {inputs.get('image')}, the camera renders "
                        f"{image_size}x{image_size}x3")
    if inputs.get("state") != (T.STATE_DIM,):
        problems.append(f"the model's state input is {inputs.get('state')}, expected ({T.STATE_DIM},)")
    if not obs or "camera" not in obs:
        problems.append("the bundle does not describe its observations (no `observation.camera`): "
                        "cannot check that the evaluation renders them the same way")
        return problems
    camera, fovy = image_view(model)
    want = R.render_settings(image_size, camera, fovy)
    for key, ours in (("camera", want["camera"]), ("fovy", want.get("fovy")),
                      ("image_size", want["image_size"]), ("flip", want["flip"]),
                      ("state_slice", list(T.STATE_SLICE))):
        if obs.get(key) != ours:
            problems.append(f"observation.{key} is {obs.get(key)!r}, the evaluation uses {ours!r}")
    if isinstance(obs.get("render"), dict) and obs["render"] != want:
        problems.append(f"observation.render {obs['render']} differs from render_settings() {want}")
    for t in obs.get("tasks", []):
        if t.get("name") in T.INSTRUCTIONS and t.get("instruction") != T.INSTRUCTIONS[t["name"]]:
            problems.append(f"task {t['name']}: the bundle says {t.get('instruction')!r}, tasks.py "
                            f"{T.INSTRUCTIONS[t['name']]!r}")
    return problems


def image_view(model: S.ModelInfo) -> tuple[str, float | None]:
    """The Meta-World camera and field of view (degrees; None = the camera's own) the bundle's
    `image` input was made with (`observation.camera`/`fovy`, or `cameras.image`): the evaluation
    renders with the same."""
    return R.image_view(model.observation)


# --------------------------------------------------------------------------- the daemons

class Daemon(ReflexdProcess):
    """A reflexd process of our own (tools/reflexd_process.py) with one setting's config."""

    def __init__(self, binary: Path, model: Path, budget: dict, scheduler: dict,
                 log_level: str = "info"):
        super().__init__(binary, {"model": str(Path(model).resolve()), "budget": budget,
                                  "scheduler": scheduler, "engine": {"threads": 1},
                                  "logging": {"level": log_level}}, prefix="rxeval-")

    def start(self) -> dict:
        """Starts it and returns its pong."""
        super().start(wait=False)
        return self.wait_ready(START_TIMEOUT_S)


class External:
    """A running daemon given by --endpoint: budget set per setting over --control, the
    original budget restored at the end. Its scheduler mode is read from the stats (or taken
    from --external-mode)."""

    def __init__(self, endpoint: str, control: str | None, mode: str):
        if control is None:
            raise SystemExit("--endpoint needs --control to set each setting's budget")
        self.policy, self.control = endpoint, control
        with ControlClient(control, timeout_ms=10_000) as c:
            stats = c.stats()
        self.saved_budget = stats.get("budget")
        self.mode = stats.get("scheduler") if stats.get("scheduler") in S.MODES else mode

    def apply(self, setting: S.Setting, model: S.ModelInfo) -> None:
        with ControlClient(self.control, timeout_ms=10_000) as c:
            c.budget(**setting.daemon_config(model)["budget"])

    def restore(self) -> None:
        if self.saved_budget:
            with ControlClient(self.control, timeout_ms=10_000) as c:
                c.budget(**{"deadline_ms": None, "memory_mb": None, **self.saved_budget})


# --------------------------------------------------------------------------- episodes

class TaskScene:
    """One task's environment and camera (demos.py's way of making observations), its evaluation
    layouts and the frame frozen-image sends."""

    def __init__(self, task: str, image_size: int, camera: str = R.DEFAULT_CAMERA, fovy: float | None = None):
        self.task = task
        self.spec = T.spec(task)
        self.env = T.make_env(task)
        self.camera = R.Camera(self.env, image_size=image_size, camera=camera, fovy=fovy)
        self.layouts = T.layouts(task, T.EVAL_SEED)
        self._frozen = None

    def frozen_frame(self) -> np.ndarray:
        if self._frozen is None:
            seed, index = S.FROZEN_LAYOUT
            T.set_layout(self.env, T.layouts(self.task, seed)[index])
            self.env.reset()
            self._frozen = self.camera.render()
        return self._frozen

    def layout_index(self, episode: int) -> int:
        return episode % len(self.layouts)

    def reset(self, episode: int) -> np.ndarray:
        """Resets the environment to episode `episode`'s evaluation layout; its first observation."""
        T.set_layout(self.env, self.layouts[self.layout_index(episode)])
        obs, _ = self.env.reset()
        return obs

    def close(self) -> None:
        self.camera.close()
        self.env.close()


def run_episode(scene: TaskScene, client: ReflexClient, robot: str, episode: int,
                setting: S.Setting, model: S.ModelInfo, max_steps: int | None = None,
                step_hook=None) -> dict:
    """One closed-loop episode on layout `episode` of the task's evaluation layouts, for at most
    max_steps steps (None: the task's limit), stopping at the first success; every step's reply
    is checked (a finite action of ACTION_DIM; under an exit-K setting, exit K). step_hook(t,
    image, action, info, env_info) is called after each step. Returns its record without the
    run's identifying fields (records.episode_record adds them): success, steps, first_success,
    GFLOPs (sum and per step; mean_fraction of full depth), exit_counts (E, steps per exit),
    reasons, the daemon's mean timing_us.total (µs), latency histograms lat_total_us / lat_rtt_us
    (records.lat_add, µs), per-step render / round-trip / simulator times (ms), wall_s (s) and
    the instruction's words unknown to the model."""
    E = model.exits
    max_steps = scene.spec.max_steps if max_steps is None else max_steps
    instruction = scene.spec.instruction
    frozen = scene.frozen_frame() if setting.frozen == "layout" else None
    obs = scene.reset(episode)
    client.reset(robot)
    exit_counts = [0] * E
    reasons: Counter = Counter()
    lat_total: Counter = Counter()
    lat_rtt: Counter = Counter()
    gflops_sum = 0.0
    render_s = sim_s = rtt_s = 0.0
    total_us_sum = 0.0
    unknown: set[str] = set()
    success, first_success, steps = False, None, 0
    t_episode = time.perf_counter()
    for t in range(max_steps):
        t0 = time.perf_counter()
        # the frozen settings send a fixed frame: the camera is not rendered again
        image = scene.camera.render() if frozen is None else frozen
        if setting.frozen == "first" and frozen is None:
            frozen = image
        t1 = time.perf_counter()
        action, info = client.step(robot, instruction, image=image, state=T.state_of(obs))
        t2 = time.perf_counter()
        if action.shape != (T.ACTION_DIM,) or not np.all(np.isfinite(action)):
            raise RuntimeError(f"{robot} step {t}: bad action {action!r} ({info})")
        obs, _r, _term, trunc, env_info = scene.env.step(action)
        t3 = time.perf_counter()
        steps = t + 1
        k = int(info["exit"])
        exit_counts[k - 1] += 1
        reasons[info["reason"]] += 1
        gflops_sum += float(info["gflops"])
        total_us = float(info["timing_us"]["total"])
        total_us_sum += total_us
        lat_add(lat_total, total_us)
        lat_add(lat_rtt, (t2 - t1) * 1e6)
        render_s += t1 - t0
        rtt_s += t2 - t1
        sim_s += t3 - t2
        unknown.update(info.get("unknown_words") or [])
        if setting.kind == "exit" and k != setting.exit:
            raise RuntimeError(f"{setting.name}: step {t} of {robot} answered from exit {k} "
                               f"(reason {info['reason']}), not exit {setting.exit}")
        if step_hook is not None:
            step_hook(t, image, action, info, env_info)
        if env_info.get("success"):
            success, first_success = True, steps
            break
        if trunc:
            break
    return {
        "success": success, "steps": steps, "first_success": first_success,
        "max_steps": max_steps, "layout_index": scene.layout_index(episode),
        "gflops_sum": round(gflops_sum, 6), "mean_gflops": round(gflops_sum / steps, 6),
        "mean_fraction": round(gflops_sum / steps / model.full_gflops, 6),
        "exit_counts": exit_counts, "reasons": dict(reasons),
        "forced_exit_ok": True if setting.kind == "exit" else None,   # checked on every step
        "daemon_total_us_mean": round(total_us_sum / steps, 1),
        "lat_total_us": {str(k): v for k, v in sorted(lat_total.items())},
        "lat_rtt_us": {str(k): v for k, v in sorted(lat_rtt.items())},
        "render_ms": round(1000 * render_s / steps, 3), "rtt_ms": round(1000 * rtt_s / steps, 3),
        "sim_ms": round(1000 * sim_s / steps, 3),
        "wall_s": round(time.perf_counter() - t_episode, 3),
        "unknown_words": sorted(unknown),
    }


# --------------------------------------------------------------------------- measuring and estimating

def measure(task: str, image_size: int, client: ReflexClient, model: S.ModelInfo,
            steps: int = MEASURE_STEPS) -> dict:
    """Per-step times of the loop on `task`'s first evaluation layout (full depth, at most `steps`
    steps): render_ms, sim_ms, rtt_ms (the client's round trip), daemon_total_ms (the daemon's
    timing_us.total) and their sum step_ms (render + simulator + round trip)."""
    scene = TaskScene(task, image_size, *image_view(model))
    try:
        setting = S.parse("full", model.exits)
        rec = run_episode(scene, client, "eval-measure", 0, setting, model, max_steps=steps)
    finally:
        scene.close()
    client.reset("eval-measure")
    return {"task": task, "steps": rec["steps"], "render_ms": rec["render_ms"],
            "sim_ms": rec["sim_ms"], "rtt_ms": rec["rtt_ms"],
            "daemon_total_ms": round(rec["daemon_total_us_mean"] / 1000, 3),
            "step_ms": round(rec["render_ms"] + rec["sim_ms"] + rec["rtt_ms"], 3)}


def step_ms_at(m: dict, fraction: float) -> float:
    """Loop time per step when the daemon spends `fraction` of full depth: render + simulator +
    transport/client overhead + the daemon's full-depth time scaled by the fraction."""
    overhead = max(m["rtt_ms"] - m["daemon_total_ms"], 0.0)
    return m["render_ms"] + m["sim_ms"] + overhead + m["daemon_total_ms"] * fraction


def estimate(pending: list[Key], m: dict, fractions: dict[str, float],
             expert: dict[str, float], block_overhead_s: float = 2.0) -> tuple[float, float]:
    """(low, high) seconds for the pending episodes: low if episodes take the experts' steps,
    high if every episode runs to its step limit. fractions: each setting's expected compute
    fraction; block_overhead_s: making a task's scene (per setting and task)."""
    blocks = {(s, t) for s, t, _ in pending}
    lo = hi = block_overhead_s * len(blocks)
    for s, t, _e in pending:
        ms = step_ms_at(m, fractions.get(s, 1.0))
        lim = T.spec(t).max_steps
        lo += min(lim, expert.get(t, lim)) * ms / 1000
        hi += lim * ms / 1000
    return lo, hi
