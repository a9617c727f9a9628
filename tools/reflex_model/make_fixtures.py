"""Regenerates the parity fixtures of the Swift engine tests (Tests/Fixtures): four small
random-weight bundles (three of format 1, `tiny-int8` with int8 weight matrices; `tiny-chunked`,
format 2: two cameras and a chunk of H = 8 actions) and an 8-step episode for each, computed by
the PyTorch reference.

    ~/.cache/reflex/venv/bin/python -m reflex_model.make_fixtures

Deterministic for a seed. Each bundle is read back and the episode is computed with the
weights as stored (bfloat16-rounded for tiny-readout, int8 · scale for tiny-int8), so a runtime that reads the bundle
must reproduce the episode to float32 accuracy.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from .bundle import calibration_distances, read_bundle, round_to_storage, write_bundle
from .network import ReflexNet, is_transposed, split_words

REPO = Path(__file__).resolve().parents[2]
VOCABULARY = {"words": ["<pad>", "<unk>", "open", "close", "the", "drawer", "door", "pick", "up",
                        "red", "block", "push", "then"],
              "pad": "<pad>", "unknown": "<unk>"}
ALWAYS, NEVER = 1e9, -1.0
# Thresholds: ALWAYS / NEVER force the rule; "stop" / "go" are set from the step's real
# distance (2× / 0.5× it, 3 significant digits) so that the comparison itself decides, with
# margins far beyond float32 disagreement.
FIXTURES = {
    "tiny": {
        "architecture": {"width": 32, "heads": 2, "mlp_hidden": 64, "blocks": 6, "exit_every": 2,
                         "patch_size": 8, "instruction_tokens": 4, "pool": "max", "norm_eps": 1e-5,
                         "head": {"lstm_hidden": 24, "lstm_layers": 2, "mlp_hidden": 32}},
        "image_shape": (32, 32, 3), "state_dim": 4, "action_dim": 4, "criterion_dims": [0, 1, 2],
        "storage": "float32", "calibration_samples": 64,
        "episode": [
            ("open the drawer", [ALWAYS, ALWAYS, ALWAYS]),                  # exit 1, forced
            ("Close the DOOR.", [NEVER, ALWAYS, ALWAYS]),                   # exit 2, forced
            ("pick up the red block", [NEVER, NEVER, NEVER]),               # exit 3: the last always stops
            ("push the door-handle", ["go", "stop", ALWAYS]),               # exit 2 by comparison; unknown word
            ("open the door then close the drawer", ["stop", NEVER, NEVER]),  # exit 1 by comparison; > L words
            ("  ", ["go", "go", NEVER]),                                    # exit 3 by comparison; all pad
            ("push the red block", [NEVER, ALWAYS, NEVER]),                 # exit 2, forced
            ("open the drawer", ["stop", NEVER, NEVER]),                    # exit 1 by comparison
        ],
    },
    "tiny-readout": {
        # Non-square image and non-contiguous criterion dims catch row/column and index mix-ups.
        "architecture": {"width": 32, "heads": 2, "mlp_hidden": 64, "blocks": 4, "exit_every": 1,
                         "patch_size": 8, "instruction_tokens": 4, "pool": "readout", "norm_eps": 1e-5,
                         "head": {"lstm_hidden": 24, "lstm_layers": 1, "mlp_hidden": 32}},
        "image_shape": (24, 40, 3), "state_dim": 5, "action_dim": 4, "criterion_dims": [0, 1, 3],
        "storage": "bfloat16", "calibration_samples": 0,
        "episode": [
            ("open the drawer", [ALWAYS, ALWAYS, ALWAYS, ALWAYS]),          # exit 1, forced
            ("Close the DOOR.", [NEVER, NEVER, ALWAYS, ALWAYS]),            # exit 3, forced
            ("pick up the red block", [NEVER, NEVER, NEVER, NEVER]),        # exit 4: the last always stops
            ("push the door-handle", ["go", "stop", ALWAYS, ALWAYS]),       # exit 2 by comparison; unknown word
            ("open the door then close the drawer", ["stop", NEVER, NEVER, NEVER]),  # exit 1; > L words
            ("  ", ["go", "go", "go", NEVER]),                              # exit 4 by comparison; all pad
            ("push the red block", [NEVER, ALWAYS, NEVER, NEVER]),          # exit 2, forced
            ("open the drawer", ["go", "go", "stop", NEVER]),               # exit 3 by comparison
        ],
    },
    "tiny-chunked": {
        # Format 2: two cameras of different sizes (the second non-square), a 6-D state, a chunk
        # of H = 8 actions, the criterion over the first K = 3 of them.
        "architecture": {"width": 32, "heads": 2, "mlp_hidden": 64, "blocks": 6, "exit_every": 2,
                         "patch_size": 8, "instruction_tokens": 4, "pool": "max", "norm_eps": 1e-5,
                         "head": {"lstm_hidden": 24, "lstm_layers": 1, "mlp_hidden": 32}},
        "cameras": [("image", (32, 32, 3)), ("wrist_image", (16, 24, 3))],
        "state_dim": 6, "action_dim": 4, "criterion_dims": [0, 1, 2],
        "chunk": 8, "period_s": 0.05, "criterion_actions": 3,
        "storage": "float32", "calibration_samples": 32,
        "episode": [
            ("open the drawer", [ALWAYS, ALWAYS, ALWAYS]),                  # exit 1, forced
            ("Close the DOOR.", [NEVER, ALWAYS, ALWAYS]),                   # exit 2, forced
            ("pick up the red block", [NEVER, NEVER, NEVER]),               # exit 3: the last always stops
            ("push the door-handle", ["go", "stop", ALWAYS]),               # exit 2 by comparison; unknown word
            ("open the door then close the drawer", ["stop", NEVER, NEVER]),  # exit 1 by comparison
            ("  ", ["go", "go", NEVER]),                                    # exit 3 by comparison
            ("push the red block", [NEVER, ALWAYS, NEVER]),                 # exit 2, forced
            ("open the drawer", ["stop", NEVER, NEVER]),                    # exit 1 by comparison
        ],
    },
    "tiny-int8": {
        # int8 weight matrices (per-output-column scales). MLP 288: fc1's 18 blocks of 16
        # columns split unevenly across 2 and 3 threads; fc2's K = 288.
        "architecture": {"width": 32, "heads": 2, "mlp_hidden": 288, "blocks": 4, "exit_every": 1,
                         "patch_size": 8, "instruction_tokens": 4, "pool": "max", "norm_eps": 1e-5,
                         "head": {"lstm_hidden": 24, "lstm_layers": 2, "mlp_hidden": 32}},
        "image_shape": (32, 32, 3), "state_dim": 4, "action_dim": 4, "criterion_dims": [0, 1, 2],
        "storage": "int8", "calibration_samples": 32,
        "episode": [
            ("open the drawer", [ALWAYS, ALWAYS, ALWAYS, ALWAYS]),          # exit 1, forced
            ("Close the DOOR.", [NEVER, ALWAYS, ALWAYS, ALWAYS]),           # exit 2, forced
            ("pick up the red block", [NEVER, NEVER, NEVER, NEVER]),        # exit 4: the last always stops
            ("push the door-handle", ["go", "stop", ALWAYS, ALWAYS]),       # exit 2 by comparison; unknown word
            ("open the door then close the drawer", ["stop", NEVER, NEVER, NEVER]),  # exit 1 by comparison
            ("  ", ["go", "go", "stop", NEVER]),                            # exit 3 by comparison
            ("push the red block", [NEVER, NEVER, ALWAYS, NEVER]),          # exit 3, forced
            ("open the drawer", ["stop", NEVER, NEVER, NEVER]),             # exit 1 by comparison
        ],
    },
}
GAIN = 1.2                  # weight scale: exits differ by distances of ~1e-2 … 1e-1
STOP_FACTOR, GO_FACTOR = 2.0, 0.5
MIN_DECIDING_DISTANCE = 2e-3


def randomize(net: ReflexNet, rng: np.random.Generator, gain: float = GAIN) -> None:
    """Random weights larger than a trained model's, so that every exit's output differs."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(".weight") and p.dim() == 1:      # layer norms
                v = 1 + 0.3 * rng.standard_normal(p.shape)
            elif p.dim() == 2 and is_transposed(name, 2):      # [out, in]
                v = gain * rng.standard_normal(p.shape) / np.sqrt(p.shape[1])
            elif p.dim() == 2:                                 # embeddings
                v = 0.5 * rng.standard_normal(p.shape)
            else:                                              # biases, readout token
                v = 0.2 * rng.standard_normal(p.shape)
            p.copy_(torch.from_numpy(v.astype(np.float32)))


