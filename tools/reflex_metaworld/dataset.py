"""Demonstrations for training the default model: loading, vocabulary, normalisation statistics,
episode streams for truncated back-propagation through time, and image augmentation.

The demonstration files are the generator's (`demos.py`): `<task>.npz` (training layouts) and
`<task>-val.npz` (held-out validation layouts) with images uint8 [N, H, W, 3], states float32
[N, 4] (obs[0:4]), actions float32 [N, 4] and per-episode `episode_start` / `episode_length`.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from reflex_model.network import split_words, tokenize

from . import render as R
from . import tasks as T

PAD, UNKNOWN = "<pad>", "<unk>"
AUX_STD_FLOOR = 0.01      # metres: a coordinate that hardly varies within a task (e.g. the second
                          # object's zeros) is not blown up by the per-task z-scoring
ACTION_STD_FLOOR = 0.05   # a constant action dimension (e.g. a task's gripper) must not divide by ~0
STATE_STD_FLOOR = 1e-3


def build_vocabulary(instructions: Sequence[str] = tuple(t.instruction for t in T.TASKS)) -> dict:
    """`<pad>`, `<unk>`, then every word of the instructions in order of first appearance."""
    words = [PAD, UNKNOWN]
    for text in instructions:
        for w in split_words(text):
            if w not in words:
                words.append(w)
    return {"words": words, "pad": PAD, "unknown": UNKNOWN}


@dataclasses.dataclass
class Demos:
    """Every frame of one split, all tasks concatenated (frames of an episode are consecutive)."""
    images: torch.Tensor        # [N, H, W, C] uint8
    states: torch.Tensor        # [N, D] float32
    actions: torch.Tensor       # [N, A] float32
    word_ids: torch.Tensor      # [N, L] int64 (the episode's instruction)
    ep_start: np.ndarray        # [E] int64, global frame index
    ep_length: np.ndarray       # [E] int64
    ep_task: np.ndarray         # [E] int64, index into task_names
    task_names: list[str]
    instructions: list[str]
    aux: torch.Tensor | None = None      # [N, 9] object and goal positions (obs[4:7], obs[11:14],
                                         # obs[36:39]), metres: training-only targets, never inputs
    aux_valid: torch.Tensor | None = None  # [N] bool: the file had the full observation
    extra_images: list = dataclasses.field(default_factory=list)  # per further camera: [N, h, w, C] uint8
    action_valid: torch.Tensor | None = None  # [N, H] bool with chunk targets: row j is inside the episode

    @property
    def camera_images(self) -> list[torch.Tensor]:
        """Every camera's frames, in the model's input order."""
        return [self.images, *self.extra_images]

    @property
    def frames(self) -> int:
        return int(self.images.shape[0])

    @property
    def episodes(self) -> int:
        return int(len(self.ep_start))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.images.shape[1:])

    def episode_slice(self, e: int) -> slice:
        return slice(int(self.ep_start[e]), int(self.ep_start[e] + self.ep_length[e]))

    def subset_episodes(self, per_task: int) -> list[int]:
        """The first `per_task` episodes of every task (a fixed subset for quick validation)."""
        out = []
        for k in range(len(self.task_names)):
            out.extend([int(e) for e in np.flatnonzero(self.ep_task == k)[:per_task]])
        return out


def demo_path(directory: Path, task: str, split: str) -> Path:
    return Path(directory) / (f"{task}.npz" if split == "train" else f"{task}-{split}.npz")


def camera_path(demo_file: Path, camera: str) -> Path:
    """A further camera's frames for a demonstration file: `<task>[-<split>].npz` →
    `<task>[-<split>].<camera>.npz` in the same folder (written by `reflex_metaworld.add_camera`)."""
    return demo_file.with_name(demo_file.name[: -len(".npz")] + f".{camera}.npz")


def image_camera_for(observation: dict | None) -> str | None:
    """The `image_camera` of `load_split` whose frames match a bundle's `image` input (its
    `observation`): None for the recording's own view (the default camera at its own field of
    view), else `CAMERA[@FOVY]` (e.g. `corner@30`)."""
    camera, fovy = R.image_view(observation)
    return None if camera == R.DEFAULT_CAMERA and fovy is None else R.view_name(camera, fovy)


def camera_frames(demo_file: Path, camera: str, end: int) -> np.ndarray:
    """The first `end` frames of `camera` for a demonstration file (`camera_path`). Raises
    FileNotFoundError when they were not rendered, ValueError when there are fewer than `end`."""
    cpath = camera_path(demo_file, camera)
    if not cpath.exists():
        raise FileNotFoundError(f"{cpath}: missing camera images (run reflex_metaworld.add_camera "
                                f"--camera {camera})")
    with np.load(cpath) as zc:
        if len(zc["images"]) < end:
            raise ValueError(f"{cpath}: {len(zc['images'])} frames, {demo_file} has {end}")
        return zc["images"][:end]


def chunk_targets(actions: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                  chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Action-chunk targets: row j of frame t is the action recorded j control periods later in
    the same episode. actions [N, A] → ([N, H, A], valid [N, H] bool); past the episode's end
    the last action repeats and valid is false (the loss leaves those rows out)."""
    n, _ = actions.shape
    t = np.arange(n)
    end = np.zeros(n, np.int64)
    for s, ln in zip(starts, lengths):
        end[int(s):int(s + ln)] = s + ln
    j = t[:, None] + np.arange(chunk)[None]
    valid = j < end[:, None]
    return actions[np.minimum(j, end[:, None] - 1)], valid


