"""Meta-World data for reflex's default model: tasks and seeds (`tasks`), fast camera rendering and
the bundle's observation description (`render`), the demonstration generator (`demos`) and the
training pipeline (`train`, `dataset`).

Import it as `reflex_metaworld` with `tools/` on sys.path, as `reflex_model` (for example
`PYTHONPATH=tools python -m reflex_metaworld.demos` from the repository root). The folder was
called `metaworld` before; that name shadowed the Meta-World package (import name `metaworld`)
whenever tools/ was on sys.path, which tools/test does.
"""

import os as _os

# Rendering is on the CPU; EGL (Mesa llvmpipe) unless the caller chose (e.g. MUJOCO_GL=osmesa).
_os.environ.setdefault("MUJOCO_GL", "egl")
