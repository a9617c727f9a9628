"""The closed-loop evaluation's records: `episodes.jsonl`, one JSON line per (setting, task,
episode), appended as each episode ends (`evaluate.py` writes them, `report.py` summarises them),
and what a record carries besides the episode itself: log-spaced latency histograms, the
evaluation layout's distance to the nearest training layout, and the experts' steps (for the time
estimate). Also `log`, the evaluation's progress lines.

A record is `episode_record(...)`: `v` (RECORD_VERSION), setting, task, episode, seed, the fields
of `episodes.run_episode`'s result, then the layout distance, the daemon's thresholds and window
mean fraction after the episode, the model (sha256 and path), the daemon config, the setting's
description, the daemon (binary or endpoint) and the time. `--resume` keeps only the records of
the same model (sha256), RECORD_VERSION and step limit (`current_records`).
"""
from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from pathlib import Path

from . import eval_settings as S
from . import tasks as T

RECORD_VERSION = 1
LAT_BASE = 1.04          # latency histograms: buckets 4% wide (percentiles to ±2%)

Key = tuple[str, str, int]   # (setting, task, episode)


def log(msg: str) -> None:
    print(f"[eval {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- latency histograms

def lat_add(hist: Counter, us: float) -> None:
    """Counts `us` in a log-spaced histogram keyed by the bucket's value in µs (so that records
    stay comparable if LAT_BASE changes)."""
    hist[int(round(LAT_BASE ** round(math.log(max(us, 1.0)) / math.log(LAT_BASE))))] += 1


def lat_merge(hists) -> Counter:
    """One histogram from several (records' `lat_*_us` dicts, keys as strings, or Counters)."""
    out: Counter = Counter()
    for h in hists:
        out.update({int(k): int(v) for k, v in h.items()})
    return out


def lat_quantile(hist: Counter, q: float) -> float | None:
    """The q quantile (0…1) in µs, to the bucket's value; None for an empty histogram."""
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


# --------------------------------------------------------------------------- episodes.jsonl

def read_records(path: Path) -> list[dict]:
    """Every readable line of `path` (none if it does not exist); unreadable lines are logged and
    skipped."""
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
                    max_steps: int | None = None) -> dict[Key, dict]:
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


def episode_record(setting: S.Setting, task: str, episode: int, rec: dict, *, model: S.ModelInfo,
                   model_dir: Path, config: dict, stats: dict, distances: dict[str, list[float]],
                   daemon: str) -> dict:
    """The line for one episode: `rec` (run_episode's result) with the run's identifying fields.
    stats: the daemon's control stats after the episode ({} without a control socket);
    distances: layout_distances(); daemon: the binary's path or the external endpoint."""
    dist = distances.get(task)
    li = rec["layout_index"]
    return {"v": RECORD_VERSION, "setting": setting.name, "task": task,
            "episode": episode, "seed": T.EVAL_SEED, **rec,
            "layout_distance_m": dist[li] if dist and li < len(dist) else None,
            "thresholds_after": stats.get("thresholds"),
            "window_mean_fraction_after": stats.get("mean_fraction"),
            "model_sha256": model.sha256, "model": str(model_dir),
            "config": config, "description": setting.describe(model),
            "daemon": daemon,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


# --------------------------------------------------------------------------- from the demonstrations

def layout_distances(demos: Path) -> dict[str, list[float]]:
    """Per task, each evaluation layout's distance (m) to the nearest training layout, from the
    demonstrations' layout_distances.json ({} if missing or for another EVAL_SEED)."""
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
