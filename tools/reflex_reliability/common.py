"""What every reliability run shares: a daemon of its own, the model's first instruction, the
machine's load, progress lines on stderr, and the daemon's resident memory and open files."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from reflex_client import ControlClient
from reflexd_process import REPO, ReflexdProcess, binary, merged

DEFAULT_MODEL = REPO / "models" / "default"
FIXTURE = REPO / "Tests" / "Fixtures" / "tiny"


def log(msg: str) -> None:
    print(f"[reliability {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def reflexd_binary() -> Path:
    """$REFLEXD_BIN, else the release build, else the debug build."""
    return binary("REFLEXD_BIN", "reflexd", builds=("release", "debug"))


def first_instruction(model: Path) -> str:
    """An instruction the model knows: its first task's (bundles that list tasks), else the
    fixtures' 'open the drawer'."""
    try:
        manifest = json.loads((Path(model) / "manifest.json").read_text())
        return manifest["observation"]["tasks"][0]["instruction"]
    except (OSError, KeyError, IndexError, ValueError, TypeError):
        return "open the drawer"


def start_daemon(model: Path, config: dict | None = None, reflexd: Path | None = None) -> tuple[ReflexdProcess, dict]:
    """A daemon on `model` with `config` merged over a base (full depth, fixed thresholds, one
    engine thread, `warning` logs); returns it and its pong."""
    base = {"model": str(Path(model).resolve()), "budget": {"average_fraction": 1.0},
            "scheduler": {"mode": "fixed"}, "engine": {"threads": 1}, "logging": {"level": "warning"}}
    daemon = ReflexdProcess(reflexd or reflexd_binary(), merged(base, config), prefix="rxrel-")
    daemon.start(wait=False)
    try:
        pong = daemon.wait_ready()
        stats(daemon)   # the first control command loads JSON code (~2 MB resident, once): before any baseline
    except BaseException:
        daemon.cleanup()
        raise
    return daemon, pong


def stats(daemon: ReflexdProcess) -> dict:
    with ControlClient(daemon.control, timeout_ms=10_000) as control:
        return control.stats()


def wait_sessions(daemon: ReflexdProcess, count: int, timeout_s: float = 30.0) -> None:
    """Waits until the daemon holds `count` sessions (e.g. a robot in another process has begun)."""
    deadline = time.monotonic() + timeout_s
    while stats(daemon)["sessions"] != count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the daemon did not reach {count} sessions in {timeout_s} s")
        time.sleep(0.1)


def holdings(daemon: ReflexdProcess) -> dict:
    """Resident memory (KiB), open file descriptors and threads of the daemon now."""
    return {"rss_kib": daemon.rss_kib(), "fds": daemon.open_files(), "threads": daemon.threads()}


def pct(before: float, after: float) -> float:
    return round(100.0 * (after - before) / before, 3)


def growth(before: dict, after: dict) -> dict:
    """From one `holdings` to another: open files and threads added, resident memory in %."""
    return {"fd_growth": after["fds"] - before["fds"], "thread_growth": after["threads"] - before["threads"],
            "rss_growth_pct": pct(before["rss_kib"], after["rss_kib"])}


def open_file_targets(daemon: ReflexdProcess) -> list[str]:
    """What each of the daemon's descriptors points at (socket:[inode], anon_inode:[eventfd], a path)."""
    folder = Path(f"/proc/{daemon.pid}/fd")
    out = []
    for fd in folder.iterdir():
        try:
            out.append(os.readlink(fd))
        except OSError:
            pass
    return sorted(out)


def machine() -> dict:
    return {"cores": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}
