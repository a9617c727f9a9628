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
# The pieces: episodes.py (one episode through a daemon, the daemons, the time estimate),
# records.py (episodes.jsonl), report.py (summary.json, summary.md, plots, docs/RESULTS.md). This
# module is the command line and the run: settings × tasks × episodes, resumable.
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from reflex_client import ControlClient, ReflexClient, ReflexError
from reflexd_process import exit_on_sigterm

from . import eval_settings as S
from . import render as R
from . import tasks as T
from .episodes import (
    REPLY_TIMEOUT_MS,
    Daemon,
    External,
    TaskScene,
    check_observation,
    default_binary,
    estimate,
    image_view,
    inspect_model,
    measure,
    run_episode,
    step_ms_at,
)
from .records import Key, append_record, current_records, episode_record, expert_steps, layout_distances, log, read_records
from .report import write_summary

REPO = Path(__file__).resolve().parents[2]

DEFAULT_OUT = REPO / "docs" / "results"
DEFAULT_MODEL = REPO / "models" / "default"
DEFAULT_DEMOS = Path(os.path.expanduser("~/.cache/reflex/demos"))


def hms(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Usage(Exception):
    """A problem with the command line or what it names: logged, exit status 2."""


@dataclasses.dataclass
class Run:
    """One invocation: what it evaluates, against which daemon, and what is done."""
    args: argparse.Namespace
    reflexd: Path
    model: S.ModelInfo
    names: list[str]                 # --settings, expanded (the summary's order)
    settings: list[S.Setting]        # those to run: plan() drops what the daemon cannot serve
    tasks: list[str]
    jsonl: Path                      # OUT/episodes.jsonl
    label: str | None                # the line above the summary
    records: list[dict]              # every record in jsonl
    done: dict[Key, dict]            # this model's and step limit's records
    external: External | None = None
    pending: list[Key] = dataclasses.field(default_factory=list)
    distances: dict[str, list[float]] = dataclasses.field(default_factory=dict)   # records.layout_distances
    expert: dict[str, float] = dataclasses.field(default_factory=dict)            # records.expert_steps

    @property
    def daemon_name(self) -> str:
        """What the records' `daemon` field says: our binary, or the external endpoint."""
        return str(self.reflexd) if self.external is None else self.args.endpoint


@dataclasses.dataclass
class Session:
    """One setting's daemon, connected."""
    setting: S.Setting
    config: dict                     # setting.daemon_config(model)
    client: ReflexClient
    control: ControlClient | None
    daemon: Daemon | None            # None: the external daemon


class Progress:
    """Episodes run against those pending, the ETA, and the --max-minutes stop."""

    def __init__(self, pending: int, stop_at: float | None):
        self.pending, self.stop_at = pending, stop_at
        self.ran = 0
        self.t0 = time.time()
        self.stopped = False
        self.warned: set[str] = set()      # exit settings warned about odd reasons

    def time_up(self) -> bool:
        """True (and stopped) once --max-minutes has passed."""
        if self.stop_at is not None and time.time() >= self.stop_at:
            self.stopped = True
            return True
        return False

    def eta(self) -> str:
        return hms((time.time() - self.t0) / max(self.ran, 1) * (self.pending - self.ran))


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


# --------------------------------------------------------------------------- before the run

def prepare(args) -> Run:
    """The binaries, the model, the settings and tasks asked for, the records so far."""
    reflexd = args.reflexd or default_binary("REFLEXD_BIN", "reflexd")
    reflex = args.reflex or (reflexd.parent / "reflexctl" if (reflexd.parent / "reflexctl").exists()
                             else default_binary("REFLEXCTL_BIN", "reflexctl"))
    if not (args.model / "manifest.json").exists():
        raise Usage(f"no model bundle at {args.model}")
    if not reflex.exists():
        raise Usage(f"no reflex CLI at {reflex} (for `reflexctl inspect`): build it or give --reflex")
    model = inspect_model(reflex, args.model)
    cameras = [name for name, _dtype, _shape in model.inputs if name != "state"]
    if model.chunk > 1 or cameras != ["image"]:
        raise Usage(f"{args.model} answers {model.chunk} actions per step from cameras {cameras}: this evaluation "
                    "drives one-camera, one-action bundles; run a chunked or several-camera bundle with "
                    "`python -m reflex_metaworld.delay` (docs/RESULTS.md, chunked execution)")
    try:
        names = S.expand(args.settings, model.exits)
        settings = [S.parse(n, model.exits) for n in names]
    except ValueError as e:
        raise Usage(str(e)) from e
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for t in tasks:
        T.spec(t)
    args.out.mkdir(parents=True, exist_ok=True)
    jsonl = args.out / "episodes.jsonl"
    label = args.label
    if args.max_steps is not None and label is None:
        label = f"step limit overridden to {args.max_steps}: not comparable with the full evaluation"
    records = read_records(jsonl)
    return Run(args, reflexd, model, names, settings, tasks, jsonl, label, records,
               current_records(records, model.sha256, args.max_steps))


def resume_or_overwrite(run: Run) -> None:
    """Records already there need --resume (kept) or --overwrite (moved to *.bak)."""
    args, jsonl = run.args, run.jsonl
    if jsonl.exists() and run.records and not (args.resume or args.overwrite or args.measure_only):
        raise Usage(f"{jsonl} already holds {len(run.records)} episodes: --resume to continue it, "
                    f"--overwrite to start afresh")
    if args.overwrite and jsonl.exists():
        bak = jsonl.with_suffix(".jsonl.bak")
        os.replace(jsonl, bak)
        log(f"moved the old records to {bak}")
        run.records, run.done = [], {}


def plan(run: Run) -> None:
    """Logs the model and the daemon; drops the settings the daemon cannot serve (an external
    daemon's other scheduler mode; below full depth without calibration data); the pending
    episodes, layout distances and experts' steps."""
    args, model = run.args, run.model
    log(f"model {args.model} ({model.name}, sha256 {model.sha256[:12]}…): {model.exits} exits, "
        f"GFLOPs {', '.join(f'{g:.4f}' for g in model.gflops)}; resident MiB "
        f"{', '.join(f'{b / S.MIB:.2f}' for b in model.resident_bytes)}")
    for p in check_observation(model, args.image_size):
        log(f"WARNING {p}")
    run.external = External(args.endpoint, args.control, args.external_mode) if args.endpoint else None
    if run.external is None:
        kind = "release" if "/release/" in str(run.reflexd) else "debug" if "/debug/" in str(run.reflexd) else "?"
        log(f"reflexd: {run.reflexd} ({kind}{' build: the daemon code is slower than release' if kind == 'debug' else ''})")
    else:
        skipped = [s.name for s in run.settings if s.kind == "budget" and s.mode != run.external.mode]
        if skipped:
            log(f"the running daemon's scheduler mode is {run.external.mode}: skipping {', '.join(skipped)}")
        run.settings = [s for s in run.settings if s.name not in skipped]
    if model.calibration_samples == 0:
        skipped = [s.name for s in run.settings if s.kind == "budget" and s.average_fraction(model) < 1.0]
        if skipped:
            log(f"WARNING the bundle has no calibration data, so the daemon serves only full-depth "
                f"budgets: skipping {', '.join(skipped)}")
        run.settings = [s for s in run.settings if s.name not in skipped]
    for s in run.settings:
        log(f"setting {s.name:15s} {s.describe(model)}")
    n = len(run.settings) * len(run.tasks) * args.episodes
    run.pending = [(s.name, t, e) for s in run.settings for t in run.tasks for e in range(args.episodes)
                   if (s.name, t, e) not in run.done]
    log(f"{len(run.settings)} settings × {len(run.tasks)} tasks × {args.episodes} episodes: "
        f"{len(run.pending)} episodes to run, {n - len(run.pending)} done")
    run.distances = layout_distances(args.demos)
    run.expert = expert_steps(args.demos)


@contextlib.contextmanager
def serve(run: Run, setting: S.Setting, scheduler: dict | None = None) -> Iterator[tuple]:
    """(daemon, pong, policy endpoint, control endpoint) for a setting: a reflexd of our own with
    the setting's config (its scheduler section replaced by `scheduler` if given), stopped on
    exit; or the external daemon (daemon None, pong {}) with the setting's budget applied."""
    if run.external is not None:
        run.external.apply(setting, run.model)
        yield None, {}, run.external.policy, run.external.control
        return
    cfg = setting.daemon_config(run.model)
    with Daemon(run.reflexd, run.args.model, cfg["budget"], scheduler or cfg["scheduler"],
                run.args.log_level) as d:
        pong = d.start()
        yield d, pong, d.policy, d.control


def measure_and_estimate(run: Run) -> tuple[dict, float, float]:
    """The loop's per-step times at full depth (episodes.measure) and the (low, high) seconds
    estimate for the pending episodes; logs both."""
    model = run.model
    with serve(run, S.parse("full", model.exits), {"mode": "fixed"}) as (_d, _pong, endpoint, _control):
        with ReflexClient(endpoint, timeout_ms=REPLY_TIMEOUT_MS) as client:
            m = measure(run.tasks[0], run.args.image_size, client, model)
    log(f"loop per step ({m['steps']} steps of {m['task']}, full depth): render {m['render_ms']:.1f} ms, "
        f"simulator {m['sim_ms']:.1f} ms, daemon round trip {m['rtt_ms']:.1f} ms (daemon total "
        f"{m['daemon_total_ms']:.1f} ms) = {m['step_ms']:.1f} ms")
    fractions = {}
    for st in run.settings:
        fractions[st.name] = (model.fractions[st.exit - 1] if st.kind == "exit"
                              else st.average_fraction(model))
    lo, hi = estimate(run.pending, m, fractions, run.expert)
    log(f"per step at exit 1 only: ~{step_ms_at(m, model.fractions[0]):.1f} ms. Estimate for the "
        f"{len(run.pending)} pending episodes: {hms(lo)} if episodes take the experts' steps (to "
        f"{hms(hi)} if every one runs to its step limit)")
    return m, lo, hi


# --------------------------------------------------------------------------- the run

def run_all(run: Run, t_run: float) -> Progress:
    """Every setting's pending episodes, in order, until done, --max-minutes or Ctrl-C (the
    finished episodes are in episodes.jsonl); an external daemon's budget restored at the end."""
    args = run.args
    progress = Progress(len(run.pending), None if args.max_minutes is None else t_run + 60 * args.max_minutes)
    try:
        for s in run.settings:
            todo = [(t, e) for t in run.tasks for e in range(args.episodes) if (s.name, t, e) not in run.done]
            if not todo:
                log(f"{s.name}: done")
                continue
            if progress.time_up():
                break
            run_setting(run, s, todo, progress)
            if progress.stopped:
                break
    except KeyboardInterrupt:
        log("interrupted: finished episodes are saved; --resume continues")
        progress.stopped = True
    finally:
        if run.external is not None:
            run.external.restore()
    return progress


def run_setting(run: Run, s: S.Setting, todo: list[tuple[str, int]], progress: Progress) -> None:
    """One setting's (task, episode)s on its own daemon; an exit-K setting's daemon must have
    exactly K exits loaded."""
    model = run.model
    cfg = s.daemon_config(model)
    with serve(run, s) as (daemon, pong, endpoint, control):
        with contextlib.ExitStack() as stack:
            ctl = stack.enter_context(ControlClient(control, timeout_ms=10_000)) if control else None
            stats0 = ctl.stats() if ctl else {}
            if s.kind == "exit" and ctl and stats0.get("loaded_exits") != s.exit:
                raise RuntimeError(f"{s.name}: memory_mb {cfg['budget']['memory_mb']} left "
                                   f"{stats0.get('loaded_exits')} exits loaded, not {s.exit}")
            log(f"== {s.name}: {s.describe(model)}; {len(todo)} episodes; daemon "
                f"{pong.get('version', 'external')}, loaded exits {stats0.get('loaded_exits')}, "
                f"thresholds {stats0.get('thresholds')}")
            client = stack.enter_context(ReflexClient(endpoint, timeout_ms=REPLY_TIMEOUT_MS))
            session = Session(s, cfg, client, ctl, daemon)
            by_task: dict[str, list[int]] = {}
            for t, e in todo:
                by_task.setdefault(t, []).append(e)
            for t, eps in by_task.items():
                run_task(run, session, t, eps, progress)
                if progress.stopped:
                    break


def run_task(run: Run, session: Session, task: str, episodes: list[int], progress: Progress) -> None:
    """A setting's episodes of one task in one scene, then a line for the task."""
    s = session.setting
    scene = TaskScene(task, run.args.image_size, *image_view(run.model))
    t_task = time.time()
    recs = []
    try:
        for e in episodes:
            if progress.time_up():
                break
            recs.append(run_one(run, session, scene, e, progress))
    finally:
        scene.close()
    if recs:
        sr = np.mean([r["success"] for r in recs])
        fr = sum(r["gflops_sum"] for r in recs) / sum(r["steps"] for r in recs) / run.model.full_gflops
        log(f"-- {s.name} {task}: {100 * sr:.0f}% success in {len(recs)} episodes, "
            f"mean fraction {fr:.3f}, {time.time() - t_task:.0f} s; {progress.ran}/{progress.pending} "
            f"done, ETA {progress.eta()}")


def run_one(run: Run, session: Session, scene: TaskScene, episode: int, progress: Progress) -> dict:
    """One episode, its record appended to episodes.jsonl and returned."""
    s, task = session.setting, scene.task
    robot = f"{s.name}.{task}"[:64]    # one robot per task, reset per episode
    try:
        rec = run_episode(scene, session.client, robot, episode, s, run.model, run.args.max_steps)
    except (TimeoutError, ReflexError) as err:
        d = session.daemon
        tail = d.log_tail() if d is not None else ""
        alive = d.alive() if d is not None else True
        raise RuntimeError(f"{robot}: {err} (daemon {'alive' if alive else 'DEAD'})\n{tail}") from err
    stats = session.control.stats() if session.control else {}
    record = episode_record(s, task, episode, rec, model=run.model, model_dir=run.args.model,
                            config=session.config, stats=stats, distances=run.distances,
                            daemon=run.daemon_name)
    append_record(run.jsonl, record)
    run.done[(s.name, task, episode)] = record
    progress.ran += 1
    log_episode(run, s, task, episode, rec, progress)
    return record


def log_episode(run: Run, s: S.Setting, task: str, episode: int, rec: dict, progress: Progress) -> None:
    """An episode's warnings (odd reasons once per exit setting, unknown words) and, unless
    --quiet, its line."""
    odd = set(rec["reasons"]) - {"memory", "last"}
    if s.kind == "exit" and odd and s.name not in progress.warned:
        progress.warned.add(s.name)
        log(f"WARNING {s.name}: every step came from exit {s.exit}, but the "
            f"replies' reasons are {rec['reasons']}, not only memory/last "
            f"(a daemon issue: see docs/RESULTS.md)")
    if rec["unknown_words"]:
        log(f"WARNING words unknown to the model: {rec['unknown_words']}")
    if not run.args.quiet:
        hist = " ".join(f"{x}" for x in rec["exit_counts"])
        outcome = (f"SUCCESS at step {rec['first_success']}" if rec["success"]
                   else f"fail after {rec['steps']}")
        log(f"{s.name} {task} ep {episode + 1}/{run.args.episodes}: "
            f"{outcome} "
            f"| frac {rec['mean_fraction']:.2f} | exits [{hist}] | {rec['wall_s']:.1f} s "
            f"(render {rec['render_ms']:.1f} + sim {rec['sim_ms']:.1f} + daemon "
            f"{rec['rtt_ms']:.1f} ms/step) | {progress.ran}/{progress.pending}, ETA {progress.eta()}")


def main(argv=None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    t_run = time.time()
    try:
        run = prepare(args)
        if args.summary_only:
            write_summary(args.out, run.done, run.model, S.default_names(run.model.exits) + ["frozen-first"],
                          args.results_md, run.label)
            return 0
        resume_or_overwrite(run)
    except Usage as e:
        log(str(e))
        return 2
    plan(run)
    m, lo, hi = measure_and_estimate(run)
    if args.measure_only:
        (args.out / "measure.json").write_text(json.dumps(
            {"measure": m, "pending": len(run.pending), "estimate_s": [lo, hi]}, indent=1) + "\n")
        return 0
    progress = run_all(run, t_run)
    if progress.stopped:
        log(f"stopped after {progress.ran} episodes ({hms(time.time() - t_run)}); rerun with --resume to continue")
    else:
        log(f"ran {progress.ran} episodes in {hms(time.time() - t_run)}")
    write_summary(args.out, run.done, run.model, run.names + S.default_names(run.model.exits) + ["frozen-first"],
                  args.results_md, run.label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
