"""The end-to-end harness: the real `reflexd` binary on ipc:// endpoints in a temporary folder, with
the committed fixture bundle Tests/Fixtures/tiny, driven over real ZeroMQ sockets.

Binaries: $REFLEXD_BIN and $REFLEX_BIN (default .build/debug/reflexd and .build/debug/reflex,
relative to the repository). conftest.py turns it into fixtures; the tests import it as
`.harness` (tools/tests is a package, so that this folder's conftest never shadows another
folder's `conftest` module when tools/test runs every Python suite in one pytest)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq

REPO = Path(__file__).resolve().parents[2]
for _p in (REPO / "tools", REPO / "tools" / "python"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from reflex_client import ReflexClient  # noqa: E402
from reflexd_yaml import to_yaml  # noqa: F401  (re-exported for the tests)


def _binary(variable: str, default: str) -> Path:
    path = Path(os.environ.get(variable, default))
    return path if path.is_absolute() else REPO / path


REFLEXD = _binary("REFLEXD_BIN", ".build/debug/reflexd")
REFLEX = _binary("REFLEX_BIN", ".build/debug/reflex")
FIXTURE = REPO / "Tests" / "Fixtures" / "tiny"
INSTRUCTION = "open the drawer"
IMAGE_SHAPE = (32, 32, 3)
STATE_DIM = 4
EXITS = 3

# Generous safety limits, never assertions about speed.
START_TIMEOUT_S = 30.0
REPLY_TIMEOUT_MS = 10_000


def merged(base: dict, overrides: dict | None) -> dict:
    out = json.loads(json.dumps(base))
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def base_config(directory: Path) -> dict:
    return {
        "model": str(FIXTURE),
        "endpoints": {"policy": f"ipc://{directory}/policy",
                      "actions": f"ipc://{directory}/actions",
                      "control": f"ipc://{directory}/control"},
        "budget": {"average_fraction": 1.0},
        "scheduler": {"mode": "fixed"},
        "engine": {"threads": 1},
        "logging": {"level": "info"},
    }


# --------------------------------------------------------------------------- the daemon

_DAEMONS: list["Daemon"] = []


class Daemon:
    """One reflexd process with its own temporary folder, config and stderr log."""

    def __init__(self, config: dict | None = None, env: dict | None = None, name: str = "reflexd"):
        # Short paths: an ipc:// path must fit in sockaddr_un (108 bytes).
        self.dir = Path(tempfile.mkdtemp(prefix="rx-", dir="/tmp"))
        self.name = name
        self.config = merged(base_config(self.dir), config)
        self.config_path = self.dir / "reflexd.yaml"
        self.write_config(self.config)
        self.policy = self.config["endpoints"]["policy"]
        self.actions = self.config["endpoints"]["actions"]
        self.control = self.config["endpoints"]["control"]
        self.log_path = self.dir / "stderr.log"
        self.env = env
        self.proc: subprocess.Popen | None = None
        self._log_file = None
        self.returncode: int | None = None

    def write_config(self, config: dict | str) -> None:
        text = config if isinstance(config, str) else to_yaml(config)
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.config_path)      # atomic: a reload never reads half a file

    def start(self, wait: bool = True) -> "Daemon":
        self._log_file = open(self.log_path, "wb")
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        env.update(self.env or {})
        self.proc = subprocess.Popen([str(REFLEXD), "--config", str(self.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        _DAEMONS.append(self)
        if wait:
            self.wait_ready()
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> dict:
        """Pings until a pong comes back; fails with the log if the process dies first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"reflexd exited with {self.proc.returncode} before serving:\n{self.log()}")
            with ReflexClient(self.policy, timeout_ms=250) as client:
                try:
                    return client.ping()
                except TimeoutError:
                    continue
        raise AssertionError(f"reflexd did not answer a ping within {timeout_s} s:\n{self.log()}")

    def wait_log(self, text: str, count: int = 1, timeout_s: float = 10.0) -> str:
        """Waits until `text` occurs `count` times in the log; returns the log."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            log = self.log()
            if log.count(text) >= count:
                return log
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not {count}x in the log within {timeout_s} s:\n{self.log()}")

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> int:
        """Sends `sig`, waits, returns the exit status (killing it past `timeout_s`)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"reflexd did not stop within {timeout_s} s of signal {sig}:\n{self.log()}")
        self.returncode = self.proc.returncode
        return self.returncode

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._log_file is not None:
            self._log_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)

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
