"""PyTorch reference of the reflex multi-exit network, exactly as docs/MODEL_FORMAT.md says.

The Swift engine implements the same specification; fixtures made from this module prove the
two agree. Format 1 is the special case of format 2 with one camera named `image`, a chunk of one
action (H = 1) and the criterion over that action (K = 1); it keeps its own tensor names
(`patch_proj.*` instead of `patch_proj.0.*`). Parameter names equal the bundle's tensor names (`ReflexNet.state_dict()` holds
exactly the bundle's tensors); bundle.py only transposes 2-D weights, which PyTorch keeps as
[out, in] and the bundle stores as [in, out].

Shapes: batch first everywhere. The recurrent state is a pair (h, c), each [B, layers, hidden].
"""
from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

ARCHITECTURE_KEYS = ("width", "heads", "mlp_hidden", "blocks", "exit_every", "patch_size",
                     "instruction_tokens", "pool", "norm_eps", "head")
HEAD_KEYS = ("lstm_hidden", "lstm_layers", "mlp_hidden")
POOLS = ("max", "readout")
CAMERA_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
# Parameters stored as they are; every other 2-D parameter is an nn.Linear-style [out, in]
# weight that the bundle stores transposed.
UNTRANSPOSED = ("word_embedding", "pos_embedding")


def require(mapping: dict, key: str, where: str):
    """The value of a required manifest key; a missing key is an error naming it."""
    if not isinstance(mapping, dict) or key not in mapping:
        raise KeyError(f"manifest: missing required key '{where}{key}'")
    return mapping[key]


