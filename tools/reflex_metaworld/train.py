"""Trains reflex's default model (behaviour cloning of the multi-exit ReflexNet on the Meta-World
demonstrations, DeeR-style) and exports it as a bundle with calibration data.

    cd <repository root>
    nohup nice -n 5 ~/.cache/reflex/venv/bin/python -m reflex_metaworld.train \\
        --seed 0 --steps 2000 --minutes 85 --out models/default &
    ... --resume        # continues from ~/.cache/reflex/train/ckpt.pt (model, optimiser, step, RNG)

What one training step does (docs/TRAINING.md):
- B episode streams advance W consecutive frames each (truncated BPTT: the LSTM state is carried
  from window to window through whole episodes, from a reset, as the runtime carries it);
- every frame runs the whole backbone (all E+1 reads: the reference read after block 1 and the
  E exits); the shared head runs on every read from the carried state, and the state carried to
  the next frame is that of a uniformly random exit in 1 … E per frame and sequence (so the head
  tolerates the mixed-depth history the scheduler produces);
- loss: Huber (delta 1) on normalised actions at every read, equal weights (the reference read
  included: the exit criterion compares exit 1 with it);
- random-shift augmentation (replicate-pad 4, random crop, one shift per window), AdamW,
  linear warm-up then cosine decay over the planned steps; gradient norm clipped at 1.

The run stops at --steps or when the time budget (--minutes, total over resumes, minus
--reserve-minutes for the final evaluation and export) runs out, whichever comes first; then it
evaluates on the held-out validation demos (loss per exit), computes the calibration distances and
writes the bundle to --out. Progress: --work/train.log, curves in --work/train.csv and val.csv,
checkpoints in --work/ckpt.pt every --ckpt-minutes (and an interim bundle in --work/bundle-latest).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from reflex_model.bundle import read_bundle, write_bundle
from reflex_model.configs import DEFAULT_ARCHITECTURE, DEFAULT_CRITERION_DIMS
from reflex_model.network import ReflexNet

from . import calibrate as C
from . import dataset as DS
from . import render as R
from . import tasks as T

DEFAULT_DEMOS = Path(os.path.expanduser("~/.cache/reflex/demos"))
DEFAULT_WORK = Path(os.path.expanduser("~/.cache/reflex/train"))
BUNDLE_NAME = "metaworld-mt12"


class Logger:
    def __init__(self, path: Path, quiet: bool = False):
        self.path, self.quiet = path, quiet
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, msg: str) -> None:
        line = f"[train {time.strftime('%H:%M:%S')}] {msg}"
        with open(self.path, "a") as f:
            f.write(line + "\n")
        if not self.quiet:
            print(line, flush=True)


def parse_task_weight(text: str) -> dict[str, float]:
    """'hammer-v3=3,assembly-v3=2' -> {'hammer-v3': 3.0, 'assembly-v3': 2.0}; '' -> {}.
    Raises ValueError on an entry without '=' or a weight that is not a number."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, sep, weight = item.partition("=")
        if not sep:
            raise ValueError(f"--task-weight: {item!r} is not TASK=WEIGHT")
        out[name.strip()] = float(weight)
    return out


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--demos", type=Path, default=DEFAULT_DEMOS)
    ap.add_argument("--out", type=Path, default=Path("models/default"), help="bundle directory")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="log, curves, checkpoints")
    ap.add_argument("--steps", type=int, default=2000, help="planned steps (the LR schedule's length)")
    ap.add_argument("--minutes", type=float, default=85.0,
                    help="wall-clock budget of the whole run (over resumes), export included")
    ap.add_argument("--reserve-minutes", type=float, default=9.0,
                    help="kept from --minutes for the final evaluation, calibration and export")
    ap.add_argument("--batch", type=int, default=16, help="sequences (episode streams) per step")
    ap.add_argument("--window", type=int, default=8, help="consecutive frames per sequence")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--min-lr-ratio", type=float, default=0.05, help="final LR / peak LR")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.05, help="on weight matrices only")
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--pad", type=int, default=4, help="random-shift augmentation (pixels)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--val-per-task", type=int, default=1,
                    help="validation episodes per task for the quick validation (0 = none)")
    ap.add_argument("--val-minutes", type=float, default=10.0, help="quick validation interval")
    ap.add_argument("--final-val-per-task", type=int, default=None,
                    help="validation episodes per task for the final evaluation and calibration (default: all)")
    ap.add_argument("--train-eval-per-task", type=int, default=1,
                    help="training episodes per task evaluated at the end (for the train/val gap)")
    ap.add_argument("--tasks", default=",".join(T.TASK_NAMES))
    ap.add_argument("--max-episodes", type=int, default=None, help="per task (default: all)")
    ap.add_argument("--architecture", default="trained",
                    help="'trained' (TRAINED_ARCHITECTURE), 'default' (configs.DEFAULT_ARCHITECTURE), "
                         "or JSON (or a path to JSON)")
    ap.add_argument("--name", default=BUNDLE_NAME)
    ap.add_argument("--storage-dtype", default="float32")
    ap.add_argument("--resume", action="store_true", help="continue from --work/ckpt.pt")
    ap.add_argument("--init-from", type=Path, default=None,
                    help="warm start: the model weights and normalisation of this checkpoint "
                         "(same architecture), or of this bundle directory (e.g. models/default); "
                         "a fresh optimiser and LR schedule (auxiliary heads too, unless the "
                         "checkpoint has them)")
    ap.add_argument("--keep-better", action="store_true",
                    help="export to --out only if its validation loss (exit forced, mean over the "
                         "exits) is lower than that of the bundle already there (else to "
                         "--work/bundle-final)")
    ap.add_argument("--stop-after", type=int, default=None,
                    help="stop after this many steps in this process, checkpoint, no export "
                         "(as if interrupted; for testing --resume)")
    ap.add_argument("--aux-weight", type=float, default=0.0,
                    help="weight of the privileged auxiliary loss (training only): one small MLP per "
                         "exit regresses the object and goal positions (obs[4:7], obs[11:14], "
                         "obs[36:39], z-scored per task) from that exit's feature; the heads are not "
                         "part of the bundle. 0 = off")
    ap.add_argument("--aux-hidden", type=int, default=64, help="hidden width of each auxiliary head")
    ap.add_argument("--task-weight", default="",
                    help="TASK=W,...: draw that task's episodes W times as often (default 1 each)")
    ap.add_argument("--aggregate", default="",
                    help="comma-separated extra splits added to the training data, e.g. 'dagger1' "
                         "(files <task>-dagger1.npz in --demos, from reflex_metaworld.dagger)")
    ap.add_argument("--lr-by-time", action="store_true",
                    help="the cosine decay ends at --steps or when the time budget runs out, "
                         "whichever comes first (so a run cut by its budget still ends at the low LR; "
                         "not bit-reproducible across machines)")
    ap.add_argument("--cameras", default="",
                    help="further cameras after `image`, as INPUT=CAMERA[,…] (e.g. wrist_image=gripperPOV): "
                         "the model input INPUT gets Meta-World camera CAMERA's frames from "
                         "`<task>[-<split>].CAMERA.npz` (reflex_metaworld.add_camera)")
    ap.add_argument("--image-camera", default="",
                    help="the first camera (`image`) as CAMERA@FOVY, e.g. corner@30 (the corner camera "
                         "zoomed to a 30-degree field of view): frames from `<task>[-<split>].corner@30.npz` "
                         "(reflex_metaworld.add_camera), recorded in the bundle's observation; default: "
                         "the recording's own frames (corner, 45 degrees)")
    ap.add_argument("--chunk", type=int, default=1, help="H: actions per step (a format-2 bundle when > 1)")
    ap.add_argument("--stride", type=int, default=1,
                    help="control periods between the frames the model sees (ask for a chunk every STRIDE "
                         "periods at run time); episodes are split into STRIDE phase-shifted episodes")
    ap.add_argument("--criterion-actions", type=int, default=None,
                    help="K: the exit criterion compares the first K actions of the chunk "
                         "(default min(chunk, stride): the actions executed before the next chunk)")
    ap.add_argument("--device", default="cpu",
                    help="'cpu' (default) or e.g. 'cuda': training steps on that device, with the "
                         "training frames held there; evaluation, calibration and export on the CPU")
    ap.add_argument("--quiet", action="store_true", help="log to the file only")
    return ap.parse_args(argv)


