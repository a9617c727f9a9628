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


def parse_view(text: str) -> tuple[str, float | None]:
    """`CAMERA` or `CAMERA@FOVY` (e.g. `corner@30`: Meta-World's corner camera with its vertical
    field of view narrowed from 45 to 30 degrees, a 1.55x zoom about the image centre) →
    (camera, fovy in degrees or None = the camera's own). Raises ValueError on a bad FOVY."""
    camera, sep, fovy = text.partition("@")
    if not sep:
        return camera, None
    try:
        value = float(fovy)
    except ValueError:
        raise ValueError(f"'{text}': the field of view after '@' must be degrees, e.g. corner@30") from None
    if not 1.0 <= value <= 170.0:
        raise ValueError(f"'{text}': field of view {value} degrees is outside 1-170")
    return camera, value


def view_name(camera: str, fovy: float | None) -> str:
    """The inverse of `parse_view`: `corner`, or `corner@30` (the file suffix of re-rendered frames)."""
    return camera if fovy is None else f"{camera}@{fovy:g}"


def render_settings(image_size: int = DEFAULT_IMAGE_SIZE, camera: str = DEFAULT_CAMERA,
                    fovy: float | None = None) -> dict:
    """Exactly how a frame is made; recorded in the demos manifest and the bundle's `observation`.
    fovy: the camera's vertical field of view in degrees when it is set (MuJoCo `cam_fovy`), absent
    when the camera keeps its own (every bundle made before the key existed)."""
    return {
        "renderer": "mujoco.Renderer",
        "camera": camera,
        **({} if fovy is None else {"fovy": float(fovy)}),
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


def image_render(observation: dict | None) -> dict:
    """The render settings of a bundle's `image` input from its `observation` (CONTRACT section
    10): `cameras.image`, else `render`, else the defaults at its `image_size`."""
    obs = observation or {}
    if isinstance(obs.get("cameras"), dict) and "image" in obs["cameras"]:
        return obs["cameras"]["image"]
    if isinstance(obs.get("render"), dict):
        return obs["render"]
    return render_settings(obs.get("image_size", DEFAULT_IMAGE_SIZE))


def image_view(observation: dict | None) -> tuple[str, float | None]:
    """(camera, fovy in degrees or None = the camera's own) of a bundle's `image` input: `image_render`'s."""
    settings = image_render(observation)
    return settings.get("camera", DEFAULT_CAMERA), settings.get("fovy")


class Camera:
    """Renders an env's current state from a fixed camera. One per env (it holds a GL context).
    fovy: degrees, the camera's vertical field of view when this object renders (None: the
    camera's own). The env's model is shared by its cameras: each render sets its own value first.

    `render()` returns a fresh uint8 array [H, W, 3], upright.
    """

    @classmethod
    def from_settings(cls, env, settings: dict) -> Camera:
        """A camera that renders as `settings` (a `render_settings` dict) say."""
        return cls(env, image_size=settings["image_size"], camera=settings["camera"], fovy=settings.get("fovy"))

    def __init__(self, env, image_size: int = DEFAULT_IMAGE_SIZE, camera: str = DEFAULT_CAMERA,
                 fovy: float | None = None):
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
        self.fovy = None if fovy is None else float(fovy)
        self._own_fovy = float(m.cam_fovy[self._cam_id])

    def render(self) -> np.ndarray:
        mj = self._mujoco
        r = self._renderer
        # the model is shared by every Camera of this env: set the field of view each time
        self.env.model.cam_fovy[self._cam_id] = self._own_fovy if self.fovy is None else self.fovy
        r.update_scene(self.env.data, camera=self._cam_id)
        r.scene.flags[mj.mjtRndFlag.mjRND_SHADOW] = 0
        r.scene.flags[mj.mjtRndFlag.mjRND_REFLECTION] = 0
        img = r.render()
        return np.ascontiguousarray(np.flipud(img))

    def settings(self) -> dict:
        return render_settings(self.image_size, self.camera, self.fovy)

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
                     task_names: Sequence[str] = _tasks.TASK_NAMES, fovy: float | None = None) -> dict:
    """The bundle's `observation` object (CONTRACT section 10) for the default model; fovy as in
    `render_settings` (also written beside `camera` when set)."""
    v = simulator_versions()
    return {
        "simulator": "metaworld",
        "simulator_version": v["metaworld"],
        "mujoco_version": v["mujoco"],
        "tasks": _tasks.task_list(task_names),
        "camera": camera,
        **({} if fovy is None else {"fovy": float(fovy)}),
        "image_size": int(image_size),
        "flip": FLIP,
        "render": render_settings(image_size, camera, fovy),
        "state_slice": list(_tasks.STATE_SLICE),
        "state_fields": ["hand_x", "hand_y", "hand_z", "gripper_opening"],
        "state_source": "Meta-World 39-value observation vector, MT1 (goal-observable) tasks",
        "action": {"fields": ["dx", "dy", "dz", "grip"], "low": _tasks.ACTION_LOW,
                   "high": _tasks.ACTION_HIGH},
        "max_steps": {t: _tasks.spec(t).max_steps for t in task_names},
        "layout_seeds": {"train": list(_tasks.TRAIN_SEEDS), "validation": _tasks.VAL_SEED,
                         "evaluation": _tasks.EVAL_SEED},
    }
