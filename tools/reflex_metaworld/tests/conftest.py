# Puts tools/ on sys.path (so that plain `python -m pytest tools/reflex_metaworld/tests` works, as
# tools/test does with PYTHONPATH=tools); the package is `reflex_metaworld`, which does not shadow
# the Meta-World package (`metaworld`). Tests that need the simulator skip where it is missing.
import os
import sys

TOOLS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)
os.environ.setdefault("MUJOCO_GL", "egl")
