"""Writes and reads model bundles (docs/MODEL_FORMAT.md): manifest.json, weights.safetensors and
an optional calibration.safetensors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .network import Dims, ReflexNet, is_transposed, manifest_chunk, manifest_inputs, require, tensor_shapes
from .quantization import SCALE_SUFFIX, dequantize_matrix, fake_quantize, matrix_names, quantize_tensors

STORAGE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
INT8 = "int8"      # linear weights as int8 + per-output-column scales, everything else float32
SUPPORTED_STORED = (torch.float32, torch.bfloat16, torch.float16)
WEIGHTS = "weights.safetensors"
CALIBRATION = "calibration.safetensors"


def _numbers(values) -> list[float]:
    """float32 values as the shortest decimals that parse back to the same float32, so that the
    manifest reads well and every reader gets bit-identical normalisation constants."""
    return [float(str(np.float32(v))) for v in torch.as_tensor(values).reshape(-1).tolist()]


def build_manifest(net: ReflexNet, name: str, *, observation: dict | None = None,
                   calibration: bool = False, quantized: list[str] | None = None) -> dict:
    """The manifest in the net's format (format 1 unless it has several cameras, a camera not
    named `image`, a chunk, or was made as format 2)."""
    dm = net.dims
    action = {"dim": dm.A, "low": _numbers(net.action_low), "high": _numbers(net.action_high),
              "mean": _numbers(net.action_mean), "std": _numbers(net.action_std)}
    criterion = {"distance": "rms", "dims": list(net.criterion_dims)}
    if dm.format_version == 2:
        action["chunk"] = dm.chunk
        if net.period_s is not None:
            action["period_s"] = net.period_s
        criterion["first_actions"] = dm.K
    manifest = {
        "format": "reflex.bundle",
        "format_version": dm.format_version,
        "name": name,
        "weights": WEIGHTS,
        "architecture": net.architecture,
        "inputs": [{"name": cam, "dtype": "uint8", "shape": [H, W, C]} for cam, H, W, C in dm.cameras]
                  + [{"name": "state", "dtype": "float32", "shape": [dm.D]}],
        "state_norm": {"mean": _numbers(net.state_mean), "std": _numbers(net.state_std)},
        "action": action,
        "criterion": criterion,
        "vocabulary": net.vocabulary,
        "observation": observation if observation is not None else {},
    }
    if calibration:
        manifest["calibration"] = CALIBRATION
    if quantized:
        manifest["quantization"] = {"dtype": INT8, "tensors": list(quantized)}
    return manifest


def bundle_tensors(net: ReflexNet, storage_dtype: str = "float32") -> dict[str, torch.Tensor]:
    """The bundle's tensors: names as in the state dict, linear weights transposed to [in, out].
    int8: the linear weights int8 with `<name>.scale` float32 [out] beside them."""
    dtype = STORAGE_DTYPES["float32" if storage_dtype == INT8 else storage_dtype]
    out = {}
    for name, t in net.state_dict().items():
        t = t.detach().to("cpu", torch.float32)
        out[name] = (t.t() if is_transposed(name, t.dim()) else t).contiguous().to(dtype)
    return quantize_tensors(out, matrix_names(net.dims)) if storage_dtype == INT8 else out


def write_bundle(net: ReflexNet, directory: str | Path, *, name: str,
                 storage_dtype: str = "float32", observation: dict | None = None,
                 calibration: torch.Tensor | None = None) -> dict:
    """Writes the bundle into `directory` (created); returns the manifest.
    calibration: float32 [N, E] distances (full-depth passes), or None for no file.
    With bfloat16/float16/int8 storage the bundle holds rounded weights: read it back (or
    `round_to_storage` first) to compute with exactly what a runtime sees."""
    if storage_dtype not in STORAGE_DTYPES and storage_dtype != INT8:
        raise ValueError(f"storage_dtype must be one of {sorted(STORAGE_DTYPES) + [INT8]}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(bundle_tensors(net, storage_dtype), str(directory / WEIGHTS))
    if calibration is not None:
        calibration = torch.as_tensor(calibration, dtype=torch.float32)
        if calibration.dim() != 2 or calibration.shape[1] != net.num_exits:
            raise ValueError(f"calibration must be [N, {net.num_exits}], got {list(calibration.shape)}")
        save_file({"distances": calibration.contiguous()}, str(directory / CALIBRATION))
    manifest = build_manifest(net, name, observation=observation, calibration=calibration is not None,
                              quantized=matrix_names(net.dims) if storage_dtype == INT8 else None)
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def net_from_manifest(manifest: dict) -> ReflexNet:
    """A ReflexNet (default-initialised weights) shaped and normalised as the manifest says."""
    if require(manifest, "format", "") != "reflex.bundle":
        raise ValueError("manifest: format must be 'reflex.bundle'")
    if require(manifest, "format_version", "") not in (1, 2):
        raise ValueError(f"manifest: unsupported format_version {manifest['format_version']}")
    cameras, state = manifest_inputs(manifest)
    chunk, period_s, k = manifest_chunk(manifest)
    action = require(manifest, "action", "")
    state_norm = require(manifest, "state_norm", "")
    criterion = require(manifest, "criterion", "")
    if require(criterion, "distance", "criterion.") != "rms":
        raise ValueError("manifest: criterion.distance must be 'rms'")
    return ReflexNet(
        require(manifest, "architecture", ""), None, state[0], int(require(action, "dim", "action.")),
        require(manifest, "vocabulary", ""),
        state_norm={k: require(state_norm, k, "state_norm.") for k in ("mean", "std")},
        action={k: require(action, k, "action.") for k in ("low", "high", "mean", "std")},
        criterion_dims=require(criterion, "dims", "criterion."),
        cameras=cameras, chunk=chunk, period_s=period_s, criterion_actions=k,
        format_version=manifest["format_version"])


def read_bundle(directory: str | Path) -> tuple[ReflexNet, dict]:
    """(net with the bundle's weights in float32, manifest). Checks the tensor set exactly.
    int8 matrices are dequantised (q · scale): the reference's quantised path."""
    directory = Path(directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    net = net_from_manifest(manifest)
    path = directory / require(manifest, "weights", "")
    try:
        stored = load_file(str(path))
    except SafetensorError as error:
        raise ValueError(f"{path}: {error}") from error
    expected = tensor_shapes(net.dims)
    quantization = manifest.get("quantization")
    quantized = set(require(quantization, "tensors", "quantization.")) if quantization else set()
    if quantization and quantization.get("dtype") != INT8:
        raise ValueError(f"manifest: quantization.dtype must be '{INT8}'")
    if quantized - set(matrix_names(net.dims)):
        raise ValueError(f"manifest: quantization.tensors {sorted(quantized - set(matrix_names(net.dims)))} "
                         "are not linear weights")
    for name in quantized:
        expected[name + SCALE_SUFFIX] = (expected[name][1],)
    for name, shape in expected.items():
        if name not in stored:
            raise ValueError(f"{path}: missing tensor '{name}'")
        t = stored[name]
        if tuple(t.shape) != shape:
            raise ValueError(f"{path}: tensor '{name}' has shape {list(t.shape)}, expected {list(shape)}")
        want = (torch.int8,) if name in quantized else SUPPORTED_STORED
        if t.dtype not in want:
            raise ValueError(f"{path}: tensor '{name}' has unsupported dtype {t.dtype} (expected one of {want})")
    for name in stored:
        if name not in expected:
            raise ValueError(f"{path}: unexpected tensor '{name}'")
    state = {}
    for name, t in stored.items():
        if name.endswith(SCALE_SUFFIX) and name[:-len(SCALE_SUFFIX)] in quantized:
            continue
        t = dequantize_matrix(t, stored[name + SCALE_SUFFIX]) if name in quantized else t.to(torch.float32)
        state[name] = t.t().contiguous() if is_transposed(name, t.dim()) else t
    net.load_state_dict(state, strict=True)
    return net, manifest


def read_calibration(directory: str | Path, manifest: dict) -> torch.Tensor | None:
    """The calibration distances [N, E], or None when the bundle has none."""
    if "calibration" not in manifest:
        return None
    path = Path(directory) / manifest["calibration"]
    distances = load_file(str(path))["distances"]
    if distances.dim() != 2 or distances.shape[1] != Dims.from_manifest(manifest).E:
        raise ValueError(f"{path}: tensor 'distances' has shape {list(distances.shape)}")
    return distances.to(torch.float32)


@torch.no_grad()
def calibration_distances(net: ReflexNet, image, state: torch.Tensor,
                          word_ids: torch.Tensor, rec_state=None) -> torch.Tensor:
    """dist_i of every exit from full-depth passes, [N, E] (the calibration file's content).
    image: [N, H, W, C] uint8, or a list of them, one per camera."""
    features = net.exit_features(image, state, word_ids)
    rec_state = rec_state or net.initial_state(state.shape[0])
    actions = [net.head_step(features[:, i], rec_state)[0] for i in range(net.num_exits + 1)]
    return torch.stack([net.distance(actions[i], actions[i - 1])
                        for i in range(1, net.num_exits + 1)], 1)


def round_to_storage(net: ReflexNet, storage_dtype: str) -> ReflexNet:
    """Rounds the parameters in place to what the storage dtype keeps (for parity references)."""
    if storage_dtype == INT8:
        fake_quantize(net)
        return net
    dtype = STORAGE_DTYPES[storage_dtype]
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p.to(dtype).to(torch.float32))
    return net

