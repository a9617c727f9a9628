"""Builds the int8 bundle of a float bundle: every linear weight int8 with per-output-column
float32 scales (docs/MODEL_FORMAT.md, "int8 weights"), everything else as it was.

    ~/.cache/reflex/venv/bin/python -m reflex_model.quantize models/default \\
        --out models/default-int8 --demos ~/.cache/reflex/demos-dart [--report report.json]

With --demos (Meta-World validation demonstrations, the `*-val.npz` files of reflex_metaworld),
the calibration distances are recomputed with the int8 weights exactly as the exporter computes
them (every validation frame, random-history commits, seed 1000), and the int8 bundle's actions
are compared with the float32 bundle's on those frames, exit by exit. Without it, the float32
bundle's calibration file is copied (its distances are those of the float32 weights).
"""
from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from .bundle import CALIBRATION, INT8, WEIGHTS, bundle_tensors, read_bundle, read_calibration, round_to_storage
from .cost import cost_model
from .quantization import matrix_names

CALIBRATION_SEED = 1000     # reflex_metaworld.train's final evaluation: --seed 0 + 1000


@torch.no_grad()
def compare_on_demos(net, qnet, demos_dir: Path, manifest: dict) -> dict:
    """Per exit (forced history: exit i commits its own state, as the runtime with the exit forced
    to i), the RMS difference of the int8 bundle's clipped actions from the float32 bundle's, in
    units of the action's half range (high − low) / 2, over every action dimension and frame;
    each bundle's xyz RMSE against the demonstrations; and the int8 calibration distances."""
    from reflex_metaworld import calibrate as C  # Meta-World tooling: only with --demos
    from reflex_metaworld import dataset as DS
    tasks = [t["name"] for t in manifest["observation"]["tasks"]]
    demos = DS.load_split(demos_dir, "val", tasks, manifest["vocabulary"],
                          manifest["architecture"]["instruction_tokens"],
                          image_camera=DS.image_camera_for(manifest.get("observation")))
    E = net.num_exits
    half = (net.action_high - net.action_low) / 2
    rng = np.random.default_rng(CALIBRATION_SEED)
    diff = torch.zeros(E, dtype=torch.float64)
    demo_err = {"float32": torch.zeros(E, dtype=torch.float64), "int8": torch.zeros(E, dtype=torch.float64)}
    distances = {"float32": [], "int8": []}
    worst = torch.zeros(E, dtype=torch.float64)
    xyz = list(net.criterion_dims)
    for e in range(demos.episodes):
        commit = rng.integers(1, E + 1, int(demos.ep_length[e]))
        target = demos.actions[demos.episode_slice(e)][:, None]
        actions = {}
        for name, model in (("float32", net), ("int8", qnet)):
            feats = C.episode_features(model, demos, e)
            _, d = C.run_episode(model, feats, commit)
            distances[name].append(d)
            y, _ = C.run_episode(model, feats, None)
            a = model.denormalise(y[:, 1:])                      # clipped actions [L, E, A]
            actions[name] = a
            demo_err[name] += (a - target)[..., xyz].square().mean(-1).sum(0).double()
        delta = (actions["int8"] - actions["float32"]) / half
        diff += delta.square().mean(-1).sum(0).double()
        worst = torch.maximum(worst, delta.abs().amax((0, 2)).double())
    n = demos.frames
    return {
        "frames": n, "episodes": demos.episodes,
        "action_rms_diff_over_half_range": (diff / n).sqrt().tolist(),
        "action_max_abs_diff_over_half_range": worst.tolist(),
        "xyz_rmse_vs_demos": {k: (v / n).sqrt().tolist() for k, v in demo_err.items()},
        "distances": {k: torch.cat(v).to(torch.float32) for k, v in distances.items()},
    }


