# Puts the repository root on sys.path so that `tools.metaworld` imports (not tools/ itself: that
# would shadow the Meta-World package), and skips these tests where Meta-World is not installed.
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("MUJOCO_GL", "egl")
