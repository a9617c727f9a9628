"""The default model's tasks, their instructions, seeds and layouts: the one place that defines them.

Training, export and evaluation import this module; nothing else lists tasks or seeds.

A *layout* is one Meta-World task instance (`metaworld.Task`): the randomised initial positions of
the objects and of the goal. `MT1(name, seed=s)` draws 50 layouts from seed `s`. Training, the
validation (calibration) episodes and the evaluation use disjoint seeds, so no evaluation layout
is a training layout; `nearest_layout_distances` measures how close they come anyway.

Imports of metaworld/mujoco are deferred to the functions that need them, so that reading the task
list (e.g. in the exporter) does not load the simulator.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    name: str           # Meta-World v3 environment name
    instruction: str    # the words the policy is given
    max_steps: int      # step limit of an episode (demonstrations and evaluation)
    group: str          # "basic" or "visible-target"


# The 12 tasks, in model order (the task index used by training and the bundle is this order).
# max_steps: from the experts' steps to first success on the 50 layouts of MT1(name, seed=0)
# (`python -m reflex_metaworld.demos --check-experts`): the slowest episodes take 65-122 steps on the
# basic tasks, 99 on assembly, 77 on hammer, 236 on bin-picking and 240 on peg-insert-side. 200
# steps (300 for the last two) leave room for a learned policy; Meta-World's own limit is 500.
TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("drawer-open-v3", "open the drawer", 200, "basic"),
    TaskSpec("drawer-close-v3", "close the drawer", 200, "basic"),
    TaskSpec("window-open-v3", "open the window", 200, "basic"),
    TaskSpec("window-close-v3", "close the window", 200, "basic"),
    TaskSpec("faucet-open-v3", "turn on the faucet", 200, "basic"),
    TaskSpec("faucet-close-v3", "turn off the faucet", 200, "basic"),
    TaskSpec("button-press-topdown-v3", "press the button", 200, "basic"),
    TaskSpec("door-open-v3", "open the door", 200, "basic"),
    TaskSpec("assembly-v3", "put the ring on the peg", 200, "visible-target"),
    TaskSpec("hammer-v3", "hammer the nail", 200, "visible-target"),
    TaskSpec("bin-picking-v3", "move the cube to the other bin", 300, "visible-target"),
    TaskSpec("peg-insert-side-v3", "insert the peg into the hole", 300, "visible-target"),
)

# Visible-target tasks to swap in if one of the above has an expert below MIN_EXPERT_SUCCESS
# (none was needed: see docs/DATA.md and the manifest's expert success rates).
SPARE_TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("basketball-v3", "put the ball in the hoop", 300, "visible-target"),
    TaskSpec("shelf-place-v3", "put the block on the shelf", 300, "visible-target"),
    TaskSpec("box-close-v3", "put the lid on the box", 300, "visible-target"),
    TaskSpec("sweep-into-v3", "sweep the cube into the hole", 300, "visible-target"),
)

TASK_NAMES: tuple[str, ...] = tuple(t.name for t in TASKS)
INSTRUCTIONS: dict[str, str] = {t.name: t.instruction for t in TASKS}
MIN_EXPERT_SUCCESS = 0.8

# Seeds of MT1 layout sets. Each seed gives 50 layouts per task. Training takes layouts from
# TRAIN_SEEDS in order (the first seed is enough when the expert succeeds on >= 80%; the others are
# reserve); validation/calibration episodes come from VAL_SEED; closed-loop evaluation from
# EVAL_SEED, never used for training or validation.
TRAIN_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7)
TRAIN_SEED = TRAIN_SEEDS[0]
VAL_SEED = 100
EVAL_SEED = 200
LAYOUTS_PER_SEED = 50

# Demonstrations stop this many steps after the first success (the idle tail is kept short).
STEPS_AFTER_SUCCESS = 10

# The policy's state input: this slice of Meta-World's 39-value observation vector
# (hand x, y, z and gripper opening). Object and goal positions are never an input.
STATE_SLICE = (0, 4)
STATE_DIM = STATE_SLICE[1] - STATE_SLICE[0]
ACTION_DIM = 4
ACTION_LOW, ACTION_HIGH = -1.0, 1.0

# Where the layout (object and goal positions, metres) sits in the 39-value observation:
# object 1 position, object 2 position (zeros when a task has one object), goal position.
LAYOUT_OBS_INDICES = tuple(range(4, 7)) + tuple(range(11, 14)) + tuple(range(36, 39))


def spec(name: str) -> TaskSpec:
    for t in TASKS + SPARE_TASKS:
        if t.name == name:
            return t
    raise KeyError(f"unknown task {name!r}; known: {', '.join(TASK_NAMES)}")


def task_index(name: str) -> int:
    return TASK_NAMES.index(name)


def state_of(obs: np.ndarray) -> np.ndarray:
    """The policy's state input from a Meta-World observation: obs[0:4] as float32."""
    return np.asarray(obs[STATE_SLICE[0]:STATE_SLICE[1]], dtype=np.float32)


