"""ControlClient: operator commands on reflexd's control socket (CONTRACT section 7)."""

import json

import zmq

from .errors import ReflexError
from .keys import apply_curve
from .socket_owner import SocketOwner


class ControlClient(SocketOwner):
    """JSON commands over a REQ socket. After a timeout the socket is made anew (a REQ socket
    that lost its reply can send no more), so the client stays usable."""

    def __init__(self, endpoint, timeout_ms=5000, server_public_key=None, client_secret_key=None,
                 client_public_key=None, context=None):
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self._context = context or zmq.Context.instance()
        self._curve = (server_public_key, client_secret_key, client_public_key)
        self._socket = self._connect()

    def command(self, request):
        """Sends one command object and returns the reply object; a reply with ``error``
        raises ReflexError."""
        self._socket.send(json.dumps(request).encode())
        if not self._socket.poll(self.timeout_ms, zmq.POLLIN):
            self._socket.close(linger=0)
            self._socket = self._connect()
            raise TimeoutError(f"no reply from reflexd control at {self.endpoint} within {self.timeout_ms} ms")
        try:
            reply = json.loads(self._socket.recv().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ReflexError("bad_reply", f"control reply is not JSON: {error}") from None
        if not isinstance(reply, dict):
            raise ReflexError("bad_reply", "control reply is not a JSON object")
        if "error" in reply:
            raise ReflexError(reply.get("code", "control"), str(reply["error"]), reply)
        return reply

    def stats(self):
        return self.command({"cmd": "stats"})

    def budget(self, **keys):
        """Applies budget keys live (``average_fraction=0.3``, ``deadline_ms=40``...); returns
        ``{"budget": {...}}``."""
        return self.command({"cmd": "budget", **keys})

    def pause(self):
        return self.command({"cmd": "pause"})

    def resume(self):
        return self.command({"cmd": "resume"})

    def reload(self):
        return self.command({"cmd": "reload"})

    def _connect(self):
        socket = self._context.socket(zmq.REQ)
        try:
            socket.setsockopt(zmq.LINGER, 0)
            apply_curve(socket, *self._curve)
            socket.connect(self.endpoint)
        except Exception:
            socket.close(linger=0)
            raise
        return socket
