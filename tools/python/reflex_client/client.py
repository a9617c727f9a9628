"""ReflexClient: request/reply with reflexd's policy socket over a DEALER socket."""

import time

import zmq

from . import wire
from .errors import ReflexError
from .keys import apply_curve
from .socket_owner import SocketOwner


class ReflexClient(SocketOwner):
    """Sends observations to reflexd and returns its actions. ``timeout_ms`` bounds each call
    (None: wait forever). One request at a time; not thread-safe. Replies to requests that timed out are recognised by ``seq`` and dropped,
    so a timeout never leaves the client out of step. After a timeout the socket is replaced: a
    request still queued in it (the daemon was down) is discarded, never delivered later, where it
    would have run and advanced the robot's recurrent state behind the caller's back."""

    def __init__(self, endpoint, timeout_ms=5000, server_public_key=None, client_secret_key=None,
                 client_public_key=None, context=None):
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self._seq = 0
        self._context = context or zmq.Context.instance()
        self._curve = (server_public_key, client_secret_key, client_public_key)
        self._socket = self._connect()

    def _connect(self):
        socket = self._context.socket(zmq.DEALER)
        try:
            socket.setsockopt(zmq.LINGER, 0)
            socket.setsockopt(zmq.SNDTIMEO, -1 if self.timeout_ms is None else self.timeout_ms)
            apply_curve(socket, *self._curve)
            socket.connect(self.endpoint)
        except Exception:
            socket.close(linger=0)
            raise
        return socket

    def _abandon(self):
        """Drops whatever is queued for the daemon (linger 0) and connects afresh."""
        self._socket.close(linger=0)
        self._socket = self._connect()

    def step(self, robot, instruction, image=None, state=None, deadline_ms=None, tensors=None):
        """Sends one observation; returns ``(action, info)``: the action as a float32 array —
        [A], or [H, A] for a model with action chunks (``info["period_s"]`` is then the control
        period of its rows) — and the reply header. ``tensors`` adds inputs by name (a dict or
        (name, array) pairs): every camera of a model with several."""
        inputs = []
        if image is not None:
            inputs.append(("image", image))
        if state is not None:
            inputs.append(("state", state))
        if tensors is not None:
            inputs += list(tensors.items()) if isinstance(tensors, dict) else list(tensors)
        header = {"instruction": instruction}
        if deadline_ms is not None:
            header["deadline_ms"] = deadline_ms
        info, frames = self._request("step", robot, header, inputs)
        if info.get("type") != "action":
            raise ReflexError("bad_reply", f"expected an action reply, got {info.get('type')!r}", info)
        return wire.decode_tensor(info, frames, "action"), info

    def reset(self, robot):
        """Clears ``robot``'s recurrent state; returns the reply header."""
        return self._request("reset", robot, {}, [])[0]

    def ping(self, robot="ping"):
        """Returns the pong header (model, model_sha256, version, exits)."""
        return self._request("ping", robot, {}, [])[0]

    def _request(self, kind, robot, fields, inputs):
        self._seq += 1
        seq = self._seq
        header = {"v": 1, "type": kind, "robot": robot, "seq": seq, **fields}
        frames = wire.encode_request(header, inputs)
        try:
            self._socket.send_multipart([b""] + frames, copy=False)
        except zmq.Again:
            self._abandon()
            raise TimeoutError(f"reflexd at {self.endpoint} did not take the request within {self.timeout_ms} ms") from None
        deadline = None if self.timeout_ms is None else time.monotonic() + self.timeout_ms / 1000
        while True:
            remaining_ms = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not self._socket.poll(remaining_ms, zmq.POLLIN):
                self._abandon()
                raise TimeoutError(f"no reply from reflexd at {self.endpoint} within {self.timeout_ms} ms")
            reply = self._socket.recv_multipart()
            if reply and not reply[0]:
                reply = reply[1:]
            if not reply:
                continue
            info = wire.decode_header(reply[0])
            # Replies to earlier, timed-out requests are dropped. An error without a seq
            # (its header could not be read) can only answer the request now outstanding.
            if info.get("seq") != seq and not (info.get("seq") is None and info.get("type") == "error"):
                continue
            if info.get("type") == "error":
                raise ReflexError(info.get("code", "internal"), info.get("message", ""), info)
            return info, reply[1:]
