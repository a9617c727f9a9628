"""Writes random-weight bundles of the benchmark configurations (reflex_model.configs) for
`reflexctl bench engine`:

    ~/.cache/reflex/venv/bin/python -m reflex_model.make_bench_bundles OUT [--only default]

Latency does not depend on the weights' values, so the network's default initialisation is
used (float32 storage, the format's worst case for load time and memory).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .bundle import write_bundle
from .configs import BENCH_CONFIGS, BENCH_FORMAT2, DEFAULT_CRITERION_DIMS
from .network import ReflexNet

VOCABULARY = {"words": ["<pad>", "<unk>", "open", "close", "the", "drawer", "door", "window",
                        "pick", "place", "push", "pull", "reach", "button", "lever", "puck"],
              "pad": "<pad>", "unknown": "<unk>"}


def make_bench_bundle(name: str, out: Path, seed: int = 0) -> Path:
    architecture, image_shape, state_dim, action_dim = BENCH_CONFIGS[name]
    torch.manual_seed(seed)
    net = ReflexNet(architecture, image_shape, state_dim, action_dim, VOCABULARY,
                    criterion_dims=DEFAULT_CRITERION_DIMS, **BENCH_FORMAT2.get(name, {}))
    directory = out / name
    write_bundle(net, directory, name=f"bench-{name}",
                 observation={"note": "random weights for benchmarks"})
    return directory


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Writes the benchmark bundles.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--only", default=",".join(BENCH_CONFIGS),
                        help=f"comma-separated subset of {', '.join(BENCH_CONFIGS)}")
    args = parser.parse_args(argv)
    for name in args.only.split(","):
        if name not in BENCH_CONFIGS:
            parser.error(f"unknown configuration '{name}'")
        print(make_bench_bundle(name, args.out))


if __name__ == "__main__":
    main()
