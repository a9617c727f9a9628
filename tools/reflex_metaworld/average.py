"""Weight averaging of two bundles of one architecture (WiSE-FT: Wortsman et al., "Robust
fine-tuning of zero-shot models", CVPR 2022): θ = (1 − α)·θ_A + α·θ_B, then recalibrated and
written as a bundle. Use: A a model, B a fine-tune of A; the average often keeps what A knew and
what the fine-tune added, where the fine-tune alone forgot (docs/TRAINING.md, session 10).

    python -m reflex_metaworld.average models/default ~/.cache/reflex/train-s10c/bundle \\
        --alpha 0.5 --demos ~/.cache/reflex/demos-dart --out ~/.cache/reflex/s10/soup50

Both bundles must have the same architecture, inputs, vocabulary, action and state normalisation
and criterion (the manifest fields that give the weights their meaning); otherwise the average is
meaningless and this exits with an error naming the field. The calibration distances (DeeR's
threshold data) are those of the averaged network on the validation split of --demos (random
history, as `train` makes them); the manifest keeps A's observation and records the average under
`training`. Prints the forced-exit validation Huber loss per exit of the result.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch

from reflex_model.bundle import read_bundle, write_bundle
from reflex_model.network import ReflexNet

from . import calibrate as C
from . import dataset as DS

MUST_MATCH = ("architecture", "inputs", "vocabulary", "action", "state_norm", "criterion")


def average(a: ReflexNet, b: ReflexNet, alpha: float) -> ReflexNet:
    """`a` with every floating-point tensor set to (1 − alpha)·a + alpha·b (in place; returned)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys():
        raise ValueError(f"the networks' tensors differ: {sorted(set(sa) ^ set(sb))[:5]}")
    a.load_state_dict({k: (1 - alpha) * sa[k] + alpha * sb[k] if sa[k].is_floating_point() else sa[k] for k in sa})
    return a


def mismatch(ma: dict, mb: dict) -> str | None:
    """The first manifest field in MUST_MATCH the two bundles disagree on, or None."""
    return next((k for k in MUST_MATCH if ma.get(k) != mb.get(k)), None)


def weights_sha256(directory: Path, manifest: dict) -> str:
    """sha256 of a bundle's weights file (hex)."""
    return hashlib.sha256((directory / manifest["weights"]).read_bytes()).hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path, help="bundle A (weight 1 − alpha)")
    ap.add_argument("b", type=Path, help="bundle B (weight alpha)")
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--demos", type=Path, required=True, help="demonstrations folder: its val split calibrates")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0, help="the random history of the calibration")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    a, ma = read_bundle(args.a)
    b, mb = read_bundle(args.b)
    field = mismatch(ma, mb)
    if field is not None:
        ap.error(f"{args.a} and {args.b} differ in `{field}`: their weights cannot be averaged")
    net = average(a, b, args.alpha).eval()
    val = DS.load_split(args.demos, "val", [t["name"] for t in ma["observation"]["tasks"]], net.vocabulary,
                        ma["architecture"]["instruction_tokens"],
                        image_camera=DS.image_camera_for(ma.get("observation")))
    res = C.evaluate(net, val, None, seed=args.seed)
    write_bundle(net, args.out, name=ma["name"], observation=ma.get("observation"), calibration=res.pop("distances"))
    manifest = json.loads((args.out / "manifest.json").read_text())
    manifest["training"] = {"average": {"a": str(args.a), "b": str(args.b), "alpha": args.alpha,
                                        "a_weights_sha256": weights_sha256(args.a, ma),
                                        "b_weights_sha256": weights_sha256(args.b, mb)},
                            "val_huber_per_exit_forced": res["forced"]["huber"]}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps({"out": str(args.out), "alpha": args.alpha,
                      "val_huber_per_exit_forced": [round(x, 4) for x in res["forced"]["huber"]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