# The shipped model: configs.DEFAULT_ARCHITECTURE with 6 blocks and an exit after every block
# (6 exits, as DeeR) instead of 12 blocks with an exit every 2. On this 2-core CPU, shared with
# other work, a training step of the 12-block model (16 sequences x 8 frames) took 9-25 s, too slow
# to train it in 85 minutes; the 6-block model costs half per frame. Width, heads, MLP, patches,
# instruction tokens, pooling and head are the default's.
TRAINED_ARCHITECTURE = {**DEFAULT_ARCHITECTURE, "blocks": 6, "exit_every": 1}
CONTROL_PERIOD_S = 0.0125   # Meta-World's step: frame_skip 5 x timestep 0.0025 s (env.dt)


def architecture_from(arg: str | None) -> dict:
    if arg in (None, "default"):
        return json.loads(json.dumps(DEFAULT_ARCHITECTURE))
    if arg == "trained":
        return json.loads(json.dumps(TRAINED_ARCHITECTURE))
    text = Path(arg).read_text() if not arg.lstrip().startswith("{") else arg
    return json.loads(text)


def lr_at(step: int, args, time_progress: float = 0.0) -> float:
    """Linear warm-up over --warmup steps, then cosine from --lr to --lr·min_ratio at --steps
    (with --lr-by-time: at --steps or at the end of the time budget, whichever comes first;
    time_progress is the share of the training time budget spent)."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    if getattr(args, "lr_by_time", False):
        t = min(1.0, max(t, time_progress))
    lo = args.lr * args.min_lr_ratio
    return lo + 0.5 * (args.lr - lo) * (1 + math.cos(math.pi * t))


class AuxHeads(torch.nn.Module):
    """Training-only privileged heads: for every exit i (1 … E) an MLP (d → hidden → 9) regresses
    the current object and goal positions (z-scored per task) from exit i's feature, so that each
    exit must localise them from the pixels (DeeR trains per-exit auxiliary heads too). Not part
    of ReflexNet: the bundle's tensors and inputs do not change."""

    def __init__(self, width: int, exits: int, hidden: int, n_out: int = len(T.LAYOUT_OBS_INDICES)):
        super().__init__()
        self.heads = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Linear(width, hidden), torch.nn.GELU(),
                                torch.nn.Linear(hidden, n_out)) for _ in range(exits))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features [..., E+1, d] (every read) → predictions [..., E, 9] for exits 1 … E."""
        return torch.stack([h(features[..., i + 1, :]) for i, h in enumerate(self.heads)], -2)


def forward_window(net: ReflexNet, image, state, word_ids, exits, rec_state):
    """`ReflexNet.forward_window` (the same computation, test_aux checks equality) that also
    returns every read's feature [B, Tt, E+1, d] for the auxiliary loss."""
    B, Tt = (image if isinstance(image, torch.Tensor) else image[0]).shape[:2]
    E1 = net.dims.E + 1
    if word_ids.dim() == 2:
        word_ids = word_ids[:, None].expand(B, Tt, word_ids.shape[-1])
    exits = torch.as_tensor(exits).long()
    if exits.dim() == 1:
        exits = exits[None].expand(B, Tt)
    images = [image] if isinstance(image, torch.Tensor) else list(image)
    features = net.exit_features([i.flatten(0, 1) for i in images], state.flatten(0, 1),
                                 word_ids.flatten(0, 1)).unflatten(0, (B, Tt))
    h, c = net.initial_state(B) if rec_state is None else rec_state
    last = []
    for t in range(Tt):
        hs, cs = net.head.recur(features[:, t].flatten(0, 1),
                                h.repeat_interleave(E1, 0), c.repeat_interleave(E1, 0))
        hs, cs = hs.unflatten(0, (B, E1)), cs.unflatten(0, (B, E1))
        last.append(hs[:, :, -1])
        pick = exits[:, t].view(B, 1, 1, 1).expand(B, 1, *hs.shape[2:])
        h, c = hs.gather(1, pick)[:, 0], cs.gather(1, pick)[:, 0]
    return net.head_output(torch.stack(last, 1)), (h, c), features