@dataclass(frozen=True)
class Dims:
    """Every size the network needs, from a manifest (or its parts)."""
    d: int          # width
    heads: int
    m: int          # block MLP hidden
    blocks: int
    k: int          # exit_every
    p: int          # patch size
    L: int          # instruction tokens
    pool: str
    eps: float
    h: int          # LSTM hidden
    layers: int     # LSTM layers
    mh: int         # head MLP hidden
    H: int
    W: int
    C: int
    D: int          # state dim
    A: int          # action dim
    V: int          # vocabulary size
    # Every camera as (name, H, W, C), in the manifest's order; H, W, C above are the first's.
    cameras: tuple = ()
    chunk: int = 1  # H of the action chunk: actions per step
    K: int = 1      # the exit criterion compares the first K actions of the chunk
    format_version: int = 1

    @property
    def E(self) -> int:
        return self.blocks // self.k

    @property
    def expressible_in_v1(self) -> bool:
        """One camera named `image` and H = K = 1: what format 1 can say."""
        return len(self.cameras) == 1 and self.cameras[0][0] == "image" and self.chunk == 1 and self.K == 1

    @property
    def legacy(self) -> bool:
        """Format 1: its one projection keeps the name `patch_proj`."""
        return self.format_version == 1

    def camera_patches(self, c: int) -> int:
        _, H, W, _ = self.cameras[c]
        return (H // self.p) * (W // self.p)

    def camera_patch_dim(self, c: int) -> int:
        return self.p * self.p * self.cameras[c][3]

    @property
    def P(self) -> int:
        """Patches of every camera together."""
        return sum(self.camera_patches(c) for c in range(len(self.cameras)))

    @property
    def T(self) -> int:
        return 1 + self.L + self.P + (1 if self.pool == "readout" else 0)

    @property
    def patch_dim(self) -> int:
        """Patch size of the first camera (the only one in format 1)."""
        return self.camera_patch_dim(0)

    def patch_proj_name(self, c: int) -> str:
        """The tensor-name prefix of camera c's patch projection."""
        return "patch_proj" if self.legacy else f"patch_proj.{c}"

    def read_depth(self, i: int) -> int:
        """Blocks run before read i: exit i reads after block i·k; the reference read (i = 0)
        after block 1 when k > 1, the token embeddings when k = 1."""
        if i == 0:
            return 1 if self.k > 1 else 0
        return i * self.k

    @classmethod
    def from_parts(cls, architecture: dict, image_shape: Sequence[int] | None, state_dim: int,
                   action_dim: int, vocab_size: int, *, cameras: Sequence | None = None,
                   chunk: int = 1, criterion_actions: int = 1, format_version: int | None = None) -> Dims:
        """cameras: [(name, [H, W, C]), ...] in order; None = one camera `image` of image_shape.
        format_version None: 1 when the network is expressible in format 1, else 2."""
        a = {key: require(architecture, key, "architecture.") for key in ARCHITECTURE_KEYS}
        hd = {key: require(a["head"], key, "architecture.head.") for key in HEAD_KEYS}
        if cameras is None:
            cameras = [("image", image_shape)]
        cams = tuple((str(name), *(int(v) for v in shape)) for name, shape in cameras)
        if not cams or any(len(c) != 4 for c in cams):
            raise ValueError("cameras must be one or more (name, [H, W, C])")
        _, H, W, C = cams[0]
        dims = cls(d=int(a["width"]), heads=int(a["heads"]), m=int(a["mlp_hidden"]),
                   blocks=int(a["blocks"]), k=int(a["exit_every"]), p=int(a["patch_size"]),
                   L=int(a["instruction_tokens"]), pool=str(a["pool"]), eps=float(a["norm_eps"]),
                   h=int(hd["lstm_hidden"]), layers=int(hd["lstm_layers"]), mh=int(hd["mlp_hidden"]),
                   H=H, W=W, C=C, D=int(state_dim), A=int(action_dim), V=int(vocab_size),
                   cameras=cams, chunk=int(chunk), K=int(criterion_actions), format_version=2)
        if format_version is None:
            format_version = 1 if dims.expressible_in_v1 else 2
        if format_version not in (1, 2) or (format_version == 1 and not dims.expressible_in_v1):
            raise ValueError(f"format_version {format_version} cannot describe this network "
                             "(format 1: one camera 'image', chunk 1)")
        dims = dataclasses.replace(dims, format_version=format_version)
        dims.validate()
        return dims

    @classmethod
    def from_manifest(cls, manifest: dict) -> Dims:
        cameras, state = manifest_inputs(manifest)
        vocabulary = require(manifest, "vocabulary", "")
        action = require(manifest, "action", "")
        chunk, _, k = manifest_chunk(manifest)
        return cls.from_parts(require(manifest, "architecture", ""), None, state[0],
                              int(require(action, "dim", "action.")),
                              len(require(vocabulary, "words", "vocabulary.")),
                              cameras=cameras, chunk=chunk, criterion_actions=k,
                              format_version=manifest.get("format_version"))

    def validate(self) -> None:
        positive = dict(width=self.d, heads=self.heads, mlp_hidden=self.m, blocks=self.blocks,
                        exit_every=self.k, patch_size=self.p, lstm_hidden=self.h,
                        lstm_layers=self.layers, head_mlp_hidden=self.mh, H=self.H, W=self.W,
                        C=self.C, D=self.D, A=self.A, V=self.V)
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.L < 0:
            raise ValueError("instruction_tokens must not be negative")
        if self.blocks % self.k:
            raise ValueError(f"blocks ({self.blocks}) must be a multiple of exit_every ({self.k})")
        if self.d % self.heads:
            raise ValueError(f"width ({self.d}) must be a multiple of heads ({self.heads})")
        names = [c[0] for c in self.cameras]
        if len(set(names)) != len(names) or "state" in names:
            raise ValueError(f"camera names must be unique and not 'state': {names}")
        for name, H, W, C in self.cameras:
            if not CAMERA_NAME.fullmatch(name):
                raise ValueError(f"camera name '{name}' must be 1-64 characters of A-Z a-z 0-9 _")
            if min(H, W, C) <= 0 or H % self.p or W % self.p:
                raise ValueError(f"camera '{name}' {H}x{W}x{C} is not a multiple of patch_size {self.p}")
        if self.chunk < 1 or not 1 <= self.K <= self.chunk:
            raise ValueError(f"action chunk H = {self.chunk} must be >= 1 and criterion K = {self.K} in 1 … H")
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got '{self.pool}'")


def manifest_inputs(manifest: dict) -> tuple[list[tuple[str, list[int]]], list[int]]:
    """([(camera name, [H, W, C]), ...] in order, state shape [D]) from the manifest's inputs:
    format 1 exactly `image` and `state`; format 2 one or more uint8 [H, W, C] cameras and one
    float32 [D] input `state`."""
    inputs = require(manifest, "inputs", "")
    names = [require(entry, "name", "inputs[].") for entry in inputs]
    if len(set(names)) != len(names) or "state" not in names:
        raise ValueError("manifest: input names must be unique and include 'state'")
    if manifest.get("format_version") == 1 and sorted(names) != ["image", "state"]:
        raise ValueError("manifest: format 1 inputs must be exactly 'image' and 'state'")
    cameras, state = [], None
    for entry, name in zip(inputs, names):
        dtype = require(entry, "dtype", f"inputs.{name}.")
        shape = [int(v) for v in require(entry, "shape", f"inputs.{name}.")]
        want = ("float32", 1) if name == "state" else ("uint8", 3)
        if (dtype, len(shape)) != want:
            raise ValueError(f"manifest: input '{name}' must be {want[0]} of rank {want[1]}")
        if name == "state":
            state = shape
        else:
            cameras.append((name, shape))
    if not cameras:
        raise ValueError("manifest: inputs need at least one camera (uint8 [H, W, C])")
    return cameras, state


def manifest_chunk(manifest: dict) -> tuple[int, float | None, int]:
    """(H = action.chunk, action.period_s, K = criterion.first_actions); 1, None, 1 when absent."""
    action = require(manifest, "action", "")
    criterion = require(manifest, "criterion", "")
    chunk = int(action.get("chunk", 1))
    period = action.get("period_s")
    k = int(criterion.get("first_actions", 1))
    if manifest.get("format_version") == 1 and (chunk, k) != (1, 1):
        raise ValueError("manifest: action.chunk and criterion.first_actions need format_version 2")
    if chunk > 1 and not (isinstance(period, (int, float)) and period > 0):
        raise ValueError("manifest: action.period_s (seconds, > 0) is required when action.chunk > 1")
    return chunk, (None if period is None else float(period)), k


def tensor_shapes(dims: Dims) -> dict[str, tuple[int, ...]]:
    """Every tensor of the bundle and its stored shape ([in, out] for linear weights)."""
    d, s = dims, {}
    for c in range(len(d.cameras)):
        pre = d.patch_proj_name(c)
        s[pre + ".weight"], s[pre + ".bias"] = (d.camera_patch_dim(c), d.d), (d.d,)
    s["state_proj.weight"], s["state_proj.bias"] = (d.D, d.d), (d.d,)
    s["word_embedding"] = (d.V, d.d)
    s["pos_embedding"] = (d.T, d.d)
    if d.pool == "readout":
        s["readout_token"] = (d.d,)
    for b in range(d.blocks):
        pre = f"blocks.{b}."
        for ln in ("ln1", "ln2"):
            s[pre + ln + ".weight"], s[pre + ln + ".bias"] = (d.d,), (d.d,)
        s[pre + "attn.qkv.weight"], s[pre + "attn.qkv.bias"] = (d.d, 3 * d.d), (3 * d.d,)
        s[pre + "attn.out.weight"], s[pre + "attn.out.bias"] = (d.d, d.d), (d.d,)
        s[pre + "mlp.fc1.weight"], s[pre + "mlp.fc1.bias"] = (d.d, d.m), (d.m,)
        s[pre + "mlp.fc2.weight"], s[pre + "mlp.fc2.bias"] = (d.m, d.d), (d.d,)
    for i in range(d.E + 1):
        s[f"exit_norms.{i}.weight"], s[f"exit_norms.{i}.bias"] = (d.d,), (d.d,)
    for l in range(d.layers):
        s[f"head.lstm.{l}.weight_ih"] = (d.d if l == 0 else d.h, 4 * d.h)
        s[f"head.lstm.{l}.weight_hh"] = (d.h, 4 * d.h)
        s[f"head.lstm.{l}.bias"] = (4 * d.h,)
    s["head.mlp.fc1.weight"], s["head.mlp.fc1.bias"] = (d.h, d.mh), (d.mh,)
    s["head.mlp.fc2.weight"], s["head.mlp.fc2.bias"] = (d.mh, d.chunk * d.A), (d.chunk * d.A,)
    return s


def is_transposed(name: str, ndim: int) -> bool:
    """Whether the bundle stores this parameter transposed relative to PyTorch."""
    return ndim == 2 and name not in UNTRANSPOSED


# ----------------------------------------------------------------------------- tokens



def split_words(instruction: str) -> list[str]:
    """Unicode NFKC, then lower-casing (str.lower: Unicode's full lowercase mapping), then the
    maximal runs of letters, marks and numbers (general categories L*, M*, N*); every other
    character separates words. The Swift engine (InstructionTokenizer.words) does the same;
    Tests/Fixtures/tokenizer-cases.json holds the cases both are checked against."""
    words, current = [], []
    for ch in unicodedata.normalize("NFKC", instruction).lower():
        if unicodedata.category(ch)[0] in "LMN":
            current.append(ch)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def tokenize(instruction: str, vocabulary: dict, length: int) -> tuple[list[int], list[str]]:
    """Word ids (exactly `length` of them) and the instruction's unknown words.

    Every word maps to its index in vocabulary['words'] or to the unknown word's index; the
    first `length` ids are used, padded with the pad word. Unknown words are reported from the
    whole instruction (also past `length`), each once, in order of first appearance."""
    words = list(require(vocabulary, "words", "vocabulary."))
    index = {}
    for n, w in enumerate(words):
        index.setdefault(w, n)
    unk = index[require(vocabulary, "unknown", "vocabulary.")]
    pad = index[require(vocabulary, "pad", "vocabulary.")]
    ids, unknown, seen = [], [], set()
    for w in split_words(instruction):
        if w in index:
            ids.append(index[w])
        else:
            ids.append(unk)
            if w not in seen:
                seen.add(w)
                unknown.append(w)
    ids = ids[:length] + [pad] * max(0, length - len(ids))
    return ids, unknown


# ----------------------------------------------------------------------------- modules

def gelu(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


class MLP(nn.Module):
    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.fc2(gelu(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head self-attention without a mask; head n uses columns n·dh … (n+1)·dh of q, k, v."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x):
        B, T, d = x.shape
        dh = d // self.heads
        q, k, v = (t.reshape(B, T, self.heads, dh).transpose(1, 2)
                   for t in self.qkv(x).split(d, dim=-1))
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
        return self.out((weights @ v).transpose(1, 2).reshape(B, T, d))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, d: int, heads: int, m: int, eps: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, heads)
        self.ln2 = nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(d, m, d)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class LSTMLayer(nn.Module):
    """One LSTM layer, one time step. Weights in PyTorch's orientation ([4h, in], gates i, f, g, o);
    a single bias, PyTorch's b_ih + b_hh."""

    def __init__(self, n_in: int, hidden: int):
        super().__init__()
        bound = 1 / math.sqrt(hidden)       # nn.LSTM's initialisation
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden, n_in).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden, hidden).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(4 * hidden).uniform_(-bound, bound))

    def forward(self, x, h, c):
        gates = x @ self.weight_ih.t() + h @ self.weight_hh.t() + self.bias
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class Head(nn.Module):
    """The action head shared by all exits: a stacked LSTM (one step), then an MLP."""

    def __init__(self, d: int, hidden: int, layers: int, mlp_hidden: int, action_dim: int):
        super().__init__()
        self.lstm = nn.ModuleList(LSTMLayer(d if l == 0 else hidden, hidden) for l in range(layers))
        self.mlp = MLP(hidden, mlp_hidden, action_dim)

    def recur(self, feature, h, c):
        """(h', c') [B, layers, hidden] after one step on feature [B, d]."""
        x, hs, cs = feature, [], []
        for l, layer in enumerate(self.lstm):
            x, c_l = layer(x, h[:, l], c[:, l])
            hs.append(x)
            cs.append(c_l)
        return torch.stack(hs, 1), torch.stack(cs, 1)


