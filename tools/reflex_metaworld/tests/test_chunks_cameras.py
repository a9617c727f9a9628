"""The chunked two-camera pipeline at reduced size, on the real simulator, real PyTorch and a real
reflexd: a second camera added to recorded demonstrations by replay, chunk targets and strided
episodes, training and export of a format-2 bundle with a warm start from a one-camera bundle, and
the closed-loop delay experiment (sync, async, async with skip and blend) through the daemon."""
import json

import numpy as np
import pytest
import torch
from test_train import TASKS, TINY, write_demos
from test_train import args as train_args

from reflex_metaworld import add_camera as AC
from reflex_metaworld import dataset as DS
from reflex_metaworld import delay as DL
from reflex_metaworld import demos as D
from reflex_metaworld import render as R
from reflex_metaworld import rollout as RO
from reflex_metaworld import tasks as T
from reflex_metaworld import train as TR
from reflex_model.bundle import read_bundle, read_calibration, write_bundle
from reflex_model.network import ReflexNet

TASK = "drawer-open-v3"


def test_add_camera_replays_the_recording_and_renders_the_second_camera(tmp_path):
    D.generate_split(TASK, "train", 1, 32, "corner", tmp_path, noise_std=0.3, noise_seed=1)
    assert AC.main(["--demos", str(tmp_path), "--tasks", TASK, "--splits", "train,val",
                    "--camera", "gripperPOV", "--image-size", "16"]) == 0
    z = D.load(tmp_path / f"{TASK}.npz")
    w = np.load(tmp_path / f"{TASK}.gripperPOV.npz")
    assert w["images"].shape == (len(z["actions"]), 16, 16, 3) and float(w["max_obs_error"]) == 0.0
    # frame t is the wrist view of the recorded state t: check the first and a late one by hand
    env = T.make_env(TASK)
    cam = R.Camera(env, image_size=16, camera="gripperPOV")
    T.set_layout(env, T.layouts(TASK, int(z["episode_seed"][0]))[int(z["episode_layout_index"][0])])
    env.reset()
    assert np.array_equal(cam.render(), w["images"][0])
    for t in range(5):
        env.step(z["executed"][t])
    assert np.array_equal(cam.render(), w["images"][5])
    assert not np.array_equal(w["images"][0], w["images"][5])     # the hand moved
    cam.close()
    # the first camera zoomed (corner@30): the file's suffix names the view, frame 0 as rendered
    assert AC.main(["--demos", str(tmp_path), "--tasks", TASK, "--splits", "train",
                    "--camera", "corner@30", "--image-size", "16"]) == 0
    zoom = np.load(tmp_path / f"{TASK}.corner@30.npz")
    assert float(zoom["fovy"]) == 30.0 and str(zoom["camera"]) == "corner"
    with R.Camera(env, image_size=16, camera="corner", fovy=30) as cam:
        T.set_layout(env, T.layouts(TASK, int(z["episode_seed"][0]))[int(z["episode_layout_index"][0])])
        env.reset()
        assert np.array_equal(cam.render(), zoom["images"][0])
    # a recording the replay cannot reproduce is refused, nothing written
    bad = dict(np.load(tmp_path / f"{TASK}.npz"))
    bad["executed"] = bad["executed"] * 0 + 1
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ValueError, match="away from the recording"):
        AC.replay_file(tmp_path / "bad.npz", TASK, "gripperPOV", 16, 1e-4)


def test_chunk_targets_and_strided_episodes():
    actions = np.arange(7, dtype=np.float32)[:, None] * [1, -1]       # two episodes: 0-3, 4-6
    starts, lengths = np.array([0, 4]), np.array([4, 3])
    chunks, valid = DS.chunk_targets(actions, starts, lengths, 3)
    assert chunks[:, :, 0].tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 3], [3, 3, 3],
                                        [4, 5, 6], [5, 6, 6], [6, 6, 6]]
    assert valid.tolist()[2] == [True, True, False] and valid.tolist()[6] == [True, False, False]
    order, s2, l2 = DS.strided_order(starts, lengths, 2)
    assert order.tolist() == [0, 2, 1, 3, 4, 6, 5] and s2.tolist() == [0, 2, 4, 6] and l2.tolist() == [2, 2, 2, 1]


