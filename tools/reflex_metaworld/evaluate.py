"""Closed-loop evaluation of a model through reflexd: Meta-World episodes on the held-out
evaluation layouts, every observation sent over ZeroMQ with the Python client, the simulator
stepped with the daemon's action.

    cd <repository root>; swift build -c release
    V=~/.cache/reflex/venv/bin/python
    $V -m reflex_metaworld.evaluate --measure-only            # per-step times and the time estimate
    $V -m reflex_metaworld.evaluate --resume                  # everything (hours: run it in chunks)
    $V -m reflex_metaworld.evaluate --resume --episodes 5     # a first pass over every setting
    $V -m reflex_metaworld.evaluate --resume --settings full,exit-1 --tasks drawer-open-v3
    $V -m reflex_metaworld.evaluate --resume --max-minutes 50 # stops cleanly after ~50 min
    $V -m reflex_metaworld.evaluate --summary-only            # tables and plots from what is done
    $V -m reflex_metaworld.evaluate --endpoint tcp://127.0.0.1:5555 --control tcp://127.0.0.1:5557

By default it starts its own `reflexd` (release binary if built, else debug; `--reflexd` or
$REFLEXD_BIN) for each setting, with a temporary config: ipc:// endpoints in a temporary folder,
`--model` (default models/default), the setting's budget and scheduler mode, no deadline,
engine.threads 1. With `--endpoint` it uses a running daemon instead and sets each setting's
budget over `--control` (the scheduler mode cannot be changed live: only the settings whose mode
is `--external-mode` are run).

Episodes: episode i of a task runs on layout i of MT1(task, EVAL_SEED) (tasks.py; never used in
training or validation), from env.reset(), for at most the task's max_steps steps (tasks.py, the
same limits as the demonstrations), and stops at the first step whose `info["success"]` is true.
Each task is one robot id (`<setting>.<task>`), reset at the start of every episode (a robot id
per episode piled up sessions faster than they idled out when episodes were short, and the
daemon rightly answered `overloaded` past `max_sessions`). Observations are made exactly as the
demonstrations' (render.Camera: same camera, size, flip; state = obs[0:4]).

Output (--out, default docs/results/):
  episodes.jsonl     one line per (setting, task, episode), appended as each episode ends: the
                     record of the run, and what --resume skips (records of another model, by
                     sha256, are kept but ignored)
  summary.json, summary.md   per setting and task: success rate, mean steps, mean GFLOPs and
                     fraction of full depth per step, exit histogram, latency p50/p99 (daemon's
                     timing_us.total and the client's round trip), per-step loop times
  success_vs_compute.png, exit_histograms.png   (plots.py)
With --results-md FILE the summary and figures also replace the part of FILE between
`<!-- eval:begin -->` and `<!-- eval:end -->` (docs/RESULTS.md).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from reflex_client import ControlClient, ReflexClient, ReflexError
from reflexd_process import ReflexdProcess, binary, exit_on_sigterm

from . import eval_settings as S
from . import render as R
from . import tasks as T

REPO = Path(__file__).resolve().parents[2]

DEFAULT_OUT = REPO / "docs" / "results"
DEFAULT_MODEL = REPO / "models" / "default"
DEFAULT_DEMOS = Path(os.path.expanduser("~/.cache/reflex/demos"))
RECORD_VERSION = 1
REASONS = ("threshold", "last", "deadline", "memory")
LAT_BASE = 1.04          # latency histograms: buckets 4% wide (percentiles to ±2%)
START_TIMEOUT_S = 60.0
REPLY_TIMEOUT_MS = 30_000
MEASURE_STEPS = 40
NEAR_LAYOUT_M = 0.005    # the summary splits full-depth success at this layout distance


def log(msg: str) -> None:
    print(f"[eval {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def hms(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


# --------------------------------------------------------------------------- binaries, model

def default_binary(variable: str, name: str) -> Path:
    """$variable, else the release build, else the debug build (reflexd_process.binary)."""
    return binary(variable, name, builds=("release", "debug"))


def inspect_model(reflex: Path, model: Path) -> S.ModelInfo:
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
    want = R.render_settings(image_size)
    for key, ours in (("camera", want["camera"]), ("image_size", want["image_size"]),
                      ("flip", want["flip"]), ("state_slice", list(T.STATE_SLICE))):
        if obs.get(key) != ours:
            problems.append(f"observation.{key} is {obs.get(key)!r}, the evaluation uses {ours!r}")
    if isinstance(obs.get("render"), dict) and obs["render"] != want:
        problems.append(f"observation.render {obs['render']} differs from render_settings() {want}")
    for t in obs.get("tasks", []):
        if t.get("name") in T.INSTRUCTIONS and t.get("instruction") != T.INSTRUCTIONS[t["name"]]:
            problems.append(f"task {t['name']}: the bundle says {t.get('instruction')!r}, tasks.py "
                            f"{T.INSTRUCTIONS[t['name']]!r}")
    return problems


# --------------------------------------------------------------------------- the daemon

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


# --------------------------------------------------------------------------- latency histograms

def lat_add(hist: Counter, us: float) -> None:
    """Counts `us` in a log-spaced histogram keyed by the bucket's value in µs (so that records
    stay comparable if LAT_BASE changes)."""
    hist[int(round(LAT_BASE ** round(math.log(max(us, 1.0)) / math.log(LAT_BASE))))] += 1


def lat_merge(hists) -> Counter:
    out: Counter = Counter()
    for h in hists:
        out.update({int(k): int(v) for k, v in h.items()})
    return out


def lat_quantile(hist: Counter, q: float) -> float | None:
    n = sum(hist.values())
    if n == 0:
        return None
    rank = q * (n - 1)
    seen = 0
    for k in sorted(hist):
        seen += hist[k]
        if seen > rank:
            return float(k)
    return float(max(hist))


# --------------------------------------------------------------------------- episodes

class TaskScene:
    """One task's environment and camera (demos.py's way of making observations), its evaluation
    layouts and the frame frozen-image sends."""

    def __init__(self, task: str, image_size: int):
        self.task = task
        self.spec = T.spec(task)
        self.env = T.make_env(task)
        self.camera = R.Camera(self.env, image_size=image_size)
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

    def close(self) -> None:
        self.camera.close()
        self.env.close()


def run_episode(scene: TaskScene, client: ReflexClient, robot: str, episode: int,
                setting: S.Setting, model: S.ModelInfo, max_steps: int | None = None,
                step_hook=None) -> dict:
    """One closed-loop episode; returns its record (without the run's identifying fields)."""
    E = model.exits
    max_steps = scene.spec.max_steps if max_steps is None else max_steps
    instruction = scene.spec.instruction
    frozen = scene.frozen_frame() if setting.frozen == "layout" else None
    T.set_layout(scene.env, scene.layouts[scene.layout_index(episode)])
    obs, _ = scene.env.reset()
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


# --------------------------------------------------------------------------- records

def read_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                log(f"WARNING {path}:{n}: unreadable line skipped (an interrupted write?)")
    return out


def append_record(path: Path, record: dict) -> None:
    """One line, appended by one write(2) on an O_APPEND file: two evaluations running different
    settings into the same file never interleave their lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def current_records(records: list[dict], sha256: str,
                    max_steps: int | None = None) -> dict[tuple[str, str, int], dict]:
    """The records of this model and step limit (max_steps None: each task's own), one per
    (setting, task, episode) (the latest wins)."""
    out = {}
    for r in records:
        try:
            limit = max_steps if max_steps is not None else T.spec(r["task"]).max_steps
        except KeyError:
            continue
        if (r.get("model_sha256") == sha256 and r.get("v") == RECORD_VERSION
                and r.get("max_steps") == limit):
            out[(r["setting"], r["task"], int(r["episode"]))] = r
    return out


def layout_distances(demos: Path) -> dict[str, list[float]]:
    p = demos / "layout_distances.json"
    if not p.exists():
        return {}
    try:
        d = json.loads(p.read_text())
        if d.get("eval_seed") != T.EVAL_SEED:
            return {}
        return {t: [e["distance_m"] for e in v["eval"]] for t, v in d["tasks"].items()}
    except (ValueError, KeyError, TypeError):
        return {}


def expert_steps(demos: Path) -> dict[str, float]:
    """Mean steps to first success of the experts' training episodes (demos manifest)."""
    p = demos / "manifest.json"
    out = {}
    if p.exists():
        try:
            for t, v in json.loads(p.read_text())["tasks"].items():
                tr = v["train"]
                out[t] = tr["frames"] / tr["episodes"] - tr.get("steps_after_success", 10)
        except (ValueError, KeyError, TypeError, ZeroDivisionError):
            pass
    return out


# --------------------------------------------------------------------------- measuring and estimating

def measure(task: str, image_size: int, client: ReflexClient, model: S.ModelInfo,
            steps: int = MEASURE_STEPS) -> dict:
    """Per-step times of the loop on `task`'s first evaluation layout (full depth)."""
    scene = TaskScene(task, image_size)
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


def estimate(pending: list[tuple[str, str, int]], m: dict, fractions: dict[str, float],
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


# --------------------------------------------------------------------------- summary

def summarise(records: dict[tuple[str, str, int], dict], model: S.ModelInfo,
              settings_order: list[str], tasks_order: list[str]) -> dict:
    by: dict[tuple[str, str], list[dict]] = {}
    for (s, t, _e), r in sorted(records.items(), key=lambda kv: kv[0][2]):
        by.setdefault((s, t), []).append(r)
    settings = [s for s in settings_order if any(k[0] == s for k in by)]
    settings += sorted({k[0] for k in by} - set(settings))
    tasks = [t for t in tasks_order if any(k[1] == t for k in by)]
    tasks += sorted({k[1] for k in by} - set(tasks))
    E = model.exits

    def cell(rs: list[dict]) -> dict:
        steps = sum(r["steps"] for r in rs)
        exits = np.sum([r["exit_counts"] for r in rs], axis=0)
        reasons = Counter()
        for r in rs:
            reasons.update(r["reasons"])
        lt, lr = lat_merge(r["lat_total_us"] for r in rs), lat_merge(r["lat_rtt_us"] for r in rs)
        g = sum(r["gflops_sum"] for r in rs) / max(steps, 1)
        return {
            "episodes": len(rs), "successes": sum(bool(r["success"]) for r in rs),
            "success_rate": sum(bool(r["success"]) for r in rs) / len(rs),
            "mean_steps": steps / len(rs), "steps": steps,
            "mean_gflops": g, "mean_fraction": g / model.full_gflops,
            "exit_histogram": [int(x) for x in exits],
            "exit_share": [float(x) / max(steps, 1) for x in exits],
            "reasons": dict(reasons),
            "latency_us": {"daemon_p50": lat_quantile(lt, 0.5), "daemon_p99": lat_quantile(lt, 0.99),
                           "rtt_p50": lat_quantile(lr, 0.5), "rtt_p99": lat_quantile(lr, 0.99)},
            "loop_ms": {k: sum(r[k] * r["steps"] for r in rs) / max(steps, 1)
                        for k in ("render_ms", "sim_ms", "rtt_ms")},
            "episodes_list": [int(r["episode"]) for r in rs],
            "episode_success": [bool(r["success"]) for r in rs],
            "layout_distance_m": [r.get("layout_distance_m") for r in rs],
        }

    out = {"model": {"name": model.name, "sha256": model.sha256, "exits": E,
                     "gflops": list(model.gflops), "fractions": list(model.fractions),
                     "resident_bytes": list(model.resident_bytes)},
           "eval_seed": T.EVAL_SEED, "settings": {}, "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    for s in settings:
        per_task = {t: cell(by[(s, t)]) for t in tasks if (s, t) in by}
        all_rs = [r for t in tasks for r in by.get((s, t), [])]
        overall = cell(all_rs)
        overall["success_rate_task_mean"] = float(np.mean([c["success_rate"] for c in per_task.values()]))
        overall["tasks"] = len(per_task)
        any_r = all_rs[0]
        out["settings"][s] = {"config": any_r.get("config"), "description": any_r.get("description"),
                              "overall": overall, "tasks": per_task}
    return out


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _ms(us) -> str:
    return "–" if us is None else f"{us / 1000:.2f}"


def markdown(summary: dict, tasks_all: list[str], figures_prefix: str = "",
             label: str | None = None) -> str:
    m = summary["model"]
    E = m["exits"]
    L = []
    if label:
        L.append(f"> {label}\n")
    L.append(f"Model `{m['name']}` (sha256 `{m['sha256'][:12]}…`), {E} exits, full depth "
             f"{m['gflops'][-1]:.4f} GFLOPs/step; exit cost fractions "
             + ", ".join(f"{f:.3f}" for f in m["fractions"]) + f". Evaluation layouts: MT1(task, "
             f"seed {summary['eval_seed']}). Generated {summary['generated']}.\n")
    L.append("### Per setting (all tasks)\n")
    L.append("Success: mean over tasks of the per-task success rate. Compute: mean over all steps "
             "(GFLOPs per step, and as a fraction of full depth). Exit shares: % of steps answered "
             "by exit 1 … E. Latency: the daemon's `timing_us.total` and the client's round trip, "
             "p50 / p99 in ms.\n")
    hdr = ("| setting | tasks | episodes | success | mean steps | GFLOPs/step | fraction | exit shares % "
           "(1…E) | daemon p50/p99 ms | round trip p50/p99 ms |")
    L.append(hdr)
    L.append("|" + "---|" * 10)
    for s, v in summary["settings"].items():
        o = v["overall"]
        lat = o["latency_us"]
        L.append(f"| {s} | {o['tasks']} | {o['episodes']} | {_pct(o['success_rate_task_mean'])} | "
                 f"{o['mean_steps']:.0f} | {o['mean_gflops']:.4f} | {o['mean_fraction']:.3f} | "
                 + " ".join(f"{100 * x:.0f}" for x in o["exit_share"])
                 + f" | {_ms(lat['daemon_p50'])} / {_ms(lat['daemon_p99'])} | "
                 f"{_ms(lat['rtt_p50'])} / {_ms(lat['rtt_p99'])} |")
    L.append("")
    settings = list(summary["settings"])
    def task_table(title, cell, note):
        L.append(f"### {title}\n")
        L.append("| task | " + " | ".join(settings) + " |")
        L.append("|---|" + "---|" * len(settings))
        for t in tasks_all:
            cells = [summary["settings"][s]["tasks"].get(t) for s in settings]
            row = ["–" if c is None else cell(c) for c in cells]
            if any(x != "–" for x in row):
                L.append(f"| {t} | " + " | ".join(row) + " |")
        L.append(f"\n{note}\n")

    task_table("Success per task", lambda c: f"{_pct(c['success_rate'])} ({c['episodes']})", "(n) = episodes.")
    task_table("Mean compute fraction and steps per task",
               lambda c: f"{c['mean_fraction']:.2f} / {c['mean_steps']:.0f}",
               "fraction of full-depth GFLOPs per step / mean steps per episode.")
    goals = goal_lines(summary)
    if goals:
        L.append("### Against the goals of issue 6\n")
        L.extend(f"- {g}" for g in goals)
        L.append("")
    if figures_prefix is not None:
        L.append("### Figures\n")
        L.append(f"![success vs compute]({figures_prefix}success_vs_compute.png)\n")
        L.append(f"![exit histograms]({figures_prefix}exit_histograms.png)\n")
    return "\n".join(L) + "\n"


def goal_lines(summary: dict) -> list[str]:
    st = summary["settings"]

    def sr(name):
        return st[name]["overall"]["success_rate_task_mean"] if name in st else None

    full = sr("full")
    out = []
    if full is None:
        return out
    n = st["full"]["overall"]["tasks"]
    complete = n == len(T.TASK_NAMES)

    def verdict(ok: bool) -> str:
        return ("met" if ok else "not met") if complete else f"partial run ({n} tasks)"

    out.append(f"full depth: {_pct(full)} mean success over {n} tasks (goal ≥ 80% over 12): "
               + verdict(full >= 0.8))
    if sr("exit-1") is not None:
        out.append(f"exit 1 forced: {_pct(sr('exit-1'))} (goal: clearly below full depth): "
                   f"{100 * (sr('exit-1') - full):+.0f} points")
    if sr("frozen-image") is not None:
        out.append(f"image frozen: {_pct(sr('frozen-image'))} (goal: far below full depth): "
                   f"{100 * (sr('frozen-image') - full):+.0f} points")
    if sr("frozen-first") is not None:
        out.append(f"image frozen at the episode's first frame: {_pct(sr('frozen-first'))}: "
                   f"{100 * (sr('frozen-first') - full):+.0f} points")
    o = st["full"]["overall"]
    pairs = [(d, ok) for d, ok in zip(o["layout_distance_m"], o["episode_success"]) if d is not None]
    if pairs:
        near = [ok for d, ok in pairs if d < NEAR_LAYOUT_M]
        far = [ok for d, ok in pairs if d >= NEAR_LAYOUT_M]
        out.append(f"full depth by distance of the evaluation layout to the nearest training layout: "
                   f"< {1000 * NEAR_LAYOUT_M:.0f} mm {_pct(np.mean(near) if near else None)} "
                   f"({len(near)} episodes), ≥ {1000 * NEAR_LAYOUT_M:.0f} mm "
                   f"{_pct(np.mean(far) if far else None)} ({len(far)} episodes)")
    for mode in S.MODES:
        name = f"avg-0.4-{mode}"
        if sr(name) is not None:
            d = 100 * (sr(name) - full)
            out.append(f"average_fraction 0.4 ({mode}): {_pct(sr(name))}, {d:+.1f} points vs full "
                       f"depth at {st[name]['overall']['mean_fraction']:.2f} of its compute (goal: "
                       f"within 3 points): " + verdict(d >= -3))
    return out


def update_results_md(path: Path, text: str) -> bool:
    begin, end = "<!-- eval:begin -->", "<!-- eval:end -->"
    if not path.exists():
        return False
    doc = path.read_text()
    if begin not in doc or end not in doc:
        return False
    head, rest = doc.split(begin, 1)
    _old, tail = rest.split(end, 1)
    path.write_text(head + begin + "\n" + text + end + tail)
    return True


def write_summary(out: Path, records: dict, model: S.ModelInfo, settings_order: list[str],
                  results_md: Path | None, label: str | None) -> dict | None:
    if not records:
        log("no episodes of this model yet: no summary")
        return None
    summary = summarise(records, model, settings_order, list(T.TASK_NAMES))
    if label:
        summary["label"] = label
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "summary.md").write_text(markdown(summary, list(T.TASK_NAMES), "", label))
    try:
        from . import plots
        plots.success_vs_compute(summary, out / "success_vs_compute.png", label=label)
        plots.exit_histograms(summary, out / "exit_histograms.png", label=label)
    except ImportError as e:
        log(f"WARNING no plots ({e}); pip install matplotlib")
    if results_md is not None:
        rel = os.path.relpath(out, results_md.parent.resolve())
        prefix = "" if rel == "." else rel.rstrip("/") + "/"
        if update_results_md(results_md, markdown(summary, list(T.TASK_NAMES), prefix, label)):
            log(f"updated {results_md}")
        else:
            log(f"WARNING {results_md} has no <!-- eval:begin --> … <!-- eval:end --> section: not updated")
    log(f"summary: {out / 'summary.md'}, {out / 'summary.json'}, plots in {out}")
    print()
    text = markdown(summary, list(T.TASK_NAMES), None, label)
    mark = "### Against the goals"
    goals = mark + text.split(mark, 1)[1] if mark in text else ""
    print(text.split("### Success per task")[0] + goals, flush=True)
    return summary


# --------------------------------------------------------------------------- the run

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


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="bundle directory [models/default]")
    ap.add_argument("--settings", default="default", help="comma-separated settings or groups "
                    "(default, all, exits, budgets; see eval_settings.py) [default]")
    ap.add_argument("--tasks", default=",".join(T.TASK_NAMES), help="comma-separated [all 12]")
    ap.add_argument("--episodes", type=int, default=20, help="per task and setting [20]")
    ap.add_argument("--max-steps", type=int, default=None,
                    help="override every task's step limit (tests only: results are not comparable)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="[docs/results/]")
    ap.add_argument("--resume", action="store_true", help="skip episodes already in OUT/episodes.jsonl")
    ap.add_argument("--overwrite", action="store_true",
                    help="start afresh: an existing episodes.jsonl is renamed *.bak")
    ap.add_argument("--summary-only", action="store_true", help="tables and plots from the records")
    ap.add_argument("--measure-only", action="store_true", help="per-step times and the estimate, no run")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="stop (between episodes) once this much time has passed")
    ap.add_argument("--results-md", type=Path, default=None,
                    help="also write the summary into this file's eval section (docs/RESULTS.md)")
    ap.add_argument("--label", default=None, help="a line above the summary (e.g. 'small run: 5 episodes')")
    ap.add_argument("--reflexd", type=Path, default=None, help="[$REFLEXD_BIN, else .build/release, else debug]")
    ap.add_argument("--reflex", type=Path, default=None, help="the CLI, for `inspect` [next to reflexd]")
    ap.add_argument("--endpoint", default=None, help="use a running daemon's policy endpoint")
    ap.add_argument("--control", default=None, help="its control endpoint (needed with --endpoint)")
    ap.add_argument("--external-mode", choices=S.MODES, default="online",
                    help="the running daemon's scheduler.mode when its stats do not say: only avg-* "
                    "settings of that mode run")
    ap.add_argument("--demos", type=Path, default=DEFAULT_DEMOS,
                    help="demonstrations folder: layout distances and expert steps for the estimate")
    ap.add_argument("--image-size", type=int, default=R.DEFAULT_IMAGE_SIZE)
    ap.add_argument("--log-level", default="info", help="reflexd's logging.level")
    ap.add_argument("--quiet", action="store_true", help="a line per task and setting, not per episode")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    t_run = time.time()
    reflexd = args.reflexd or default_binary("REFLEXD_BIN", "reflexd")
    reflex = args.reflex or (reflexd.parent / "reflexctl" if (reflexd.parent / "reflexctl").exists()
                             else default_binary("REFLEXCTL_BIN", "reflexctl"))
    if not (args.model / "manifest.json").exists():
        log(f"no model bundle at {args.model}")
        return 2
    if not reflex.exists():
        log(f"no reflex CLI at {reflex} (for `reflexctl inspect`): build it or give --reflex")
        return 2
    model = inspect_model(reflex, args.model)
    E = model.exits
    try:
        names = S.expand(args.settings, E)
        settings = [S.parse(n, E) for n in names]
    except ValueError as e:
        log(str(e))
        return 2
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for t in tasks:
        T.spec(t)
    args.out.mkdir(parents=True, exist_ok=True)
    jsonl = args.out / "episodes.jsonl"
    label = args.label
    if args.max_steps is not None and label is None:
        label = f"step limit overridden to {args.max_steps}: not comparable with the full evaluation"

    all_records = read_records(jsonl)
    if args.summary_only:
        write_summary(args.out, current_records(all_records, model.sha256, args.max_steps), model,
                      S.default_names(E) + ["frozen-first"], args.results_md, label)
        return 0
    if jsonl.exists() and all_records and not (args.resume or args.overwrite or args.measure_only):
        log(f"{jsonl} already holds {len(all_records)} episodes: --resume to continue it, "
            f"--overwrite to start afresh")
        return 2
    if args.overwrite and jsonl.exists():
        bak = jsonl.with_suffix(".jsonl.bak")
        os.replace(jsonl, bak)
        log(f"moved the old records to {bak}")
        all_records = []
    done = current_records(all_records, model.sha256, args.max_steps)

    log(f"model {args.model} ({model.name}, sha256 {model.sha256[:12]}…): {E} exits, "
        f"GFLOPs {', '.join(f'{g:.4f}' for g in model.gflops)}; resident MiB "
        f"{', '.join(f'{b / S.MIB:.2f}' for b in model.resident_bytes)}")
    for p in check_observation(model, args.image_size):
        log(f"WARNING {p}")
    external = External(args.endpoint, args.control, args.external_mode) if args.endpoint else None
    if external is None:
        kind = "release" if "/release/" in str(reflexd) else "debug" if "/debug/" in str(reflexd) else "?"
        log(f"reflexd: {reflexd} ({kind}{' build: the daemon code is slower than release' if kind == 'debug' else ''})")
    else:
        skipped = [s.name for s in settings if s.kind == "budget" and s.mode != external.mode]
        if skipped:
            log(f"the running daemon's scheduler mode is {external.mode}: skipping {', '.join(skipped)}")
        settings = [s for s in settings if s.name not in skipped]
    if model.calibration_samples == 0:
        skipped = [s.name for s in settings if s.kind == "budget" and s.average_fraction(model) < 1.0]
        if skipped:
            log(f"WARNING the bundle has no calibration data, so the daemon serves only full-depth "
                f"budgets: skipping {', '.join(skipped)}")
        settings = [s for s in settings if s.name not in skipped]
    for s in settings:
        log(f"setting {s.name:15s} {s.describe(model)}")

    pending = [(s.name, t, e) for s in settings for t in tasks for e in range(args.episodes)
               if (s.name, t, e) not in done]
    log(f"{len(settings)} settings × {len(tasks)} tasks × {args.episodes} episodes: "
        f"{len(pending)} episodes to run, {len(settings) * len(tasks) * args.episodes - len(pending)} done")
    distances = layout_distances(args.demos)
    expert = expert_steps(args.demos)

    # -- measure the loop (full depth) and estimate the time
    with (Daemon(reflexd, args.model, S.parse("full", E).daemon_config(model)["budget"],
                 {"mode": "fixed"}, args.log_level) if external is None else _null()) as d:
        if external is None:
            d.start()
            endpoint = d.policy
        else:
            external.apply(S.parse("full", E), model)
            endpoint = external.policy
        with ReflexClient(endpoint, timeout_ms=REPLY_TIMEOUT_MS) as client:
            m = measure(tasks[0], args.image_size, client, model)
    log(f"loop per step ({m['steps']} steps of {m['task']}, full depth): render {m['render_ms']:.1f} ms, "
        f"simulator {m['sim_ms']:.1f} ms, daemon round trip {m['rtt_ms']:.1f} ms (daemon total "
        f"{m['daemon_total_ms']:.1f} ms) = {m['step_ms']:.1f} ms")
    fractions = {}
    for st in settings:
        fractions[st.name] = (model.fractions[st.exit - 1] if st.kind == "exit"
                              else st.average_fraction(model))
    lo, hi = estimate(pending, m, fractions, expert)
    log(f"per step at exit 1 only: ~{step_ms_at(m, model.fractions[0]):.1f} ms. Estimate for the "
        f"{len(pending)} pending episodes: {hms(lo)} if episodes take the experts' steps (to "
        f"{hms(hi)} if every one runs to its step limit)")
    if args.measure_only:
        (args.out / "measure.json").write_text(json.dumps(
            {"measure": m, "pending": len(pending), "estimate_s": [lo, hi]}, indent=1) + "\n")
        return 0

    # -- the run
    t_loop = time.time()
    ran, wall_sum = 0, 0.0
    stop_at = None if args.max_minutes is None else t_run + 60 * args.max_minutes
    stopped = False
    warned: set[str] = set()
    try:
        for s in settings:
            todo = [(t, e) for t in tasks for e in range(args.episodes) if (s.name, t, e) not in done]
            if not todo:
                log(f"{s.name}: done")
                continue
            if stop_at is not None and time.time() >= stop_at:
                stopped = True
                break
            cfg = s.daemon_config(model)
            with (Daemon(reflexd, args.model, cfg["budget"], cfg["scheduler"], args.log_level)
                  if external is None else _null()) as d:
                if external is None:
                    pong = d.start()
                    endpoint = d.policy
                    control = d.control
                else:
                    external.apply(s, model)
                    endpoint, control = external.policy, external.control
                    pong = {}
                ctl = ControlClient(control, timeout_ms=10_000) if control else None
                stats0 = ctl.stats() if ctl else {}
                if s.kind == "exit" and ctl and stats0.get("loaded_exits") != s.exit:
                    raise RuntimeError(f"{s.name}: memory_mb {cfg['budget']['memory_mb']} left "
                                       f"{stats0.get('loaded_exits')} exits loaded, not {s.exit}")
                log(f"== {s.name}: {s.describe(model)}; {len(todo)} episodes; daemon "
                    f"{pong.get('version', 'external')}, loaded exits {stats0.get('loaded_exits')}, "
                    f"thresholds {stats0.get('thresholds')}")
                with ReflexClient(endpoint, timeout_ms=REPLY_TIMEOUT_MS) as client:
                    by_task: dict[str, list[int]] = {}
                    for t, e in todo:
                        by_task.setdefault(t, []).append(e)
                    for t, eps in by_task.items():
                        scene = TaskScene(t, args.image_size)
                        t_task = time.time()
                        task_recs = []
                        try:
                            for e in eps:
                                if stop_at is not None and time.time() >= stop_at:
                                    stopped = True
                                    break
                                robot = f"{s.name}.{t}"[:64]    # one robot per task, reset per episode
                                try:
                                    rec = run_episode(scene, client, robot, e, s, model, args.max_steps)
                                except (TimeoutError, ReflexError) as err:
                                    tail = d.log_tail() if external is None else ""
                                    alive = d.alive() if external is None else True
                                    raise RuntimeError(f"{robot}: {err} (daemon "
                                                       f"{'alive' if alive else 'DEAD'})\n{tail}") from err
                                st = ctl.stats() if ctl else {}
                                dist = distances.get(t)
                                li = rec["layout_index"]
                                record = {"v": RECORD_VERSION, "setting": s.name, "task": t,
                                          "episode": e, "seed": T.EVAL_SEED, **rec,
                                          "layout_distance_m": dist[li] if dist and li < len(dist) else None,
                                          "thresholds_after": st.get("thresholds"),
                                          "window_mean_fraction_after": st.get("mean_fraction"),
                                          "model_sha256": model.sha256, "model": str(args.model),
                                          "config": cfg, "description": s.describe(model),
                                          "daemon": str(reflexd) if external is None else args.endpoint,
                                          "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
                                append_record(jsonl, record)
                                done[(s.name, t, e)] = record
                                task_recs.append(record)
                                ran += 1
                                wall_sum += rec["wall_s"]
                                left = len(pending) - ran
                                eta = (time.time() - t_loop) / ran * left
                                odd = set(rec["reasons"]) - {"memory", "last"}
                                if s.kind == "exit" and odd and s.name not in warned:
                                    warned.add(s.name)
                                    log(f"WARNING {s.name}: every step came from exit {s.exit}, but the "
                                        f"replies' reasons are {rec['reasons']}, not only memory/last "
                                        f"(a daemon issue: see docs/RESULTS.md)")
                                if rec["unknown_words"]:
                                    log(f"WARNING words unknown to the model: {rec['unknown_words']}")
                                if not args.quiet:
                                    hist = " ".join(f"{x}" for x in rec["exit_counts"])
                                    outcome = (f"SUCCESS at step {rec['first_success']}" if rec["success"]
                                               else f"fail after {rec['steps']}")
                                    log(f"{s.name} {t} ep {e + 1}/{args.episodes}: "
                                        f"{outcome} "
                                        f"| frac {rec['mean_fraction']:.2f} | exits [{hist}] | {rec['wall_s']:.1f} s "
                                        f"(render {rec['render_ms']:.1f} + sim {rec['sim_ms']:.1f} + daemon "
                                        f"{rec['rtt_ms']:.1f} ms/step) | {ran}/{len(pending)}, ETA {hms(eta)}")
                        finally:
                            scene.close()
                        if task_recs:
                            sr = np.mean([r["success"] for r in task_recs])
                            fr = (sum(r["gflops_sum"] for r in task_recs)
                                  / sum(r["steps"] for r in task_recs) / model.full_gflops)
                            left = len(pending) - ran
                            log(f"-- {s.name} {t}: {100 * sr:.0f}% success in {len(task_recs)} episodes, "
                                f"mean fraction {fr:.3f}, {time.time() - t_task:.0f} s; {ran}/{len(pending)} "
                                f"done, ETA {hms((time.time() - t_loop) / max(ran, 1) * left)}")
                        if stopped:
                            break
                if ctl:
                    ctl.close()
            if stopped:
                break
    except KeyboardInterrupt:
        log("interrupted: finished episodes are saved; --resume continues")
        stopped = True
    finally:
        if external is not None:
            external.restore()
    if stopped:
        log(f"stopped after {ran} episodes ({hms(time.time() - t_run)}); rerun with --resume to continue")
    else:
        log(f"ran {ran} episodes in {hms(time.time() - t_run)}")
    write_summary(args.out, done, model, names + S.default_names(E) + ["frozen-first"],
                  args.results_md, label)
    return 0


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    sys.exit(main())