def layout_of(obs: np.ndarray) -> np.ndarray:
    """Object and goal positions (metres, 9 values) from a full observation, for layout distances."""
    return np.asarray(obs, dtype=np.float64)[list(LAYOUT_OBS_INDICES)]


def _quiet_import_metaworld():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import metaworld  # noqa: F401
    return metaworld


@lru_cache(maxsize=64)
def _mt1(name: str, seed: int):
    metaworld = _quiet_import_metaworld()
    return metaworld.MT1(name, seed=seed)


def layouts(name: str, seed: int) -> list[Any]:
    """The 50 Meta-World task instances (layouts) of `MT1(name, seed=seed)`, in order."""
    return list(_mt1(name, seed).train_tasks)


def train_layouts(name: str) -> Iterator[tuple[int, int, Any]]:
    """Training layouts in the order the generator uses them: (seed, index within seed, task)."""
    for seed in TRAIN_SEEDS:
        for i, t in enumerate(layouts(name, seed)):
            yield seed, i, t


def make_env(name: str):
    """A Meta-World environment for `name` (no layout set yet: call `set_layout`)."""
    _quiet_import_metaworld()
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS
    return ALL_V3_ENVIRONMENTS[name]()


def set_layout(env, layout) -> None:
    """Sets a layout (a `metaworld.Task` from `layouts`) on an env; call `env.reset()` afterwards."""
    env.set_task(layout)


def expert(name: str):
    """Meta-World's scripted expert policy for `name` (obs -> 4-D action)."""
    _quiet_import_metaworld()
    from metaworld.policies import ENV_POLICY_MAP
    return ENV_POLICY_MAP[name]()


def expert_action(policy, obs: np.ndarray) -> np.ndarray:
    """The expert's action, clipped to the action space as the simulator clips it, float32."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the experts warn when their P-gain saturates the action
        a = policy.get_action(obs)
    return np.clip(np.asarray(a, dtype=np.float32), ACTION_LOW, ACTION_HIGH)


def nearest_layout_distances(eval_layouts: np.ndarray, train_layouts_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each evaluation layout, the Euclidean distance (metres) to the nearest training layout
    and that training layout's index. Layouts are rows of `layout_of` vectors."""
    e = np.asarray(eval_layouts, dtype=np.float64)
    t = np.asarray(train_layouts_, dtype=np.float64)
    if e.ndim != 2 or t.ndim != 2 or e.shape[1] != t.shape[1]:
        raise ValueError(f"layout arrays must be [N,D] and [M,D], got {e.shape} and {t.shape}")
    if len(t) == 0:
        raise ValueError("no training layouts")
    d = np.linalg.norm(e[:, None, :] - t[None, :, :], axis=-1)
    idx = d.argmin(axis=1)
    return d[np.arange(len(e)), idx], idx


def task_list(names: Sequence[str] = TASK_NAMES) -> list[dict[str, str]]:
    """`tasks` as the bundle's `observation` describes them: [{name, instruction}] in model order."""
    return [{"name": n, "instruction": spec(n).instruction} for n in names]