def write_camera(directory, task, split, size, seed):
    """A second camera's file for write_demos' frames: noise (the actions do not depend on it)."""
    with np.load(DS.demo_path(directory, task, split)) as z:
        n = len(z["actions"])
    rng = np.random.default_rng(seed)
    np.savez(DS.camera_path(DS.demo_path(directory, task, split), "wrist"),
             images=rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def two_camera_demos(tmp_path_factory):
    d = tmp_path_factory.mktemp("demos2")
    for k, task in enumerate(TASKS):
        for split, episodes, seed in (("train", 4, k), ("val", 2, 100 + k)):
            write_demos(d, task, split, episodes, seed)
            write_camera(d, task, split, 8, seed)
    return d


def test_chunked_two_camera_training_exports_a_format_2_bundle_warm_started(two_camera_demos, tmp_path):
    d = two_camera_demos
    torch.manual_seed(0)
    one = ReflexNet(TINY, (16, 16, 3), 4, 4, DS.build_vocabulary(), criterion_dims=(0, 1, 2))
    write_bundle(one, tmp_path / "one", name="one")
    assert TR.main(train_args(d, tmp_path, "--cameras", "wrist_image=wrist", "--chunk", "4", "--stride", "2",
                              "--init-from", str(tmp_path / "one"))) == 0
    net, manifest = read_bundle(tmp_path / "bundle")
    assert [i["name"] for i in manifest["inputs"]] == ["image", "wrist_image", "state"]
    assert manifest["inputs"][1]["shape"] == [8, 8, 3]
    assert manifest["action"]["chunk"] == 4 and manifest["action"]["period_s"] == TR.CONTROL_PERIOD_S
    assert manifest["criterion"]["first_actions"] == 2            # min(chunk, stride)
    obs = manifest["observation"]
    assert obs["request_every_periods"] == 2 and list(obs["cameras"]) == ["image", "wrist_image"]
    assert read_calibration(tmp_path / "bundle", manifest).shape[1] == net.num_exits
    rows = (tmp_path / "work" / "train.csv").read_text().splitlines()[1:]
    loss = np.array([float(r.split(",")[3]) for r in rows])
    assert loss[-5:].mean() < loss[:5].mean()
    log = (tmp_path / "work" / "train.log").read_text()
    assert "warm start: head.mlp.fc2.weight: tiled 4 times" in log and "patch_proj.1.weight: new" in log


def test_a_zoomed_first_camera_is_trained_on_its_own_frames_and_described_in_the_bundle(
        two_camera_demos, tmp_path):
    d = two_camera_demos
    # `image` frames from <task>[-<split>].corner@30.npz (here noise, unlike the recording's own)
    for k, task in enumerate(TASKS):
        for split in ("train", "val"):
            src = DS.demo_path(d, task, split)
            with np.load(src) as z:
                n = len(z["actions"])
            np.savez(DS.camera_path(src, "corner@30"),
                     images=np.random.default_rng(k).integers(0, 255, (n, 16, 16, 3), dtype=np.uint8))
    vocabulary = DS.build_vocabulary()
    own = DS.load_split(d, "train", TASKS, vocabulary, 4)
    zoomed = DS.load_split(d, "train", TASKS, vocabulary, 4, image_camera="corner@30")
    assert zoomed.images.shape == own.images.shape and not torch.equal(zoomed.images, own.images)
    assert torch.equal(zoomed.states, own.states) and torch.equal(zoomed.actions, own.actions)
    with pytest.raises(FileNotFoundError, match="add_camera --camera corner@20"):
        DS.load_split(d, "train", TASKS, vocabulary, 4, image_camera="corner@20")
    assert TR.main(train_args(d, tmp_path, "--image-camera", "corner@30")) == 0
    _net, manifest = read_bundle(tmp_path / "bundle")
    obs = manifest["observation"]
    assert obs["camera"] == "corner" and obs["fovy"] == 30.0
    assert R.image_render(obs) == R.render_settings(16, "corner", 30.0)
    assert RO.load_policy(tmp_path / "bundle")[2] == ("corner", 30.0)       # proxy and DAgger see it
    resumed = torch.load(tmp_path / "work" / "ckpt.pt", weights_only=False)["args"]["image_camera"]
    assert resumed == "corner@30"                 # --resume keeps it; load_policy reads it from there


def test_warm_start_copies_the_first_camera_and_tiles_the_head():
    torch.manual_seed(1)
    vocab = DS.build_vocabulary()
    one = ReflexNet(TINY, (16, 16, 3), 4, 4, vocab)
    two = ReflexNet(TINY, None, 4, 4, vocab, cameras=[("image", (16, 16, 3)), ("wrist_image", (8, 8, 3))],
                    chunk=3, period_s=0.0125)
    weights, _ = TR.adapt_init(one.state_dict(), two)
    two.load_state_dict(weights)
    assert torch.equal(two.patch_proj[0].weight, one.patch_proj.weight)
    first = 1 + TINY["instruction_tokens"] + 4                    # state, words, 2x2 patches
    assert torch.equal(two.pos_embedding[:first], one.pos_embedding)
    obs = {"image": torch.full((16, 16, 3), 90, dtype=torch.uint8), "wrist_image": torch.zeros(8, 8, 3, dtype=torch.uint8),
           "state": torch.zeros(4), "instruction": T.INSTRUCTIONS[TASK]}
    a1 = one.eval().step({k: v for k, v in obs.items() if k != "wrist_image"}).action
    a2 = two.eval().step(obs).action
    assert a2.shape == (3, 4)
    # the wrist patches change the features, so only the shape of the answer carries over:
    # every row of the new chunk starts from the same head output layer
    assert torch.equal(two.head.mlp.fc2.weight[:4], two.head.mlp.fc2.weight[8:])
    assert a1.shape == (4,)


def test_warm_start_to_smaller_patches_gives_each_patch_the_upsampled_token():
    torch.manual_seed(2)
    vocab = DS.build_vocabulary()
    coarse = ReflexNet(dict(TINY, patch_size=16), (32, 32, 3), 4, 4, vocab)   # 2x2 patches
    fine = ReflexNet(TINY, (32, 32, 3), 4, 4, vocab)                          # 8 px: 4x4 patches
    weights, notes = TR.adapt_init(coarse.state_dict(), fine, src_patch=16)
    fine.load_state_dict(weights)
    assert "patch_proj.weight: 16-px patches resized to 8 px" in notes
    # an 8-px patch gets the token the 16-px projection gives that patch upsampled 2x (nearest)
    x = torch.rand(8, 8, 3)
    up = x.repeat_interleave(2, 0).repeat_interleave(2, 1)
    assert torch.allclose(fine.patch_proj.weight @ x.reshape(-1), coarse.patch_proj.weight @ up.reshape(-1), atol=1e-5)
    assert torch.equal(fine.patch_proj.bias, coarse.patch_proj.bias)
    # state and word rows are copied; the grid is interpolated (a corner keeps its side's values)
    first = 1 + TINY["instruction_tokens"]
    assert torch.equal(fine.pos_embedding[:first], coarse.pos_embedding[:first])
    grid = coarse.pos_embedding[first:].reshape(2, 2, -1)
    fine_grid = fine.pos_embedding[first:].reshape(4, 4, -1)
    assert torch.allclose(fine_grid[0, 0], grid[0, 0]) and torch.allclose(fine_grid[3, 3], grid[1, 1])
    assert torch.allclose(fine_grid[1:3, 1:3].mean(dim=(0, 1)), grid.mean(dim=(0, 1)), atol=1e-6)
    with pytest.raises(ValueError, match="not a divisor"):
        TR.resize_patch_projection(coarse.patch_proj.weight, 16, 6)


def tiny_chunked_bundle(path, stride=2, chunk=4):
    torch.manual_seed(0)
    arch = dict(TINY, patch_size=16)
    net = ReflexNet(arch, None, 4, 4, DS.build_vocabulary(), criterion_dims=(0, 1, 2),
                    cameras=[("image", (32, 32, 3)), ("wrist_image", (16, 16, 3))], chunk=chunk,
                    period_s=TR.CONTROL_PERIOD_S, criterion_actions=stride)
    obs = TR.observation(32, [TASK], None, [("wrist_image", "gripperPOV", 16)], stride)
    write_bundle(net, path, name="tiny-chunked", observation=obs)


def test_delay_experiment_through_reflexd(tmp_path):
    tiny_chunked_bundle(tmp_path / "b")
    records = tmp_path / "r.jsonl"
    argv = ["--model", str(tmp_path / "b"), "--tasks", TASK, "--episodes", "1", "--delays", "0,1,2",
            "--max-periods", "24", "--records", str(records)]
    assert DL.main(argv) == 0
    recs = {(r["mode"], r["delay"]): r for r in DL.load_records([records])}
    assert set(recs) == {("sync", 0), ("sync", 1), ("sync", 2), ("async", 1), ("async", 2),
                         ("async-skip-blend", 1), ("async-skip-blend", 2)}
    assert all(r["periods"] == 24 for r in recs.values() if not r["success"])
    # sync, S = 2: every chunk costs d held periods and covers 2
    assert recs[("sync", 0)]["held"] == 0 and recs[("sync", 0)]["chunks"] == 12
    assert recs[("sync", 2)]["held"] == 2 * recs[("sync", 2)]["chunks"]
    # async: only the first reply is waited for; with compensation a chunk every S periods
    for d in (1, 2):
        assert recs[("async-skip-blend", d)]["held"] == d
        assert recs[("async", d)]["held"] == d
    assert recs[("async-skip-blend", 2)]["requests"] > recs[("async", 2)]["requests"]   # no stale re-runs
    assert DL.main(argv) == 0 and len(DL.load_records([records])) == 7              # resumed: nothing redone
    # the daemon under another setting: exit 1 forced by a memory cap, every chunk from exit 1
    assert DL.main(argv[:-6] + ["--delays", "1", "--modes", "async-skip-blend", "--setting", "exit-1",
                                "--max-periods", "12", "--records", str(records)]) == 0
    forced = [r for r in DL.load_records([records]) if r["setting"] == "exit-1"]
    assert len(forced) == 1 and forced[0]["mean_exit"] == 1.0 and forced[0]["mean_fraction"] < 1.0
    assert DL.main(["--report", str(records), "--out", str(tmp_path / "out")]) == 0
    rows = json.loads((tmp_path / "out" / "table.json").read_text())
    assert {(r["mode"], r["delay"]) for r in rows if r["setting"] == "full"} == {(m, d) for m in DL.MODES for d in (0, 1, 2)}
    assert [(r["mode"], r["delay"]) for r in rows if r["setting"] == "exit-1"] == [("async-skip-blend", 1)]
    assert (tmp_path / "out" / "delay.png").stat().st_size > 1000


def test_a_chunked_run_resumes_with_its_shape_and_an_older_checkpoint_resumes_as_one_action(two_camera_demos, tmp_path):
    d = two_camera_demos
    shaped = ("--cameras", "wrist_image=wrist", "--chunk", "4", "--stride", "2")
    assert TR.main(train_args(d, tmp_path / "a", "--steps", "6", "--stop-after", "3", *shaped)) == 0
    # resumed without the shape options: the checkpoint's shape is used, the export is chunked
    assert TR.main(train_args(d, tmp_path / "a", "--steps", "6", "--resume")) == 0
    _, manifest = read_bundle(tmp_path / "a" / "bundle")
    assert manifest["action"]["chunk"] == 4 and len(manifest["inputs"]) == 3
    # a checkpoint written before these options existed resumes as the one-camera, one-action run it was
    assert TR.main(train_args(d, tmp_path / "b", "--steps", "6", "--stop-after", "3")) == 0
    ckpt_path = tmp_path / "b" / "work" / "ckpt.pt"
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    for key in ("cameras", "chunk", "stride", "criterion_actions"):
        del ckpt["args"][key]
    torch.save(ckpt, ckpt_path)
    assert TR.main(train_args(d, tmp_path / "b", "--steps", "6", "--resume", *shaped)) == 0
    _, manifest = read_bundle(tmp_path / "b" / "bundle")
    assert "chunk" not in manifest["action"] and [i["name"] for i in manifest["inputs"]] == ["image", "state"]