def make_optimizer(net: ReflexNet, args, aux: torch.nn.Module | None = None) -> torch.optim.Optimizer:
    decay, plain = [], []
    named = list(net.named_parameters()) + ([] if aux is None else
                                            [("aux." + n, p) for n, p in aux.named_parameters()])
    for name, p in named:
        (decay if p.dim() == 2 and name not in ("word_embedding", "pos_embedding") else plain).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                              {"params": plain, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.99))


def observation(image_size: int, task_names: list[str], demos_manifest: dict | None,
                extra: list[tuple[str, str, int]] = (), stride: int = 1, image_camera: str = "") -> dict:
    """The bundle's `observation`; extra: further cameras as (input name, Meta-World camera,
    image size), described under `cameras` beside the first (`camera`, input `image`); stride > 1:
    the model was trained to be asked once every `stride` control periods (`request_every_periods`);
    image_camera: `--image-camera` (CAMERA@FOVY), "" for the recording's own corner camera."""
    camera, fovy = R.parse_view(image_camera) if image_camera else (R.DEFAULT_CAMERA, None)
    obs = R.observation_spec(image_size, camera, task_names, fovy)
    if extra:
        obs["cameras"] = {"image": R.render_settings(image_size, camera, fovy),
                          **{name: R.render_settings(size, camera) for name, camera, size in extra}}
    if stride > 1:
        obs["request_every_periods"] = int(stride)
        obs["control_period_s"] = CONTROL_PERIOD_S
    if demos_manifest and demos_manifest.get("versions"):
        v = demos_manifest["versions"]   # the versions the demonstrations were made with
        obs["simulator_version"] = v.get("metaworld", obs["simulator_version"])
        obs["mujoco_version"] = v.get("mujoco", obs["mujoco_version"])
    obs["state_slice_meaning"] = "obs[0:4] of Meta-World's observation: hand x, y, z (m), gripper opening"
    return obs


def parse_cameras(text: str) -> list[tuple[str, str]]:
    """`wrist_image=gripperPOV,…` → [("wrist_image", "gripperPOV"), …] (input name, Meta-World camera)."""
    out = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        name, sep, camera = item.partition("=")
        if not sep or not name or not camera:
            raise ValueError(f"--cameras: '{item}' is not INPUT=CAMERA")
        out.append((name, camera))
    return out


def resize_patch_projection(weight: torch.Tensor, src_patch: int, patch: int) -> torch.Tensor:
    """A p-px patch projection [d, p·p·C] ((i, j, ch) order) from a P-px one, P = s·p: each new
    weight is the sum of the s × s source weights it covers, so a p-px patch gives the token the
    source gave that patch upsampled s times (nearest). FlexiViT (Beyer et al. 2023) resizes
    patch embeddings the same way in spirit; this is the exact, integer-factor case."""
    if src_patch % patch:
        raise ValueError(f"cannot resize {src_patch}-px patches to {patch} px (not a divisor)")
    s, d = src_patch // patch, weight.shape[0]
    C = weight.shape[1] // (src_patch * src_patch)
    w = weight.reshape(d, patch, s, patch, s, C).sum(dim=(2, 4))
    return w.reshape(d, patch * patch * C).contiguous()


