"""ChunkedPolicy: robot-side asynchronous execution of action chunks (docs/PROTOCOL.md, "Action chunks").

The robot's control loop calls ``act(observation)`` once per control period. The call never
waits for the daemon: it takes any reply that has arrived, hands out the action due now, and
sends the next request when the plan runs low. Time is counted in control periods (calls of
``act``); the injected ``clock`` (seconds) only times requests out.
"""

import time
from dataclasses import dataclass, field

import numpy as np
import zmq

from . import wire
from .errors import ReflexError
from .keys import apply_curve
from .socket_owner import SocketOwner

OVERLAPS = ("blend", "replace")


@dataclass
class ChunkedAction:
    """What ``act`` hands the control loop for this period.

    ``action``: float32 [A], the action due now (the hold action when ``held``).
    ``held``: nothing was planned for this period (a starvation).
    ``errors``: what went wrong since the last call — ReflexError (``paused``, ``overloaded``...)
    or TimeoutError — in the order it happened; the caller decides what to do about it.
    ``chunk_seq``: the seq of the request whose chunk produced ``action`` (None when held).
    """
    action: np.ndarray
    held: bool
    errors: list = field(default_factory=list)
    chunk_seq: int | None = None


class ChunkedPolicy(SocketOwner):
    """Executes a daemon's action chunks on the robot without ever blocking its control loop.

    endpoint: the policy socket. robot, instruction: as in ReflexClient.step.
    hold_action: float32 [A], returned when nothing is planned (declared by the caller: e.g. zero
    velocity, or the current joint positions).
    refill_at: a request is sent when fewer than this many planned actions remain after the one
    handed out now (and none is in flight: at most one request per robot).
    overlap: "blend" — where a new chunk overlaps what remains of the previous plan, the action is
    (1 − blend_weight)·previous + blend_weight·new (ACT-style temporal ensembling: an exponential
    average across the chunks that planned that period); "replace" — the new chunk wins.
    skip_stale: True (the default) skips a late chunk's first d actions, due in the d periods its
    reply took; False executes the chunk from its first action however late it is (no delay
    compensation: the baseline of the closed-loop delay experiment in docs/RESULTS.md).
    timeout_s: a request unanswered this long (by ``clock``) is given up: a TimeoutError is
    reported, and its reply, should it come later, is never applied (replies are matched by seq).
    retry_after_s: after an error or a timeout, no new request before this long.
    clock: seconds, monotonic (tests pass their own).
    """

    def __init__(self, endpoint, robot, instruction, hold_action, *, refill_at=2, overlap="blend",
                 blend_weight=0.5, skip_stale=True, timeout_s=1.0, retry_after_s=0.1, clock=time.monotonic,
                 deadline_ms=None, server_public_key=None, client_secret_key=None,
                 client_public_key=None, context=None):
        if overlap not in OVERLAPS:
            raise ValueError(f"overlap must be one of {OVERLAPS}, got {overlap!r}")
        if not 0.0 <= blend_weight <= 1.0:
            raise ValueError(f"blend_weight must be in [0, 1], got {blend_weight}")
        if refill_at < 1:
            raise ValueError(f"refill_at must be >= 1, got {refill_at}")
        self.robot, self.instruction, self.deadline_ms = robot, instruction, deadline_ms
        self.hold_action = np.array(hold_action, dtype=np.float32).reshape(-1)
        self.refill_at, self.overlap, self.blend_weight = refill_at, overlap, float(blend_weight)
        self.skip_stale = bool(skip_stale)
        self.timeout_s, self.retry_after_s, self.clock = timeout_s, retry_after_s, clock
        # Counters, for the robot's own logs and for tests.
        self.ticks = 0              # control periods so far (calls of act)
        self.starvations = 0        # periods that got the hold action
        self.requests = 0           # requests sent
        self.chunks = 0             # chunks applied
        self.expired_chunks = 0     # chunks that arrived after all their actions were due
        self.dropped_replies = 0    # replies to requests given up on (or never sent)
        self.last_info = None       # header of the last chunk applied
        self._seq = 0
        self._in_flight = None      # (seq, tick the observation was taken, clock when sent)
        self._not_before = None     # clock before which no request is sent (after an error)
        self._plan_start = 0        # tick of self._plan[0]
        self._plan = np.zeros((0, self.hold_action.size), np.float32)
        self._plan_seq = np.zeros(0, np.int64)
        self._socket = (context or zmq.Context.instance()).socket(zmq.DEALER)
        try:
            self._socket.setsockopt(zmq.LINGER, 0)
            apply_curve(self._socket, server_public_key, client_secret_key, client_public_key)
            self._socket.connect(endpoint)
        except Exception:
            self._socket.close(linger=0)
            raise

    @property
    def in_flight(self):
        """The seq of the request in flight, or None."""
        return None if self._in_flight is None else self._in_flight[0]

    def reply_ready(self, timeout_ms=0):
        """True when a reply can be read, waiting at most ``timeout_ms``. For simulations that
        deliver replies at chosen periods (the delay experiment); a control loop never needs it."""
        return bool(self._socket.poll(timeout_ms, zmq.POLLIN))

    @property
    def planned(self):
        """Actions planned from the current period on (including the one due now)."""
        return max(0, self._plan_start + len(self._plan) - self.ticks)

    def act(self, observation):
        """One control period. ``observation``: input name → array (every input of the model:
        each camera, ``state``), taken now; it is sent only when a request is due. Returns a
        ChunkedAction. Never blocks: the socket is only polled."""
        now = self.ticks
        errors = []
        # Past periods leave the plan: it starts now.
        cut = min(now - self._plan_start, len(self._plan))
        self._plan, self._plan_seq, self._plan_start = self._plan[cut:], self._plan_seq[cut:], now
        self._receive(now, errors)
        if self._in_flight is not None and self.clock() - self._in_flight[2] > self.timeout_s:
            seq = self._in_flight[0]
            self._in_flight = None
            self._not_before = self.clock() + self.retry_after_s
            errors.append(TimeoutError(f"no reply to seq {seq} within {self.timeout_s} s; given up"))
        if len(self._plan):
            result = ChunkedAction(self._plan[0].copy(), False, errors, int(self._plan_seq[0]))
        else:
            self.starvations += 1
            result = ChunkedAction(self.hold_action.copy(), True, errors)
        remaining = len(self._plan) - 1          # planned after the action handed out now
        if (self._in_flight is None and remaining < self.refill_at
                and (self._not_before is None or self.clock() >= self._not_before)):
            self._request(observation, now, errors)
        self.ticks += 1
        return result

    # -- the socket

    def _request(self, observation, now, errors):
        self._seq += 1
        header = {"v": 1, "type": "step", "robot": self.robot, "seq": self._seq, "instruction": self.instruction}
        if self.deadline_ms is not None:
            header["deadline_ms"] = self.deadline_ms
        frames = wire.encode_request(header, list(observation.items()))
        try:
            self._socket.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            self._not_before = self.clock() + self.retry_after_s
            errors.append(TimeoutError("the policy socket would not take the request (send queue full)"))
            return
        self.requests += 1
        self._in_flight = (self._seq, now, self.clock())

    def _receive(self, now, errors):
        while self._socket.poll(0, zmq.POLLIN):
            reply = self._socket.recv_multipart()
            if reply and not reply[0]:
                reply = reply[1:]
            if not reply:
                continue
            try:
                info = wire.decode_header(reply[0])
            except ReflexError as error:
                errors.append(error)
                continue
            if self._in_flight is None or info.get("seq") != self._in_flight[0]:
                self.dropped_replies += 1       # a request given up on: never applied
                continue
            seq, taken, _ = self._in_flight
            self._in_flight = None
            if info.get("type") == "error":
                self._not_before = self.clock() + self.retry_after_s
                errors.append(ReflexError(info.get("code", "internal"), info.get("message", ""), info))
                continue
            try:
                if info.get("type") != "action":
                    raise ReflexError("bad_reply", f"expected an action reply, got {info.get('type')!r}", info)
                chunk = wire.decode_tensor(info, reply[1:], "action")
                chunk = chunk.reshape(1, -1) if chunk.ndim == 1 else chunk
                if chunk.ndim != 2 or chunk.shape[1] != self.hold_action.size:
                    raise ReflexError("bad_reply", f"action shape {list(chunk.shape)} does not fit the hold "
                                      f"action's {self.hold_action.size} dims", info)
            except ReflexError as error:
                errors.append(error)
                continue
            self.last_info = info
            self._merge(chunk, seq, now - taken)

    def _merge(self, chunk, seq, delay):
        """Applies a chunk whose observation was taken ``delay`` periods ago: its first ``delay``
        actions were due in the past and are skipped (unless skip_stale is off); the rest overlaps
        what is planned."""
        fresh = np.array(chunk[delay if self.skip_stale else 0:], dtype=np.float32)
        if not len(fresh):
            self.expired_chunks += 1
            return
        self.chunks += 1
        previous = self._plan                  # starts now, like fresh
        n = min(len(previous), len(fresh))
        if self.overlap == "blend" and n:
            fresh[:n] = (1 - self.blend_weight) * previous[:n] + self.blend_weight * fresh[:n]
        # A previous plan longer than the new chunk keeps its end.
        self._plan = np.concatenate([fresh, previous[len(fresh):]])
        self._plan_seq = np.concatenate([np.full(len(fresh), seq, np.int64), self._plan_seq[len(fresh):]])
