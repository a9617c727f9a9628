"""ActionSubscriber: every action reflexd publishes (CONTRACT section 6)."""

import zmq

from . import wire
from .keys import apply_curve
from .socket_owner import SocketOwner


class ActionSubscriber(SocketOwner):
    """Receives ``(robot, action, header)`` from reflexd's actions socket, for one robot or all."""

    def __init__(self, endpoint, robot=None, timeout_ms=None, server_public_key=None,
                 client_secret_key=None, client_public_key=None, context=None):
        self.robot = robot
        self.timeout_ms = timeout_ms
        self._socket = (context or zmq.Context.instance()).socket(zmq.SUB)
        try:
            self._socket.setsockopt(zmq.LINGER, 0)
            apply_curve(self._socket, server_public_key, client_secret_key, client_public_key)
            # The socket filters on a prefix; `receive` keeps exact matches only.
            self._socket.setsockopt(zmq.SUBSCRIBE, robot.encode() if robot is not None else b"")
            self._socket.connect(endpoint)
        except Exception:
            self._socket.close(linger=0)
            raise

    def receive(self, timeout_ms=None):
        """The next action: ``(robot, action, header)``. Raises TimeoutError after
        ``timeout_ms`` (default: the constructor's; None waits forever)."""
        timeout_ms = self.timeout_ms if timeout_ms is None else timeout_ms
        while True:
            if not self._socket.poll(timeout_ms, zmq.POLLIN):
                raise TimeoutError(f"no action published within {timeout_ms} ms")
            frames = self._socket.recv_multipart()
            if len(frames) < 2:
                continue
            robot = frames[0].decode("utf-8", errors="replace")
            if self.robot is not None and robot != self.robot:
                continue
            header = wire.decode_header(frames[1])
            return robot, wire.decode_tensor(header, frames[2:], "action"), header

    def __iter__(self):
        while True:
            yield self.receive()