def nice(values, digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in values]


def random_inputs(rng, dims, n: int, state_mean, state_std):
    """([image [n, H, W, C] uint8 per camera], state [n, D], word ids [n, L])."""
    images = [torch.from_numpy(rng.integers(0, 256, (n, H, W, C), dtype=np.uint8))
              for _, H, W, C in dims.cameras]
    state = torch.from_numpy((rng.standard_normal((n, dims.D)) * state_std + state_mean).astype(np.float32))
    words = torch.from_numpy(rng.integers(0, dims.V, (n, dims.L)))
    return images, state, words


def random_rec_state(rng, dims, n: int):
    h = np.tanh(rng.standard_normal((n, dims.layers, dims.h)))
    c = rng.standard_normal((n, dims.layers, dims.h))
    return torch.from_numpy(h.astype(np.float32)), torch.from_numpy(c.astype(np.float32))


def build_net(cfg: dict, rng: np.random.Generator) -> ReflexNet:
    """A random net whose normalisation makes clipping happen on some steps, not all."""
    D, A = cfg["state_dim"], cfg["action_dim"]
    state_norm = {"mean": nice(rng.uniform(-1, 1, D)), "std": nice(rng.uniform(0.5, 2, D))}
    action = {"mean": nice(rng.uniform(-0.3, 0.3, A)), "std": nice(rng.uniform(0.5, 1.5, A)),
              "low": [-1.0] * A, "high": [1.0] * A}
    net = ReflexNet(cfg["architecture"], cfg.get("image_shape"), D, A, VOCABULARY,
                    state_norm=state_norm, action=action, criterion_dims=cfg["criterion_dims"],
                    cameras=cfg.get("cameras"), chunk=cfg.get("chunk", 1), period_s=cfg.get("period_s"),
                    criterion_actions=cfg.get("criterion_actions", 1))
    randomize(net, rng)
    round_to_storage(net, cfg["storage"])
    # Bounds at the 15th / 85th percentile of unclipped actions on random inputs: each bound
    # clips about one tentative value in seven.
    dims = net.dims
    image, state, words = random_inputs(rng, dims, 64, net.state_mean.numpy(), net.state_std.numpy())
    with torch.no_grad():
        features = net.exit_features(image, state, words)
        rec = random_rec_state(rng, dims, 64)
        y = torch.cat([net.head_step(features[:, i], rec)[1] for i in range(dims.E + 1)])
        raw = (y * net.action_std + net.action_mean).reshape(-1, A).numpy()
    net.action_low.copy_(torch.tensor(nice(np.quantile(raw, 0.15, axis=0), 3)))
    net.action_high.copy_(torch.tensor(nice(np.quantile(raw, 0.85, axis=0), 3)))
    return net


