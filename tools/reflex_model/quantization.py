"""int8 weight matrices with one float32 scale per output column (docs/MODEL_FORMAT.md,
"int8 weights"): symmetric, round to nearest, q in −127 … 127, weight = q · scale.

The reference computes with the dequantised weights (fake quantisation): the same int8 values
and scales a runtime reads, so that a runtime that multiplies q · scale in float32 reproduces it."""
from __future__ import annotations

import torch

from .network import Dims, is_transposed, tensor_shapes

SCALE_SUFFIX = ".scale"


def matrix_names(dims: Dims) -> list[str]:
    """The tensors a bundle may store as int8: every linear weight ([in, out]), not the embeddings."""
    return [name for name, shape in tensor_shapes(dims).items() if len(shape) == 2 and is_transposed(name, 2)]


def quantize_matrix(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """w: float32 [in, out] → (q int8 [in, out], scale float32 [out]); scale = max |w[:, j]| / 127
    (0 for an all-zero column, whose q is 0)."""
    w = w.to(torch.float32)
    scale = w.abs().amax(0) / 127
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(w / safe).clamp(-127, 127).to(torch.int8)
    return q, scale


def dequantize_matrix(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """q int8 [in, out], scale float32 [out] → float32 [in, out], one float32 product per weight."""
    return q.to(torch.float32) * scale.to(torch.float32)


def quantize_tensors(tensors: dict[str, torch.Tensor], names: list[str]) -> dict[str, torch.Tensor]:
    """Bundle tensors ([in, out] linear weights) with `names` replaced by int8 + `<name>.scale`."""
    out = dict(tensors)
    for name in names:
        q, scale = quantize_matrix(tensors[name])
        out[name], out[name + SCALE_SUFFIX] = q.contiguous(), scale.contiguous()
    return out


@torch.no_grad()
def fake_quantize(net) -> None:
    """Replaces every linear weight of `net` in place by its int8 round trip (what an int8 bundle
    of it holds). Idempotent: quantising the result again gives the same values and scales."""
    params = dict(net.named_parameters())
    for name in matrix_names(net.dims):
        p = params[name]                                   # PyTorch's [out, in]
        q, scale = quantize_matrix(p.t())
        p.copy_(dequantize_matrix(q, scale).t())
