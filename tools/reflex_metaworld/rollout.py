"""The learner in the simulator, in process (PyTorch `ReflexNet.step`, no daemon): the closed-loop
episode that DAgger (`dagger.py`) labels with the expert and the fast proxy evaluation (`proxy.py`)
counts.

Observations are made as the demonstrations' (`render.Camera`, state obs[0:4]); the exit is
forced per step (`exit` k: the runtime's forced exit k, `"random"`: a uniformly random exit per
step, the history the scheduler produces; `E` = full depth). This is the reference step function,
not the Swift engine: a proxy, labelled as such wherever its figures appear.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from reflex_model.bundle import read_bundle
from reflex_model.configs import DEFAULT_CRITERION_DIMS
from reflex_model.network import ReflexNet

from . import render as R
from . import tasks as T
from .episodes import TaskScene


def load_policy(path: str | Path) -> tuple[ReflexNet, str, tuple[str, float | None]]:
    """A bundle directory (models/default) or a training checkpoint (ckpt.pt) → (net in eval
    mode, description, (camera, fovy) of its `image` input: the bundle's observation, or the
    checkpoint's `--image-camera`)."""
    path = Path(path)
    if path.is_dir():
        net, manifest = read_bundle(path)
        return net.eval(), f"bundle {path} ({manifest.get('name')})", R.image_view(manifest.get("observation"))
    ck = torch.load(path, map_location="cpu", weights_only=False)
    image_camera = ck.get("args", {}).get("image_camera") or R.DEFAULT_CAMERA
    net = ReflexNet(ck["architecture"], (R.DEFAULT_IMAGE_SIZE, R.DEFAULT_IMAGE_SIZE, 3), T.STATE_DIM,
                    T.ACTION_DIM, ck["vocabulary"], state_norm=ck["state_norm"], action=ck["action"],
                    criterion_dims=DEFAULT_CRITERION_DIMS)
    net.load_state_dict(ck["model"])
    return net.eval(), f"checkpoint {path} (step {ck['step']})", R.parse_view(image_camera)


class Scene(TaskScene):
    """The evaluation's scene (environment, camera, frozen frame: episodes.TaskScene) with the
    task's scripted expert, which labels every state the learner visits."""

    def __init__(self, task: str, image_size: int = R.DEFAULT_IMAGE_SIZE, camera: str = R.DEFAULT_CAMERA,
                 fovy: float | None = None):
        super().__init__(task, image_size, camera, fovy)
        self.policy = T.expert(task)


@dataclasses.dataclass
class Rollout:
    success: bool
    steps: int
    first_success: int | None
    exits: list[int]
    wall_s: float
    # recorded frames (record=True): what the learner saw and what the expert would have done
    images: list = dataclasses.field(default_factory=list)
    recorded_images: list = dataclasses.field(default_factory=list)   # record_camera's frames
    states: list = dataclasses.field(default_factory=list)
    obs: list = dataclasses.field(default_factory=list)
    labels: list = dataclasses.field(default_factory=list)     # the expert's action, clipped
    executed: list = dataclasses.field(default_factory=list)   # the action sent to the simulator
    success_flags: list = dataclasses.field(default_factory=list)


def run_episode(scene: Scene, net: ReflexNet, layout, exit: int | str, *, max_steps: int | None = None,
                frozen: bool = False, record: bool = False, beta: float = 0.0,
                rng: np.random.Generator | None = None,
                steps_after_success: int | None = None,
                record_camera: R.Camera | None = None) -> Rollout:
    """One episode of the learner from the layout's reset.

    exit: k (1 … E) forced, or "random" (a uniformly random exit per step). frozen: send the
    frozen frame instead of the camera. record: keep every frame with the expert's label for the
    visited state (DAgger). beta: probability per step of executing the expert's action instead
    of the learner's (DAgger's mixture; 0 = the learner alone). The episode ends at the first
    success (or `steps_after_success` steps after it, when recording) or at the step limit.
    record_camera (with record): a second camera on the scene's environment whose frame is also
    kept per step (`recorded_images`), taken at the same state as the learner's: DAgger stores the
    recording's own view beside a learner that sees another (e.g. `corner@30`)."""
    E = net.num_exits
    rng = rng or np.random.default_rng(0)
    max_steps = scene.spec.max_steps if max_steps is None else max_steps
    ids, unknown = net.tokenize(scene.spec.instruction)
    if unknown:
        raise ValueError(f"{scene.task}: instruction words {unknown} are not in the model's vocabulary")
    T.set_layout(scene.env, layout)
    obs, _ = scene.env.reset()
    frozen_image = scene.frozen_frame() if frozen else None
    if frozen:   # frozen_frame may have reset the env to another layout: set ours again
        T.set_layout(scene.env, layout)
        obs, _ = scene.env.reset()
    rec = None
    out = Rollout(False, 0, None, [0] * E, 0.0)
    t0 = time.perf_counter()
    for t in range(max_steps):
        if out.first_success is not None:
            if steps_after_success is None or t >= out.first_success + steps_after_success:
                break
        image = scene.camera.render() if frozen_image is None else frozen_image
        state = T.state_of(obs)
        k = int(rng.integers(1, E + 1)) if exit == "random" else int(exit)
        r = net.step({"image": torch.from_numpy(image), "state": torch.from_numpy(state),
                      "word_ids": ids}, rec, stop_rule=lambda i, d, k=k: i >= k)
        rec = r.state
        out.exits[r.exit - 1] += 1
        action = r.action.numpy().astype(np.float32)
        if record or beta > 0:
            label = T.expert_action(scene.policy, obs)
            if beta > 0 and rng.random() < beta:
                action = label
        if record:
            out.images.append(image)
            if record_camera is not None:
                out.recorded_images.append(record_camera.render())
            out.states.append(state)
            out.obs.append(np.asarray(obs, np.float32))
            out.labels.append(label)
            out.executed.append(action)
            out.success_flags.append(out.first_success is not None)
        obs, _r, _term, trunc, info = scene.env.step(action)
        out.steps = t + 1
        if info.get("success") and out.first_success is None:
            out.success, out.first_success = True, t + 1
        if trunc:
            break
    out.wall_s = time.perf_counter() - t0
    return out
