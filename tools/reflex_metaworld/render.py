"""Fast CPU rendering of Meta-World camera images, and the description of the default model's
observations (CONTRACT section 10: the bundle's `observation`).

Settings (../shared/research/PLATFORM.md): `mujoco.Renderer` at the image size itself (offscreen
buffer = image size), no multisampling (`vis.quality.offsamples = 0`), shadows and reflections off,
the fixed "corner" camera, then a vertical flip (`np.flipud`: the corner camera renders upside
down). About 10 ms a 96x96 frame on one core instead of 130-270 ms with Meta-World's defaults.

The GL backend comes from MUJOCO_GL, read when mujoco is first imported; this package sets it to
"egl" unless it is already set (use MUJOCO_GL=osmesa where EGL fails).
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import importlib.metadata as _md  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import numpy as np  # noqa: E402

from . import tasks as _tasks  # noqa: E402

DEFAULT_IMAGE_SIZE = 96
DEFAULT_CAMERA = "corner"
FLIP = "vertical"  # rows reversed (np.flipud) after rendering; no horizontal flip


def render_settings(image_size: int = DEFAULT_IMAGE_SIZE, camera: str = DEFAULT_CAMERA) -> dict:
    """Exactly how a frame is made; recorded in the demos manifest and the bundle's `observation`."""
    return {
        "renderer": "mujoco.Renderer",
        "camera": camera,
        "image_size": int(image_size),
        "height": int(image_size),
        "width": int(image_size),
        "flip": FLIP,
        "offsamples": 0,
        "shadow": False,
        "reflection": False,
        "dtype": "uint8",
        "layout": "HWC",
        "channels": "RGB",
    }


class Camera:
    """Renders an env's current state from a fixed camera. One per env (it holds a GL context).

    `render()` returns a fresh uint8 array [H, W, 3], upright.
    """

    def __init__(self, env, image_size: int = DEFAULT_IMAGE_SIZE, camera: str = DEFAULT_CAMERA):
        import mujoco

        self._mujoco = mujoco
        self.env = env
        self.image_size = int(image_size)
        self.camera = camera
        m = env.model
        m.vis.quality.offsamples = 0
        m.vis.global_.offwidth = max(int(m.vis.global_.offwidth), self.image_size)
        m.vis.global_.offheight = max(int(m.vis.global_.offheight), self.image_size)
        self._renderer = mujoco.Renderer(m, height=self.image_size, width=self.image_size)
        self._cam_id = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if self._cam_id < 0:
            names = [m.camera(i).name for i in range(m.ncam)]
            raise ValueError(f"no camera {camera!r}; cameras: {names}")

    def render(self) -> np.ndarray:
        mj = self._mujoco
        r = self._renderer
        r.update_scene(self.env.data, camera=self._cam_id)
        r.scene.flags[mj.mjtRndFlag.mjRND_SHADOW] = 0
        r.scene.flags[mj.mjtRndFlag.mjRND_REFLECTION] = 0
        img = r.render()
        return np.ascontiguousarray(np.flipud(img))

    def settings(self) -> dict:
        return render_settings(self.image_size, self.camera)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def simulator_versions() -> dict:
    out = {}
    for pkg in ("metaworld", "mujoco", "gymnasium"):
        try:
            out[pkg] = _md.version(pkg)
        except _md.PackageNotFoundError:
            out[pkg] = None
    return out


def observation_spec(image_size: int = DEFAULT_IMAGE_SIZE, camera: str = DEFAULT_CAMERA,
                     task_names: Sequence[str] = _tasks.TASK_NAMES) -> dict:
    """The bundle's `observation` object (CONTRACT section 10) for the default model."""
    v = simulator_versions()
    return {
        "simulator": "metaworld",
        "simulator_version": v["metaworld"],
        "mujoco_version": v["mujoco"],
        "tasks": _tasks.task_list(task_names),
        "camera": camera,
        "image_size": int(image_size),
        "flip": FLIP,
        "render": render_settings(image_size, camera),
        "state_slice": list(_tasks.STATE_SLICE),
        "state_fields": ["hand_x", "hand_y", "hand_z", "gripper_opening"],
        "state_source": "Meta-World 39-value observation vector, MT1 (goal-observable) tasks",
        "action": {"fields": ["dx", "dy", "dz", "grip"], "low": _tasks.ACTION_LOW,
                   "high": _tasks.ACTION_HIGH},
        "max_steps": {t: _tasks.spec(t).max_steps for t in task_names},
        "layout_seeds": {"train": list(_tasks.TRAIN_SEEDS), "validation": _tasks.VAL_SEED,
                         "evaluation": _tasks.EVAL_SEED},
    }
