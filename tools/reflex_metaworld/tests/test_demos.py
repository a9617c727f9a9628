import json

import numpy as np
import pytest

pytest.importorskip("metaworld")

from reflex_metaworld import demos  # noqa: E402
from reflex_metaworld import tasks as T  # noqa: E402


def test_generate_one_episode_and_resume(tmp_path, monkeypatch):
    name = "button-press-topdown-v3"
    argv = ["--out", str(tmp_path), "--tasks", name, "--episodes", "1", "--val-episodes", "1",
            "--image-size", "48"]
    assert demos.main(argv) == 0
    d = demos.load(tmp_path / f"{name}.npz")
    n = len(d["images"])
    assert d["images"].shape == (n, 48, 48, 3) and d["images"].dtype == np.uint8
    assert d["states"].shape == (n, 4) and d["states"].dtype == np.float32
    assert d["actions"].shape == (n, 4) and d["actions"].dtype == np.float32
    assert np.abs(d["actions"]).max() <= 1.0
    assert list(d["step"]) == list(range(n)) and (d["episode"] == 0).all()
    first = int(d["episode_first_success"][0])
    assert 0 < first <= T.spec(name).max_steps
    assert n == min(first + T.STEPS_AFTER_SUCCESS, T.spec(name).max_steps)
    assert not d["success"][:first].any() and d["success"][first]
    assert str(d["instruction"]) == "press the button" and int(d["task_index"]) == T.task_index(name)
    assert d["episode_layout"].shape == (1, 9) and int(d["episode_seed"][0]) in T.TRAIN_SEEDS
    v = demos.load(tmp_path / f"{name}-val.npz")
    assert int(v["episode_seed"][0]) == T.VAL_SEED

    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["tasks"][name]["train"]["episodes"] == 1
    assert m["tasks"][name]["train"]["expert_success_rate"] > 0
    assert m["settings"]["render"]["image_size"] == 48
    assert m["observation"]["state_slice"] == [0, 4]
    rep = json.loads((tmp_path / "layout_distances.json").read_text())
    assert len(rep["tasks"][name]["eval"]) == T.LAYOUTS_PER_SEED
    assert rep["tasks"][name]["eval_summary"]["min_m"] > 0

    # resumable: an existing file is skipped, not rewritten
    mtime = (tmp_path / f"{name}.npz").stat().st_mtime_ns
    monkeypatch.setattr(demos, "generate_split", lambda *a, **k: pytest.fail("regenerated"))
    assert demos.main(argv) == 0
    assert (tmp_path / f"{name}.npz").stat().st_mtime_ns == mtime
    # other settings in the same folder are refused
    assert demos.main(argv[:-1] + ["64"]) == 2


def test_extra_views_equal_a_replay_and_a_deadline_keeps_what_was_made(tmp_path):
    """--extra-views renders a further view at the recorded frames: the sidecar equals what
    add_camera makes by replaying the file; a deadline already past still ends with one episode."""
    import shutil
    import time

    from reflex_metaworld import add_camera
    from reflex_metaworld import dataset as DS

    name = "button-press-topdown-v3"
    argv = ["--out", str(tmp_path / "a"), "--tasks", name, "--episodes", "1", "--val-episodes", "0",
            "--image-size", "48", "--noise-std", "0.2", "--extra-views", "corner@30"]
    assert demos.main(argv) == 0
    base = tmp_path / "a" / f"{name}.npz"
    side = np.load(DS.camera_path(base, "corner@30"))
    d = demos.load(base)
    assert side["images"].shape == d["images"].shape and side["images"].dtype == np.uint8
    assert float(side["fovy"]) == 30.0 and str(side["camera"]) == "corner"
    assert (side["images"] != d["images"]).any()          # a zoom, not a copy of the first view

    (tmp_path / "b").mkdir()
    shutil.copy(base, tmp_path / "b" / base.name)
    assert add_camera.main(["--demos", str(tmp_path / "b"), "--tasks", name, "--splits", "train",
                            "--camera", "corner@30", "--image-size", "48"]) == 0
    replay = np.load(DS.camera_path(tmp_path / "b" / base.name, "corner@30"))["images"]
    np.testing.assert_array_equal(side["images"], replay)

    # a file made without the view is made again when the view is asked for (resume)
    plain = ["--out", str(tmp_path / "d"), "--tasks", name, "--episodes", "1", "--val-episodes", "0",
             "--image-size", "48"]
    assert demos.main(plain) == 0 and not DS.camera_path(tmp_path / "d" / base.name, "corner@30").exists()
    assert demos.main(plain + ["--extra-views", "corner@30"]) == 0
    assert DS.camera_path(tmp_path / "d" / base.name, "corner@30").exists()

    meta = demos.generate_split(name, "train", 3, 48, "corner", tmp_path, noise_std=0.0,
                                deadline=time.time() - 1)
    assert meta["episodes"] == 1 and meta["attempts"] == 1
