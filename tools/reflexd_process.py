"""One reflexd process of our own: a temporary folder with ipc:// endpoints, a config file written
from a dict (reflexd_yaml), the daemon's log, its resident memory and open files. Used by the
end-to-end tests (tools/tests/harness.py), the closed-loop evaluation and the reliability runs."""
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

from reflex_client import ReflexClient
from reflexd_yaml import to_yaml

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0
_SYSTEMD_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def merged(base: dict, overrides: dict | None) -> dict:
    """`base` with `overrides` laid over it, section by section (a copy; neither is changed)."""
    out = json.loads(json.dumps(base))
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def exit_on_sigterm() -> None:
    """Makes SIGTERM raise SystemExit in the main thread, so that `with` blocks and `finally`
    clauses stop the daemons a run started instead of leaving them behind."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def binary(variable: str, name: str, builds: tuple[str, ...] = ("debug",)) -> Path:
    """The one way the Python tools find a built executable (`reflexd`, `reflexctl`): $variable
    if set (relative paths from the repository root), else .build/BUILD/name for the first of
    `builds` that exists, else the first one's path. The tests take the debug build that
    tools/test makes; evaluation and reliability runs prefer release."""
    if os.environ.get(variable):
        path = Path(os.environ[variable])
        return path if path.is_absolute() else REPO / path
    candidates = [REPO / ".build" / build / name for build in builds]
    return next((c for c in candidates if c.exists()), candidates[0])


def ipc_endpoints(directory: Path) -> dict:
    return {"policy": f"ipc://{directory}/policy", "actions": f"ipc://{directory}/actions",
            "control": f"ipc://{directory}/control"}


class ReflexdProcess:
    """`config` is the whole config as a dict; `endpoints` defaults to ipc:// sockets in the
    process's own folder (short: an ipc:// path must fit in sockaddr_un's 108 bytes)."""

    def __init__(self, reflexd: Path, config: dict, env: dict | None = None, prefix: str = "rx-"):
        self.binary = Path(reflexd).resolve()
        self.dir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        self.config_path = self.dir / "reflexd.yaml"
        self.set_config({"endpoints": ipc_endpoints(self.dir), **config})
        self.log_path = self.dir / "stderr.log"
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None
        self._log_file = None

    def set_config(self, config: dict) -> None:
        """The config the process starts with (written to its file)."""
        self.config = config
        self.write_config(config)
        self.policy = config["endpoints"]["policy"]
        self.actions = config["endpoints"]["actions"]
        self.control = config["endpoints"]["control"]

    def write_config(self, config: dict | str) -> None:
        text = config if isinstance(config, str) else to_yaml(config)
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.config_path)      # atomic: a reload never reads half a file

    def start(self, wait: bool = True, timeout_s: float = START_TIMEOUT_S):
        if not self.binary.exists():
            raise SystemExit(f"no reflexd at {self.binary}: build it (`swift build -c release`) or "
                             f"set $REFLEXD_BIN")
        self._log_file = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if k not in _SYSTEMD_VARIABLES}
        env.update(self.env or {})
        self.proc = subprocess.Popen([str(self.binary), "--config", str(self.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        if wait:
            self.wait_ready(timeout_s)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

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
            except subprocess.TimeoutExpired as err:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"reflexd did not stop within {timeout_s} s of signal {sig}:\n{self.log()}") from err
        self.returncode = self.proc.returncode
        return self.returncode

    def cleanup(self) -> None:
        """Stops it (SIGTERM, then SIGKILL past 10 s) if it still runs; removes its folder."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            except AssertionError:
                pass                       # it did not stop in time and was killed
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # ----------------------------------------------------------------------- what it holds

    def rss_kib(self) -> int:
        """Resident memory (VmRSS) in KiB, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS in /proc status")

    def open_files(self) -> int:
        """Open file descriptors (sockets, pipes, files), from /proc/PID/fd."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/task"))
