"""The end-to-end harness: the real `reflexd` binary on ipc:// endpoints in a temporary folder, with
the committed fixture bundle Tests/Fixtures/tiny, driven over real ZeroMQ sockets.

Binaries: $REFLEXD_BIN and $REFLEXCTL_BIN (default .build/debug/reflexd and .build/debug/reflexctl,
relative to the repository). conftest.py turns it into fixtures; the tests import it as
`.harness` (tools/tests is a package, so that this folder's conftest never shadows another
folder's `conftest` module when tools/test runs every Python suite in one pytest)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import zmq

from reflex_client import ReflexClient
from reflexd_process import ReflexdProcess, binary, ipc_endpoints, merged  # noqa: F401 (merged: for the tests)
from reflexd_yaml import to_yaml  # noqa: F401 (re-exported for the tests)

REPO = Path(__file__).resolve().parents[2]

REFLEXD = binary("REFLEXD_BIN", "reflexd")
REFLEX = binary("REFLEXCTL_BIN", "reflexctl")
FIXTURE = REPO / "Tests" / "Fixtures" / "tiny"
INSTRUCTION = "open the drawer"
IMAGE_SHAPE = (32, 32, 3)
STATE_DIM = 4
EXITS = 3

# A generous safety limit, never an assertion about speed.
REPLY_TIMEOUT_MS = 10_000


def base_config(directory: Path) -> dict:
    return {
        "model": str(FIXTURE),
        "endpoints": ipc_endpoints(directory),
        "budget": {"average_fraction": 1.0},
        "scheduler": {"mode": "fixed"},
        "engine": {"threads": 1},
        "logging": {"level": "info"},
    }


# --------------------------------------------------------------------------- the daemon

_DAEMONS: list[Daemon] = []


class Daemon(ReflexdProcess):
    """One reflexd process (tools/reflexd_process.py) on the fixture bundle, registered so that
    a failing test's report shows its log."""

    def __init__(self, config: dict | None = None, env: dict | None = None, name: str = "reflexd"):
        super().__init__(REFLEXD, {}, env)
        self.name = name
        self.set_config(merged(base_config(self.dir), config))

    def start(self, wait: bool = True) -> Daemon:
        _DAEMONS.append(self)
        return super().start(wait=wait)

    # clients bound to this daemon
    def client(self, timeout_ms: int = REPLY_TIMEOUT_MS) -> ReflexClient:
        return ReflexClient(self.policy, timeout_ms=timeout_ms)

    def control_client(self, timeout_ms: int = REPLY_TIMEOUT_MS):
        from reflex_client import ControlClient
        return ControlClient(self.control, timeout_ms=timeout_ms)

    def stats(self) -> dict:
        with self.control_client() as control:
            return control.stats()


def module_daemon(config: dict | None = None):
    """A module-scoped fixture body: one daemon for every test of a module."""
    daemon = Daemon(config).start()
    try:
        yield daemon
    finally:
        stopped_cleanly(daemon)


def stopped_cleanly(daemon: Daemon) -> None:
    """Teardown: SIGTERM, exit 0, then the folder goes."""
    try:
        rc = daemon.stop()
        assert rc == 0, f"reflexd exited with {rc} after SIGTERM:\n{daemon.log()}"
    finally:
        daemon.cleanup()


# --------------------------------------------------------------------------- observations and raw frames

def observation(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, IMAGE_SHAPE, dtype=np.uint8)
    state = rng.standard_normal(STATE_DIM).astype(np.float32)
    return image, state


def tensor_list(image_shape=IMAGE_SHAPE, state_shape=(STATE_DIM,), image_dtype="uint8", state_dtype="float32"):
    return [{"name": "image", "dtype": image_dtype, "shape": list(image_shape)},
            {"name": "state", "dtype": state_dtype, "shape": list(state_shape)}]


def step_header(robot="raw-1", seq=1, instruction=INSTRUCTION, **extra) -> dict:
    header = {"v": 1, "type": "step", "robot": robot, "seq": seq, "instruction": instruction,
              "tensors": tensor_list()}
    header.update(extra)
    return header


def step_frames(robot="raw-1", seq=1, seed=0, instruction=INSTRUCTION, **extra) -> list[bytes]:
    image, state = observation(seed)
    header = step_header(robot, seq, instruction, **extra)
    return [json.dumps(header).encode(), image.tobytes(), state.astype("<f4").tobytes()]


class RawDealer:
    """A raw pyzmq DEALER: frames out, frames in, with a safety timeout."""

    def __init__(self, endpoint: str, socket_type=zmq.DEALER):
        self.socket = zmq.Context.instance().socket(socket_type)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)

    def send(self, frames: list[bytes]) -> None:
        self.socket.send_multipart(frames)

    def recv(self, timeout_ms: int = REPLY_TIMEOUT_MS) -> list[bytes]:
        if not self.socket.poll(timeout_ms, zmq.POLLIN):
            raise TimeoutError(f"no reply within {timeout_ms} ms")
        return self.socket.recv_multipart()

    def request(self, frames: list[bytes], timeout_ms: int = REPLY_TIMEOUT_MS) -> list[bytes]:
        self.send(frames)
        return self.recv(timeout_ms)

    def close(self) -> None:
        self.socket.close(linger=0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_reflex(*args, timeout_s: float = 60.0, binary: Path = REFLEX) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout_s, cwd=REPO)
