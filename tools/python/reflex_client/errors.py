"""The error a reflexd reply reports."""


class ReflexError(Exception):
    """An error reply: ``code`` is one of the contract's codes (``bad_tensor``, ``stale``, ...),
    or ``bad_reply`` when the reply itself broke the protocol. ``info`` is the reply header."""

    def __init__(self, code, message, info=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.info = info or {}