def resize_position_rows(src: torch.Tensor, own: torch.Tensor, src_patch: int, net: ReflexNet) -> torch.Tensor:
    """Position embeddings for a finer patch grid: the state and instruction rows (and the
    readout's) are copied, the first camera's grid rows bilinearly interpolated."""
    dm = net.dims
    H, W = dm.cameras[0][1], dm.cameras[0][2]
    gh, gw, sh, sw = H // dm.p, W // dm.p, H // src_patch, W // src_patch
    first = 1 + dm.L
    out = own.clone()
    out[:first] = src[:first]
    grid = src[first:first + sh * sw].T.reshape(1, -1, sh, sw)
    fine = torch.nn.functional.interpolate(grid, size=(gh, gw), mode="bilinear", align_corners=False)
    out[first:first + gh * gw] = fine.reshape(-1, gh * gw).T
    if dm.pool == "readout":
        out[-1] = src[-1]
    return out


def adapt_init(state: dict, net: ReflexNet, src_patch: int | None = None) -> tuple[dict, list[str]]:
    """A warm start's weights for a net with more cameras, a longer chunk or smaller patches
    than the source (same architecture otherwise): the first camera's projection and every shared
    tensor are copied; the new cameras' position rows keep the net's own initialisation; the
    head's output layer is tiled H times (every row of the chunk starts as the source's one
    action); with smaller patches (src_patch, a multiple of the net's) the projection and the
    image position rows are resized (`resize_patch_projection`, `resize_position_rows`).
    Returns (state dict for `net`, notes on what was adapted)."""
    own = net.state_dict()
    src_patch = net.dims.p if src_patch is None else src_patch
    out, notes = {}, []
    dm = net.dims
    for name, value in own.items():
        src = state.get(name)
        if src is None and name.startswith("patch_proj.0."):
            src = state.get("patch_proj." + name.split(".", 2)[2])
        if src is not None and src.shape == value.shape:
            out[name] = src
        elif name.startswith("patch_proj") and name.endswith(".weight") and src is not None and src_patch != dm.p:
            out[name] = resize_patch_projection(src, src_patch, dm.p)
            notes.append(f"{name}: {src_patch}-px patches resized to {dm.p} px")
        elif name == "pos_embedding" and src is not None and src_patch != dm.p:
            out[name] = resize_position_rows(src, value, src_patch, net)
            notes.append(f"pos_embedding: image rows interpolated from a {src_patch}-px grid")
        elif name == "pos_embedding" and src is not None and src.shape[1] == value.shape[1]:
            first = 1 + dm.L + dm.camera_patches(0)
            merged = value.clone()
            merged[:first] = src[:first]
            if dm.pool == "readout":
                merged[-1] = src[-1]
            out[name] = merged
            notes.append(f"pos_embedding: rows 0…{first - 1} copied, {value.shape[0] - src.shape[0]} new")
        elif name.startswith("head.mlp.fc2.") and src is not None and value.shape[0] == src.shape[0] * dm.chunk:
            out[name] = src.repeat(dm.chunk, *([1] * (src.dim() - 1)))
            notes.append(f"{name}: tiled {dm.chunk} times")
        else:
            out[name] = value
            notes.append(f"{name}: new")
    return out, notes


def load_init(path: Path) -> dict:
    """A warm start's weights and normalisation: a checkpoint file, or a bundle directory."""
    path = Path(path)
    if path.is_dir():
        net, manifest = read_bundle(path)
        return {"model": net.state_dict(), "architecture": manifest["architecture"],
                "state_norm": manifest["state_norm"],
                "action": {k: manifest["action"][k] for k in ("low", "high", "mean", "std")},
                "step": f"bundle {path}"}
    return torch.load(path, map_location="cpu", weights_only=False)


def save_checkpoint(path: Path, **state) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def fmt(values) -> str:
    return " ".join(f"{v:.4f}" for v in values)


