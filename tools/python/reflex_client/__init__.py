"""Python client for reflexd: ReflexClient (policy), ChunkedPolicy (robot-side execution of
action chunks), ActionSubscriber (actions), ControlClient."""

from .chunked import ChunkedAction, ChunkedPolicy
from .client import ReflexClient
from .control import ControlClient
from .errors import ReflexError
from .keys import load_key
from .subscriber import ActionSubscriber

__all__ = ["ReflexClient", "ChunkedPolicy", "ChunkedAction", "ActionSubscriber", "ControlClient", "ReflexError", "load_key"]
