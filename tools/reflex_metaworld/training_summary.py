"""Figures of a finished training run as Markdown, from the run's result.json (written by train.py
when it exports), optionally replacing the section between the markers in docs/TRAINING.md.

    python -m reflex_metaworld.training_summary                 # print
    python -m reflex_metaworld.training_summary --update docs/TRAINING.md
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

BEGIN = "<!-- training-figures:begin -->"
END = "<!-- training-figures:end -->"


def row(name: str, values, digits: int = 4) -> str:
    return f"| {name} | " + " | ".join(f"{v:.{digits}f}" for v in values) + " |"


def markdown(result: dict, manifest: dict | None = None) -> str:
    val = result["val"]
    E = len(val["forced"]["huber"])
    lines = []
    t = (manifest or {}).get("training", {})
    lines.append(f"Run: {result['steps']} steps ({t.get('planned_steps', '?')} planned, "
                 f"{t.get('batch', '?')} sequences x {t.get('window', '?')} frames), "
                 f"{result['minutes']} min wall-clock including evaluation and export; "
                 f"stop: {result['stop']}. Bundle: `{result['bundle']}`, {result['bundle_mb']} MB, "
                 f"{result['calibration_samples']} calibration samples "
                 f"(round trip through read_bundle: max |diff| {result['round_trip_max_abs_diff']:.1e}).")
    lines.append("")
    lines.append(f"Losses on normalised actions (Huber, delta 1, mean over the 4 action values); "
                 f"validation = {val['frames']} frames of {val['episodes']} held-out episodes "
                 f"(validation seed layouts).")
    lines.append("")
    lines.append("| | ref | " + " | ".join(f"exit {i}" for i in range(1, E + 1)) + " |")
    lines.append("|---|" + "---|" * (E + 1))
    if result.get("train_loss_per_read"):
        lines.append(row("training loss, last 50 steps (augmented, random history)",
                         result["train_loss_per_read"]))
    lines.append(row("validation, random history", val["random"]["huber"]))
    lines.append("| validation, exit forced (own history) | – | "
                 + " | ".join(f"{v:.4f}" for v in val["forced"]["huber"]) + " |")
    tr = result.get("train_subset")
    if tr:
        lines.append(f"| training episodes ({tr['episodes']}), exit forced, no augmentation | – | "
                     + " | ".join(f"{v:.4f}" for v in tr["forced"]["huber"]) + " |")
    lines.append("| validation MSE, exit forced | – | "
                 + " | ".join(f"{v:.4f}" for v in val["forced"]["mse"]) + " |")
    lines.append("| validation xyz RMSE in action units, exit forced | – | "
                 + " | ".join(f"{v:.4f}" for v in val["action_rmse_forced"]) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--result", type=Path,
                    default=Path(os.path.expanduser("~/.cache/reflex/train/result.json")))
    ap.add_argument("--manifest", type=Path, default=Path("models/default/manifest.json"))
    ap.add_argument("--update", type=Path, default=None, help="Markdown file with the markers")
    args = ap.parse_args(argv)
    result = json.loads(args.result.read_text())
    manifest = json.loads(args.manifest.read_text()) if args.manifest.exists() else None
    text = markdown(result, manifest)
    if args.update is None:
        sys.stdout.write(text)
        return 0
    doc = args.update.read_text()
    if BEGIN not in doc or END not in doc:
        print(f"{args.update}: markers {BEGIN} … {END} not found", file=sys.stderr)
        return 2
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    args.update.write_text(head + BEGIN + "\n" + text + END + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
