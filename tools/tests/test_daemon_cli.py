"""The Swift CLI `reflexctl` against the fixture bundle and a running daemon: inspect, version, step,
stats, budget, pause/resume, reload, calibrate (the daemon's fixed thresholds are its). Keygen and CURVE: test_daemon_security.py."""
import json
import re
import subprocess

import numpy as np
import pytest

from .harness import (
    EXITS,
    FIXTURE,
    INSTRUCTION,
    REFLEX,
    REFLEXD,
    Daemon,
    module_daemon,
    observation,
    run_reflex,
    stopped_cleanly,
)


@pytest.fixture(scope="module")
def daemon():
    yield from module_daemon({"budget": {"average_fraction": 1.0}, "scheduler": {"mode": "fixed"}})


# ----------------------------------------------------------------------------- inspect, version

def test_inspect_json():
    result = run_reflex("inspect", FIXTURE, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["inputs"] == [{"name": "image", "dtype": "uint8", "shape": [32, 32, 3]},
                                {"name": "state", "dtype": "float32", "shape": [4]}]
    manifest = json.loads((FIXTURE / "manifest.json").read_text())
    action = report["action"]
    assert action["dtype"] == "float32" and action["shape"] == [4]
    assert action["low"] == pytest.approx(manifest["action"]["low"])
    assert action["high"] == pytest.approx(manifest["action"]["high"])
    exits = report["exits"]
    assert [e["index"] for e in exits] == list(range(1, EXITS + 1))
    gflops = [e["gflops"] for e in exits]
    resident = [e["resident_bytes"] for e in exits]
    assert all(a < b for a, b in zip(gflops, gflops[1:])), gflops
    assert all(a < b for a, b in zip(resident, resident[1:])), resident
    assert report["vocabulary_size"] == len(manifest["vocabulary"]["words"])
    assert re.fullmatch(r"[0-9a-f]{64}", report["sha256"])
    assert isinstance(report["observation"], dict) and report["observation"] == manifest["observation"]
    try:
        from reflex_model.cost import cost_model
    except ImportError:
        return
    cost = cost_model(manifest)["exits"]
    assert gflops == pytest.approx([c["gflops"] for c in cost], rel=1e-12)
    assert resident == [c["resident_bytes"] for c in cost]


def test_inspect_human_and_bad_directory(tmp_path):
    result = run_reflex("inspect", FIXTURE)
    assert result.returncode == 0 and "tiny" in result.stdout
    # how the inputs were made, every key of the manifest's `observation`, values as JSON
    assert '\nobservation:\n  generator: "tools/reflex_model/make_fixtures.py"\n' in result.stdout
    assert "\n  seed: 20241105\n" in result.stdout
    missing = run_reflex("inspect", tmp_path / "nothing")
    assert missing.returncode != 0 and missing.stderr.strip()


def test_versions_agree(daemon):
    reflex = run_reflex("--version")
    reflexd = subprocess.run([str(REFLEXD), "--version"], capture_output=True, text=True, timeout=30)
    assert reflex.returncode == 0 and reflexd.returncode == 0
    assert reflex.stdout.strip() == reflexd.stdout.strip() != ""
    with daemon.client() as client:
        assert client.ping()["version"] == reflexd.stdout.strip()


# ----------------------------------------------------------------------------- step

def parse_step(stdout: str):
    lines = stdout.strip().splitlines()
    header = json.loads(lines[0])
    action = None
    for line in lines[1:]:
        m = re.fullmatch(r"action: \[(.*)\]", line.strip())
        if m:
            action = np.array([float(x) for x in m[1].split(",")], np.float32)
    return header, action


def test_step_synthetic(daemon):
    result = run_reflex("step", "--synthetic", "--instruction", "open the drawer", "--endpoint", daemon.policy,
                        "--robot", "cli-synth")
    assert result.returncode == 0, result.stderr
    header, action = parse_step(result.stdout)
    assert header["type"] == "action" and header["robot"] == "cli-synth"
    assert header["exit"] == EXITS and header["exits"] == EXITS and header["reason"] == "last"
    assert action is not None and action.shape == (4,)
    result = run_reflex("step", "--synthetic", "--instruction", "open the fridge", "--endpoint", daemon.policy)
    assert result.returncode == 0, result.stderr
    assert parse_step(result.stdout)[0]["unknown_words"] == ["fridge"]


def test_step_with_npy_files_equals_the_reference(daemon, tmp_path):
    import torch
    torch.set_num_threads(1)
    from reflex_model.bundle import read_bundle

    image, state = observation(42)
    np.save(tmp_path / "image.npy", image)
    np.save(tmp_path / "state.npy", state)
    result = run_reflex("step", "--image", tmp_path / "image.npy", "--state", tmp_path / "state.npy",
                        "--instruction", INSTRUCTION, "--robot", "cli-npy", "--endpoint", daemon.policy)
    assert result.returncode == 0, result.stderr
    header, action = parse_step(result.stdout)
    net, _ = read_bundle(FIXTURE)
    expected = net.step({"image": image, "state": state, "instruction": INSTRUCTION}, None, None).action.numpy()
    np.testing.assert_allclose(action, expected, atol=2e-6, rtol=0)     # printed with 6 decimals
    assert header["robot"] == "cli-npy"


def test_step_against_a_dead_endpoint_fails(tmp_path):
    result = run_reflex("step", "--synthetic", "--instruction", INSTRUCTION, "--endpoint",
                        f"ipc://{tmp_path}/nobody", "--timeout-ms", "300")
    assert result.returncode != 0
    assert result.stderr.strip(), "the error goes to stderr"


def test_step_error_reply_exits_non_zero_with_the_error_on_stderr(daemon):
    """CONTRACT section 8: client commands exit non-zero with the error on stderr when the
    daemon answers an error."""
    with daemon.control_client() as control:
        control.pause()
        try:
            result = run_reflex("step", "--synthetic", "--instruction", INSTRUCTION, "--endpoint", daemon.policy)
        finally:
            control.resume()
    assert result.returncode != 0
    assert "paused" in result.stderr, f"stdout: {result.stdout!r} stderr: {result.stderr!r}"


def test_step_with_a_bad_robot_id_says_so(daemon):
    result = run_reflex("step", "--synthetic", "--instruction", INSTRUCTION, "--endpoint", daemon.policy,
                        "--robot", "bad/robot")
    assert result.returncode != 0
    assert "robot" in result.stderr, f"stdout: {result.stdout!r} stderr: {result.stderr!r}"


# ----------------------------------------------------------------------------- control commands

def test_stats_budget_pause_resume(daemon):
    result = run_reflex("stats", "--endpoint", daemon.control)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats == {**stats, "loaded_exits": EXITS} and "steps" in stats and "exit_histogram" in stats

    result = run_reflex("budget", "average_fraction=0.5", "deadline_ms=30", "--endpoint", daemon.control)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"budget": {"average_fraction": 0.5, "deadline_ms": 30, "memory_mb": None}}
    result = run_reflex("budget", "average_fraction=1", "deadline_ms=null", "--endpoint", daemon.control)
    assert result.returncode == 0, result.stderr
    assert daemon.stats()["budget"] == {"average_fraction": 1, "deadline_ms": None, "memory_mb": None}

    for bad in (["average_fraction=2"], ["bogus=1"], ["average_fraction"], ["deadline_ms=nan"], ["deadline_ms=1e309"]):
        result = run_reflex("budget", *bad, "--endpoint", daemon.control)
        assert result.returncode != 0 and result.stderr.strip(), (bad, result)
        assert "NSCocoaErrorDomain" not in result.stderr, result.stderr
    assert "'nan' is not a finite number" in run_reflex("budget", "deadline_ms=nan", "--endpoint", daemon.control).stderr
    assert daemon.stats()["budget"]["average_fraction"] == 1

    assert run_reflex("pause", "--endpoint", daemon.control).returncode == 0
    assert daemon.stats()["paused"] is True
    assert run_reflex("resume", "--endpoint", daemon.control).returncode == 0
    assert daemon.stats()["paused"] is False