# ----------------------------------------------------------------------------- network

RecState = tuple[torch.Tensor, torch.Tensor]
StopRule = Callable[[int, float], bool]


def thresholds_rule(thresholds: Sequence[float]) -> StopRule:
    """DeeR's rule: stop at exit i (1-based) when dist_i <= thresholds[i-1]."""
    return lambda i, dist: dist <= thresholds[i - 1]


@dataclass
class StepResult:
    """One step of one robot. Row r of features/actions/outputs/states is read r
    (0 = the reference read, r = exit r); only reads up to the chosen exit are present."""
    exit: int
    action: torch.Tensor              # [A] (H = 1) or [H, A] clipped, denormalised: the answer
    state: RecState                   # committed (h, c), each [layers, hidden]
    features: torch.Tensor            # [exit+1, d]
    actions: torch.Tensor             # [exit+1, A] or [exit+1, H, A] tentative clipped actions
    outputs: torch.Tensor             # the same shape: raw normalised head outputs y
    distances: torch.Tensor           # [exit] dist_1 … dist_exit
    states: list[RecState] = field(default_factory=list)  # tentative state of each read
    word_ids: list[int] = field(default_factory=list)
    unknown_words: list[str] = field(default_factory=list)


class ReflexNet(nn.Module):
    """The multi-exit policy: tokens → pre-norm transformer blocks with an exit every k
    blocks → pooled, normalised exit features → one shared recurrent action head.

    Built from a manifest's `architecture` dict, the input shapes, the action size and the
    vocabulary. Normalisation (state_norm, action mean/std/low/high) and the criterion dims are
    non-persistent buffers: they travel in the manifest, not in the weights.

    cameras: [(name, [H, W, C]), ...] in input order (None: one camera `image` of image_shape);
    chunk: H, the actions a step returns, one per control period period_s (seconds, required when
    H > 1); criterion_actions: K, how many leading actions of the chunk the exit criterion compares.
    With H = 1 actions are [A]; with H > 1, [H, A]."""

    def __init__(self, architecture: dict, image_shape: Sequence[int] | None, state_dim: int,
                 action_dim: int, vocabulary: dict, *, state_norm: dict | None = None,
                 action: dict | None = None, criterion_dims: Sequence[int] | None = None,
                 cameras: Sequence | None = None, chunk: int = 1, period_s: float | None = None,
                 criterion_actions: int = 1, format_version: int | None = None):
        super().__init__()
        self.architecture = architecture
        self.vocabulary = {"words": list(vocabulary["words"]), "pad": vocabulary["pad"],
                           "unknown": vocabulary["unknown"]}
        for key in ("pad", "unknown"):
            if self.vocabulary[key] not in self.vocabulary["words"]:
                raise ValueError(f"vocabulary.{key} '{self.vocabulary[key]}' is not in vocabulary.words")
        dm = self.dims = Dims.from_parts(architecture, image_shape, state_dim, action_dim,
                                         len(self.vocabulary["words"]), cameras=cameras, chunk=chunk,
                                         criterion_actions=criterion_actions,
                                         format_version=format_version)
        if dm.chunk > 1 and not (period_s is not None and period_s > 0):
            raise ValueError("period_s (seconds, > 0) is required when chunk > 1")
        self.period_s = None if period_s is None else float(period_s)
        # Format 1 keeps its one projection's name (`patch_proj.*`); format 2 has one per camera.
        projections = [nn.Linear(dm.camera_patch_dim(c), dm.d) for c in range(len(dm.cameras))]
        self.patch_proj = projections[0] if dm.legacy else nn.ModuleList(projections)
        self.state_proj = nn.Linear(dm.D, dm.d)
        self.word_embedding = nn.Parameter(torch.randn(dm.V, dm.d) * 0.02)
        self.pos_embedding = nn.Parameter(torch.randn(dm.T, dm.d) * 0.02)
        if dm.pool == "readout":
            self.readout_token = nn.Parameter(torch.randn(dm.d) * 0.02)
        self.blocks = nn.ModuleList(Block(dm.d, dm.heads, dm.m, dm.eps) for _ in range(dm.blocks))
        self.exit_norms = nn.ModuleList(nn.LayerNorm(dm.d, eps=dm.eps) for _ in range(dm.E + 1))
        self.head = Head(dm.d, dm.h, dm.layers, dm.mh, dm.chunk * dm.A)

        state_norm = state_norm or {"mean": [0.0] * dm.D, "std": [1.0] * dm.D}
        action = action or {"low": [-1.0] * dm.A, "high": [1.0] * dm.A,
                            "mean": [0.0] * dm.A, "std": [1.0] * dm.A}
        for name, values, n in (("state_mean", state_norm["mean"], dm.D),
                                ("state_std", state_norm["std"], dm.D),
                                ("action_mean", action["mean"], dm.A),
                                ("action_std", action["std"], dm.A),
                                ("action_low", action["low"], dm.A),
                                ("action_high", action["high"], dm.A)):
            if len(values) != n:
                raise ValueError(f"{name} has {len(values)} values, expected {n}")
            self.register_buffer(name, torch.tensor(values, dtype=torch.float32), persistent=False)
        dims = list(range(dm.A)) if criterion_dims is None else [int(j) for j in criterion_dims]
        if not dims or any(j < 0 or j >= dm.A for j in dims):
            raise ValueError(f"criterion dims {dims} must be non-empty and within 0..{dm.A - 1}")
        self.criterion_dims = dims
        self.register_buffer("criterion_index", torch.tensor(dims, dtype=torch.long), persistent=False)

    @property
    def num_exits(self) -> int:
        return self.dims.E

    # -- inputs

    def tokenize(self, instruction: str, vocabulary: dict | None = None) -> tuple[list[int], list[str]]:
        return tokenize(instruction, vocabulary or self.vocabulary, self.dims.L)

    @property
    def camera_names(self) -> list[str]:
        return [c[0] for c in self.dims.cameras]

    @property
    def action_shape(self) -> tuple[int, ...]:
        """(A,) when H = 1, (H, A) otherwise."""
        return (self.dims.A,) if self.dims.chunk == 1 else (self.dims.chunk, self.dims.A)

    def embed(self, image, state: torch.Tensor, word_ids: torch.Tensor) -> torch.Tensor:
        """Tokens + positions, x [B, T, d]. image: [B, H, W, C] uint8 (or float in 0 … 255, e.g.
        augmented) for a one-camera net, or a sequence of such tensors, one per camera in order;
        state [B, D] raw, word_ids [B, L] integer (any integer or float dtype)."""
        dm = self.dims
        images = [image] if isinstance(image, torch.Tensor) else list(image)
        if len(images) != len(dm.cameras):
            raise ValueError(f"{len(images)} images for {len(dm.cameras)} cameras {self.camera_names}")
        projections = [self.patch_proj] if dm.legacy else list(self.patch_proj)
        state_token = self.state_proj((state.to(torch.float32) - self.state_mean) / self.state_std)
        parts = [state_token[:, None], self.word_embedding[word_ids.long()]]
        for c, (pixels_u8, projection) in enumerate(zip(images, projections)):
            _, H, W, C = dm.cameras[c]
            B = pixels_u8.shape[0]
            pixels = pixels_u8.to(torch.float32) / 255 * 2 - 1
            R, Cc = H // dm.p, W // dm.p
            # [B, r, i, c, j, ch] → [B, r, c, i, j, ch]: patches row-major, channel fastest inside.
            patches = (pixels.reshape(B, R, dm.p, Cc, dm.p, C).permute(0, 1, 3, 2, 4, 5)
                       .reshape(B, dm.camera_patches(c), dm.camera_patch_dim(c)))
            parts.append(projection(patches))
        if dm.pool == "readout":
            parts.append(self.readout_token.expand(B, 1, dm.d))
        return torch.cat(parts, dim=1) + self.pos_embedding

    # -- backbone

    def run_blocks(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """x after blocks start … stop-1 (0-based)."""
        for block in self.blocks[start:stop]:
            x = block(x)
        return x

    def exit_feature(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """f_i = LN(pool(x); exit_norms.i), [B, d]; i = 0 is the reference read."""
        pooled = x.amax(dim=1) if self.dims.pool == "max" else x[:, -1]
        return self.exit_norms[i](pooled)

    def exit_features(self, image, state, word_ids) -> torch.Tensor:
        """Every read's feature in one full-depth pass, [B, E+1, d] (index 0 = reference)."""
        x = self.embed(image, state, word_ids)
        done, features = 0, []
        for i in range(self.dims.E + 1):
            x = self.run_blocks(x, done, self.dims.read_depth(i))
            done = self.dims.read_depth(i)
            features.append(self.exit_feature(i, x))
        return torch.stack(features, 1)

    # -- head

    def initial_state(self, batch: int = 1) -> RecState:
        """The recurrent state after a reset: zeros, each [B, layers, hidden]."""
        zeros = torch.zeros(batch, self.dims.layers, self.dims.h, device=self.pos_embedding.device)
        return zeros, zeros.clone()

    def denormalise(self, y: torch.Tensor) -> torch.Tensor:
        """The action from a head output: clip(y·std + mean, low, high)."""
        return torch.minimum(torch.maximum(y * self.action_std + self.action_mean, self.action_low),
                             self.action_high)

    def normalise_action(self, action: torch.Tensor) -> torch.Tensor:
        """The training target for y: (action − mean) / std."""
        return (action - self.action_mean) / self.action_std

    def head_output(self, top_h: torch.Tensor) -> torch.Tensor:
        """The head MLP's normalised output from the top LSTM layer's h: [..., A] when H = 1,
        [..., H, A] otherwise (row t = the action t control periods from now)."""
        y = self.head.mlp(top_h)
        return y if self.dims.chunk == 1 else y.unflatten(-1, (self.dims.chunk, self.dims.A))

    def head_step(self, feature: torch.Tensor, state: RecState):
        """One head run from `state`: (action [B, A] or [B, H, A] clipped and denormalised,
        y of the same shape, the raw normalised output, new (h, c))."""
        h, c = self.head.recur(feature, *state)
        y = self.head_output(h[:, -1])
        return self.denormalise(y), y, (h, c)

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """RMS distance over the criterion dims (and, for a chunk, its first K actions), [B]."""
        diff = (a - b).index_select(-1, self.criterion_index)
        if self.dims.chunk > 1:
            diff = diff[..., : self.dims.K, :].flatten(-2)
        return diff.square().mean(-1).sqrt()

    # -- inference

    @torch.no_grad()
    def step(self, obs: dict, rec_state: RecState | None = None,
             stop_rule: StopRule | Sequence[float] | None = None) -> StepResult:
        """One step of one robot, as the spec says: embed, the reference read, then exit by exit
        a tentative head run from the committed state, dist_i between consecutive clipped
        actions, stop at the first exit the rule accepts (the last exit always stops), commit
        that exit's head state.

        obs: {each camera's name (format 1: "image"): [H, W, C] uint8, "state": [D], and
        "instruction": str or "word_ids": [L]}.
        rec_state: committed (h, c), each [layers, hidden]; None = after a reset.
        stop_rule: f(exit i, dist_i) -> stop?, or a list of E thresholds (DeeR's rule);
        None never stops early."""
        if stop_rule is None:
            stop_rule = lambda i, dist: False
        elif not callable(stop_rule):
            stop_rule = thresholds_rule(list(stop_rule))
        unknown: list[str] = []
        if "word_ids" in obs:
            ids = [int(v) for v in torch.as_tensor(obs["word_ids"]).reshape(-1).tolist()]
        else:
            ids, unknown = self.tokenize(obs["instruction"])
        device = self.pos_embedding.device
        image = [torch.as_tensor(obs[name], device=device)[None] for name in self.camera_names]
        state = torch.as_tensor(obs["state"], dtype=torch.float32, device=device)[None]
        committed = (self.initial_state(1) if rec_state is None
                     else tuple(torch.as_tensor(s, device=device)[None] for s in rec_state))

        dm = self.dims
        x = self.embed(image, state, torch.tensor([ids], device=device))
        x = self.run_blocks(x, 0, dm.read_depth(0))
        done = dm.read_depth(0)
        features, actions, outputs, states, distances = [], [], [], [], []
        for i in range(dm.E + 1):
            if i > 0:
                x = self.run_blocks(x, done, dm.read_depth(i))
                done = dm.read_depth(i)
            f = self.exit_feature(i, x)
            a, y, s = self.head_step(f, committed)
            features.append(f[0])
            actions.append(a[0])
            outputs.append(y[0])
            states.append((s[0][0], s[1][0]))
            if i == 0:
                continue
            dist = self.distance(actions[i], actions[i - 1])
            distances.append(dist)
            if i == dm.E or stop_rule(i, float(dist)):
                break
        chosen = len(distances)
        return StepResult(exit=chosen, action=actions[chosen], state=states[chosen],
                          features=torch.stack(features), actions=torch.stack(actions),
                          outputs=torch.stack(outputs), distances=torch.stack(distances),
                          states=states, word_ids=ids, unknown_words=unknown)

    # -- training

    def forward_window(self, image: torch.Tensor, state: torch.Tensor, word_ids: torch.Tensor,
                       exits: torch.Tensor, rec_state: RecState | None = None):
        """Training forward over a time window; differentiable.

        image [B, Tt, H, W, C] (uint8, or float in 0 … 255; a sequence of them, one per camera,
        for several cameras), state [B, Tt, D],
        word_ids [B, Tt, L] or [B, L] (the same instruction at every step),
        exits [B, Tt] or [Tt] integers in 0 … E: the read whose head state is carried to the next
        time step (DeeR trains the shared head on randomly chosen exits per step, so that it
        tolerates the mixed-depth history the runtime produces).
        rec_state: (h, c) [B, layers, hidden] before the window; None = zeros.

        Returns (y [B, Tt, E+1, A] ([B, Tt, E+1, H, A] for a chunk): every read's normalised head output, each from the state
        carried along the chosen exits — compare with normalise_action(target); index 0 is the
        reference read — and the state after the window)."""
        images = [image] if isinstance(image, torch.Tensor) else list(image)
        B, Tt = images[0].shape[:2]
        E1 = self.dims.E + 1
        if word_ids.dim() == 2:
            word_ids = word_ids[:, None].expand(B, Tt, word_ids.shape[-1])
        exits = torch.as_tensor(exits, device=images[0].device).long()
        if exits.dim() == 1:
            exits = exits[None].expand(B, Tt)
        # The backbone has no memory: run every frame of the window as one batch.
        features = self.exit_features([i.flatten(0, 1) for i in images], state.flatten(0, 1),
                                      word_ids.flatten(0, 1)).unflatten(0, (B, Tt))
        h, c = self.initial_state(B) if rec_state is None else rec_state
        last = []
        for t in range(Tt):
            # All E+1 reads from the same carried state, as the runtime's tentative runs.
            hs, cs = self.head.recur(features[:, t].flatten(0, 1),
                                     h.repeat_interleave(E1, 0), c.repeat_interleave(E1, 0))
            hs, cs = hs.unflatten(0, (B, E1)), cs.unflatten(0, (B, E1))
            last.append(hs[:, :, -1])
            pick = exits[:, t].view(B, 1, 1, 1).expand(B, 1, *hs.shape[2:])
            h, c = hs.gather(1, pick)[:, 0], cs.gather(1, pick)[:, 0]
        y = self.head_output(torch.stack(last, 1))
        return y, (h, c)
