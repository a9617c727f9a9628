"""Config files and signals: --check-config, exit 78, SIGHUP with good and bad files, the control
socket's reload, SIGTERM/SIGINT with a request in flight, the systemd notify protocol."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from reflex_client import ReflexError

from .harness import (
    FIXTURE,
    INSTRUCTION,
    REFLEXD,
    Daemon,
    RawDealer,
    base_config,
    merged,
    observation,
    step_frames,
    stopped_cleanly,
    to_yaml,
)


def check_config(path, cwd=None):
    return subprocess.run([str(REFLEXD), "--check-config", str(path)], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


@pytest.fixture
def folder():
    d = Path(tempfile.mkdtemp(prefix="rx-", dir="/tmp"))
    yield d
    import shutil
    shutil.rmtree(d, ignore_errors=True)


def good_text(folder) -> str:
    return to_yaml(base_config(folder))


def problems(stderr: str, path) -> list[tuple[int, int, str]]:
    """The FILE:LINE:COL: message lines; every non-empty stderr line must be one."""
    out = []
    pattern = re.compile(rf"^{re.escape(str(path))}:(\d+):(\d+): (.+)$")
    for line in stderr.splitlines():
        if not line.strip():
            continue
        m = pattern.match(line)
        assert m, f"not FILE:LINE:COL: message: {line!r}"
        out.append((int(m[1]), int(m[2]), m[3]))
    return out


# ----------------------------------------------------------------------------- --check-config, exit 78

def test_check_config_good_file(folder):
    path = folder / "good.yaml"
    path.write_text(good_text(folder))
    result = check_config(path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_relative_model_path_is_relative_to_the_config_file(folder):
    config = base_config(folder)
    config["model"] = os.path.relpath(FIXTURE, folder)
    path = folder / "relative.yaml"
    path.write_text(to_yaml(config))
    assert check_config(path, cwd="/").returncode == 0
    config["model"] = "tiny"                       # relative to the file, not to the cwd
    path.write_text(to_yaml(config))
    result = check_config(path, cwd=FIXTURE.parent)
    assert result.returncode == 1 and problems(result.stderr, path)[0][0] == 1


def test_check_config_opens_the_bundle_as_start_up_does(folder):
    """A model directory whose manifest, weights or calibration cannot be loaded fails the check
    at the `model` key (it used to pass the check and fail only at start, exit 78)."""
    import shutil
    for broken in ("manifest.json", "weights.safetensors", "calibration.safetensors"):
        bundle = folder / f"model-{broken}"
        shutil.copytree(FIXTURE, bundle)
        data = (bundle / broken).read_bytes()
        (bundle / broken).write_bytes(data[: len(data) // 2])
        config = base_config(folder)
        config["model"] = str(bundle)
        path = folder / f"broken-{broken}.yaml"
        path.write_text(to_yaml(config))
        result = check_config(path)
        assert result.returncode == 1, (broken, result.stdout)
        [(line, column, message)] = problems(result.stderr, path)
        assert (line, column) == (1, 8) and message.startswith(f"model: {bundle} cannot be loaded"), message


BAD = {
    # name: (text lines, expected [(line, column, substring)] per problem, in order; None: any).
    # ENDPOINTS stands for four lines (endpoints: and its three keys).
    "syntax": (["model: MODEL", "budget: [", "  average_fraction: 1"], None),
    "unknown-key": (["model: MODEL", "ENDPOINTS", "budget:", "  average_fraction: 1.0", "  bogus: 3"],
                    [(8, 3, "bogus")]),
    "out-of-range": (["model: MODEL", "ENDPOINTS", "budget:", "  average_fraction: 2"],
                     [(7, 21, "average_fraction")]),
    "wrong-type": (["model: MODEL", "ENDPOINTS", "limits:", "  max_sessions: many"],
                   [(7, 17, "max_sessions")]),
    "two-problems": (["model: MODEL", "ENDPOINTS", "scheduler:", "  mode: sometimes",
                      "engine:", "  threads: 0"], [(7, 9, "mode"), (9, 12, "threads")]),
    "both-averages": (["model: MODEL", "ENDPOINTS", "budget:", "  average_fraction: 0.5",
                       "  average_gflops: 0.001"], None),
    "no-model": (["model: ./no-such-bundle", "ENDPOINTS"], [(1, 8, "model")]),
    "public-control": (["model: MODEL", "endpoints:", "  policy: ipc://P", "  actions: ipc://A",
                        "  control: tcp://0.0.0.0:5557"], [(5, 12, "control")]),
}


def bad_file(folder, name) -> Path:
    lines, _ = BAD[name]
    endpoints = ["endpoints:", f"  policy: ipc://{folder}/p", f"  actions: ipc://{folder}/a",
                 f"  control: ipc://{folder}/c"]
    text = []
    for line in lines:
        if line == "ENDPOINTS":
            text += endpoints
        else:
            text.append(line.replace("MODEL", str(FIXTURE)).replace("ipc://P", f"ipc://{folder}/p")
                        .replace("ipc://A", f"ipc://{folder}/a"))
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(text) + "\n")
    return path


@pytest.mark.parametrize("name", list(BAD))
def test_check_config_bad_files(folder, name):
    path = bad_file(folder, name)
    result = check_config(path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    found = problems(result.stderr, path)
    assert found, "no problem reported"
    assert all(line >= 1 and column >= 1 for line, column, _ in found), found
    expected = BAD[name][1]
    if expected is not None:
        assert [(line, column) for line, column, _ in found] == [(l, c) for l, c, _ in expected], found
        for (_, _, message), (_, _, word) in zip(found, expected):
            assert word in message, found


def test_starting_with_an_invalid_config_exits_78(folder):
    path = bad_file(folder, "two-problems")
    result = subprocess.run([str(REFLEXD), "--config", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 78, result.stderr
    assert problems(result.stderr, path) == problems(check_config(path).stderr, path)
    missing = subprocess.run([str(REFLEXD), "--config", str(folder / "absent.yaml")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 78 and str(folder / "absent.yaml") in missing.stderr


def test_a_reload_says_when_the_files_budget_replaces_a_live_one(start_daemon):
    """A live `budget` lasts until the next reload; the reload says so instead of resetting it
    without a word."""
    daemon = start_daemon()
    with daemon.control_client() as control:
        control.budget(average_fraction=0.7, deadline_ms=30)
        assert daemon.stats()["budget"]["average_fraction"] == 0.7
        control.reload()
    log = daemon.wait_log("reload replaces the running budget")
    line = [x for x in log.splitlines() if "reload replaces the running budget" in x][0]
    assert "average_fraction=0.7 deadline_ms=30.0" in line and "average_fraction=1.0 deadline_ms=none" in line, line
    assert daemon.stats()["budget"] == {"average_fraction": 1.0, "deadline_ms": None, "memory_mb": None}
    assert "BudgetConfig(" not in daemon.log()


def test_a_second_daemon_on_a_live_ipc_endpoint_exits_78_and_the_first_keeps_serving(start_daemon):
    """libzmq alone unlinks an ipc:// path and binds a new file there: a second reflexd started by
    hand beside the service took the service's sockets and left it unreachable."""
    first = start_daemon()
    result = subprocess.run([str(REFLEXD), "--config", str(first.config_path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 78, result.stderr
    assert "in use" in result.stderr and "policy" in result.stderr, result.stderr
    with first.client() as client:
        assert client.ping()["type"] == "pong"
    assert first.stats()["steps"] == 0
    # a clean stop removes its socket files (libzmq leaves them), so the next start finds none
    sockets = [first.dir / name for name in ("policy", "actions", "control")]
    assert all(p.is_socket() for p in sockets)
    assert first.stop() == 0
    assert not any(p.exists() for p in sockets), [p for p in sockets if p.exists()]


# ----------------------------------------------------------------------------- SIGHUP and reload

def test_sighup_reloads_a_good_file_and_keeps_the_old_config_on_a_bad_one(start_daemon):
    daemon = start_daemon()
    assert daemon.stats()["budget"]["average_fraction"] == 1.0

    def budget_becomes(value, timeout_s=10.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if daemon.stats()["budget"]["average_fraction"] == value:
                return
            time.sleep(0.05)
        raise AssertionError(f"budget did not become {value}:\n{daemon.log()}")

    good = merged(daemon.config, {"budget": {"average_fraction": 0.5}})
    daemon.write_config(good)
    daemon.send_signal(signal.SIGHUP)
    budget_becomes(0.5)
    daemon.wait_log("config reloaded")

    # A syntax error, then a value out of range: both rejected, logged, the old config stays.
    daemon.write_config(to_yaml(good) + "budget: [\n")
    daemon.send_signal(signal.SIGHUP)
    log = daemon.wait_log("reload rejected")
    assert "config reloaded" not in log.split("reload rejected")[-1]
    daemon.write_config(merged(good, {"budget": {"average_fraction": 3}}))
    daemon.send_signal(signal.SIGHUP)
    daemon.wait_log("reload rejected", count=2)
    assert daemon.proc.poll() is None
    stats = daemon.stats()
    assert stats["budget"]["average_fraction"] == 0.5
    with daemon.client() as client:
        image, state = observation(0)
        _, info = client.step("hup-1", INSTRUCTION, image=image, state=state)
        assert info["type"] == "action"

    # The control socket's reload does the same, and says which way it went.
    with daemon.control_client() as control:
        with pytest.raises(ReflexError):
            control.reload()
        daemon.write_config(merged(good, {"budget": {"average_fraction": 0.75}}))
        assert control.reload() == {"ok": True}
        assert control.stats()["budget"]["average_fraction"] == 0.75


# ----------------------------------------------------------------------------- SIGTERM / SIGINT

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_answers_the_request_in_flight(start_daemon, sig):
    daemon = start_daemon()
    with RawDealer(daemon.policy) as dealer:
        assert json.loads(dealer.request(step_frames("term-1", 1))[0])["type"] == "action"
        dealer.send(step_frames("term-1", 2, seed=2))
        daemon.send_signal(sig)
        t0 = time.monotonic()
        try:
            rc = daemon.proc.wait(timeout=2.0)        # the contract: exit 0 within 2 s
        except subprocess.TimeoutExpired:
            pytest.fail(f"reflexd still running 2 s after signal {sig}:\n{daemon.log()}")
        assert rc == 0, daemon.log()
        reply = dealer.recv(timeout_ms=5000)
        info = json.loads(reply[0])
        assert info["type"] == "action" and info["seq"] == 2 and len(reply) == 2, info
    assert "stopped" in daemon.log()
    print(f"stopped {time.monotonic() - t0:.3f} s after the signal")


# ----------------------------------------------------------------------------- systemd notify

def test_systemd_notify_ready_watchdog_status_stopping(start_daemon, folder):
    path = str(folder / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    messages: list[str] = []

    def receive_until(predicate, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = sock.recv(4096).decode()
            except TimeoutError:
                break
            messages.append(data)
            if predicate(data):
                return data
        raise AssertionError(f"notification not received; got {messages}")

    try:
        daemon = start_daemon(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        ready = receive_until(lambda m: "READY=1" in m.splitlines(), 30)
        assert messages[0] == ready, "READY=1 is the first notification"
        assert any(line.startswith("STATUS=") and len(line) > 7 for line in ready.splitlines()), ready
        receive_until(lambda m: m.splitlines() == ["WATCHDOG=1"], 10)
        receive_until(lambda m: m.splitlines() == ["WATCHDOG=1"], 10)
        # A reload says RELOADING=1, then READY=1 again.
        daemon.send_signal(signal.SIGHUP)
        receive_until(lambda m: "RELOADING=1" in m.splitlines(), 10)
        receive_until(lambda m: "READY=1" in m.splitlines(), 10)
        daemon.send_signal(signal.SIGTERM)
        receive_until(lambda m: "STOPPING=1" in m.splitlines(), 10)
        assert daemon.proc.wait(timeout=10) == 0
    finally:
        sock.close()
    for m in messages:
        for line in m.splitlines():
            assert re.match(r"^[A-Z_]+=", line), f"not a KEY=value line: {line!r}"


# ----------------------------------------------------------------------------- abandoned requests

def test_a_step_abandoned_while_the_daemon_is_down_never_runs_later():
    """The client timed out on a step while reflexd was down; when reflexd came back, libzmq
    delivered the queued step and it ran, advancing the robot's recurrent state behind the
    caller's back. Now a timed-out request is discarded with its socket."""
    from reflex_client import ReflexClient
    daemon = Daemon().start()
    try:
        image, state = observation(3)
        with ReflexClient(daemon.policy, timeout_ms=2000) as client:
            client.step("arm-abandon", INSTRUCTION, image=image, state=state)
            assert daemon.stop() == 0
            client.timeout_ms = 300
            with pytest.raises(TimeoutError):
                client.step("arm-abandon", INSTRUCTION, image=image, state=state)
            daemon.start()
            client.timeout_ms = 5000
            _, info = client.step("arm-abandon", INSTRUCTION, image=image, state=state)
            assert info["type"] == "action"
        assert daemon.stats()["steps"] == 1, "the abandoned step ran when the daemon came back"
    finally:
        stopped_cleanly(daemon)
