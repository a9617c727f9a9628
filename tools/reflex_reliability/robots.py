"""Simulated robots for the reliability runs: each one a thread with its own DEALER socket,
sending observations shaped as the daemon's pong says (`inputs`), and a record of every request
it sent and what came back.

- `PacedRobot` sends at a fixed rate whatever the daemon does (a real controller's tick: it does
  not wait for the previous action), so a daemon slower than the robot shows as `stale` replies.
- `ClosedLoopRobot` sends its next request when the previous one is answered (as fast as served).

A request is *answered* when a reply with its seq came back (an action or any error); one that
never is, within the drain time at the end, is *unanswered*: the thing these runs must never see.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter

import numpy as np
import zmq

from reflex_client import wire


def observation_inputs(inputs: list[dict], seed: int) -> list[tuple[str, np.ndarray]]:
    """Random tensors of the shapes and dtypes in the pong's `inputs`."""
    rng = np.random.default_rng(seed)
    out = []
    for spec in inputs:
        shape = tuple(spec["shape"])
        if spec["dtype"] == "uint8":
            out.append((spec["name"], rng.integers(0, 256, shape, dtype=np.uint8)))
        else:
            out.append((spec["name"], rng.standard_normal(shape).astype(np.float32)))
    return out


def percentiles_ms(latencies_s: list[float]) -> dict:
    if not latencies_s:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    a = np.asarray(latencies_s) * 1000
    return {"p50": round(float(np.percentile(a, 50)), 3), "p90": round(float(np.percentile(a, 90)), 3),
            "p99": round(float(np.percentile(a, 99)), 3), "max": round(float(a.max()), 3)}


class Robot(threading.Thread):
    """The bookkeeping both kinds share. `stop()` ends sending; the thread then waits up to
    `drain_s` for the replies still owed and exits."""

    def __init__(self, endpoint: str, robot: str, instruction: str, inputs: list[dict], seed: int,
                 drain_s: float = 5.0, reset_every: int | None = None):
        super().__init__(name=f"robot-{robot}", daemon=True)
        self.endpoint, self.robot, self.instruction = endpoint, robot, instruction
        self.tensors = observation_inputs(inputs, seed)
        self.drain_s = drain_s
        self.reset_every = reset_every
        self._halt = threading.Event()
        self.sent: dict[int, float] = {}          # seq -> send time, until answered
        self.codes: Counter = Counter()           # "ok" (an action), "reset_ok", or the error code
        self.latencies: list[float] = []          # of actions, seconds from send to reply
        self.daemon_times: list[float] = []       # of actions, the daemon's timing_us.total, seconds
        self.reply_times: list[float] = []        # of actions, time.monotonic() at the reply
        self.exits: Counter = Counter()
        self.late = 0                              # actions later than `late_s` (see subclasses)
        self.late_s: float | None = None
        self.requests = 0
        self.seq = 0
        self.failure: str | None = None

    def stop(self) -> None:
        self._halt.set()

    @property
    def stopping(self) -> bool:
        return self._halt.is_set()

    def _socket(self) -> zmq.Socket:
        s = zmq.Context.instance().socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.endpoint)
        return s

    def _send(self, sock: zmq.Socket) -> None:
        self.seq += 1
        kind = "step"
        if self.reset_every and self.seq % self.reset_every == 0:
            kind = "reset"
        header = {"v": 1, "type": kind, "robot": self.robot, "seq": self.seq}
        if kind == "step":
            header["instruction"] = self.instruction
            frames = wire.encode_request(header, self.tensors)
        else:
            frames = [json.dumps(header).encode()]
        self.sent[self.seq] = time.monotonic()
        self.requests += 1
        sock.send_multipart([b""] + frames, copy=False)

    def _receive(self, sock: zmq.Socket) -> int | None:
        """Takes one reply off the socket; returns its seq."""
        frames = sock.recv_multipart()
        now = time.monotonic()
        if frames and not frames[0]:
            frames = frames[1:]
        header = json.loads(frames[0])
        seq = header.get("seq")
        sent = self.sent.pop(seq, None)
        if sent is None:
            self.codes["unmatched"] += 1
            return None
        kind = header.get("type")
        if kind == "action":
            self.codes["ok"] += 1
            self.latencies.append(now - sent)
            self.reply_times.append(now)
            self.daemon_times.append(header.get("timing_us", {}).get("total", 0) / 1e6)
            self.exits[header.get("exit")] += 1
            if self.late_s is not None and now - sent > self.late_s:
                self.late += 1
        elif kind == "ok":
            self.codes["reset_ok"] += 1
        else:
            self.codes[header.get("code", kind)] += 1
        return seq

    def _drain(self, sock: zmq.Socket) -> None:
        end = time.monotonic() + self.drain_s
        while self.sent and time.monotonic() < end:
            if sock.poll(max(1, int((end - time.monotonic()) * 1000)), zmq.POLLIN):
                self._receive(sock)

    def run(self) -> None:
        sock = self._socket()
        try:
            self.loop(sock)
            self._drain(sock)
        except Exception as error:      # reported, never hidden: the run fails on it
            self.failure = f"{type(error).__name__}: {error}"
        finally:
            sock.close(linger=0)

    def loop(self, sock: zmq.Socket) -> None:
        raise NotImplementedError

    def report(self) -> dict:
        return {"robot": self.robot, "requests": self.requests, "answered": self.requests - len(self.sent),
                "unanswered": len(self.sent), "codes": dict(self.codes), "late": self.late,
                "latency_ms": percentiles_ms(self.latencies),
                "daemon_ms": percentiles_ms(self.daemon_times),
                "exits": {str(k): v for k, v in sorted(self.exits.items(), key=lambda kv: str(kv[0]))},
                "failure": self.failure}


class PacedRobot(Robot):
    """Sends at `hz` for as long as it runs, its ticks shifted by `phase` (a share of the period:
    independent robots do not tick in step). An action that comes back later than one period
    (after the next observation was due) is counted `late`."""

    def __init__(self, *args, hz: float, phase: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.period = 1.0 / hz
        self.phase = phase
        self.late_s = self.period

    def loop(self, sock: zmq.Socket) -> None:
        t0 = time.monotonic() + self.phase * self.period
        k = 0
        while not self.stopping:
            due = t0 + k * self.period
            while True:
                wait = due - time.monotonic()
                if wait <= 0:
                    break
                if sock.poll(max(0, int(wait * 1000)), zmq.POLLIN):
                    self._receive(sock)
            self._send(sock)
            k += 1


class ClosedLoopRobot(Robot):
    """Sends, waits for the answer (at most `timeout_s`), sends again; `steps` bounds the total."""

    def __init__(self, *args, steps: int | None = None, timeout_s: float = 10.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = steps
        self.timeout_s = timeout_s

    def loop(self, sock: zmq.Socket) -> None:
        while not self.stopping and (self.steps is None or self.requests < self.steps):
            self._send(sock)
            end = time.monotonic() + self.timeout_s
            while self.sent and time.monotonic() < end:
                if sock.poll(max(1, int((end - time.monotonic()) * 1000)), zmq.POLLIN):
                    self._receive(sock)
            if self.sent:       # not answered in time: stop sending, the drain decides
                return


def totals(reports: list[dict]) -> dict:
    codes: Counter = Counter()
    for r in reports:
        codes.update(r["codes"])
    return {"requests": sum(r["requests"] for r in reports),
            "answered": sum(r["answered"] for r in reports),
            "unanswered": sum(r["unanswered"] for r in reports),
            "late": sum(r["late"] for r in reports), "codes": dict(codes),
            "failures": [r["failure"] for r in reports if r["failure"]]}
