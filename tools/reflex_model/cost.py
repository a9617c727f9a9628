"""The cost model of docs/MODEL_FORMAT.md (FLOPs and resident bytes per exit), from a manifest
alone, for cross-checking the Swift engine's figures."""
from __future__ import annotations

import math

from .network import Dims, tensor_shapes


def cost_model(manifest: dict) -> dict:
    """{"embed_flops", "block_flops", "head_flops" (integers), "exits": [{"exit": i,
    "flops": int, "gflops": float, "resident_bytes": int}, i = 1 … E]}."""
    d = Dims.from_manifest(manifest)
    T = d.T
    embed = sum(2 * d.camera_patches(c) * d.camera_patch_dim(c) * d.d for c in range(len(d.cameras)))
    embed += 2 * d.D * d.d
    block = 2 * T * d.d * 3 * d.d + 4 * T * T * d.d + 2 * T * d.d * d.d + 4 * T * d.d * d.m
    head = sum(2 * ((d.d if l == 0 else d.h) + d.h) * 4 * d.h for l in range(d.layers))
    head += 2 * d.h * d.mh + 2 * d.mh * d.chunk * d.A

    shapes = tensor_shapes(d)
    quantized = set((manifest.get("quantization") or {}).get("tensors", []))
    # Bytes in memory: 4 per float32 element; an int8 matrix 1 per weight + 4 per output column.
    elements = {name: (math.prod(shape) + 4 * shape[1] if name in quantized else 4 * math.prod(shape))
                for name, shape in shapes.items()}
    always = sum(n for name, n in elements.items()
                 if not name.startswith(("blocks.", "exit_norms.")))
    per_block = [sum(n for name, n in elements.items() if name.startswith(f"blocks.{b}."))
                 for b in range(d.blocks)]
    per_norm = [elements[f"exit_norms.{i}.weight"] + elements[f"exit_norms.{i}.bias"]
                for i in range(d.E + 1)]

    exits = []
    for i in range(1, d.E + 1):
        flops = embed + i * d.k * block + (i + 1) * head
        resident = always + sum(per_norm[: i + 1]) + sum(per_block[: i * d.k])
        exits.append({"exit": i, "flops": flops, "gflops": flops / 1e9, "resident_bytes": resident})
    return {"embed_flops": embed, "block_flops": block, "head_flops": head, "exits": exits}