def quantize_bundle(src: Path, out: Path, demos: Path | None) -> dict:
    """Writes the int8 bundle of `src` to `out`; returns the report (resident bytes per exit of
    both, and with `demos` the accuracy figures)."""
    net, manifest = read_bundle(src)
    qnet = round_to_storage(copy.deepcopy(net), INT8)
    out.mkdir(parents=True, exist_ok=True)
    save_file(bundle_tensors(net, INT8), str(out / WEIGHTS))
    qmanifest = copy.deepcopy(manifest)
    qmanifest["quantization"] = {"dtype": INT8, "tensors": matrix_names(net.dims)}
    qmanifest["name"] = f"{manifest['name']}-int8"
    report = {"source": str(src), "out": str(out)}
    if demos is not None:
        cmp = compare_on_demos(net, qnet, demos, manifest)
        dist = cmp.pop("distances")
        report.update(cmp)
        report["int8_calibration_median"] = dist["int8"].median(0).values.tolist()
        if "calibration" in manifest:
            old = read_calibration(src, manifest)
            if old is not None and old.shape == dist["float32"].shape:
                # How closely this recomputation reproduces the float32 bundle's own file.
                report["float32_calibration_max_abs_diff"] = float((old - dist["float32"]).abs().max())
                report["float32_calibration_median"] = old.median(0).values.tolist()
        save_file({"distances": dist["int8"].contiguous()}, str(out / CALIBRATION))
        qmanifest["calibration"] = CALIBRATION
        calibration = (f"recomputed with the int8 weights on {cmp['frames']} frames of {cmp['episodes']} "
                       f"validation episodes ({demos}), random-history commits, seed {CALIBRATION_SEED}")
    elif "calibration" in manifest:
        shutil.copyfile(src / manifest["calibration"], out / CALIBRATION)
        qmanifest["calibration"] = CALIBRATION
        calibration = "copied from the float32 bundle (distances of the float32 weights)"
    else:
        calibration = "none"
    qmanifest["quantized_from"] = {"bundle": str(src), "name": manifest.get("name"), "calibration": calibration,
                                   "command": "python -m reflex_model.quantize " + " ".join(sys.argv[1:])}
    (out / "manifest.json").write_text(json.dumps(qmanifest, indent=2) + "\n")
    report["resident_bytes"] = {
        "float32": [e["resident_bytes"] for e in cost_model(manifest)["exits"]],
        "int8": [e["resident_bytes"] for e in cost_model(qmanifest)["exits"]],
    }
    report["file_bytes"] = {"float32": (src / manifest["weights"]).stat().st_size, "int8": (out / WEIGHTS).stat().st_size}
    return report


def table(report: dict) -> str:
    rb = report["resident_bytes"]
    lines = ["exit  resident float32  resident int8  ratio" +
             ("  action RMS diff (% half range)  max |diff| (%)  xyz RMSE vs demos f32 / int8" if "frames" in report else "")]
    for i, (f, q) in enumerate(zip(rb["float32"], rb["int8"])):
        line = f"{i + 1:4d}  {f / 2**20:12.3f} MiB  {q / 2**20:9.3f} MiB  {f / q:5.2f}"
        if "frames" in report:
            line += (f"  {100 * report['action_rms_diff_over_half_range'][i]:30.3f}"
                     f"  {100 * report['action_max_abs_diff_over_half_range'][i]:14.2f}"
                     f"  {report['xyz_rmse_vs_demos']['float32'][i]:.4f} / {report['xyz_rmse_vs_demos']['int8'][i]:.4f}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="float bundle directory")
    parser.add_argument("--out", type=Path, required=True, help="int8 bundle directory (created)")
    parser.add_argument("--demos", type=Path, default=None,
                        help="validation demonstrations: recompute calibration and compare actions")
    parser.add_argument("--report", type=Path, default=None, help="write the report as JSON here")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.out.resolve() == args.bundle.resolve():
        parser.error("--out must differ from the source bundle")
    report = quantize_bundle(args.bundle, args.out, args.demos)
    print(table(report), end="")
    if args.report:
        args.report.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
