"""The closed-loop evaluation, end to end and small: one short Meta-World episode through a real
`reflexd` serving the shipped bundle models/default (success is not asserted: the loop is), plus
checks that the evaluation makes observations exactly as the demonstrations did, and unit checks of
the settings and the summary.

Binaries: $REFLEXD_BIN and $REFLEXCTL_BIN (default .build/debug/reflexd and .build/debug/reflexctl).
The bundle: models/default ($REFLEX_EVAL_MODEL overrides it, for trying another bundle).
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("metaworld")
pytest.importorskip("mujoco")

from reflex_client import ControlClient, ReflexClient  # noqa: E402
from reflex_metaworld import episodes as EP  # noqa: E402
from reflex_metaworld import eval_settings as S  # noqa: E402
from reflex_metaworld import records as RC  # noqa: E402
from reflex_metaworld import render as R  # noqa: E402
from reflex_metaworld import report as RP  # noqa: E402
from reflex_metaworld import tasks as T  # noqa: E402
from reflexd_process import binary  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
MODEL = Path(os.environ.get("REFLEX_EVAL_MODEL", REPO / "models" / "default"))
DEMOS = Path(os.path.expanduser("~/.cache/reflex/demos"))
SMOKE_TASK = "drawer-open-v3"
SMOKE_STEPS = 15
REFLEXD = binary("REFLEXD_BIN", "reflexd")
REFLEX = binary("REFLEXCTL_BIN", "reflexctl")


def _model_info() -> S.ModelInfo:
    return EP.inspect_model(REFLEX, MODEL)


def test_one_episode_through_reflexd(tmp_path):
    model = _model_info()
    # the shipped config's budget (docs/SCHEDULER.md); a bundle without calibration data (an
    # interim one) can only be served at full depth
    name = "avg-0.4-online" if model.calibration_samples > 0 else "full"
    setting = S.parse(name, model.exits)
    cfg = setting.daemon_config(model)
    steps: list[tuple[np.ndarray, dict]] = []
    with EP.Daemon(REFLEXD, MODEL, cfg["budget"], cfg["scheduler"]) as daemon:
        pong = daemon.start()
        assert pong["exits"] == model.exits
        scene = EP.TaskScene(SMOKE_TASK, R.DEFAULT_IMAGE_SIZE, *EP.image_view(model))   # the bundle's view
        try:
            with ReflexClient(daemon.policy, timeout_ms=EP.REPLY_TIMEOUT_MS) as client:
                rec = EP.run_episode(scene, client, "smoke.e0", 0, setting, model,
                                     max_steps=SMOKE_STEPS,
                                     step_hook=lambda t, img, a, info, env_info: steps.append((a, info)))
        finally:
            scene.close()
        with ControlClient(daemon.control, timeout_ms=10_000) as control:
            stats = control.stats()
    assert 1 <= rec["steps"] <= SMOKE_STEPS and len(steps) == rec["steps"]
    assert rec["steps"] == SMOKE_STEPS or rec["success"]
    assert rec["unknown_words"] == [], "the shipped model must know its own instructions"
    for action, info in steps:
        assert action.shape == (4,) and action.dtype == np.float32
        assert np.all(np.isfinite(action)) and np.all(np.abs(action) <= 1.0), action
        assert info["type"] == "action" and info["exits"] == model.exits
        assert 1 <= info["exit"] <= model.exits
        assert info["reason"] in EP.REASONS
        assert info["gflops"] > 0
        # a step that stops at exit i costs exit i's GFLOPs (a probe runs to full depth)
        assert any(math.isclose(info["gflops"], g, rel_tol=1e-3) for g in model.gflops), info
        assert {"queue", "infer", "total"} <= set(info["timing_us"])
    assert sum(rec["exit_counts"]) == rec["steps"]
    assert 0 < rec["mean_fraction"] <= 1.0 + 1e-9
    assert stats["steps"] >= rec["steps"]
    # the summary and plots of this one episode
    key = (setting.name, SMOKE_TASK, 0)
    records = {key: {**rec, "setting": setting.name, "task": SMOKE_TASK, "episode": 0,
                     "config": cfg, "description": setting.describe(model)}}
    summary = RP.summarise(records, model, [setting.name], list(T.TASK_NAMES))
    overall = summary["settings"][setting.name]["overall"]
    assert overall["episodes"] == 1 and overall["steps"] == rec["steps"]
    assert f"| {name} |" in RP.markdown(summary, list(T.TASK_NAMES))
    json.dumps(summary)


def test_observations_are_made_as_in_the_demonstrations(tmp_path):
    """Replaying a validation demonstration's actions in the evaluation's scene gives the same
    images and states, bit for bit (same camera, size, flip, renderer settings, state slice)."""
    from reflex_metaworld import demos as D
    path = DEMOS / f"{SMOKE_TASK}-val.npz"
    if not path.exists():
        # No demonstrations on this machine (CI): record the one episode this test replays, with
        # the camera and image size the shipped model's manifest says its observations had.
        observation = json.loads((MODEL / "manifest.json").read_text())["observation"]
        D.generate_split(SMOKE_TASK, "val", 1, int(observation["image_size"]), observation["camera"], tmp_path)
        path = tmp_path / D.file_name(SMOKE_TASK, "val")
    d = D.load(path)
    scene = EP.TaskScene(SMOKE_TASK, int(d["images"].shape[1]))
    try:
        layout = T.layouts(SMOKE_TASK, int(d["episode_seed"][0]))[int(d["episode_layout_index"][0])]
        T.set_layout(scene.env, layout)
        obs, _ = scene.env.reset()
        for t in range(min(SMOKE_STEPS, int(d["episode_length"][0]))):
            np.testing.assert_array_equal(scene.camera.render(), d["images"][t])
            np.testing.assert_array_equal(T.state_of(obs), d["states"][t])
            obs, *_ = scene.env.step(d["actions"][t])
    finally:
        scene.close()


# ---------------------------------------------------------------------------- no daemon needed

def _fake_model(exits: int = 6) -> S.ModelInfo:
    return S.ModelInfo(directory="x", sha256="0" * 64, name="fake",
                       gflops=tuple(0.045 + 0.038 * i for i in range(exits)),
                       resident_bytes=tuple(2_615_824 + 1_587_200 * i for i in range(exits)),
                       observation={}, inputs=(("image", "uint8", (96, 96, 3)), ("state", "float32", (4,))))


def test_settings_and_memory_caps():
    m = _fake_model()
    names = S.expand("default", m.exits)
    assert names[:4] == ["full", "avg-0.4-online", "exit-1", "frozen-image"]
    assert {f"exit-{k}" for k in range(1, m.exits)} <= set(names) and "exit-6" not in names
    assert {f"avg-{lv}-{mode}" for lv in S.BUDGET_LEVELS for mode in S.MODES} <= set(names)
    for k in range(1, m.exits):
        mb = S.parse(f"exit-{k}", m.exits).memory_mb(m)
        assert m.resident_bytes[k - 1] <= mb * S.MIB < m.resident_bytes[k]
    assert S.parse(f"exit-{m.exits}", m.exits).memory_mb(m) is None
    lo = S.parse("avg-min-fixed", m.exits)
    assert lo.average_fraction(m) == pytest.approx(m.fractions[0] * S.AVG_MIN_MARGIN)
    assert lo.daemon_config(m)["scheduler"]["mode"] == "fixed"
    assert S.parse("avg-0.6-online", m.exits).daemon_config(m)["budget"] == {
        "average_fraction": 0.6, "deadline_ms": None, "memory_mb": None}
    for bad in ("exit-0", "exit-7", "avg-0.4", "avg-1.5-online", "half"):
        with pytest.raises(ValueError):
            S.parse(bad, m.exits)


def test_latency_histogram_quantiles():
    h = Counter()
    values = np.linspace(1000, 20000, 1000)
    for v in values:
        RC.lat_add(h, v)
    for q in (0.5, 0.99):
        assert RC.lat_quantile(h, q) == pytest.approx(np.quantile(values, q), rel=0.03)
    merged = RC.lat_merge([{str(k): v for k, v in h.items()}, h])
    assert sum(merged.values()) == 2000
    assert RC.lat_quantile(Counter(), 0.5) is None


def test_records_resume_filter(tmp_path):
    path = tmp_path / "episodes.jsonl"
    base = {"v": RC.RECORD_VERSION, "setting": "full", "task": SMOKE_TASK, "model_sha256": "a"}
    RC.append_record(path, {**base, "episode": 0, "max_steps": T.spec(SMOKE_TASK).max_steps})
    RC.append_record(path, {**base, "episode": 1, "max_steps": 15})             # a test run
    RC.append_record(path, {**base, "episode": 2, "max_steps": 200, "model_sha256": "b"})
    with open(path, "a") as f:
        f.write('{"truncated": \n')                                             # an interrupted write
    recs = RC.read_records(path)
    assert len(recs) == 3
    assert set(RC.current_records(recs, "a")) == {("full", SMOKE_TASK, 0)}
    assert set(RC.current_records(recs, "a", max_steps=15)) == {("full", SMOKE_TASK, 1)}


def test_episode_record_fields_and_resume():
    m = _fake_model()
    rec = {"success": False, "steps": 15, "max_steps": 15, "layout_index": 1}
    record = RC.episode_record(S.parse("full", m.exits), SMOKE_TASK, 1, rec, model=m, model_dir=Path("m"),
                               config={"budget": {}}, stats={"thresholds": [None] * m.exits},
                               distances={SMOKE_TASK: [0.01, 0.002]}, daemon="reflexd")
    assert list(record)[:5] == ["v", "setting", "task", "episode", "seed"]
    assert record["v"] == RC.RECORD_VERSION and record["seed"] == T.EVAL_SEED
    assert record["layout_distance_m"] == 0.002 and record["window_mean_fraction_after"] is None
    assert set(RC.current_records([record], m.sha256, max_steps=15)) == {("full", SMOKE_TASK, 1)}


def test_a_chunked_two_camera_bundle_is_refused_up_front(tmp_path, capsys):
    """models/chunked (two cameras, 8 actions per reply) used to start a daemon and end in a
    traceback (`bad_tensor: missing tensor "wrist_image"`); it is a usage error naming the tool
    that runs it."""
    from reflex_metaworld import evaluate as EV
    code = EV.main(["--model", str(REPO / "models" / "chunked"), "--settings", "full", "--tasks", SMOKE_TASK,
                    "--episodes", "1", "--out", str(tmp_path), "--reflexd", str(REFLEXD), "--reflex", str(REFLEX)])
    assert code == 2
    said = capsys.readouterr()
    assert "reflex_metaworld.delay" in said.out + said.err and "wrist_image" in said.out + said.err
    assert not (tmp_path / "episodes.jsonl").exists()