def thresholds_for(plan: list, distances: torch.Tensor) -> list[float]:
    out = []
    for i, entry in enumerate(plan):
        if isinstance(entry, str):
            d = float(distances[i])
            if d < MIN_DECIDING_DISTANCE:
                raise RuntimeError(f"distance {d} too small for a deciding threshold; change the plan or seed")
            out.append(float(f"{(STOP_FACTOR if entry == 'stop' else GO_FACTOR) * d:.3g}"))
        else:
            out.append(float(entry))
    return out


def expected_exit(plan: list) -> int:
    for i, entry in enumerate(plan, start=1):
        if entry == "stop" or entry == ALWAYS:
            return i
    return len(plan)


def run_episode(net: ReflexNet, cfg: dict, rng: np.random.Generator):
    dims, E = net.dims, net.num_exits
    steps, tensors, rec = [], {}, None
    clipped = 0
    for t, (instruction, plan) in enumerate(cfg["episode"]):
        images, state, _ = random_inputs(rng, dims, 1, net.state_mean.numpy(), net.state_std.numpy())
        obs = {"state": state[0], "instruction": instruction}
        obs.update({name: image[0] for name, image in zip(net.camera_names, images)})
        full = net.step(obs, rec, None)                  # every exit: the real distances
        thresholds = thresholds_for(plan, full.distances)
        result = net.step(obs, rec, thresholds)
        if result.exit != expected_exit(plan):
            raise RuntimeError(f"step {t}: exit {result.exit}, planned {expected_exit(plan)}")
        reached = result.exit + 1
        clipped += int(((result.actions == net.action_low) | (result.actions == net.action_high)).sum())
        padded = lambda rows, n: torch.cat([rows, torch.zeros(n - rows.shape[0], *rows.shape[1:])])
        tensors.update({f"step{t}.{name}": image[0].contiguous() for name, image in zip(net.camera_names, images)})
        tensors.update({
            f"step{t}.state": state[0].contiguous(),
            f"step{t}.word_ids": torch.tensor(result.word_ids, dtype=torch.float32),
            f"step{t}.features": padded(result.features, E + 1),
            f"step{t}.actions": padded(result.actions, E + 1),
            f"step{t}.outputs": padded(result.outputs, E + 1),
            f"step{t}.distances": padded(result.distances, E),
            f"step{t}.reached": torch.tensor([float(reached)]),
            f"step{t}.action": result.action.clone(),
            f"step{t}.h": result.state[0].clone(),
            f"step{t}.c": result.state[1].clone(),
        })
        steps.append({"step": t, "instruction": instruction, "thresholds": thresholds,
                      "exit": result.exit, "unknown_words": result.unknown_words,
                      "word_ids": result.word_ids})
        rec = result.state
    total = sum(int(tensors[f"step{t}.reached"]) for t in range(len(steps))) * dims.A * dims.chunk
    if not 0 < clipped < total:
        raise RuntimeError(f"clipping should happen sometimes: {clipped} of {total} values clipped")
    return steps, tensors


