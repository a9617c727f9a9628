"""Validation losses per exit and DeeR calibration distances, from whole demonstration episodes.

Each episode is run step by step from a reset, as the runtime runs it: at every step the shared
head is run on every read (the reference read and exits 1 … E) from the committed recurrent
state, dist_i = RMS over the criterion dims between the clipped actions of reads i and i−1, and
then one state is committed. This is the reference `ReflexNet.step` at full depth (no stop rule),
batched: the backbone has no memory, so every frame's features come from one batched pass, and
only the cheap head runs step by step (tests/test_train.py checks equality with `step`).

Two ways to commit:
- random: a uniformly random exit in 1 … E per step (DeeR's calibration: the history mixes
  depths as it will under the scheduler). Gives the calibration distances and the "random-history"
  loss of every read.
- forced i: always exit i (what the runtime does with the exit forced to i). Gives the loss of
  exit i with its own history.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from reflex_model.network import ReflexNet

from .dataset import Demos


@torch.no_grad()
def episode_features(net: ReflexNet, demos: Demos, e: int, chunk: int = 256) -> torch.Tensor:
    """Every read's feature for every frame of episode e, [L, E+1, d]."""
    sl = demos.episode_slice(e)
    out = []
    for s in range(sl.start, sl.stop, chunk):
        t = slice(s, min(s + chunk, sl.stop))
        out.append(net.exit_features([cam[t] for cam in demos.camera_images], demos.states[t],
                                     demos.word_ids[t]))
    return torch.cat(out)


@torch.no_grad()
def run_episode(net: ReflexNet, features: torch.Tensor, commit: np.ndarray | None):
    """Head over one episode. features [L, E+1, d]. commit: [L] exits in 1 … E (random history),
    or None: forced, every exit i committing its own state (E parallel histories).

    Returns (y [L, E+1, A] ([L, E+1, H, A] chunked) normalised outputs, distances [L, E] or None when forced). With
    commit None, y[:, i] for i ≥ 1 is exit i's output with exit i's own history and y[:, 0] is
    undefined (zeros)."""
    L, E1, _ = features.shape
    E = E1 - 1
    if commit is not None:
        h, c = net.initial_state(1)
        ys, dists = [], []
        for t in range(L):
            hs, cs = net.head.recur(features[t], h.expand(E1, -1, -1), c.expand(E1, -1, -1))
            y = net.head_output(hs[:, -1])
            a = net.denormalise(y)
            dists.append(net.distance(a[1:], a[:-1]))
            ys.append(y)
            k = int(commit[t])
            h, c = hs[k:k + 1], cs[k:k + 1]
        return torch.stack(ys), torch.stack(dists)
    h, c = net.initial_state(E)
    ys = []
    for t in range(L):
        h, c = net.head.recur(features[t, 1:], h, c)
        ys.append(net.head_output(h[:, -1]))
    y = torch.stack(ys)
    return torch.cat([torch.zeros_like(y[:, :1]), y], 1), None


def huber(y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Huber (delta 1) on normalised actions, mean over the action dims: [...] (for a chunk, one
    value per row: [..., H])."""
    return F.smooth_l1_loss(y, target.expand_as(y), reduction="none", beta=1.0).mean(-1)


@torch.no_grad()
def evaluate(net: ReflexNet, demos: Demos, episodes: list[int] | None = None, seed: int = 12345,
             forced: bool = True, calibration: bool = True) -> dict:
    """Per-read losses on the given episodes (default: all) and the calibration distances.

    Returns {"frames", "episodes", "random": {"huber": [E+1], "mse": [E+1]},
    "forced": {"huber": [E], "mse": [E]} (exits 1 … E), "action_rmse_forced": [E] (raw action
    units, xyz), "distances": [N, E] float32 tensor (random history, every step of every episode)}."""
    was_training = net.training
    net.eval()
    episodes = list(range(demos.episodes)) if episodes is None else list(episodes)
    rng = np.random.default_rng(seed)
    E = net.num_exits
    sums = {k: torch.zeros(E + 1, dtype=torch.float64) for k in ("rh", "rm", "fh", "fm", "fr")}
    n = 0
    distances = []
    for e in episodes:
        feats = episode_features(net, demos, e)
        target = net.normalise_action(demos.actions[demos.episode_slice(e)])[:, None]
        # A chunk's rows count as one action of H·A values (rows past the episode's end repeat
        # its last action, as the targets do).
        flat = (lambda v: v.flatten(-2)) if target.dim() == 4 else (lambda v: v)
        commit = rng.integers(1, E + 1, len(feats))
        y, d = run_episode(net, feats, commit)
        sums["rh"] += huber(flat(y), flat(target)).sum(0).double()
        sums["rm"] += flat(y - target).square().mean(-1).sum(0).double()
        if calibration:
            distances.append(d)
        if forced:
            yf, _ = run_episode(net, feats, None)
            sums["fh"] += huber(flat(yf), flat(target)).sum(0).double()
            sums["fm"] += flat(yf - target).square().mean(-1).sum(0).double()
            raw = net.denormalise(yf) - demos.actions[demos.episode_slice(e)][:, None]
            sums["fr"] += flat(raw[..., list(net.criterion_dims)]).square().mean(-1).sum(0).double()
        n += len(feats)
    net.train(was_training)
    out = {"frames": n, "episodes": len(episodes),
           "random": {"huber": (sums["rh"] / n).tolist(), "mse": (sums["rm"] / n).tolist()}}
    if forced:
        out["forced"] = {"huber": (sums["fh"] / n)[1:].tolist(), "mse": (sums["fm"] / n)[1:].tolist()}
        out["action_rmse_forced"] = (sums["fr"] / n).sqrt()[1:].tolist()
    if calibration:
        out["distances"] = torch.cat(distances).to(torch.float32)
    return out
