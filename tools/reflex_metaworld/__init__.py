"""Meta-World data for reflex's default model: tasks and seeds (`tasks`), fast camera rendering and
the bundle's observation description (`render`), the demonstration generator (`demos`), the
training pipeline (`train`, `dataset`) and the closed-loop evaluation through reflexd (`evaluate`,
the command line; `episodes`, the episode runner; `records`, episodes.jsonl; `report`, the summary
and tables; `eval_settings`; `plots`).

Installed editable by tools/setup (tools/pyproject.toml, extra `sim`): `python -m
reflex_metaworld.demos` or the console scripts `reflex-demos`, `reflex-train`, `reflex-evaluate`.
The folder was called `metaworld` before; that name shadowed the Meta-World package (import name
`metaworld`).
"""

import os as _os

# Rendering is on the CPU; EGL (Mesa llvmpipe) unless the caller chose (e.g. MUJOCO_GL=osmesa).
_os.environ.setdefault("MUJOCO_GL", "egl")