def strided_order(starts: np.ndarray, lengths: np.ndarray, stride: int):
    """Splits each episode into `stride` episodes of every stride-th frame (phase 0 … stride-1):
    the model then sees the world once per `stride` control periods, as it does when a chunk is
    asked for every `stride` periods. Returns (order [N]: old frame index per new position,
    new starts, new lengths); every frame is kept exactly once."""
    order, new_starts, new_lengths = [], [], []
    pos = 0
    for s, ln in zip(starts, lengths):
        for phase in range(min(stride, int(ln))):
            idx = np.arange(int(s) + phase, int(s + ln), stride)
            order.append(idx)
            new_starts.append(pos)
            new_lengths.append(len(idx))
            pos += len(idx)
    return np.concatenate(order), np.array(new_starts, np.int64), np.array(new_lengths, np.int64)


def load_split(directory: str | Path, split: str | Sequence[str], task_names: Sequence[str],
               vocabulary: dict, instruction_tokens: int, max_episodes: int | None = None,
               cameras: Sequence[str] = (), chunk: int = 1, stride: int = 1,
               image_camera: str | None = None) -> Demos:
    """Loads `split` ('train' or 'val') of the given tasks. max_episodes: per task (None = all),
    applied to the first split only.

    image_camera: the first camera's (`image`) frames come from `<task>[-<split>].<image_camera>.npz`
    (e.g. `corner@30`, re-rendered by `reflex_metaworld.add_camera`) instead of the recording's own.

    cameras: further cameras, each from `<task>[-<split>].<camera>.npz` (written by
    `reflex_metaworld.add_camera`), in the model's input order after the first. chunk H > 1:
    `actions` become chunk targets [N, H, A] with `action_valid` [N, H] (`chunk_targets`).
    stride S > 1: every episode is split into S episodes of every S-th frame (`strided_order`).

    `split` may be a list: the splits are aggregated (e.g. ["train", "dagger1"]: the
    demonstrations and the learner's own expert-labelled rollouts, `<task>-dagger1.npz`, written
    by `reflex_metaworld.dagger`). A split after the first may lack some tasks (a DAgger round
    of the hard tasks only); one that no task has raises FileNotFoundError (a misspelt round).
    Files with the full observation (`obs`) give `aux`, the object and goal positions
    (training-only targets)."""
    splits = [split] if isinstance(split, str) else list(split)
    images, states, actions, words, aux, aux_valid = [], [], [], [], [], []
    extra, action_valid = [[] for _ in cameras], []
    ep_start, ep_length, ep_task, instructions = [], [], [], []
    offset = 0
    found = {sp: 0 for sp in splits}
    for (k, name), sp in ((kn, sp) for kn in enumerate(task_names) for sp in splits):
        path = demo_path(Path(directory), name, sp)
        if not path.exists():
            if sp != splits[0]:
                continue    # an aggregated round need not cover every task; checked below
            raise FileNotFoundError(f"{path}: missing demonstrations (run reflex_metaworld.demos)")
        found[sp] += 1
        with np.load(path) as z:
            starts, lengths = z["episode_start"].astype(np.int64), z["episode_length"].astype(np.int64)
            if max_episodes is not None and sp == splits[0]:
                starts, lengths = starts[:max_episodes], lengths[:max_episodes]
            end = int(starts[-1] + lengths[-1])
            instruction = str(z["instruction"])
            act = z["actions"][:end].astype(np.float32)
            valid = np.ones((end, 1), bool)
            if chunk > 1:
                act, valid = chunk_targets(act, starts, lengths, chunk)
            order = None
            if stride > 1:
                order, starts, lengths = strided_order(starts, lengths, stride)

            def take(a, order=order):
                return a if order is None else a[order]
            images.append(take(z["images"][:end] if image_camera is None
                               else camera_frames(path, image_camera, end)))
            states.append(take(z["states"][:end].astype(np.float32)))
            actions.append(take(act))
            action_valid.append(take(valid))
            if "obs" in z.files:
                aux.append(take(z["obs"][:end][:, list(T.LAYOUT_OBS_INDICES)].astype(np.float32)))
                aux_valid.append(np.ones(end, bool))
            else:
                aux.append(np.zeros((end, len(T.LAYOUT_OBS_INDICES)), np.float32))
                aux_valid.append(np.zeros(end, bool))
        for c, camera in enumerate(cameras):
            extra[c].append(take(camera_frames(path, camera, end)))
        if name in T.INSTRUCTIONS and instruction != T.INSTRUCTIONS[name]:
            raise ValueError(f"{path}: instruction {instruction!r} differs from tasks.py's "
                             f"{T.INSTRUCTIONS[name]!r}")
        ids, unknown = tokenize(instruction, vocabulary, instruction_tokens)
        if unknown:
            raise ValueError(f"{path}: instruction words {unknown} are not in the vocabulary")
        words.append(np.tile(np.asarray(ids, np.int64), (end, 1)))
        ep_start.append(starts + offset)
        ep_length.append(lengths)
        ep_task.append(np.full(len(starts), k, np.int64))
        if sp == splits[0]:
            instructions.append(instruction)
        offset += end
    for sp, n in found.items():
        if n == 0:
            raise FileNotFoundError(f"no task has the split {sp!r} in {directory} "
                                    f"(e.g. {demo_path(Path(directory), task_names[0], sp).name})")
    return Demos(extra_images=[torch.from_numpy(np.concatenate(e)) for e in extra],
                 action_valid=torch.from_numpy(np.concatenate(action_valid)) if chunk > 1 else None,
                 aux=torch.from_numpy(np.concatenate(aux)),
                 aux_valid=torch.from_numpy(np.concatenate(aux_valid)),
                 images=torch.from_numpy(np.concatenate(images)),
                 states=torch.from_numpy(np.concatenate(states)),
                 actions=torch.from_numpy(np.concatenate(actions)),
                 word_ids=torch.from_numpy(np.concatenate(words)),
                 ep_start=np.concatenate(ep_start), ep_length=np.concatenate(ep_length),
                 ep_task=np.concatenate(ep_task), task_names=list(task_names),
                 instructions=instructions)


