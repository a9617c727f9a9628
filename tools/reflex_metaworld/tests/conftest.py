# Rendering in the tests uses Mesa's EGL (llvmpipe) unless the caller chose another backend.
# The packages come from the editable install that tools/setup makes (pyproject.toml in tools/).
import os

os.environ.setdefault("MUJOCO_GL", "egl")