def make_fixture(name: str, cfg: dict, out: Path, seed: int) -> None:
    rng = np.random.default_rng([seed, sum(name.encode())])
    torch.manual_seed(seed)                              # default init before randomize
    net = build_net(cfg, rng)
    calibration = None
    if cfg["calibration_samples"]:
        n = cfg["calibration_samples"]
        image, state, words = random_inputs(rng, net.dims, n, net.state_mean.numpy(), net.state_std.numpy())
        calibration = calibration_distances(net, image, state, words, random_rec_state(rng, net.dims, n))
    directory = out / name
    for stale in ("calibration.safetensors",):
        (directory / stale).unlink(missing_ok=True)
    write_bundle(net, directory, name=name, storage_dtype=cfg["storage"], calibration=calibration,
                 observation={"note": "random weights: parity fixture for the Swift engine",
                              "generator": "tools/reflex_model/make_fixtures.py", "seed": seed})
    loaded, _ = read_bundle(directory)
    for (n1, p1), (n2, p2) in zip(net.state_dict().items(), loaded.state_dict().items()):
        if n1 != n2 or not torch.equal(p1, p2):
            raise RuntimeError(f"{name}: {n1} did not survive the round trip")
    steps, tensors = run_episode(loaded, cfg, rng)
    (directory / "episode.json").write_text(json.dumps(steps, indent=1) + "\n")
    save_file(tensors, str(directory / "episode.safetensors"))
    exits = [s["exit"] for s in steps]
    print(f"{directory}: exits {exits}")


# Instructions whose words the Swift tokenizer must split exactly as the reference does: ASCII,
# full-width and compatibility forms (NFKC), decomposed and composed accents, Cyrillic, Chinese,
# Devanagari (combining marks inside words), special lower-casing (İ, ß), numbers in other forms.
TOKENIZER_CASES = [
    "Open  the DRAWER!", "push_the-door.handle,now", "button2 3x", "", " ,.;",
    "Caf\u00e9 \u212a\u00d6ffne", "\uff2f\uff30\uff25\uff2e the drawer", "\u043e\u0442\u043a\u0440\u043e\u0439 \u044f\u0449\u0438\u043a",
    "\u00f6ffne die Schublade", "o\u0308ffne", "\u6253\u5f00\u62bd\u5c49", "\u0916\u094b\u0932\u0947\u0902 \u0926\u0930\u093e\u091c\u093c",
    "\u2460 \u00bd x\u00b2", "\ufb01le", "STRASSE Stra\u00dfe", "\u0130stanbul", "tab\there\nnewline",
    "emoji \U0001F916 robot", "\u0391\u03b8\u0397\u039d\u0391",
]


def tokenizer_cases() -> list[dict]:
    """[{"text", "words"}] for Tests/Fixtures/tokenizer-cases.json (the parity cases)."""
    return [{"text": text, "words": split_words(text)} for text in TOKENIZER_CASES]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "Tests" / "Fixtures")
    parser.add_argument("--seed", type=int, default=20241105)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name, cfg in FIXTURES.items():
        make_fixture(name, cfg, args.out, args.seed)
    (args.out / "tokenizer-cases.json").write_text(json.dumps(tokenizer_cases(), indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
