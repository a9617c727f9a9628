"""Figures of the closed-loop evaluation (matplotlib, Agg backend), from the summary dict
(report.summarise, summary.json).

    python -m reflex_metaworld.plots docs/results/summary.json

- success_vs_compute.png: mean success over tasks against the mean compute per step (fraction of
  full depth): full depth, each forced exit (a line from exit 1 to full depth), each average
  budget in online and fixed mode, and the frozen-image ablations.
- exit_histograms.png: the share of steps answered by each exit, one panel per budget setting
  (and full depth for reference).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ONLINE, FIXED = "tab:green", "tab:orange"


def _points(summary: dict):
    for name, v in summary["settings"].items():
        o = v["overall"]
        yield name, o["mean_fraction"], 100 * o["success_rate_task_mean"], o["tasks"]


def success_vs_compute(summary: dict, path: Path, label: str | None = None) -> Path:
    fig, ax = plt.subplots(figsize=(9.6, 5.0), dpi=120)
    pts = {n: (x, y, nt) for n, x, y, nt in _points(summary)}
    E = summary["model"]["exits"]
    # forced exits, connected, ending at full depth
    ex = sorted((int(n.split("-")[1]), x, y) for n, (x, y, _) in pts.items() if n.startswith("exit-"))
    if "full" in pts and not any(k == E for k, _, _ in ex):
        ex.append((E, pts["full"][0], pts["full"][1]))
    if ex:
        ax.plot([x for _, x, _ in ex], [y for _, _, y in ex], "-o", color="tab:blue", lw=1.2, ms=6,
                label="exit k forced (memory cap)", zorder=2)
        for k, x, y in ex:
            ax.annotate(f"{k}", (x, y), textcoords="offset points", xytext=(0, 7), ha="center",
                        fontsize=8, color="tab:blue")
    if "full" in pts:
        x, y, _ = pts["full"]
        ax.plot([x], [y], "*", color="black", ms=14, label="full depth", zorder=4)
    for mode, colour, marker in (("online", ONLINE, "^"), ("fixed", FIXED, "s")):
        sel = sorted((x, y, n) for n, (x, y, _) in pts.items()
                     if n.startswith("avg-") and n.endswith("-" + mode))
        if sel:
            ax.plot([x for x, _, _ in sel], [y for _, y, _ in sel], marker, color=colour, ms=8,
                    ls="none", label=f"average budget, {mode}", zorder=3)
            for x, y, n in sel:
                ax.annotate(n.split("-")[1], (x, y), textcoords="offset points",
                            xytext=(6, -10 if mode == "fixed" else 4), fontsize=8, color=colour)
    for name, marker in (("frozen-image", "X"), ("frozen-first", "P")):
        if name in pts:
            x, y, _ = pts[name]
            ax.plot([x], [y], marker, color="tab:red", ms=9, ls="none",
                    label="full depth, " + ("frozen camera (other layout)" if name == "frozen-image"
                                            else "camera frozen at first frame"),
                    zorder=3)
    ax.set_xlabel("mean compute per step (fraction of full depth)")
    ax.set_ylabel("success rate, mean over tasks (%)")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    tasks = max((nt for _, (_, _, nt) in pts.items()), default=0)
    title = f"Meta-World, {tasks} task{'s' if tasks != 1 else ''}, held-out layouts, through reflexd"
    ax.set_title(title + (f"\n{label}" if label else ""), fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def exit_histograms(summary: dict, path: Path, label: str | None = None) -> Path:
    E = summary["model"]["exits"]
    names = [n for n in summary["settings"] if n.startswith("avg-")]
    names = sorted(names, key=lambda n: (n.split("-")[1] != "0.6", n.split("-")[1] != "0.4",
                                         n.split("-")[2]))
    if "full" in summary["settings"]:
        names = names + ["full"]
    if not names:
        names = list(summary["settings"])
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.5 * rows), dpi=120, squeeze=False,
                             sharey=True)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        o = summary["settings"][name]["overall"]
        colour = ONLINE if name.endswith("online") else FIXED if name.endswith("fixed") else "grey"
        ax.bar(range(1, E + 1), [100 * s for s in o["exit_share"]], color=colour)
        ax.set_xticks(range(1, E + 1))
        ax.set_title(f"{name}\nfraction {o['mean_fraction']:.2f}, success "
                     f"{100 * o['success_rate_task_mean']:.0f}%", fontsize=8)
        ax.set_xlabel("exit", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    for r in range(rows):
        axes[r][0].set_ylabel("% of steps", fontsize=8)
    if label:
        fig.suptitle(label, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__)
        return 2
    path = Path(argv[0])
    summary = json.loads(path.read_text())
    label = summary.get("label")
    print(success_vs_compute(summary, path.parent / "success_vs_compute.png", label))
    print(exit_histograms(summary, path.parent / "exit_histograms.png", label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