def test_reload_command(daemon):
    result = run_reflex("reload", "--endpoint", daemon.control)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"ok": True}


def test_the_endpoint_comes_from_the_daemons_config(daemon, tmp_path):
    """Without --endpoint: --config FILE, else ./etc/reflexd.yaml, else the built-in tcp endpoints
    (an installed service's ipc:// control socket was unreachable by a plain `reflexctl stats`)."""
    result = run_reflex("stats", "--config", daemon.config_path)
    assert result.returncode == 0, result.stderr
    assert "steps" in json.loads(result.stdout)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "reflexd.yaml").write_text(daemon.config_path.read_text())
    here = subprocess.run([str(REFLEX), "stats"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert here.returncode == 0, here.stderr
    missing = run_reflex("stats", "--config", tmp_path / "absent.yaml")
    assert missing.returncode != 0 and "--config" in missing.stderr and "absent.yaml" in missing.stderr


def test_calibrate_keeps_the_configs_ranges():
    for option in ("--average-fraction=2", "--average-fraction=0", "--average-gflops=-1"):
        result = run_reflex("calibrate", FIXTURE, option)
        assert result.returncode != 0 and "must be" in result.stderr, (option, result)


def test_control_command_against_a_dead_endpoint_fails(tmp_path):
    result = run_reflex("stats", "--endpoint", f"ipc://{tmp_path}/nobody", "--timeout-ms", "300")
    assert result.returncode != 0 and result.stderr.strip()


# ----------------------------------------------------------------------------- calibrate vs the daemon

def test_fixed_mode_daemon_uses_the_calibrated_thresholds_and_matches_the_reference():
    """`reflexctl calibrate` and a fixed-mode daemon agree on the thresholds for a budget, and every
    step stops where the reference stops with those thresholds."""
    result = run_reflex("calibrate", FIXTURE, "--average-fraction", "0.5", "--json")
    assert result.returncode == 0, result.stderr
    calibrated = json.loads(result.stdout)
    thresholds = calibrated["thresholds"]
    assert len(thresholds) == EXITS and thresholds[-1] is None
    assert sum(calibrated["exit_shares"]) == pytest.approx(1.0)

    daemon = Daemon({"budget": {"average_fraction": 0.5}, "scheduler": {"mode": "fixed"}}).start()
    try:
        stats = daemon.stats()
        assert stats["thresholds"][:-1] == pytest.approx(thresholds[:-1], rel=1e-9)
        assert stats["thresholds"][-1] is None
        import torch
        torch.set_num_threads(1)
        from reflex_model.bundle import read_bundle
        from reflex_model.cost import cost_model
        net, manifest = read_bundle(FIXTURE)
        cost = cost_model(manifest)["exits"]
        rule = [t if t is not None else -1.0 for t in thresholds]
        rec, exits = None, []
        with daemon.client() as client:
            for t in range(12):
                image, state = observation(300 + t)
                ref = net.step({"image": image, "state": state, "instruction": INSTRUCTION}, rec, rule)
                rec = ref.state
                action, info = client.step("cal-1", INSTRUCTION, image=image, state=state)
                assert info["exit"] == ref.exit, (t, info, ref.distances)
                assert info["reason"] == ("last" if ref.exit == EXITS else "threshold")
                assert info["gflops"] == pytest.approx(cost[ref.exit - 1]["gflops"], rel=1e-12)
                np.testing.assert_allclose(action, ref.action.numpy(), atol=1e-4, rtol=0)
                exits.append(ref.exit)
        stats = daemon.stats()
        assert stats["exit_histogram"] == [exits.count(i) for i in range(1, EXITS + 1)]
        assert stats["thresholds"][:-1] == pytest.approx(thresholds[:-1], rel=1e-9)   # fixed: unchanged
        print("exits:", exits)
    finally:
        stopped_cleanly(daemon)
