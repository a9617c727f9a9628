"""The closed-loop evaluation's report: from the records of one model (`records.current_records`),
per setting and task the success rate, mean steps, compute per step (GFLOPs and fraction of full
depth), exit histogram and shares, latency p50/p99 and loop times (`summarise`); the markdown
tables and the lines against issue 6's goals (`markdown`, `goal_lines`); and `write_summary`,
which writes summary.json, summary.md and the plots (plots.py) into the output folder and the
markdown into docs/RESULTS.md's `<!-- eval:begin -->` … `<!-- eval:end -->` section.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

from . import eval_settings as S
from . import tasks as T
from .records import Key, lat_merge, lat_quantile, log

NEAR_LAYOUT_M = 0.005    # the summary splits full-depth success at this layout distance


def summarise(records: dict[Key, dict], model: S.ModelInfo,
              settings_order: list[str], tasks_order: list[str]) -> dict:
    """The summary (summary.json): the model, and per setting its config, description, `overall`
    (all its episodes; success_rate_task_mean: the mean over tasks of the per-task rate) and
    `tasks` (per task). Settings and tasks in the orders given, any others after them, sorted."""
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


def markdown(summary: dict, tasks_all: list[str], figures_prefix: str | None = "",
             label: str | None = None) -> str:
    """summary.md: the per-setting table, per-task success and compute tables (tasks in the order
    of tasks_all), the goal lines and, unless figures_prefix is None, the figures (their paths
    prefixed by it)."""
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
        L.append("### Against the default model's goals (full depth ≥ 80 %; vision and depth matter; 0.4 within 3 points)\n")
        L.extend(f"- {g}" for g in goals)
        L.append("")
    if figures_prefix is not None:
        L.append("### Figures\n")
        L.append(f"![success vs compute]({figures_prefix}success_vs_compute.png)\n")
        L.append(f"![exit histograms]({figures_prefix}exit_histograms.png)\n")
    return "\n".join(L) + "\n"


def goal_lines(summary: dict) -> list[str]:
    """The summary against issue 6's goals (none without a `full` setting); "met"/"not met" only
    when `full` covers all 12 tasks."""
    st = summary["settings"]

    def sr(name):
        return st[name]["overall"]["success_rate_task_mean"] if name in st else None

    full = sr("full")
    out = []
    if full is None:
        return out
    n = st["full"]["overall"]["tasks"]
    complete = n == len(T.TASK_NAMES)
    tasks_word = "task" if n == 1 else "tasks"

    def verdict(ok: bool) -> str:
        return ("met" if ok else "not met") if complete else f"partial run ({n} {tasks_word})"

    out.append(f"full depth: {_pct(full)} mean success over {n} {tasks_word} (goal ≥ 80% over 12): "
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
    """Replaces what lies between `<!-- eval:begin -->` and `<!-- eval:end -->` in `path` with
    `text`; False (nothing written) if the file or the markers are missing."""
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


def write_summary(out: Path, records: dict[Key, dict], model: S.ModelInfo, settings_order: list[str],
                  results_md: Path | None, label: str | None) -> dict | None:
    """Writes summary.json, summary.md and the plots into `out` (and the markdown into results_md's
    eval section), prints the per-setting table and the goals; returns the summary (None, and
    nothing written, without records)."""
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
        elif not results_md.exists():
            log(f"WARNING {results_md}: no such file, not updated (it needs a <!-- eval:begin --> … <!-- eval:end --> section)")
        else:
            log(f"WARNING {results_md} has no <!-- eval:begin --> … <!-- eval:end --> section: not updated")
    log(f"summary: {out / 'summary.md'}, {out / 'summary.json'}, plots in {out}")
    print()
    text = markdown(summary, list(T.TASK_NAMES), None, label)
    mark = "### Against the goals"
    goals = mark + text.split(mark, 1)[1] if mark in text else ""
    print(text.split("### Success per task")[0] + goals, flush=True)
    return summary
