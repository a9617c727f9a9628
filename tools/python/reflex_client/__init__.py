"""Python client for reflexd: ReflexClient (policy), ActionSubscriber (actions), ControlClient."""

from .client import ReflexClient
from .control import ControlClient
from .errors import ReflexError
from .keys import load_key
from .subscriber import ActionSubscriber

__all__ = ["ReflexClient", "ActionSubscriber", "ControlClient", "ReflexError", "load_key"]