def main(argv=None) -> int:
    args = parse_args(argv)
    t_process = time.time()
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    log = Logger(args.work / "train.log", quiet=args.quiet)
    ckpt_path = args.work / "ckpt.pt"
    ckpt = None
    if args.resume:
        if not ckpt_path.exists():
            log(f"ERROR: --resume but {ckpt_path} does not exist")
            return 2
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        saved = ckpt["args"]
        for key in ("seed", "steps", "batch", "window", "lr", "tasks", "max_episodes", "architecture",
                    "task_weight", "aggregate", "cameras", "chunk", "stride", "criterion_actions",
                    "image_camera"):
            # checkpoints older than an option lack it: the value that option's absence meant
            value = saved.get(key, {"chunk": 1, "stride": 1, "criterion_actions": None}.get(key, ""))
            if value != getattr(args, key):
                log(f"resume: using the checkpoint's --{key.replace('_', '-')}={value!r} "
                    f"(not {getattr(args, key)!r})")
                setattr(args, key, value)
    log(f"start: {' '.join(sys.argv)}")
    log("args: " + json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}))

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed + 1)

    task_names = [n.strip() for n in args.tasks.split(",") if n.strip()]
    arch = architecture_from(args.architecture)
    vocabulary = DS.build_vocabulary()
    t0 = time.time()
    train_splits = ["train"] + [s.strip() for s in args.aggregate.split(",") if s.strip()]
    extra_cameras = parse_cameras(args.cameras)
    if args.criterion_actions is None:
        args.criterion_actions = min(args.chunk, args.stride)
    if args.image_camera:
        R.parse_view(args.image_camera)   # a bad FOVY fails here, before the data loads
    shaping = {"cameras": [c for _, c in extra_cameras], "chunk": args.chunk, "stride": args.stride,
               "image_camera": args.image_camera or None}
    train = DS.load_split(args.demos, train_splits, task_names, vocabulary, arch["instruction_tokens"],
                          args.max_episodes, **shaping)
    val = DS.load_split(args.demos, "val", task_names, vocabulary, arch["instruction_tokens"], **shaping)
    log(f"data: {train.frames} training frames in {train.episodes} episodes (splits "
        f"{'+'.join(train_splits)}; {int(train.aux_valid.sum())} with auxiliary targets), {val.frames} validation "
        f"frames in {val.episodes} episodes, {len(task_names)} tasks, images {train.image_shape}, "
        f"loaded in {time.time() - t0:.0f}s")
    demos_manifest = None
    if (args.demos / "manifest.json").exists():
        demos_manifest = json.loads((args.demos / "manifest.json").read_text())

    state_norm, action = DS.normalisation(train)
    init = None
    if args.init_from is not None and ckpt is None:
        init = load_init(args.init_from)
        if {**init["architecture"], "patch_size": arch["patch_size"]} != arch:
            log(f"ERROR: --init-from {args.init_from}: its architecture differs from --architecture "
                "(only patch_size may differ)")
            return 2
        if init["architecture"]["patch_size"] % arch["patch_size"]:
            log(f"ERROR: --init-from {args.init_from}: its {init['architecture']['patch_size']}-px patches cannot be "
                f"resized to {arch['patch_size']} px (only to a divisor)")
            return 2
    for source in (init, ckpt):    # a resumed run keeps the normalisation it started with
        if source is not None:
            state_norm, action = source["state_norm"], source["action"]
    log(f"state mean {fmt(state_norm['mean'])} std {fmt(state_norm['std'])}; "
        f"action mean {fmt(action['mean'])} std {fmt(action['std'])}")
    extra_spec = [(name, camera, int(images.shape[1]))
                  for (name, camera), images in zip(extra_cameras, train.extra_images)]
    cameras = [("image", train.image_shape)] + [
        (name, tuple(int(v) for v in images.shape[1:])) for (name, _), images in zip(extra_cameras, train.extra_images)]
    net = ReflexNet(arch, None, train.states.shape[1], train.actions.shape[-1], vocabulary,
                    state_norm=state_norm, action=action, criterion_dims=DEFAULT_CRITERION_DIMS,
                    cameras=cameras, chunk=args.chunk, criterion_actions=args.criterion_actions,
                    period_s=CONTROL_PERIOD_S if args.chunk > 1 else None)
    E = net.num_exits
    aux_heads, aux_norm = None, None
    if args.aux_weight > 0:
        aux_heads = AuxHeads(net.dims.d, E, args.aux_hidden)
        aux_norm = DS.aux_normalisation(train)
        for source in (init, ckpt):
            if source is not None and source.get("aux_norm") is not None:
                aux_norm = source["aux_norm"]
        if int(train.aux_valid.sum()) == 0:
            log("ERROR: --aux-weight > 0 but no training file has the full observation (obs)")
            return 2
        log(f"auxiliary heads: {sum(p.numel() for p in aux_heads.parameters())} parameters "
            f"(training only), weight {args.aux_weight}")
        aux_mean = torch.tensor(aux_norm["mean"], dtype=torch.float32)
        aux_std = torch.tensor(aux_norm["std"], dtype=torch.float32)
        frame_task = torch.from_numpy(DS.frame_tasks(train))
    n_params = sum(p.numel() for p in net.parameters())
    log(f"model: {n_params / 1e6:.2f}M parameters, {E} exits, {net.dims.T} tokens, vocabulary "
        f"{len(vocabulary['words'])} words")
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    net.to(dev)     # before the optimiser (its state is cast to the parameters' device on load)
    if aux_heads is not None:
        aux_heads.to(dev)
        aux_mean, aux_std, frame_task = aux_mean.to(dev), aux_std.to(dev), frame_task.to(dev)
    if dev.type != "cpu":   # the training frames live on the device: no copies per step
        train = dataclasses.replace(train, **{k: getattr(train, k).to(dev) for k in
                                              ("images", "states", "actions", "word_ids", "aux", "aux_valid")},
                                    extra_images=[e.to(dev) for e in train.extra_images],
                                    action_valid=None if train.action_valid is None else train.action_valid.to(dev))
    opt = make_optimizer(net, args, aux_heads)
    streams = DS.EpisodeStreams(train, args.batch, args.window, rng, parse_task_weight(args.task_weight))
    h, c = net.initial_state(args.batch)
    step, elapsed_before = 0, 0.0
    if init is not None:
        weights, notes = adapt_init(init["model"], net, src_patch=init["architecture"]["patch_size"])
        for note in notes:
            log(f"warm start: {note}")
        net.load_state_dict(weights)
        if aux_heads is not None and init.get("aux") is not None:
            aux_heads.load_state_dict(init["aux"])
        log(f"warm start from {args.init_from} (its step {init['step']}); new optimiser and schedule")
    if ckpt is not None:
        net.load_state_dict(ckpt["model"])
        if aux_heads is not None:
            aux_heads.load_state_dict(ckpt["aux"])
        opt.load_state_dict(ckpt["optimizer"])
        step, elapsed_before = ckpt["step"], ckpt["elapsed"]
        streams.load_state_dict(ckpt["streams"])
        h, c = (t.to(dev) for t in ckpt["carried"])
        rng.bit_generator.state = ckpt["numpy_rng"]
        streams.rng = rng
        gen.set_state(ckpt["torch_gen"])
        torch.set_rng_state(ckpt["torch_rng"])
        log(f"resumed at step {step}, {elapsed_before / 60:.1f} min already spent")

    curves = args.work / "train.csv"
    val_curves = args.work / "val.csv"
    header = (["step", "minutes", "lr", "loss"] + [f"loss_e{i}" for i in range(E + 1)] + ["grad_norm"]
              + ([f"aux_e{i}" for i in range(1, E + 1)] if aux_heads is not None else []))
    val_header = ["step", "minutes"] + [f"val_e{i}" for i in range(E + 1)]
    for path, head in ((curves, header), (val_curves, val_header)):
        rows = []
        if ckpt is not None and path.exists():   # keep the rows up to the checkpoint
            with open(path) as f:
                rows = [r for r in csv.reader(f)][1:]
            rows = [r for r in rows if int(r[0]) <= step]
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([head] + rows)

    budget_s = args.minutes * 60 - args.reserve_minutes * 60
    t_start = t_process  # data loading counts against the budget
    def elapsed() -> float:
        return elapsed_before + time.time() - t_start

    def on_cpu(fn):
        """Runs fn with the network on the CPU (evaluation and export read CPU tensors)."""
        if dev.type == "cpu":
            return fn()
        net.cpu()
        try:
            return fn()
        finally:
            net.to(dev)

    def quick_val():
        if args.val_per_task <= 0:
            return None
        r = on_cpu(lambda: C.evaluate(net, val, val.subset_episodes(args.val_per_task),
                                      seed=args.seed + 7, forced=False, calibration=False))
        with open(val_curves, "a", newline="") as f:
            csv.writer(f).writerow([step, f"{elapsed() / 60:.2f}"] + [f"{v:.5f}" for v in r["random"]["huber"]])
        return r

    def checkpoint():
        on_cpu(checkpoint_cpu)

    def checkpoint_cpu():
        save_checkpoint(ckpt_path, model=net.state_dict(), optimizer=opt.state_dict(), step=step,
                        elapsed=elapsed(), streams=streams.state_dict(), carried=(h.cpu(), c.cpu()),
                        numpy_rng=rng.bit_generator.state, torch_gen=gen.get_state(),
                        torch_rng=torch.get_rng_state(), args=vars(args) | {"demos": str(args.demos),
                        "out": str(args.out), "work": str(args.work)},
                        state_norm=state_norm, action=action, vocabulary=vocabulary,
                        architecture=arch, aux=None if aux_heads is None else
                        {k: v.cpu() for k, v in aux_heads.state_dict().items()},
                        aux_norm=aux_norm)
        write_bundle(net, args.work / "bundle-latest", name=args.name + "-interim",
                     observation=observation(train.image_shape[0], task_names, demos_manifest, extra_spec, args.stride,
                                             args.image_camera))

    log(f"plan: {args.steps} steps of {args.batch}x{args.window} frames, budget {args.minutes:.0f} min "
        f"({args.reserve_minutes:.0f} reserved for evaluation and export), "
        f"ends by {time.strftime('%H:%M', time.localtime(t_start - elapsed_before + args.minutes * 60))}")
    net.train()
    window_sums = torch.zeros(E + 1, dtype=torch.float64)
    aux_sums = torch.zeros(E, dtype=torch.float64)
    window_n, window_t0, window_step0 = 0, time.time(), step
    last_ckpt = last_val = time.time()
    stop_reason = "planned steps done"
    first_step = step
    while step < args.steps:
        if args.stop_after is not None and step - first_step >= args.stop_after:
            checkpoint()
            log(f"stopped after {args.stop_after} steps (--stop-after) at step {step}; checkpoint written")
            return 0
        if elapsed() >= budget_s:
            stop_reason = f"time budget reached at step {step} of {args.steps}"
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args, elapsed() / max(budget_s, 1e-9))
        index, valid, reset = streams.next()
        flat = index.reshape(-1)
        B, W = index.shape
        images = [DS.random_shift(cam[flat].reshape(B, W, *cam.shape[1:]), args.pad, gen)
                  for cam in train.camera_images]
        states = train.states[flat].reshape(B, W, -1)
        target = net.normalise_action(train.actions[flat].reshape(B, W, *train.actions.shape[1:]))
        words = train.word_ids[index[:, 0]]
        keep = (~reset).to(torch.float32).view(B, 1, 1).to(dev)
        exits = torch.randint(1, E + 1, (B, W), generator=gen).to(dev)
        valid = valid.to(dev)
        y, (h, c), feats = forward_window(net, images, states, words, exits, (h * keep, c * keep))
        h, c = h.detach(), c.detach()
        per = C.huber(y, target[:, :, None])                       # [B, W, E+1] ([B, W, E+1, H] chunked)
        if args.chunk > 1:     # mean over the chunk's rows inside the episode
            rows = train.action_valid[flat].reshape(B, W, 1, -1).to(torch.float32)
            per = (per * rows).sum(-1) / rows.sum(-1).clamp_min(1)
        mask = valid.to(torch.float32)[..., None]
        per_exit = (per * mask).sum((0, 1)) / mask.sum()
        loss = per_exit.mean()
        aux_per_exit = None
        if aux_heads is not None:
            k = frame_task[flat]
            z = ((train.aux[flat] - aux_mean[k]) / aux_std[k]).reshape(B, W, 1, -1)
            pred = aux_heads(feats)                                 # [B, W, E, 9]
            amask = (valid & train.aux_valid[flat].reshape(B, W)).to(torch.float32)[..., None]
            aux_per_exit = ((pred - z).square().mean(-1) * amask).sum((0, 1)) / amask.sum().clamp_min(1)
            loss = loss + args.aux_weight * aux_per_exit.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(
            list(net.parameters()) + ([] if aux_heads is None else list(aux_heads.parameters())), args.clip))
        opt.step()
        step += 1
        window_sums += per_exit.detach().double().cpu()
        if aux_per_exit is not None:
            aux_sums += aux_per_exit.detach().double().cpu()
        window_n += 1
        with open(curves, "a", newline="") as f:
            csv.writer(f).writerow([step, f"{elapsed() / 60:.3f}", f"{opt.param_groups[0]['lr']:.6g}",
                                    f"{loss.item():.5f}"] + [f"{v:.5f}" for v in per_exit.tolist()]
                                   + [f"{grad_norm:.4f}"]
                                   + ([] if aux_per_exit is None else [f"{v:.5f}" for v in aux_per_exit.tolist()]))
        if not math.isfinite(loss.item()):
            log(f"ERROR: loss is {loss.item()} at step {step}; stopping")
            return 3
        if step % args.log_every == 0 or step == args.steps or step == 1:
            dt = time.time() - window_t0
            sps = (step - window_step0) / max(dt, 1e-9)
            remaining_steps = (args.steps - step) / max(sps, 1e-9)
            remaining_budget = budget_s - elapsed()
            eta = time.time() + min(remaining_steps, max(remaining_budget, 0))
            log(f"step {step}/{args.steps} loss {float(window_sums.sum() / window_n / (E + 1)):.4f} "
                f"per read [{fmt((window_sums / window_n).tolist())}] lr {opt.param_groups[0]['lr']:.2e} "
                f"{sps:.3f} steps/s ({1 / max(sps, 1e-9):.2f} s/step) elapsed {elapsed() / 60:.1f} min "
                f"ETA training end {time.strftime('%H:%M', time.localtime(eta))}"
                + ("" if remaining_steps <= remaining_budget else " (time budget binds)")
                + ("" if aux_heads is None else f" aux MSE per exit [{fmt((aux_sums / window_n).tolist())}]"))
            window_sums.zero_()
            aux_sums.zero_()
            window_n, window_t0, window_step0 = 0, time.time(), step
        if time.time() - last_ckpt >= args.ckpt_minutes * 60:
            t_c = time.time()
            r = None
            if time.time() - last_val >= args.val_minutes * 60:
                r = quick_val()
                last_val = time.time()
            checkpoint()
            if r is not None:
                log(f"checkpoint at step {step}; quick validation ({r['frames']} frames, random "
                    f"history) Huber per read [{fmt(r['random']['huber'])}] ({time.time() - t_c:.0f}s)")
            else:
                log(f"checkpoint at step {step} ({time.time() - t_c:.0f}s)")
            last_ckpt = time.time()
    log(f"training stopped: {stop_reason}; {elapsed() / 60:.1f} min")
    checkpoint()
    if dev.type != "cpu":   # evaluation, calibration and export on the CPU
        net.cpu()
        train = dataclasses.replace(train, **{k: getattr(train, k).cpu() for k in
                                              ("images", "states", "actions", "word_ids", "aux", "aux_valid")},
                                    extra_images=[e.cpu() for e in train.extra_images],
                                    action_valid=None if train.action_valid is None else train.action_valid.cpu())

    # -- final evaluation, calibration and export
    t_e = time.time()
    train_loss = None
    with open(curves) as f:
        rows = [r for r in csv.reader(f)][1:]
    if rows:
        last = np.array([[float(v) for v in r[4:5 + E]] for r in rows[-50:]])
        train_loss = last.mean(0).tolist()
    val_episodes = (None if args.final_val_per_task is None
                    else val.subset_episodes(args.final_val_per_task))
    res_val = C.evaluate(net, val, val_episodes, seed=args.seed + 1000)
    log(f"final validation done ({time.time() - t_e:.0f}s)")
    res_train = C.evaluate(net, train, train.subset_episodes(args.train_eval_per_task),
                           seed=args.seed + 2000, calibration=False)
    distances = res_val.pop("distances")
    log(f"validation ({res_val['frames']} frames, {res_val['episodes']} episodes, held-out layouts):")
    log(f"  random history, Huber per read (ref, exits 1..{E}): [{fmt(res_val['random']['huber'])}]")
    log(f"  random history, MSE per read:                     [{fmt(res_val['random']['mse'])}]")
    log(f"  forced exit, Huber per exit 1..{E}:                 [{fmt(res_val['forced']['huber'])}]")
    log(f"  forced exit, MSE per exit:                         [{fmt(res_val['forced']['mse'])}]")
    log(f"  forced exit, xyz action RMSE (action units):       [{fmt(res_val['action_rmse_forced'])}]")
    log(f"training episodes ({args.train_eval_per_task} per task, {res_train['frames']} frames, no augmentation): forced exit "
        f"Huber [{fmt(res_train['forced']['huber'])}], MSE [{fmt(res_train['forced']['mse'])}]")
    if train_loss is not None:
        log(f"training loss (mean of the last {len(last)} steps, Huber per read): [{fmt(train_loss)}]")
    q = torch.quantile(distances, torch.tensor([0.1, 0.5, 0.9]), dim=0)
    log(f"calibration: {distances.shape[0]} samples x {E} exits; median dist per exit [{fmt(q[1].tolist())}]")

    obs = observation(train.image_shape[0], task_names, demos_manifest, extra_spec, args.stride, args.image_camera)
    new_score = float(np.mean(res_val["forced"]["huber"]))
    if args.keep_better and (args.out / "manifest.json").exists():
        old = json.loads((args.out / "manifest.json").read_text()).get("training", {})
        old_score = (float(np.mean(old["val_huber_per_exit_forced"]))
                     if old.get("val_huber_per_exit_forced") else math.inf)
        if new_score >= old_score:
            log(f"--keep-better: validation loss {new_score:.4f} is not below {old_score:.4f} of "
                f"the bundle in {args.out}; exporting to {args.work / 'bundle-final'} instead")
            args.out = args.work / "bundle-final"
        else:
            log(f"--keep-better: validation loss {new_score:.4f} < {old_score:.4f}; replacing {args.out}")
    write_bundle(net, args.out, name=args.name, storage_dtype=args.storage_dtype, observation=obs,
                 calibration=distances)
    manifest_path = args.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["training"] = {
        "command": "python -m reflex_metaworld.train " + " ".join(
            a for a in sys.argv[1:] if a != "--resume"),
        "seed": args.seed, "steps": step, "planned_steps": args.steps, "batch": args.batch,
        "window": args.window, "minutes": round(elapsed() / 60, 1), "stop": stop_reason,
        "train_frames": train.frames, "train_episodes": train.episodes,
        "val_frames": res_val["frames"], "val_episodes": res_val["episodes"],
        "loss": "Huber (delta 1) on normalised actions, every read, equal weights"
                + (f"; + {args.aux_weight} x auxiliary MSE (object/goal positions from every exit, "
                   f"training-only heads, not in the bundle)" if aux_heads is not None else ""),
        "train_splits": train_splits,
        "train_loss_per_read": train_loss,
        "val_huber_per_read_random_history": res_val["random"]["huber"],
        "val_huber_per_exit_forced": res_val["forced"]["huber"],
        "val_mse_per_exit_forced": res_val["forced"]["mse"],
        "val_xyz_rmse_per_exit_forced": res_val["action_rmse_forced"],
        "calibration": {"samples": int(distances.shape[0]), "episodes": "validation (VAL_SEED layouts), "
                        "every step from the reset, none skipped; history: a uniformly random exit "
                        "committed at each step"},
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    # Round trip: the bundle reads back and computes what the trained net computes.
    back, _ = read_bundle(args.out)
    probe = slice(0, 4)
    with torch.no_grad():
        probe_images = [cam[probe] for cam in val.camera_images]
        a = net.eval().exit_features(probe_images, val.states[probe], val.word_ids[probe])
        b = back.exit_features(probe_images, val.states[probe], val.word_ids[probe])
    err = float((a - b).abs().max())
    size = sum(p.stat().st_size for p in args.out.iterdir()) / 1e6
    result = {"steps": step, "minutes": round(elapsed() / 60, 1), "stop": stop_reason,
              "train_loss_per_read": train_loss, "val": res_val, "train_subset": res_train,
              "calibration_samples": int(distances.shape[0]), "bundle": str(args.out),
              "bundle_mb": round(size, 2), "round_trip_max_abs_diff": err}
    (args.work / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"exported {args.out} ({size:.1f} MB, round-trip max |diff| {err:.2e}) in {time.time() - t_e:.0f}s; "
        f"total {elapsed() / 60:.1f} min; summary in {args.work / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