def normalisation(demos: Demos) -> tuple[dict, dict]:
    """(state_norm, action) for the manifest: mean/std over every training frame; the action's
    low/high are Meta-World's action space."""
    s, a = demos.states.double(), demos.actions.double()
    if a.dim() == 3:      # chunk targets: row 0 is every frame's own action
        a = a[:, 0]
    state_norm = {"mean": s.mean(0).tolist(), "std": s.std(0).clamp_min(STATE_STD_FLOOR).tolist()}
    A = a.shape[1]
    action = {"low": [T.ACTION_LOW] * A, "high": [T.ACTION_HIGH] * A,
              "mean": a.mean(0).tolist(), "std": a.std(0).clamp_min(ACTION_STD_FLOOR).tolist()}
    return state_norm, action


def aux_normalisation(demos: Demos) -> dict:
    """Per-task mean and std of the auxiliary targets over the frames that have them:
    {"mean": [K][9], "std": [K][9]} (std floored at AUX_STD_FLOOR metres)."""
    K, n_aux = len(demos.task_names), demos.aux.shape[1]
    mean, std = np.zeros((K, n_aux)), np.ones((K, n_aux))
    frame_task = frame_tasks(demos)
    for k in range(K):
        sel = (frame_task == k) & demos.aux_valid.numpy()
        if sel.any():
            a = demos.aux.numpy()[sel].astype(np.float64)
            mean[k], std[k] = a.mean(0), np.maximum(a.std(0), AUX_STD_FLOOR)
    return {"mean": mean.tolist(), "std": std.tolist(),
            "targets": "obs[4:7], obs[11:14], obs[36:39] (object 1, object 2, goal), z-scored per task"}


