"""Plots a reflexd step trace: the exit each robot got over time, the realised compute against
the budget's target, and the step latency against the deadline.

    python -m reflex_trace.plot /var/log/reflexd/trace.jsonl* --out trace.png

Rotated files (PATH.1, PATH.2, ...) may be given too; lines are ordered by time."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def read(paths) -> list[dict]:
    lines = []
    for p in paths:
        with open(p) as f:
            lines += [json.loads(l) for l in f if l.strip()]
    lines.sort(key=lambda l: l["t"])
    return lines


def rolling(values: np.ndarray, n: int, fn) -> np.ndarray:
    return np.array([fn(values[max(0, i - n + 1): i + 1]) for i in range(len(values))])


def plot(lines: list[dict], out: Path, window: int = 100, max_robots: int = 8) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not lines:
        raise SystemExit("the trace has no lines")
    t0 = lines[0]["t"]
    t = np.array([l["t"] - t0 for l in lines])
    fig, (ax_exit, ax_budget, ax_lat) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)

    robots = sorted({l["robot"] for l in lines})
    exits = max(len(l["thresholds"]) for l in lines)
    for k, robot in enumerate(robots[:max_robots]):
        mine = [(l["t"] - t0, l["exit"]) for l in lines if l["robot"] == robot]
        ts, es = zip(*mine)
        ax_exit.plot(ts, np.array(es) + (k - len(robots[:max_robots]) / 2) * 0.06, ".", ms=3, label=robot)
    ax_exit.set_ylabel("exit")
    ax_exit.set_yticks(range(1, exits + 1))
    ax_exit.set_title("exit per step, by robot" + (f" (first {max_robots} of {len(robots)})" if len(robots) > max_robots else ""))
    ax_exit.legend(loc="upper right", fontsize=7, ncol=min(4, len(robots)), markerscale=3)

    fraction = np.array([l["fraction"] for l in lines])
    ax_budget.plot(t, [l["target_fraction"] for l in lines], "k--", lw=1.2, label="target")
    realised = [np.nan if l["realised_fraction"] is None else l["realised_fraction"] for l in lines]
    ax_budget.plot(t, realised, lw=1.2, label="realised (daemon's window)")
    ax_budget.plot(t, rolling(fraction, window, np.mean), lw=1, alpha=0.7, label=f"mean of last {window} steps in the trace")
    probes = [i for i, l in enumerate(lines) if l["probe"]]
    if probes:
        ax_budget.plot(t[probes], fraction[probes], "x", ms=3, color="grey", label="probe steps")
    ax_budget.set_ylabel("compute / full depth")
    ax_budget.set_ylim(0, 1.05)
    ax_budget.set_title("average compute: realised vs target")
    ax_budget.legend(loc="lower right", fontsize=7)

    total_ms = np.array([l["total_us"] for l in lines]) / 1000
    ax_lat.plot(t, total_ms, ".", ms=2, alpha=0.4, label="step (receipt to reply)")
    ax_lat.plot(t, rolling(total_ms, window, lambda v: np.percentile(v, 50)), lw=1, label=f"p50 of last {window}")
    ax_lat.plot(t, rolling(total_ms, window, lambda v: np.percentile(v, 99)), lw=1, label=f"p99 of last {window}")
    deadline = [np.nan if l["deadline_ms"] is None else l["deadline_ms"] for l in lines]
    if not np.all(np.isnan(deadline)):
        ax_lat.plot(t, deadline, "r--", lw=1.2, label="deadline")
    missed = [i for i, l in enumerate(lines) if l["missed"]]
    if missed:
        ax_lat.plot(t[missed], total_ms[missed], "rx", ms=4, label=f"missed ({len(missed)})")
    ax_lat.set_yscale("log")
    ax_lat.set_ylabel("ms")
    ax_lat.set_xlabel("seconds since the first traced step")
    ax_lat.set_title("latency vs deadline")
    ax_lat.legend(loc="upper right", fontsize=7)

    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace", nargs="+", type=Path, help="trace file(s), JSON lines")
    ap.add_argument("--out", type=Path, default=Path("trace.png"), help="PNG to write")
    ap.add_argument("--window", type=int, default=100, help="steps the rolling mean and percentiles are over")
    args = ap.parse_args(argv)
    lines = read(args.trace)
    plot(lines, args.out, window=args.window)
    print(f"{args.out}: {len(lines)} steps, {len({l['robot'] for l in lines})} robots")


if __name__ == "__main__":
    main()
