"""Meta-World data for reflex's default model: tasks and seeds (`tasks`), fast camera rendering and
the bundle's observation description (`render`), and the demonstration generator (`demos`).

Import it as `tools.metaworld` with the repository root on sys.path (for example
`python -m tools.metaworld.demos` from the root). Do not put `tools/` itself on sys.path: this
folder would then shadow the Meta-World package, whose import name is also `metaworld`.
"""

import os as _os

if __name__ == "metaworld":  # imported as the top-level `metaworld`: tools/ is on sys.path
    raise ImportError(
        "tools/metaworld shadows the Meta-World package (tools/ is on sys.path); put the "
        "repository root on sys.path instead and import tools.metaworld")

# Rendering is on the CPU; EGL (Mesa llvmpipe) unless the caller chose (e.g. MUJOCO_GL=osmesa).
_os.environ.setdefault("MUJOCO_GL", "egl")