def frame_tasks(demos: Demos) -> np.ndarray:
    """The task index of every frame, [N]."""
    out = np.zeros(demos.frames, np.int64)
    for s, n, k in zip(demos.ep_start, demos.ep_length, demos.ep_task):
        out[int(s):int(s + n)] = k
    return out


class EpisodeStreams:
    """B parallel streams, each walking through whole episodes window by window, so that the
    recurrent state can be carried from one training step to the next exactly as the runtime
    carries it through an episode (truncated back-propagation through time).

    `next()` gives frame indices [B, W], a validity mask [B, W] (false past an episode's end; the
    index then repeats the last frame) and `reset` [B]: the stream started a new episode with this
    window, so its carried state must be zeroed. A stream's first episode starts at a random
    step (so that the streams are out of phase from the start); every later one at step 0.

    `task_weight` ({task name: weight}, default 1 each) draws an episode of a task with
    probability proportional to weight / (episodes of that task): the tasks the learner fits worst
    can be shown more often without duplicating data. None draws episodes uniformly."""

    def __init__(self, demos: Demos, batch: int, window: int, rng: np.random.Generator,
                 task_weight: dict[str, float] | None = None):
        self.demos, self.B, self.W, self.rng = demos, batch, window, rng
        self.p = None
        if task_weight:
            unknown = sorted(set(task_weight) - set(demos.task_names))
            if unknown:
                raise ValueError(f"task_weight names tasks not in the data: {', '.join(unknown)}")
            w = np.array([task_weight.get(n, 1.0) for n in demos.task_names], np.float64)
            if (w < 0).any() or w.sum() <= 0:
                raise ValueError("task weights must be >= 0 and not all 0")
            per_task = np.bincount(demos.ep_task, minlength=len(w)).astype(np.float64)
            p = w[demos.ep_task] / per_task[demos.ep_task]
            self.p = p / p.sum()
        if self.p is None:      # the draws of runs made before task weights existed, unchanged
            self.episode = rng.integers(0, demos.episodes, batch)
        else:
            self.episode = rng.choice(demos.episodes, batch, p=self.p)
        self.pos = np.array([rng.integers(0, demos.ep_length[e]) for e in self.episode], np.int64)
        self.fresh = np.ones(batch, bool)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        d = self.demos
        j = np.arange(self.W)
        length = d.ep_length[self.episode]
        steps = self.pos[:, None] + j[None]
        valid = steps < length[:, None]
        steps = np.minimum(steps, length[:, None] - 1)
        index = d.ep_start[self.episode][:, None] + steps
        reset = self.fresh.copy()
        self.pos += self.W
        done = self.pos >= length
        self.fresh = done
        for b in np.flatnonzero(done):
            self.episode[b] = self._draw()
            self.pos[b] = 0
        return torch.from_numpy(index), torch.from_numpy(valid), torch.from_numpy(reset)

    def _draw(self) -> int:
        if self.p is None:
            return int(self.rng.integers(0, self.demos.episodes))
        return int(self.rng.choice(self.demos.episodes, p=self.p))

    def state_dict(self) -> dict:
        return {"episode": self.episode.copy(), "pos": self.pos.copy(), "fresh": self.fresh.copy()}

    def load_state_dict(self, s: dict) -> None:
        self.episode, self.pos, self.fresh = (np.asarray(s[k]).copy() for k in ("episode", "pos", "fresh"))


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """DrQ-style random shift: replicate-pad by `pad` pixels and crop back at a random offset, one
    offset per sequence (the camera is fixed, so a window keeps one shift). images [B, W, H, W, C]
    uint8 → float32 in 0 … 255, same shape."""
    B, Tt, H, Wd, C = images.shape
    x = images.to(torch.float32).permute(0, 1, 4, 2, 3).reshape(B, Tt * C, H, Wd)
    if pad <= 0:
        return images.to(torch.float32)
    x = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (B, 2), generator=generator)
    out = torch.stack([x[b, :, oy:oy + H, ox:ox + Wd] for b, (oy, ox) in enumerate(offsets.tolist())])
    return out.reshape(B, Tt, C, H, Wd).permute(0, 1, 3, 4, 2).contiguous()
